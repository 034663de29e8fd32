"""codex's own start-up notices (what it prints on stderr before and among its JSON events) are
their own kind of line: dimmed in the TUI's output, folded onto one dimmed line in the CLI, so a
short job's output is its events and not codex's warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobstore import JobStore, RunOptions
from jobstore.events import render_line
from tests.security.attack import REPO, run_cli
from tests.tui.tui_demo import job_output_open

# What codex 0.171 prints on stderr at start (tests/fakes/CODEX_FINDINGS.md), its log line form.
WARNING = (
    "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create helper "
    'binaries under temporary dir "/tmp" (codex_home: AbsolutePathBuf("/tmp/exp-hello-jjcioo0v/home"))'
)
NOTICES = [
    WARNING,
    "Reading prompt from stdin...",
    "2026-11-29T23:04:03.123456Z  WARN codex_core::config: ignoring unknown key `foo`",
]
EVENT = json.dumps(
    {"type": "item.completed", "item": {"id": "a", "type": "agent_message", "text": "the answer"}}
)


def test_codex_notices_are_their_own_kind_of_line() -> None:
    for notice in NOTICES:
        assert [line.kind for line in render_line(notice)] == ["notice"], notice
    assert render_line("Reading additional input from stdin...") == []  # every run: nothing to say
    for other in ("Traceback (most recent call last):", "WARNINGS are fine", "error: something broke"):
        assert [line.kind for line in render_line(other)] == ["raw"], other


def job_with_notices(store: JobStore, workdir: Path) -> str:
    job = store.start(RunOptions.checked(prompt="quick", cwd=str(workdir)))
    store.wait(job.job_id, 30)
    with open(store.layout.output(job.job_id), "a") as out:
        out.write("".join(f"{line}\n" for line in [*NOTICES, EVENT]))
    return job.job_id


def test_the_cli_folds_notices_onto_one_line(
    store: JobStore, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = job_with_notices(store, workdir)
    monkeypatch.setenv("COLUMNS", "60")
    shown = run_cli(store.root, "show", job_id, "--tail", "50").stdout.decode().splitlines()
    folded = [line for line in shown if line.startswith("WARNING: proceeding")]
    assert folded == [WARNING[:59] + "…"], shown
    assert "the answer" in shown
    followed = run_cli(store.root, "--json", "follow", job_id).stdout.decode().splitlines()
    kinds = {json.loads(line).get("text"): json.loads(line).get("kind") for line in followed}
    assert kinds[WARNING] == "notice" and kinds["the answer"] == "agent"


def test_the_cli_dims_notices_on_a_terminal(store: JobStore, workdir: Path) -> None:
    job_id = job_with_notices(store, workdir)
    main, secondary = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "jobstore.cli", "--store", str(store.root), "show", job_id, "--tail", "50"],
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other side is closed: all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert done.returncode == 0, done.stderr
    text = b"".join(chunks).decode()
    assert f"\x1b[2m{WARNING}\x1b[0m" in text
    assert "\x1b[2mthe answer" not in text and "the answer" in text


async def test_the_output_view_dims_notices(store: JobStore, workdir: Path) -> None:
    job_id = job_with_notices(store, workdir)
    async with job_output_open(store, job_id) as (_, log):
        kinds = {line.text: line.kind for line in log.lines}
        assert kinds[WARNING] == "notice" and kinds["the answer"] == "agent"
        notice, raw = log._style("notice"), log._style("raw")
        assert notice.italic and notice.color != raw.color  # dimmed: the foreground faded

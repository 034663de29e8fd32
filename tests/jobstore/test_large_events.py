"""A command with a large output: its event line is longer than any reader keeps (the runner's
MAX_EVENT_BYTES, the readers' line caps), yet it is shown as `$ cmd  [exit N]` and the end of
its output wherever output is rendered (the store's rendered tail, the CLI, the TUI's output
view), is counted in the summary, and the pager still gets the whole line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, OutputFile, RunOptions
from jobstore.codex_exec import MAX_EVENT_BYTES
from jobstore.cut_lines import cut_line
from jobstore.events import parse_event, render_line
from tests.security.attack import TURN_COMPLETED, make_script_codex, run_cli
from tests.tui.tui_demo import job_output_open, settle
from tui.pager import copy_safely

COMMAND = "bash -lc 'seq 1 N'"


def codex_with_a_large_output(bin_dir: Path, output_bytes: int) -> Path:
    """A codex whose one command prints numbered lines worth `output_bytes`, and exits 3."""
    body = (
        f"lines = ''.join(f'{{n}}\\n' for n in range(1, {output_bytes} // 6))\n"
        "emit({'type': 'item.started', 'item': {'id': 'item_1', 'type': 'command_execution', "
        f"'command': {COMMAND!r}, 'aggregated_output': '', 'status': 'in_progress'}}}})\n"
        "emit({'type': 'item.completed', 'item': {'id': 'item_1', 'type': 'command_execution', "
        f"'command': {COMMAND!r}, 'aggregated_output': lines + 'THE LAST LINE\\n', "
        "'exit_code': 3, 'status': 'completed'}})\n"
        "emit({'type': 'item.completed', 'item': {'id': 'i2', 'type': 'agent_message', 'text': 'done'}})\n"
        + TURN_COMPLETED
    )
    return make_script_codex(bin_dir, body)


@pytest.fixture(params=[1_200_000, 30_000_000], ids=["1.2 MB", "30 MB"])
def large_job(request: pytest.FixtureRequest, tmp_path: Path, workdir: Path) -> tuple[JobStore, str]:
    codex = codex_with_a_large_output(tmp_path / "large-bin", request.param)
    store = JobStore(tmp_path / "large-store", max_jobs=2, codex_bin=str(codex), cancel_grace=2.0)
    job = store.start(RunOptions.checked(prompt="go", cwd=str(workdir)))
    final = store.wait(job.job_id, 120)
    assert final.status == JobStatus.DONE, final.error
    assert store.layout.output(job.job_id).stat().st_size > request.param > MAX_EVENT_BYTES
    return store, job.job_id


def check_rendered(texts: list[str]) -> None:
    """The command line, its exit code, the end of its output; never a raw JSON fragment."""
    assert f"$ {COMMAND}  [exit 3]" in texts, texts
    assert any(text.strip() == "THE LAST LINE" for text in texts), texts
    assert not any('aggregated_output"' in text or text.lstrip().startswith("{") for text in texts), texts


def test_the_store_renders_and_counts_a_command_with_a_large_output(large_job: tuple[JobStore, str]) -> None:
    store, job_id = large_job
    check_rendered([line.text for line in store.rendered_tail(job_id, 20)])
    commands = store.summary(job_id).commands  # written by the runner, which cut the line
    assert [(c.command, c.exit_code, c.status) for c in commands] == [(COMMAND, 3, "completed")]


def test_the_cli_shows_a_command_with_a_large_output(large_job: tuple[JobStore, str]) -> None:
    store, job_id = large_job
    done = run_cli(store.root, "show", job_id, "--tail", "20")
    assert done.returncode == 0, done.stderr
    output = done.stdout.decode().split("\n}\n", 1)[1]  # after the record
    check_rendered([line.strip() for line in output.splitlines()])
    followed = run_cli(store.root, "follow", job_id)
    check_rendered([line.strip() for line in followed.stdout.decode().splitlines()])


async def test_the_output_view_shows_a_command_with_a_large_output(large_job: tuple[JobStore, str]) -> None:
    store, job_id = large_job
    async with job_output_open(store, job_id) as (pilot, log):
        check_rendered([line.text.strip() for line in log.lines])
        await pilot.press("r")  # the raw view: the event's head and end, the cut marked
        await settle(pilot)
        raw = [line.text for line in log.lines]
        assert any("cut: the line has" in text and "THE LAST LINE" in text for text in raw), raw


def test_the_pager_gets_the_whole_output(large_job: tuple[JobStore, str]) -> None:
    store, job_id = large_job
    sink = io.BytesIO()
    with OutputFile.open(store.layout.output(job_id)) as output:
        copy_safely(output, sink)
    event = next(
        parse_event(line)
        for line in sink.getvalue().decode().splitlines()
        if '"item.completed"' in line and "command_execution" in line
    )
    assert event is not None and event["item"]["aggregated_output"].endswith("\nTHE LAST LINE\n")


def test_a_cut_line_that_is_not_a_command_reads_as_it_is() -> None:
    line = cut_line(
        '{"type": "item.completed", "item": {"type": "agent_message", "text": "aaa', 5_000_000, 'zzz"}}'
    )
    assert [r.kind for r in render_line(line)] == ["agent"]  # head and end inside one string: valid JSON
    raw = cut_line("plain text", 5_000_000, "its end")
    assert render_line(raw)[0].text == "plain text … [cut: the line has 5,000,000 bytes] … its end"
    head = json.dumps(
        {"type": "item.completed", "item": {"id": "i", "type": "command_execution", "command": "ls"}}
    )
    cut = parse_event(
        cut_line(head[:-2] + ', "aggregated_output": "a\\nb', 9_999, 'c\\nd", "exit_code": 0}}')
    )
    assert cut is not None and cut["item"]["aggregated_output"] == "d" and cut["item"]["exit_code"] == 0

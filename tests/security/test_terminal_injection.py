"""Class 2, terminal injection: stored text reaches `codex-async` output only made visible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jobstore import JobStore, RunOptions
from jobstore.record import JobRecord
from jobstore.records import Records
from jobstore.sanitize import json_for_terminal, terminal_safe
from tests.security.attack import HOSTILE, run_cli, unsafe_characters


def hostile_job(store: JobStore, tmp_path: Path, payload: str) -> JobRecord:
    """A finished job whose cwd, prompt, error and output all carry `payload`."""
    cwd = tmp_path / f"cwd{payload.replace('/', '_')}"
    cwd.mkdir()
    job = store.start(RunOptions.checked(prompt="quick", cwd=str(cwd)))
    store.wait(job.job_id, 30)
    Records(store.layout).update(
        job.job_id, prompt=f"do {payload} now\nsecond line", error=f"failed: {payload}"
    )
    events = [
        {"type": "item.completed", "item": {"id": "a", "type": "agent_message", "text": f"agent {payload}"}},
        {
            "type": "item.completed",
            "item": {
                "id": "c",
                "type": "command_execution",
                "command": f"echo {payload}",
                "aggregated_output": f"out {payload}\n",
                "exit_code": 0,
                "status": "completed",
            },
        },
        {"type": "error", "message": f"err {payload}"},
    ]
    with open(store.layout.output(job.job_id), "a", encoding="utf-8") as out:
        out.write(f"raw stderr {payload}\n")
        out.writelines(json.dumps(e) + "\n" for e in events)
    return store.get(job.job_id)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_list_and_show_never_emit_control_characters(name: str, store: JobStore, tmp_path: Path) -> None:
    payload = HOSTILE[name]
    job = hostile_job(store, tmp_path, payload)
    for args in (
        ["list"],
        ["show", job.job_id, "--tail", "50"],
        ["--json", "list"],
        ["--json", "show", job.job_id],
    ):
        done = run_cli(store.root, *args)
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        text = done.stdout.decode("utf-8")
        assert not unsafe_characters(text), (args, unsafe_characters(text))
        assert not unsafe_characters(done.stderr.decode("utf-8"))
        if args[0] != "--json":
            # Shown, not hidden: the reader sees that something odd was there.
            assert terminal_safe(payload) in text, args


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_show_makes_every_place_of_the_output_visible(name: str, store: JobStore, tmp_path: Path) -> None:
    payload = HOSTILE[name]
    job = hostile_job(store, tmp_path, payload)
    text = run_cli(store.root, "show", job.job_id, "--tail", "50").stdout.decode("utf-8")
    # Rendering splits multi-line text (a vertical tab or form feed ends a line too).
    for place in ("raw stderr", "agent", "$ echo", "  out", "error: err"):
        assert terminal_safe(f"{place} {payload}".splitlines()[0]) in text, place


def test_json_output_keeps_the_exact_values(store: JobStore, tmp_path: Path) -> None:
    payload = "".join(HOSTILE.values())
    job = hostile_job(store, tmp_path, payload)
    done = run_cli(store.root, "--json", "show", job.job_id)
    assert not unsafe_characters(done.stdout.decode("utf-8"))
    record = json.loads(done.stdout)
    assert record["error"] == f"failed: {payload}"
    assert record["cwd"] == job.cwd


def test_error_messages_are_made_visible(store: JobStore) -> None:
    done = run_cli(store.root, "show", "\x1b]0;pwned\x07")
    assert done.returncode != 0
    assert not unsafe_characters(done.stderr.decode("utf-8"))
    assert not unsafe_characters(done.stdout.decode("utf-8"))


def test_an_unreadable_record_is_listed_safely(store: JobStore, tmp_path: Path) -> None:
    job = hostile_job(store, tmp_path, HOSTILE["osc52-clipboard"])
    store.layout.meta(job.job_id).write_text('{"job_id": "x\\u001b]52;c;AAAA\\u0007", "status": 7}')
    done = run_cli(store.root, "list")
    assert done.returncode == 0
    assert not unsafe_characters(done.stdout.decode("utf-8"))


def test_the_sanitiser_covers_every_control_character() -> None:
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
    bidi = [
        chr(c)
        for c in (0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
    ]
    text = "".join(controls + bidi)
    one_line = terminal_safe(text)
    assert not unsafe_characters(one_line.replace("\t", ""))
    assert "\n" not in one_line and "\t" in one_line
    assert "\n" in terminal_safe(text, multiline=True)
    assert terminal_safe("\x1b[31m") == "\u241b[31m"
    assert terminal_safe("\x9b") == "\\x9b" and terminal_safe("\x7f") == "\u2421"
    assert terminal_safe("\u202e") == "<U+202E>"
    # Ordinary text, accents, emoji with joiners and CJK pass unchanged.
    plain = "café 👩\u200d💻 漢字 tab\there"
    assert terminal_safe(plain) == plain


def test_json_for_terminal_round_trips() -> None:
    data = {"text": "".join(HOSTILE.values()), "n": [1, None]}
    dumped = json_for_terminal(data)
    assert not unsafe_characters(dumped)
    assert json.loads(dumped) == data

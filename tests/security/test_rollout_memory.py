"""Class 8, resources: opening one of codex's rollouts costs bounded memory whatever the file
holds (millions of tiny records, of turns, of commands, megabytes of text in one record).

Each file is read in a process of its own, which reports its peak resident memory (VmHWM)
before and after reading; the growth must stay far below the file's size. A memory bound,
not a time bound. Before the reader streamed, an empty-object file cost ~25 times its size.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobstore.codex_rollout import MAX_COMMANDS_PER_TURN, MAX_TEXT_CHARS, MAX_TURNS
from tests.security.attack import REPO

FILE_BYTES = 8 * 1024 * 1024
# Far below what the old reader took (8 MB of `{}` lines: ~190 MB), far above what is kept.
MAX_GROWTH_MB = 40

MEASURE = """
import json, sys
from pathlib import Path
from jobstore.codex_rollout import read_conversation

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmHWM")

before = peak_mb()
conversation = read_conversation(Path(sys.argv[1]), "0199a000-0000-7000-8000-000000000001")
after = peak_mb()
commands = sum(len(turn.commands) for turn in conversation.turns)
longest = max((len(turn.prompt) for turn in conversation.turns), default=0)
print(json.dumps({"growth": after - before, "turns": len(conversation.turns), "commands": commands,
                  "longest_prompt": longest, "details": conversation.details}))
"""


def event(payload: dict[str, object]) -> str:
    return json.dumps({"timestamp": "2026-11-29T23:04:03Z", "type": "event_msg", "payload": payload})


def empty_objects() -> Iterator[str]:
    while True:
        yield "{}"


def many_turns() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield event({"type": "task_started"})
        yield event({"type": "user_message", "message": f"prompt {n}"})
        yield event({"type": "task_complete", "last_agent_message": f"answer {n}"})


def many_commands() -> Iterator[str]:
    yield event({"type": "user_message", "message": "one turn"})
    n = 0
    while True:
        n += 1
        yield event(
            {
                "type": "exec_command_end",
                "call_id": f"c{n}",
                "command": ["echo", str(n)],
                "exit_code": 0,
                "aggregated_output": "x" * 200,
            }
        )


def huge_texts() -> Iterator[str]:
    """One turn steered again and again: every prompt joins the turn's text."""
    while True:
        yield event({"type": "user_message", "message": "y" * 100_000})


def many_kinds() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield event({"type": f"kind-{n}-" + "z" * 100})


CONTENTS: dict[str, Callable[[], Iterator[str]]] = {
    "empty objects": empty_objects,
    "many turns": many_turns,
    "many commands": many_commands,
    "huge texts": huge_texts,
    "many kinds of record": many_kinds,
}


def write_rollout(path: Path, lines: Iterator[str]) -> None:
    written = 0
    with open(path, "w") as out:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line + "\n")
            written += len(line) + 1
            if len(chunk) >= 10_000 or written >= FILE_BYTES:
                out.write("".join(chunk))
                chunk.clear()
            if written >= FILE_BYTES:
                break


@pytest.mark.parametrize("content", sorted(CONTENTS))
def test_reading_a_rollout_takes_bounded_memory(content: str, tmp_path: Path) -> None:
    path = tmp_path / "rollout-2026-11-29T23-04-03-0199a000-0000-7000-8000-000000000001.jsonl"
    write_rollout(path, CONTENTS[content]())
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["growth"] < MAX_GROWTH_MB, report
    assert report["turns"] <= MAX_TURNS, report
    assert report["commands"] <= MAX_TURNS * MAX_COMMANDS_PER_TURN, report
    assert report["longest_prompt"] <= MAX_TEXT_CHARS, report
    if content == "many turns":
        assert report["turns"] == MAX_TURNS and int(report["details"]["earliest turns not kept"]) > 0
    if content == "many commands":
        assert report["commands"] == MAX_COMMANDS_PER_TURN, report
        assert int(report["details"]["earlier commands not kept"]) > 0

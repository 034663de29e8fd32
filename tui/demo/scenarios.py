"""What the simulated codex plays: scripted runs made of the events real `codex exec --json`
prints, with pauses between them so that output streams in over seconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# One step: an event to print, a pause before it, and optionally a command to really run
# (so that a cancel has a real process tree to stop).
Step = tuple[float, dict[str, Any]]


@dataclass
class Scenario:
    steps: list[Step]
    exit_code: int = 0
    final_message: str | None = None
    # A real command to start just before step `index`, so a cancel has a tree to stop.
    run_command: tuple[int, list[str]] | None = field(default=None)
    # Text appended to files (relative to codex's folder) as step `index` is played: the edits
    # its file changes announce, so a worktree job's Diff tab shows a real change.
    edits: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


def _item(kind: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "item": {"id": f"item_{n}", **fields}}


def _msg(n: int, text: str) -> dict[str, Any]:
    return _item("item.completed", n, type="agent_message", text=text)


def _thought(n: int, text: str) -> dict[str, Any]:
    return _item("item.completed", n, type="reasoning", text=text)


def _cmd(n: int, command: str, output: str = "", exit_code: int | None = None) -> list[Step]:
    started = _item(
        "item.started",
        n,
        type="command_execution",
        command=command,
        aggregated_output="",
        exit_code=None,
        status="in_progress",
    )
    if exit_code is None:
        return [(0.4, started)]
    done = _item(
        "item.completed",
        n,
        type="command_execution",
        command=command,
        aggregated_output=output,
        exit_code=exit_code,
        status="completed" if exit_code == 0 else "failed",
    )
    return [(0.4, started), (1.2, done)]


def _files(n: int, *changes: tuple[str, str]) -> dict[str, Any]:
    return _item(
        "item.completed",
        n,
        type="file_change",
        changes=[{"path": p, "kind": k} for p, k in changes],
        status="completed",
    )


def _todo(n: int, *items: tuple[str, bool], started: bool = False) -> dict[str, Any]:
    return _item(
        "item.started" if started else "item.updated",
        n,
        type="todo_list",
        items=[{"text": t, "completed": c} for t, c in items],
    )


def _usage(tokens_in: int, tokens_out: int) -> dict[str, Any]:
    return {
        "type": "turn.completed",
        "usage": {
            "input_tokens": tokens_in,
            "cached_input_tokens": tokens_in // 3,
            "output_tokens": tokens_out,
        },
    }


FEATURE = "Add a --verbose flag to the CLI and document it in the README"
FIX_TESTS = "Run the test suite and fix whatever fails"
MIGRATION = "Migrate the settings loader to pydantic v2"
AUDIT = "Audit every dependency for known vulnerabilities and write a report"
EXPLAIN = "Explain how the job queue decides which job runs next"
FOLLOW_UP = "Now sketch that as an ASCII sequence diagram"

DEMO_PROMPTS = (FEATURE, FIX_TESTS, MIGRATION, AUDIT, EXPLAIN)


def scenario_for(prompt: str, *, review: bool = False) -> Scenario:
    text = prompt.strip()
    if review:
        return _review()
    return {
        FEATURE: _feature,
        FIX_TESTS: _fix_tests,
        MIGRATION: _migration,
        AUDIT: _audit,
        EXPLAIN: _explain,
        FOLLOW_UP: _follow_up,
    }.get(text, lambda: _generic(text))()


def _feature() -> Scenario:
    steps: list[Step] = [
        (
            0.6,
            _thought(
                0,
                "**Planning the change**\nFind where arguments are parsed, then thread a verbose flag to the logger.",
            ),
        ),
        (
            0.3,
            _todo(
                1,
                ("Find the argument parser", False),
                ("Add --verbose", False),
                ("Document it", False),
                started=True,
            ),
        ),
        *_cmd(
            2,
            "/bin/bash -lc 'rg -n \"add_argument\" src/'",
            'src/cli.py:14:    parser.add_argument("--config")\nsrc/cli.py:15:    parser.add_argument("--dry-run", action="store_true")',
            0,
        ),
        (0.4, _todo(1, ("Find the argument parser", True), ("Add --verbose", False), ("Document it", False))),
        (
            0.8,
            _msg(
                3,
                "The parser lives in `src/cli.py`; I'll add `--verbose` next to `--dry-run` and raise the log level when it is set.",
            ),
        ),
        (1.0, _files(4, ("src/cli.py", "update"), ("src/log.py", "update"))),
        (0.4, _todo(1, ("Find the argument parser", True), ("Add --verbose", True), ("Document it", False))),
        (0.8, _files(5, ("README.md", "update"))),
        *_cmd(6, "/bin/bash -lc 'python -m pytest -q tests/test_cli.py'", "....\n4 passed in 0.21s", 0),
        (0.3, _todo(1, ("Find the argument parser", True), ("Add --verbose", True), ("Document it", True))),
        (
            0.8,
            _msg(
                7,
                "Added `--verbose` (`-v`) to the CLI: it sets the log level to DEBUG. The README's usage section documents it, and the CLI tests pass.",
            ),
        ),
        (0.2, _usage(18_412, 1_305)),
    ]
    verbose_flag = 'parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")\n'
    readme = "\n## Usage\n\n`demo-project --verbose` logs every step at DEBUG level.\n"
    edits = {_step_of(steps, 4): [("src/cli.py", verbose_flag)], _step_of(steps, 5): [("README.md", readme)]}
    return Scenario(steps, edits=edits)


def _step_of(steps: list[Step], item: int) -> int:
    """The index of the step that completes item number `item`."""
    return next(
        index
        for index, (_, event) in enumerate(steps)
        if event.get("type") == "item.completed" and event.get("item", {}).get("id") == f"item_{item}"
    )


def _fix_tests() -> Scenario:
    failing = "F...\nFAILED tests/test_dates.py::test_parse_iso - AssertionError: tz lost\n1 failed, 3 passed in 0.30s"
    steps: list[Step] = [
        (0.5, _thought(0, "Run the suite first to see what fails.")),
        *_cmd(1, "/bin/bash -lc 'python -m pytest -q'", failing, 1),
        (0.8, _thought(2, "`parse_iso` drops the time zone: `datetime.strptime` with a naive format.")),
        *_cmd(
            3,
            "/bin/bash -lc \"sed -n '1,40p' src/dates.py\"",
            "def parse_iso(text):\n    return datetime.strptime(text, '%Y-%m-%dT%H:%M:%S')",
            0,
        ),
        (1.0, _files(4, ("src/dates.py", "update"))),
        *_cmd(5, "/bin/bash -lc 'python -m pytest -q'", "....\n4 passed in 0.28s", 0),
        (
            0.6,
            _msg(
                6,
                "`tests/test_dates.py::test_parse_iso` failed because `parse_iso` ignored the offset. It now uses `datetime.fromisoformat`, which keeps it; all 4 tests pass.",
            ),
        ),
        (0.2, _usage(24_930, 1_877)),
    ]
    return Scenario(steps)


def _migration() -> Scenario:
    steps: list[Step] = [
        (0.6, _thought(0, "Look at how settings are loaded today.")),
        *_cmd(
            1,
            '/bin/bash -lc \'rg -n "BaseSettings" -g "*.py"\'',
            "src/settings.py:3:from pydantic import BaseSettings",
            0,
        ),
        (
            1.5,
            {
                "type": "error",
                "message": "stream disconnected before completion: error sending request for url (simulated)",
            },
        ),
        (
            0.2,
            {
                "type": "turn.failed",
                "error": {"message": "stream disconnected before completion (simulated failure)"},
            },
        ),
    ]
    return Scenario(steps, exit_code=1)


def _audit() -> Scenario:
    command = "/bin/bash -lc 'pip-audit --strict --progress-spinner off'"
    steps: list[Step] = [
        (
            0.6,
            _thought(
                0, "Collect the dependency tree, then check each package against the advisory database."
            ),
        ),
        (
            0.3,
            _todo(
                1,
                ("List dependencies", True),
                ("Check advisories", False),
                ("Write AUDIT.md", False),
                started=True,
            ),
        ),
        *_cmd(2, command),
        # The command "runs" for a long time: a job waiting to be cancelled.
        (
            3600.0,
            _item(
                "item.completed",
                2,
                type="command_execution",
                command=command,
                aggregated_output="No known vulnerabilities found",
                exit_code=0,
                status="completed",
            ),
        ),
        (0.5, _msg(3, "No known vulnerabilities found.")),
        (0.1, _usage(9_120, 402)),
    ]
    return Scenario(steps, run_command=(3, ["sleep", "3600"]))


def _explain() -> Scenario:
    steps: list[Step] = [
        (0.5, _thought(0, "Read the scheduler before answering.")),
        *_cmd(
            1,
            "/bin/bash -lc \"rg -n 'def _schedule' -A 30 jobstore/store.py\"",
            "jobstore/store.py:571:    def _schedule_locked(self) -> list[str]:",
            0,
        ),
        (
            1.0,
            _msg(
                2,
                "Jobs wait in `queue/` as markers named by job id. Ids sort by creation time, so when a slot frees (a runner finishes and calls `schedule()`), the oldest queued job starts next, under a store-wide lock shared by every process.",
            ),
        ),
        (0.2, _usage(12_204, 688)),
    ]
    return Scenario(steps)


def _follow_up() -> Scenario:
    diagram = (
        "```\nserver          store            runner          codex\n"
        "  | start ------> | queue marker     |               |\n"
        "  |               | slot free? ----> | spawn ------> |\n"
        "  |               | <--- end, exit   | <---- exit -- |\n"
        "  |               | schedule() next  |               |\n```"
    )
    return Scenario([(1.2, _msg(0, diagram)), (0.2, _usage(15_870, 301))])


def _review() -> Scenario:
    text = (
        "The change to `add` flips its meaning.\n\n"
        "- [P1] `add` subtracts instead of adding — app.py:2\n"
        "  `return a - b` makes every caller wrong; restore `a + b`."
    )
    steps: list[Step] = [
        *_cmd(0, "/bin/bash -lc 'git diff'", "-    return a + b\n+    return a - b", 0),
        (1.5, _msg(1, text)),
        (0.2, _usage(6_020, 240)),
    ]
    return Scenario(steps)


def _generic(prompt: str) -> Scenario:
    first_line = prompt.splitlines()[0][:80] if prompt else ""
    steps: list[Step] = [
        (0.6, _thought(0, f"Thinking about: {first_line}")),
        *_cmd(1, "/bin/bash -lc 'ls'", "README.md\npyproject.toml\nsrc\ntests", 0),
        (1.0, _msg(2, f"(Simulated codex: no model was asked.) I would now work on: {first_line}")),
        (0.2, _usage(3_100, 120)),
    ]
    return Scenario(steps)

"""A SIMULATED codex CLI for the demo: it accepts the argv of `codex exec --json` and plays a
scripted run from `tui.demo.scenarios`. It asks no model and uses no network.

`tui.demo.setup` writes a `codex` wrapper that calls `main` with the demo's pace (`speed`: a
factor on every pause), so nothing here reads the environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

from tui.demo.scenarios import scenario_for

VERSION = "0.169.0"
EXEC_FLAGS = (
    "--json --output-last-message --model --sandbox --dangerously-bypass-approvals-and-sandbox "
    "--skip-git-repo-check --config"
)


def _emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None, *, speed: float = 1.0) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        print(f"codex-cli {VERSION} (simulated)")
        return 0
    if args[:1] != ["exec"]:
        print("simulated codex: only `exec` is simulated", file=sys.stderr)
        return 2
    if "--help" in args:
        print("Usage: codex exec [OPTIONS] [PROMPT]   (simulated)\n" + "\n".join(EXEC_FLAGS.split()))
        return 0
    last_message = args[args.index("--output-last-message") + 1] if "--output-last-message" in args else None
    thread_id = args[args.index("resume") + 1] if "resume" in args else str(uuid.uuid4())
    review = "review" in args
    prompt = args[-1] if len(args) > 1 and args[-2] == "--" else ""
    if args[-1:] == ["-"]:
        prompt = sys.stdin.read()

    scenario = scenario_for(prompt, review=review)
    print("Reading additional input from stdin...", file=sys.stderr, flush=True)
    _emit({"type": "thread.started", "thread_id": thread_id})
    _emit({"type": "turn.started"})
    child = None
    for index, (pause, event) in enumerate(scenario.steps):
        if scenario.run_command and scenario.run_command[0] == index:
            child = subprocess.Popen(scenario.run_command[1], stdin=subprocess.DEVNULL)
        time.sleep(pause * speed)
        for path, text in scenario.edits.get(index, []):
            with open(path, "a", encoding="utf-8") as f:  # codex's folder: a worktree job's own
                f.write(text)
        _emit(event)
        item = event.get("item")
        if (
            event.get("type") == "item.completed"
            and isinstance(item, dict)
            and item.get("type") == "agent_message"
        ):
            scenario.final_message = str(item.get("text"))
    if child is not None:
        child.kill()
    if last_message:
        with open(last_message, "w", encoding="utf-8") as f:
            f.write(scenario.final_message or "" if scenario.exit_code == 0 else "")
    return scenario.exit_code


if __name__ == "__main__":
    sys.exit(main())

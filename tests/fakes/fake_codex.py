"""The one stand-in for the `codex` CLI in tests and benchmarks: its argv and a realistic `--json` stream.

Behaviour is chosen by words in the prompt:
  sleep=N      sleep N seconds mid-turn (a command "running" meanwhile)
  fail         the turn fails (turn.failed) and the process exits 1
  crash        exit 3 without finishing the turn
  noturn       exit 0 without finishing the turn
  child        start a `sleep 300` grandchild in a session of its own, then wait
  lines=N      print N extra agent-message lines
  ticks=N      print N agent-message lines 0.1 s apart, each `tick <time written, time.time()>`
  garbage      print non-JSON, invalid UTF-8 and NUL bytes
  bigline=N    after turn.started, print N MiB of "x" without a newline (the line ends only when
               the turn goes on: combine with sleep=S to keep it unfinished while the job runs)
  silent       print nothing at all and sleep (sleep=S seconds, else 300) before answering
  untilfile    mid-turn, wait until a file named `release` appears in codex's folder (at most
               sleep=S seconds, else 60): a job that ends when the test says, not after a delay
A million lines: lines=1000000. A job silent after its start: sleep=S (one item.started, then quiet).
Environment: FAKE_CODEX_VERSION (default 0.169.0), FAKE_CODEX_ARGV_LOG (append argv as JSON),
FAKE_CODEX_TIME_LOG (append each turn's start and end time, as JSON),
FAKE_CODEX_SLEEP=N (sleep=N for every run), FAKE_CODEX_LENIENT=1 (accept a prompt not after `--`,
as other servers pass it: the benchmarks' reference).
Run with `python -IS` (see `install`): only the standard library, imported when needed, so a run
costs little more than the interpreter's start.
"""

from __future__ import annotations

import os
import sys
import time

FLAGS = (
    "--json --output-last-message --model --profile --sandbox --dangerously-bypass-approvals-and-sandbox "
    "--cd --add-dir --image --skip-git-repo-check --ephemeral --ignore-user-config --output-schema "
    "--color --config"
)


def ascii_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def to_json(value: object) -> str:
    """JSON as json.dumps writes it; by hand because importing json costs more than a fake run."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return '"' + "".join(c if " " <= c <= "~" else ascii_escape(c) for c in escaped) + '"'
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_json(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    raise TypeError(f"fake codex cannot write {type(value).__name__}")


def emit(event: dict) -> None:
    sys.stdout.write(to_json(event) + "\n")
    sys.stdout.flush()


def number_after(word: str, text: str) -> str | None:
    """The number written right after `word` in `text` (`sleep=1.5` -> "1.5"), if any."""
    at = text.find(word)
    if at < 0:
        return None
    digits = ""
    for char in text[at + len(word) :]:
        if not (char.isdigit() or char == "."):
            break
        digits += char
    return digits or None


def written_files(prompt: str) -> list[str]:
    """The names after `write=`; split by hand because importing `re` costs a run ~4 ms,
    which every benchmark's job (ours and the reference's) would pay."""
    return [word[len("write=") :] for word in prompt.split() if word.startswith("write=") and len(word) > 6]


def main() -> int:
    args = sys.argv[1:]
    log = os.environ.get("FAKE_CODEX_ARGV_LOG")
    if log and args[:1] != ["app-server"]:  # the store's probe for an app-server: not a run
        with open(log, "a") as f:
            f.write(to_json(args) + "\n")
    if args == ["--version"]:
        print(f"codex-cli {os.environ.get('FAKE_CODEX_VERSION', '0.169.0')}")
        return 0
    if args[:1] != ["exec"]:
        print("fake codex: only exec is supported", file=sys.stderr)
        return 2
    if "--help" in args:
        print("Usage: codex exec [OPTIONS] [PROMPT]\n" + "\n".join(f"  {f}" for f in FLAGS.split()))
        return 0
    if "--full-auto" in args:
        print("error: unexpected argument '--full-auto' found", file=sys.stderr)
        return 2
    last_message_path = None
    if "--output-last-message" in args:
        last_message_path = args[args.index("--output-last-message") + 1]
    raw = os.urandom(16).hex()
    thread_id = f"{raw[:8]}-{raw[8:12]}-7{raw[13:16]}-8{raw[17:20]}-{raw[20:]}"
    if "resume" in args:
        thread_id = args[args.index("resume") + 1]
    review = "review" in args
    prompt = args[-1]
    if prompt == "-":
        prompt = sys.stdin.read()
    elif args[-2:-1] != ["--"] and not review and not os.environ.get("FAKE_CODEX_LENIENT"):
        print("fake codex: prompt must follow --", file=sys.stderr)
        return 2

    stamp("start", prompt)
    try:
        return turn(prompt, thread_id, review, last_message_path)
    finally:
        stamp("end", prompt)


def stamp(event: str, prompt: str) -> None:
    """FAKE_CODEX_TIME_LOG: one JSON line at the turn's start and at its end (wall clock, so that
    processes of different stores and PID namespaces compare)."""
    path = os.environ.get("FAKE_CODEX_TIME_LOG")
    if path:
        with open(path, "a") as f:
            line = {"event": event, "time": time.time(), "pid": os.getpid(), "prompt": prompt}
            f.write(to_json(line) + "\n")


def turn(prompt: str, thread_id: str, review: bool, last_message_path: str | None) -> int:
    if "silent" in prompt:
        time.sleep(float(number_after("sleep=", prompt) or 300))
    emit({"type": "thread.started", "thread_id": thread_id})
    emit({"type": "turn.started"})
    big = number_after("bigline=", prompt)
    if big:
        block = b"x" * (1024 * 1024)
        for _ in range(int(float(big))):
            sys.stdout.buffer.write(block)
        sys.stdout.flush()
    if "garbage" in prompt:
        sys.stdout.buffer.write(b"plain text line\n\xff\xfe broken utf8 \x00 nul\n")
        sys.stdout.flush()
    for i in range(int(number_after("lines=", prompt) or 0)):
        emit(
            {"type": "item.completed", "item": {"id": f"l{i}", "type": "agent_message", "text": f"line {i}"}}
        )
    for _ in range(int(number_after("ticks=", prompt) or 0)):  # a reader's lag, measured by the line
        time.sleep(0.1)
        emit(
            {
                "type": "item.completed",
                "item": {"id": "t", "type": "agent_message", "text": f"tick {time.time()}"},
            }
        )
    nap = number_after("sleep=", prompt) or os.environ.get("FAKE_CODEX_SLEEP")
    if "silent" in prompt:
        nap = None
    if nap or "child" in prompt or "untilfile" in prompt:
        command = {
            "id": "item_1",
            "type": "command_execution",
            "command": "sleep",
            "aggregated_output": "",
            "exit_code": None,
            "status": "in_progress",
        }
        emit({"type": "item.started", "item": command})
        if "child" in prompt:
            import subprocess

            subprocess.Popen(["sleep", "300"], start_new_session=True)
            subprocess.Popen(["sleep", "301"])
        if "untilfile" in prompt:
            deadline = time.monotonic() + (float(nap) if nap else 60)
            while not os.path.exists("release") and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            time.sleep(float(nap) if nap else 300)
        if big:
            sys.stdout.write("\n")  # the long line ends here
        emit({"type": "item.completed", "item": {**command, "exit_code": 0, "status": "completed"}})
    for name in written_files(prompt):  # what a model's edit would do, in cwd
        with open(name, "a") as f:
            f.write(f"written by the job: {name}\n")
    if "fail" in prompt:
        emit({"type": "turn.failed", "error": {"message": "fake model failure"}})
        return 1
    if "crash" in prompt:
        print("fake codex: crashed", file=sys.stderr)
        return 3
    text = "Review: no issues found." if review else f"Done: {prompt[:60]}"
    emit({"type": "item.completed", "item": {"id": "item_9", "type": "agent_message", "text": text}})
    if last_message_path:
        with open(last_message_path, "w") as f:
            f.write(text)
    if "noturn" in prompt:
        return 0
    emit(
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 5},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Finding the codex binary, learning its version once, and building its argv for that version.

Flags change between codex releases and an unknown flag fails the whole run
(exit 2), so the argv is built from what `codex exec --help` of the installed
binary says it accepts. The probe is cached per binary (path, size, mtime).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobstore.errors import CodexUnavailable
from jobstore.options import ASKING_POLICIES, POLICY_SANDBOX, ReviewOptions, RunOptions, effective_sandbox

MIN_VERSION = (0, 125, 0)
PROBE_TIMEOUT_SECONDS = 30
# Linux caps one argv string at 128 KiB; longer prompts go through stdin.
MAX_ARGV_PROMPT_BYTES = 100 * 1024
# What codex reads as "the prompt is on stdin", wherever it stands.
STDIN_PROMPT = "-"

_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_FLAG_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]+)")


@dataclass(frozen=True)
class CodexInfo:
    path: str
    version: tuple[int, int, int]
    version_text: str
    exec_flags: frozenset[str]

    @property
    def version_string(self) -> str:
        return ".".join(map(str, self.version))

    def has(self, flag: str) -> bool:
        return flag in self.exec_flags


_cache: dict[tuple[str, int, int], CodexInfo] = {}
_cache_lock = threading.Lock()


def resolve_codex_bin(codex_bin: str | None = None) -> str:
    """`codex_bin` (the settings' CODEX_BIN), else `codex` on PATH, as an absolute path."""
    name = codex_bin or "codex"
    found = shutil.which(name)
    if not found:
        where = "CODEX_BIN" if codex_bin else "PATH"
        raise CodexUnavailable(
            f"codex CLI not found ({name!r} via {where}). Install it with "
            "`npm install -g @openai/codex` or set CODEX_BIN to its path"
        )
    return os.path.abspath(found)


def probe_codex(codex_bin: str | None = None) -> CodexInfo:
    """Version and exec flags of the codex binary; cached while the binary is unchanged."""
    path = resolve_codex_bin(codex_bin)
    try:
        st = os.stat(os.path.realpath(path))
    except OSError as exc:
        raise CodexUnavailable(f"cannot read codex at {path}: {exc.strerror}") from exc
    key = (path, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    version_out = run_probe([path, "--version"])
    match = _VERSION_RE.search(version_out)
    if not match:
        raise CodexUnavailable(f"cannot tell the version of codex at {path}: {version_out!r}")
    version = (int(match[1]), int(match[2]), int(match[3]))
    if version < MIN_VERSION:
        raise CodexUnavailable(
            f"codex {'.'.join(map(str, version))} at {path} is too old; this tool needs "
            f"{'.'.join(map(str, MIN_VERSION))} or newer (`npm install -g @openai/codex@latest`)"
        )
    flags = frozenset(_FLAG_RE.findall(run_probe([path, "exec", "--help"])))
    if "--json" not in flags:
        raise CodexUnavailable(f"codex at {path} has no `exec --json`; upgrade it")
    info = CodexInfo(path, version, version_out.strip(), flags)
    with _cache_lock:
        _cache[key] = info
    return info


def run_probe(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CodexUnavailable(f"cannot run {' '.join(argv)}: {exc}") from exc
    text = (done.stdout or b"").decode("utf-8", "replace")
    if done.returncode != 0:
        err = (done.stderr or b"").decode("utf-8", "replace").strip()
        raise CodexUnavailable(f"`{' '.join(argv)}` failed with exit {done.returncode}: {err[:300]}")
    return text


def prompt_needs_stdin(prompt: str) -> bool:
    """Too large for argv, or exactly `-`: codex reads a PROMPT of `-` as "read stdin",
    even after `--`, so that one value goes through stdin, where it is taken as it is."""
    return prompt == STDIN_PROMPT or len(prompt.encode("utf-8")) > MAX_ARGV_PROMPT_BYTES


def _flag(name: str, value: str) -> str:
    """`--name=value`: one argv string, so a value starting with `-` is never read as a flag."""
    return f"{name}={value}"


def _prompt_args(prompt: str, via_stdin: bool) -> list[str]:
    # `--` so that a prompt starting with "-" is never read as a flag.
    return [STDIN_PROMPT] if via_stdin else ["--", prompt]


def _common_flags(info: CodexInfo, last_message_path: Path | None) -> list[str]:
    flags = ["--json"]
    if info.has("--skip-git-repo-check"):
        flags.append("--skip-git-repo-check")  # cwd is checked by the store; any folder will do
    if last_message_path is not None and info.has("--output-last-message"):
        flags += ["--output-last-message", str(last_message_path)]  # absolute: never a flag
    return flags


def _permission_flags(approval_policy: str, sandbox: str | None, *, resuming: bool) -> list[str]:
    if approval_policy == "full-auto" and sandbox is None:
        return ["--dangerously-bypass-approvals-and-sandbox"]
    mode = sandbox or POLICY_SANDBOX[approval_policy]
    # `-s` is refused after `resume`; the config override works for both forms.
    sandbox_flag = ["-c", f'sandbox_mode="{mode}"'] if resuming else ["--sandbox", mode]
    return [*sandbox_flag, "-c", 'approval_policy="never"']


def build_run_argv(
    info: CodexInfo, options: RunOptions, *, last_message_path: Path | None
) -> tuple[list[str], bool]:
    """The argv for a run (or a resumed session), and whether the prompt goes on stdin."""
    via_stdin = prompt_needs_stdin(options.prompt)
    argv = [info.path, "exec", *_common_flags(info, last_message_path)]
    if options.model:
        argv.append(_flag("--model", options.model))
    if options.reasoning_effort:
        argv += ["-c", f'model_reasoning_effort="{options.reasoning_effort}"']
    resuming = options.session_id is not None
    argv += _permission_flags(options.approval_policy, options.sandbox, resuming=resuming)
    if options.session_id is not None:
        argv += ["resume", options.session_id]
    argv += _prompt_args(options.prompt, via_stdin)
    return argv, via_stdin


def build_review_argv(
    info: CodexInfo, options: ReviewOptions, *, last_message_path: Path | None
) -> tuple[list[str], bool]:
    argv = [info.path, "exec", *_common_flags(info, last_message_path)]
    if options.model:
        argv.append(_flag("--model", options.model))
    argv += _permission_flags(options.approval_policy, None, resuming=False)
    argv.append("review")
    if options.base:
        argv.append(_flag("--base", options.base))
    elif options.commit:
        argv.append(_flag("--commit", options.commit))
        if options.title:
            argv.append(_flag("--title", options.title))
    elif options.uncommitted:
        argv.append("--uncommitted")
    via_stdin = False
    if options.prompt:
        via_stdin = prompt_needs_stdin(options.prompt)
        argv += _prompt_args(options.prompt, via_stdin)
    return argv, via_stdin


def build_app_server_command(info: CodexInfo, options: RunOptions) -> dict[str, Any]:
    """What a run through the app-server needs (command.json): the argv, the thread's
    settings (the runner adds its cwd: a step before codex may move it), the session to
    resume, the turn's input and settings. Only the asking policies let codex ask; the
    others never do, as with exec."""
    policy = options.approval_policy if options.approval_policy in ASKING_POLICIES else "never"
    thread: dict[str, Any] = {
        "approvalPolicy": policy,
        "sandbox": effective_sandbox(options.approval_policy, options.sandbox),
    }
    if options.model:
        thread["model"] = options.model
    turn: dict[str, Any] = {"effort": options.reasoning_effort} if options.reasoning_effort else {}
    return {
        "argv": [info.path, "app-server"],
        "stdin": None,
        "app_server": {"thread": thread, "resume": options.session_id, "input": options.prompt, "turn": turn},
    }

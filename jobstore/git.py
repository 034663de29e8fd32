"""The one way the project runs git: a repository is hostile, so nothing it configures ever runs.

A repository's configuration (`.git/config`, and whatever it pulls in through `include.path` or
`includeIf`) can name programs that git runs on its own: hooks, an fsmonitor, `filter.<x>` clean,
smudge and process drivers chosen by `.gitattributes`, external diffs and textconv, a pager,
credential helpers, an ssh command, editors, signing programs. Every git process of the project is
started here, and none of those runs:

- its environment is built from scratch: no `GIT_*` variable of the caller, no system or global
  configuration (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`), no prompt, no askpass, no
  pager; only the variables set here (the job's marker among them, so the job's cleanup finds it);
- every key that names a program is overridden on the command line (`-c`, which git reads last);
- `filter.<x>` drivers, which have no one key, are listed from the configuration git would read
  (`git config --get-regexp`: reading configuration runs nothing) and each is emptied
  (`clean`, `smudge`, `process` set to nothing, `required=false`), through `GIT_CONFIG_COUNT`,
  which carries any name as it is; a diff never runs an external diff or textconv
  (`--no-ext-diff --no-textconv` are added to every `diff`);
- a command given a private git folder (`git_dir`, the snapshots') reads no configuration of the
  repository at all, so it has no driver to run whatever the repository's files say.

A git that runs too long, or whose caller's `stop()` turns true, is killed.

Two kinds of program cannot be emptied from the command line, and no command run here reaches
them: `merge.<x>.driver` (a merge that may use one, `apply --3way` included, belongs in a private
git folder, as the snapshots' are) and `core.alternateRefsCommand` (used only by transports, which
`protocol.allow=never` refuses).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

GIT_TIMEOUT_SECONDS = 300.0
# How often a running git's caller is asked whether to stop it (only while git runs).
STOP_CHECK_SECONDS = 0.05
_MAX_ERROR_BYTES = 64 * 1024

# Keys whose value git runs as a program, and the value that runs none. (`core.pager=cat` is
# git's own word for "no pager"; `protocol.allow=never` refuses every transport, so no ssh,
# credential helper or proxy command can be reached.)
PROGRAM_OVERRIDES: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("core.askPass", ""),
    ("credential.helper", ""),
    ("core.sshCommand", "false"),
    ("protocol.allow", "never"),
    ("gpg.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.x509.program", "false"),
    ("submodule.recurse", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("core.untrackedCache", "false"),
)
_FILTER_KEYS = ("clean", "smudge", "process")
# Commands that never read a file's content through a filter: no need to list the drivers.
_NO_CONTENT = frozenset({"rev-parse", "config", "write-tree", "ls-tree", "cat-file", "commit-tree", "branch"})
_DIFF_COMMANDS = frozenset({"diff", "diff-tree", "diff-index", "diff-files", "log", "show"})


class GitFailed(Exception):
    pass


class GitStopped(GitFailed):
    """The caller asked to stop (a cancel): git was killed."""


def scrubbed_environment(extra: Mapping[str, str] = {}) -> dict[str, str]:
    """What every git process of the project starts with: nothing of the caller's that could
    point git elsewhere or make it run something (no `GIT_*`, no askpass, no pager)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TZ") if name in os.environ}
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            # No transport at all: overrides any `protocol.<x>.allow` of the repository's.
            "GIT_ALLOW_PROTOCOL": "none",
            "GIT_OPTIONAL_LOCKS": "0",  # a read never rewrites the person's index
            "GIT_PAGER": "cat",
            "PAGER": "cat",
        }
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class RepositoryPaths:
    """Where a working tree's repository keeps what a snapshot reads."""

    top: str  # the working tree's top folder
    common_dir: str  # the repository's git folder (a linked worktree's shared one)
    index: str
    exclude: str  # info/exclude
    object_format: str  # sha1 or sha256


class Git:
    """git in one working tree. With `git_dir`, a private git folder (its own configuration and
    objects) replaces the repository's; `index`, `object_dir` and `alternate_objects` say where
    the index and the objects written go. `env` is added to the scrubbed environment; `stop`
    is asked while git runs."""

    def __init__(
        self,
        work_tree: str,
        *,
        git_dir: str | None = None,
        index: str | None = None,
        object_dir: str | None = None,
        alternate_objects: Sequence[str] = (),
        env: Mapping[str, str] = {},
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.work_tree = work_tree
        self.git_dir = git_dir
        self.stop = stop
        extra = dict(env)
        if git_dir is not None:
            extra.update(GIT_DIR=git_dir, GIT_WORK_TREE=work_tree)
        if index is not None:
            extra["GIT_INDEX_FILE"] = index
        if object_dir is not None:
            extra["GIT_OBJECT_DIRECTORY"] = object_dir
        if alternate_objects:
            extra["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = os.pathsep.join(alternate_objects)
        self.env = scrubbed_environment(extra)
        self._drivers_emptied = git_dir is not None  # a private git folder configures none
        self._last_exit = 0

    def run(self, *args: str, limit: int | None = None) -> str:
        """git's output (decoded); raises GitFailed (GitStopped when stopped). With `limit`,
        only that many bytes are read and git is stopped after them (not an error)."""
        return self._run(list(args), limit).decode("utf-8", "replace")

    def run_bytes(self, *args: str, limit: int | None = None) -> bytes:
        """git's output as bytes; with `limit`, as `run`: at most that many bytes plus one."""
        return self._run(list(args), limit)

    def run_allowing(self, exit_codes: frozenset[int], *args: str) -> tuple[int, str]:
        """git's exit code and output, where an exit code in `exit_codes` is an answer, not a
        failure (e.g. `merge-tree`'s 1: the merge has conflicts)."""
        self._last_exit = 0
        out = self._run(list(args), None, exit_codes)
        return self._last_exit, out.decode("utf-8", "replace")

    def _run(self, args: list[str], limit: int | None, exit_codes: frozenset[int] = frozenset()) -> bytes:
        if not args:
            raise ValueError("no git command given")
        if args[0] not in _NO_CONTENT and not self._drivers_emptied:
            self._empty_filter_drivers()
        if args[0] in _DIFF_COMMANDS:
            args = [args[0], "--no-ext-diff", "--no-textconv", *args[1:]]
        overrides = [part for key, value in PROGRAM_OVERRIDES for part in ("-c", f"{key}={value}")]
        with subprocess.Popen(
            ["git", "--no-pager", *overrides, *args],
            cwd=self.work_tree,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as proc:
            out, err = self._collect(proc, args[0], limit)
        self._last_exit = proc.returncode
        if proc.returncode in exit_codes:
            return out
        if proc.returncode != 0 and not (limit is not None and len(out) > limit):
            lines = err.decode("utf-8", "replace").strip().splitlines()
            raise GitFailed(f"git {args[0]}: {lines[-1] if lines else f'exit {proc.returncode}'}")
        return out

    def _collect(self, proc: subprocess.Popen[bytes], command: str, limit: int | None) -> tuple[bytes, bytes]:
        if limit is not None:
            assert proc.stdout is not None and proc.stderr is not None
            out = proc.stdout.read(limit + 1)  # a diff may be huge: read what is kept, then stop git
            if len(out) > limit:
                proc.kill()
            proc.wait(timeout=GIT_TIMEOUT_SECONDS)
            return out, proc.stderr.read(_MAX_ERROR_BYTES)
        deadline = time.monotonic() + GIT_TIMEOUT_SECONDS
        while True:
            try:
                # Asked again after a timeout, communicate loses nothing it has read.
                return proc.communicate(timeout=STOP_CHECK_SECONDS if self.stop else GIT_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                if self.stop is not None and self.stop():
                    _kill(proc)
                    raise GitStopped(f"git {command} stopped: the job's cancel was requested") from None
                if time.monotonic() >= deadline:
                    _kill(proc)
                    raise GitFailed(f"git {command} took longer than {GIT_TIMEOUT_SECONDS:.0f}s") from None

    def _empty_filter_drivers(self) -> None:
        """Give every `filter.<x>` driver of the repository's configuration nothing to run."""
        self._drivers_emptied = True  # first: listing them is itself a git command
        try:
            listed = self.run_bytes("config", "--null", "--name-only", "--get-regexp", r"^filter\.")
        except GitFailed:
            listed = b""  # exit 1: no filter is configured
        names = set()
        for key in listed.decode("utf-8", "surrogateescape").split("\0"):
            section, _, rest = key.partition(".")
            name, dot, _ = rest.rpartition(".")
            if section == "filter" and dot:
                names.add(name)
        settings = [(f"filter.{name}.{key}", "") for name in sorted(names) for key in _FILTER_KEYS]
        settings += [(f"filter.{name}.required", "false") for name in sorted(names)]
        count = int(self.env.get("GIT_CONFIG_COUNT", "0"))
        for number, (key, value) in enumerate(settings, start=count):
            self.env[f"GIT_CONFIG_KEY_{number}"] = key
            self.env[f"GIT_CONFIG_VALUE_{number}"] = value
        self.env["GIT_CONFIG_COUNT"] = str(count + len(settings))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill our own git child (unreaped, so its pid is still its own) and reap it."""
    proc.kill()
    proc.communicate()


def repository_paths(folder: str) -> RepositoryPaths | None:
    """Where the repository of the working tree holding `folder` keeps its files; None when
    `folder` is in no working tree (or a bare repository)."""
    if not may_be_in_a_repository(folder):
        return None  # no git run for a folder outside any repository (most of a job's cost)
    try:
        lines = (
            Git(folder)
            .run(
                "rev-parse",
                "--path-format=absolute",
                "--show-toplevel",
                "--git-common-dir",
                "--git-path",
                "index",
                "--git-path",
                "info/exclude",
                "--show-object-format",
            )
            .splitlines()
        )
    except (GitFailed, OSError):
        return None
    if len(lines) != 5 or not lines[0]:
        return None
    return RepositoryPaths(*lines)


def may_be_in_a_repository(folder: str) -> bool:
    """Whether git could find a working tree from `folder`: a `.git` in it or a parent. (git
    is never told where by the caller's environment: no `GIT_DIR` reaches it.)"""
    path = os.path.realpath(folder)
    while not os.path.lexists(os.path.join(path, ".git")):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return True

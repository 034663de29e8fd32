"""Build a demo: a fresh temporary store, a sample project, the simulated codex as `codex`,
and a script of jobs started one after another through the real store and runner."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from jobstore import Git, GitFailed, JobStore, JobStoreError, ReviewOptions, RunOptions
from tui.demo import scenarios

# The folder holding the `tui` package, for the simulated codex's wrapper script.
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class DemoEnvironment:
    root: Path
    store_root: Path
    project: Path
    codex_bin: Path


def prepare(base: Path | None = None, *, speed: float = 1.0) -> DemoEnvironment:
    """A temporary folder holding the store, a small git project and the simulated codex
    (`speed` scales its pauses). Pass `codex_bin` on to the store: nothing is set in the
    environment."""
    root = Path(tempfile.mkdtemp(prefix="codex-tui-demo-", dir=base))
    project = root / "demo-project"
    (project / "src").mkdir(parents=True)
    (project / "README.md").write_text("# demo-project\n\nA small CLI used by the codex-tui demo.\n")
    (project / "src" / "cli.py").write_text("import argparse\n\nparser = argparse.ArgumentParser()\n")
    (project / "app.py").write_text("def add(a, b):\n    return a + b\n")
    _git(project, "init", "-q", "-b", "main")
    _git(project, "add", ".")
    _git(project, "commit", "-q", "-m", "demo project")
    (project / "app.py").write_text("def add(a, b):\n    return a - b\n")  # something to review
    bin_dir = root / "bin"
    bin_dir.mkdir()
    codex = bin_dir / "codex"
    codex.write_text(
        f"#!{sys.executable}\n"
        "# SIMULATED codex for the codex-tui demo: plays scripted runs, asks no model.\n"
        f"import sys\nsys.path.insert(0, {_PACKAGE_PARENT!r})\n"
        f"from tui.demo.simulated_codex import main\nsys.exit(main(speed={float(speed)!r}))\n"
    )
    codex.chmod(codex.stat().st_mode | stat.S_IXUSR)
    return DemoEnvironment(root, root / "store", project, codex)


def _git(cwd: Path, *args: str) -> None:
    """git for the demo's own project, run the project's one safe way (no configured program)."""
    author = {
        "GIT_AUTHOR_NAME": "demo",
        "GIT_AUTHOR_EMAIL": "demo@example.invalid",
        "GIT_COMMITTER_NAME": "demo",
        "GIT_COMMITTER_EMAIL": "demo@example.invalid",
    }
    with contextlib.suppress(GitFailed, OSError):  # the demo runs without a repository too
        Git(str(cwd), env=author).run(*args)


def play(store: JobStore, project: Path, *, pace: float = 1.0, stop: threading.Event | None = None) -> None:
    """Start the demo's jobs a moment apart, then continue the explained session once its
    first turn has ended. Blocking: run it in a thread."""
    stop = stop or threading.Event()
    cwd = str(project)

    def start(prompt: str, **kw: object) -> str | None:
        try:
            return store.start(RunOptions.checked(prompt=prompt, cwd=cwd, **kw)).job_id
        except JobStoreError:
            return None

    explain = start(scenarios.EXPLAIN, approval_policy="suggest")
    for prompt in (scenarios.FEATURE, scenarios.MIGRATION, scenarios.FIX_TESTS, scenarios.AUDIT):
        if stop.wait(1.5 * pace):
            return
        # The feature is built in a worktree of its own: its Diff tab shows the change, `a` applies it.
        start(prompt, worktree=prompt == scenarios.FEATURE)
    if stop.wait(1.0 * pace):
        return
    try:
        store.start_review(ReviewOptions.checked(cwd=cwd, uncommitted=True))
    except JobStoreError:
        pass
    if explain is None:
        return
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        record = store.get(explain)
        if record.is_terminal:
            if record.session_id:
                start(scenarios.FOLLOW_UP, session_id=record.session_id, approval_policy="suggest")
            return
        stop.wait(0.3)


# A closed terminal (SIGHUP) or a polite kill (SIGTERM) ends the demo as `q` does.
ENDING_SIGNALS = (signal.SIGHUP, signal.SIGTERM)


@contextlib.contextmanager
def quit_on_signals(quit_app: Callable[[], object]) -> Iterator[None]:
    """While inside, SIGHUP and SIGTERM call `quit_app` on the app's event loop, so the app
    returns from `run()` and the caller's cleanup runs; outside the loop (before the app
    runs, or after) they unwind the caller with SystemExit, which runs it too. Python's
    default for both would end the process at once, leaving the demo's jobs and files."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(quit_app)

    previous = {sig: signal.signal(sig, on_signal) for sig in ENDING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def shutdown(store: JobStore, env: DemoEnvironment, stop: threading.Event) -> None:
    """End the demo: stop starting jobs, cancel what still runs, remove the temporary folder."""
    import shutil

    stop.set()
    for sig in ENDING_SIGNALS:  # a second signal must not cut the cleanup short
        signal.signal(sig, signal.SIG_IGN)
    for entry in store.list_jobs(limit=100):
        if not entry.is_terminal and entry.status != "unreadable":
            try:
                store.cancel(entry.job_id, wait=5)
            except JobStoreError:
                pass
    shutil.rmtree(env.root, ignore_errors=True)

"""`codex-tui --demo` ended by a closed terminal (SIGHUP) or SIGTERM cleans up as on `q`:
its hour-long job is cancelled, nothing of it runs on, and its temporary store is removed."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers import wait_until

REPO = Path(__file__).resolve().parents[2]


def _tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def tmux_socket() -> Iterator[str]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/test installs it)")
    socket = f"codex-tui-demo-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # its own server each test
    yield socket
    _tmux(socket, "kill-server")


def processes_in(folder: Path) -> list[psutil.Process]:
    """Live processes working in `folder` or below it (the demo's jobs work in its project)."""
    found = []
    for proc in psutil.process_iter(["cwd", "status"]):
        cwd = proc.info.get("cwd") or ""
        if (cwd == str(folder) or cwd.startswith(f"{folder}/")) and proc.info[
            "status"
        ] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def _hour_long_job(root: Path) -> bool:
    for proc in processes_in(root):
        with contextlib.suppress(psutil.Error):  # it may end (or be a zombie) between two looks
            if "3600" in " ".join(proc.cmdline()):
                return True
    return False


@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM"])
def test_the_demo_cleans_up_when_its_terminal_goes(how: str, tmp_path: Path, tmux_socket: str) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {
        "PYTHONPATH": str(REPO),
        "HOME": os.environ["HOME"],
        "CODEX_HOME": os.environ["CODEX_HOME"],
        "PATH": os.environ["PATH"],
        "TMPDIR": str(temp),  # the demo's temporary folder is made here
        "TERM": "xterm-256color",
    }
    command = shlex.join(["exec", "env", *(f"{k}={v}" for k, v in env.items()), sys.executable, "-m", "tui"])
    command += " --demo --demo-speed 0.05 --no-spinner"
    started = _tmux(
        tmux_socket, "-f", "/dev/null", "new-session", "-d", "-s", "demo", "-x", "160", "-y", "45", command
    )
    assert started.returncode == 0, started.stderr
    pid = int(_tmux(tmux_socket, "display", "-p", "-t", "demo", "#{pane_pid}").stdout)
    tui = psutil.Process(pid)
    root = wait_until(lambda: next(temp.glob("codex-tui-demo-*"), None), timeout=30)
    wait_until(lambda: _hour_long_job(root), timeout=60)

    if how == "SIGHUP":
        _tmux(tmux_socket, "kill-session", "-t", "demo")  # the terminal closes: SIGHUP
    else:
        os.kill(pid, signal.SIGTERM)
    tui.wait(timeout=60)

    assert processes_in(root) == []  # codex's commands (the hour-long sleep) and the simulated codex
    runners = [
        p
        for p in psutil.process_iter(["cmdline"])
        if f"jobstore.runner {root}" in " ".join(p.info["cmdline"] or [])
    ]
    assert runners == []
    assert not root.exists()
    assert list(temp.iterdir()) == []


def test_a_signal_before_the_app_runs_unwinds_with_cleanup(tmp_path: Path) -> None:
    """Outside the app's event loop the handler raises SystemExit, so `finally` still runs."""
    from tui.demo.setup import quit_on_signals

    cleaned = []
    with pytest.raises(SystemExit) as exit_info, quit_on_signals(lambda: None):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted by the handler at once
        finally:
            cleaned.append(True)
    assert cleaned == [True] and exit_info.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

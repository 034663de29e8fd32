"""Fixtures for driving the server with real MCP clients installed from npm into tools/.

The clients (Claude Code's CLI, the MCP Inspector's CLI, mcporter) are pinned in
tools/package.json and installed by `npm ci` in tools/ (`bash scripts/test` does it). Each
client runs with an environment built from scratch: a temporary HOME and XDG folders (so
no user configuration is read or written), Claude Code's switches for telemetry, error
reporting and auto-update turned off, and every proxy variable pointing at a closed port
on 127.0.0.1, so that any HTTP request a client still tried would fail at once on loopback
instead of leaving the machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from jobstore import JobStore
from jobstore.zygote_client import serving_pid
from tests.conftest import stop_everything
from tests.fakes import install_fake_codex
from tests.mcp_server.mcp_helpers import server_command

REPO = Path(__file__).resolve().parents[2]
NODE_BIN = REPO / "tools" / "node_modules" / ".bin"
# Nothing listens on the discard port: a request sent through this proxy fails at once.
CLOSED_LOOPBACK_PROXY = "http://127.0.0.1:9"
CLIENT_TIMEOUT_SECONDS = 45.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clients: runs a real MCP client from tools/node_modules against the server"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.clients)


def client_binary(name: str, package: str) -> Path:
    """`tools/node_modules/.bin/<name>`, or fail (never skip) saying how to install it."""
    path = NODE_BIN / name
    if not path.exists():
        pytest.fail(
            f"the MCP client {name!r} (npm package {package}) is not installed at {path}: run "
            "`bash scripts/test`, or `npm ci` in tools/, before the client tests"
        )
    return path


@dataclass
class Completed:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"command: {self.args}\nexit code: {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )

    def ok(self) -> Completed:
        assert self.returncode == 0, f"the client failed\n{self.describe()}"
        return self


def run_client(
    args: Sequence[str | Path],
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = CLIENT_TIMEOUT_SECONDS,
) -> Completed:
    """Run a client in a session of its own; on timeout kill its whole process group and fail."""
    argv = [str(a) for a in args]
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stdout, stderr = proc.communicate()
        pytest.fail(
            f"the client did not finish within {timeout:.0f} s\n"
            + Completed(argv, -1, stdout, stderr).describe()
        )
    return Completed(argv, proc.returncode, stdout, stderr)


@dataclass
class ClientWorld:
    """Everything one client test works with; all of it under the test's tmp_path."""

    home: Path
    project: Path
    store_root: Path
    fake_codex: Path
    server: str
    server_log: Path
    env: dict[str, str]

    @property
    def server_env(self) -> dict[str, str]:
        """The variables the client must pass on to the server."""
        return {
            "CODEX_ASYNC_HOME": str(self.store_root),
            "CODEX_BIN": str(self.fake_codex),
            "CODEX_ASYNC_LOG_FILE": str(self.server_log),
        }

    def env_pairs(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.server_env.items()]


def leftover_processes(markers: Sequence[str]) -> list[psutil.Process]:
    """Processes (other than us) whose environment mentions one of this test's folders."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            environ = proc.environ()
        except (psutil.Error, OSError):
            continue
        values = (environ.get("HOME", ""), environ.get("CODEX_ASYNC_HOME", ""))
        if any(value.startswith(marker) for value in values for marker in markers):
            found.append(proc)
    return found


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ClientWorld]:
    home = tmp_path / "home"
    project = tmp_path / "project"
    store_root = tmp_path / "store"
    for folder in (home, project):
        folder.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(home / ".codex"),  # codex's own state stays inside the test too
        "USER": os.environ.get("USER", "tester"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp_path),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        # Claude Code: no telemetry, error reports, update checks or other non-essential traffic.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "NO_COLOR": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = CLOSED_LOOPBACK_PROXY
    built = ClientWorld(
        home=home,
        project=project,
        store_root=store_root,
        fake_codex=install_fake_codex(tmp_path / "bin"),
        server=server_command(),
        server_log=tmp_path / "server.log",
        env=env,
    )
    yield built

    # Leave nothing behind: jobs still running are cancelled, and no client, server or job
    # process of this test may outlive it.
    if store_root.exists():
        stop_everything(JobStore(store_root, codex_bin=str(built.fake_codex), cancel_grace=2.0))
    # The store's zygote outlives the servers that kept it warm by design (it exits once idle
    # for a minute): stopped here, like the jobs.
    zygote = serving_pid(store_root)
    if zygote is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(zygote, signal.SIGKILL)
    markers = [str(home), str(store_root)]
    deadline = time.monotonic() + 10
    while (left := leftover_processes(markers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        described = []
        for proc in left:
            try:
                described.append(f"{proc.pid}: {' '.join(proc.cmdline())}")
                proc.kill()
            except psutil.Error:
                pass
        pytest.fail("processes outlived the test (now killed):\n" + "\n".join(described))


class Terminal:
    """One tmux server on a private socket, running one command in a 200x50 window."""

    def __init__(self, socket: Path, env: dict[str, str]) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.fail("tmux is not installed: the interactive Claude Code test needs it (apt install tmux)")
        self.tmux = tmux
        self.socket = socket
        self.env = env

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [self.tmux, "-S", str(self.socket), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout

    def start(self, argv: list[str], cwd: Path) -> None:
        self.run("new-session", "-d", "-s", "claude", "-x", "200", "-y", "50", "-c", str(cwd), *argv)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "claude")

    def press(self, key: str) -> None:
        """A key as a person presses it (tmux key names: Right, Space, Down, Enter)."""
        self.run("send-keys", "-t", "claude", key)

    def close(self) -> None:
        self.run("kill-server")


@pytest.fixture
def terminal(world: ClientWorld, tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "tmux.sock", world.env)
    yield term
    term.close()

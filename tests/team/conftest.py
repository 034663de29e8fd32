"""The team's fixtures: a Docket on memory:// (unit tests), a real redis-server on a free
127.0.0.1 port with AOF on in a tmp folder (integration tests), and a codex that logs its starts."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from docket import Docket

from team.claim import Claim, read_claim
from team.keys import RedisClient, TeamKeys


@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every codex start (and probe) of every job of the test, one JSON argv a line."""
    path = tmp_path / "codex-argv.jsonl"
    monkeypatch.setenv("FAKE_CODEX_ARGV_LOG", str(path))
    return path


def codex_runs(argv_log: Path, marker: str) -> list[list[str]]:
    """The logged codex runs whose prompt carries `marker` (probes have no prompt)."""
    if not argv_log.exists():
        return []
    runs = [json.loads(line) for line in argv_log.read_text().splitlines() if line.strip()]
    return [argv for argv in runs if argv[:1] == ["exec"] and any(marker in part for part in argv)]


async def started_claim(redis: RedisClient, team_job_id: str, timeout: float = 30) -> Claim:
    """The job's claim once its owner has started it (named the local job)."""
    deadline = time.monotonic() + timeout
    while (claim := await read_claim(redis, TeamKeys(), team_job_id)) is None or claim.job_id is None:
        assert time.monotonic() < deadline, f"{team_job_id} was never started"
        await asyncio.sleep(0.02)
    return claim


@pytest.fixture
async def memory_docket() -> AsyncIterator[Docket]:
    async with Docket(name=TeamKeys().docket_name, url=f"memory://{uuid.uuid4().hex}") as docket:
        yield docket


@pytest.fixture
async def memory_redis(memory_docket: Docket) -> AsyncIterator[RedisClient]:
    async with memory_docket.redis() as redis:
        yield redis


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A redis-server of the test's own: 127.0.0.1 only, a free port, AOF on, in a tmp folder."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not on PATH (scripts/test installs it: apt-get install redis-server)")
    folder = tmp_path / "redis"
    folder.mkdir()
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
        + ["--appendonly", "yes", "--save", "", "--protected-mode", "yes", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"redis-server did not start on 127.0.0.1:{port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

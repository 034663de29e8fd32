"""The team's Redis as SECURITY.md says to run it, for real: an ACL user restricted to the team's
keys and channels with the default user off, and TLS with a CA of the test's own. A worker and
enqueue work through them; a wrong password or an unverifiable server is one clear line, no
traceback, and changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from docket import Docket
from redis import Redis as SyncRedis
from redis.exceptions import NoPermissionError

from jobstore import InvalidInput, RunOptions
from team.keys import TeamKeys
from team.queue import enqueue
from team.settings import TeamRedisError, redis_errors_explained
from tests.team.conftest import RedisServer, TlsFiles, codex_runs
from tests.team.test_team_redis import Ends, Machine

KEYS = TeamKeys()
HOST = "machine-acl"
PASSWORD = "s3cret-team-pass"
# SECURITY.md's rules, as given to the team's user (one `&...:cancel:*` per machine: Redis
# matches a pattern subscription's pattern literally against the allowed ones).
TEAM_USER_RULES = (
    f"on >{PASSWORD} ~codex-async:* &codex-async:* &codex-async:host:{HOST}:cancel:* "
    "+@all -@admin -@dangerous"
)


@pytest.fixture
def acl_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", config=["user default off", f"user team {TEAM_USER_RULES}"])
    yield server
    server.stop()


def url_of(server: RedisServer, credentials: str) -> str:
    return f"redis://{credentials}@127.0.0.1:{server.port}/0"


def all_keys(url: str) -> list[bytes]:
    with SyncRedis.from_url(url) as redis:
        return sorted(redis.scan_iter(match="*", count=1000))


def worker_refused(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    store = tmp_path / "refused-store"
    argv = [sys.executable, "-m", "team", "--store", str(store), "worker", "--redis", url, "--host-id", HOST]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not store.exists()  # refused before the store was made
    return done


async def run_jobs_on(machine: Machine, url: str, marker: str, count: int, workdir: Path) -> None:
    """Enqueue `count` jobs through `url`; all of them end done on `machine` (stopped after)."""
    try:
        async with Docket(name=KEYS.docket_name, url=url) as docket:
            ids = [
                await enqueue(docket, RunOptions.checked(prompt=f"{marker}-{n}.", cwd=str(workdir)))
                for n in range(count)
            ]
            ends = await Ends().wait(url, ids, timeout=60)
    finally:
        machine.stop()
    assert set(ends.values()) == {"done"}, machine.log.read_text()


async def test_an_acl_user_restricted_to_the_team_runs_the_team(
    tmp_path: Path, acl_server: RedisServer, fake_codex: Path, workdir: Path, argv_log: Path
) -> None:
    url = url_of(acl_server, f"team:{PASSWORD}")
    machine = Machine(tmp_path, HOST, url, fake_codex, repos=[workdir])
    await run_jobs_on(machine, url, "acl", 3, workdir)
    assert "NOPERM" not in machine.log.read_text()
    assert "NOPERM" not in (machine.store.root / "team-keeper.log").read_text()
    for n in range(3):
        assert len(codex_runs(argv_log, f"acl-{n}.")) == 1
    with SyncRedis.from_url(url) as redis:  # restricted: nothing outside the team's names
        with pytest.raises(NoPermissionError):
            redis.set("someone-else:key", "x")
        with pytest.raises(NoPermissionError):
            redis.flushall()


async def test_a_wrong_password_is_one_clear_line_and_changes_nothing(
    tmp_path: Path, acl_server: RedisServer, workdir: Path
) -> None:
    right = url_of(acl_server, f"team:{PASSWORD}")
    with SyncRedis.from_url(right) as redis:
        redis.set("codex-async:team-limit", "3")
    before = all_keys(right)
    for credentials in ("team:wrong-pass", "default:"):
        done = worker_refused(tmp_path, url_of(acl_server, credentials))
        assert "refused the credentials" in done.stderr and PASSWORD not in done.stderr
    no_user = worker_refused(tmp_path, f"redis://127.0.0.1:{acl_server.port}/0")  # the default user: off
    assert "refused the credentials" in no_user.stderr
    wrong = url_of(acl_server, "team:wrong-pass")
    with (
        pytest.raises(TeamRedisError, match="refused the credentials") as refused,
        redis_errors_explained(wrong),
    ):
        async with Docket(name=KEYS.docket_name, url=wrong) as docket:
            await enqueue(docket, RunOptions.checked(prompt="never-1.", cwd=str(workdir)))
    assert "wrong-pass" not in str(refused.value)
    assert all_keys(right) == before


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", tls=TlsFiles.make(tmp_path / "tls"))
    yield server
    server.stop()


async def test_tls_with_the_teams_ca(
    tmp_path: Path, tls_server: RedisServer, fake_codex: Path, workdir: Path, argv_log: Path
) -> None:
    url = tls_server.url
    assert url.startswith("rediss://127.0.0.1:") and "ssl_ca_certs=" in url
    machine = Machine(tmp_path, "machine-tls", url, fake_codex, repos=[workdir])
    await run_jobs_on(machine, url, "tls", 2, workdir)
    for n in range(2):
        assert len(codex_runs(argv_log, f"tls-{n}.")) == 1
    # A server whose certificate this machine cannot verify (no CA given): refused, one line.
    unverified = worker_refused(tmp_path, f"rediss://127.0.0.1:{tls_server.port}/0")
    assert "cannot use Redis at rediss://127.0.0.1" in unverified.stderr
    # Plain redis:// beyond this machine is refused before any connection is tried.
    with pytest.raises(InvalidInput, match="use rediss://"):
        await enqueue(
            Docket(name=KEYS.docket_name, url="redis://10.9.8.7:6379/0"),
            RunOptions.checked(prompt="plain-1.", cwd=str(workdir)),
        )

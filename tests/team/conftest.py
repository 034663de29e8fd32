"""The team's fixtures: a Docket on memory:// (unit tests), a real redis-server on a free
127.0.0.1 port with AOF on in a tmp folder (integration tests), and a codex that logs its starts."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
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


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate it signed, for 127.0.0.1 (PEM files)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, folder: Path) -> TlsFiles:
        folder.mkdir(exist_ok=True)
        now = datetime.datetime.now(datetime.UTC)
        span = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(hours=1))

        def certificate(
            subject: str, key: ec.EllipticCurvePrivateKey, issuer: str
        ) -> x509.CertificateBuilder:
            return (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(span[0])
                .not_valid_after(span[1])
            )

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            certificate("test team CA", ca_key, "test team CA")
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        loopback = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        server = (
            certificate("127.0.0.1", server_key, "test team CA")
            .add_extension(loopback, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files = cls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
        files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        files.cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return files


class RedisServer:
    """A redis-server of the test's own: 127.0.0.1 only, a free port, AOF on, in a tmp folder;
    killed and started again on the same port and folder (its AOF replayed) when a test says.
    `config`: lines of a config file (e.g. ACL users); `tls`: TLS only, no plain port."""

    def __init__(self, folder: Path, *, config: Sequence[str] = (), tls: TlsFiles | None = None) -> None:
        server = shutil.which("redis-server")
        if server is None:
            pytest.fail(
                "redis-server is not on PATH (scripts/test installs it: apt-get install redis-server)"
            )
        folder.mkdir()
        self.port = _free_port()
        self.tls = tls
        self.argv = [server]
        if config:
            (folder / "redis.conf").write_text("".join(f"{line}\n" for line in config))
            self.argv.append(str(folder / "redis.conf"))
        if tls is None:
            self.url = f"redis://127.0.0.1:{self.port}/0"
            self.argv += ["--port", str(self.port)]
        else:
            self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={tls.ca}"
            self.argv += ["--port", "0", "--tls-port", str(self.port), "--tls-auth-clients", "no"]
            self.argv += ["--tls-cert-file", str(tls.cert), "--tls-key-file", str(tls.key)]
            self.argv += ["--tls-ca-cert-file", str(tls.ca)]
        self.argv += ["--bind", "127.0.0.1", "--dir", str(folder)]
        self.argv += ["--appendonly", "yes", "--save", "", "--protected-mode", "yes", "--daemonize", "no"]
        self.process = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline or self.process.poll() is not None:
                pytest.fail(f"redis-server did not start on 127.0.0.1:{self.port}")
            time.sleep(0.05)
        return self.process

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as plain:
                sock = plain
                if self.tls is not None:
                    context = ssl.create_default_context(cafile=str(self.tls.ca))
                    sock = context.wrap_socket(plain, server_hostname="127.0.0.1")
                sock.sendall(b"PING\r\n")
                # NOAUTH: up, with its default user off (an ACL test's server).
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync (what AOF `everysec` had written survives)."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def machine_a(
    tmp_path: Path, redis_url: str, fake_codex: Path, argv_log: Path, workdir: Path
) -> Iterator[Any]:
    """One worker process with a store of its own ("machine-a"), serving `workdir`: the jobs
    started there go to it."""
    from tests.team.test_team_redis import Machine  # the tests' stand-in for a machine

    machine = Machine(tmp_path, "machine-a", redis_url, fake_codex, repos=[workdir])
    yield machine
    machine.stop()

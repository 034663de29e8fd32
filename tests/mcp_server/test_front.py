"""The stdio front (mcp_server.front) and its precomputed answers (mcp_server.handshake).

The answers to `initialize` and `server/discover` are pinned against FastMCP's own, from
the real server (create_server, served in-process by FastMCP's stdio transport), for every
protocol version the MCP SDK speaks, with and without the client's capabilities (the tasks
extension among them): an SDK upgrade that changes an answer fails here. Over real stdio,
a session opened by the front's answer goes on as FastMCP's (tools/list, calls, pipelined
requests, both protocol eras), and a first message the front does not answer gets exactly
what FastMCP alone would send.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, KNOWN_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from jobstore import JobStore
from mcp_server import __version__, handshake
from mcp_server.front import BorrowedTextWrapper, WireWriter, wants_to_serve
from mcp_server.server import create_server
from mcp_server.settings import ServerSettings
from tests.mcp_server.mcp_helpers import call_ok, server_command, server_env, stdio_session
from tests.mcp_server.test_tools_list import recorded_tools
from tests.mcp_server.tools_list import LISTED_FIELDS

TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
CLIENT_CAPABILITIES: dict[str, dict[str, Any]] = {
    "none": {},
    "tasks extension": {"extensions": {TASKS_EXTENSION: {}}},
    "everything": {
        "roots": {"listChanged": True},
        "sampling": {"context": {}, "tools": {}},
        "elicitation": {"form": {}, "url": {}},
        "experimental": {"x-custom": {"on": 1}},
        "extensions": {TASKS_EXTENSION: {}, "io.modelcontextprotocol/ui": {"mimeTypes": ["text/html"]}},
        "tasks": {
            "list": {},
            "cancel": {},
            "requests": {"sampling": {"createMessage": {}}, "elicitation": {"create": {}}},
        },
        "x-unknown": [1, 2],
    },
    "nulls": {"roots": None, "sampling": None, "tasks": {"list": None}},
}
CLIENT_INFOS: dict[str, dict[str, Any]] = {
    "plain": {"name": "client", "version": "1.0"},
    "described": {
        "name": "claude-code",
        "title": "Claude Code",
        "version": "2.1.332",
        "description": "ünïcode \u2028 and a \x01",
        "websiteUrl": "https://example.com",
    },
}
# Versions the SDK echoes, one it answers with its newest, and one it does not know.
REQUESTED_VERSIONS = [*KNOWN_PROTOCOL_VERSIONS, "1999-01-01"]


def initialize_line(
    request_id: Any = 1,
    version: str = "2025-06-18",
    capabilities: dict[str, Any] | None = None,
    client_info: dict[str, Any] | None = None,
) -> bytes:
    params = {
        "protocolVersion": version,
        "capabilities": {} if capabilities is None else capabilities,
        "clientInfo": client_info or CLIENT_INFOS["plain"],
    }
    return handshake.wire_json({"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params})


def message(request_id: int | None, method: str, params: dict[str, Any] | None = None) -> bytes:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        body["id"] = request_id
    if params is not None:
        body["params"] = params
    return handshake.wire_json(body)


class HeldOpenInput(io.RawIOBase):
    """A client's bytes, then EOF only once the server has answered enough (EOF ends a server
    that is still working on the last requests)."""

    def __init__(self, client_bytes: bytes, answered: threading.Event) -> None:
        super().__init__()
        self._unread = client_bytes
        self._answered = answered

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._unread:
            assert self._answered.wait(20), "the server never answered everything"
            return 0
        size = min(len(buffer), len(self._unread))
        buffer[:size] = self._unread[:size]
        self._unread = self._unread[size:]
        return size


class CountedOutput(io.RawIOBase):
    def __init__(self, answers: int, answered: threading.Event) -> None:
        super().__init__()
        self.data = b""
        self._answers = answers
        self._answered = answered

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.data += bytes(data)
        if self.data.count(b"\n") >= self._answers:
            self._answered.set()
        return len(data)


async def fastmcp_output(
    store: JobStore, client_bytes: bytes, monkeypatch: pytest.MonkeyPatch, answers: int = 1
) -> bytes:
    """What FastMCP alone (the real server, no front) writes to stdout for `client_bytes` on
    stdin, which ends once it has written `answers` lines."""
    answered = threading.Event()
    server_out = CountedOutput(answers, answered)
    server_in = HeldOpenInput(client_bytes, answered)
    # FastMCP's stdio transport serves sys.stdin.buffer / sys.stdout.buffer in place when they
    # are not the process's descriptors (as under the front).
    monkeypatch.setattr(sys, "stdin", BorrowedTextWrapper(io.BufferedReader(server_in), encoding="utf-8"))
    monkeypatch.setattr(sys, "stdout", BorrowedTextWrapper(io.BufferedWriter(server_out), encoding="utf-8"))
    await create_server(store, ServerSettings()).run_stdio_async(show_banner=False)
    sys.stdout.flush()
    return server_out.data


def test_the_handshake_versions_are_the_sdks() -> None:
    assert handshake.HANDSHAKE_PROTOCOL_VERSIONS == HANDSHAKE_PROTOCOL_VERSIONS


@pytest.mark.parametrize("capabilities", CLIENT_CAPABILITIES)
@pytest.mark.parametrize("version", REQUESTED_VERSIONS)
async def test_the_answer_is_fastmcps_for_every_protocol_version(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, version: str, capabilities: str
) -> None:
    line = initialize_line(1, version, CLIENT_CAPABILITIES[capabilities])
    answered = handshake.opening_answer(line, __version__)
    assert answered is not None
    assert answered == (1, await fastmcp_output(store, line, monkeypatch))  # to the byte


@pytest.mark.parametrize("request_id", [0, 7, -3, 2**53 - 1, "abc", "", 'ünï\u2028\x01"\\/'])
@pytest.mark.parametrize("client_info", CLIENT_INFOS)
async def test_the_answer_is_fastmcps_for_any_id_and_client(
    store: JobStore, monkeypatch: pytest.MonkeyPatch, request_id: int | str, client_info: str
) -> None:
    line = initialize_line(
        request_id, "2025-11-25", CLIENT_CAPABILITIES["everything"], CLIENT_INFOS[client_info]
    )
    answered = handshake.opening_answer(line, __version__)
    assert answered == (request_id, await fastmcp_output(store, line, monkeypatch))


def discover_line(
    request_id: Any = 0,
    capabilities: dict[str, Any] | None = None,
    client_info: dict[str, Any] | None = None,
    **meta: Any,
) -> bytes:
    """`server/discover` with the 2026-07-28 envelope, as Claude Code opens."""
    envelope = {
        handshake.PROTOCOL_VERSION_META_KEY: "2026-07-28",
        handshake.CLIENT_INFO_META_KEY: client_info or CLIENT_INFOS["plain"],
        handshake.CLIENT_CAPABILITIES_META_KEY: {} if capabilities is None else capabilities,
        **meta,
    }
    request = {"jsonrpc": "2.0", "id": request_id, "method": "server/discover", "params": {"_meta": envelope}}
    return handshake.wire_json(request)


def test_the_modern_versions_are_the_sdks() -> None:
    assert handshake.MODERN_PROTOCOL_VERSIONS == MODERN_PROTOCOL_VERSIONS


@pytest.mark.parametrize("request_id", [0, "d-1"])
@pytest.mark.parametrize("client_info", CLIENT_INFOS)
@pytest.mark.parametrize("capabilities", CLIENT_CAPABILITIES)
async def test_the_discover_answer_is_fastmcps(
    store: JobStore,
    monkeypatch: pytest.MonkeyPatch,
    capabilities: str,
    client_info: str,
    request_id: int | str,
) -> None:
    line = discover_line(request_id, CLIENT_CAPABILITIES[capabilities], CLIENT_INFOS[client_info])
    answered = handshake.opening_answer(line, __version__)
    assert answered == (request_id, await fastmcp_output(store, line, monkeypatch))


def plain_initialize() -> dict[str, Any]:
    return json.loads(initialize_line())  # type: ignore[no-any-return]


def changed(path: list[str], value: Any) -> bytes:
    request = plain_initialize()
    place = request
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    return handshake.wire_json(request)


def removed(path: list[str]) -> bytes:
    request = plain_initialize()
    place = request
    for key in path[:-1]:
        place = place[key]
    del place[path[-1]]
    return handshake.wire_json(request)


LEFT_TO_FASTMCP = {
    "not json": b"garbage\n",
    "not an object": b"[1, 2]\n",
    "a notification": message(None, "notifications/initialized"),
    "another method": message(1, "tools/list"),
    "NaN inside": initialize_line().replace(b'"1.0"', b"NaN"),
    "a lone surrogate": initialize_line().replace(b'"client"', b'"\\ud800"'),
    "a carriage return inside": initialize_line().replace(b",", b",\r", 1),
    "jsonrpc 1.0": changed(["jsonrpc"], "1.0"),
    "a float id": changed(["id"], 1.0),
    "a boolean id": changed(["id"], True),
    "a null id": changed(["id"], None),
    "a huge id": changed(["id"], 2**70),
    "an extra member": changed(["extra"], 1),
    "no params": removed(["params"]),
    "params _meta": changed(["params", "_meta"], {"progressToken": 1}),
    "no protocol version": removed(["params", "protocolVersion"]),
    "a numeric protocol version": changed(["params", "protocolVersion"], 2025),
    "no capabilities": removed(["params", "capabilities"]),
    "null capabilities": changed(["params", "capabilities"], None),
    "a string roots.listChanged": changed(["params", "capabilities", "roots"], {"listChanged": "yes"}),
    "a list for sampling": changed(["params", "capabilities", "sampling"], []),
    "an extension that is not an object": changed(["params", "capabilities", "extensions"], {"x": 1}),
    "tasks requests not objects": changed(["params", "capabilities", "tasks"], {"requests": {"sampling": 1}}),
    "no clientInfo": removed(["params", "clientInfo"]),
    "no client version": removed(["params", "clientInfo", "version"]),
    "client icons": changed(["params", "clientInfo", "icons"], [{"src": "https://example.com/i.png"}]),
    "a numeric client title": changed(["params", "clientInfo", "title"], 3),
    "discover at an unknown version": discover_line().replace(b"2026-07-28", b"2099-01-01"),
    "discover with another _meta key": discover_line(progressToken=1),
    "discover without client info": discover_line().replace(b'"io.modelcontextprotocol/clientInfo"', b'"x"'),
    "discover without the envelope": message(0, "server/discover", {}),
    "discover with capabilities that are not objects": discover_line(capabilities={"roots": []}),
}


@pytest.mark.parametrize("line", LEFT_TO_FASTMCP.values(), ids=LEFT_TO_FASTMCP)
def test_anything_but_a_plain_initialize_is_left_to_fastmcp(line: bytes) -> None:
    assert handshake.opening_answer(line, __version__) is None


def test_a_line_ending_in_crlf_is_answered() -> None:
    assert handshake.opening_answer(initialize_line().rstrip(b"\n") + b"\r\n", __version__) is not None


class RecordingWriter(WireWriter):
    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        super().__init__(write_end)
        self.read_end = read_end

    def written(self) -> bytes:
        os.close(self._fd)
        with os.fdopen(self.read_end, "rb") as pipe:
            return pipe.read()


def test_the_writer_drops_fastmcps_duplicate_answer_only() -> None:
    writer = RecordingWriter()
    front_answer = handshake.wire_json({"jsonrpc": "2.0", "id": 1, "result": {"a": 1}})
    writer.send_front_answer(1, front_answer)
    notification = message(None, "notifications/message", {"level": "info"})
    writer.write(notification[:5])
    writer.write(notification[5:] + front_answer[:10])  # FastMCP's copy comes in pieces
    writer.write(front_answer[10:] + b'{"jsonrpc":"2.0","id":1,')
    writer.write(b'"result":{}}\n')
    assert writer.written() == front_answer + notification + b'{"jsonrpc":"2.0","id":1,"result":{}}\n'


def test_a_different_duplicate_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    writer = RecordingWriter()
    writer.send_front_answer("x", handshake.wire_json({"jsonrpc": "2.0", "id": "x", "result": {"a": 1}}))
    with caplog.at_level(logging.ERROR):
        writer.write(handshake.wire_json({"jsonrpc": "2.0", "id": "x", "result": {"a": 2}}))
    assert writer.written().count(b"\n") == 1
    assert "differs from FastMCP's" in caplog.text


@pytest.mark.parametrize(
    ("argv", "serves"),
    [
        ([], True),
        (["--store", "/tmp/x", "--log-level=debug"], True),
        (["--store", "--help-me"], True),
        (["--help"], False),
        (["-h"], False),
        (["--vers"], False),
        (["--store", "/x", "--version"], False),
    ],
)
def test_the_front_starts_only_to_serve(argv: list[str], serves: bool) -> None:
    assert wants_to_serve(argv) is serves


# ---------------------------------------------------------------- over real stdio


@pytest.fixture
def env(store: JobStore, fake_codex: Path, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "server-home"
    (home / ".codex").mkdir(parents=True)
    return server_env(
        store.root,
        fake_codex,
        HOME=str(home),
        CODEX_HOME=str(home / ".codex"),
        CODEX_ASYNC_LOG_LEVEL="DEBUG",
    )


def serve_over_stdio(env: dict[str, str], client_bytes: bytes, cwd: Path, answers: int) -> tuple[bytes, str]:
    """The server's stdout and stderr for `client_bytes` written at once, stdin closed after
    `answers` lines came back."""
    with subprocess.Popen(
        [server_command()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(client_bytes)
        server.stdin.flush()
        lines = [server.stdout.readline() for _ in range(answers)]
        rest, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr.decode()
    return b"".join(lines) + rest, stderr.decode()


def listed(answer: dict[str, Any]) -> list[dict[str, Any]]:
    tools = answer["result"]["tools"]
    return [{field: tool[field] for field in LISTED_FIELDS if field in tool} for tool in tools]


async def test_a_session_goes_on_after_the_fronts_answer(env: dict[str, str], tmp_path: Path) -> None:
    stderr_path = tmp_path / "server.stderr"
    async with stdio_session(env, stderr_path=stderr_path) as session:
        tools = (await session.list_tools()).tools
        assert [tool.name for tool in tools] == [tool["name"] for tool in recorded_tools()]
        assert (await call_ok(session, "ping"))["ok"] is True
        assert (await call_ok(session, "codex_list"))["jobs"] == []
    assert "the front answered the opening request" in stderr_path.read_text()


@pytest.mark.timeout(120)
async def test_pipelined_requests_are_answered_in_order(
    env: dict[str, str], store: JobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything at once, before any answer: the front answers initialize, FastMCP the rest.
    pipelined = (
        initialize_line(1, "2025-11-25", CLIENT_CAPABILITIES["tasks extension"])
        + message(None, "notifications/initialized")
        + message(2, "tools/list")
        + message(3, "ping")
        + message(4, "tools/call", {"name": "ping", "arguments": {}})
    )
    out, stderr = serve_over_stdio(env, pipelined, tmp_path, answers=4)
    assert "the front answered the opening request" in stderr
    lines = out.splitlines(keepends=True)
    assert [json.loads(line)["id"] for line in lines] == [1, 2, 3, 4]
    expected = (await fastmcp_output(store, pipelined, monkeypatch, answers=4)).splitlines(keepends=True)
    assert lines[0] == expected[0]  # the front's answer, to the byte
    assert listed(json.loads(lines[1])) == recorded_tools()
    assert lines[2] == expected[2]  # the ping (the ping tool below names its server process)
    assert json.loads(lines[3])["result"]["structuredContent"]["ok"] is True


# Each first message, and how many lines FastMCP answers to it and the session after it
# (garbage gets none: the SDK logs it).
FIRST_MESSAGES = {
    "garbage": (b"garbage\n", 2),
    "a discover with another _meta key": (discover_line(progressToken=1), 3),
    "tools/list": (message(1, "tools/list"), 3),
    "ping": (message(1, "ping"), 3),
    "an initialize with icons": (
        changed(["params", "clientInfo", "icons"], [{"src": "https://x.org/i.png"}]),
        3,
    ),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("first", "answers"), FIRST_MESSAGES.values(), ids=FIRST_MESSAGES)
async def test_a_first_message_the_front_leaves_gets_fastmcps_answer(
    env: dict[str, str],
    store: JobStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: bytes,
    answers: int,
) -> None:
    client_bytes = (
        first + initialize_line(9) + message(None, "notifications/initialized") + message(10, "ping")
    )
    expected = await fastmcp_output(store, client_bytes, monkeypatch, answers)
    out, stderr = serve_over_stdio(env, client_bytes, tmp_path, answers)
    assert "the front left the client's first message to FastMCP" in stderr
    assert out == expected


def test_a_client_that_leaves_at_once_ends_the_server(env: dict[str, str], tmp_path: Path) -> None:
    out, _ = serve_over_stdio(env, b"", tmp_path, answers=0)
    assert out == b""


def test_the_version_still_goes_to_stdout(env: dict[str, str]) -> None:
    # No front for --version (nor --help): what they print is stdout's.
    done = subprocess.run([server_command(), "--version"], capture_output=True, env=env, timeout=60)
    assert done.returncode == 0
    assert done.stdout.decode().strip() == f"codex-async-mcp {__version__}"


def enveloped(request_id: int, method: str, params: dict[str, Any] | None = None) -> bytes:
    envelope = json.loads(discover_line())["params"]["_meta"]
    return message(request_id, method, {**(params or {}), "_meta": envelope})


@pytest.mark.timeout(120)
async def test_a_modern_session_goes_on_after_the_fronts_discover_answer(
    env: dict[str, str], store: JobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As Claude Code speaks 2026-07-28: server/discover first, then enveloped requests.
    pipelined = (
        discover_line(0, CLIENT_CAPABILITIES["tasks extension"])
        + enveloped(1, "tools/list")
        + enveloped(2, "tools/call", {"name": "codex_list", "arguments": {}})
        + initialize_line(3)  # refused on a modern connection, as FastMCP refuses it
    )
    out, stderr = serve_over_stdio(env, pipelined, tmp_path, answers=4)
    assert "the front answered the opening request" in stderr
    lines = out.splitlines(keepends=True)
    answers = [json.loads(line) for line in lines]
    assert sorted(answer["id"] for answer in answers) == [0, 1, 2, 3]
    expected = (await fastmcp_output(store, pipelined, monkeypatch, answers=4)).splitlines(keepends=True)
    by_id = {json.loads(line)["id"]: line for line in expected}
    assert lines[0] == by_id[0]  # the front's answer, to the byte
    for line in lines[1:]:
        assert line == by_id[json.loads(line)["id"]]

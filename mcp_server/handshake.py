"""FastMCP's answer to `initialize` for this server, built from data without importing FastMCP.

The stdio front (`mcp_server.front`) sends it while FastMCP and the MCP SDK are still
being imported. Every field is FastMCP's own: the server's name and instructions are
defined here and given to FastMCP by `mcp_server.server`; the capabilities and the
protocol versions are what FastMCP and the MCP SDK answer for this server, pinned by
tests/mcp_server/test_front.py against the real server's answer for every protocol
version the SDK negotiates, so an SDK upgrade that changes the answer fails that test
instead of drifting.

`initialize_answer` answers only an `initialize` request whose every field is one the
SDK accepts for sure (it validates with pydantic, which this module must not import);
anything else is left to FastMCP, which answers as it always did.
"""

from __future__ import annotations

import json
from typing import Any

SERVER_NAME = "codex-async"

INSTRUCTIONS = """\
Runs OpenAI Codex jobs in the background, so a long codex task never hits the client's tool timeout.
The loop: codex_start(prompt, cwd) returns a job_id at once; codex_wait(job_id) returns as soon as \
the job ends or after at most ~50 s with status still running, in which case call codex_wait again. \
codex_poll shows progress without waiting; codex_cancel stops a job and everything it started. \
`codex` does start + one wait in a single call. Follow up in the same codex session with \
codex_start(session_id=...) (see codex_sessions). Jobs survive restarts of this server."""

# mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS: a client's version among them is echoed,
# any other gets the newest (the SDK's ServerRunner._negotiate_initialize).
HANDSHAKE_PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")

# What FastMCP advertises at every handshake version (the tasks extension is a 2026-07-28
# capability: the SDK leaves it out of handshake answers).
SERVER_CAPABILITIES: dict[str, Any] = {
    "logging": {},
    "prompts": {"listChanged": True},
    "resources": {"subscribe": False, "listChanged": True},
    "tools": {"listChanged": True},
}

# The shapes of the client's capabilities the SDK validates (its ClientCapabilities models):
# OBJECT is any JSON object, BOOLEAN true or false, MAP an object of objects, a dict a
# nested object of those; every field may also be null. Other keys are ignored by the SDK.
OBJECT = "object"
BOOLEAN = "boolean"
MAP = "map"
CapabilityShape = str | dict[str, "CapabilityShape"]
CLIENT_CAPABILITY_SHAPES: dict[str, CapabilityShape] = {
    "experimental": MAP,
    "extensions": MAP,
    "roots": {"listChanged": BOOLEAN},
    "sampling": {"context": OBJECT, "tools": OBJECT},
    "elicitation": {"form": OBJECT, "url": OBJECT},
    "tasks": {
        "list": OBJECT,
        "cancel": OBJECT,
        "requests": {"sampling": {"createMessage": OBJECT}, "elicitation": {"create": OBJECT}},
    },
}
# clientInfo (the SDK's Implementation): name and version required; icons are left to the SDK.
CLIENT_INFO_REQUIRED = ("name", "version")
CLIENT_INFO_OPTIONAL = ("title", "description", "websiteUrl")
# JavaScript clients number requests below 2**53; larger ids are left to the SDK.
LARGEST_PLAIN_ID = 2**53


def negotiated_version(requested: str) -> str:
    return requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else HANDSHAKE_PROTOCOL_VERSIONS[-1]


def initialize_result(requested_version: str, server_version: str) -> dict[str, Any]:
    """The `result` of FastMCP's answer to an initialize asking for `requested_version`."""
    return {
        "protocolVersion": negotiated_version(requested_version),
        "capabilities": SERVER_CAPABILITIES,
        "serverInfo": {"name": SERVER_NAME, "version": server_version},
        "instructions": INSTRUCTIONS,
    }


def wire_json(message: dict[str, Any]) -> bytes:
    """One message as the SDK writes it: compact JSON, UTF-8 unescaped, then a newline."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON the SDK reads")


def parse_initialize(line: bytes) -> tuple[int | str, str] | None:
    """(request id, requested protocol version) when `line` is an initialize request the SDK
    accepts for sure, else None."""
    # The SDK reads lines in universal-newline mode: a lone \r would split this line there.
    if b"\r" in line.rstrip(b"\n").removesuffix(b"\r"):
        return None
    try:
        message = json.loads(line, parse_constant=_refuse_constant)
        # A lone surrogate (an escape JSON allows) is not text the SDK accepts.
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except ValueError:  # UnicodeError and JSONDecodeError are ValueErrors
        return None
    if not isinstance(message, dict) or set(message) != {"jsonrpc", "id", "method", "params"}:
        return None
    request_id = message["id"]
    plain_id = isinstance(request_id, str) or (type(request_id) is int and abs(request_id) < LARGEST_PLAIN_ID)
    if message["jsonrpc"] != "2.0" or message["method"] != "initialize" or not plain_id:
        return None
    params = message["params"]
    if not isinstance(params, dict) or not set(params) <= {"protocolVersion", "capabilities", "clientInfo"}:
        return None
    version = params.get("protocolVersion")
    if not isinstance(version, str):
        return None
    if not _fits(params.get("capabilities"), CLIENT_CAPABILITY_SHAPES, nullable=False):
        return None
    if not _plain_client_info(params.get("clientInfo")):
        return None
    return request_id, version


def _fits(value: Any, shape: CapabilityShape, *, nullable: bool = True) -> bool:
    if value is None:
        return nullable
    if shape == BOOLEAN:
        return isinstance(value, bool)
    if not isinstance(value, dict):
        return False
    if shape == OBJECT:
        return True
    if shape == MAP:
        return all(isinstance(each, dict) for each in value.values())
    assert isinstance(shape, dict)
    return all(_fits(value[key], inner) for key, inner in shape.items() if key in value)


def _plain_client_info(info: Any) -> bool:
    if not isinstance(info, dict) or not set(info) <= {*CLIENT_INFO_REQUIRED, *CLIENT_INFO_OPTIONAL}:
        return False
    if not all(isinstance(info.get(key), str) for key in CLIENT_INFO_REQUIRED):
        return False
    return all(info.get(key) is None or isinstance(info[key], str) for key in CLIENT_INFO_OPTIONAL)


def initialize_answer(line: bytes, server_version: str) -> tuple[int | str, bytes] | None:
    """(request id, FastMCP's answer as it writes it) when `line` is an initialize request
    this module answers exactly as FastMCP would; None leaves `line` to FastMCP."""
    parsed = parse_initialize(line)
    if parsed is None:
        return None
    request_id, requested_version = parsed
    result = initialize_result(requested_version, server_version)
    return request_id, wire_json({"jsonrpc": "2.0", "id": request_id, "result": result})

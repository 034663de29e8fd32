"""FastMCP's answer to a client's opening request, built from data without importing FastMCP.

The opening request is `initialize` (protocols up to 2025-11-25) or `server/discover`
(2026-07-28, whose every request carries the client's protocol version, info and
capabilities in `params._meta`; Claude Code opens with it).

The stdio front (`mcp_server.front`) sends it while FastMCP and the MCP SDK are still
being imported. Every field is FastMCP's own: the server's name and instructions are
defined here and given to FastMCP by `mcp_server.server`; the capabilities and the
protocol versions are what FastMCP and the MCP SDK answer for this server, pinned by
tests/mcp_server/test_front.py against the real server's answer for every protocol
version the SDK negotiates, so an SDK upgrade that changes the answer fails that test
instead of drifting.

`opening_answer` answers only a request whose every field is one the SDK accepts for
sure (it validates with pydantic, which this module must not import); anything else is
left to FastMCP, which answers as it always did.
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

# mcp_types.version.MODERN_PROTOCOL_VERSIONS: the versions `server/discover` serves.
MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities"
SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"

# What FastMCP advertises at every handshake version (the tasks extension is a 2026-07-28
# capability: the SDK leaves it out of handshake answers).
SERVER_CAPABILITIES: dict[str, Any] = {
    "logging": {},
    "prompts": {"listChanged": True},
    "resources": {"subscribe": False, "listChanged": True},
    "tools": {"listChanged": True},
}
# What FastMCP advertises to `server/discover`: no list-changed notifications (no session
# to send them on), and the extensions: FastMCP's apps UI and our durable tasks.
DISCOVER_CAPABILITIES: dict[str, Any] = {
    "logging": {},
    "prompts": {"listChanged": False},
    "resources": {"subscribe": False, "listChanged": False},
    "tools": {"listChanged": False},
    "extensions": {"io.modelcontextprotocol/ui": {}, "io.modelcontextprotocol/tasks": {}},
}
# The SDK's cache hint for `server/discover` (ttlMs, cacheScope).
DISCOVER_CACHE_HINT: dict[str, Any] = {"ttlMs": 0, "cacheScope": "private"}

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


def discover_result(server_version: str) -> dict[str, Any]:
    """The `result` of FastMCP's answer to `server/discover`."""
    return {
        "_meta": {SERVER_INFO_META_KEY: {"name": SERVER_NAME, "version": server_version}},
        **DISCOVER_CACHE_HINT,
        "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
        "capabilities": DISCOVER_CAPABILITIES,
        "instructions": INSTRUCTIONS,
        "resultType": "complete",
    }


def wire_json(message: dict[str, Any]) -> bytes:
    """One message as the SDK writes it: compact JSON, UTF-8 unescaped, then a newline."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON the SDK reads")


def parse_request(line: bytes) -> tuple[int | str, str, dict[str, Any]] | None:
    """(id, method, params) when `line` is a plain JSON-RPC request with params, else None."""
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
    request_id, method, params = message["id"], message["method"], message["params"]
    plain_id = isinstance(request_id, str) or (type(request_id) is int and abs(request_id) < LARGEST_PLAIN_ID)
    if (
        message["jsonrpc"] != "2.0"
        or not isinstance(method, str)
        or not plain_id
        or not isinstance(params, dict)
    ):
        return None
    return request_id, method, params


def plain_initialize_params(params: dict[str, Any]) -> str | None:
    """The protocol version asked for, when the SDK accepts these `initialize` params for sure."""
    if not set(params) <= {"protocolVersion", "capabilities", "clientInfo"}:
        return None
    version = params.get("protocolVersion")
    if not isinstance(version, str):
        return None
    if not _fits(params.get("capabilities"), CLIENT_CAPABILITY_SHAPES, nullable=False):
        return None
    return version if _plain_client_info(params.get("clientInfo")) else None


def plain_discover_params(params: dict[str, Any]) -> bool:
    """Whether the SDK serves `server/discover` with these params for sure: the 2026-07-28
    envelope with the client's info and capabilities, and nothing else."""
    if set(params) != {"_meta"} or not isinstance(params["_meta"], dict):
        return False
    meta = params["_meta"]
    if set(meta) != {PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY}:
        return False
    return (
        meta[PROTOCOL_VERSION_META_KEY] in MODERN_PROTOCOL_VERSIONS
        and _plain_client_info(meta[CLIENT_INFO_META_KEY])
        and _fits(meta[CLIENT_CAPABILITIES_META_KEY], CLIENT_CAPABILITY_SHAPES, nullable=False)
    )


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


def opening_answer(line: bytes, server_version: str) -> tuple[int | str, bytes] | None:
    """(request id, FastMCP's answer as it writes it) when `line` is an `initialize` or a
    `server/discover` this module answers exactly as FastMCP would; None leaves `line` to FastMCP."""
    request = parse_request(line)
    if request is None:
        return None
    request_id, method, params = request
    if method == "initialize" and (requested_version := plain_initialize_params(params)) is not None:
        result = initialize_result(requested_version, server_version)
    elif method == "server/discover" and plain_discover_params(params):
        result = discover_result(server_version)
    else:
        return None
    return request_id, wire_json({"jsonrpc": "2.0", "id": request_id, "result": result})

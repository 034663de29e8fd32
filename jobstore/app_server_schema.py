"""Whether the installed codex has the app-server this project drives, learned once per binary.

`codex app-server generate-json-schema --out DIR` prints the exact protocol of the installed
version (a quarter of a second, once per binary and process). The facts the runner relies on
are kept here and checked against that schema: a codex whose app-server lacks one of them
runs its jobs as `codex exec --json`, as a codex without an app-server does.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from jobstore.codex_cli import CodexInfo, run_probe
from jobstore.errors import CodexUnavailable

# The client's requests the runner sends.
CLIENT_METHODS = ("initialize", "thread/start", "thread/resume", "turn/start", "turn/steer", "turn/interrupt")
# The server's questions the runner turns into a job's `waiting`, and the file of each one's
# decision values in the schema.
COMMAND_APPROVAL = "item/commandExecution/requestApproval"
FILE_CHANGE_APPROVAL = "item/fileChange/requestApproval"
APPROVAL_RESPONSES = {
    COMMAND_APPROVAL: "CommandExecutionRequestApprovalResponse.json",
    FILE_CHANGE_APPROVAL: "FileChangeRequestApprovalResponse.json",
}
# A person's answer, in the schema's decision values: "decline" lets the turn go on without
# the command or patch (codex tells the model), as a person saying no would expect.
DECISIONS = {"approve": "accept", "deny": "decline"}
# `turn/steer` must name the turn it adds to (never a later one by mistake).
STEER_REQUIRED = ("threadId", "expectedTurnId", "input")


_cache: dict[tuple[str, int, int], bool] = {}
_cache_lock = threading.Lock()


def has_app_server(info: CodexInfo) -> bool:
    """Whether `info`'s codex has an app-server with every fact above; cached per binary."""
    try:
        st = os.stat(os.path.realpath(info.path))
    except OSError:
        return False
    key = (info.path, st.st_size, st.st_mtime_ns)
    with _cache_lock:
        known = _cache.get(key)
    if known is not None:
        return known
    with tempfile.TemporaryDirectory(prefix="codex-async-schema-") as folder:
        try:
            run_probe([info.path, "app-server", "generate-json-schema", "--out", folder])
            missing = missing_facts(Path(folder))
        except (CodexUnavailable, OSError, ValueError):
            missing = ["an app-server schema"]
    found = not missing
    with _cache_lock:
        _cache[key] = found
    return found


def missing_facts(schema_dir: Path) -> list[str]:
    """The facts above that the schema in `schema_dir` lacks (empty: all there)."""
    missing: list[str] = []
    client_methods = _methods(_load(schema_dir / "ClientRequest.json"))
    missing += [m for m in CLIENT_METHODS if m not in client_methods]
    server_requests = _methods(_load(schema_dir / "ServerRequest.json"))
    for method, response_file in APPROVAL_RESPONSES.items():
        if method not in server_requests:
            missing.append(method)
            continue
        values = _string_values(_load(schema_dir / response_file))
        missing += [f"{method} decision {d}" for d in DECISIONS.values() if d not in values]
    steer = _load(schema_dir / "v2" / "TurnSteerParams.json")
    missing += [f"turn/steer {p}" for p in STEER_REQUIRED if p not in steer.get("required", [])]
    return missing


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} is not a JSON object")
    return data


def _methods(schema: dict[str, Any]) -> set[str]:
    return {
        method
        for variant in schema.get("oneOf", [])
        for method in variant.get("properties", {}).get("method", {}).get("enum", [])
    }


def _string_values(node: Any) -> set[str]:
    """Every string of every `enum` anywhere in a schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                found.update(v for v in value if isinstance(v, str))
            else:
                found |= _string_values(value)
    elif isinstance(node, list):
        for value in node:
            found |= _string_values(value)
    return found

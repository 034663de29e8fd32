"""The app-server's notifications as the events `codex exec --json` writes, for output.txt.

A job driven through the app-server writes the same JSONL a `codex exec --json` job does
(`thread.started`, `turn.started`, `item.started`/`item.completed` with exec's item shapes,
`turn.completed` with usage, `turn.failed`, `error`), so every reader of the output (the
summary, the rendering, the sessions, the conversation view) stays what it is. Two events
are this project's own, for what exec cannot do: `item.completed` of a `user_message` (a
person's message steered into the running turn) and `turn.interrupted`.
"""

from __future__ import annotations

import re
from typing import Any

Event = dict[str, Any]

_STATUS = {"inProgress": "in_progress", "completed": "completed", "failed": "failed", "declined": "declined"}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def thread_started(thread_id: str) -> Event:
    return {"type": "thread.started", "thread_id": thread_id}


def user_message(item_id: str, text: str) -> Event:
    """A person's message sent into the running turn (steer)."""
    return {"type": "item.completed", "item": {"id": item_id, "type": "user_message", "text": text}}


def snake_case(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def exec_item(item: dict[str, Any]) -> dict[str, Any] | None:
    """An app-server thread item in exec's shape; None for one exec never shows (the
    person's own prompt: exec's stream does not repeat it)."""
    kind = item.get("type")
    item_id = item.get("id")
    if kind == "userMessage":
        return None
    if kind == "agentMessage":
        return {"id": item_id, "type": "agent_message", "text": item.get("text") or ""}
    if kind == "reasoning":
        parts = [*(item.get("summary") or []), *(item.get("content") or [])]
        return {"id": item_id, "type": "reasoning", "text": "\n".join(p for p in parts if isinstance(p, str))}
    if kind == "commandExecution":
        return {
            "id": item_id,
            "type": "command_execution",
            "command": item.get("command") or "",
            "aggregated_output": item.get("aggregatedOutput") or "",
            "exit_code": item.get("exitCode"),
            "status": _STATUS.get(str(item.get("status")), str(item.get("status"))),
        }
    if kind == "fileChange":
        changes = [
            {"path": c.get("path"), "kind": (c.get("kind") or {}).get("type")}
            for c in item.get("changes") or []
            if isinstance(c, dict) and isinstance(c.get("kind") or {}, dict)
        ]
        status = _STATUS.get(str(item.get("status")), str(item.get("status")))
        return {"id": item_id, "type": "file_change", "changes": changes, "status": status}
    if kind == "mcpToolCall":
        return {
            "id": item_id,
            "type": "mcp_tool_call",
            "server": item.get("server"),
            "tool": item.get("tool"),
            "arguments": item.get("arguments"),
            "result": item.get("result"),
            "error": item.get("error"),
            "status": _STATUS.get(str(item.get("status")), str(item.get("status"))),
        }
    if kind == "webSearch":
        return {"id": item_id, "type": "web_search", "query": item.get("query")}
    # Kept as they come (exec's readers keep unknown types too), the type in exec's spelling.
    return {**item, "type": snake_case(str(kind or "item"))}


def exec_usage(token_usage: dict[str, Any]) -> dict[str, int]:
    """The thread's token totals in exec's names (exec's resumed turns count earlier turns too)."""
    total = token_usage.get("total") or {}
    names = {
        "inputTokens": "input_tokens",
        "cachedInputTokens": "cached_input_tokens",
        "cacheWriteInputTokens": "cache_write_input_tokens",
        "outputTokens": "output_tokens",
        "reasoningOutputTokens": "reasoning_output_tokens",
    }
    return {ours: value for theirs, ours in names.items() if isinstance(value := total.get(theirs), int)}


class EventTranslator:
    """Turns one job's notifications into exec events, remembering what a later one needs
    (the turn's usage, its last agent message)."""

    def __init__(self) -> None:
        self.usage: dict[str, int] = {}
        self.last_agent_message: str | None = None

    def events(self, method: str, params: dict[str, Any]) -> list[Event]:
        if method == "turn/started":
            return [{"type": "turn.started"}]
        if method in ("item/started", "item/completed"):
            item = params.get("item")
            converted = exec_item(item) if isinstance(item, dict) else None
            if converted is None:
                return []
            if converted["type"] == "agent_message" and method == "item/completed":
                self.last_agent_message = converted["text"]
            return [{"type": method.replace("/", "."), "item": converted}]
        if method == "thread/tokenUsage/updated":
            usage = params.get("tokenUsage")
            if isinstance(usage, dict):
                self.usage = exec_usage(usage)
            return []
        if method == "error":
            error = params.get("error") or {}
            return [
                {"type": "error", "message": error.get("message") if isinstance(error, dict) else str(error)}
            ]
        if method == "turn/completed":
            return [self.turn_end(params.get("turn") or {})]
        return []

    def turn_end(self, turn: dict[str, Any]) -> Event:
        status = turn.get("status")
        if status == "completed":
            return {"type": "turn.completed", "usage": dict(self.usage)}
        if status == "interrupted":
            return {"type": "turn.interrupted"}
        error = turn.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else None
        return {"type": "turn.failed", "error": {"message": message or f"the turn ended {status}"}}

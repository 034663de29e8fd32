"""A scripted stand-in for Anthropic's Messages API on 127.0.0.1, for `claude -p` in tests.

It plays a model that calls one tool: while the tool is not in the request's tool list it
calls Claude Code's WaitForMcpServers (MCP servers connect in the background; on a busy
machine one wait can end "still connecting", so it waits again, a few times), then it
calls the tool once, then it answers with plain text. Streaming (SSE) and plain JSON
replies are both served. Every request body is kept, so a test can read the tool results
Claude Code sent back.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WAIT_TOOL = "WaitForMcpServers"
FINAL_TEXT = "FAKE-DONE"
NO_TOOL_TEXT = "FAKE-NO-TOOL"
MAX_WAIT_CALLS = 5


class FakeAnthropic:
    def __init__(self, tool: str, tool_input: dict[str, Any]) -> None:
        self.tool = tool
        self.tool_input = tool_input
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self) -> list[dict[str, Any]]:
        """Every /v1/messages request body so far, oldest first."""
        with self._lock:
            return list(self.requests)

    def tool_results(self) -> list[dict[str, Any]]:
        """The tool results of the last request that had any (the conversation grows)."""
        with self._lock:
            requests = list(self.requests)
        for body in reversed(requests):
            found = [
                block
                for message in body.get("messages", [])
                if isinstance(message.get("content"), list)
                for block in message["content"]
                if isinstance(block, dict) and block.get("type") == "tool_result"
            ]
            if found:
                return found
        return []

    def reply(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offered = {tool.get("name") for tool in body.get("tools") or []}
        called = [
            block.get("name")
            for message in body.get("messages", [])
            if message.get("role") == "assistant" and isinstance(message.get("content"), list)
            for block in message["content"]
            if isinstance(block, dict) and block.get("type") == "tool_use"
        ]

        def use(name: str, arguments: dict[str, Any]) -> list[dict[str, Any]]:
            return [
                {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": arguments}
            ]

        if self.tool in called:
            return [{"type": "text", "text": FINAL_TEXT}]
        if self.tool in offered:
            return use(self.tool, self.tool_input)
        if WAIT_TOOL in offered and called.count(WAIT_TOOL) < MAX_WAIT_CALLS:
            return use(WAIT_TOOL, {})
        return [{"type": "text", "text": NO_TOOL_TEXT}]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                with fake._lock:
                    fake.paths.append(f"GET {self.path}")
                self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "fake"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {}
                with fake._lock:
                    fake.paths.append(f"POST {self.path}")
                if not self.path.startswith("/v1/messages"):
                    self._json(
                        404, {"type": "error", "error": {"type": "not_found_error", "message": "fake"}}
                    )
                    return
                if self.path.startswith("/v1/messages/count_tokens"):
                    self._json(200, {"input_tokens": 10})
                    return
                with fake._lock:
                    fake.requests.append(body)
                content = fake.reply(body)
                stop = "tool_use" if content[0]["type"] == "tool_use" else "end_turn"
                message = {
                    "id": f"msg_{uuid.uuid4().hex[:24]}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "fake"),
                    "content": content,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 10, "output_tokens": 5},
                }
                if body.get("stream"):
                    self._stream(message)
                else:
                    self._json(200, message)

            def _stream(self, message: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()

                def event(name: str, data: dict[str, Any]) -> None:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

                start = {**message, "content": [], "stop_reason": None}
                event("message_start", {"type": "message_start", "message": start})
                for index, block in enumerate(message["content"]):
                    if block["type"] == "text":
                        first = {"type": "text", "text": ""}
                        delta = {"type": "text_delta", "text": block["text"]}
                    else:
                        first = {**block, "input": {}}
                        delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                    event(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": first},
                    )
                    event(
                        "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
                    )
                    event("content_block_stop", {"type": "content_block_stop", "index": index})
                event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                        "usage": {"output_tokens": 5},
                    },
                )
                event("message_stop", {"type": "message_stop"})
                self.wfile.flush()

        return Handler

"""JSON-RPC over the app-server's stdio pipes: one JSON object a line, both ways.

The runner holds both pipes itself; nothing here blocks on reading (the runner's loop
sleeps on the stdout fd turning readable and calls `read_available`). A response is given
to the callback its request registered; server requests and notifications go to the
handlers the owner passes.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

# One message is at most this large (a command's whole output rides in one notification);
# a larger line is dropped and counted, never held without bound.
MAX_LINE_BYTES = 64 * 1024 * 1024
_READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class RpcError(Exception):
    """An error the app-server answered a request with."""

    code: int
    message: str

    def __str__(self) -> str:
        return self.message


ResponseHandler = Callable[[dict[str, Any] | None, RpcError | None], None]


class AppServerClient:
    def __init__(self, stdin: IO[bytes], stdout_fd: int) -> None:
        self.stdin = stdin
        self.stdout_fd = stdout_fd
        os.set_blocking(stdout_fd, False)
        self._next_id = 0
        self._pending: dict[int, ResponseHandler] = {}
        self._buffer = bytearray()
        self._skipping = False  # inside a line longer than MAX_LINE_BYTES
        self.eof = False
        self.dropped_lines = 0
        self.closed = False

    # ---------------------------------------------------------------- sending

    def request(self, method: str, params: dict[str, Any], on_response: ResponseHandler) -> int:
        self._next_id += 1
        self._pending[self._next_id] = on_response
        self._send({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        return self._next_id

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def respond(self, request_id: Any, result: dict[str, Any]) -> None:
        self._send({"jsonrpc": "2.0", "id": request_id, "result": result})

    def respond_error(self, request_id: Any, code: int, message: str) -> None:
        self._send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})

    def _send(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self.stdin.write(json.dumps(message, ensure_ascii=False).encode("utf-8") + b"\n")
            self.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            self.closed = True  # it has exited: its exit decides the job's end

    def close(self) -> None:
        """Close its stdin: the app-server ends its session and exits."""
        self.closed = True
        with contextlib.suppress(OSError, ValueError):
            self.stdin.close()

    # ---------------------------------------------------------------- reading

    def read_available(
        self,
        on_notification: Callable[[str, dict[str, Any]], None],
        on_request: Callable[[Any, str, dict[str, Any]], None],
        *,
        budget: int = 16 * _READ_BYTES,
    ) -> bool:
        """Handle every whole message readable now (up to `budget` bytes); True if more
        may wait (the budget ran out)."""
        read = 0
        while read < budget:
            try:
                chunk = os.read(self.stdout_fd, _READ_BYTES)
            except BlockingIOError:
                return False
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                return False
            read += len(chunk)
            self._take_lines(chunk, on_notification, on_request)
        return True

    def _take_lines(
        self,
        chunk: bytes,
        on_notification: Callable[[str, dict[str, Any]], None],
        on_request: Callable[[Any, str, dict[str, Any]], None],
    ) -> None:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:end]
            start = end + 1
            if self._skipping:
                self._skipping = False
                continue
            line = bytes(self._buffer) + piece
            self._buffer.clear()
            self._dispatch(line, on_notification, on_request)
        rest = chunk[start:]
        if self._skipping:
            return
        self._buffer += rest
        if len(self._buffer) > MAX_LINE_BYTES:
            self._buffer.clear()
            self._skipping = True
            self.dropped_lines += 1

    def _dispatch(
        self,
        line: bytes,
        on_notification: Callable[[str, dict[str, Any]], None],
        on_request: Callable[[Any, str, dict[str, Any]], None],
    ) -> None:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            self.dropped_lines += 1
            return
        if not isinstance(message, dict):
            self.dropped_lines += 1
            return
        method = message.get("method")
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if isinstance(method, str):
            if "id" in message:
                on_request(message["id"], method, params)
            else:
                on_notification(method, params)
            return
        response_id = message.get("id")
        handler = self._pending.pop(response_id, None) if isinstance(response_id, int) else None
        if handler is None:
            return
        error = message.get("error")
        if isinstance(error, dict):
            handler(None, RpcError(int(error.get("code") or 0), str(error.get("message") or "error")))
        else:
            result = message.get("result")
            handler(result if isinstance(result, dict) else {}, None)

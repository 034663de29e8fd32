"""A fake OpenAI Responses API service for driving the real ``codex`` CLI offline.

The real ``codex exec`` is pointed at this server through ``CODEX_HOME/config.toml``
(see :meth:`FakeModelService.write_codex_home`). Each ``POST /v1/responses`` is answered
with server-sent events; what the "model" does is chosen by keywords in the last user
message of the request, so a test picks a behaviour through the prompt alone:

- default: an assistant message ``Done: <first 60 chars of the prompt>``.
- ``REPLY: <text>``: an assistant message with exactly ``<text>`` (rest of that line).
- ``RUN_COMMAND: <cmd>``: a shell tool call (``exec_command``) running ``<cmd>``; once
  codex sends the tool output back, the message ``Command finished.``.
- ``SLOW_COMMAND: <cmd>``: like ``RUN_COMMAND``, for long commands (e.g. ``sleep 600``
  that a test cancels midway): waits 30 s per tool call instead of codex's default 10 s.
  Both keep polling the command (``write_stdin``) while codex reports it still running.
- ``FAIL_TURN``: a ``response.failed`` event ("fake model failure"); exec exits 1.
- ``STALL``: ``response.created`` and then nothing, until the client disconnects or
  the service stops (a long-running job to cancel).
- review requests (``codex exec review``): the JSON review result codex asks for, with
  one P2 finding on ``<cwd>/README.md``; the run exits 0.
- ``GET`` on any path: ``{"data":[],"models":[]}``.

Only the standard library is used, and the server binds to 127.0.0.1 only.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import re
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["FakeModelService"]

# codex 0.169.0 runs with this name but, lacking it in its bundled model catalogue, starts
# each run with an `error` item "Model metadata for `gpt-5.1-codex` not found" (exit code
# unaffected); pass model="gpt-5.5" to write_codex_home for a run without it.
MODEL = "gpt-5.1-codex"
FAILURE_MESSAGE = "fake model failure"
COMMAND_DONE_MESSAGE = "Command finished."
# Our tool calls carry this call_id prefix, so a function_call_output can be matched to them.
CALL_ID_PREFIX = "call_fake_"
# How long an exec_command / write_stdin call waits before codex answers "still running"
# (codex caps exec_command at 30 s); fewer model round trips for a long command.
SLOW_YIELD_MS = 30_000
# Step of the polling loop in a stalled stream: bounds how late stop() / a disconnect is noticed.
STALL_POLL_SECONDS = 0.1

_RUNNING_RE = re.compile(r"Process running with session ID (\d+)")


def _user_text(item: dict[str, Any]) -> str | None:
    """Return the text of a user message item, or None if ``item`` is not one."""
    if item.get("role") != "user" or item.get("type", "message") != "message":
        return None
    return _message_text(item)


def _message_text(item: dict[str, Any]) -> str:
    """The input_text of a message item (content as a string or a list of parts)."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        str(part.get("text", ""))
        for part in content
        if isinstance(part, dict) and part.get("type") == "input_text"
    )


def _keyword_line(prompt: str, keyword: str) -> str | None:
    """Return the rest of the first line holding ``keyword``, or None if it is absent."""
    for line in prompt.splitlines():
        index = line.find(keyword)
        if index >= 0:
            return line[index + len(keyword) :].strip()
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stalled handler must never keep the test process alive
    service: FakeModelService


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: each response ends by closing the connection, so streams need no framing.
    protocol_version = "HTTP/1.0"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def do_GET(self) -> None:
        # Model lists and any other lookups: nothing to offer, which codex accepts.
        self.server.service._record_get(self.path)
        body = json.dumps({"data": [], "models": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        service = self.server.service
        if not self.path.rstrip("/").endswith("/responses"):
            self.send_error(404)
            return
        service._record(body)

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            service._respond(body, self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # codex went away (cancelled): nothing left to tell it

    def send_event(self, event: dict[str, Any]) -> None:
        data = json.dumps(event)
        self.wfile.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
        self.wfile.flush()

    def client_gone(self) -> bool:
        """True once the client has closed its end of the connection."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


class FakeModelService:
    """A scripted Responses API server on 127.0.0.1 for the real codex CLI."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.get_paths: list[str] = []  # paths of GET requests, for diagnostics
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeModelService:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.service = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns quickly
            name="fake-model-service",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases stalled streams
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeModelService is not started")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def write_codex_home(self, codex_home: pathlib.Path, *, model: str = MODEL) -> None:
        """Write ``config.toml`` into ``codex_home`` pointing codex at this service."""
        codex_home.mkdir(parents=True, exist_ok=True)
        # Retries at 0: a broken stream must fail the run at once instead of being retried.
        config = (
            f'model = "{model}"\n'
            'model_provider = "fake"\n'
            "\n"
            "[model_providers.fake]\n"
            'name = "fake"\n'
            f'base_url = "{self.base_url}"\n'
            'wire_api = "responses"\n'
            "request_max_retries = 0\n"
            "stream_max_retries = 0\n"
        )
        (codex_home / "config.toml").write_text(config, encoding="utf-8")

    # -- request handling --------------------------------------------------------------

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    def _record_get(self, path: str) -> None:
        with self._lock:
            self.get_paths.append(path)

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _respond(self, body: dict[str, Any], handler: _Handler) -> None:
        items = body.get("input")
        items = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
        last_user = max((n for n, i in enumerate(items) if _user_text(i) is not None), default=-1)
        prompt = (_user_text(items[last_user]) or "") if last_user >= 0 else ""
        # Tool outputs for our calls that arrived since the prompt: the turn's progress.
        outputs = [
            i
            for i in items[last_user + 1 :]
            if i.get("type") == "function_call_output"
            and str(i.get("call_id", "")).startswith(CALL_ID_PREFIX)
        ]

        n = self._next_id()
        response_id = f"resp_{n}"
        handler.send_event({"type": "response.created", "response": {"id": response_id}})

        if "FAIL_TURN" in prompt:
            error = {"code": "server_error", "message": FAILURE_MESSAGE}
            handler.send_event(
                {
                    "type": "response.failed",
                    "response": {"id": response_id, "status": "failed", "error": error},
                }
            )
            return
        if "STALL" in prompt:
            self._stall(handler)
            return

        slow = _keyword_line(prompt, "SLOW_COMMAND:")
        command = slow if slow is not None else _keyword_line(prompt, "RUN_COMMAND:")
        if command is not None:
            item = self._command_step(n, command, slow is not None, outputs)
        elif self._is_review(body, items):
            item = self._message(n, json.dumps(_review_result(items)))
        else:
            reply = _keyword_line(prompt, "REPLY:")
            item = self._message(n, reply if reply is not None else f"Done: {prompt[:60]}")

        handler.send_event({"type": "response.output_item.done", "item": item})
        usage = {
            "input_tokens": 10,
            "input_tokens_details": None,
            "output_tokens": 5,
            "output_tokens_details": None,
            "total_tokens": 15,
        }
        handler.send_event({"type": "response.completed", "response": {"id": response_id, "usage": usage}})

    def _stall(self, handler: _Handler) -> None:
        # Hold the stream open without sending anything; small steps keep stop() prompt.
        while not self._stopping.wait(STALL_POLL_SECONDS):
            if handler.client_gone():
                return

    def _command_step(
        self, n: int, command: str, slow: bool, outputs: list[dict[str, Any]]
    ) -> dict[str, Any]:
        if not outputs:
            arguments: dict[str, Any] = {"cmd": command}
            if slow:
                arguments["yield_time_ms"] = SLOW_YIELD_MS
            return self._function_call(n, "exec_command", arguments)
        # exec_command answers "Process running with session ID N" once its yield time is
        # up and the command is still going: keep waiting on that session (an empty
        # write_stdin polls), so the turn lasts as long as the command does.
        match = _RUNNING_RE.search(_output_text(outputs[-1]))
        if match:
            arguments = {
                "session_id": int(match.group(1)),
                "chars": "",
                "yield_time_ms": SLOW_YIELD_MS,
            }
            return self._function_call(n, "write_stdin", arguments)
        return self._message(n, COMMAND_DONE_MESSAGE)

    @staticmethod
    def _is_review(body: dict[str, Any], items: list[dict[str, Any]]) -> bool:
        # codex marks its review sub-agent in client_metadata, and the review guidelines
        # it sends as a developer message ask for JSON with "overall_correctness".
        metadata = body.get("client_metadata")
        if isinstance(metadata, dict) and metadata.get("x-openai-subagent") == "review":
            return True
        return any(
            "overall_correctness" in _message_text(item)
            for item in items
            if item.get("role") in ("developer", "system")
        )

    @staticmethod
    def _message(n: int, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "role": "assistant",
            "id": f"msg_{n}",
            "content": [{"type": "output_text", "text": text}],
        }

    @staticmethod
    def _function_call(n: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "function_call",
            "id": f"fc_{n}",
            "call_id": f"{CALL_ID_PREFIX}{n}",
            "name": name,
            "arguments": json.dumps(arguments),
        }


def _output_text(item: dict[str, Any]) -> str:
    """The text of a function_call_output item (a string, or a list of content parts)."""
    output = item.get("output")
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(str(p.get("text", "")) for p in output if isinstance(p, dict))
    if isinstance(output, dict):
        return str(output.get("content", ""))
    return ""


_CWD_RE = re.compile(r"<cwd>(.*?)</cwd>")


def _review_result(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A review in the JSON shape codex's review guidelines demand, with one finding.

    The finding points at ``<cwd>/README.md`` line 1 (cwd from the environment context
    codex sends), so a test can see findings flow through to codex's output.
    """
    cwd = "."
    for item in items:
        match = _CWD_RE.search(_message_text(item)) if item.get("role") == "user" else None
        if match:
            cwd = match.group(1)
    finding = {
        "title": "[P2] Fake finding from the fake model service",
        "body": "The fake reviewer always reports this finding.",
        "confidence_score": 0.5,
        "priority": 2,
        "code_location": {
            "absolute_file_path": f"{cwd}/README.md",
            "line_range": {"start": 1, "end": 1},
        },
    }
    return {
        "findings": [finding],
        "overall_correctness": "patch is correct",
        "overall_explanation": "Fake review: nothing blocking.",
        "overall_confidence_score": 0.9,
    }

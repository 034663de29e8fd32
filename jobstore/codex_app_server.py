"""codex run through its app-server for one job: one turn, steerable, interruptible, asking.

The runner holds the app-server's stdin and stdout pipes itself (so if the runner dies, the
app-server exits and the job reads `lost`, as an exec job does); its stderr is appended to
output.txt. The runner starts a thread (or resumes the job's session) and one turn, and
writes the notifications into output.txt as the events `codex exec --json` writes
(`jobstore.app_server_events`), so every reader stays what it is. Meanwhile it handles the
job's messages (`jobstore.messages`) in order:

- steer: `turn/steer` with `expectedTurnId` (the running turn only); the person's message
  goes into the output as a `user_message` item;
- interrupt: `turn/interrupt`; the commands the turn started are stopped by us (the
  app-server leaves them running); the job ends `interrupted`;
- answer: the decision for codex's pending approval request; the first answer wins.

An approval request makes the job `waiting`, the question in its record, until answered.
When the turn ends, stdin is closed and the app-server exits; the job's end comes from
the turn's end as codex reported it and the app-server's exit, as for exec.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from typing import Any

from jobstore import app_server_events, fsio, inotify
from jobstore.app_server_client import AppServerClient, RpcError
from jobstore.app_server_schema import COMMAND_APPROVAL, DECISIONS, FILE_CHANGE_APPROVAL
from jobstore.codex_exec import FALLBACK_TICK_SECONDS, CodexExec, _earliest, signals_wake
from jobstore.job_life import JobLife, Outcome, codex_outcome, log
from jobstore.messages import Inbox, Message, Reply
from jobstore.processes import descendants, signal_processes, wait_gone
from jobstore.record import now_iso
from jobstore.states import JobStatus
from jobstore.watch import Wakeup

CLIENT_INFO = {"name": "codex-async", "title": "codex-async job runner", "version": "1"}
# How long the turn's commands get between SIGTERM and SIGKILL on an interrupt.
INTERRUPT_GRACE_SECONDS = 1.0
INTERRUPTED_ERROR = "interrupted on request"
_METHOD_NOT_FOUND = -32601


class CodexAppServer(CodexExec):
    """One job's app-server, its thread and turn, and what they told so far."""

    def __init__(self) -> None:
        super().__init__()
        self.client: AppServerClient | None = None
        self.output_fd: int | None = None
        self.translator = app_server_events.EventTranslator()
        self.params: dict[str, Any] = {}
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.turn_over = False
        self.interrupt_message: int | None = None  # the interrupt message being carried out
        self.interrupted = False
        self.interrupt_replied = False
        self.inbox: Inbox | None = None
        self.question: dict[str, Any] | None = None
        self.question_request: Any = None  # the id of codex's request the question answers
        self.questions_asked = 0
        self.shutdown_deadline: float | None = None
        self.argv: list[str] = []
        self.file_changes: dict[str, list[str]] = {}  # item id -> paths, for a patch's question

    # ------------------------------------------------------------------ start

    def spawn(
        self, life: JobLife, command: dict[str, Any], out_fd: int, env: dict[str, str]
    ) -> subprocess.Popen[bytes]:
        """`codex app-server`, its stdio ours (pipes), its stderr appended to the output."""
        self.params = command["app_server"]
        self.argv = list(command["argv"])
        proc = subprocess.Popen(
            command["argv"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=out_fd,
            cwd=life.cwd,
            env=env,
            start_new_session=True,  # its own process group: cancel signals the group
            close_fds=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        self.client = AppServerClient(proc.stdin, proc.stdout.fileno())
        self.output_fd = os.dup(out_fd)
        return proc

    def close(self) -> None:
        super().close()
        if self.question is not None:  # a cancel ends a waiting job and answers nothing
            self.question = None
            with contextlib.suppress(Exception):
                self.life.write(None, question=None)
        if self.client is not None:
            self.client.close()
        if self.output_fd is not None:
            os.close(self.output_fd)
            self.output_fd = None

    # ----------------------------------------------------------------- follow

    def follow(self, life: JobLife) -> Outcome:
        """Drive the app-server through the job's turn until it exits, asleep between
        events: a line from it, it exiting, the output growing, a message or the cancel
        marker arriving, a signal. The outcome comes from the turn's end and its exit."""
        assert self.proc is not None and self.follower is not None and self.client is not None
        proc, client = self.proc, self.client
        self.life = life
        inbox = Inbox(life.layout, life.job_id)
        inbox.ensure()
        cancel_deadline: float | None = None
        with Wakeup() as wakeup, signals_wake(wakeup) as forget_signals:
            wakeup.watch_fd(client.stdout_fd)
            wakeup.watch_process(proc.pid)
            wakeup.watch_path(life.layout.output(life.job_id), inotify.IN_MODIFY)
            arrivals = inotify.IN_CREATE | inotify.IN_MOVED_TO  # a cancel marker, a message
            wakeup.watch_path(life.layout.job_dir(life.job_id), arrivals, folder=True)
            wakeup.watch_path(inbox.folder, arrivals, folder=True)
            fallback_tick = None if wakeup.reliable else FALLBACK_TICK_SECONDS
            client.request("initialize", {"clientInfo": CLIENT_INFO}, self._initialized)
            while True:
                backlog = False
                if not client.eof:
                    backlog = client.read_available(self._on_notification, self._on_request)
                    if client.eof:
                        wakeup.unwatch_fd(client.stdout_fd)  # a closed pipe stays readable
                returncode = proc.poll()
                if returncode is not None:
                    with contextlib.suppress(OSError):
                        client.read_available(self._on_notification, self._on_request)
                    self._drain(life)
                    return self._outcome(life, returncode)
                before = self.follower.offset
                self._consume(life, self.follower.read_new())
                backlog = backlog or self.follower.offset - before >= self.follower.max_read_bytes
                cancelling = cancel_deadline is not None or life.cancel.requested()
                if cancelling:
                    self._answer_pending_messages(inbox, "the job is being cancelled")
                elif not cancelling:
                    for message in inbox.take():
                        self._handle(inbox, message)
                cancel_deadline = self.escalate_cancel(life, cancel_deadline, cancelling)
                shutdown_due = self._shutdown_if_overdue(life)
                summary_due = self.write_summary(life)
                wait = _earliest(fallback_tick, summary_due, cancel_deadline, shutdown_due)
                wakeup.wait(0 if backlog else wait)
                wakeup.clear()
                forget_signals()

    def _outcome(self, life: JobLife, returncode: int) -> Outcome:
        if self.interrupted and self.summary.turn_interrupted:
            return Outcome(JobStatus.INTERRUPTED, returncode, INTERRUPTED_ERROR)
        if returncode == 0 and (self.summary.turn_failed or not self.summary.turn_completed):
            # The app-server exits 0 whatever its turn did: exec's exit code for a turn that
            # did not finish (1), so the same end reads the same on both paths.
            returncode = 1
        if (
            self.shutdown_deadline == float("inf")
            and self.summary.turn_completed
            and not self.summary.turn_failed
        ):
            returncode = 0  # the turn ended done; only its shutdown had to be forced
        return codex_outcome(
            returncode,
            self.summary,
            cancel_requested=life.cancel.requested(),
            last_raw_line=self.last_raw_line,
        )

    # --------------------------------------------------------- the protocol

    def _initialized(self, result: dict[str, Any] | None, error: RpcError | None) -> None:
        if error is not None:
            return self._give_up(f"the app-server refused to start: {error}")
        assert self.client is not None
        self.client.notify("initialized")
        thread = dict(self.params["thread"], cwd=self.life.cwd)
        resume = self.params.get("resume")
        if resume:
            self.client.request("thread/resume", {**thread, "threadId": resume}, self._thread_ready)
        else:
            self.client.request("thread/start", thread, self._thread_ready)

    def _thread_ready(self, result: dict[str, Any] | None, error: RpcError | None) -> None:
        thread = (result or {}).get("thread")
        if error is not None or not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            return self._give_up(f"codex could not start the session: {error or 'no thread id'}")
        assert self.client is not None
        self.thread_id = thread["id"]
        self._write_event(app_server_events.thread_started(thread["id"]))
        turn = {"threadId": self.thread_id, "input": [{"type": "text", "text": self.params["input"]}]}
        turn.update(self.params.get("turn") or {})
        self.client.request("turn/start", turn, self._turn_started)

    def _turn_started(self, result: dict[str, Any] | None, error: RpcError | None) -> None:
        if error is not None:
            return self._give_up(f"codex could not start the turn: {error}")
        turn = (result or {}).get("turn")
        if isinstance(turn, dict) and isinstance(turn.get("id"), str):
            self.turn_id = self.turn_id or turn["id"]

    def _give_up(self, why: str) -> None:
        """codex refused a step: say why in the output and let the app-server exit."""
        self._write_event({"type": "error", "message": why})
        self._shut_down()

    def _on_notification(self, method: str, params: dict[str, Any]) -> None:
        if method == "turn/started":
            turn = params.get("turn")
            if isinstance(turn, dict) and isinstance(turn.get("id"), str):
                self.turn_id = turn["id"]
        elif method == "item/started":
            item = params.get("item")
            if isinstance(item, dict) and item.get("type") == "fileChange":
                self.file_changes[str(item.get("id"))] = [
                    str(c.get("path")) for c in item.get("changes") or [] if isinstance(c, dict)
                ]
        for event in self.translator.events(method, params):
            self._write_event(event)
        if method == "turn/completed":
            self._turn_completed(turn if isinstance(turn := params.get("turn"), dict) else {})

    def _turn_completed(self, turn: dict[str, Any]) -> None:
        self.turn_over = True
        if self.interrupted and turn.get("status") == "interrupted":
            self._interrupt_done()
        if self.question is not None:  # the turn ended with its question open: nobody answers it now
            self._clear_question()
        if self.translator.last_agent_message is not None:
            try:
                data = self.translator.last_agent_message.encode("utf-8")
                fsio.write_bytes_atomic(self.life.layout.last_message(self.life.job_id), data)
            except Exception as exc:
                log(f"cannot write the last message: {exc!r}")
        self._shut_down()

    def _shut_down(self) -> None:
        """Close the app-server's stdin: it ends its session and exits (stopped if it does not)."""
        assert self.client is not None
        self.client.close()
        if self.shutdown_deadline is None:
            self.shutdown_deadline = time.monotonic() + self.life.port.cancel_grace

    def _shutdown_if_overdue(self, life: JobLife) -> float | None:
        """Stop an app-server that did not exit on its own after its stdin closed; when that
        is due, else None."""
        deadline = self.shutdown_deadline
        if deadline is None or deadline == float("inf"):
            return None
        if time.monotonic() < deadline:
            return deadline
        log("the app-server did not exit after its turn; stopping it")
        self.shutdown_deadline = float("inf")
        self._signal_quietly(life, signal.SIGTERM)
        return None

    def _on_request(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        assert self.client is not None
        if method not in (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL) or self.question is not None:
            self.client.respond_error(
                request_id, _METHOD_NOT_FOUND, f"{method} is not answered by codex-async"
            )
            return
        self.questions_asked += 1
        command = method == COMMAND_APPROVAL
        self.question = {
            "id": self.questions_asked,
            "kind": "command" if command else "file_change",
            "command": params.get("command") if command else None,
            "cwd": params.get("cwd") if command else None,
            "files": [] if command else self.file_changes.get(str(params.get("itemId")), []),
            "reason": params.get("reason"),
            "asked_at": now_iso(),
        }
        self.question_request = request_id
        self.life.write(JobStatus.WAITING, question=self.question)

    def _clear_question(self) -> None:
        self.question = None
        self.question_request = None
        self.life.write(JobStatus.RUNNING, question=None)

    # ------------------------------------------------------------- messages

    def _handle(self, inbox: Inbox, message: Message) -> None:
        if message.kind == "answer":
            inbox.reply(message.number, self._answer(message))
        elif self.turn_id is None or self.turn_over or self.thread_id is None:
            why = "its turn has ended" if self.turn_over else "its turn has not started yet"
            inbox.reply(message.number, Reply(False, f"no turn is running: {why}"))
        elif message.kind == "steer":
            self._steer(inbox, message)
        else:
            self._interrupt(inbox, message)

    def _answer(self, message: Message) -> Reply:
        assert self.client is not None
        if self.question is None or message.question_id not in (None, self.question["id"]):
            return Reply(False, "already answered: codex has no question waiting")
        decision = DECISIONS.get(message.decision or "")
        if decision is None:
            return Reply(False, f"unknown decision {message.decision!r}; answer approve or deny")
        self.client.respond(self.question_request, {"decision": decision})
        self._clear_question()
        return Reply(True, f"answered {message.decision}")

    def _steer(self, inbox: Inbox, message: Message) -> None:
        assert self.client is not None and self.thread_id is not None and self.turn_id is not None
        text = message.text or ""

        def done(result: dict[str, Any] | None, error: RpcError | None) -> None:
            if error is not None:
                inbox.reply(message.number, Reply(False, f"codex refused the message: {error}"))
                return
            self._write_event(app_server_events.user_message(f"steer_{message.number}", text))
            inbox.reply(message.number, Reply(True, f"sent into the running turn {self.turn_id}"))

        params = {
            "threadId": self.thread_id,
            "expectedTurnId": self.turn_id,
            "input": [{"type": "text", "text": text}],
        }
        self.client.request("turn/steer", params, done)

    def _interrupt(self, inbox: Inbox, message: Message) -> None:
        assert self.client is not None
        if self.interrupt_message is not None:
            inbox.reply(message.number, Reply(False, "already interrupted: the turn is ending"))
            return
        self.interrupt_message = message.number
        self.interrupted = True  # asked for: the turn's end (often before this answer) says the rest
        self.inbox = inbox

        def done(result: dict[str, Any] | None, error: RpcError | None) -> None:
            if error is None:
                self._interrupt_done()
            elif not self.turn_over:
                self.interrupt_message = None
                self.interrupted = False
                inbox.reply(message.number, Reply(False, f"codex refused the interrupt: {error}"))

        self.client.request("turn/interrupt", {"threadId": self.thread_id, "turnId": self.turn_id}, done)

    def _interrupt_done(self) -> None:
        """Once codex has the interrupt (its answer, or the turn ending interrupted, whichever
        comes first): the turn's commands stopped, the sender told; once."""
        if self.interrupt_message is None or self.interrupt_replied:
            return
        self.interrupt_replied = True
        self._stop_turn_commands()
        if self.inbox is not None:
            self.inbox.reply(
                self.interrupt_message, Reply(True, "the turn is interrupted and its commands stopped")
            )

    def _stop_turn_commands(self) -> None:
        """The app-server leaves an interrupted turn's commands running: stop everything of
        the job's tree but the app-server itself (SIGTERM, a grace, SIGKILL)."""
        assert self.proc is not None
        spared = {os.getpid(), *self._app_server_pids()}
        commands = [p for p in descendants(os.getpid()) if p.pid not in spared]
        marked = [p for p in self._marked(self.life) if p.pid not in spared]
        targets = {p.pid: p for p in [*commands, *marked]}.values()
        signal_processes(targets, signal.SIGTERM)
        left = wait_gone(targets, INTERRUPT_GRACE_SECONDS)
        signal_processes(left, signal.SIGKILL)
        wait_gone(left, 2.0)

    def _app_server_pids(self) -> set[int]:
        """The app-server's own processes: the one we spawned and, when that is a wrapper
        (npm's `codex.js` spawns the native binary on Node before 22.15), the process it
        started with the same arguments after its program. Killing that one would end the
        session mid-turn, before codex reports the turn interrupted."""
        assert self.proc is not None
        pids = {self.proc.pid}
        arguments = self.argv[1:]
        if not arguments:
            return pids
        for process in descendants(self.proc.pid):
            with contextlib.suppress(Exception):
                if process.cmdline()[-len(arguments) :] == arguments:
                    pids.add(process.pid)
        return pids

    def _answer_pending_messages(self, inbox: Inbox, why: str) -> None:
        for message in inbox.take():
            inbox.reply(message.number, Reply(False, f"not done: {why}"))

    # --------------------------------------------------------------- output

    def _write_event(self, event: dict[str, Any]) -> None:
        if self.output_fd is None:
            return
        data = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.output_fd, view) :]
        except OSError as exc:
            log(f"cannot write to the output: {exc!r}")

"""The parts of talking to a running job: messages through its folder, the app-server's
notifications as exec's events, a waiting job's question, the codex path setting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jobstore import JobStatus, JobStore, Question, StoreRefused
from jobstore.app_server_events import EventTranslator, exec_item
from jobstore.codex_app_server import CodexAppServer
from jobstore.events import Summary, render_line
from jobstore.ids import new_job_id
from jobstore.layout import StoreLayout
from jobstore.messages import Inbox, Reply, await_reply, message_path, numbers, read_reply, send
from jobstore.record import JobRecord, now_iso
from jobstore.settings import StoreSettings
from tests.helpers import processes_matching, wait_until


@pytest.fixture
def layout(tmp_path: Path) -> tuple[StoreLayout, str]:
    store = JobStore(tmp_path / "store", max_jobs=1, codex_bin="codex", cancel_grace=1)
    store.ensure()
    job_id = new_job_id()
    os.mkdir(store.layout.job_dir(job_id), 0o700)
    return store.layout, job_id


def test_messages_keep_their_order_and_are_taken_once(layout: tuple[StoreLayout, str]) -> None:
    store_layout, job_id = layout
    inbox = Inbox(store_layout, job_id)
    inbox.ensure()
    first = send(store_layout, job_id, "steer", text="one")
    second = send(store_layout, job_id, "interrupt")
    assert [m.number for m in inbox.take()] == [first.number, second.number] == [1, 2]
    assert inbox.take() == []  # never taken twice
    third = send(store_layout, job_id, "answer", decision="approve", question_id=4)
    (taken,) = inbox.take()
    assert (taken.number, taken.kind, taken.decision, taken.question_id) == (3, "answer", "approve", 4)
    assert third.number == 3
    assert oct(message_path(store_layout, job_id, 3).stat().st_mode & 0o777) == "0o600"


def test_senders_at_once_never_share_a_number(layout: tuple[StoreLayout, str]) -> None:
    store_layout, job_id = layout
    sent: list[int] = []
    lock = threading.Lock()

    def sender(n: int) -> None:
        for i in range(10):
            message = send(store_layout, job_id, "steer", text=f"{n}-{i}")
            with lock:
                sent.append(message.number)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == list(range(1, 41)) == numbers(store_layout, job_id)


def test_a_reply_is_awaited_and_a_missing_one_is_none(layout: tuple[StoreLayout, str]) -> None:
    store_layout, job_id = layout
    inbox = Inbox(store_layout, job_id)
    message = send(store_layout, job_id, "interrupt")
    assert await_reply(store_layout, job_id, message.number, 0.05) is None
    threading.Timer(0.1, inbox.reply, (message.number, Reply(True, "done it"))).start()
    assert await_reply(store_layout, job_id, message.number, 30) == Reply(True, "done it")


def test_a_message_that_is_not_ours_is_answered_not_handled(layout: tuple[StoreLayout, str]) -> None:
    store_layout, job_id = layout
    inbox = Inbox(store_layout, job_id)
    inbox.ensure()
    message_path(store_layout, job_id, 1).write_text('{"kind": "format-disk"}')
    os.chmod(message_path(store_layout, job_id, 1), 0o600)
    target = store_layout.root / "elsewhere.json"
    target.write_text(json.dumps({"kind": "interrupt"}))
    os.symlink(target, message_path(store_layout, job_id, 2))
    assert inbox.take() == []
    assert read_reply(store_layout, job_id, 1) == Reply(False, "the message cannot be read")
    assert read_reply(store_layout, job_id, 2) == Reply(False, "the message cannot be read")


def test_a_symlinked_messages_folder_is_refused(layout: tuple[StoreLayout, str], tmp_path: Path) -> None:
    store_layout, job_id = layout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    os.symlink(elsewhere, store_layout.messages_dir(job_id))
    with pytest.raises(StoreRefused):
        send(store_layout, job_id, "interrupt")
    assert list(elsewhere.iterdir()) == []


def feed(translator: EventTranslator, method: str, params: dict[str, object]) -> list[dict[str, object]]:
    return translator.events(method, params)


def test_notifications_become_execs_events() -> None:
    translator = EventTranslator()
    assert feed(translator, "turn/started", {"turn": {"id": "t1"}}) == [{"type": "turn.started"}]
    command = {
        "id": "c1",
        "type": "commandExecution",
        "command": "/bin/bash -lc 'echo hi'",
        "aggregatedOutput": "hi\n",
        "exitCode": 0,
        "status": "completed",
        "cwd": "/w",
        "commandActions": [],
    }
    (event,) = feed(translator, "item/completed", {"item": command})
    assert event == {
        "type": "item.completed",
        "item": {
            "id": "c1",
            "type": "command_execution",
            "command": "/bin/bash -lc 'echo hi'",
            "aggregated_output": "hi\n",
            "exit_code": 0,
            "status": "completed",
        },
    }
    patch = {
        "id": "p1",
        "type": "fileChange",
        "status": "completed",
        "changes": [{"path": "/w/a.py", "kind": {"type": "update", "move_path": None}, "diff": ""}],
    }
    assert exec_item(patch) == {
        "id": "p1",
        "type": "file_change",
        "changes": [{"path": "/w/a.py", "kind": "update"}],
        "status": "completed",
    }
    assert exec_item({"id": "u", "type": "userMessage", "content": []}) is None
    assert exec_item({"id": "x", "type": "imageView", "path": "/p"}) == {
        "id": "x",
        "type": "image_view",
        "path": "/p",
    }
    usage = {
        "total": {"inputTokens": 20, "cachedInputTokens": 0, "outputTokens": 10, "reasoningOutputTokens": 0}
    }
    assert feed(translator, "thread/tokenUsage/updated", {"tokenUsage": usage}) == []
    feed(translator, "item/completed", {"item": {"id": "m", "type": "agentMessage", "text": "the answer"}})
    (end,) = feed(translator, "turn/completed", {"turn": {"id": "t1", "status": "completed", "items": []}})
    assert end["usage"] == {
        "input_tokens": 20,
        "cached_input_tokens": 0,
        "output_tokens": 10,
        "reasoning_output_tokens": 0,
    }
    assert translator.last_agent_message == "the answer"
    failed = {"id": "t2", "status": "failed", "items": [], "error": {"message": "model down"}}
    assert translator.turn_end(failed) == {"type": "turn.failed", "error": {"message": "model down"}}
    assert translator.turn_end({"id": "t3", "status": "interrupted"}) == {"type": "turn.interrupted"}


def test_a_steered_message_and_an_interrupted_turn_read_back() -> None:
    summary = Summary()
    lines = [
        '{"type": "turn.started"}',
        '{"type": "item.completed", "item": {"id": "steer_1", "type": "user_message", "text": "go left"}}',
        '{"type": "turn.interrupted"}',
    ]
    for line in lines:
        summary.feed_line(line)
    assert summary.steered == [{"text": "go left", "after_commands": 0}]
    assert summary.turn_interrupted and not summary.turn_completed
    assert Summary.from_dict(summary.to_dict()).steered == summary.steered
    assert [(r.kind, r.text) for r in render_line(lines[1])] == [("user", "» go left")]
    assert [(r.kind, r.text) for r in render_line(lines[2])] == [("info", "turn interrupted")]


def waiting_record(question: dict[str, object]) -> JobRecord:
    record = JobRecord(new_job_id(), JobStatus.WAITING, "run", "p", "/w", "untrusted", now_iso())
    record.question = question
    return record


def test_a_question_is_read_and_shown_safely() -> None:
    record = waiting_record(
        {
            "id": 2,
            "kind": "command",
            "command": "rm -rf x\x1b]0;pwned\x07",
            "cwd": "/w",
            "asked_at": now_iso(),
        }
    )
    question = Question.of(record)
    assert question is not None and question.id == 2
    assert "\x1b" not in question.describe() and "rm -rf x" in question.describe()
    assert question.waiting_seconds() is not None
    record.status = JobStatus.RUNNING
    assert Question.of(record) is None  # only a waiting job asks
    patch = Question.of(
        waiting_record({"id": 1, "kind": "file_change", "files": ["/w/a.py"], "reason": "why"})
    )
    assert patch is not None and patch.describe() == "codex asks to change /w/a.py (why): approve or deny"


def test_settings_of_an_older_store_read_as_app_server(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"max_jobs": 4}')
    os.chmod(path, 0o600)
    assert StoreSettings.load(path) == StoreSettings(4, "app-server")
    StoreSettings(4, "exec").save(path)
    assert StoreSettings.load(path) == StoreSettings(4, "exec")


def test_a_job_of_a_codex_without_app_server_runs_as_exec(store: JobStore, workdir: Path) -> None:
    from jobstore import InvalidInput, RunOptions

    job = store.wait(store.start(RunOptions.checked(prompt="hi", cwd=str(workdir))).job_id, 30)
    assert job.status == JobStatus.DONE and job.codex_path == "exec"
    with pytest.raises(InvalidInput, match="has no usable app-server"):
        store.start(RunOptions.checked(prompt="hi", cwd=str(workdir), approval_policy="untrusted"))
    store.configure(codex_path="exec")
    with pytest.raises(InvalidInput, match="runs codex as `codex exec`"):
        store.start(RunOptions.checked(prompt="hi", cwd=str(workdir), approval_policy="on-request"))
    assert [j.job_id for j in store.list_jobs()] == [job.job_id]  # nothing written


def test_an_interrupt_spares_the_app_server_behind_a_wrapper(tmp_path: Path) -> None:
    """npm's `codex.js` on Node before 22.15 spawns the native app-server as its child: an
    interrupt stops the turn's commands (the native one's children), never that child, or
    the session dies before codex reports the turn interrupted."""
    native = tmp_path / "native.py"
    native.write_text("import subprocess, sys\nsubprocess.Popen(['sleep', '593'])\nsys.stdin.read()\n")
    wrapper = tmp_path / "codex"
    wrapper.write_text(
        f'#!/bin/sh\n{sys.executable} {native} "$@"\n'  # a child, not exec: as codex.js spawns
    )
    wrapper.chmod(0o700)
    argv = [str(wrapper), "app-server", "--listen", "stdio://"]
    codex = CodexAppServer()
    codex.argv = argv
    codex.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, start_new_session=True)
    try:
        wait_until(lambda: processes_matching("sleep 593"), timeout=10)
        spared = codex._app_server_pids()
        commands = [p.pid for p in processes_matching("sleep 593")]
        natives = [p.pid for p in processes_matching(str(native))]
        assert len(natives) == 1 and natives[0] != codex.proc.pid
        assert spared == {codex.proc.pid, natives[0]}
        assert not spared & set(commands)
    finally:
        os.killpg(codex.proc.pid, signal.SIGKILL)
        codex.proc.wait()

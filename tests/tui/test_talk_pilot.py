"""Talking to a running job from codex-tui, driven by Textual's pilot: the message line,
interrupt, and the answer to a waiting job's question, through the store's real paths
(`JobStore.steer`, `interrupt`, `answer`: messages in the job's folder, the runner's reply).

The fake codex has no app-server, so the runner's part is played by `StandInRunner`: it
takes the job's messages from its inbox as the runner does, records what the runner
would (the steered message in the output, the turn interrupted, the question answered)
and replies. The app watches the store as it does in real use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input

from jobstore import JobStatus, JobStore
from jobstore.fsio import append_line, remove_if_exists
from jobstore.messages import Inbox, Message, Reply
from tests.tui.test_tui_pilot import make_app, notifications, wait_for
from tests.tui.tui_demo import DemoStore, build_demo_store, item, settle, write_record
from tui.app import CodexTuiApp
from tui.screens.confirm import ConfirmScreen
from tui.widgets.job_detail import JobDetail
from tui.widgets.output_view import OutputLog

Handler = Callable[[JobStore, str, Message], Reply]  # (store, job id, message)


class StandInRunner:
    """Plays a job's runner: each message taken from its inbox, in order, handled by
    `handler` (which records what the runner would) and replied to."""

    def __init__(self, store: JobStore, job_id: str, handler: Handler) -> None:
        self.store = store
        self.inbox = Inbox(store.layout, job_id)
        self.handler = handler
        self.job_id = job_id
        self.taken: list[Message] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StandInRunner:
        self.inbox.ensure()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for message in self.inbox.take():
                self.taken.append(message)
                self.inbox.reply(message.number, self.handler(self.store, self.job_id, message))


def steered(store: JobStore, job_id: str, message: Message) -> Reply:
    """The runner's part of a steer: the message written into the output as codex took it."""
    record = store.get(job_id)
    line = item("item.completed", id=f"steer_{message.number}", type="user_message", text=message.text)
    append_line(store.layout.output(record.job_id), line)
    return Reply(True, "message sent into the running turn")


def interrupted(store: JobStore, job_id: str, message: Message) -> Reply:
    record = store.get(job_id)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    write_record(store, replace(record, status=JobStatus.INTERRUPTED, finished_at=now, question=None))
    remove_if_exists(store.layout.running_marker(record.job_id))
    return Reply(True, "turn interrupted; its commands stopped")


def answered(store: JobStore, job_id: str, message: Message) -> Reply:
    record = store.get(job_id)
    if record.question is None or message.question_id != record.question.get("id"):
        return Reply(False, "already answered: codex has no question waiting")
    write_record(store, replace(record, status=JobStatus.RUNNING, question=None))
    return Reply(True, f"answered {message.decision}")


def refusing(reason: str) -> Handler:
    """A runner that refuses every message (the turn ended, another answer came first)."""
    return lambda store, job_id, message: Reply(False, reason)


async def toast_says(pilot: object, app: CodexTuiApp, text: str) -> None:
    await wait_for(pilot, lambda: any(text in n for n in notifications(app)), what=f"a toast saying {text!r}")


@pytest.fixture
def talk_demo(tmp_path: Path) -> Iterator[DemoStore]:
    yield build_demo_store(tmp_path / "store", talk=True)


async def open_job(pilot: object, demo: DemoStore, name: str) -> str:
    job_id = demo.jobs[name]
    await settle(pilot)  # type: ignore[arg-type]
    pilot.app.jobs_screen.open_job(job_id)  # type: ignore[attr-defined]
    await settle(pilot)  # type: ignore[arg-type]
    return job_id


def shown(app: CodexTuiApp, selector: str) -> bool:
    """Whether a widget is shown: the talk buttons and the message line are made when first
    needed, so one not made yet is not shown."""
    return any(widget.display for widget in app.query(selector))


async def test_a_message_line_steers_the_running_job(talk_demo: DemoStore) -> None:
    app = make_app(talk_demo.store, watch=True)
    with StandInRunner(talk_demo.store, talk_demo.jobs["running"], steered) as runner:
        async with app.run_test(size=(120, 35)) as pilot:
            job_id = await open_job(pilot, talk_demo, "running")
            assert app.query_one("#message-job").display and app.query_one("#interrupt-job").display
            assert not shown(app, "#message-line")
            await pilot.press("m")
            line = app.query_one("#message-line", Input)
            assert line.display and line.has_focus
            await pilot.press(*"use a fake clock")
            await pilot.press("enter")
            await wait_for(pilot, lambda: runner.taken, what="the message taken by the runner")
            assert [(m.kind, m.text) for m in runner.taken] == [("steer", "use a fake clock")]
            assert not line.display and line.value == ""
            await toast_says(pilot, app, "message sent into the running turn")
            # The store writes it into the output: it shows where it was sent.
            log = app.query_one(OutputLog)
            await wait_for(
                pilot,
                lambda: any(line.text == "» use a fake clock" for line in log.lines),
                what="the message in the output",
            )
            assert app.jobs_screen.selected_job_id == job_id

            # The button opens the line too; esc closes it, nothing sent.
            await pilot.click("#message-job")
            assert line.display
            await pilot.press(*"never mind", "escape")
            assert not line.display
            await settle(pilot)
            assert len(runner.taken) == 1


async def test_a_refused_message_is_a_clear_error_and_other_jobs_offer_no_line(talk_demo: DemoStore) -> None:
    app = make_app(talk_demo.store, watch=True)
    with StandInRunner(
        talk_demo.store, talk_demo.jobs["running"], refusing("between turns: no turn to steer")
    ):
        async with app.run_test(size=(120, 35)) as pilot:
            await open_job(pilot, talk_demo, "running")
            await pilot.press("m", *"go on", "enter")
            await toast_says(pilot, app, "no turn to steer")
            # A finished job takes no message: no key, no button, no line.
            await open_job(pilot, talk_demo, "payments_2")
            await pilot.press("m")
            assert not app.query_one("#message-line").display
            assert not app.query_one("#message-job").display
            offered = [b.binding.description for b in app.jobs_screen.active_bindings.values() if b.enabled]
            assert "Cancel" in offered and "Message" not in offered


async def test_a_job_run_as_exec_offers_no_talk(tmp_path: Path) -> None:
    demo = build_demo_store(tmp_path / "store")  # its running job runs `codex exec`
    app = make_app(demo.store)
    async with app.run_test(size=(120, 35)) as pilot:
        await open_job(pilot, demo, "running")
        assert app.query_one("#cancel-job").display
        for button in ("#message-job", "#interrupt-job", "#approve-job", "#deny-job"):
            assert not shown(app, button)
        await pilot.press("m", "i")
        assert not shown(app, "#message-line")
        assert not isinstance(app.screen, ConfirmScreen)


async def test_interrupt_asks_first_then_the_job_ends_interrupted_continuable(
    talk_demo: DemoStore,
) -> None:
    app = make_app(talk_demo.store, watch=True)
    job_id = talk_demo.jobs["running"]
    with StandInRunner(talk_demo.store, job_id, interrupted) as runner:
        async with app.run_test(size=(120, 35)) as pilot:
            await open_job(pilot, talk_demo, "running")
            await pilot.press("i")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("n")
            await pilot.click("#interrupt-job")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("escape")
            await settle(pilot)
            assert runner.taken == []

            await pilot.press("i", "y")
            await wait_for(
                pilot,
                lambda: app.jobs_screen.model.rows[job_id].status == "interrupted",
                what="the interrupted row",
            )
            assert [m.kind for m in runner.taken] == ["interrupt"]
            await settle(pilot)
            assert "interrupted" in app.jobs_screen.table.get_row(job_id)[0].plain
            assert any(n.startswith("Job interrupted") and job_id in n for n in notifications(app))
            detail = app.query_one(JobDetail)
            assert not app.query_one("#interrupt-job").display and not app.query_one("#cancel-job").display
            # Continuable like `done`: the Continue button, and `t` opens the session's form.
            assert detail.row is not None and detail.row.session_id is not None
            assert app.query_one("#continue-job").display
            await pilot.press("t")
            await wait_for(
                pilot, lambda: type(app.screen).__name__ == "ContinueSessionScreen", what="the continue form"
            )


async def test_a_waiting_job_shows_its_question_and_is_answered(talk_demo: DemoStore) -> None:
    app = make_app(talk_demo.store, watch=True)
    job_id = talk_demo.jobs["waiting"]
    with StandInRunner(talk_demo.store, job_id, answered) as runner:
        async with app.run_test(size=(120, 35)) as pilot:
            await open_job(pilot, talk_demo, "waiting")
            question = app.query_one("#detail-question")
            assert question.display
            shown = str(question.render())
            assert "rm -rf build/ docs/_build" in shown and "\x1b" not in shown  # made safe
            detail_text = str(app.query_one("#detail-text").render())
            assert "waits 2m05s" in detail_text  # the job's clock: how long it waits
            assert app.query_one("#approve-job").display and app.query_one("#deny-job").display
            assert not app.query_one("#message-job").display
            assert app.jobs_screen.status_bar.counts["waiting"] == 1

            await pilot.press("plus")
            await wait_for(
                pilot,
                lambda: app.jobs_screen.model.rows[job_id].status == "running",
                what="the job running again",
            )
            assert [(m.kind, m.decision, m.question_id) for m in runner.taken] == [("answer", "approve", 1)]
            await settle(pilot)
            assert not question.display and not app.query_one("#approve-job").display
            assert any("answered approve" in n for n in notifications(app))
            # Nothing left to answer: the keys are not offered, so nothing is sent.
            await pilot.press("minus")
            await settle(pilot)
            assert len(runner.taken) == 1


async def test_a_second_answer_reads_already_answered(talk_demo: DemoStore) -> None:
    # Another client answered first: the runner says so, and the person reads it.
    app = make_app(talk_demo.store, watch=True)
    with StandInRunner(
        talk_demo.store,
        talk_demo.jobs["waiting"],
        refusing("already answered: codex has no question waiting"),
    ) as runner:
        async with app.run_test(size=(120, 35)) as pilot:
            await open_job(pilot, talk_demo, "waiting")
            await pilot.click("#deny-job")
            await toast_says(pilot, app, "already answered")
            assert [(m.kind, m.decision) for m in runner.taken] == [("answer", "deny")]


async def test_a_job_that_starts_waiting_is_announced(talk_demo: DemoStore) -> None:
    store = talk_demo.store
    job_id = talk_demo.jobs["running"]
    app = make_app(store, watch=True, notify_end="bell")
    bells: list[int] = []
    async with app.run_test(size=(120, 35)) as pilot:
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        await settle(pilot)
        record = store.get(job_id)
        question = {"id": 1, "kind": "file_change", "files": ["src/api/retry.py"], "reason": "the fix"}
        write_record(store, replace(record, status=JobStatus.WAITING, question=question))
        await wait_for(
            pilot,
            lambda: any(n.startswith("Job asks") and job_id in n for n in notifications(app)),
            what="the notification",
        )
        assert any("codex asks to change src/api/retry.py (the fix)" in n for n in notifications(app))
        assert bells == [1]  # the same path as an end's: --notify bell rings
        assert app.jobs_screen.model.rows[job_id].status == "waiting"

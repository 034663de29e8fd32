"""The new-job form: prompt, folder and every option `codex_start` offers (approval policy,
sandbox, model, reasoning effort, a worktree of its own); starts a job in the store.

The store's own checks decide what is valid: its InvalidInput and CodexUnavailable
messages are shown in the form as they are, and nothing is started.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Select, Static, TextArea

from jobstore import (
    APPROVAL_POLICIES,
    DEFAULT_APPROVAL_POLICY,
    REASONING_EFFORTS,
    SANDBOXES,
    CodexUnavailable,
    InvalidInput,
    JobStore,
    JobStoreError,
    RunOptions,
)
from tui import format as fmt
from tui.theme import palette_of

# Below this many rows the prompt is shorter (tui/codex_tui.tcss): the whole form fits in 24.
_SHORT_ROWS = 30
# A choice left at this value is not passed on: codex (or the policy) decides.
_DEFAULT = ""


def _choices(values: tuple[str, ...], default_label: str) -> list[tuple[str, str]]:
    return [(default_label, _DEFAULT), *((value, value) for value in values)]


def _choice_field(field_id: str, choices: list[tuple[str, str]], value: str) -> Select[str]:
    return Select(choices, value=value, allow_blank=False, id=field_id, compact=True)


def _chosen(value: object) -> str | None:
    """A select's or an input's value as an option: None when left to the default."""
    text = value.strip() if isinstance(value, str) else ""
    return text or None


class StartJobScreen(ModalScreen[str | None]):
    """Shared by the new-job and continue-session forms: dismisses with the new job's id."""

    BINDINGS = [
        Binding("ctrl+s", "submit", "Start", priority=True),
        Binding("escape", "close", "Cancel", show=False),
    ]

    TITLE_TEXT = "New codex job"

    @dataclass
    class Finished(Message):
        job_id: str | None
        error: str | None

    def __init__(
        self,
        store: JobStore,
        *,
        cwd: str,
        approval_policy: str = DEFAULT_APPROVAL_POLICY,
        sandbox: str | None = None,
        model: str | None = None,
        reasoning_effort: str | None = None,
        animations: bool = True,
        worktree: bool = False,
    ) -> None:
        super().__init__()
        self.store = store
        self.default_worktree = worktree  # a git worktree of the job's own (its Diff tab applies it)
        self.default_cwd = cwd
        self.default_policy = (
            approval_policy if approval_policy in APPROVAL_POLICIES else DEFAULT_APPROVAL_POLICY
        )
        self.default_sandbox = sandbox if sandbox in SANDBOXES else _DEFAULT
        self.default_model = model or ""
        self.default_effort = reasoning_effort if reasoning_effort in REASONING_EFFORTS else _DEFAULT
        self.animations = animations
        self.starting = False

    def compose_intro(self) -> ComposeResult:
        yield from ()

    def compose_cwd(self) -> ComposeResult:
        yield Static("Folder (codex works here)", classes="field-label")
        yield Input(self.default_cwd, id="cwd", compact=True)

    def compose(self) -> ComposeResult:
        with Vertical(id="job-form", classes="dialog"):
            yield from self.compose_intro()
            yield Static("Prompt", classes="field-label")
            yield TextArea(id="prompt", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
            yield from self.compose_cwd()
            with Horizontal(id="policy-row", classes="options-row"):
                yield Static("Approval policy", classes="field-label")
                yield _choice_field("policy", [(p, p) for p in APPROVAL_POLICIES], self.default_policy)
                yield Static("Sandbox", classes="field-label after-field")
                yield _choice_field("sandbox", _choices(SANDBOXES, "the policy's"), self.default_sandbox)
            with Horizontal(id="model-row", classes="options-row"):
                yield Static("Model", classes="field-label")
                yield Input(self.default_model, placeholder="codex's default", id="model", compact=True)
                yield Static("Reasoning effort", classes="field-label after-field")
                yield _choice_field(
                    "effort", _choices(REASONING_EFFORTS, "codex's default"), self.default_effort
                )
            with Horizontal(id="worktree-row", classes="options-row"):
                yield Checkbox(
                    "Worktree: a git worktree of its own, applied or discarded after",
                    self.default_worktree,
                    id="worktree",
                    compact=True,
                )
            yield Static("", id="form-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary")
                yield Button("Cancel (esc)", id="close")

    def on_resize(self, event: Resize) -> None:
        """On a short terminal the prompt gives up rows, so that the buttons still show."""
        self.set_class(event.size.height < _SHORT_ROWS, "-short")

    def on_mount(self) -> None:
        self.query_one("#job-form").border_title = self.TITLE_TEXT
        prompt = self.query_one("#prompt", TextArea)
        if not self.animations:
            prompt.cursor_blink = False
            for field in self.query(Input):
                field.cursor_blink = False
        prompt.focus()

    # ---------------------------------------------------------------- values

    def cwd_value(self) -> str:
        return self.query_one("#cwd", Input).value.strip()

    def session_id(self) -> str | None:
        return None

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(
            Text(fmt.block(message), style=palette_of(self.app).style("error-text", "bold"))
        )

    # ---------------------------------------------------------------- submit

    def action_submit(self) -> None:
        if self.starting:
            return
        try:
            options = RunOptions.checked(
                prompt=self.query_one("#prompt", TextArea).text,
                cwd=self.cwd_value(),
                approval_policy=self.query_one("#policy", Select).value,
                sandbox=_chosen(self.query_one("#sandbox", Select).value),
                model=_chosen(self.query_one("#model", Input).value),
                reasoning_effort=_chosen(self.query_one("#effort", Select).value),
                session_id=self.session_id(),
                worktree=self.query_one("#worktree", Checkbox).value,
            )
        except InvalidInput as exc:
            self.show_error(str(exc))
            return
        self.starting = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#form-error", Static).update(Text("Starting…", style="italic"))

        def work() -> None:
            try:
                record = self.store.start(options)
            except (InvalidInput, CodexUnavailable) as exc:
                self.post_message(self.Finished(None, str(exc)))
            except JobStoreError as exc:
                self.post_message(self.Finished(None, f"the store refused: {exc}"))
            except Exception as exc:  # shown, never a crash of the app
                self.post_message(self.Finished(None, f"could not start the job: {exc!r}"))
            else:
                self.post_message(self.Finished(record.job_id, None))

        self.run_worker(work, thread=True, group="start", exit_on_error=False)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        message.stop()
        self.starting = False
        self.query_one("#start", Button).disabled = False
        if message.job_id is not None:
            self.dismiss(message.job_id)
        else:
            self.show_error(message.error or "could not start the job")

    def action_close(self) -> None:
        if not self.starting:
            self.dismiss(None)

    @on(Input.Changed, "#cwd, #model")
    def _field_changed(self, event: Input.Changed) -> None:
        """An error about a field goes once it is edited (it is checked again on start)."""
        event.stop()
        if not self.starting:
            self.query_one("#form-error", Static).update("")

    @on(Button.Pressed, "#start")
    def _start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_submit()

    @on(Button.Pressed, "#close")
    def _close_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()


class NewJobScreen(StartJobScreen):
    """`n`: a new codex job."""

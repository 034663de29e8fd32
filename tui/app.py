"""codex-tui: the App. It holds the store and the configuration, opens the jobs screen
(`tui.screens.jobs`, where the work is) and offers its actions in the command palette."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from jobstore import JobStore, terminal_safe
from tui.config import TuiConfig
from tui.screens.jobs import JobsScreen


class CodexTuiApp(App[None]):
    """Watch, follow, start and cancel codex jobs of a job store."""

    CSS_PATH = "codex_tui.tcss"
    TITLE = "codex-tui"

    BINDINGS: ClassVar[list[BindingType]] = [
        # The jobs screen shows this key in its footer; here it also quits from a dialog.
        Binding("q", "quit", "Quit", show=False, tooltip="Quit (jobs keep running)"),
    ]

    def __init__(self, config: TuiConfig, *, store: JobStore | None = None) -> None:
        super().__init__()
        self.config = config
        self.store = store or config.open_store()
        if config.theme:
            self.theme = config.theme

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (widgets' and screens' notify come here) is plain text made safe: it
        often quotes stored text (a prompt, a folder, an error), which is neither markup nor
        allowed to reach the terminal raw. `markup` is accepted and ignored."""
        super().notify(
            terminal_safe(message, multiline=True),
            title=terminal_safe(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def get_default_screen(self) -> Screen[None]:
        return JobsScreen(self.store, self.config)

    def on_mount(self) -> None:
        if self.config.team_first:  # `codex-tui --team`: the team's jobs over this machine's
            self.jobs_screen.action_team()

    @property
    def jobs_screen(self) -> JobsScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, JobsScreen)
        return screen

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if screen is not self.jobs_screen and hasattr(screen, "system_commands"):
            yield from screen.system_commands()  # the team view's own
            return
        jobs = self.jobs_screen
        if self.config.redis_url is not None:
            yield SystemCommand(
                "Team jobs", "Every machine's jobs, from the team's Redis (T)", jobs.action_team
            )
        yield SystemCommand("New job", "Start a codex job in the store (n)", jobs.action_new_job)
        yield SystemCommand(
            "Cancel the selected job",
            "Stop a queued or running job, after asking (c)",
            jobs.action_cancel_job,
        )
        yield SystemCommand("Filter jobs", "By text, status or project (/)", jobs.action_filter)
        yield SystemCommand("Clear the filter", "Show every job", jobs.jobs_pane.clear_filter)
        yield SystemCommand(
            "Raw / rendered output", "Switch how the output is shown (r)", jobs.action_toggle_raw
        )
        yield SystemCommand("Follow the output", "Scroll with new output again (f)", jobs.action_follow)
        yield SystemCommand("Jobs / sessions", "Switch between the two views (s)", jobs.action_toggle_view)
        yield SystemCommand(
            "Continue the session", "A new turn in the selected session (t)", jobs.action_continue_session
        )
        yield SystemCommand(
            "Rescan the store", "Compare everything shown with the store (ctrl+r)", jobs.action_rescan
        )
        yield SystemCommand("Keys", "Every key binding (?)", jobs.action_help)

"""The keys of the jobs screen and of the team screen, in the order the footer and the help show them."""

from __future__ import annotations

from textual.binding import Binding, BindingType

JOBS_SCREEN_KEYS: list[BindingType] = [
    # Also an app binding (it quits from dialogs too); here so that it leads the footer.
    Binding("q", "app.quit", "Quit", tooltip="Quit (jobs keep running)"),
    Binding("question_mark", "help", "Keys", key_display="?", tooltip="This list of keys"),
    Binding("slash", "filter", "Filter", key_display="/", tooltip="Filter jobs by text, status or project"),
    Binding("n", "new_job", "New", tooltip="Start a new codex job"),
    Binding("c", "cancel_job", "Cancel", tooltip="Cancel the selected job (asks first)"),
    Binding("a", "apply_job", "Apply", show=False, tooltip="Apply a worktree job's change (asks first)"),
    Binding(
        "x", "discard_job", "Discard", show=False, tooltip="Discard a worktree job's worktree (asks first)"
    ),
    # Shown in the footer only while they apply (the screen's check_action): a running job
    # of codex's app-server takes a message or an interrupt, a waiting one an answer.
    Binding(
        "plus",
        "answer('approve')",
        "Approve",
        key_display="+",
        tooltip="Approve what the waiting job asks (codex goes on)",
    ),
    Binding(
        "minus",
        "answer('deny')",
        "Deny",
        key_display="-",
        tooltip="Deny what the waiting job asks (codex is told no)",
    ),
    Binding("m", "message", "Message", tooltip="Send a message into the running job's turn (steer it)"),
    Binding("i", "interrupt", "Interrupt", tooltip="End the running job's turn (asks first)"),
    Binding("r", "toggle_raw", "Raw", show=False, tooltip="Raw or rendered output"),
    Binding("f", "follow", "Follow output", show=False, tooltip="Follow the output's end again"),
    Binding("y", "copy_job_id", "Copy id", show=False, tooltip="Copy the selected job's id"),
    Binding("Y", "copy_answer", "Copy answer", show=False, tooltip="Copy the selected job's final answer"),
    Binding("o", "open_pager", "Pager", show=False, tooltip="The raw output in $PAGER (less), made safe"),
    Binding("s", "toggle_view", "Sessions", tooltip="Switch between jobs and sessions"),
    Binding("d", "toggle_diff", "Diff", tooltip="Output, or what the job changed in its repository"),
    Binding("t", "continue_session", "Continue", tooltip="Continue the selected session"),
    # Offered (footer, help) only with the team's Redis configured (the screen's check_action).
    Binding("T", "team", "Team", tooltip="The team's jobs, every machine's (from its Redis)"),
    Binding(
        "escape",
        "back",
        "Back",
        show=False,
        tooltip="Back: clear the filter, leave the output or sessions",
    ),
    Binding("ctrl+r", "rescan_now", "Rescan", show=False, tooltip="Compare everything shown with the store"),
]

TEAM_KEY = "team"  # the jobs screen's action to the team view, offered only with a Redis

TEAM_SCREEN_KEYS: list[BindingType] = [
    Binding("q", "app.quit", "Quit", tooltip="Quit (jobs keep running)"),
    Binding("question_mark", "help", "Keys", key_display="?", tooltip="This list of keys"),
    Binding("c", "cancel_job", "Cancel", tooltip="Cancel the selected team job on its machine (asks first)"),
    Binding("T", "local", "This machine", tooltip="Back to this machine's jobs"),
    Binding("f", "follow", "Follow output", show=False, tooltip="Follow the output's end again"),
    Binding("escape", "back", "Back", show=False, tooltip="Back from the output to the team's jobs"),
    Binding("ctrl+r", "relist", "Read again", show=False, tooltip="List the team's jobs from Redis now"),
]

"""Session history: codex sessions with their turns in order; a turn opens its job.

Left, a tree of sessions (most recently active first) and their turns; right, the
highlighted turn in full: prompt, status and codex's final answer (read in a thread).
The view reads the sessions itself, in a thread, when they are stale and it is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Static, Tree
from textual.widgets.tree import TreeNode

from jobstore import JobRecord, JobStatus, JobStore, JobStoreError, SessionInfo
from jobstore.record import parse_iso
from tui import format as fmt
from tui.jobs import short_project
from tui.messages import ContinueSession, OpenJob, SessionsRead
from tui.model import SessionsModel
from tui.theme import palette_of
from tui.workers import Task

SESSIONS_LIMIT = 500


@dataclass(frozen=True)
class NodeData:
    session_id: str
    job_id: str | None = None  # None: the session's own node


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


class SessionTree(Tree[NodeData]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]


class SessionsView(Horizontal):
    """The sessions view."""

    @dataclass
    class FinalLoaded(Message):
        key: tuple[str, str, str | None]  # (job_id, status, finished_at): a new state, a new read
        text: str | None

    def __init__(self, store: JobStore, clock: Callable[[], datetime], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.clock = clock
        self.model = SessionsModel()
        self.shown = False  # the view is the one on screen
        self._finals: dict[tuple[str, str, str | None], str | None] = {}

    def compose(self) -> ComposeResult:
        tree = SessionTree("sessions", id="session-tree")
        tree.show_root = False
        tree.guide_depth = 3
        yield tree
        with Vertical(id="session-side"):
            with VerticalScroll(id="session-detail-scroll"):
                yield Static("Reading sessions…", id="session-detail")
            with Horizontal(id="session-buttons"):
                yield Button("Open job", id="open-turn", compact=True)
                yield Button("Continue session (t)", id="continue-session", variant="primary", compact=True)

    def on_mount(self) -> None:
        self.query_one("#session-tree").border_title = "Sessions"
        self.query_one("#session-side").border_title = "Turn"

    @property
    def session_tree(self) -> SessionTree:
        return self.query_one(SessionTree)

    @property
    def sessions(self) -> dict[str, SessionInfo]:
        return self.model.sessions

    # ------------------------------------------------------------------ reading

    def show(self, shown: bool) -> None:
        """The view was switched to (True) or away from (False)."""
        self.shown = shown
        if shown:
            self._read()

    def invalidate(self) -> None:
        """A session may have changed: read the sessions again now if shown, else when shown."""
        self.model.invalidate()
        if self.shown:
            self._read()

    def _read(self) -> None:
        if self.model.begin_read():
            self.run_worker(
                self._read_sessions,
                thread=True,
                group=Task.SESSIONS,
                name="read the sessions",
                exit_on_error=False,
            )

    def _read_sessions(self) -> None:
        self.post_message(SessionsRead(self.store.sessions(limit=SESSIONS_LIMIT)))

    def read_failed(self) -> None:
        self.model.read_failed()

    @on(SessionsRead)
    def _sessions_read(self, message: SessionsRead) -> None:
        message.stop()
        sessions = message.sessions
        change = self.model.update(sessions)
        tree = self.session_tree
        if change.rebuild:
            self._rebuild(sessions)
        else:
            for session in change.changed:
                self._update_node(session)
        if self.model.stale and self.shown:
            self._read()
        if not sessions:
            self.query_one("#session-detail", Static).update(
                Text(
                    "No sessions yet. A session appears here once codex has started a job's "
                    "thread; its later turns (t: continue) are listed under it.",
                    style="dim",
                )
            )
        elif tree.cursor_node is not None:
            self._show_detail(tree.cursor_node.data)

    def _session_nodes(self) -> dict[str, TreeNode[NodeData]]:
        return {n.data.session_id: n for n in self.session_tree.root.children if n.data is not None}

    def _rebuild(self, sessions: list[SessionInfo]) -> None:
        tree = self.session_tree
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        collapsed = {sid for sid, node in self._session_nodes().items() if not node.is_expanded}
        tree.clear()
        target: TreeNode[NodeData] | None = None
        for session in sessions:
            node = tree.root.add(
                self._session_label(session),
                NodeData(session.session_id),
                expand=session.session_id not in collapsed,
            )
            self._add_turns(node, session)
            if cursor is not None and cursor.session_id == session.session_id:
                target = node
                for child in node.children:
                    if child.data is not None and child.data.job_id == cursor.job_id:
                        target = child
        if target is not None:
            tree.move_cursor(target)
        elif sessions:
            tree.move_cursor(tree.root.children[0])

    def _update_node(self, session: SessionInfo) -> None:
        node = self._session_nodes().get(session.session_id)
        if node is None:
            return
        tree = self.session_tree
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        node.set_label(self._session_label(session))
        node.remove_children()
        self._add_turns(node, session)
        if cursor is not None and cursor.session_id == session.session_id and cursor.job_id:
            for child in node.children:
                if child.data is not None and child.data.job_id == cursor.job_id:
                    tree.move_cursor(child)

    def refresh_ages(self) -> None:
        """The clock moved: redraw the sessions' "… ago"."""
        for session_id, node in self._session_nodes().items():
            session = self.sessions.get(session_id)
            if session is not None:
                label = self._session_label(session)
                if label != node.label:
                    node.set_label(label)

    def _add_turns(self, node: TreeNode[NodeData], session: SessionInfo) -> None:
        for number, turn in enumerate(session.turns, 1):
            node.add_leaf(self._turn_label(number, turn), NodeData(session.session_id, turn.job_id))

    def redraw(self) -> None:
        """Draw every label again (the theme changed)."""
        self._rebuild(list(self.model.sessions[sid] for sid in self.model.order))
        self._show_detail(self.selected())

    def _session_label(self, session: SessionInfo) -> Text:
        palette = palette_of(self.app)
        last = session.turns[-1]
        mark, style = palette.status(last.status)
        updated = parse_iso(session.updated_at)
        turns = len(session.turns)
        return Text.assemble(
            (f"{mark} ", style),
            (session.session_id[:8], palette.style("session", "bold")),
            f"  {short_project(session.cwd)}",
            (f"  {turns} turn{'s' if turns != 1 else ''}", "dim"),
            (f"  {fmt.age(updated, self.clock())} ago", "dim"),
        )

    def _turn_label(self, number: int, turn: JobRecord) -> Text:
        mark, style = palette_of(self.app).status(turn.status)
        return Text.assemble(
            (f"{mark} ", style),
            (f"{number}. ", "dim"),
            fmt.one_line(_first_line(turn.prompt), 80),
        )

    # ---------------------------------------------------------------- detail

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        event.stop()
        self._show_detail(event.node.data)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.job_id is not None:
            self.post_message(OpenJob(data.job_id))

    def selected(self) -> NodeData | None:
        node = self.session_tree.cursor_node
        return node.data if node is not None else None

    def _show_detail(self, data: NodeData | None) -> None:
        detail = self.query_one("#session-detail", Static)
        side = self.query_one("#session-side")
        self.query_one("#open-turn", Button).display = data is not None and data.job_id is not None
        if data is None or data.session_id not in self.sessions:
            detail.update("")
            return
        session = self.sessions[data.session_id]
        now = self.clock()
        palette = palette_of(self.app)
        text = Text()
        text.append("session ", style="dim")
        text.append(session.session_id, style=palette.style("session", "bold"))
        text.append(f"\n{session.cwd}", style="dim")
        if data.job_id is None:
            side.border_title = "Session"
            count = len(session.turns)
            text.append(f"\n\n{count} turn{'s' if count != 1 else ''}, oldest first:\n", style="dim")
            for number, turn in enumerate(session.turns, 1):
                mark, style = palette.status(turn.status)
                text.append(f"\n{mark} {number}. ", style=style)
                text.append(f"{turn.job_id}  ", style="dim")
                text.append(fmt.one_line(_first_line(turn.prompt), 100))
            detail.update(text)
            return
        number, turn = next(
            ((i, t) for i, t in enumerate(session.turns, 1) if t.job_id == data.job_id),
            (0, session.turns[-1]),
        )
        side.border_title = f"Turn {number} of {len(session.turns)}"
        mark, style = palette.status(turn.status)
        text.append("\n\n")
        text.append(f"{mark} {turn.status}", style=style)
        text.append(f"  job {turn.job_id}  {fmt.age(parse_iso(turn.created_at), now)} ago", style="dim")
        text.append("\n\nPrompt\n", style="bold")
        text.append(turn.prompt.strip())
        if turn.error and turn.status != JobStatus.DONE:
            text.append("\n\nError\n", style=palette.style("error-text", "bold"))
            text.append(turn.error, style=palette.style("error-text"))
        text.append("\n\nFinal answer\n", style="bold")
        key = (turn.job_id, str(turn.status), turn.finished_at)
        if key in self._finals:
            final = self._finals[key]
            text.append(final.strip() if final else "(none yet)", style="" if final else "dim")
        else:
            text.append("…", style="dim")
            self._load_final(key)
        detail.update(text)

    def _load_final(self, key: tuple[str, str, str | None]) -> None:
        def work() -> None:
            try:
                final = self.store.final_message(key[0])
            except (JobStoreError, OSError):
                final = None
            self.post_message(self.FinalLoaded(key, final))

        self.run_worker(
            work, thread=True, group=Task.FINAL, name="read the final answer", exit_on_error=False
        )

    @on(FinalLoaded)
    def _final_loaded(self, message: FinalLoaded) -> None:
        message.stop()
        self._finals[message.key] = message.text
        selected = self.selected()
        if selected is not None and selected.job_id == message.key[0]:
            self._show_detail(selected)

    # ---------------------------------------------------------------- buttons

    @on(Button.Pressed, "#open-turn")
    def _open(self, event: Button.Pressed) -> None:
        event.stop()
        data = self.selected()
        if data is not None and data.job_id is not None:
            self.post_message(OpenJob(data.job_id))

    @on(Button.Pressed, "#continue-session")
    def _continue(self, event: Button.Pressed) -> None:
        event.stop()
        data = self.selected()
        if data is not None:
            self.post_message(ContinueSession(data.session_id))

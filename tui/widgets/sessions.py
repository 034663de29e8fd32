"""Session history: the store's sessions and codex's own, each readable as its conversation.

Left, a tree of sessions, the most recently active first (the age each row shows is the
order): the store's sessions with their turns under them, and codex's own sessions (from
CODEX_HOME, marked as not started here). Right, the highlighted session as the conversation
it was (`tui.widgets.conversation`); a turn node scrolls to that turn. The view reads the
sessions itself, in a thread, when they are stale and it is shown, and looks for new codex
sessions with each clock tick while shown (a listing of names: cheap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode
from textual.worker import Worker

from jobstore import (
    CodexSessions,
    Conversation,
    JobRecord,
    JobStore,
    JobStoreError,
    RolloutFile,
    RolloutHead,
    SessionInfo,
    conversation_of_session,
    parse_iso,
    terminal_safe,
)
from tui import format as fmt
from tui.jobs import short_project
from tui.messages import ContinueSession, OpenJob
from tui.model import SessionsModel
from tui.theme import palette_of
from tui.widgets.conversation import ConversationView
from tui.workers import Task, failed_worker

SESSIONS_LIMIT = 500
CODEX_SESSIONS_LIMIT = 200
CODEX_MARK = "◇"
NARROW = 100  # columns


@dataclass(frozen=True)
class NodeData:
    session_id: str
    job_id: str | None = None  # None: the session's own node
    turn: int = 0  # the turn's number (1-based); 0: the session's own node


@dataclass(frozen=True)
class SessionRow:
    """A session in the list: one of the store's (`ours`) or one of codex's own (`rollout`)."""

    session_id: str
    updated: datetime | None
    ours: SessionInfo | None = None
    rollout: RolloutFile | None = None
    head: RolloutHead | None = None

    @property
    def signature(self) -> tuple[object, ...]:
        if self.ours is not None:
            return tuple((t.job_id, str(t.status), t.finished_at) for t in self.ours.turns)
        assert self.rollout is not None
        return (self.rollout.modified, self.rollout.size)


def session_rows(ours: list[SessionInfo], codex: list[tuple[RolloutFile, RolloutHead]]) -> list[SessionRow]:
    """Both kinds in one list, by the last activity each row shows, newest first."""
    rows = [SessionRow(s.session_id, parse_iso(s.updated_at), ours=s) for s in ours]
    rows += [
        SessionRow(r.session_id, datetime.fromtimestamp(r.modified, UTC), rollout=r, head=h) for r, h in codex
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: (row.updated or oldest, row.session_id), reverse=True)
    return rows


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
    class Listed(Message):
        ours: list[SessionInfo]
        codex: list[tuple[RolloutFile, RolloutHead]]

    @dataclass
    class ConversationRead(Message):
        key: tuple[object, ...]
        conversation: Conversation | None
        error: str | None = None

    def __init__(
        self,
        store: JobStore,
        clock: Callable[[], datetime],
        *,
        codex: CodexSessions | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.store = store
        self.clock = clock
        self.codex = codex
        self.model = SessionsModel()
        self.rows: dict[str, SessionRow] = {}
        self.order: list[str] = []
        self.shown = False  # the view is the one on screen
        self._conversations: dict[tuple[object, ...], Conversation] = {}
        self._showing: tuple[object, ...] | None = None  # the key of the conversation drawn
        self._wanted: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        tree = SessionTree("sessions", id="session-tree")
        tree.show_root = False
        tree.guide_depth = 3
        yield tree
        yield ConversationView(self.clock, id="conversation")

    def on_mount(self) -> None:
        self.query_one("#session-tree").border_title = "Sessions"
        self.conversation_view.border_title = "Conversation"
        if self.shown:  # made on being shown (JobsScreen): the list takes the focus
            self.session_tree.focus()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < NARROW, "narrow")  # the tree over the conversation

    @property
    def session_tree(self) -> SessionTree:
        return self.query_one(SessionTree)

    @property
    def conversation_view(self) -> ConversationView:
        return self.query_one(ConversationView)

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
        ours = self.store.sessions(limit=SESSIONS_LIMIT) if self.store.root.is_dir() else []
        codex: list[tuple[RolloutFile, RolloutHead]] = []
        if self.codex is not None:
            known = {s.session_id for s in ours}
            for rollout in self.codex.rollouts(limit=CODEX_SESSIONS_LIMIT + len(known)):
                if rollout.session_id not in known and len(codex) < CODEX_SESSIONS_LIMIT:
                    codex.append((rollout, self.codex.head(rollout)))
        self.post_message(self.Listed(ours, codex))

    def read_failed(self) -> None:
        self.model.read_failed()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A read that failed is reported, and a sessions read released (the next one reads)."""
        worker = failed_worker(self, event)
        if worker is not None and worker.group == Task.SESSIONS:
            self.read_failed()

    @on(Listed)
    def _listed(self, message: Listed) -> None:
        message.stop()
        self.model.update(message.ours)
        rows = session_rows(message.ours, message.codex)
        order = [row.session_id for row in rows]
        changed = order != self.order or any(
            self.rows.get(row.session_id) is None or self.rows[row.session_id].signature != row.signature
            for row in rows
        )
        self.rows = {row.session_id: row for row in rows}
        self.order = order
        if changed:
            self._rebuild()
        if self.model.stale and self.shown:
            self._read()
        if not rows:
            self._wanted = None
            self.call_later(
                self.conversation_view.show,
                None,
                "No sessions yet. A session appears here once codex has started a job's thread "
                "(its later turns, t: continue, are listed under it), and codex's own sessions "
                "from CODEX_HOME appear beside them.",
            )
        else:
            self._show_conversation(self.selected())

    def _session_nodes(self) -> dict[str, TreeNode[NodeData]]:
        return {n.data.session_id: n for n in self.session_tree.root.children if n.data is not None}

    def _rebuild(self) -> None:
        tree = self.session_tree
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        collapsed = {sid for sid, node in self._session_nodes().items() if not node.is_expanded}
        tree.clear()
        target: TreeNode[NodeData] | None = None
        for session_id in self.order:
            row = self.rows[session_id]
            data = NodeData(session_id)
            if row.ours is None:
                node = tree.root.add_leaf(self._session_label(row), data)
            else:
                node = tree.root.add(self._session_label(row), data, expand=session_id not in collapsed)
                for number, turn in enumerate(row.ours.turns, 1):
                    child = node.add_leaf(
                        self._turn_label(number, turn), NodeData(session_id, turn.job_id, number)
                    )
                    if (
                        cursor is not None
                        and cursor.session_id == session_id
                        and cursor.job_id == turn.job_id
                    ):
                        target = child
            if target is None and cursor is not None and cursor.session_id == session_id:
                target = node
        if target is not None:
            tree.move_cursor(target)
        elif self.order:
            tree.move_cursor(tree.root.children[0])

    def refresh_ages(self) -> None:
        """The clock moved: redraw the sessions' "… ago", and look for new codex sessions."""
        for session_id, node in self._session_nodes().items():
            row = self.rows.get(session_id)
            if row is not None:
                label = self._session_label(row)
                if label != node.label:
                    node.set_label(label)
        if self.codex is not None:
            self.invalidate()

    def redraw(self) -> None:
        """Draw every label again (the theme changed)."""
        self._rebuild()
        self._showing = None
        self._show_conversation(self.selected())

    def _session_label(self, row: SessionRow) -> Text:
        palette = palette_of(self.app)
        age = f"  {fmt.age(row.updated, self.clock())} ago" if row.updated else ""
        if row.ours is not None:
            mark, style = palette.status(row.ours.turns[-1].status)
            turns = len(row.ours.turns)
            return Text.assemble(
                (f"{mark} ", style),
                (fmt.short_session(row.session_id), palette.style("session", "bold")),
                f"  {terminal_safe(short_project(row.ours.cwd))}",
                (f"  {turns} turn{'s' if turns != 1 else ''}", "dim"),
                (age, "dim"),
            )
        head = row.head or RolloutHead()
        return Text.assemble(
            (f"{CODEX_MARK} ", palette.style("notice")),
            (fmt.short_session(row.session_id), palette.style("session", "bold")),
            f"  {terminal_safe(short_project(head.cwd)) if head.cwd else '?'}",
            ("  codex", palette.style("notice")),
            (age, "dim"),
            f"  {fmt.one_line(_first_line(head.first_prompt), 60)}",
        )

    def _turn_label(self, number: int, turn: JobRecord) -> Text:
        mark, style = palette_of(self.app).status(turn.status)
        return Text.assemble(
            (f"{mark} ", style), (f"{number}. ", "dim"), fmt.one_line(_first_line(turn.prompt), 80)
        )

    # ---------------------------------------------------------------- conversation

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[NodeData]) -> None:
        event.stop()
        self._show_conversation(event.node.data)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[NodeData]) -> None:
        event.stop()
        data = event.node.data
        if data is not None and data.job_id is not None:
            self.post_message(OpenJob(data.job_id))

    def selected(self) -> NodeData | None:
        node = self.session_tree.cursor_node
        return node.data if node is not None else None

    def selected_row(self) -> SessionRow | None:
        data = self.selected()
        return self.rows.get(data.session_id) if data is not None else None

    def _key(self, row: SessionRow) -> tuple[object, ...]:
        return (row.session_id, row.signature)

    def _show_conversation(self, data: NodeData | None) -> None:
        row = self.rows.get(data.session_id) if data is not None else None
        if row is None:
            return
        key = self._key(row)
        self._wanted = key
        if key == self._showing:
            self._scroll_to_node_turn(data)
            return
        known = self._conversations.get(key)
        if known is not None:
            self._draw(key, known, data)
            return
        self.run_worker(
            lambda: self._read_conversation(key, row),
            thread=True,
            group=Task.FINAL,
            name="read the conversation",
            exit_on_error=False,
        )

    def _read_conversation(self, key: tuple[object, ...], row: SessionRow) -> None:
        try:
            if row.ours is not None:
                conversation = conversation_of_session(self.store, row.ours)
            else:
                assert self.codex is not None and row.rollout is not None
                conversation = self.codex.conversation(row.rollout)
        except (JobStoreError, OSError) as exc:
            self.post_message(self.ConversationRead(key, None, str(exc)))
        else:
            self.post_message(self.ConversationRead(key, conversation))

    @on(ConversationRead)
    def _conversation_read(self, message: ConversationRead) -> None:
        message.stop()
        if message.conversation is not None:
            self._conversations[message.key] = message.conversation
        if message.key != self._wanted:
            return  # the cursor moved on meanwhile
        if message.conversation is None:
            self._showing = None
            self.call_later(self.conversation_view.show, None, f"Could not read the session: {message.error}")
        else:
            self._draw(message.key, message.conversation, self.selected())

    def _draw(self, key: tuple[object, ...], conversation: Conversation, data: NodeData | None) -> None:
        self._showing = key

        async def draw() -> None:
            await self.conversation_view.show(conversation)
            self.conversation_view.scroll_home(animate=False)
            self._scroll_to_node_turn(data)

        self.call_later(draw)

    def _scroll_to_node_turn(self, data: NodeData | None) -> None:
        if data is not None and data.turn:
            self.call_after_refresh(self.conversation_view.scroll_to_turn, data.turn)

    @on(ConversationView.OpenTurnJob)
    def _open(self, message: ConversationView.OpenTurnJob) -> None:
        message.stop()
        self.post_message(OpenJob(message.job_id))

    @on(ConversationView.ContinueConversation)
    def _continue(self, message: ConversationView.ContinueConversation) -> None:
        message.stop()
        self.post_message(ContinueSession(message.session_id))

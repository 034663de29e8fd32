"""Pictures of codex-tui's views, taken from the real app on a demo store it builds.

    .venv/bin/python screenshots/make_screenshots.py [OUT_DIR] [NAME ...]

NAMEs (e.g. 19-steered 20-waiting) take only those pictures.

Writes one SVG per view (Textual's own screenshot), and a PNG next to each when
`rsvg-convert` is installed (`apt-get install librsvg2-bin`). The demo is the one the
snapshot tests use: a store with fixed ids and times and one job in every status, a recorded
working-tree diff for one job, and a CODEX_HOME holding a real rollout of codex's own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jobstore import Settings  # noqa: E402
from tests.tui.conversation_demo import CODEX_SESSION_ID, build_conversation_demo, demo_codex_home  # noqa: E402
from tests.tui.tui_demo import NOW, DemoStore, as_worktree_job, settle, tui_config  # noqa: E402
from tui.app import CodexTuiApp  # noqa: E402
from tui.widgets.sessions import SessionTree  # noqa: E402

Action = tuple[str, ...] | Callable[[CodexTuiApp], None]


@dataclass(frozen=True)
class View:
    name: str
    title: str
    actions: tuple[Action, ...] = ()
    size: tuple[int, int] = (120, 35)
    empty_store: bool = False
    talk: bool = False  # on the demo whose running job was steered and another job waits
    # Changes the demo store just before this view is taken (later views see the change too).
    prepare: Callable[[DemoStore], object] | None = None


def select_session(session_id: str) -> Callable[[CodexTuiApp], None]:
    def select(app: CodexTuiApp) -> None:
        tree = app.query_one(SessionTree)
        tree.move_cursor(next(n for n in tree.root.children if n.data and n.data.session_id == session_id))

    return select


def views(demo: DemoStore) -> list[View]:
    jobs = demo.jobs

    def open_job(job_id: str) -> Callable[[CodexTuiApp], None]:
        return lambda app: app.jobs_screen.open_job(job_id)

    return [
        View("01-jobs", "Jobs in every status, newest first; counts per status on top"),
        View("02-running-output", "A running job's output, rendered from codex's event stream", (("j",),)),
        View(
            "03-finished-output",
            "A finished job: commands, file changes, the answer, token usage",
            (lambda app: app.jobs_screen.open_job(jobs["payments_2"]),),
        ),
        View("04-raw-output", "The same output raw (r)", (("j", "r"),)),
        View("05-sessions", "Session history: turns in order, the final answer", (("s", *["down"] * 6),)),
        View("06-cancel", "Cancel asks first (y / n / esc)", (("j", "c"),)),
        View("07-filter", "Filter by text, status or project (/)", (("slash", *"project:api", "enter"),)),
        View("08-new-job", "Starting a new job", (("n",),)),
        View("09-continue-session", "Continuing a session with a new prompt", (("s", "t"),)),
        View("10-help", "Every key (?)", (("question_mark",),)),
        View("11-small-terminal", "An 80x24 terminal", (("j",),), size=(80, 24)),
        View("12-empty-store", "A store that does not exist yet: waiting for jobs", empty_store=True),
        View(
            "13-conversation",
            "A session as its conversation: each turn's prompt, answer, commands and changes",
            (("s",), select_session(demo.sessions["payments"])),
        ),
        View(
            "14-codex-session",
            "A session codex ran on its own, read from CODEX_HOME, as a conversation",
            (("s",), select_session(CODEX_SESSION_ID)),
        ),
        View(
            "15-diff",
            "What a job changed in its git repository (Diff tab, d)",
            (open_job(jobs["payments_2"]), ("d",)),
        ),
        View(
            "16-search",
            "Search in the output (/), every match highlighted, n / N between hits",
            (open_job(jobs["running"]), ("enter",), ("home",), ("slash", *"test"), ("enter",)),
        ),
        View(
            "17-narrow-jobs",
            "A 60-column terminal: the prompt keeps its room",
            (open_job(jobs["deps"]),),
            size=(60, 24),
        ),
        View(
            "18-narrow-sessions",
            "A 60-column terminal: the sessions and a conversation",
            (("s",), select_session(CODEX_SESSION_ID)),
            size=(60, 24),
        ),
        View(
            "19-steered",
            "A running job steered: the person's message (») in its output, the next one typed (m)",
            (open_job(jobs["running"]), ("m", *"run the whole suite too")),
            talk=True,
        ),
        View(
            "20-waiting",
            "A job waiting for an answer: codex's question, how long it waits, Approve / Deny (+ / -)",
            (open_job(jobs["waiting"]),),
            talk=True,
        ),
        View(
            "21-worktree-diff",
            "A worktree job's Diff tab: its worktree and branch, Apply (a) and Discard (x)",
            (open_job(jobs["payments_2"]), ("d",)),
            prepare=lambda demo: as_worktree_job(demo, "payments_2"),
        ),
    ]


async def take(view: View, store_root: Path, out_dir: Path) -> Path:
    root = Path("/nonexistent/codex-tui-demo/store") if view.empty_store else store_root
    config = tui_config(root, now=NOW, launch_cwd=Path("/home/dev/src/api"))
    # codex's own sessions come from the demo's CODEX_HOME, never from the user's.
    settings = Settings(store_root=root, codex_home=demo_codex_home(store_root))
    app = CodexTuiApp(dataclasses.replace(config, settings=settings))
    async with app.run_test(size=view.size) as pilot:
        await settle(pilot)
        for action in view.actions:
            if isinstance(action, tuple):
                await pilot.press(*action)
            else:
                action(app)
            await settle(pilot)
            await pilot.pause(0.1)  # a pushed screen: let it finish its first paint
            await settle(pilot)
        svg = out_dir / f"{view.name}.svg"
        app.save_screenshot(filename=svg.name, path=str(out_dir))
    return svg


def to_png(svg: Path) -> Path | None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        return None
    # Textual writes spaces as &#160; inside <text>; without xml:space librsvg drops them.
    text = svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as tmp:
        tmp.write(text)
    png = svg.with_suffix(".png")
    try:
        subprocess.run([converter, tmp.name, "-o", str(png)], check=True)
    finally:
        Path(tmp.name).unlink()
    return png


async def main(out_dir: Path, only: set[str]) -> list[tuple[View, Path, Path | None]]:
    """Take every view (or only the ones named) into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "demo").mkdir()
        (Path(tmp) / "talk").mkdir()
        demo = build_conversation_demo(Path(tmp) / "demo")
        talk_demo = build_conversation_demo(Path(tmp) / "talk", talk=True)
        # The same names and ids in both: the views are listed from the talk one.
        for view in views(talk_demo):
            if only and view.name not in only:
                continue
            shown = talk_demo if view.talk else demo
            if view.prepare is not None:
                view.prepare(shown)
            svg = await take(view, shown.store.root, out_dir)
            taken.append((view, svg, to_png(svg)))
            print(f"{svg.name}: {view.title}")
    return taken


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    results: list[Any] = asyncio.run(main(target, set(sys.argv[2:])))
    if results and results[0][2] is None:
        print("rsvg-convert not found: SVG only (apt-get install librsvg2-bin for PNGs)")

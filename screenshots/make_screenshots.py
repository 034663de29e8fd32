"""Pictures of codex-tui's views, taken from the real app on a demo store it builds.

    .venv/bin/python screenshots/make_screenshots.py [OUT_DIR]

Writes one SVG per view (Textual's own screenshot), and a PNG next to each when
`rsvg-convert` is installed (`apt-get install librsvg2-bin`). The demo store is the
one the snapshot tests use: fixed ids and times, one job in every status.
"""

from __future__ import annotations

import asyncio
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

from tests.tui.tui_demo import NOW, DemoStore, build_demo_store, settle, tui_config  # noqa: E402
from tui.app import CodexTuiApp  # noqa: E402

Action = tuple[str, ...] | Callable[[CodexTuiApp], None]


@dataclass(frozen=True)
class View:
    name: str
    title: str
    actions: tuple[Action, ...] = ()
    size: tuple[int, int] = (120, 35)
    empty_store: bool = False


def views(demo: DemoStore) -> list[View]:
    jobs = demo.jobs
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
    ]


async def take(view: View, store_root: Path, out_dir: Path) -> Path:
    root = Path("/nonexistent/codex-tui-demo/store") if view.empty_store else store_root
    config = tui_config(root, now=NOW, launch_cwd=Path("/home/dev/src/api"))
    app = CodexTuiApp(config)
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


async def main(out_dir: Path) -> list[tuple[View, Path, Path | None]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    taken = []
    with tempfile.TemporaryDirectory() as tmp:
        demo = build_demo_store(Path(tmp) / "store")
        for view in views(demo):
            svg = await take(view, demo.store.root, out_dir)
            taken.append((view, svg, to_png(svg)))
            print(f"{svg.name}: {view.title}")
    return taken


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    results: list[Any] = asyncio.run(main(target))
    if results and results[0][2] is None:
        print("rsvg-convert not found: SVG only (apt-get install librsvg2-bin for PNGs)")

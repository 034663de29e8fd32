"""`codex-tui` / `python -m tui`: watch, follow, start and cancel codex jobs.

The one place the UI's configuration is assembled: jobstore's `Settings` (the environment),
the team's Redis address (`CODEX_ASYNC_REDIS`) and the command line make a `TuiConfig`;
nothing else in tui reads the environment.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from jobstore import InvalidInput, Settings
from team import ENV_REDIS, check_redis_url, redis_url_from_env
from tui import __version__
from tui.config import NOTIFY_CHOICES, TuiConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="codex-tui",
        description="A terminal UI for codex-async jobs: watch them live, read their output, "
        "start, continue and cancel them.",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="the job store folder (default: $CODEX_ASYNC_HOME or ~/.codex-async); it may not exist yet",
    )
    parser.add_argument(
        "--codex-bin", default=None, help="the codex binary for new jobs (default: $CODEX_BIN, PATH)"
    )
    parser.add_argument(
        "--no-watch", action="store_true", help="do not watch files; rescan every few seconds"
    )
    parser.add_argument("--no-spinner", action="store_true", help="a static marker for running jobs")
    parser.add_argument(
        "--notify",
        choices=NOTIFY_CHOICES,
        default="toast",
        help="when a job ends or fails: a toast (always), and the terminal bell (bell) or a desktop "
        "notification through notify-send (desktop)",
    )
    parser.add_argument(
        "--team",
        action="store_true",
        help="open on the team's jobs (the queue on Redis: every machine's jobs, their output live); "
        "needs --redis or $CODEX_ASYNC_REDIS",
    )
    parser.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="the team's Redis (default: $CODEX_ASYNC_REDIS); with it, T switches to the team's jobs",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="open the UI on a fresh temporary store where a SIMULATED codex (no model, no network) "
        "plays example jobs; everything is removed on quit",
    )
    parser.add_argument(
        "--demo-speed",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="with --demo: multiplies the simulated codex's pauses (0.1 plays ten times faster)",
    )
    parser.add_argument("--version", action="version", version=f"codex-tui {__version__}")
    args = parser.parse_args(argv)
    if not args.demo_speed > 0:
        parser.error(f"--demo-speed must be greater than zero, not {args.demo_speed}")
    return args


def config_from_args(args: argparse.Namespace, settings: Settings, redis_url: str | None = None) -> TuiConfig:
    """The settings, with what the command line says instead."""
    if args.store is not None:
        settings = replace(settings, store_root=args.store)
    if args.codex_bin is not None:
        settings = replace(settings, codex_bin=args.codex_bin)
    return TuiConfig(
        settings,
        watch=not args.no_watch,
        spinner=not args.no_spinner,
        rescan_seconds=3.0 if args.no_watch else 15.0,
        notify_end=args.notify,
        redis_url=redis_url,
        team_first=args.team,
    )


def team_redis_url(args: argparse.Namespace) -> str | None:
    """The team's Redis: `--redis`, else $CODEX_ASYNC_REDIS (checked); InvalidInput when
    `--team` has none or the address is refused."""
    url = check_redis_url(args.redis) if args.redis is not None else redis_url_from_env()
    if args.team and url is None:
        raise InvalidInput(f"--team needs the team's Redis: give --redis URL or set {ENV_REDIS}")
    return url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
    except InvalidInput as exc:
        print(f"codex-tui: {exc}", file=sys.stderr)
        return 2
    if args.demo:
        return run_demo(args, settings)
    try:
        redis_url = team_redis_url(args)
    except InvalidInput as exc:
        print(f"codex-tui: {exc}", file=sys.stderr)
        return 2
    config = config_from_args(args, settings, redis_url)
    from tui.app import CodexTuiApp  # Textual loads only when the UI runs

    CodexTuiApp(config).run()
    return 0


def run_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The real app on a temporary store, with the simulated codex playing jobs into it."""
    import threading

    from tui.app import CodexTuiApp
    from tui.demo import setup

    env = setup.prepare(speed=args.demo_speed)
    demo = replace(settings, store_root=env.store_root, codex_bin=str(env.codex_bin))
    args.store, args.codex_bin = None, None  # the demo's store and codex, whatever was asked
    config = replace(config_from_args(args, demo), launch_cwd=env.project)
    store = config.open_store()
    stop = threading.Event()
    app = CodexTuiApp(config, store=store)
    # On `q`, on a closed terminal (SIGHUP) and on SIGTERM alike: cancel the demo's jobs and
    # remove its temporary store.
    with setup.quit_on_signals(app.exit):
        try:
            player = threading.Thread(
                target=setup.play, args=(store, env.project), kwargs={"stop": stop}, daemon=True
            )
            player.start()
            app.run()
        finally:
            setup.shutdown(store, env, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

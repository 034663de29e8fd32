"""`codex-async-mcp` / `python -m mcp_server`: serve the job store over MCP on stdio.

stdout carries the protocol and nothing else: logs go to stderr (and to
`$CODEX_ASYNC_LOG_FILE` when set), and no banner is shown. The environment is read
once, by `jobstore.settings.Settings`; everything below takes settings objects.

Run as a process, the stdio front (`mcp_server.front`) starts before anything heavy is
imported (the job store included), and answers the client's opening request
(`initialize`, `server/discover`) meanwhile.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from mcp_server import __version__
from mcp_server.front import Front, wants_to_serve

# Whatever this module needs beyond the above (the job store, argparse, logging, pathlib,
# FastMCP) is imported where it is used: the front starts before any of it is loaded.

if TYPE_CHECKING:
    import argparse
    import logging
    from pathlib import Path

    from fastmcp import FastMCP

    from jobstore import JobStore
    from team import TeamClient


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    import argparse
    from pathlib import Path

    from jobstore import LOG_LEVELS

    parser = argparse.ArgumentParser(
        prog="codex-async-mcp",
        description="MCP server (stdio) that runs OpenAI Codex jobs in the background.",
        epilog="Environment: CODEX_ASYNC_HOME (store folder, default ~/.codex-async), CODEX_BIN "
        "(codex binary), CODEX_ASYNC_MAX_JOBS (jobs at once), CODEX_ASYNC_MAX_POLICY (most "
        "permissive approval policy accepted: suggest, auto-edit or full-auto), "
        "CODEX_ASYNC_CANCEL_GRACE (seconds), CODEX_ASYNC_LOG_FILE (also log to this file), "
        "CODEX_ASYNC_REDIS (a team's Redis: codex_start puts jobs on the team's queue).",
    )
    parser.add_argument(
        "--store", metavar="DIR", type=Path, help="the job store folder (overrides CODEX_ASYNC_HOME)"
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, type=str.upper, help="overrides CODEX_ASYNC_LOG_LEVEL"
    )
    parser.add_argument("--version", action="version", version=f"codex-async-mcp {__version__}")
    return parser.parse_args(argv)


def open_private_log(path: Path) -> TextIO:
    """The log file, created readable by its owner only (whatever the umask: logs carry prompts),
    never through a symlink."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def setup_logging(level: str, log_file: str | None) -> None:
    import logging
    from pathlib import Path

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.StreamHandler(open_private_log(Path(log_file).expanduser())))
        except OSError as exc:
            print(f"codex-async-mcp: cannot write the log file {log_file}: {exc}", file=sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)


def route_fastmcp_logs() -> None:
    """FastMCP installs its own (rich) stderr handlers; send its records through ours instead."""
    import logging

    fastmcp_logger = logging.getLogger("fastmcp")
    for handler in list(fastmcp_logger.handlers):
        fastmcp_logger.removeHandler(handler)
    fastmcp_logger.propagate = True
    fastmcp_logger.setLevel(logging.NOTSET)


def log_codex(store: JobStore) -> None:
    """Learn codex's version once, off the main thread (the periodic check settles the store)."""
    from jobstore import JobStoreError

    log = logging_for_server()
    try:
        info = store.learn_codex()
        log.info("codex %s at %s", info.version_string, info.path)
    except JobStoreError as exc:
        log.warning("%s", exc)


@contextmanager
def models_built_on_first_use() -> Iterator[None]:
    """Pydantic models defined meanwhile build their validators when first used, not when defined.

    Importing FastMCP and the MCP SDK defines hundreds of protocol models (two protocol
    versions); `initialize` uses a few. Deferring is pydantic's own `defer_build`: a model
    validates and serializes the same, built at its first use. Models defined later are
    built as pydantic's default says.
    """
    from pydantic import BaseModel

    config = BaseModel.model_config
    previous = config.get("defer_build")
    config["defer_build"] = True
    try:
        yield
    finally:
        if previous is None:
            config.pop("defer_build", None)
        else:
            config["defer_build"] = previous


def run_stdio(server: FastMCP, front: Front | None) -> None:
    import importlib.util

    import anyio

    if front is not None:
        front.install()  # FastMCP's transport reads and writes through the front's streams

    # uvloop where installed (not on Windows); anyio imports it.
    options = {"use_uvloop": importlib.util.find_spec("uvloop") is not None}
    anyio.run(lambda: server.run_stdio_async(show_banner=False), backend="asyncio", backend_options=options)


def team_client(redis_url: str | None) -> TeamClient | None:
    """The team's client when the server has a team (it connects on first use); redis and Docket
    are imported only then."""
    if redis_url is None:
        return None
    from team import TeamClient

    return TeamClient(redis_url)


def logging_for_server() -> logging.Logger:
    import logging

    return logging.getLogger("codex_async_mcp")


def main(argv: list[str] | None = None) -> int:
    # Start-up is mostly importing FastMCP and the MCP SDK's many pydantic models; the
    # garbage collector's passes over them meanwhile find nothing to free.
    gc.disable()
    # Only a process serving its own stdio gets the front (argv None: the process's own
    # arguments); main() called in-process, or asked for --help, runs as before.
    front = Front.start(__version__) if argv is None and wants_to_serve(sys.argv[1:]) else None
    import dataclasses
    from pathlib import Path

    from jobstore import JobStore, JobStoreError, Settings
    from mcp_server.settings import ServerSettings
    from team import redis_url_from_env

    args = parse_args(argv)
    try:
        settings = Settings.from_env()
        redis_url = redis_url_from_env()  # set: starts go to the team's queue (mcp_server.team_tools)
    except JobStoreError as exc:
        print(f"codex-async-mcp: {exc}", file=sys.stderr)
        return 2
    # Absolute: job runners run in "/", and get the store's path from us.
    root = Path(os.path.abspath((args.store or settings.store_root).expanduser()))
    settings = dataclasses.replace(settings, store_root=root, log_level=args.log_level or settings.log_level)
    setup_logging(settings.log_level, settings.log_file)
    store = JobStore.from_settings(settings)
    server_settings = ServerSettings.from_settings(settings)
    if store.root.exists() and not store.root.is_dir():
        print(f"codex-async-mcp: the store {store.root} is not a folder", file=sys.stderr)
        return 2
    # First thing: the store's zygote imports the runner while we import FastMCP, so the
    # first job is forked like every other (no runner spawned, no cold start).
    store.keep_runners_warm()
    # codex's probes (its version, its app-server) run meanwhile too, not in the first start.
    threading.Thread(target=log_codex, args=(store,), name="codex-version", daemon=True).start()

    with models_built_on_first_use():
        from mcp_server.first_call import build_first_call_models
        from mcp_server.server import create_server

        route_fastmcp_logs()
        server = create_server(store, server_settings, team_client(redis_url))
        build_first_call_models(server)
    gc.freeze()  # what start-up made lives as long as the server: keep it out of collections
    gc.enable()
    log = logging_for_server()
    if front is not None:
        log.debug("%s", front.summary())
    log.info(
        "codex-async-mcp %s serving on stdio; store %s, max policy %s, %d jobs at once%s",
        __version__,
        store.root,
        server_settings.max_policy,
        store.max_jobs,
        "" if redis_url is None else "; starts go to the team's queue on Redis",
    )
    try:
        run_stdio(server, front)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

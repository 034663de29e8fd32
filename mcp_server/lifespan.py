"""The server's state while it runs: the store and settings injected into tools, and its periodic check.

Reads of the store are pure: they may *report* a job whose processes are gone as
`lost`, but never record it nor start queued work. Those writes have owners; the
server owns two of them:
- `codex_wait` (and the one-call `codex`) settles the job it waited for when it reads
  lost (`JobStore.settle`, in mcp_server.waiting);
- the periodic check: while the server runs, `JobStore.reconcile()` runs in a worker
  thread at start and then every `ServerSettings.check_interval` seconds (30 s by
  default), so lost jobs get recorded and queued work starts even when no runner
  ends to start it (a crash, a reboot, a runner killed).
`codex_poll`, `codex_list` and the other reads never write.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
from fastmcp import Context, FastMCP
from fastmcp.dependencies import CurrentContext, Depends
from fastmcp.server.lifespan import Lifespan, lifespan

from jobstore import JobStore
from mcp_server.settings import ServerSettings

if TYPE_CHECKING:  # annotations only: `team` (redis, Docket) is loaded on a team's server alone
    from team import TeamClient

log = logging.getLogger("codex_async_mcp")

STATE_KEY = "codex_async"


@dataclass(frozen=True)
class ServerState:
    store: JobStore
    settings: ServerSettings
    # The team's queue on Redis (CODEX_ASYNC_REDIS set), else None: this machine's store alone.
    team: TeamClient | None = None


def server_state(ctx: Annotated[Context, CurrentContext()]) -> ServerState:
    state = ctx.lifespan_context.get(STATE_KEY)
    if not isinstance(state, ServerState):  # a tool called on a server that was not made by create_server
        raise RuntimeError("the codex-async server's state is missing: build the server with create_server")
    return state


InjectedState = Annotated[ServerState, Depends(server_state)]


def current_store(state: InjectedState) -> JobStore:
    return state.store


def current_settings(state: InjectedState) -> ServerSettings:
    return state.settings


# What a tool declares to be given the store or the settings (left out of its input schema).
InjectedStore = Annotated[JobStore, Depends(current_store)]
InjectedSettings = Annotated[ServerSettings, Depends(current_settings)]


def check_store(store: JobStore) -> None:
    """One periodic check: record lost jobs, fix markers, start queued work, keep the store's
    zygote serving. Never raises."""
    try:
        store.reconcile()
    except Exception:  # the next check tries again; the server goes on serving
        log.exception("checking the store at %s failed", store.root)
    store.keep_runners_warm()


class PeriodicCheck:
    """`check_store` at once and then every `interval` seconds, in a thread of its own.

    A thread rather than a task of the server's event loop: the check blocks on files
    and locks, and a task group held open across the lifespan's yield would straddle
    the cancel scopes FastMCP opens and closes after it.
    """

    def __init__(self, store: JobStore, interval: float) -> None:
        self._store = store
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="codex-async-check", daemon=True)

    def _run(self) -> None:
        while not self._stopped.is_set():
            check_store(self._store)
            self._stopped.wait(self._interval)

    def start(self) -> None:
        self._thread.start()

    async def stop(self) -> None:
        """Stop, and let a check under way finish (it may hold the store's lock)."""
        self._stopped.set()
        await anyio.to_thread.run_sync(self._thread.join)


def server_lifespan(store: JobStore, settings: ServerSettings, team: TeamClient | None = None) -> Lifespan:
    """The lifespan that gives tools their state and runs the periodic check beside them (and
    closes the team's connection, opened on first use, at the end)."""

    @lifespan
    async def serve(server: FastMCP[Any]) -> AsyncIterator[dict[str, Any]]:
        check = PeriodicCheck(store, settings.check_interval)
        check.start()
        try:
            yield {STATE_KEY: ServerState(store, settings, team)}
        finally:
            await check.stop()
            if team is not None:
                await team.close()

    return serve

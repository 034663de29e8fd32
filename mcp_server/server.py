"""The FastMCP app: the fifteen tools of mcp_server.tools over one store, their state, the periodic check.

Every blocking store call runs in a worker thread; every refusal of the store is a
tool error with the store's own message; every result is a model from `schemas`,
built in `convert`. Who writes what while the server runs: see mcp_server.lifespan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastmcp import FastMCP

from jobstore import JobStore
from mcp_server import __version__
from mcp_server.handshake import INSTRUCTIONS, SERVER_NAME
from mcp_server.lifespan import server_lifespan
from mcp_server.middleware import ReadableResults
from mcp_server.settings import ServerSettings
from mcp_server.tasks import JobTasks
from mcp_server.tools import TOOLS

if TYPE_CHECKING:
    from team import TeamClient


def create_server(store: JobStore, settings: ServerSettings, team: TeamClient | None = None) -> FastMCP:
    """The MCP server over `store`, with the operator's `settings`; with `team`, starts go to
    the team's queue on Redis and team jobs are read there (mcp_server.team_tools)."""
    mcp = FastMCP(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=server_lifespan(store, settings, team),
        middleware=[ReadableResults()],
        mask_error_details=False,
        # The arguments must match the advertised schema: "5" is not a number, nor true a 1.
        strict_input_validation=True,
    )
    if team is None:
        for tool in TOOLS:
            mcp.add_tool(tool)
        mcp.add_extension(JobTasks(store, settings))  # codex/codex_review as durable MCP tasks
        return mcp
    # Loaded only here: a server without a team never imports redis or Docket.
    from mcp_server.team_tasks import TeamJobTasks
    from mcp_server.team_tools import TeamRefusals, team_tools

    for tool in team_tools(TOOLS):
        mcp.add_tool(tool)
    mcp.add_middleware(TeamRefusals())
    mcp.add_extension(TeamJobTasks(store, settings, team))  # task id = team job id, on any server
    return mcp

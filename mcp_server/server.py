"""The FastMCP app: the fifteen tools of mcp_server.tools over one store, their state, the periodic check.

Every blocking store call runs in a worker thread; every refusal of the store is a
tool error with the store's own message; every result is a model from `schemas`,
built in `convert`. Who writes what while the server runs: see mcp_server.lifespan.
"""

from __future__ import annotations

from fastmcp import FastMCP

from jobstore import JobStore
from mcp_server import __version__
from mcp_server.lifespan import server_lifespan
from mcp_server.middleware import ReadableResults
from mcp_server.settings import ServerSettings
from mcp_server.tasks import JobTasks
from mcp_server.tools import TOOLS

INSTRUCTIONS = """\
Runs OpenAI Codex jobs in the background, so a long codex task never hits the client's tool timeout.
The loop: codex_start(prompt, cwd) returns a job_id at once; codex_wait(job_id) returns as soon as \
the job ends or after at most ~50 s with status still running, in which case call codex_wait again. \
codex_poll shows progress without waiting; codex_cancel stops a job and everything it started. \
`codex` does start + one wait in a single call. Follow up in the same codex session with \
codex_start(session_id=...) (see codex_sessions). Jobs survive restarts of this server."""


def create_server(store: JobStore, settings: ServerSettings) -> FastMCP:
    """The MCP server over `store`, with the operator's `settings`."""
    mcp = FastMCP(
        "codex-async",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=server_lifespan(store, settings),
        middleware=[ReadableResults()],
        mask_error_details=False,
        # The arguments must match the advertised schema: "5" is not a number, nor true a 1.
        strict_input_validation=True,
    )
    for tool in TOOLS:
        mcp.add_tool(tool)
    mcp.add_extension(JobTasks(store, settings))  # codex/codex_review as durable MCP tasks
    return mcp

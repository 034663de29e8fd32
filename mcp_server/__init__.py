"""codex-async MCP server: a thin FastMCP layer over `jobstore.JobStore`, spoken over stdio."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codex-async-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

"""codex-tui: a terminal UI over the codex-async job store.

The UI reads and writes only through `jobstore.JobStore` and watches the store's
files, so whatever an MCP server process does shows up on screen at once.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"

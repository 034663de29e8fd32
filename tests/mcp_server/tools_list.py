"""The server's tools/list as plain data, and a script that records it to tools_list.json.

`python -m tests.mcp_server.tools_list` rewrites the recorded file from the server as it is
now: run it only when a change to a tool's name, description or schema is intended.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastmcp import Client

from jobstore import JobStore
from mcp_server.server import create_server
from mcp_server.settings import ServerSettings

RECORDED = Path(__file__).with_name("tools_list.json")
LISTED_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")


async def listed_tools(store: JobStore, settings: ServerSettings) -> list[dict[str, Any]]:
    """Each tool as tools/list sends it: the fields a client reads, as JSON data."""
    async with Client(create_server(store, settings)) as client:
        tools = (await client.list_tools_mcp()).tools
    listed = []
    for tool in tools:
        data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
        listed.append({field: data[field] for field in LISTED_FIELDS if field in data})
    return listed


def record() -> Path:
    with tempfile.TemporaryDirectory() as folder:
        tools = asyncio.run(listed_tools(JobStore(Path(folder) / "store"), ServerSettings()))
    RECORDED.write_text(json.dumps(tools, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return RECORDED


if __name__ == "__main__":
    print(f"recorded {record()}", file=sys.stderr)

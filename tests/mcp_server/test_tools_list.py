"""The server's tools/list is exactly the recorded one: names, descriptions, schemas, annotations.

tools_list.json was recorded from the server before its tools moved to module level
(issue 10); a refactor must not change what a client sees. To change a tool on purpose,
rerun `python -m tests.mcp_server.tools_list` and review the diff of the JSON file.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobstore import JobStore
from mcp_server.settings import ServerSettings
from tests.mcp_server.tools_list import RECORDED, listed_tools


def recorded_tools() -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = json.loads(RECORDED.read_text(encoding="utf-8"))
    return tools


async def test_tool_names_and_order_are_the_recorded_ones(store: JobStore) -> None:
    listed = await listed_tools(store, ServerSettings())
    assert [tool["name"] for tool in listed] == [tool["name"] for tool in recorded_tools()]


@pytest.mark.parametrize("name", [tool["name"] for tool in recorded_tools()])
async def test_tool_is_listed_as_recorded(store: JobStore, name: str) -> None:
    listed = {tool["name"]: tool for tool in await listed_tools(store, ServerSettings())}
    recorded = next(tool for tool in recorded_tools() if tool["name"] == name)
    for field in ("title", "description", "annotations", "inputSchema", "outputSchema"):
        assert listed[name].get(field) == recorded.get(field), f"{name}: {field} differs"


async def test_settings_do_not_change_the_listing(store: JobStore) -> None:
    # The policy cap is checked when a job is asked for, never advertised in the schemas.
    capped = await listed_tools(store, ServerSettings(max_policy="suggest"))
    assert capped == recorded_tools()

"""The server's tools/list is exactly the recorded one: names, descriptions, schemas, annotations.

tools_list.json was recorded from the server before its tools moved to module level
(issue 10); a refactor must not change what a client sees. To change a tool on purpose,
rerun `python -m tests.mcp_server.tools_list` and review the diff of the JSON file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
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


README = Path(__file__).parents[2] / "README.md"
_ROW_RE = re.compile(r"^\| `(?P<tool>\w+)` \|(?P<arguments>[^|]*)\|")
_ARGUMENT_RE = re.compile(r"`(?P<name>\w+)(?P<optional>\?)?(?:=(?P<default>[^`]+))?`")


def readme_arguments() -> dict[str, list[tuple[str, bool, str | None]]]:
    """The README's tools table: each tool's arguments as (name, optional, default shown)."""
    table: dict[str, list[tuple[str, bool, str | None]]] = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        row = _ROW_RE.match(line)
        if row is None:
            continue
        text = row["arguments"].strip()
        like = re.match(r"like `(\w+)`, plus (.*)", text)
        inherited = table[like[1]] if like else []
        listed = [(a["name"], a["optional"] == "?", a["default"]) for a in _ARGUMENT_RE.finditer(text)]
        table[row["tool"]] = [*inherited, *(listed[1:] if like else listed)]
    return table


@pytest.mark.parametrize("name", [tool["name"] for tool in recorded_tools()])
def test_the_readmes_tools_table_lists_every_argument(name: str) -> None:
    """What the README tells a person matches tools/list: every argument, whether it is
    optional, and the default where one is shown (`include_diff` was missing)."""
    schema = next(tool for tool in recorded_tools() if tool["name"] == name)["inputSchema"]
    documented = readme_arguments()[name]
    assert [argument for argument, _, _ in documented] == list(schema["properties"])
    required = set(schema.get("required", []))
    for argument, optional, default in documented:
        assert optional == (argument not in required), argument
        if default is not None:
            assert json.loads(default) == schema["properties"][argument]["default"], argument

"""A new server builds, before its first request, what a tool call builds on first use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import inspect, json
    from pydantic import BaseModel
    from mcp_server.__main__ import models_built_on_first_use

    with models_built_on_first_use():
        import mcp_types
        from fastmcp.tools.base import ToolResult
        from mcp_server import schemas
        from mcp_server.first_call import build_first_call_models

    models = [ToolResult, mcp_types.CallToolResult, mcp_types.TextContent, mcp_types.CallToolRequest]
    models += [m for _, m in inspect.getmembers(schemas, inspect.isclass)
               if issubclass(m, BaseModel) and m.__module__ == schemas.__name__]
    from fastmcp.utilities.types import get_cached_typeadapter
    from mcp_server.tools import TOOLS
    before = {m.__qualname__: bool(m.__pydantic_complete__) for m in models}
    validators = get_cached_typeadapter.cache_info().currsize
    import os, tempfile
    from jobstore import JobStore
    from mcp_server.server import create_server
    from mcp_server.settings import ServerSettings
    root = os.path.join(tempfile.mkdtemp(), "store")
    build_first_call_models(create_server(JobStore(root), ServerSettings()))
    assert not os.path.exists(root)  # nothing ran
    after = {m.__qualname__: bool(m.__pydantic_complete__) for m in models}
    after["tool validators"] = get_cached_typeadapter.cache_info().currsize - validators >= len(TOOLS)
    print(json.dumps([before, after]))
    """
)


def test_the_first_tool_call_finds_its_models_built() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = json.loads(done.stdout)
    # Deferred at import (what makes start-up fast), built ahead by build_first_call_models.
    assert not all(before.values())
    assert after == {name: True for name in after}

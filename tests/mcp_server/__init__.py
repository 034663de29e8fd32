"""Tests of the MCP server: in memory, over stdio, and its tools/list against the recorded one."""

"""Turning failures into tool errors a person (or the calling model) can act on.

The store's errors already say what is wrong and what to do; they become
`ToolError`s (an `isError` result) with the message as it is, never a traceback.
Pydantic's argument errors are reworded into one line per bad argument.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import anyio.to_thread
from fastmcp.exceptions import ToolError
from pydantic import ValidationError as PydanticValidationError

from jobstore import InvalidInput, JobNotFound, JobStoreError, echoed, terminal_safe

P = ParamSpec("P")
T = TypeVar("T")


@contextmanager
def tool_errors() -> Iterator[None]:
    """Map the store's refusals (JobStoreError) to ToolError, message unchanged."""
    try:
        yield
    except JobStoreError as exc:
        # Bad input is the caller's to fix: logged quietly. The rest (codex missing, a disk
        # that refuses writes, a damaged record) is the operator's to know about.
        quiet = isinstance(exc, InvalidInput | JobNotFound)
        raise ToolError(
            terminal_safe(str(exc), multiline=True), log_level=logging.INFO if quiet else logging.WARNING
        ) from None


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking store call in a worker thread, its refusals mapped to ToolError."""
    with tool_errors():
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def describe_validation_error(tool: str, exc: PydanticValidationError, params: list[str] | None) -> str:
    parts: list[str] = []
    unknown = False
    for error in exc.errors():
        loc = ".".join(str(p) for p in error.get("loc", ())) or "arguments"
        kind = error.get("type", "")
        if kind in ("missing_argument", "missing"):
            parts.append(f"{loc} is required")
        elif kind in ("unexpected_keyword_argument", "extra_forbidden"):
            unknown = True
            parts.append(f"{loc} is not an argument of {tool}")
        else:
            message = error.get("msg", "is invalid")
            parts.append(f"{loc}: {message[:1].lower()}{message[1:]} (got {echoed(error.get('input'))})")
    text = f"invalid arguments for {tool}: " + "; ".join(parts)
    if unknown and params:
        text += f". {tool} takes: {', '.join(params)}"
    return text

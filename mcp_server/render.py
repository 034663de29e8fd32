"""The text form of a tool result: the structured content laid out for reading.

Empty values are left out; multi-line text is shown as an indented block, so a
job's output reads as lines rather than as one escaped JSON string.
"""

from __future__ import annotations

from typing import Any


def _scalar(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_block(value: Any) -> bool:
    return isinstance(value, list | dict) or (isinstance(value, str) and "\n" in value)


def _inline(item: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_scalar(v)}" for k, v in item.items() if not _is_empty(v) and not _is_block(v))


def _lines(data: dict[str, Any], indent: str) -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        if _is_empty(value):
            continue
        if isinstance(value, str) and "\n" in value:
            out.append(f"{indent}{key}:")
            out.extend(f"{indent}  | {line}" for line in value.splitlines())
        elif isinstance(value, dict):
            if not any(_is_block(v) for v in value.values()):
                out.append(f"{indent}{key}: {_inline(value)}")
            else:
                out.append(f"{indent}{key}:")
                out.extend(_lines(value, indent + "  "))
        elif isinstance(value, list):
            out.append(f"{indent}{key}:")
            for item in value:
                if isinstance(item, dict):
                    out.append(f"{indent}  - {_inline(item)}")
                    out.extend(_lines({k: v for k, v in item.items() if _is_block(v)}, indent + "    "))
                else:
                    out.append(f"{indent}  - {_scalar(item)}")
        else:
            out.append(f"{indent}{key}: {_scalar(value)}")
    return out


def render_text(data: dict[str, Any]) -> str:
    return "\n".join(_lines(data, ""))

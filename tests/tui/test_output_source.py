"""The output pane's reading, without Textual: windows of the file, search, and their bounds
(the file's lines by offset: tests/jobstore/test_output_file.py)."""

from __future__ import annotations

import json
from pathlib import Path

from jobstore import OutputFile, RenderedLine
from tui.output_search import SHOWN_CHARS, Query, Target, shown_text
from tui.output_source import OutputSource, Place


def agent(text: str) -> str:
    return json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": text}})


def command(cmd: str, exit_code: int) -> str:
    item = {"type": "command_execution", "command": cmd, "aggregated_output": "", "exit_code": exit_code}
    return json.dumps({"type": "item.completed", "item": item})


def test_source_windows_follow_page_and_search(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    path.write_text("".join(f"line {n}\n" for n in range(1000)))
    source = OutputSource(OutputFile.open(path), raw=True, tail_lines=100, page_lines=50)
    end = source.load()
    assert end.place == Place.REPLACE and end.at_end
    assert [line.text for line in end.lines][-1] == "line 999" and len(end.lines) == 100
    before = source.before(end.start)
    assert before.place == Place.PREPEND and before.lines[-1].text == "line 899" and len(before.lines) == 50
    head = source.head()
    assert head.start == 0 and head.lines[0].text == "line 0" and not head.at_end
    after = source.after(head.end)
    assert after.place == Place.APPEND and after.lines[0].text == "line 100"
    # Appends while following: read from the end, never more than tail_lines lines.
    with open(path, "a") as f:
        f.write("line 1000\npartial")
    more = source.read_new()
    assert more is not None and more.place == Place.APPEND and more.live
    assert [line.text for line in more.lines] == ["line 1000", "partial"]
    with open(path, "a") as f:  # the unfinished line is read again whole
        f.write(" end\n")
    again = source.read_new()
    assert (
        again is not None
        and again.place == Place.APPEND
        and [line.text for line in again.lines] == ["partial end"]
    )
    with open(path, "a") as f:
        f.write("".join(f"flood {n}\n" for n in range(5000)))
    flood = source.read_new()
    assert flood is not None and flood.place == Place.REPLACE and len(flood.lines) == 100
    assert flood.lines[-1].text == "flood 4999"
    assert source.read_new() is None
    path.write_text("fresh\n")  # replaced by a shorter file
    fresh = source.read_new()
    assert fresh is not None and fresh.reset and fresh.lines[-1].text == "fresh"
    assert "truncated or replaced" in fresh.lines[0].text


def test_source_finds_text_and_events_beyond_any_window(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    lines = [agent(f"step {n}") for n in range(3000)]
    lines[10] = command("make test", 2)
    lines[20] = agent("Needle in the hay")
    path.write_text("\n".join(lines) + "\n")
    source = OutputSource(OutputFile.open(path), raw=False, tail_lines=100, page_lines=40)
    size = path.stat().st_size
    never = lambda: False  # noqa: E731

    found = source.find(Query.for_text("needle"), size, forward=False, stop=never)
    assert found is not None
    window = source.around(*[found[0]], focus=found)
    assert window.focus == found and any(line.text == "Needle in the hay" for line in window.lines)
    assert source.find(Query.for_text("Needle"), 0, forward=True, stop=never) == found  # smart case
    assert source.find(Query.for_text("NEEDLE"), 0, forward=True, stop=never) is None
    error = source.find(Query(Target.ERROR), size, forward=False, stop=never)
    assert error is not None and error == source.find(Query(Target.COMMAND), 0, forward=True, stop=never)
    assert source.find(Query(Target.ERROR), error[0] + 1, forward=True, stop=never) is None
    raw = OutputSource(OutputFile.open(path), raw=True, tail_lines=100)
    assert raw.find(Query.for_text('"text": "Needle'), 0, forward=True, stop=never) == (found[0], 0)


def test_queries_on_shown_lines() -> None:
    text_query = Query.for_text("ab")
    assert text_query.spans("xabyAB") == [(1, 3), (4, 6)]
    assert Query.for_text("AB").spans("xabyAB") == [(4, 6)]
    assert Query(Target.COMMAND).line_matches(RenderedLine("error", "$ make  [exit 2]"))
    assert Query(Target.ERROR).line_matches(RenderedLine("error", "turn failed: boom"))
    assert not Query(Target.AGENT).line_matches(RenderedLine("reasoning", "thinking"))
    # Only a sound prefilter is used: the raw view's printable text, and event types.
    assert Query.for_text("abc").block_pattern(raw_view=False) is None
    assert Query.for_text("a  b").block_pattern(raw_view=True) is None
    assert Query.for_text("abc").block_pattern(raw_view=True) is not None
    # What is shown: controls visible, cut.
    assert shown_text("a\x1b[31mred\x07") == "a␛[31mred␇"
    assert len(shown_text("x" * 50_000)) < SHOWN_CHARS + 40


def test_a_window_ending_in_an_unfinished_line_reaches_the_end(tmp_path: Path) -> None:
    """A line being written (no newline yet) is the file's end: the window that holds it is
    at the end, so following goes on (a flood read mid-write once left the view paused)."""
    path = tmp_path / "output.txt"
    path.write_text("".join(f"line {n}\n" for n in range(10)) + "being writ")
    source = OutputSource(OutputFile.open(path), raw=True, tail_lines=100)
    opened = source.load()
    assert opened.at_end and opened.lines[-1].text == "being writ" and opened.end < opened.size
    with open(path, "a") as f:
        f.write("ten\n" + "".join(f"flood {n}\n" for n in range(500)) + "half a li")
    flood = source.read_new(limit=20)
    assert flood is not None and flood.place == Place.REPLACE and flood.at_end
    assert [line.text for line in flood.lines][-2:] == ["flood 499", "half a li"]
    with open(path, "a") as f:
        f.write("ne\n")
    rest = source.read_new(limit=20)
    assert rest is not None and rest.place == Place.APPEND and rest.at_end
    assert [line.text for line in rest.lines] == ["half a line"]

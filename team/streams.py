"""A job's output and the team's state changes, as Redis streams (a copy: the files are the truth).

Output: the machine that owns a team job copies the job's local output.txt into the stream
`output:<team job id>`, one entry per chunk of at most `CHUNK_BYTES`, each carrying its byte
`offset` in the file and the `data` as codex wrote it (bytes, never decoded or interpreted).
Every append is conditional, in one Lua step: it lands only where the stream ends (the last
entry's offset + length, 0 for no stream), else it returns that end and the copier goes on from
there. So a Redis that lost the last writes (restarted from an AOF without them, or flushed) is
refilled from the file on the next copy, and nothing is ever written twice; a reader dedupes by
offset all the same (`read_output` skips what it has seen), so an older or rebuilt stream is safe.
The worker copies while it watches the job, the keeper while the worker is gone (`OutputCopier`,
one for both); an ended job's stream is kept as long as its end (`ENDED_KEEP_SECONDS`).

States: `states` holds one entry per state change of a team job (job, status, host, time),
written in the same Lua step as the change itself (`record_started`, `record_end`), so each start
and each end appears exactly once, however often a call is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jobstore import JobStore
from team.keys import RedisClient, TeamKeys, text

log = logging.getLogger("codex_async.team.streams")

# A chunk of output per entry: many lines written at once make few entries, and one entry stays
# small enough for a reader's XRANGE page.
CHUNK_BYTES = 16 * 1024
# A job's stream keeps about this many entries (XTRIM MAXLEN ~ after each append; memory://,
# the unit tests' Redis, has no XTRIM and keeps all): at most ~64 MiB of one job's
# output in Redis (4096 x 16 KiB), usually far less (entries are what was new at each look).
# Older entries go; a reader that asks for an offset before the first one kept gets what is left
# (the first piece's offset tells it the gap) and can read the rest from the owner's file.
OUTPUT_MAXLEN = 4096
# The team's state stream keeps about this many changes (two a job: its start and its end).
STATES_MAXLEN = 100_000
# Entries read per XRANGE call (a bounded reply, whatever the stream's length).
READ_PAGE = 256

# Where the stream KEYS[1] ends: its last entry's offset + length, 0 for no stream.
_STREAM_END = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local stream_end = 0
if #last > 0 then
    local fields = last[1][2]
    local offset, length = 0, 0
    for i = 1, #fields, 2 do
        if fields[i] == 'offset' then offset = tonumber(fields[i + 1]) end
        if fields[i] == 'data' then length = string.len(fields[i + 1]) end
    end
    stream_end = offset + length
end
"""
# Append ARGV[2] at offset ARGV[1] only where the stream ends; the stream's end either way.
_APPEND_AT_END = f"""
{_STREAM_END}
if stream_end ~= tonumber(ARGV[1]) then
    return stream_end
end
redis.call('XADD', KEYS[1], '*', 'offset', ARGV[1], 'data', ARGV[2])
redis.pcall('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[3])
return stream_end + string.len(ARGV[2])
"""
_READ_STREAM_END = f"""
{_STREAM_END}
return stream_end
"""


def state_entry(team_job_id: str, status: str, host: str) -> list[str]:
    """The fields of one state change (the ARGV tail the scripts of claim and lease hand to XADD)."""
    return ["job", team_job_id, "status", status, "host", host, "time", f"{time.time():.3f}"]


# The XADD of a state change, for the Lua scripts that make a change: ARGV[first] on are the
# entry's eight fields (`state_entry`; all text: memory:// takes no numbers), named one by one
# (no `unpack`: memory://'s Lua lacks it).
# The bound is a separate XTRIM, pcall'd: memory:// (unit tests) knows neither it nor XADD MAXLEN.
def xadd_state_lua(first: int) -> str:
    fields = ", ".join(f"ARGV[{first + i}]" for i in range(8))
    return (
        f"redis.call('XADD', KEYS[#KEYS], '*', {fields})\n"
        f"redis.pcall('XTRIM', KEYS[#KEYS], 'MAXLEN', '~', {STATES_MAXLEN})"
    )


async def stream_end(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> int:
    """Where the job's output stream ends (the next offset it takes); 0 for none."""
    return int(await redis.eval(_READ_STREAM_END, 1, keys.output(team_job_id)))


class OutputCopier:
    """Copies one job's local output into its stream, from wherever the stream ends."""

    def __init__(self, store: JobStore, redis: RedisClient, keys: TeamKeys, team_job_id: str, job_id: str):
        self.store = store
        self.redis = redis
        self.keys = keys
        self.team_job_id = team_job_id
        self.job_id = job_id

    async def copy_new(self) -> int:
        """Copy what the stream lacks of the file (all of it after Redis lost the stream); the
        stream's end. Raises what Redis raises while away (the caller tries again)."""
        copied = await stream_end(self.redis, self.keys, self.team_job_id)
        output = await asyncio.to_thread(self.store.open_output, self.job_id)
        if output is None:  # codex has written nothing yet
            return copied
        try:
            while True:
                chunk = await asyncio.to_thread(output.read, copied, CHUNK_BYTES)
                if not chunk:
                    return copied
                copied = await self._append(copied, chunk)
        finally:
            output.close()

    async def _append(self, offset: int, chunk: bytes) -> int:
        key = self.keys.output(self.team_job_id)
        return int(await self.redis.eval(_APPEND_AT_END, 1, key, str(offset), chunk, str(OUTPUT_MAXLEN)))

    async def keep_ended(self, seconds: int) -> None:
        """The job ended: its stream goes when its recorded end does."""
        await self.redis.expire(self.keys.output(self.team_job_id), seconds)


def _piece(fields: dict[object, object] | list[object]) -> tuple[int, bytes]:
    """An entry's (offset, data), from its fields as a mapping (XRANGE) or a flat list (Lua)."""
    pairs = fields.items() if isinstance(fields, dict) else zip(fields[::2], fields[1::2], strict=True)
    by_name = {text(name): value for name, value in pairs}
    data = by_name.get("data", b"")
    raw = data if isinstance(data, bytes) else str(data).encode("utf-8", "surrogateescape")
    return int(text(by_name.get("offset")) or 0), raw


async def read_output(
    redis: RedisClient, team_job_id: str, after_offset: int = 0, *, keys: TeamKeys | None = None
) -> list[tuple[int, bytes]]:
    """The job's output from byte `after_offset` on, as (offset, bytes) pieces in file order.
    A piece that starts before `after_offset` is cut to start there; a piece already covered
    (an older copy of the same offsets) is skipped. Gaps are possible only where the stream was
    trimmed (OUTPUT_MAXLEN): the first piece's offset then lies past `after_offset`."""
    key = (keys or TeamKeys()).output(team_job_id)
    pieces: list[tuple[int, bytes]] = []
    seen_until = after_offset
    start = "-"
    while True:
        page = await redis.xrange(key, min=start, count=READ_PAGE)
        seen_until = _add_new(pieces, (_piece(fields) for _, fields in page), seen_until)
        if len(page) < READ_PAGE:
            return pieces
        start = _next_id(text(page[-1][0]) or "0-0")


def _add_new(pieces: list[tuple[int, bytes]], found: Iterable[tuple[int, bytes]], seen_until: int) -> int:
    """Append to `pieces` what `found` (in file order) holds past `seen_until`; the new end."""
    for offset, data in found:
        if offset + len(data) <= seen_until:
            continue
        if offset < seen_until:
            data, offset = data[seen_until - offset :], seen_until
        pieces.append((offset, data))
        seen_until = offset + len(data)
    return seen_until


async def read_output_tail(
    redis: RedisClient, team_job_id: str, max_bytes: int, *, keys: TeamKeys | None = None
) -> tuple[int, bytes]:
    """The end of the job's output: (its offset in the file, at least `max_bytes` of it when the
    stream holds that much, whole entries, read from the stream's end). Bounded by `max_bytes`
    plus one page of entries, whatever the stream's length."""
    key = (keys or TeamKeys()).output(team_job_id)
    found: list[tuple[int, bytes]] = []
    kept = 0
    end = "+"
    while kept < max_bytes:
        page = await newest_entries(redis, key, end, READ_PAGE)
        for _, fields in page:
            found.append(_piece(fields))
            kept += len(found[-1][1])
        if len(page) < READ_PAGE:
            break
        before = _previous_id(text(page[-1][0]) or "0-0")
        if before is None:
            break
        end = before
    if not found:
        return 0, b""
    found.sort(key=lambda piece: (piece[0], -len(piece[1])))  # an older, longer copy first
    pieces: list[tuple[int, bytes]] = []
    _add_new(pieces, found, found[0][0])
    # Pieces follow one another unless the stream was trimmed or rebuilt: keep the run that ends it.
    start = len(pieces) - 1
    while start > 0 and pieces[start - 1][0] + len(pieces[start - 1][1]) == pieces[start][0]:
        start -= 1
    return pieces[start][0], b"".join(data for _, data in pieces[start:])


_NEWEST_ENTRIES = "return redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])"


async def newest_entries(redis: RedisClient, key: str, end: str, count: int) -> list[Any]:
    """Up to `count` entries of the stream `key` from `end` back, newest first, each as
    (id, fields as a flat list); through Lua, since memory:// has no XREVRANGE call of its own."""
    return list(await redis.eval(_NEWEST_ENTRIES, 1, key, end, str(count)))


def _previous_id(entry_id: str) -> str | None:
    """The largest stream id before `entry_id` (an inclusive XREVRANGE end); None before the first."""
    millis, _, sequence = entry_id.partition("-")
    if int(sequence or 0) > 0:
        return f"{millis}-{int(sequence) - 1}"
    if int(millis) > 0:
        return f"{int(millis) - 1}-18446744073709551615"
    return None


def _next_id(entry_id: str) -> str:
    """The smallest stream id after `entry_id` (an inclusive XRANGE start: memory:// knows no "(")."""
    millis, _, sequence = entry_id.partition("-")
    return f"{millis}-{int(sequence or 0) + 1}"


@dataclass(frozen=True)
class StateChange:
    entry_id: str  # the stream's id: pass the last one seen to `tail_states` to go on after it
    team_job_id: str
    status: str  # "started", or the end: done, error, cancelled, lost
    host: str
    time: float


async def tail_states(
    redis: RedisClient,
    after_id: str = "0-0",
    *,
    keys: TeamKeys | None = None,
    count: int = READ_PAGE,
    block_seconds: float | None = None,
) -> list[StateChange]:
    """The team's state changes after `after_id`, oldest first (at most `count`); with
    `block_seconds`, waits up to that long for one when there is none yet."""
    key = (keys or TeamKeys()).states
    block = None if block_seconds is None else max(1, int(block_seconds * 1000))
    reply = await redis.xread({key: after_id}, count=count, block=block)
    changes = []
    for _, entries in reply or []:
        for entry_id, fields in entries:
            by_name = {text(name): text(value) or "" for name, value in fields.items()}
            changes.append(
                StateChange(
                    entry_id=text(entry_id) or "",
                    team_job_id=by_name.get("job", ""),
                    status=by_name.get("status", ""),
                    host=by_name.get("host", ""),
                    time=float(by_name.get("time") or 0),
                )
            )
    return changes

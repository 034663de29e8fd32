"""A worktree team job's change, published by its machine as the job ends, for any machine to
read (`include_diff`) and apply (`codex_apply`, `codex-async apply`).

What is published, under `change:<team job id>` in one SET (so a reader sees all of it or
nothing), kept as long as the job's end:
- the recorded diff as the owner's `codex-async diff` shows it (files, errors, the unified diff
  text), for reading;
- the change as a patch: `git diff --binary --full-index --no-renames start end`, made in the
  job's private git folder on its machine. It carries every byte (binary files too) and each
  preimage's blob id, so another machine applies it three-way where it has those blobs, with
  no object of the owner's; a patch, unlike a bundle of objects, is checked by `git apply` as
  it goes in (paths inside the tree only, never into `.git`, never through a symlink).
Both together are bounded by MAX_PUBLISHED_BYTES: a larger change is published as too big,
naming the command to run on its machine.

Published before the job's end is recorded, by whoever records it (the worker, or the keeper
after the worker died): a reader that sees the end finds the change, and a worker killed
between the two leaves the keeper to publish it (the same bytes, written again).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass

from jobstore import GitFailed, InvalidInput, JobStore, JobStoreError, WorktreeDiff, echoed
from team.keys import RedisClient, TeamKeys
from team.lease import ENDED_KEEP_SECONDS

# The diff and the patch together, at most (Redis holds every team job's for 7 days).
MAX_PUBLISHED_BYTES = 8 * 1024 * 1024
_MAX_HEADER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TeamChange:
    """A team job's change as published by its machine."""

    team_job_id: str
    host: str
    local_job_id: str
    recorded: WorktreeDiff  # its diff text included (empty when too big)
    patch: bytes | None  # None: too big, or not made (the recorded error says why)
    too_big: bool = False

    def own_machine_command(self, verb: str) -> str:
        return f"`codex-async {verb} {self.local_job_id}` on {self.host}"


async def publish_change(
    store: JobStore, redis: RedisClient, keys: TeamKeys, team_job_id: str, job_id: str, host: str
) -> bool:
    """Publish the ended local job's change if it ran in a worktree (once: a second call finds it
    published); whether there is one. Raises what Redis raises; git's failures are published."""
    key = keys.change(team_job_id)
    if await redis.exists(key):
        return True
    record = await asyncio.to_thread(store.get, job_id)
    if not record.worktree or record.worktree_path is None:
        return False
    too_big = False
    try:
        recorded, patch = await asyncio.to_thread(store.worktree_patch, job_id, MAX_PUBLISHED_BYTES)
    except (InvalidInput, GitFailed, OSError, JobStoreError) as exc:
        recorded = WorktreeDiff(record.worktree_repo or record.cwd, "", "", error=f"no patch made: {exc}")
        patch = None
    diff = recorded.diff.encode("utf-8")
    if patch is None and not recorded.error or len(diff) + len(patch or b"") > MAX_PUBLISHED_BYTES:
        too_big, diff, patch = True, b"", None
    header = {
        "recorded": recorded.to_dict(),
        "host": host,
        "local_job_id": job_id,
        "too_big": too_big,
        "diff_bytes": len(diff),
        "patch_bytes": None if patch is None else len(patch),
    }
    value = json.dumps(header).encode() + b"\n" + diff + (patch or b"")
    await redis.set(key, value, ex=ENDED_KEEP_SECONDS)
    return True


async def read_change(redis: RedisClient, keys: TeamKeys, team_job_id: str) -> TeamChange | None:
    """The job's published change; None when none was (not a worktree job, not ended)."""
    value = await redis.get(keys.change(team_job_id))
    if value is None:
        return None
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    line, _, rest = data.partition(b"\n")
    if len(line) > _MAX_HEADER_BYTES:
        raise InvalidInput(f"team job {team_job_id}'s published change is unreadable")
    try:
        header = json.loads(line)
        fields = header["recorded"]
        recorded = WorktreeDiff(
            **{**fields, "files": [tuple(each) for each in fields.get("files") or []]},
        )
        diff_bytes = int(header["diff_bytes"])
        patch_bytes = header["patch_bytes"]
        host, local_job_id = str(header["host"]), str(header["local_job_id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"team job {team_job_id}'s published change is unreadable ({exc})") from None
    diff = rest[:diff_bytes].decode("utf-8", "replace")
    patch = None if patch_bytes is None else rest[diff_bytes : diff_bytes + int(patch_bytes)]
    too_big = bool(header.get("too_big"))
    if too_big:
        size = f"over {MAX_PUBLISHED_BYTES // (1024 * 1024)} MiB"
        recorded = dataclasses.replace(
            recorded,
            diff="",
            error=f"the change is too big to publish ({size}): run `codex-async diff {local_job_id}` "
            f"on {host}",
        )
    else:
        recorded = dataclasses.replace(recorded, diff=diff)
    return TeamChange(team_job_id, host, local_job_id, recorded, patch, too_big)


@dataclass(frozen=True)
class TeamApplied:
    """What applying a team job's change here did: the files written, or the conflicts."""

    change: TeamChange
    cwd: str
    changed: list[str]
    conflicts: list[str]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def apply_change(store: JobStore, change: TeamChange, cwd: str) -> TeamApplied:
    """Apply the published change to this machine's working tree of `cwd` (the job's folder: a
    team shares paths), once per job on this machine, through `store` (its private git folders)."""
    if change.too_big:
        raise InvalidInput(
            f"team job {change.team_job_id}'s change was too big to publish: apply it on its machine, "
            + change.own_machine_command("apply")
        )
    if change.patch is None:
        raise InvalidInput(
            f"team job {change.team_job_id} published no change to apply ({change.recorded.error or 'none'})"
        )
    if not change.recorded.files:
        raise InvalidInput(f"team job {change.team_job_id} changed nothing: there is nothing to apply")
    try:
        changed, conflicts = store.apply_patch(change.team_job_id, cwd, change.patch)
    except GitFailed as exc:
        raise InvalidInput(
            f"team job {change.team_job_id}'s change cannot be applied in {echoed(cwd)}: {exc}"
        ) from None
    return TeamApplied(change, cwd, changed, conflicts)

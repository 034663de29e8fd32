"""Starting jobs for the tools: options checked by the store and against the operator's cap, then started.

Each function takes a tool's arguments by name and picks the options it knows
(`RunOptions.given`, `ReviewOptions.given`), so a new option needs no line here.
Every function writes to the store: call it in a worker thread. A refusal is the
store's InvalidInput (or another JobStoreError), raised before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastmcp.exceptions import ToolError

from jobstore import InvalidInput, JobRecord, JobStore, ReviewOptions, RunOptions
from mcp_server.settings import ServerSettings


def checked_run(settings: ServerSettings, arguments: Mapping[str, object]) -> RunOptions:
    """A run's options from a tool's `arguments`, checked by the store and against the
    operator's policy cap."""
    options = RunOptions.checked(**RunOptions.given(arguments))
    settings.check_allowed(options.approval_policy, options.sandbox)
    return options


def start_run(
    store: JobStore, settings: ServerSettings, arguments: Mapping[str, object], client: str | None = None
) -> JobRecord:
    """Check a run's options and start it (`client`: who asked, kept in its record)."""
    return store.start(checked_run(settings, arguments), client=client)


def start_review(
    store: JobStore, settings: ServerSettings, arguments: Mapping[str, object], client: str | None = None
) -> JobRecord:
    """Check a review's options and start it (read-only, so within any cap the store allows)."""
    options = ReviewOptions.checked(**ReviewOptions.given(arguments))
    settings.check_allowed(options.approval_policy, None)
    return store.start_review(options, client=client)


def start_batch(
    store: JobStore, settings: ServerSettings, prompts: Sequence[str], arguments: Mapping[str, object]
) -> list[JobRecord]:
    """Start one job per prompt, the other options from `arguments`, all or nothing as far as
    checks go: every prompt is checked, and codex found, before the first job is written."""
    checked: list[RunOptions] = []
    for index, text in enumerate(prompts):
        try:
            checked.append(checked_run(settings, {**arguments, "prompt": text}))
        except InvalidInput as exc:
            raise InvalidInput(f"prompts[{index}]: {exc}; nothing was started") from None
    store.codex_info()  # codex missing or unusable: refuse before writing anything
    started: list[JobRecord] = []
    for options in checked:
        try:
            started.append(store.start(options))
        except Exception as exc:
            if not started:
                raise
            ids = ", ".join(record.job_id for record in started)
            raise ToolError(
                f"started {len(started)} of {len(checked)} jobs ({ids}), then failed: {exc}"
            ) from exc
    return started

"""Starting jobs for the tools: options checked by the store and against the operator's cap, then started.

Every function here writes to the store: call it in a worker thread. A refusal is the
store's InvalidInput (or another JobStoreError), raised before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastmcp.exceptions import ToolError

from jobstore import InvalidInput, JobRecord, JobStore, ReviewOptions, RunOptions
from mcp_server.settings import ServerSettings


def checked_run(
    settings: ServerSettings,
    *,
    prompt: str,
    cwd: str,
    approval_policy: str,
    sandbox: str | None,
    model: str | None,
    reasoning_effort: str | None,
    session_id: str | None = None,
) -> RunOptions:
    """A run's options, checked by the store and against the operator's policy cap."""
    options = RunOptions.checked(
        prompt=prompt,
        cwd=cwd,
        approval_policy=approval_policy,
        sandbox=sandbox,
        model=model,
        reasoning_effort=reasoning_effort,
        session_id=session_id,
    )
    settings.check_allowed(options.approval_policy, options.sandbox)
    return options


def start_review(
    store: JobStore,
    settings: ServerSettings,
    *,
    cwd: str,
    uncommitted: bool | None,
    base: str | None,
    commit: str | None,
    title: str | None,
    prompt: str | None,
    model: str | None,
    client: str | None = None,
) -> JobRecord:
    """Check a review's options and start it (read-only, so within any cap the store allows)."""
    options = ReviewOptions.checked(
        cwd=cwd,
        uncommitted=bool(uncommitted),
        base=base,
        commit=commit,
        title=title,
        prompt=prompt,
        model=model,
    )
    settings.check_allowed(options.approval_policy, None)
    return store.start_review(options, client=client)


def start_batch(
    store: JobStore,
    settings: ServerSettings,
    prompts: Sequence[str],
    *,
    cwd: str,
    approval_policy: str,
    sandbox: str | None,
    model: str | None,
    reasoning_effort: str | None,
) -> list[JobRecord]:
    """Start one job per prompt, all or nothing as far as checks go: every prompt is checked,
    and codex found, before the first job is written."""
    checked: list[RunOptions] = []
    for index, text in enumerate(prompts):
        try:
            checked.append(
                checked_run(
                    settings,
                    prompt=text,
                    cwd=cwd,
                    approval_policy=approval_policy,
                    sandbox=sandbox,
                    model=model,
                    reasoning_effort=reasoning_effort,
                )
            )
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

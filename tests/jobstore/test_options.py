"""The options carriers (jobstore.options): one list of a job's options, from every door to
the record and back, each option checked once."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStore, ReviewOptions, RunOptions
from jobstore.cli.parser import build_parser


def test_an_unknown_option_is_refused(workdir: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown option 'work_tree'; options: prompt, cwd"):
        RunOptions.checked(prompt="x", cwd=str(workdir), work_tree=True)


def test_given_picks_the_options_from_a_callers_arguments(workdir: Path) -> None:
    arguments = {"prompt": "x", "cwd": str(workdir), "wait_seconds": 45, "store": object(), "model": "m"}
    assert RunOptions.given(arguments) == {"prompt": "x", "cwd": str(workdir), "model": "m"}
    assert ReviewOptions.given(arguments) == {"prompt": "x", "cwd": str(workdir), "model": "m"}


def test_a_run_is_recorded_with_every_option_and_read_back(store: JobStore, workdir: Path) -> None:
    first = store.wait(store.start(RunOptions.checked(prompt="first", cwd=str(workdir))).job_id, 30)
    options = RunOptions.checked(
        prompt="again",
        cwd=str(workdir),
        approval_policy="suggest",
        sandbox="workspace-write",
        model="gpt-5",
        reasoning_effort="high",
        session_id=first.session_id,
        worktree=False,
    )
    record = store.wait(store.start(options).job_id, 30)
    assert (record.prompt, record.cwd, record.approval_policy, record.sandbox) == (
        "again",
        str(workdir.resolve()),
        "suggest",
        "workspace-write",
    )
    assert (record.model, record.reasoning_effort, record.resumes_session) == (
        "gpt-5",
        "high",
        first.session_id,
    )
    assert RunOptions.from_record(record) == options


@pytest.mark.parametrize(
    "target",
    [{"base": "main"}, {"commit": "abc123", "title": "T"}, {"prompt": "look at the parser"}, {}],
    ids=["base", "commit", "custom", "default"],
)
def test_a_review_is_recorded_and_read_back(store: JobStore, tmp_path: Path, target: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    options = ReviewOptions.checked(cwd=str(repo), model="gpt-5", **target)
    record = store.wait(store.start_review(options).job_id, 30)
    assert record.kind == "review" and record.prompt == options.describe() and record.model == "gpt-5"
    assert ReviewOptions.from_record(record) == options


def _flags(command: str) -> set[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest for action in sub.choices[command]._actions}


def test_the_cli_offers_every_option_the_carriers_list() -> None:
    """The flags are made from the carriers' fields: a new option is a new flag."""
    assert set(RunOptions.names()) <= _flags("start")
    # A review's policy is not a caller's choice (a review reads; codex_review has none either).
    assert set(ReviewOptions.names()) - {"approval_policy"} <= _flags("review")
    assert "approval_policy" not in _flags("review")

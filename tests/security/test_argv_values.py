"""Class 9, values codex reads as something else: every user value that reaches codex's argv
is taken by the real codex CLI as that value, or refused with a clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jobstore import InvalidInput, JobStatus, JobStore, ReviewOptions, RunOptions

# Values a caller may pass in good faith that look like flags or like "read stdin".
FLAG_LIKE_PROMPTS = ["-", "--", "--help", "-x", "--model=evil", "-c approval_policy=never", "- "]


@pytest.mark.parametrize("prompt", FLAG_LIKE_PROMPTS)
def test_a_prompt_that_looks_like_a_flag_is_the_prompt(
    real_store: JobStore, git_repo: Path, prompt: str
) -> None:
    job = real_store.start(RunOptions.checked(prompt=prompt, cwd=str(git_repo)))
    final = real_store.wait(job.job_id, 90)
    assert final.status == JobStatus.DONE, final.error
    assert real_store.final_message(job.job_id) == f"Done: {prompt}"


def test_a_continued_session_takes_a_dash_prompt_as_the_prompt(real_store: JobStore, git_repo: Path) -> None:
    first = real_store.wait(real_store.start(RunOptions.checked(prompt="hi", cwd=str(git_repo))).job_id, 90)
    assert first.status == JobStatus.DONE, first.error
    options = RunOptions.checked(prompt="-", cwd=str(git_repo), session_id=first.session_id)
    second = real_store.wait(real_store.start(options).job_id, 90)
    assert second.status == JobStatus.DONE, second.error
    assert real_store.final_message(second.job_id) == "Done: -"


def head_commit(repo: Path) -> str:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.parametrize("title", ["-x", "--help", "--uncommitted", "-"])
def test_a_review_title_that_looks_like_a_flag_is_the_title(
    real_store: JobStore, git_repo: Path, title: str
) -> None:
    options = ReviewOptions.checked(cwd=str(git_repo), commit=head_commit(git_repo), title=title)
    final = real_store.wait(real_store.start_review(options).job_id, 90)
    assert final.status == JobStatus.DONE, final.error
    assert final.review == {"commit": head_commit(git_repo), "title": title}


@pytest.mark.parametrize("prompt", ["-", "--base main"])
def test_review_instructions_that_look_like_flags_are_the_instructions(
    real_store: JobStore, git_repo: Path, prompt: str
) -> None:
    final = real_store.wait(
        real_store.start_review(ReviewOptions.checked(cwd=str(git_repo), prompt=prompt)).job_id, 90
    )
    assert final.status == JobStatus.DONE, final.error


@pytest.mark.parametrize(
    ("field", "value"),
    [("model", "-m"), ("model", "--dangerously-bypass-approvals-and-sandbox"), ("model", "a b")],
)
def test_a_model_that_is_not_a_model_name_is_refused(
    real_store: JobStore, git_repo: Path, field: str, value: str
) -> None:
    with pytest.raises(InvalidInput, match="invalid model"):
        RunOptions.checked(prompt="hi", cwd=str(git_repo), **{field: value})
    assert real_store.job_ids() == []


@pytest.mark.parametrize(
    ("field", "value"), [("base", "-main"), ("commit", "--output=/tmp/x"), ("base", "-")]
)
def test_a_git_ref_that_looks_like_a_flag_is_refused(git_repo: Path, field: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=f"invalid {field}"):
        ReviewOptions.checked(cwd=str(git_repo), **{field: value})


def test_a_cwd_named_like_a_flag_is_the_cwd(real_store: JobStore, git_repo: Path) -> None:
    folder = git_repo / "-rf"
    folder.mkdir()
    final = real_store.wait(real_store.start(RunOptions.checked(prompt="hi", cwd=str(folder))).job_id, 90)
    assert final.status == JobStatus.DONE, final.error

"""The `codex-async` command line over the store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from jobstore import JobStore, RunOptions
from jobstore.cli import main, parse_age


def test_parse_age() -> None:
    assert parse_age("7d") == timedelta(days=7)
    assert parse_age("90s") == timedelta(seconds=90)
    with pytest.raises(Exception, match="not an age"):
        parse_age("soon")


def test_list_show_prune(store: JobStore, workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job = store.wait(store.start(RunOptions.checked(prompt="hello", cwd=str(workdir))).job_id, 20)
    root = ["--store", str(store.root)]
    assert main([*root, "list"]) == 0
    assert job.job_id in capsys.readouterr().out
    assert main([*root, "show", job.job_id]) == 0
    assert "Done: hello" in capsys.readouterr().out
    assert main([*root, "show", "../../etc"]) == 2  # a refused value: exit 2
    assert "invalid job id" in capsys.readouterr().err
    assert main([*root, "--json", "prune", "--older-than", "0s"]) == 0
    assert json.loads(capsys.readouterr().out) == [job.job_id]
    assert store.job_ids() == []

"""jobstore's public surface (jobstore/__init__.py): every name it lists is there, and those
loaded on first use are not loaded by `import jobstore` (the CLI's, the server's and
codex-tui's start stay as quick as before)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import jobstore

LOADED_ON_USE = ("jobstore.codex_sessions", "jobstore.conversation", "jobstore.worktree_diff")


def test_every_public_name_is_there() -> None:
    for name in jobstore.__all__:
        assert getattr(jobstore, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        getattr(jobstore, "no_such_name")  # noqa: B009 - the name is looked up at run time


def test_import_jobstore_loads_no_module_loaded_on_use() -> None:
    code = f"import sys, jobstore; print([m for m in {LOADED_ON_USE!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

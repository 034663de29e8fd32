"""The server's log file (CODEX_ASYNC_LOG_FILE) is private from its first byte and never a symlink."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_server.__main__ import setup_logging


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    yield
    os.umask(old)
    logging.basicConfig(handlers=[logging.NullHandler()], force=True)


def test_log_file_is_private_under_umask_000(tmp_path: Path, open_umask: None) -> None:
    log = tmp_path / "server.log"
    setup_logging("INFO", str(log))
    logging.getLogger("test").info("a prompt that may be secret")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "a prompt that may be secret" in log.read_text()


def test_log_file_through_a_symlink_is_not_written(
    tmp_path: Path, open_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("untouched\n")
    link = tmp_path / "server.log"
    link.symlink_to(target)
    setup_logging("INFO", str(link))
    logging.getLogger("test").info("must not reach the target")
    assert target.read_text() == "untouched\n"
    assert "cannot write the log file" in capsys.readouterr().err

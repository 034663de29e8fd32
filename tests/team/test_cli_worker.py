"""`codex-async worker`: listed in the help, and bad input refused with a clear message (exit 2)
before anything is written or any connection made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobstore.cli.main import main as store_main
from team.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--host-id", "a"], "no Redis for the team's queue"),
        (["--host-id", "a", "--redis", "redis://10.0.0.7:6379"], "use rediss://"),
        (["--host-id", "a", "--redis", "http://127.0.0.1"], "must start with redis://"),
        (["--host-id", "a b", "--redis", "redis://127.0.0.1:1"], "--host-id must be"),
        (["--host-id", "a", "--redis", "redis://127.0.0.1:1", "--concurrency", "0"], "--concurrency"),
        (["--host-id", "a", "--redis", "redis://127.0.0.1:1", "--lease-seconds", "0.1"], "--lease-seconds"),
        (["--host-id", "a", "--redis", "redis://127.0.0.1:1", "--repo", "/no/such/repo"], "not a folder"),
    ],
)
def test_bad_input_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    says: str,
) -> None:
    monkeypatch.delenv("CODEX_ASYNC_REDIS", raising=False)
    store = tmp_path / "store"
    code, err = run(capsys, "--store", str(store), "worker", *argv)
    assert code == 2
    assert says in err
    assert not store.exists()  # refused before the store was made


def test_the_variable_is_checked_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_ASYNC_REDIS", "redis://192.168.0.2")
    code, err = run(capsys, "--store", str(tmp_path / "store"), "worker", "--host-id", "a")
    assert code == 2 and "use rediss://" in err


def test_a_bad_policy_cap_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_ASYNC_MAX_POLICY", "yolo")
    argv = ["--store", str(tmp_path / "store"), "worker", "--host-id", "a", "--redis", "redis://127.0.0.1:1"]
    code, err = run(capsys, *argv)
    assert code == 2 and "CODEX_ASYNC_MAX_POLICY" in err


def test_host_id_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["worker", "--redis", "redis://127.0.0.1:1"])
    assert exit_.value.code == 2
    assert "--host-id" in capsys.readouterr().err


def test_help_lists_worker_and_the_store_commands_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "worker" in capsys.readouterr().out
    assert main(["--store", str(tmp_path / "store"), "list"]) == 0


def test_jobstore_alone_has_no_worker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        store_main(["worker", "--host-id", "a"])
    assert exit_.value.code == 2


def test_other_commands_do_not_load_redis(tmp_path: Path) -> None:
    code = (
        "import sys; from team.cli import main; main(['--store', sys.argv[1], 'list']); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'docket')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "store")], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["team-limit", "0", "--redis", "redis://127.0.0.1:1"], "from 1 to"),
        (["team-limit", "many", "--redis", "redis://127.0.0.1:1"], "from 1 to"),
        (["team-limit", "2", "--redis", "redis://10.0.0.7:6379"], "use rediss://"),
        (["team-limit"], "no Redis for the team's queue"),
    ],
)
def test_team_limit_refuses_bad_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], says: str
) -> None:
    monkeypatch.delenv("CODEX_ASYNC_REDIS", raising=False)
    code, err = run(capsys, *argv)
    assert code == 2 and says in err


def test_nothing_listening_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = tmp_path / "store"
    code, err = run(
        capsys, "--store", str(store), "worker", "--host-id", "a", "--redis", "redis://127.0.0.1:1"
    )
    assert code == 1 and "cannot use Redis at redis://127.0.0.1:1" in err
    assert len(err.strip().splitlines()) == 1 and not store.exists()

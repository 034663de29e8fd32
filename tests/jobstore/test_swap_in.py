"""A file rewritten often (a job's record, its summary) is swapped in through a spare: atomic
for readers, no inode made or freed per write, and a planted spare is never written through."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jobstore import fsio


def test_a_swapped_in_file_keeps_two_inodes_and_the_previous_version_in_its_spare(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    spare = tmp_path / fsio.spare_name("meta.json")
    fsio.write_json_atomic(target, {"n": 0}, one_writer=True)  # no file yet: a plain replace
    fsio.write_json_atomic(target, {"n": 1}, one_writer=True)
    inodes = {target.stat().st_ino, spare.stat().st_ino}
    for n in range(2, 6):
        fsio.write_json_atomic(target, {"n": n}, one_writer=True)
        assert json.loads(target.read_text()) == {"n": n}
        assert json.loads(spare.read_text()) == {"n": n - 1}
    assert {target.stat().st_ino, spare.stat().st_ino} == inodes
    assert sorted(p.name for p in tmp_path.iterdir()) == [spare.name, target.name]  # no temp files
    assert oct(target.stat().st_mode & 0o777) == oct(fsio.FILE_MODE)


def test_a_planted_spare_is_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    fsio.write_json_atomic(target, {"n": 0}, one_writer=True)
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    spare = tmp_path / fsio.spare_name("meta.json")
    spare.symlink_to(victim)
    fsio.write_json_atomic(target, {"n": 1}, one_writer=True)
    assert victim.read_text() == "untouched\n"
    assert json.loads(target.read_text()) == {"n": 1}
    assert not target.is_symlink()
    # A hard link to another file: the same refusal (writing it would change that file).
    spare.unlink(missing_ok=True)
    os.link(victim, spare)
    fsio.write_json_atomic(target, {"n": 2}, one_writer=True)
    assert victim.read_text() == "untouched\n"
    assert json.loads(target.read_text()) == {"n": 2}


def test_a_symlink_in_the_target_s_place_is_replaced_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("untouched\n")
    fsio.write_json_atomic(tmp_path / "meta.json", {"n": 0}, one_writer=True)
    (tmp_path / "meta.json").unlink()
    (tmp_path / "meta.json").symlink_to(victim)
    fsio.write_json_atomic(tmp_path / "meta.json", {"n": 1}, one_writer=True)
    assert victim.read_text() == "untouched\n"
    assert not (tmp_path / "meta.json").is_symlink()
    assert json.loads((tmp_path / "meta.json").read_text()) == {"n": 1}

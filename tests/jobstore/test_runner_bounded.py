"""The runner sleeps while codex is silent, and every reader of codex's output caps the line it holds."""

from __future__ import annotations

import threading
from pathlib import Path

from jobstore import JobStatus, JobStore, RunOptions
from jobstore.cut_lines import CUT_END_BYTES
from jobstore.output_file import MAX_LINE_CHARS, OutputFollower, read_tail
from tests.helpers import wait_until

MiB = 1024 * 1024
# What a capped line may be: its first MAX_LINE_CHARS characters, a note of what was cut, its end.
CAPPED = MAX_LINE_CHARS + 100 + CUT_END_BYTES


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def wakeups(pid: int) -> tuple[int, int]:
    """Times the process blocked and woke again (each wait ends one), and its CPU ticks."""
    status = proc_status(pid)
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(status["voluntary_ctxt_switches"]), int(fields[11]) + int(fields[12])


def test_a_silent_jobs_runner_does_not_wake_for_a_second(store: JobStore, workdir: Path) -> None:
    job = store.start(RunOptions.checked(prompt="quiet sleep=30", cwd=str(workdir)))
    wait_until(lambda: store.layout.summary(job.job_id).exists())
    pid = store.get(job.job_id).pid
    assert pid is not None
    # Let what it has to do after codex's first events (a summary due 0.5 s later) be done.
    pause = threading.Event()
    settled = wakeups(pid)
    for _ in range(50):
        pause.wait(0.6)
        now, settled = settled, wakeups(pid)
        if now == settled:
            break
    else:
        raise AssertionError("the runner of a silent job never went quiet")
    quiet_window = store.wait(job.job_id, 1.0)  # a second of codex printing nothing
    assert quiet_window.status == JobStatus.RUNNING
    assert wakeups(pid) == settled  # not one wake-up, not one CPU tick
    store.cancel(job.job_id)


def write_long_line(path: Path, mib: int, *, then: bytes = b"") -> None:
    with path.open("wb") as f:
        f.write(b'{"type": "turn.started"}\n')
        for _ in range(mib):
            f.write(b"x" * MiB)
        f.write(then)


def test_the_follower_holds_a_capped_part_of_a_huge_line(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    write_long_line(path, 24)
    follower = OutputFollower(path, max_read_bytes=4 * MiB)
    seen: list[str] = []
    while follower.offset < 24 * MiB:
        seen += follower.read_new()
        assert follower.held_bytes <= MAX_LINE_CHARS * 4
    assert seen == ['{"type": "turn.started"}']
    with path.open("ab") as f:
        f.write(b"\nafter\n")
    lines = follower.read_new()
    assert len(lines) == 2 and lines[1] == "after"
    assert lines[0].startswith("xxxx") and len(lines[0]) <= CAPPED
    assert f"cut: the line has {24 * MiB:,} bytes" in lines[0]


def test_read_tail_caps_a_huge_last_line(tmp_path: Path) -> None:
    path = tmp_path / "output.txt"
    write_long_line(path, 24)
    tail = read_tail(path, 10)
    assert tail.lines and all(len(line) <= CAPPED for line in tail.lines)


def test_a_job_printing_a_huge_line_is_capped_everywhere_it_is_read(store: JobStore, workdir: Path) -> None:
    job = store.start(RunOptions.checked(prompt="flood bigline=120 sleep=1", cwd=str(workdir)))
    wait_until(lambda: store.layout.output(job.job_id).stat().st_size > 120 * MiB)
    pid = store.get(job.job_id).pid
    assert pid is not None
    peak_kib = int(proc_status(pid)["VmHWM"].split()[0])  # while the line is still unfinished
    assert peak_kib < 50 * 1024, f"the runner held {peak_kib // 1024} MiB"
    assert all(len(r.text) <= CAPPED for r in store.rendered_tail(job.job_id, 50))
    assert all(len(line) <= CAPPED for line in store.output_tail(job.job_id, 50).lines)
    final = store.wait(job.job_id, 60)
    assert (final.status, final.exit_code) == (JobStatus.DONE, 0)  # the events after it were read
    assert store.summary(job.job_id).turn_completed

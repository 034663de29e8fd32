"""Load: three server processes share one store with a parallel limit of 4 while 200 jobs
are started across them at once. Sampled throughout, never more than 4 run; all end; 200
distinct readable records; no job started twice."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import anyio
import psutil

from jobstore import JobRecord, JobStatus, JobStore
from tests.mcp_server.mcp_helpers import call_ok, server_env, stdio_session

JOBS = 200
LIMIT = 4
SERVERS = 3


def running_codex_processes(store_root: Path) -> int:
    """Fake codex processes of this store alive now (the truth, not the records)."""
    count = 0
    marker = f"{store_root}/jobs/"
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info.get("cmdline") or []
        if (
            proc.info.get("status") != psutil.STATUS_ZOMBIE
            and "exec" in cmdline[2:4]  # python [-IS] fake_codex.py exec ...
            and any(marker in part for part in cmdline)
        ):
            count += 1
    return count


class Sampler(threading.Thread):
    """Counts running jobs every few milliseconds, by process and by record markers."""

    def __init__(self, store: JobStore) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.most_processes = 0
        self.most_slots = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.most_processes = max(self.most_processes, running_codex_processes(self.store.root))
            try:
                slots = len(list(self.store.layout.running_dir.iterdir()))
            except FileNotFoundError:
                slots = 0
            self.most_slots = max(self.most_slots, slots)
            self.samples += 1
            self.stop.wait(0.01)


async def test_200_jobs_across_three_servers_with_a_limit_of_4(
    store: JobStore, fake_codex: Path, workdir: Path, tmp_path: Path
) -> None:
    argv_log = tmp_path / "codex-argv.jsonl"
    env = server_env(
        store.root, fake_codex, CODEX_ASYNC_MAX_JOBS=str(LIMIT), FAKE_CODEX_ARGV_LOG=str(argv_log)
    )
    sampler = Sampler(store)
    sampler.start()
    started: list[dict[str, object]] = []
    try:
        async with (
            stdio_session(env) as first,
            stdio_session(env) as second,
            stdio_session(env) as third,
        ):
            sessions = [first, second, third]

            async def start(n: int) -> None:
                session = sessions[n % SERVERS]
                prompt = f"load job {n} sleep=0.05"
                started.append(await call_ok(session, "codex_start", {"prompt": prompt, "cwd": str(workdir)}))

            async with anyio.create_task_group() as group:
                for n in range(JOBS):
                    group.start_soon(start, n)
            # The limit made starts queue. (How many were admitted running depends on how many
            # jobs ended meanwhile: the sampler below checks the limit itself, all along.)
            assert any(s["status"] == "queued" for s in started)

            ids = [str(s["job_id"]) for s in started]
            finals: list[JobRecord] = []
            for job_id in ids:
                finals.append(await anyio.to_thread.run_sync(store.wait, job_id, 120))
    finally:
        sampler.stop.set()
        sampler.join()

    assert len(set(ids)) == JOBS
    assert sorted(store.job_ids()) == sorted(ids)
    assert [f.status for f in finals] == [JobStatus.DONE] * JOBS
    for job_id in ids:
        record = store.read_record(job_id)  # every record readable straight from disk
        assert record.exit_code == 0 and record.session_id
    assert sampler.samples > 50
    assert sampler.most_processes <= LIMIT, sampler.most_processes
    assert sampler.most_slots <= LIMIT, sampler.most_slots
    assert sampler.most_processes >= 2  # the limit was actually used
    # No job started twice: codex was spawned once per job (its last-message path names the job).
    spawned = Counter()
    for line in argv_log.read_text().splitlines():
        argv = json.loads(line)
        if "--output-last-message" in argv:
            spawned[Path(argv[argv.index("--output-last-message") + 1]).parent.name] += 1
    assert spawned == Counter(dict.fromkeys(ids, 1))
    assert not list(store.layout.running_dir.iterdir())
    assert not list(store.layout.queue_dir.iterdir())

"""The job's runner: a detached process that walks one job's life and records how it ended.

Started by the store as `python -m jobstore.runner <root> <job_id>` (or forked by the
store's zygote, the same from here on) in a session of its own, it outlives the process
that started the job (even a SIGKILL of it). It writes through the job's port
(`jobstore.job_port`), never the facade. It walks the job's steps (`jobstore.job_steps`:
prepare the folder, start codex, follow it, each step's cleanup), turns a cancel request
(SIGTERM to the runner, or the job's `cancel` marker) into the steps' cancel, then records
the end the outcome deserves and starts the next queued job.

If the runner dies, the job reads `running` while codex lives and `lost` after.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from jobstore import fsio
from jobstore.errors import StoreWriteError
from jobstore.job_life import CancelRequest, JobLife, Outcome, log, walk
from jobstore.job_port import JobPort
from jobstore.job_steps import job_steps
from jobstore.processes import become_child_subreaper
from jobstore.states import JobStatus

END_RETRY_FIRST_SECONDS = 0.1
END_RETRY_MAX_SECONDS = 5.0  # a full disk: retry recording the end at least this often


class Runner:
    def __init__(self, port: JobPort) -> None:
        self.port = port
        self.cancel = CancelRequest(port.layout.cancel_marker(port.job_id))
        self.life: JobLife | None = None

    @property
    def outcome(self) -> Outcome | None:
        """The job's outcome once decided (before any cleanup)."""
        return self.life.outcome if self.life is not None else None

    def run(self) -> int:
        os.chdir("/")  # hold no folder of the starter's busy
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.cancel.on_signal)
        become_child_subreaper()
        # The starter marks the job running under the scheduler lock right after spawning
        # us; taking the lock once orders our writes after its.
        with fsio.file_lock(self.port.layout.scheduler_lock):
            pass
        record = self.port.read()
        if record.status != JobStatus.RUNNING:  # a job of ours is never waiting before it runs
            return 0  # cancelled or settled before we got here
        if record.pid != os.getpid():
            return 0  # the starter gave up on us (a late zygote fork) and spawned another
        self.life = JobLife(self.port, record, self.cancel)
        outcome = walk(self.life, job_steps(record))
        self.finish(outcome)
        return 1 if outcome.status == JobStatus.ERROR and outcome.exit_code is None else 0

    def finish(self, outcome: Outcome) -> None:
        """Record the end, then give the freed slot to the next queued job."""
        try:
            fsio.make_private(self.port.layout.job_dir(self.port.job_id))
        except Exception as exc:
            log(f"cannot make the job's folder private: {exc!r}")
        self.record_end(outcome)
        try:
            self.port.schedule()
        except Exception as exc:
            log(f"cannot start queued jobs: {exc!r}")

    def record_end(self, outcome: Outcome) -> None:
        """Record the job's end. On a full disk the end stays in memory and is written as
        soon as the disk lets it (meanwhile the job reads running: its runner lives)."""
        assert self.life is not None
        delay = END_RETRY_FIRST_SECONDS
        while True:
            try:
                self.life.write(outcome.status, exit_code=outcome.exit_code, error=outcome.error)
                return
            except StoreWriteError as exc:
                if not os.path.lexists(self.port.layout.job_dir(self.port.job_id)):
                    # The job was deleted (its store removed, e.g. the demo's on quit): nothing
                    # is left to record the end in, and waiting would keep this process forever.
                    return
                with contextlib.suppress(OSError):  # the log is on the same full disk
                    log(f"cannot record the end yet ({exc}); retrying")
            time.sleep(delay)
            delay = min(delay * 2, END_RETRY_MAX_SECONDS)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m jobstore.runner STORE_ROOT JOB_ID", file=sys.stderr)
        return 2
    root, job_id = args
    port = JobPort(Path(root), job_id)
    runner = Runner(port)
    try:
        return runner.run()
    except Exception as exc:
        log(repr(exc))
        try:
            if runner.outcome is not None:
                # codex's end was known before this failure: record that, not the failure.
                runner.record_end(runner.outcome)
            else:
                # Record why, so the job never reads as running or done after a runner failure;
                # with what waited for the record's next write (codex's session id).
                deferred = runner.life.deferred if runner.life is not None else {}
                port.transition(JobStatus.ERROR, **{**deferred, "error": f"the job's runner failed: {exc}"})
        finally:
            port.schedule()
        return 1


if __name__ == "__main__":
    sys.exit(main())

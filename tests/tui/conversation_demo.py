"""Test data for the conversation and diff views: codex's own sessions in a CODEX_HOME (the real
rollout of codex 0.171.0, moved in time), and a recorded working-tree diff for a demo job;
`build_conversation_demo` puts both beside the demo store (the tests and screenshots/ use it)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from jobstore import JobStore
from jobstore.fsio import write_bytes_atomic, write_json_atomic
from jobstore.layout import FileKind
from jobstore.worktree_diff import WorktreeDiff
from tests.tui.tui_demo import NOW, DemoStore, build_demo_store

FIXTURE = (
    Path(__file__).resolve().parents[1]
    / "jobstore"
    / "fixtures"
    / "rollout-2026-11-29T23-04-03-01a2298d-1e8e-79f2-bed9-e0ab1302a149.jsonl"
)
CODEX_SESSION_ID = "01a2298d-1e8e-79f2-bed9-e0ab1302a149"

# "~" stands for a diff's blank context line (a single space), which an editor would strip.
DEMO_DIFF = """\
diff --git a/src/payments/fees.py b/src/payments/fees.py
index 3b18e51..a9c4f02 100644
--- a/src/payments/fees.py
+++ b/src/payments/fees.py
@@ -1,6 +1,8 @@
 from decimal import Decimal
~
-def fee(amount):
-    return amount * 0.029 + 0.30
+
+def fee(amount: Decimal) -> Decimal:
+    \"\"\"Card fee: 2.9% plus 30 cents, rounded to the cent.\"\"\"
+    return (amount * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01"))
~
diff --git a/src/payments/ledger.py b/src/payments/ledger.py
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/src/payments/ledger.py
@@ -0,0 +1,2 @@
+class Ledger:
+    entries: list[str]
""".replace("~\n", " \n")


def write_codex_home(codex_home: Path, *, last_activity: datetime) -> Path:
    """CODEX_HOME holding the real rollout, its times moved so that it ended at `last_activity`."""
    lines = FIXTURE.read_text().splitlines()
    stamps = [datetime.fromisoformat(json.loads(line)["timestamp"]) for line in lines]
    shift = last_activity - max(stamps)
    moved = []
    for line in lines:
        record = json.loads(line)
        record["timestamp"] = (datetime.fromisoformat(record["timestamp"]) + shift).isoformat()
        moved.append(json.dumps(record))
    folder = codex_home / "sessions" / last_activity.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-{last_activity.strftime('%Y-%m-%dT%H-%M-%S')}-{CODEX_SESSION_ID}.jsonl"
    path.write_text("\n".join(moved) + "\n")
    os.utime(path, (last_activity.timestamp(), last_activity.timestamp()))
    return path


def write_diff(store: JobStore, job_id: str, *, repo: str, ended: datetime, others: list[str]) -> None:
    """What the runner records at a job's end (see jobstore.worktree_diff)."""
    diff = WorktreeDiff(
        repo=repo,
        started_at=(ended - timedelta(minutes=7)).isoformat(),
        start_tree="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
        ended_at=ended.isoformat(),
        end_tree="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        diff=DEMO_DIFF,
        files=[("M", "src/payments/fees.py"), ("A", "src/payments/ledger.py")],
        other_jobs=others,
    )
    folder = store.layout.job_dir(job_id)
    write_bytes_atomic(store.layout.job_file(folder, FileKind.WORKTREE_DIFF), DEMO_DIFF.encode())
    write_json_atomic(store.layout.job_file(folder, FileKind.WORKTREE), diff.to_dict())


def demo_codex_home(store_root: Path) -> Path:
    """The CODEX_HOME beside a demo store built by `build_conversation_demo`."""
    return store_root.parent / "codex-home"


def build_conversation_demo(folder: Path, *, talk: bool = False) -> DemoStore:
    """The demo store (`folder/store`), codex's own sessions beside it (`demo_codex_home`), and
    a recorded diff for one job, which another job's run overlapped. `talk`: see
    `build_demo_store` (a steered running job and a waiting one)."""
    demo = build_demo_store(folder / "store", talk=talk)
    write_codex_home(demo_codex_home(demo.store.root), last_activity=NOW - timedelta(minutes=20))
    write_diff(
        demo.store,
        demo.jobs["payments_2"],
        repo="/home/dev/src/web",
        ended=NOW - timedelta(minutes=60),
        others=[demo.jobs["review"]],
    )
    return demo

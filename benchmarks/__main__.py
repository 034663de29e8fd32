"""Run every benchmark and print one table per area, then a summary.

    python -m benchmarks [--quick] [--only server,store,tui,team] [--explore] [--keep]
                         [--tui-baseline REV|none] [--json PATH] [--markdown PATH]

Needs: the project installed in the running interpreter's environment, node + npm (the
reference server is installed from npm into a temp folder; BENCH_REFERENCE_DIR=<dir> reuses
one), tmux (for codex-tui), redis-server (for the team's queue). Everything runs on this machine: MCP
over stdio; the team's Redis listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from benchmarks import bench_server, bench_store, bench_team, bench_tui
from benchmarks._common import (
    PROJECT,
    Context,
    Row,
    compile_bytecode,
    machine_info,
    markdown_table,
    print_table,
    save_results,
    temp_area,
)

AREAS = ("server", "store", "tui", "team")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, 30 concurrent jobs instead of 100"
    )
    parser.add_argument("--only", default=",".join(AREAS), help="comma-separated: server, store, tui, team")
    parser.add_argument("--explore", action="store_true", help="also try the proposed changes (slower)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (stores, logs)")
    parser.add_argument(
        "--tui-baseline",
        default=bench_tui.BASELINE_REV,
        help="the release whose codex-tui is measured beside ours ('none': skip it)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--markdown", type=Path, help="also write the summary table as Markdown to this file")
    args = parser.parse_args(argv)
    areas = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = set(areas) - set(AREAS)
    if unknown:
        parser.error(f"unknown area(s): {', '.join(sorted(unknown))}; choose from {', '.join(AREAS)}")

    compile_bytecode(PROJECT)  # measured as installed code is run: with its bytecode
    info = machine_info()
    print(
        f"codex-async-mcp benchmarks · {info['date']} · {info['nproc']} CPUs ({info['cpu']}) · "
        f"{info['memory_gb']} GB · load {info['load_1min']} · Python {info['python']} · node {info['node']}",
        flush=True,
    )
    started = time.monotonic()
    sections: list[tuple[str, list[Row]]] = []
    with temp_area(keep=args.keep) as area:
        if args.keep:
            print(f"  (temp folder kept: {area.root})")
        ctx = Context(area, quick=args.quick)
        for name in areas:
            print(f"\n#### {name}", flush=True)
            try:
                if name == "server":
                    sections += bench_server.run(ctx, explore=args.explore)
                elif name == "store":
                    sections += bench_store.run(ctx)
                elif name == "tui":
                    baseline = None if args.tui_baseline == "none" else args.tui_baseline
                    sections += bench_tui.run(ctx, explore=args.explore, baseline=baseline)
                elif name == "team":
                    sections += bench_team.run(ctx)
            except Exception as exc:  # one area failing must not hide the others' figures
                traceback.print_exc()
                sections.append((name, [Row.missing(f"{name} benchmarks", "n/a", f"failed: {exc!r}"[:300])]))
    # Figures of proposed changes (--explore) are shown, not counted.
    targets = [r for title, rows in sections if "proposed" not in title for r in rows if r.target != "-"]
    print_table(f"summary ({time.monotonic() - started:.0f} s)", targets)
    missed = sum(1 for r in targets if r.passed is False)
    print(f"\n{len(targets) - missed} of {len(targets)} targets met.")
    if args.json:
        save_results(args.json, sections)
    if args.markdown:
        body = "\n\n".join(f"### {title}\n\n{markdown_table(rows)}" for title, rows in sections)
        args.markdown.write_text(f"## Summary\n\n{markdown_table(targets)}\n\n{body}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

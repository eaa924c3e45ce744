"""(c) Per-asset overhead of ``materialize``: 1,000 trivial assets (each adds up two small ints) in-process on SQLite.

Times ``executor.run`` over the stale plan of a freshly loaded project (every asset built: read inputs,
call, write, record), then again when everything is fresh (every step re-checks and does nothing).
The project is loaded and its code versions computed before the clock starts. Runs in a fresh process.

    .venv/bin/python benchmarks/bench_materialize.py [--assets 1000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import graphs
import harness

COLUMNS = ("assets", "run", "built", "fresh", "total_s", "per_asset_ms", "per_asset_cpu_ms", "maxrss_mib")


def case(project: Path) -> list[dict[str, object]]:
    from assets_core import executor
    from assets_core.config import load_settings
    from assets_core.workspace import Workspace

    ws = Workspace.load("generated.py", load_settings(project))
    keys = [status.key for status in ws.plan().stale]
    rows = []
    for run in ("build all", "all fresh"):
        start, cpu_start = time.perf_counter(), time.process_time()
        summary = executor.run(ws, keys)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        counts = summary.counts()
        rows.append(
            {
                "assets": len(keys),
                "run": run,
                "built": counts["built"],
                "fresh": counts["fresh"],
                "total_s": seconds,
                "per_asset_ms": seconds * 1000 / len(keys),
                "per_asset_cpu_ms": cpu * 1000 / len(keys),
                "maxrss_mib": harness.maxrss_mib(),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--case", metavar="PROJECT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        harness.emit({"rows": case(Path(args.case))})
        return
    project = Path(tempfile.mkdtemp(prefix="lakeplan-bench-materialize-"))
    try:
        (project / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
        (project / "generated.py").write_text(graphs.module_source(args.assets), encoding="utf-8")
        rows = harness.run_case(Path(__file__), ["--case", str(project)])["rows"]
    finally:
        shutil.rmtree(project, ignore_errors=True)
    print(harness.table(rows, COLUMNS))


if __name__ == "__main__":
    main()

"""(c) Per-asset cost of ``materialize`` on SQLite, and what ``--workers 2`` buys over one process.

*trivial*: the layered graph of ``graphs.py`` (each asset adds up two small ints), in-process. Times
``executor.run`` over the stale plan of an empty store (every asset built: claim, read inputs, call, write,
record), then again when everything is fresh (every step re-checks and does nothing). The cost per asset
must not grow with the graph, so it runs at several sizes.

*cpu* / *io*: ``--parallel-assets`` assets (``--parallel-layers`` layers; asset ``i`` reads ``i`` and
``i+1`` of the layer above), each busy for ``--work-ms``: a pure-Python loop (CPU-bound) or a sleep
(I/O-bound, e.g. waiting on a remote service); with 1 worker (in-process) and with 2 worker processes.
The worker figures include starting the workers (each loads the project once).

Each repetition builds into a new, empty metadata store and storage directory; the project is loaded and
its code versions computed before the clock starts. ``cpu`` is user + system time of the process and of
its worker processes (also apart: ``parent_cpu_ms`` and ``workers_cpu_ms``, medians). Every figure is per
asset: wall and CPU time, min and median over ``--reps`` repetitions (at least 5), printed with the
machine's load average at the start and end (``harness``). ``--assets`` with no size skips the trivial case.

    .venv/bin/python benchmarks/bench_materialize.py [--assets 1000 10000] [--reps 5] [--skip-parallel]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import graphs
import harness

COLUMNS = ("case", "assets", "workers", "run", "built", "fresh", *harness.TIME_COLUMNS)
COLUMNS += ("parent_cpu_ms", "workers_cpu_ms", "total_s", "maxrss_mib")
RUNS = {"trivial": ("build all", "all fresh"), "cpu": ("build all",), "io": ("build all",)}


def parallel_source(kind: str, n: int, layers: int, work_ms: float) -> str:
    """A module of ``n`` assets in ``layers`` layers, each busy for ``work_ms`` (``kind``: cpu or io)."""
    seconds = work_ms / 1000
    busy = {
        "cpu": f"    end = time.process_time() + {seconds!r}\n    while time.process_time() < end:\n        pass\n",
        "io": f"    time.sleep({seconds!r})\n",
    }[kind]
    lines = [f'"""Generated: {n} {kind}-bound assets."""', "", "import time", "", "from assets_core import asset", ""]
    for key, ups in graphs.layered(n, layers):
        lines += ["", "@asset", f"def {key}({', '.join(ups)}):", busy + "    return 1", ""]
    return "\n".join(lines)


def _cpu_seconds() -> tuple[float, float]:
    """CPU time of this process, and of its children that ended: the worker processes, and the ``git status``
    of each run's environment capture (about 2 ms a run, in-process too)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def case(project: Path, workers: int, reps: int, runs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every repetition's figures: a new store per repetition, the loaded graph shared."""
    from assets_core import executor
    from assets_core.config import load_settings
    from assets_core.workspace import Workspace

    loaded = Workspace.load("generated.py", load_settings(project))
    figures: list[dict[str, Any]] = []
    for rep in range(reps):
        settings = dataclasses.replace(
            loaded.settings,
            database_url=f"sqlite:///{project / f'rep{rep}.db'}",
            storage_root=project / f"storage{rep}",
        )
        ws = Workspace(settings, loaded.target, loaded.graph)
        keys = [status.key for status in ws.plan().stale]  # opens the store and computes code versions
        for run in runs:
            start, (parent_start, workers_start) = time.perf_counter(), _cpu_seconds()
            summary = executor.run(ws, keys, workers=workers)
            seconds, (parent_end, workers_end) = time.perf_counter() - start, _cpu_seconds()
            parent, children = parent_end - parent_start, workers_end - workers_start
            counts = summary.counts()
            figures.append(
                {"run": run, "assets": len(keys), "seconds": seconds, "cpu": parent + children, **counts}
                | {"parent_cpu": parent, "workers_cpu": children}
                | {"maxrss_mib": harness.maxrss_mib()}
            )
        ws.store.close()
    return figures


def summarize(name: str, workers: int, figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per run kind: wall and CPU time per asset (ms), min and median over the repetitions."""
    rows = []
    for run in dict.fromkeys(f["run"] for f in figures):
        reps = [f for f in figures if f["run"] == run]
        n = reps[0]["assets"]
        rows.append(
            {
                "case": name,
                "assets": n,
                "workers": workers,
                "run": f"{run} x{len(reps)}",
                "built": reps[-1]["built"],
                "fresh": reps[-1]["fresh"],
                **harness.summary([f["seconds"] * 1000 / n for f in reps], [f["cpu"] * 1000 / n for f in reps]),
                "parent_cpu_ms": statistics.median(f["parent_cpu"] * 1000 / n for f in reps),
                "workers_cpu_ms": statistics.median(f["workers_cpu"] * 1000 / n for f in reps),
                "total_s": statistics.median(f["seconds"] for f in reps),
                "maxrss_mib": max(f["maxrss_mib"] for f in reps),
            }
        )
    return rows


def _measure(source: str, name: str, workers: int, reps: int) -> list[dict[str, Any]]:
    """Write ``source`` as a project's module and run the case in a fresh process."""
    project = Path(tempfile.mkdtemp(prefix="lakeplan-bench-materialize-"))
    try:
        (project / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
        (project / "generated.py").write_text(source, encoding="utf-8")
        args = ["--case", str(project), "--kind", name, "--case-workers", str(workers), "--reps", str(reps)]
        figures = harness.run_case(Path(__file__), args)["figures"]
    finally:
        shutil.rmtree(project, ignore_errors=True)
    return summarize(name, workers, figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes = "sizes of the trivial case (none: skip it)"
    parser.add_argument("--assets", type=int, nargs="*", default=[1000, 10000], help=sizes)
    parser.add_argument("--reps", type=int, default=harness.REPEAT, help="repetitions of each case (at least 5)")
    parser.add_argument("--parallel-assets", type=int, default=200)
    parser.add_argument("--parallel-layers", type=int, default=50)
    parser.add_argument("--work-ms", type=float, default=20.0, help="busy time of each cpu/io asset")
    parser.add_argument("--skip-parallel", action="store_true", help="only the trivial case")
    parser.add_argument("--case", metavar="PROJECT", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--case-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        harness.emit({"figures": case(Path(args.case), args.case_workers, args.reps, RUNS[args.kind])})
        return
    with harness.session("materialize"):
        rows = []
        cases = [(graphs.module_source(n), "trivial", 1) for n in args.assets]
        if not args.skip_parallel:
            for kind in ("cpu", "io"):
                source = parallel_source(kind, args.parallel_assets, args.parallel_layers, args.work_ms)
                cases += [(source, kind, workers) for workers in (1, 2)]
        for source, kind, workers in cases:
            for row in _measure(source, kind, workers, args.reps):
                rows.append(row)
                harness.progress(row, COLUMNS)
        print(harness.table(rows, COLUMNS))


if __name__ == "__main__":
    main()

"""(d) The same layered graphs declared, materialized and planned by Dagster and by lakeplan, as ratios.

Dagster runs from its own virtual environment (never a lakeplan dependency), found at ``--dagster-python``,
``$LAKEPLAN_BENCH_DAGSTER_PYTHON`` or ``benchmarks/.venv-dagster/bin/python``; without one the benchmark
says how to make it and exits. To make one:

    python3 -m venv benchmarks/.venv-dagster && benchmarks/.venv-dagster/bin/pip install 'dagster==1.13.*'
 For each size it declares the graph (import of a generated module of
``@dagster.asset`` functions with ``code_version="1"`` + ``Definitions``), materializes every asset in
process on a SQLite instance (up to ``--materialize-limit`` assets), then computes every asset's stale
status: nothing built (an empty instance), and when materialized, everything fresh and one root's code
version changed. Stale status is
computed on Dagster's default path (``CachingStaleStatusResolver.get_status`` per asset) and on its
fastest path (the same, after ``CachingInstanceQueryer.prefetch_asset_records`` of all keys in the same
loading context). lakeplan runs the same cases (``bench_plan``, ``bench_load``, ``bench_materialize``
case functions) in the same run. Every case runs in a fresh process.

    .venv/bin/python benchmarks/bench_dagster.py [--sizes 1000 10000] [--materialize-limit 1000]
        [--dagster-python PATH]

Each measure is taken over at least 5 processes (lakeplan's plans over 5 repetitions in one), min and median of
wall and CPU time; the ratios compare the minimum CPU and wall times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness  # graphs and the lakeplan benchmarks import lakeplan: loaded only outside the Dagster env

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-dagster"
DAGSTER_REQUIREMENT = "dagster==1.13.*"
STATES = ("all_fresh", "root_changed", "nothing_built")


def dagster_python(given: str | None) -> str | None:
    """The interpreter of a virtual environment with Dagster, or None when there is none."""
    python = given or os.environ.get("LAKEPLAN_BENCH_DAGSTER_PYTHON") or str(VENV / "bin" / "python")
    found = (
        subprocess.run([python, "-c", "import dagster"], capture_output=True, check=False)
        if Path(python).exists()
        else None
    )
    return python if found is not None and found.returncode == 0 else None


# -- run inside the Dagster environment ----------------------------------------------------------------


def _dagster_assets(module_dir: Path, name: str) -> list[Any]:
    import importlib

    from dagster import AssetsDefinition

    sys.path.insert(0, str(module_dir))
    module = importlib.import_module(name)
    return [v for v in vars(module).values() if isinstance(v, AssetsDefinition)]


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float], prefix: str) -> dict[str, float]:
    wall, cpu = _clock()
    return {f"{prefix}_ms": (wall - start[0]) * 1000, f"{prefix}_cpu_ms": (cpu - start[1]) * 1000}


def dagster_declare(module_dir: Path) -> dict[str, Any]:
    """Import the module (runs every @asset) and build the Definitions' asset graph."""
    from dagster import Definitions

    start = _clock()
    graph = Definitions(assets=_dagster_assets(module_dir, "generated")).resolve_asset_graph()
    return {"assets": len(list(graph.get_all_asset_keys())), **_since(start, "declare")}


def dagster_materialize(module_dir: Path) -> dict[str, Any]:
    """Materialize every asset in one in-process run on the instance in $DAGSTER_HOME."""
    from dagster import DagsterInstance, materialize

    assets = _dagster_assets(module_dir, "generated")
    instance = DagsterInstance.get()
    start = _clock()
    if not materialize(assets, instance=instance).success:
        raise RuntimeError("the Dagster run failed")
    figures = _since(start, "total")
    return {"assets": len(assets), **{k.replace("total", "per_asset"): v / len(assets) for k, v in figures.items()}}


def dagster_stale(module_dir: Path) -> dict[str, Any]:
    """Stale status of every asset, on the default path and after prefetching the asset records."""
    from dagster import DagsterInstance, Definitions
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._time import get_current_datetime
    from dagster._utils.caching_instance_queryer import CachingInstanceQueryer

    graph = Definitions(assets=_dagster_assets(module_dir, "generated")).resolve_asset_graph()
    keys = list(graph.get_all_asset_keys())
    instance = DagsterInstance.get()

    def stale_count(prefetch: bool) -> int:
        view = AssetGraphView(
            temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
            instance=instance,
            asset_graph=graph,
        )
        if prefetch:
            CachingInstanceQueryer(instance, graph, view).prefetch_asset_records(keys)
        resolver = CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)
        return sum(1 for key in keys if resolver.get_status(key) is not StaleStatus.FRESH)

    result: dict[str, Any] = {"assets": len(keys)}
    for path, prefetch in (("default", False), ("prefetched", True)):
        start = _clock()
        result[f"{path}_stale"] = stale_count(prefetch)
        result.update(_since(start, path))
    return result


# -- run by the project's interpreter ------------------------------------------------------------------


def _dagster_home(work: Path, name: str) -> Path:
    """An instance directory. On tmpfs when there is one, and without per-step log capture: this spares
    Dagster the fsync of every SQLite commit and a log file per step (lakeplan's SQLite commits in WAL
    mode without fsync), so the comparison does not count those against it."""
    shm = Path("/dev/shm")
    home = Path(tempfile.mkdtemp(prefix=f"lakeplan-bench-{name}-", dir=shm if shm.is_dir() else work))
    (home / "dagster.yaml").write_text(
        "compute_logs:\n  module: dagster._core.storage.noop_compute_log_manager\n  class: NoOpComputeLogManager\n"
        "telemetry:\n  enabled: false\n",
        encoding="utf-8",
    )
    return home


def _dagster_case(python: str, what: str, module_dir: Path, home: Path) -> dict[str, Any]:
    env = {"DAGSTER_HOME": str(home), "PYTHONDONTWRITEBYTECODE": ""}  # bytecode written, as users get it
    return harness.run_case(Path(__file__), ["--dagster-case", what, str(module_dir)], python=python, env=env)


def _lakeplan_case(script: str, *args: str) -> dict[str, Any]:
    return harness.run_case(HERE / script, ["--case", *args], env={"PYTHONDONTWRITEBYTECODE": ""})


def lakeplan_materialize(module_dir: Path) -> dict[str, Any]:
    """Materialize every asset of a fresh project in process (the counterpart of ``dagster_materialize``)."""
    from assets_core import executor
    from assets_core.config import load_settings
    from assets_core.workspace import Workspace

    ws = Workspace.load("generated.py", load_settings(module_dir))
    keys = [status.key for status in ws.plan().stale]
    start = _clock()
    executor.run(ws, keys)
    figures = _since(start, "total")
    return {"assets": len(keys), **{k.replace("total", "per_asset"): v / len(keys) for k, v in figures.items()}}


def _module_dir(
    root: Path, name: str, n: int, *, framework: str, code_version: str | None, changed: bool = False
) -> Path:
    import graphs

    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    source = graphs.module_source(n, framework=framework, code_version=code_version)
    if changed:  # the first root's code version edited
        root_def = f"@asset(code_version='1')\ndef {graphs.root(n)}("
        source = source.replace(root_def, root_def.replace("'1'", "'2'"), 1)
    (directory / "generated.py").write_text(source, encoding="utf-8")
    (directory / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
    return directory


def _times(runs: list[dict[str, Any]], wall: str, cpu: str) -> dict[str, float]:
    """Min and median of one measure over the runs (one per process)."""
    return harness.summary([float(r[wall]) for r in runs], [float(r[cpu]) for r in runs])


def _row(n: int, measure: str, state: str, lp: dict[str, float], dg: dict[str, float]) -> dict[str, Any]:
    """One comparison of ``harness.summary`` figures for lakeplan and for Dagster."""
    return {
        "assets": n,
        "measure": measure,
        "state": state,
        "lp_cpu_min_ms": lp["cpu_min_ms"],
        "lp_cpu_med_ms": lp["cpu_med_ms"],
        "dg_cpu_min_ms": dg["cpu_min_ms"],
        "dg_cpu_med_ms": dg["cpu_med_ms"],
        "cpu lp/dg": f"{lp['cpu_min_ms'] / dg['cpu_min_ms']:.3g}",
        "lp_wall_min_ms": lp["wall_min_ms"],
        "lp_wall_med_ms": lp["wall_med_ms"],
        "dg_wall_min_ms": dg["wall_min_ms"],
        "dg_wall_med_ms": dg["wall_med_ms"],
        "wall lp/dg": f"{lp['wall_min_ms'] / dg['wall_min_ms']:.3g}",
    }


COLUMNS = (
    "assets",
    "measure",
    "state",
    "lp_cpu_min_ms",
    "lp_cpu_med_ms",
    "dg_cpu_min_ms",
    "dg_cpu_med_ms",
    "cpu lp/dg",
    "lp_wall_min_ms",
    "lp_wall_med_ms",
    "dg_wall_min_ms",
    "dg_wall_med_ms",
    "wall lp/dg",
)


def compare(python: str, sizes: list[int], materialize_limit: int, repeat: int) -> list[dict[str, Any]]:
    """Every comparison for every size, each side over ``repeat`` processes; Dagster materializes (and plans
    fresh / root-changed states) only up to ``materialize_limit`` assets, since populating its instance
    means running every asset."""
    import bench_plan

    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="lakeplan-bench-dagster-"))
    homes: list[Path] = []

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        harness.progress(row, COLUMNS)

    def home(name: str) -> Path:
        homes.append(_dagster_home(work, name))
        return homes[-1]

    try:
        for n in sizes:
            fresh = _module_dir(work, f"dagster-{n}", n, framework="dagster", code_version="1")
            changed = _module_dir(work, f"dagster-changed-{n}", n, framework="dagster", code_version="1", changed=True)
            lp_module = _module_dir(work, f"lakeplan-{n}", n, framework="lakeplan", code_version=None)
            empty_home = home(f"dagster-empty-{n}")

            _dagster_case(python, "declare", fresh, empty_home)  # the first import of each writes the bytecode
            _lakeplan_case("bench_load.py", str(lp_module), "generated.py")
            dg = [_dagster_case(python, "declare", fresh, empty_home) for _ in range(repeat)]
            lp = [_lakeplan_case("bench_load.py", str(lp_module), "generated.py") for _ in range(repeat)]
            add(
                _row(
                    n, "declare+load", "-", _times(lp, "wall_ms", "cpu_ms"), _times(dg, "declare_ms", "declare_cpu_ms")
                )
            )

            states = ["nothing_built"]
            built_home = empty_home
            if n <= materialize_limit:
                dg, lp = [], []
                for i in range(repeat):
                    built_home = home(f"dagster-{n}-{i}")
                    dg.append(_dagster_case(python, "materialize", fresh, built_home))
                    project = work / f"lakeplan-materialize-{n}-{i}"
                    shutil.copytree(lp_module, project)
                    lp.append(harness.run_case(Path(__file__), ["--lakeplan-materialize", str(project)]))
                add(
                    _row(
                        n,
                        "materialize/asset",
                        "-",
                        _times(lp, "per_asset_ms", "per_asset_cpu_ms"),
                        _times(dg, "per_asset_ms", "per_asset_cpu_ms"),
                    )
                )
                states += ["all_fresh", "root_changed"]

            lp_built, lp_empty = work / f"lakeplan-built-{n}", work / f"lakeplan-empty-{n}"
            lp_built.mkdir()
            lp_empty.mkdir()
            bench_plan.populate(lp_built, n)
            bench_plan.create_store(lp_empty).close()
            for state in states:
                module_dir = changed if state == "root_changed" else fresh
                dagster_home = empty_home if state == "nothing_built" else built_home
                dg = [_dagster_case(python, "stale", module_dir, dagster_home) for _ in range(repeat)]
                project = lp_empty if state == "nothing_built" else lp_built
                args = ["--case", str(n), state, "workspace", str(project)]
                lp = [harness.run_case(HERE / "bench_plan.py", args) for _ in range(repeat)]
                if {r["stale"] for r in lp} != {r["default_stale"] for r in dg}:
                    note = f"lakeplan {lp[0]['stale']} stale, Dagster {dg[0]['default_stale']}"
                    print(f"note: {n} {state}: {note}", file=sys.stderr)
                # Dagster's default path runs first in its process, its prefetched path second: compared with
                # lakeplan's first plan in a process and its best of several, respectively.
                first = _times(lp, "first_wall_ms", "first_cpu_ms")
                add(_row(n, "plan vs default", state, first, _times(dg, "default_ms", "default_cpu_ms")))
                best = _times(lp, "wall_min_ms", "cpu_min_ms")
                add(_row(n, "plan vs prefetched", state, best, _times(dg, "prefetched_ms", "prefetched_cpu_ms")))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for path in homes:
            shutil.rmtree(path, ignore_errors=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--materialize-limit", type=int, default=1000, help="largest graph Dagster materializes")
    parser.add_argument("--repeat", type=int, default=harness.REPEAT, help="processes per measure and side")
    parser.add_argument("--dagster-python", help="the python of a virtual environment with Dagster installed")
    parser.add_argument("--dagster-case", nargs=2, metavar=("WHAT", "MODULE_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--lakeplan-materialize", metavar="PROJECT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lakeplan_materialize:
        harness.emit(lakeplan_materialize(Path(args.lakeplan_materialize)))
        return 0
    if args.dagster_case:
        what, module_dir = args.dagster_case[0], Path(args.dagster_case[1])
        cases = {"declare": dagster_declare, "materialize": dagster_materialize, "stale": dagster_stale}
        harness.emit(cases[what](module_dir))
        return 0
    python = dagster_python(args.dagster_python)
    if python is None:
        print(
            "skipped: no Python with Dagster found. Make one (never a lakeplan dependency):\n"
            f"  python3 -m venv {VENV} && {VENV}/bin/pip install '{DAGSTER_REQUIREMENT}'\n"
            "then run this again, or pass --dagster-python PATH (or set LAKEPLAN_BENCH_DAGSTER_PYTHON).",
            file=sys.stderr,
        )
        return 0
    with harness.session("dagster"):
        print(harness.table(compare(python, args.sizes, args.materialize_limit, args.repeat), COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())

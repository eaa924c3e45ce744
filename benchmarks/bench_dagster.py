"""(d) The same layered graphs declared, materialized and planned by Dagster and by lakeplan, as ratios.

Dagster is installed in this benchmark's own environment (``benchmarks/.venv-dagster``, created on first
use; never a lakeplan dependency). For each size it declares the graph (import of a generated module of
``@dagster.asset`` functions with ``code_version="1"`` + ``Definitions``), materializes every asset in
process on a SQLite instance (up to ``--materialize-limit`` assets), then computes every asset's stale
status: nothing built (an empty instance), and when materialized, everything fresh and one root's code
version changed. Stale status is
computed on Dagster's default path (``CachingStaleStatusResolver.get_status`` per asset) and on its
fastest path (the same, after ``CachingInstanceQueryer.prefetch_asset_records`` of all keys in the same
loading context). lakeplan runs the same cases (``bench_plan``, ``bench_load``, ``bench_materialize``
case functions) in the same run. Every case runs in a fresh process.

    .venv/bin/python benchmarks/bench_dagster.py [--sizes 1000 10000] [--materialize-limit 1000]
"""

from __future__ import annotations

import argparse
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


def dagster_python() -> str:
    """The benchmark's own interpreter with Dagster, created on first use."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with {DAGSTER_REQUIREMENT} (once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", DAGSTER_REQUIREMENT], check=True)
    return str(python)


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


def _row(n: int, measure: str, state: str, lp: tuple[float, float], dg: tuple[float, float]) -> dict[str, Any]:
    """One comparison: (wall, cpu) milliseconds for lakeplan and for Dagster."""
    return {
        "assets": n,
        "measure": measure,
        "state": state,
        "lakeplan_ms": lp[0],
        "dagster_ms": dg[0],
        "lp/dg": f"{lp[0] / dg[0]:.3g}",
        "lakeplan_cpu_ms": lp[1],
        "dagster_cpu_ms": dg[1],
        "cpu lp/dg": f"{lp[1] / dg[1]:.3g}",
    }


COLUMNS = (
    "assets",
    "measure",
    "state",
    "lakeplan_ms",
    "dagster_ms",
    "lp/dg",
    "lakeplan_cpu_ms",
    "dagster_cpu_ms",
    "cpu lp/dg",
)


def compare(sizes: list[int], materialize_limit: int) -> list[dict[str, Any]]:
    """Every comparison for every size; Dagster materializes (and plans fresh / root-changed states) only up
    to ``materialize_limit`` assets, since populating its instance means running every asset."""
    import bench_plan

    python = dagster_python()
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="lakeplan-bench-dagster-"))
    homes: list[Path] = []

    def add(row: dict[str, Any]) -> None:
        rows.append(row)
        print(harness.table([row], COLUMNS).splitlines()[-1], file=sys.stderr, flush=True)

    try:
        for n in sizes:
            fresh = _module_dir(work, f"dagster-{n}", n, framework="dagster", code_version="1")
            changed = _module_dir(work, f"dagster-changed-{n}", n, framework="dagster", code_version="1", changed=True)
            lp_module = _module_dir(work, f"lakeplan-{n}", n, framework="lakeplan", code_version=None)
            home, empty_home = _dagster_home(work, f"dagster-{n}"), _dagster_home(work, f"dagster-empty-{n}")
            homes += [home, empty_home]

            _dagster_case(python, "declare", fresh, empty_home)  # the first import of each writes the bytecode
            _lakeplan_case("bench_load.py", str(lp_module))
            dg = _dagster_case(python, "declare", fresh, empty_home)
            lp = _lakeplan_case("bench_load.py", str(lp_module))
            add(
                _row(
                    n,
                    "declare+load",
                    "-",
                    (lp["total_ms"], lp["total_cpu_ms"]),
                    (dg["declare_ms"], dg["declare_cpu_ms"]),
                )
            )

            states = ["nothing_built"]
            if n <= materialize_limit:
                dg = _dagster_case(python, "materialize", fresh, home)
                lp = _lakeplan_case("bench_materialize.py", str(lp_module))["rows"][0]
                add(
                    _row(
                        n,
                        "materialize/asset",
                        "-",
                        (lp["per_asset_ms"], lp["per_asset_cpu_ms"]),
                        (dg["per_asset_ms"], dg["per_asset_cpu_ms"]),
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
                dg = _dagster_case(python, "stale", module_dir, empty_home if state == "nothing_built" else home)
                project = lp_empty if state == "nothing_built" else lp_built
                lp = harness.run_case(HERE / "bench_plan.py", ["--case", str(n), state, "workspace", str(project)])
                if (lp["stale"], lp["stale"]) != (dg["default_stale"], dg["prefetched_stale"]):
                    print(
                        f"note: {n} {state}: lakeplan {lp['stale']} stale, Dagster {dg['default_stale']}",
                        file=sys.stderr,
                    )
                # Dagster's default path runs first in its process, its prefetched path second: compared with
                # lakeplan's first plan in a process and its best of several, respectively.
                for path, lp_ms in (("default", lp["first_ms"]), ("prefetched", lp["best_ms"])):
                    add(
                        _row(
                            n, f"plan vs {path}", state, (lp_ms, lp["cpu_ms"]), (dg[f"{path}_ms"], dg[f"{path}_cpu_ms"])
                        )
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--materialize-limit", type=int, default=1000, help="largest graph Dagster materializes")
    parser.add_argument("--dagster-case", nargs=2, metavar=("WHAT", "MODULE_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dagster_case:
        what, module_dir = args.dagster_case[0], Path(args.dagster_case[1])
        if what == "declare":
            harness.emit(dagster_declare(module_dir))
        elif what == "materialize":
            harness.emit(dagster_materialize(module_dir))
        else:
            harness.emit(dagster_stale(module_dir))
        return
    print(harness.table(compare(args.sizes, args.materialize_limit), COLUMNS))


if __name__ == "__main__":
    main()

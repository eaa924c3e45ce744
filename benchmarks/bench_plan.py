"""(a) Plan time and peak memory for layered graphs of 1k, 10k and 100k assets.

Three states: nothing built, everything fresh, one root's code changed. Three measurements each: the pure
planner (``planner.plan`` on a prepared ``CurrentState``), ``Workspace.plan`` end to end on SQLite as
``lakeplan plan --trust-records`` calls it (``workspace``: reading heads from the store, trusting the stored
outputs they record, then planning) and as plain ``lakeplan plan`` and ``materialize`` call it
(``workspace_exists``: also one ``stat`` per stored output). The store is populated by inserting records
directly, not by materializing. Every case runs in a fresh process.

    .venv/bin/python benchmarks/bench_plan.py [--sizes 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import graphs
import harness

from assets_core import planner
from assets_core.config import Settings
from assets_core.graph import AssetGraph
from assets_core.metadata_store import MetadataStore
from assets_core.output_check import OutputCheck
from assets_core.records import recipe_of
from assets_core.schema import heads, materializations
from assets_core.workspace import Workspace

STATES = ("nothing_built", "all_fresh", "root_changed")
MODES = ("planner", "workspace", "workspace_exists")
CHECKS = {"workspace": OutputCheck.TRUST, "workspace_exists": OutputCheck.EXISTS}


def create_store(project: Path) -> MetadataStore:
    """The project's (empty) metadata store: "nothing built" still has a database."""
    return MetadataStore.open(Settings(project_root=project).resolved_database_url)


def populate(project: Path, n: int) -> None:
    """A project whose store says every asset was built once, with its output file present."""
    settings = Settings(project_root=project)
    store = create_store(project)
    fresh = graphs.fresh_heads(n)
    mats = [
        {
            "id": h.id,
            "asset_key": k,
            "run_id": h.run_id,
            "kind": "built",
            "code_version": h.code_version,
            "recipe": recipe_of(h.code_version, h.input_versions),
            "input_versions": json.dumps(h.input_versions, sort_keys=True, separators=(",", ":")),
            "data_version": h.data_version,
            "location": h.location,
            "started_at": 0.0,
            "finished_at": 0.0,
            "metadata": "{}",
            "code_components": "{}",
        }
        for k, h in fresh.items()
    ]
    with store.engine.begin() as conn:  # one bulk transaction: the benchmark is about reading, not writing
        conn.execute(materializations.insert(), mats)
        conn.execute(
            heads.insert(), [{"asset_key": k, "materialization_id": h.id, "updated_at": 0.0} for k, h in fresh.items()]
        )
    store.close()
    storage = settings.resolved_storage_root
    for h in fresh.values():
        path = storage / h.location
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"1")


def case(n: int, state_name: str, mode: str, project: Path) -> dict[str, object]:
    """One measurement, run inside the fresh subprocess."""
    graph = AssetGraph.build(graphs.asset_defs(n, changed_root=state_name == "root_changed"))
    repeat = harness.REPEAT if n >= 100_000 else 10
    if mode == "planner":
        state = planner.CurrentState(
            code_versions={k: a.code_version or "" for k, a in graph.assets.items()},
            heads={} if state_name == "nothing_built" else graphs.fresh_heads(n),
            source_versions={},
        )
        run = lambda: planner.plan(graph, state)  # noqa: E731
        first = None
    else:
        ws = Workspace(Settings(project_root=project), "generated", graph)
        ws.code_version(graphs.root(n))  # code versions belong to loading (bench_load), not to planning
        run = lambda: ws.plan(outputs=CHECKS[mode])  # noqa: E731
        start, start_cpu = time.perf_counter(), time.process_time()
        run()  # the first plan in a process includes opening the store
        first = ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
    result = run()
    figures = harness.timed(run, repeat)
    return {
        "assets": n,
        "state": state_name,
        "mode": mode,
        "stale": result.counts()["stale"],
        **figures,
        "first_wall_ms": first[0] if first is not None else figures["wall_min_ms"],
        "first_cpu_ms": first[1] if first is not None else figures["cpu_min_ms"],
        "peak_mib": harness.peak_mib(run),
        "maxrss_mib": harness.maxrss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--case", nargs=4, metavar=("N", "STATE", "MODE", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        n, state_name, mode, project = args.case
        harness.emit(case(int(n), state_name, mode, Path(project)))
        return
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-bench-plan-"))
    with harness.session("plan"):
        try:
            for n in args.sizes:
                empty, built = workdir / f"empty-{n}", workdir / f"built-{n}"
                empty.mkdir()
                built.mkdir()
                create_store(empty).close()
                populate(built, n)
                for state_name in STATES:
                    project = empty if state_name == "nothing_built" else built
                    for mode in MODES:
                        row = harness.run_case(Path(__file__), ["--case", str(n), state_name, mode, str(project)])
                        rows.append(row)
                        harness.progress(row, COLUMNS)
            print(harness.table(rows, COLUMNS))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


COLUMNS = ("assets", "state", "mode", "stale", *harness.TIME_COLUMNS, "first_cpu_ms", "peak_mib", "maxrss_mib")

if __name__ == "__main__":
    main()

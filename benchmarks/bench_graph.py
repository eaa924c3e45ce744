"""Graph build and the planner's pass for 10k, 100k and a million assets, with memory per asset.

For each size and state (nothing built; everything fresh), in a fresh process: declaring the layered graph
(``graphs.asset_defs``: in-memory definitions, timed once, not part of the goal), ``AssetGraph.build``
and ``planner.plan`` on a prepared ``CurrentState`` (no store), each timed over at least 5 repetitions;
the planner's cost per edge; the Python memory that one build and one plan allocate and keep at their
peak (tracemalloc), per asset; and the process's peak resident memory.

    .venv/bin/python benchmarks/bench_graph.py [--sizes 10000 100000 1000000] [--states nothing_built all_fresh]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from pathlib import Path

import graphs
import harness

from assets_core import planner
from assets_core.graph import AssetGraph

STATES = ("nothing_built", "all_fresh")
COLUMNS = (
    "assets",
    "edges",
    "state",
    "declare_cpu_s",
    "build_cpu_min_ms",
    "build_cpu_med_ms",
    "plan_cpu_min_ms",
    "plan_cpu_med_ms",
    "build+plan_cpu_ms",
    "plan_ns_per_edge",
    "bytes_per_asset",
    "maxrss_mib",
)


def case(n: int, state_name: str) -> dict[str, object]:
    """One size and state, inside the fresh subprocess."""
    start = time.process_time()
    defs = graphs.asset_defs(n)
    declare = time.process_time() - start
    heads = graphs.fresh_heads(n) if state_name == "all_fresh" else {}
    code_versions = {d.key: "1" for d in defs}
    gc.collect()
    build = harness.timed(lambda: AssetGraph.build(defs))
    state = planner.CurrentState(code_versions=code_versions, heads=heads, source_versions={})
    graph = AssetGraph.build(defs)
    plan = harness.timed(lambda: planner.plan(graph, state))
    graph = AssetGraph.build(())  # what is kept below is measured alone
    gc.collect()
    tracemalloc.start()
    kept = AssetGraph.build(defs), planner.plan(AssetGraph.build(defs), state)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    edges = sum(len(ups) for ups in kept[0].upstream.values())
    return {
        "assets": n,
        "edges": edges,
        "state": state_name,
        "declare_cpu_s": declare,
        "build_cpu_min_ms": build["cpu_min_ms"],
        "build_cpu_med_ms": build["cpu_med_ms"],
        "plan_cpu_min_ms": plan["cpu_min_ms"],
        "plan_cpu_med_ms": plan["cpu_med_ms"],
        "build+plan_cpu_ms": build["cpu_min_ms"] + plan["cpu_min_ms"],
        "plan_ns_per_edge": plan["cpu_min_ms"] * 1e6 / max(1, edges),
        "bytes_per_asset": peak / n,
        "maxrss_mib": harness.maxrss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--states", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--case", nargs=2, metavar=("N", "STATE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        harness.emit(case(int(args.case[0]), args.case[1]))
        return
    with harness.session("graph"):
        rows = []
        for n in args.sizes:
            for state_name in args.states:
                rows.append(harness.run_case(Path(__file__), ["--case", str(n), state_name]))
                harness.progress(rows[-1], COLUMNS)
        print(harness.table(rows, COLUMNS))


if __name__ == "__main__":
    main()

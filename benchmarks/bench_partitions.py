"""Partitioned planning: 1,000 assets x 365 daily partitions (the layered benchmark graph, every asset
partitioned by day, every third reading a 7-day window), expanded into the partition graph and planned
with everything built and with one source day changed; and a backfill's bookkeeping: choosing a 30-day
range of every asset (``--from/--to``), planning it and ordering its steps (``planned_work``, the
executor's ``nearest_among``), per partition in the range.

    python benchmarks/bench_partitions.py [--assets 1000] [--days 365] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc

import harness
from graphs import layered

from assets_core import AssetGraph, CurrentState, Head, plan
from assets_core.definitions import AssetDef, AssetInput, source_asset
from assets_core.executor import planned_work
from assets_core.partition_graph import PartitionGraph, expand
from assets_core.partition_scope import PartitionRange, scope
from assets_core.partitions import daily_partitions, window


def _noop(**_: object) -> int:
    return 0


def build(assets: int, days: int) -> tuple[AssetGraph, dt.datetime]:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    parts = daily_partitions("2025-01-01")
    nodes: list[object] = [source_asset("raw", path="raw/{partition}.csv", partitions=parts)]
    for i, (key, ups) in enumerate(layered(assets)):
        upstream = ups or ("raw",)
        mapping = {ups[0]: window(7)} if ups and i % 3 == 0 else {}
        inputs = tuple(AssetInput(u, u, None) for u in upstream)
        nodes.append(AssetDef(key, _noop, inputs, code_version="1", partitions=parts, partition_mapping=mapping))
    return AssetGraph.build(nodes), start + dt.timedelta(days=days)  # type: ignore[arg-type]


def backfill(graph: AssetGraph, pg: PartitionGraph, state: CurrentState, now: dt.datetime, days: int) -> int:
    """The bookkeeping of ``--from/--to`` over ``days`` partitions of every asset: scope, plan, step order."""
    first = dt.date.fromisoformat(pg.instances[pg.graph.order[0]].partition or "")
    wanted = PartitionRange(first.isoformat(), (first + dt.timedelta(days=days - 1)).isoformat())
    definitions = {k: n.partitions for k, n in graph.nodes.items()}
    chosen = scope(pg, definitions, frozenset(graph.nodes), wanted, now)
    steps, _ = planned_work(plan(pg.graph, state, chosen))
    pg.graph.nearest_among(steps)
    return len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=harness.REPEAT)
    parser.add_argument("--backfill-days", type=int, default=30)
    args = parser.parse_args()
    with harness.session("partitions"):
        graph, now = build(args.assets, args.days)
        pg = expand(graph, now)
        expanded = pg.graph
        sources = {k: "v1" for k in expanded.order if k.startswith("raw/")}
        code = {k: "1" for k in expanded.order if k not in sources}
        heads: dict[str, Head] = {}
        for i, key in enumerate(k for k in expanded.order if k in code):
            inputs = {u: sources[u] if u in sources else heads[u].data_version for u in expanded.upstream[key]}
            heads[key] = Head(i, f"d-{key}", "1", inputs, key, "r")
        changed = {**sources, next(iter(sources)): "v2"}
        gc.collect()
        expand_t = harness.timed(lambda: expand(graph, now), args.repeat)
        fresh = harness.timed(lambda: plan(expanded, CurrentState(code, heads, sources)), args.repeat)
        one_day = harness.timed(lambda: plan(expanded, CurrentState(code, heads, changed)), args.repeat)
        state = CurrentState(code, heads, changed)
        chosen = backfill(graph, pg, state, now, args.backfill_days)
        backfill_t = harness.timed(lambda: backfill(graph, pg, state, now, args.backfill_days), args.repeat)
        harness.emit(
            {
                "instances": len(code),
                "edges": sum(len(v) for v in expanded.upstream.values()),
                **{f"expand_{k}": v for k, v in expand_t.items()},
                **{f"plan_fresh_{k}": v for k, v in fresh.items()},
                **{f"plan_one_day_changed_{k}": v for k, v in one_day.items()},
                "stale_after_one_day": len(plan(expanded, CurrentState(code, heads, changed)).stale),
                "backfill_partitions": chosen,
                **{f"backfill_{k}": v for k, v in backfill_t.items()},
                "backfill_bookkeeping_per_partition_cpu_ms": round(backfill_t["cpu_min_ms"] / chosen, 4),
                "maxrss_mib": harness.maxrss_mib(),
            }
        )


if __name__ == "__main__":
    main()

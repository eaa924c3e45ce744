"""(e2) A partitioned backfill compiled for Argo: 30 assets x 365 daily partitions (10,950 partition-tasks, each
asset reading the previous one, every third through a 7-day window), compiled as ``lakeplan compile --all``:
one fan-out task per asset over the batches its plan task lists, cut into parts to stay under the size budget.
CPU time (best of ``--repeat``), YAML bytes, and the projected running size of the largest object when every
partition runs.

    .venv/bin/python benchmarks/bench_argo_partitions.py [--assets 30] [--days 365] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt

import harness

from argo_compiler import ArgoConfig, Request, compile_project
from argo_compiler.size import projected_size
from assets_core.config import Settings
from assets_core.definitions import AssetDef, AssetInput, source_asset
from assets_core.graph import AssetGraph
from assets_core.partitions import daily_partitions, window
from assets_core.workspace import Workspace

CONFIG = ArgoConfig(image="registry.example/lakeplan:1", namespace="ml")


def _noop(**_: object) -> int:
    return 0


def workspace(assets: int, days: int) -> Workspace:
    parts = daily_partitions("2025-01-01")
    nodes: list[object] = [source_asset("raw", path="raw/{partition}.csv", partitions=parts)]
    for i in range(assets):
        up = f"a{i - 1}" if i else "raw"
        mapping = {up: window(7)} if i and i % 3 == 0 else {}
        nodes.append(
            AssetDef(
                f"a{i}",
                _noop,
                (AssetInput(up, up, None),),
                code_version="1",
                partitions=parts,
                partition_mapping=mapping,
            )
        )
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=days)
    graph = AssetGraph.build(nodes)  # type: ignore[arg-type]
    return Workspace(Settings(project_root=harness.REPO), "bench.partitioned", graph, now=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=30)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with harness.session("argo-partitions"):
        ws = workspace(args.assets, args.days)
        compiled = compile_project(ws, CONFIG, Request(all=True))
        times = harness.timed(lambda: compile_project(ws, CONFIG, Request(all=True)), args.repeat)
        running = [projected_size(d, 1.0, compiled.partition_bytes) for d in compiled.manifests]
        tasks = args.assets * args.days
        print(
            f"{tasks:,} partition-tasks ({args.assets} assets x {args.days} days): compile CPU "
            f"{times['cpu_min_ms'] / 1000:.2f}s min, wall {times['wall_min_ms'] / 1000:.2f}s min; "
            f"{len(compiled.manifests)} object(s); YAML {len(compiled.yaml.encode()):,} B in all, largest "
            f"{max(len(d.encode()) for d in compiled.documents):,} B; running at 100% (largest) {max(running):,} B "
            f"(budget {CONFIG.budget_bytes:,})"
        )


if __name__ == "__main__":
    main()

"""(b) Argo compile time, YAML size and projected running size per object for 1k, 10k and 100k-asset selections.

Compiles every asset of the layered benchmark graph (``graphs.py``: 100 layers, two inputs each) the way
``lakeplan compile`` does after loading the module: hera models, our checks, YAML, cut into parts so that each
object's projected running size (spec + status at completion, ``argo_compiler.size``) stays under the budget
(700 KB); CPU time (best of ``--repeat``) and wall time. ``plain`` is ``--all`` (every task runs); the gated
compile (the default, and what a CronWorkflow runs) is projected at 2, 30 and 100 % stale.
Largest part and the parent are shown.

    .venv/bin/python benchmarks/bench_compile.py [--sizes 1000 10000 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import graphs
import harness

from argo_compiler import ArgoConfig, Request, compile_project
from argo_compiler.size import projected_size
from assets_core.config import Settings
from assets_core.graph import AssetGraph
from assets_core.workspace import Workspace

CONFIG = ArgoConfig(image="registry.example/lakeplan:1", namespace="ml", lakefs_secret="lakefs-credentials")
SHARES = (0.02, 0.3, 1.0)


def _row(label: str, docs: Sequence[dict[str, Any]], documents: Sequence[str], shares: Sequence[float]) -> str:
    yaml_bytes = max(len(d.encode()) for d in documents)
    running = [max(projected_size(doc, share) for doc in docs) for share in shares]
    return f"    {label:<14} YAML {yaml_bytes:>9,}  running " + "  ".join(f"{r:>9,}" for r in running)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shares = ", ".join(f"{s:.0%}" for s in SHARES)
    print(f"budget {CONFIG.budget_bytes:,} B per object; running bytes at {shares} stale")
    for n in args.sizes:
        ws = Workspace(Settings(project_root=harness.REPO), "bench.assets", AssetGraph.build(graphs.asset_defs(n)))
        gated = compile_project(ws, CONFIG, Request())
        plain = compile_project(ws, CONFIG, Request(all=True))
        times = harness.timed(lambda: compile_project(ws, CONFIG, Request()), args.repeat)  # noqa: B023
        parts = len(gated.manifests) - 1 if len(gated.manifests) > 1 else 0
        print(
            f"{len(ws.graph.assets):>7} assets: compile {times['cpu_ms'] / 1000:.2f}s CPU, "
            f"{times['best_ms'] / 1000:.2f}s wall best, {times['median_ms'] / 1000:.2f}s median; "
            f"{len(gated.manifests)} object(s) ({parts} parts), "
            f"{len(gated.yaml.encode()):,} YAML bytes in all"
        )
        split = parts > 0
        objects = gated.manifests[:-1] if split else gated.manifests
        print(_row("gated, part" if split else "gated", objects, gated.documents[: len(objects)], SHARES))
        if split:
            print(_row("gated, parent", gated.manifests[-1:], gated.documents[-1:], SHARES))
        plain_objects = plain.manifests[:-1] if len(plain.manifests) > 1 else plain.manifests
        print(_row("plain (--all)", plain_objects, plain.documents[: len(plain_objects)], (1.0,)))


if __name__ == "__main__":
    main()

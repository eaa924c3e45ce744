"""(b) Argo compile time and YAML size for 1k, 5k and 10k-asset plans (targets: 5k under 1 MB and 2 s).

Compiles every asset of the layered benchmark graph (``graphs.py``: 100 layers, two inputs each) the way
``lakeplan compile --all`` does after loading the module: hera models, our semantic checks, YAML. A plan
over Argo's ~1 MB limit is refused; it is then timed again split into WorkflowTemplates (``--split``).

    .venv/bin/python benchmarks/bench_compile.py [--sizes 1000 5000 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse

import graphs
import harness

from argo_compiler import ArgoConfig, ManifestTooLarge, Request, compile_project
from assets_core.config import Settings
from assets_core.graph import AssetGraph
from assets_core.workspace import Workspace

CONFIG = ArgoConfig(image="registry.example/lakeplan:1", namespace="ml", lakefs_secret="lakefs-credentials")
SPLIT = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'assets':>7}  {'compile best':>12}  {'median':>7}  {'YAML bytes':>10}  {'manifests':>9}  note")
    for n in args.sizes:
        ws = Workspace(Settings(project_root=harness.REPO), "bench.assets", AssetGraph.build(graphs.asset_defs(n)))
        request, note = Request(all=True), "one Workflow"
        try:
            compile_project(ws, CONFIG, request)
        except ManifestTooLarge as exc:
            request, note = Request(all=True, split=SPLIT), f"split {SPLIT}/part ({str(exc).split(';')[0]})"
        compiled = compile_project(ws, CONFIG, request)
        times = harness.timed(lambda: compile_project(ws, CONFIG, request), args.repeat)  # noqa: B023
        print(
            f"{len(ws.graph.assets):>7}  {times['best_ms'] / 1000:>11.2f}s  {times['median_ms'] / 1000:>6.2f}s  "
            f"{len(compiled.yaml.encode()):>10,}  {len(compiled.manifests):>9}  {note}"
        )


if __name__ == "__main__":
    main()

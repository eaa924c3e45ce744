"""How long drawing a 1,000-asset graph takes: DOT building, the layout engine, and the engine-free
layered SVG. Run: ``.venv/bin/python benchmarks/bench_graph_render.py [N_ASSETS] [N_GROUPS]``."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import harness

from assets_core.definitions import AssetDef
from assets_core.graph import AssetGraph
from assets_core.graph_render import NodeState, NodeView, drawn_keys, find_engine, layered_svg, to_dot, write_graph


def synthetic_graph(n: int, groups: int, seed: int = 7) -> AssetGraph:
    """``n`` assets in ``groups`` groups; each reads one to three recent assets, mostly from its own group."""
    rng = random.Random(seed)
    nodes = []
    for i in range(n):
        earlier = range(max(0, i - 40), i)
        ups = tuple(f"asset_{j:04d}" for j in sorted(set(rng.sample(earlier, min(len(earlier), rng.randint(1, 3))))))
        nodes.append(AssetDef(f"asset_{i:04d}", lambda: None, (), deps=ups, group=f"group_{i * groups // n:02d}"))
    return AssetGraph.build(nodes)


def timed(label: str, fn: Callable[[], object]) -> None:
    figures = harness.timed(fn)
    print(f"{label:<38} " + "  ".join(f"{k} {v / 1000:7.3f} s" for k, v in figures.items()))


def main() -> None:
    with harness.session("graph render"):
        run()


def run() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    graph = synthetic_graph(n, groups)
    states = list(NodeState)[:4]
    views = {k: NodeView(k, graph.nodes[k].group, states[i % 4]) for i, k in enumerate(graph.order)}
    keys = drawn_keys(graph, graph.assets)
    print(f"{n} assets, {groups} groups, {sum(len(u) for u in graph.upstream.values())} edges")
    timed("DOT source", lambda: to_dot(graph, views, keys))
    timed("layered SVG (no engine)", lambda: layered_svg(graph, views, keys))
    engine = find_engine()
    if engine is None:
        print("no layout engine installed; skipping svg/png layout")
        return
    with TemporaryDirectory() as tmp:
        for fmt in sorted(engine.formats & {"svg", "png"}):
            out = Path(tmp) / f"graph.{fmt}"
            timed(f"{Path(engine.command).name} -T{fmt}", lambda out=out: write_graph(graph, views, keys, out, engine))
            print(f"{'':<38} {out.stat().st_size / 1e6:7.2f} MB")


if __name__ == "__main__":
    main()

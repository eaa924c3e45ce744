"""How many lakeFS API calls ``plan`` and one step make for a 1,000-asset graph (and how long they take),
next to any number of objects that are not lakeplan's.

    .venv/bin/python benchmarks/bench_lakefs_plan.py [--assets 1000] [--unrelated 0 20000 100000]

Runs against the fake lakeFS server of the test suite (tests/lakefs_server.py, validated against
../shared/lakefs/swagger.yml) through the real ``lakefs`` SDK. Every asset is materialized (its object
committed on ``main`` and its provenance recorded), ``--unrelated`` other objects are committed beside
them (under ``raw/``), then one plan is timed and its API calls counted; then the source changes and one
step (the root asset) is materialized in a run, its calls counted apart from its data transfers. The plan
is timed over 5 repetitions; the step, which changes what it measures, once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import harness  # noqa: E402  (after the path: tests/ holds the fake lakeFS server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--unrelated", type=int, nargs="+", default=[0, 20_000, 100_000])
    args = parser.parse_args()
    with harness.session("lakefs plan"):
        return max(measure(args.assets, unrelated) for unrelated in args.unrelated)


def measure(assets: int, unrelated: int) -> int:

    import lakefs
    from lakefs_server import FakeLakeFS

    from assets_core.config import load_settings
    from assets_core.records import Materialization, MaterializationKind
    from assets_core.step import materialize
    from assets_core.workspace import Workspace

    spec = REPO.parent / "shared" / "lakefs" / "swagger.yml"
    if not spec.is_file():
        print(f"needs the lakeFS spec at {spec}", file=sys.stderr)
        return 2
    server = FakeLakeFS(spec).start()
    client = lakefs.Client(host=server.endpoint, username=server.access_key, password=server.secret_key)
    lakefs.Repository("bench", client=client).create(storage_namespace="local://bench")
    root = Path(tempfile.mkdtemp(prefix="lakeplan-bench-lakefs-"))
    (root / "pyproject.toml").write_text(
        f'[tool.lakeplan]\n[tool.lakeplan.lakefs]\nendpoint = "{server.endpoint}"\n'
        'repository = "bench"\nbranch = "main"\n'
    )
    lines = ["from assets_core import asset, source_asset", "raw = source_asset('raw', path='data/raw.csv')"]
    lines += ["@asset\ndef a0(raw): return 0"]
    lines += [f"@asset\ndef a{i}(a{(i - 1) // 2}): return {i}" for i in range(1, assets)]
    (root / f"bench_graph_{unrelated}.py").write_text(textwrap.dedent("\n".join(lines)) + "\n")
    os.environ.update(LAKEFS_ACCESS_KEY_ID=server.access_key, LAKEFS_SECRET_ACCESS_KEY=server.secret_key)
    ws = Workspace.load(f"bench_graph_{unrelated}", load_settings(root, {}))

    # Arrange: the source and every asset's object on main in one commit; provenance in the SQL store.
    versions = {"raw": server.put_object("bench", "main", "data/raw.csv", b"x\n1\n").checksum}
    for key in ws.graph.order:
        if key != "raw":
            data = f"{key}".encode()
            versions[key] = server.put_object("bench", "main", f"assets/{key}.json", data).checksum
    for i in range(unrelated):
        server.put_object("bench", "main", f"raw/{i:06d}.csv", b"x")
    commit = lakefs.Repository("bench", client=client).branch("main").commit("arrange").id
    for key in ws.graph.order:
        if key == "raw":
            continue
        inputs = {up: versions[up] for up in ws.graph.upstream[key]}
        location = f"lakefs://bench/{commit}/assets/{key}.json"
        mat = Materialization(key, "bench", MaterializationKind.BUILT, ws.code_version(key).version, inputs,
                              versions[key], location)  # fmt: skip
        ws.store.record(mat, None)

    server.calls.clear()
    plan = ws.plan()
    calls = Counter(server.calls)
    times = harness.timed(ws.plan)
    print(
        f"assets: {len(plan.statuses)}  unrelated objects: {unrelated}  stale: {len(plan.stale)}  plan: "
        + "  ".join(f"{k} {v:.0f}" for k, v in times.items())
    )
    print(f"  plan: {sum(calls.values())} lakeFS calls ({', '.join(f'{k} {v}' for k, v in sorted(calls.items()))})")

    server.put_object("bench", "main", "data/raw.csv", b"x\n2\n")
    lakefs.Repository("bench", client=client).branch("main").commit("new source")
    server.calls.clear()
    started = time.perf_counter()
    ws.objects.begin_run("bench-run")  # what every Argo pod does first
    outcome = materialize(ws, "a0", "bench-run").outcome.value
    seconds = time.perf_counter() - started
    steps = Counter(c for c in server.calls if c not in ("get_object", "upload_object"))
    print(f"  step a0 ({outcome}, {seconds:.2f}s): {sum(steps.values())} lakeFS calls besides data transfers "
          f"({', '.join(f'{k} {v}' for k, v in sorted(steps.items()))})")  # fmt: skip
    print(f"  spec violations: {len(server.violations)}")
    server.stop()
    return 0 if not plan.stale and not server.violations and outcome == "built" else 1


if __name__ == "__main__":
    sys.exit(main())

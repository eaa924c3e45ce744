"""``lakeplan ui``'s per-request cost: the API loads the project afresh on every request (so edits to its
code are seen), then answers from the store. Layered graphs of 1k and 10k assets, every asset fresh
(records inserted directly, as bench_plan does); ``first`` is the first request in the process (it
imports the module), the timed figures are later requests (the module stays imported until a file of it
changes). Every size runs in a fresh process.

    .venv/bin/python benchmarks/bench_ui_api.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import graphs
import harness
from bench_plan import populate
from starlette.testclient import TestClient

from assets_core.config import Settings
from assets_core.ui.server import create_app

PATHS = ("/api/assets", "/api/plan", "/api/assets/{root}", "/api/runs", "/api/graph")


def case(n: int, project: Path) -> list[dict[str, object]]:
    client = TestClient(create_app("generated", settings=Settings(project_root=project)))
    rows: list[dict[str, object]] = []
    for template in PATHS:
        path = template.format(root=graphs.root(n))

        def get(path: str = path) -> None:
            answer = client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:200]}")

        start, start_cpu = time.perf_counter(), time.process_time()
        get()
        first = ((time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000)
        rows.append(
            {"assets": n, "path": template, "first_wall_ms": first[0], "first_cpu_ms": first[1], **harness.timed(get)}
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--case", nargs=2, metavar=("N", "PROJECT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        n, project = args.case
        harness.emit({"rows": case(int(n), Path(project))})
        return
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-bench-ui-api-"))
    with harness.session("ui-api"):
        try:
            for n in args.sizes:
                project = workdir / f"built-{n}"
                project.mkdir()
                (project / "generated.py").write_text(graphs.module_source(n, code_version="1"))
                populate(project, n)
                found = harness.run_case(Path(__file__), ["--case", str(n), str(project)])["rows"]
                for row in found:
                    harness.progress(row, COLUMNS)
                rows += found
            print(harness.table(rows, COLUMNS))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


COLUMNS = ("assets", "path", "first_wall_ms", "first_cpu_ms", *harness.TIME_COLUMNS)

if __name__ == "__main__":
    main()

"""(b) Declaring and loading 10k assets: a generated module of 10k ``@asset`` functions.

Times ``Workspace.load`` (import the module, which runs every ``@asset``, then validate the graph) and the
code versions of every asset, with automatic code versions (what users get by default) and with explicit
``code_version=``; each cold (first load after editing the module: no bytecode, no cached code analysis
in ``.lakeplan/cache``) and warm (every later load). Every case runs in a fresh process.

    .venv/bin/python benchmarks/bench_load.py [--assets 10000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import graphs
import harness

COLUMNS = (
    "assets",
    "versions",
    "state",
    "import_lakeplan_ms",
    "load_ms",
    "code_versions_ms",
    "total_ms",
    "total_cpu_ms",
    "maxrss_mib",
)


def case(project: Path) -> dict[str, object]:
    """One load, inside the fresh subprocess."""
    start = time.perf_counter()
    from assets_core.config import load_settings
    from assets_core.workspace import Workspace

    imported, cpu_start = time.perf_counter(), time.process_time()
    ws = Workspace.load("generated.py", load_settings(project))
    loaded = time.perf_counter()
    versions = {key: ws.code_version(key).version for key in ws.graph.assets}
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "assets": len(versions),
        "import_lakeplan_ms": (imported - start) * 1000,
        "load_ms": (loaded - imported) * 1000,
        "code_versions_ms": (done - loaded) * 1000,
        "total_ms": (done - imported) * 1000,
        "total_cpu_ms": (cpu_done - cpu_start) * 1000,
        "maxrss_mib": harness.maxrss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--case", metavar="PROJECT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        harness.emit(case(Path(args.case)))
        return
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-bench-load-"))
    try:
        for versions, code_version in (("automatic", None), ("explicit", "1")):
            project = workdir / versions
            project.mkdir()
            (project / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
            source = graphs.module_source(args.assets, code_version=code_version)
            (project / "generated.py").write_text(source, encoding="utf-8")
            for state in ("cold", "warm", "warm"):
                if state == "cold":  # as after editing the module: no bytecode, no cached code analysis
                    shutil.rmtree(project / "__pycache__", ignore_errors=True)
                    shutil.rmtree(project / ".lakeplan", ignore_errors=True)
                # Python writes bytecode unless PYTHONDONTWRITEBYTECODE is non-empty; users get the default.
                row = harness.run_case(Path(__file__), ["--case", str(project)], env={"PYTHONDONTWRITEBYTECODE": ""})
                row.update(versions=versions, state=state)
                rows.append(row)
                print(harness.table([row], COLUMNS).splitlines()[-1], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(harness.table(rows, COLUMNS))


if __name__ == "__main__":
    main()

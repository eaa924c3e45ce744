"""Stress: load and soak, the figures behind docs/reliability.md.

load: ``lakeplan materialize --workers 2`` of a generated graph of N small assets (benchmarks/graphs.py),
from nothing built, on SQLite and on PostgreSQL (127.0.0.1:5432, a fresh schema): wall time, assets per
second, peak RSS of the largest process, and a check that every asset got exactly one materialization.

soak: 50 consecutive ``lakeplan materialize`` runs of the quickstart in a scratch copy; every 10th run
appends a valid order to the CSV (a real new version). Prints how the storage and ``.lakeplan/`` grow per run, split
into runs with and without a new version.

    .venv/bin/python benchmarks/bench_stress.py                      # both, 10,000 assets, 50 runs
    .venv/bin/python benchmarks/bench_stress.py load --assets 2000 --backends sqlite
    .venv/bin/python benchmarks/bench_stress.py soak --runs 20
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import graphs
import harness
import sqlalchemy as sa

REPO = harness.REPO
PG_ADMIN_URL = os.environ.get("LAKEPLAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def lakeplan(project: Path, env: dict[str, str], *args: str) -> tuple[str, float, float]:
    """Run the CLI; returns its stdout, wall seconds and the peak RSS (MiB) of its largest process."""
    command = [sys.executable, "-m", "assets_core", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=project, env=full_env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's usage, its worker processes included
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"lakeplan {' '.join(args)} failed:\n{err.read()[-3000:]}")
        return out.read(), seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def _project(workdir: Path, name: str) -> Path:
    project = workdir / name
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n\n[tool.lakeplan]\n')
    return project


def _postgres_schema() -> tuple[str, str] | None:
    """(URL whose search_path is a fresh schema, schema name), or None when no server answers."""
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    schema = f"lp_bench_{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError:
        return None
    finally:
        engine.dispose()
    url = sa.make_url(PG_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def _drop_schema(schema: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def load(workdir: Path, n: int, backend: str, workers: int) -> dict[str, Any]:
    project = _project(workdir, f"load-{backend}")
    (project / "generated.py").write_text(graphs.module_source(n))
    env = {"LAKEPLAN_DATABASE_URL": f"sqlite:///{project / '.lakeplan' / 'lakeplan.db'}"}
    schema = None
    if backend == "postgres":
        found = _postgres_schema()
        if found is None:
            return {"backend": backend, "assets": n, "note": f"skipped: no PostgreSQL at {PG_ADMIN_URL}"}
        env["LAKEPLAN_DATABASE_URL"], schema = found
    try:
        stdout, seconds, peak = lakeplan(
            project, env, "materialize", "-m", "generated.py", "-w", str(workers), "--json"
        )
        summary = json.loads(stdout)
        counts = summary["counts"]
        recorded = _materializations_per_asset(env["LAKEPLAN_DATABASE_URL"])
    finally:
        if schema:
            _drop_schema(schema)
    return {
        "backend": backend,
        "assets": n,
        "workers": workers,
        "built": counts["built"],
        "failed": counts["failed"],
        "seconds": seconds,
        "assets_per_s": n / seconds,
        "peak_rss_mib": peak,
        "one_record_each": recorded == {1},
    }


def _materializations_per_asset(url: str) -> set[int]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM lp_materializations GROUP BY asset_key")).all()
    engine.dispose()
    return {int(r[0]) for r in rows}


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def soak(workdir: Path, runs: int) -> dict[str, Any]:
    project = _project(workdir, "soak")
    shutil.copytree(
        REPO / "examples" / "quickstart", project / "quickstart", ignore=shutil.ignore_patterns("__pycache__")
    )
    csv = project / "quickstart" / "data" / "orders.csv"
    state, storage = project / ".lakeplan", project / ".lakeplan" / "storage"
    rows: list[dict[str, Any]] = []
    for i in range(1, runs + 1):
        edited = i > 1 and i % 10 == 1
        if edited:  # a real new version: one more valid completed order
            with csv.open("a") as handle:
                handle.write(f"{100_000 + i},1,2026-01-15,{10 + i}.00,complete,DE\n")
        before_state, before_storage = _size(state), _size(storage)
        stdout, seconds, _ = lakeplan(project, {}, "materialize", "-m", "quickstart.pipeline", "--json")
        counts = json.loads(stdout)["counts"]
        rows.append(
            {
                "run": i,
                "edited": edited,
                "new_versions": counts["built"] + counts["restored"],
                "storage_growth": _size(storage) - before_storage,
                "state_growth": _size(state) - before_state,
                "seconds": seconds,
            }
        )
    quiet = [r for r in rows[1:] if not r["new_versions"]]
    busy = [r for r in rows[1:] if r["new_versions"]]
    return {
        "runs": runs,
        "runs_with_new_versions": len(busy),
        "storage_growth_without_new_versions": sum(r["storage_growth"] for r in quiet),
        "state_growth_per_run_without_new_versions": sum(r["state_growth"] for r in quiet) / max(1, len(quiet)),
        "storage_growth_per_new_version_run": sum(r["storage_growth"] for r in busy) / max(1, len(busy)),
        "final_storage_bytes": _size(storage),
        "final_state_bytes": _size(state),
        "median_run_s": sorted(r["seconds"] for r in rows)[len(rows) // 2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=["load", "soak", "all"], default="all")
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-bench-load-"))
    with harness.session(f"stress {args.what}"), contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        if args.what in ("load", "all"):
            rows = [load(workdir, args.assets, backend, args.workers) for backend in args.backends]
            columns = max((list(r) for r in rows), key=len)
            print(harness.table(rows, columns))
        if args.what in ("soak", "all"):
            figures = soak(workdir, args.runs)
            print(harness.table([figures], list(figures)))


if __name__ == "__main__":
    main()

"""The quickstart on lakeFS, selected by three environment values (plus credentials), through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture

ORDERS = REPO / "examples" / "quickstart" / "data" / "orders.csv"


def test_quickstart_on_lakefs_detects_a_source_change_made_in_lakefs(lakefs_target: LakeFS, tmp_path: Path) -> None:  # noqa: F811
    lakefs_target.put("examples/quickstart/data/orders.csv", ORDERS.read_bytes(), "orders export")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")},
        "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "LAKEPLAN_STORAGE_ROOT": str(tmp_path / "storage"),  # the local cache of lakeFS objects
        "LAKEPLAN_LAKEFS_ENDPOINT": lakefs_target.endpoint,
        "LAKEPLAN_LAKEFS_REPOSITORY": lakefs_target.repository,
        "LAKEPLAN_LAKEFS_BRANCH": "main",
    }

    def lakeplan(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "assets_core", *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    built = lakeplan("materialize", "-m", "examples.quickstart.pipeline", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["counts"]["built"] == 5
    assert lakefs_target.branch().object("assets/model_report.json").exists()
    assert any((tmp_path / "storage" / "lakefs-cache").rglob("*.parquet"))  # inputs were read through the cache

    lines = ORDERS.read_bytes().splitlines(keepends=True)
    lakefs_target.put("examples/quickstart/data/orders.csv", b"".join(lines[:-5]), "drop the last orders")
    planned = lakeplan("plan", "-m", "examples.quickstart.pipeline")
    assert planned.returncode == 0, planned.stderr
    orders_line = next(line for line in planned.stdout.splitlines() if line.startswith("orders "))
    assert "STALE" in orders_line and "source 'orders_csv' changed" in orders_line
    assert (
        f"lakefs://{lakefs_target.repository}/" in orders_line and "examples/quickstart/data/orders.csv" in orders_line
    )
    assert "5 assets: 5 stale" in planned.stdout

"""The quickstart runs end to end from a clean state, then plans as fully fresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_quickstart_materializes_then_is_fresh(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")},
        "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}",
        "LAKEPLAN_STORAGE_ROOT": str(tmp_path / "s"),
    }

    def lakeplan(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "assets_core", *args]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    first = lakeplan("materialize", "-m", "examples.quickstart.pipeline", "--json")
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)["counts"]
    assert counts["built"] == 5 and counts["failed"] == 0
    planned = json.loads(lakeplan("plan", "--json").stdout)
    assert planned["counts"] == {"assets": 5, "fresh": 5, "stale": 0, "waiting": 0}
    report = next(p for p in (tmp_path / "s" / "model_report").iterdir())
    assert set(json.loads(report.read_text())) == {"accuracy", "auc", "holdout_customers"}

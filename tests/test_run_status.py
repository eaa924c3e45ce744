"""A local run whose process died (SIGKILL) shows as abandoned, not forever running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import Project

PIPELINE = """
import time
from pathlib import Path
from assets_core import asset

@asset
def slow() -> int:
    Path(__file__).with_name("started").touch()
    time.sleep(60)
    return 1
"""


def test_a_killed_materialize_run_shows_as_abandoned_and_a_finished_one_does_not(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    marker = sqlite_project.root / sqlite_project.package / "started"
    command = [sys.executable, "-m", "assets_core", "materialize", "-m", sqlite_project.module()]
    proc = subprocess.Popen(command, cwd=sqlite_project.root, env=sqlite_project.env(), stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the asset never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    runs = json.loads(sqlite_project.cli("runs", "-m", sqlite_project.module(), "--json", check=True).stdout)["runs"]
    assert [r["status"] for r in runs] == ["abandoned"]
    assert runs[0]["environment"]["holder"].endswith(f":{proc.pid}")
    table = sqlite_project.cli("runs", "-m", sqlite_project.module(), check=True).stdout
    assert "abandoned" in table

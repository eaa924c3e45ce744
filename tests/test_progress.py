"""Progress on long runs: a line per finished asset, and periodic 'still running' lines while a step runs."""

from __future__ import annotations

import io

from conftest import Project

from assets_core.cli.progress import Progress
from assets_core.executor import run

PIPELINE = """
import time
from assets_core import asset

@asset
def quick() -> int:
    return 1

@asset
def slow(quick: int) -> int:
    time.sleep(1.2)
    return quick + 1
"""


def test_long_step_is_reported_while_it_runs_then_finished(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    ws = sqlite_project.workspace()
    out = io.StringIO()
    with Progress(out=out, interval=0.25) as progress:
        summary = run(ws, ["quick", "slow"], on_result=progress.finished, on_start=progress.started)
    lines = out.getvalue().splitlines()
    assert [r.outcome.value for r in summary.results] == ["built", "built"]
    still = [line for line in lines if line.startswith("... still running: slow (")]
    assert len(still) >= 2, lines  # about four ticks during a 1.2 s step
    assert all("quick" not in line for line in still), "a finished asset is no longer listed as running"
    finished = [line for line in lines if line.startswith("[")]
    assert [line.split()[2] for line in finished] == ["quick", "slow"]
    assert lines.index(still[0]) < lines.index(finished[1]), "the running line comes before slow finishes"


def test_quiet_progress_prints_nothing() -> None:
    out = io.StringIO()
    with Progress(out=out, interval=0.01, enabled=False) as progress:
        progress.started("a")
    assert out.getvalue() == ""

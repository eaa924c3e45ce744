"""What runs inside an Argo pod: ``lakeplan step`` (one asset) and ``lakeplan plan-task`` (a schedule's plan).

Both print one JSON line. The step's exit code tells Argo what failed: 0 done (built, restored, fresh, or
another pod recorded it first), 1 the user's code failed, 3 the store or storage failed.
"""

from __future__ import annotations

import json
from pathlib import Path

from assets_core.errors import ExitCode, SelectionError, StoreError
from assets_core.step import Outcome, materialize
from assets_core.workspace import Workspace

from .contract import stale_tokens


def step(target: str | None, key: str, run_id: str) -> int:
    """Materialize one asset once; Argo owns the retries, so the step makes a single attempt."""
    ws = Workspace.load(target)
    if key not in ws.graph.assets:
        raise SelectionError(f"unknown asset {key!r} in {ws.target}; the manifest is older than the code, recompile it")
    try:
        result = materialize(ws, key, run_id, retries=False)
    except StoreError as exc:
        print(json.dumps({"key": key, "run_id": run_id, "outcome": "error", "message": str(exc)}), flush=True)
        return int(ExitCode.INFRASTRUCTURE)
    line = {
        "key": key,
        "run_id": run_id,
        "outcome": result.outcome.value,
        "data_version": result.data_version,
        "seconds": round(result.seconds, 3),
        "message": result.message,
    }
    print(json.dumps(line), flush=True)
    return int(ExitCode.RUN_FAILED if result.outcome is Outcome.FAILED else ExitCode.OK)


def plan_task(target: str | None, select: str | None, output: Path) -> int:
    """Write the keys stale now (including those stale only because an upstream is) for the tasks' ``when``."""
    ws = Workspace.load(target)
    plan = ws.plan(select)
    stale = [s.key for s in plan.stale]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(stale_tokens(stale))
    print(json.dumps({"stale": stale, "counts": plan.counts()}), flush=True)
    return int(ExitCode.OK)

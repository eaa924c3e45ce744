"""What runs inside an Argo pod: ``lakeplan step`` (one asset), ``lakeplan plan-task`` (a schedule's plan)
and ``lakeplan finish-run`` (the workflow's exit handler).

Each prints one JSON line on stdout; what the asset's code printed is recorded with its attempt and also
written to stderr, so the pod's log (``argo logs``) shows it too. The step's exit code tells Argo what
failed: 0 done (built, restored, fresh, or another pod recorded it first), 1 the user's code failed, 3 the
store or storage failed. The run id is the workflow's name: the first pod to get there records the run,
the exit handler publishes and closes it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from assets_core.errors import DefinitionError, ExitCode, SelectionError, StoreError
from assets_core.run_lifecycle import begin, counts_of, finish, start
from assets_core.step import Outcome, materialize
from assets_core.workspace import Workspace

from .contract import WORKFLOW_SUCCEEDED, graph_digest, masked, ordered_selection, stale_tokens


def step(target: str | None, key: str, run_id: str, selection: str = "*") -> int:
    """Materialize one asset once; Argo owns the retries, so the step makes a single attempt. An asset's
    timeout is enforced here, by the step itself (assets_core/timeouts.py), well before the pod's
    ``activeDeadlineSeconds`` (the timeout plus the pod's start-up margin) would kill it: the failure is
    recorded ("timed out after ...") and the exit code is 1, retried only as the asset's ``retries`` say."""
    ws = Workspace.load(target)
    if key not in ws.graph.assets:
        raise SelectionError(f"unknown asset {key!r} in {ws.target}; the manifest is older than the code, recompile it")
    try:
        begin(ws, run_id, selection)
        result = materialize(ws, key, run_id, retries=False, waiting=_waiting(ws, key, selection, run_id))
    except StoreError as exc:
        print(json.dumps({"key": key, "run_id": run_id, "outcome": "error", "message": str(exc)}), flush=True)
        return int(ExitCode.INFRASTRUCTURE)
    if result.log:
        print(result.log, end="" if result.log.endswith("\n") else "\n", file=sys.stderr, flush=True)
    print(json.dumps({"run_id": run_id, **result.to_json()}), flush=True)
    failed = result.outcome in (Outcome.FAILED, Outcome.WAITING)  # a waiting asset is not up to date: as locally
    return int(ExitCode.RUN_FAILED if failed else ExitCode.OK)


def _waiting(ws: Workspace, key: str, selection: str, run_id: str) -> str:
    """Why the run's selection cannot make ``key`` fresh (a stale upstream it leaves out), or ''. Only when
    the selection leaves out an asset upstream of ``key`` is it planned: most pods read no store for this."""
    if selection in ("", "*"):
        return ""
    selected = ws.select(selection)
    if all(up in selected or ws.graph.is_source(up) for up in ws.graph.ancestors([key])):
        return ""
    status = next((s for s in ws.plan(selection, run_id=run_id).statuses if s.key == key), None)
    return status.waiting_message if status is not None and status.waiting_on else ""


def plan_task(
    target: str | None,
    select: str | None,
    output: Path,
    run_id: str | None = None,
    digest: str | None = None,
    part: tuple[int, int] | None = None,
    every: bool = False,
    tasks: str | None = None,
) -> int:
    """Write the keys to build now for the tasks' ``when``: the stale ones (including those stale only because
    an upstream is), or with ``every`` all of them. ``digest``: refuse an image whose graph is not the compiled
    one (a stale key would have no task). ``tasks``: which keys of the selection have a task (``task_mask``),
    when only some do; a stale key without one fails the plan. ``part`` (start, end): only that slice of the
    selection, without the keys whose upstream in an earlier slice is still stale (it failed in this run).
    With ``run_id``, also record the run (the plan task is a run's first pod)."""
    ws = Workspace.load(target)
    keys = ordered_selection(ws.graph, ws.select(select))
    if digest is not None and graph_digest(ws.graph, keys) != digest:
        raise DefinitionError(
            f"the image's graph for {select or '*'!r} differs from the compiled one (digest "
            f"{graph_digest(ws.graph, keys)} != {digest}), so some assets would have no task; "
            "recompile and redeploy the manifests with this image"
        )
    if run_id is not None:
        begin(ws, run_id, select or "*")
    plan = ws.plan(select, run_id=run_id)  # a later part sees what earlier parts of this run built
    stale = {s.key for s in plan.stale}
    start, end = part or (0, len(keys))
    held = ws.graph.descendants(k for k in keys[:start] if k in stale)
    chosen = [k for k in keys[start:end] if (every or k in stale) and k not in held]
    if tasks is not None:
        _check_tasks(keys, tasks, chosen)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(stale_tokens(chosen))
    held_here = sorted(held & set(keys[start:end]))
    waiting = {s.key: s.waiting_message for s in plan.statuses if s.waiting_on}
    print(json.dumps({"stale": chosen, "held": held_here, "waiting": waiting, "counts": plan.counts()}), flush=True)
    return int(ExitCode.OK)


def _check_tasks(keys: list[str], mask: str, chosen: list[str]) -> None:
    """Every key the plan chose has a task; otherwise the manifest was planned against another store."""
    try:
        compiled = set(masked(keys, mask))
    except ValueError as exc:
        raise DefinitionError(f"--tasks {mask[:20]!r}... does not fit this selection ({exc}); recompile") from None
    missing = [k for k in chosen if k not in compiled]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DefinitionError(
            f"{len(missing)} asset(s) are stale in the store these pods use but have no task in this workflow "
            f"({shown}): it was compiled with --plan-here against another store; compile without --plan-here"
        )


def finish_run(target: str | None, run_id: str, workflow_status: str, selection: str = "*") -> int:
    """The exit handler: publish the run only if the workflow succeeded (lakeFS: merge its run branch;
    otherwise the target stays untouched and the note names the kept branch), then record the outcome
    with counts from the run's materializations. Safe to repeat."""
    ws = Workspace.load(target)
    success = workflow_status == WORKFLOW_SUCCEEDED
    line: dict[str, object] = {"run_id": run_id, "workflow_status": workflow_status}
    try:
        recorded = ws.store.run_materializations(run_id)
        start(ws, run_id, selection, min((m.started_at for m in recorded), default=None))  # if no pod did
        counts = counts_of(recorded)
        note = finish(ws, run_id, success, counts)
    except StoreError as exc:
        print(json.dumps({**line, "outcome": "error", "message": str(exc)}), flush=True)
        return int(ExitCode.INFRASTRUCTURE)
    outcome = "published" if success else "not published"
    print(json.dumps({**line, "outcome": outcome, "counts": counts, "note": note}), flush=True)
    return int(ExitCode.OK)

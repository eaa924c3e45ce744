"""What runs inside an Argo pod: ``lakeplan step`` (one asset), ``lakeplan plan-task`` (a schedule's plan)
and ``lakeplan finish-run`` (the workflow's exit handler).

Each prints one JSON line on stdout; what the asset's code printed is recorded with its attempt and also
written to stderr, so the pod's log (``argo logs``) shows it too. The step's exit code tells Argo what
failed: 0 done (built, restored, fresh, or another pod recorded it first), 1 the user's code failed, 3 the
store or storage failed. The run id is the workflow's name: the first pod to get there records the run,
the exit handler publishes and closes it.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from assets_core.errors import DefinitionError, ExitCode, SelectionError, StoreError
from assets_core.partition_graph import instance_key
from assets_core.partition_scope import PartitionRange
from assets_core.run_lifecycle import begin, counts_of, finish, start
from assets_core.step import Outcome, StepResult, materialize
from assets_core.workspace import Workspace

from .contract import (
    BATCH_SEPARATOR,
    SCHEDULED,
    WORKFLOW_SUCCEEDED,
    batches,
    fan_out_file,
    graph_digest,
    masked,
    ordered_selection,
    stale_tokens,
)
from .names import task_name


def run_now(text: str | None) -> dt.datetime | None:
    """The ``now`` a partitioned run's pods expand the graph at (``--now``, RFC 3339), or None (the clock)."""
    if text is None:
        return None
    if text == SCHEDULED:
        raise DefinitionError(
            "this run was not started by its CronWorkflow, so it has no fire time ({{workflow.scheduledTime}} is "
            "unset); submit it with 'argo submit --from workflowtemplate/NAME --scheduled-time 2026-03-02T02:00:00Z'"
        )
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DefinitionError(f"--now {text!r} is not an RFC 3339 time such as 2026-03-02T02:00:00Z") from None
    if moment.tzinfo is None:
        raise DefinitionError(f"--now {text!r} has no UTC offset; write it like 2026-03-02T02:00:00Z")
    return moment


def step(
    target: str | None,
    key: str,
    run_id: str,
    selection: str = "*",
    partitions: str | None = None,
    now: dt.datetime | None = None,
    wanted: PartitionRange | None = None,
) -> int:
    """Materialize one asset once, or with ``partitions`` (a fan-out item: keys joined by ',') each of those
    partitions of it in turn; Argo owns the retries, so each makes a single attempt. An asset's timeout is
    enforced here, by the step itself (assets_core/timeouts.py), well before the pod's ``activeDeadlineSeconds``
    (the timeout plus the pod's start-up margin) would kill it: the failure is recorded ("timed out after ...")
    and the exit code is 1, retried only as the asset's ``retries`` say. One JSON line per key built."""
    ws = Workspace.load(target, now=now)
    keys = _step_keys(ws, key, partitions)
    results = []
    try:
        begin(ws, run_id, selection)
        waiting = _waiting(ws, key, keys, selection, run_id, wanted)
        for planned in keys:  # partitions of one asset never read each other: any order, each on its own
            results.append(materialize(ws, planned, run_id, retries=False, waiting=waiting.get(planned, "")))
            _report(run_id, results[-1])
    except StoreError as exc:
        print(json.dumps({"key": key, "run_id": run_id, "outcome": "error", "message": str(exc)}), flush=True)
        return int(ExitCode.INFRASTRUCTURE)
    failed = any(r.outcome in (Outcome.FAILED, Outcome.WAITING) for r in results)  # waiting: not up to date
    return int(ExitCode.RUN_FAILED if failed else ExitCode.OK)


def _report(run_id: str, result: StepResult) -> None:
    """What the asset's code printed on stderr (``argo logs`` shows it), then the step's JSON line on stdout."""
    if result.log:
        print(result.log, end="" if result.log.endswith("\n") else "\n", file=sys.stderr, flush=True)
    print(json.dumps({"run_id": run_id, **result.to_json()}), flush=True)


def _step_keys(ws: Workspace, key: str, partitions: str | None) -> list[str]:
    """The planned keys a step builds: the asset, or the named partitions of it (each must exist at ``now``)."""
    if key not in ws.graph.assets:
        raise SelectionError(f"unknown asset {key!r} in {ws.target}; the manifest is older than the code, recompile it")
    declared = ws.graph.nodes[key].partitions
    if (declared is None) != (partitions is None):
        which = "is not partitioned" if declared is None else "is partitioned"
        raise SelectionError(f"asset {key!r} {which} in {ws.target}; the manifest is older than the code, recompile it")
    if partitions is None or declared is None:
        return [key]
    keys = [instance_key(key, p, declared) for p in partitions.split(BATCH_SEPARATOR)]
    unknown = [k for k in keys if k not in ws.expanded.instances]
    if unknown:
        raise SelectionError(f"{unknown[0]!r} does not exist at {ws.now.isoformat()}; recompile the manifest")
    return keys


def _waiting(
    ws: Workspace, asset: str, keys: list[str], selection: str, run_id: str, wanted: PartitionRange | None
) -> dict[str, str]:
    """Why the run's selection (and partitions) cannot make each of ``keys`` fresh (a stale upstream it leaves
    out). Only when the run leaves out something upstream is it planned: most pods read no store for this."""
    if wanted is None:
        if selection in ("", "*"):
            return {}
        selected = ws.select(selection)
        if all(up in selected or ws.graph.is_source(up) for up in ws.graph.ancestors([asset])):
            return {}
    wanted_keys = set(keys)
    statuses = ws.plan(selection, run_id=run_id, partitions=wanted).statuses
    return {s.key: s.waiting_message for s in statuses if s.key in wanted_keys and s.waiting_on}


def plan_task(
    target: str | None,
    select: str | None,
    output: Path,
    run_id: str | None = None,
    digest: str | None = None,
    part: tuple[int, int] | None = None,
    every: bool = False,
    tasks: str | None = None,
    now: dt.datetime | None = None,
    wanted: PartitionRange | None = None,
    fan_out: int = 1,
) -> int:
    """Write the keys to build now for the tasks' ``when``: the stale ones (including those stale only because
    an upstream is), or with ``every`` all of them. ``digest``: refuse an image whose graph is not the compiled
    one (a stale key would have no task). ``tasks``: which keys of the selection have a task (``task_mask``),
    when only some do; a stale key without one fails the plan. ``part`` (start, end): only that slice of the
    selection, without the keys whose upstream in an earlier slice is still stale (it failed in this run).
    With ``run_id``, also record the run (the plan task is a run's first pod). For each partitioned asset of the
    slice it writes the batches (at most ``fan_out``) of its partitions to build, ``[]`` when none."""
    ws = Workspace.load(target, now=now)
    keys = ordered_selection(ws.graph, ws.select(select))
    if digest is not None and graph_digest(ws.graph, keys) != digest:
        raise DefinitionError(
            f"the image's graph for {select or '*'!r} differs from the compiled one (digest "
            f"{graph_digest(ws.graph, keys)} != {digest}), so some assets would have no task; "
            "recompile and redeploy the manifests with this image"
        )
    if run_id is not None:
        begin(ws, run_id, select or "*")
    plan = ws.plan(select, run_id=run_id, partitions=wanted)  # a later part sees what earlier parts built
    stale = {ws.instance(s.key).asset for s in plan.stale}
    building = sorted(ws.scope(select, wanted)) if every else [s.key for s in plan.stale]  # planned keys
    start, end = part or (0, len(keys))
    held = ws.graph.descendants(k for k in keys[:start] if k in stale)
    wanted_assets = {ws.instance(k).asset for k in building}
    chosen = [k for k in keys[start:end] if k in wanted_assets and k not in held]
    if tasks is not None:
        _check_tasks(keys, tasks, chosen)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(stale_tokens(chosen))
    _write_fan_outs(ws, output.parent, chosen, keys[start:end], building, fan_out)
    held_here = sorted(held & set(keys[start:end]))
    waiting = {s.key: s.waiting_message for s in plan.statuses if s.waiting_on}
    print(json.dumps({"stale": chosen, "held": held_here, "waiting": waiting, "counts": plan.counts()}), flush=True)
    return int(ExitCode.OK)


def _write_fan_outs(
    ws: Workspace, where: Path, chosen: list[str], keys: list[str], stale: list[str], fan_out: int
) -> None:
    """Each partitioned asset's batches of partitions to build (in partition order) as its fan-out's JSON list;
    ``[]`` for one with nothing to build (Argo skips the task: "Skipped, empty params")."""
    wanted = set(chosen)
    by_asset: dict[str, list[str]] = {}
    for key in stale:
        instance = ws.instance(key)
        if instance.partition is not None and instance.asset in wanted:
            by_asset.setdefault(instance.asset, []).append(instance.partition)
    for key in keys:
        if ws.graph.nodes[key].partitions is None:
            continue
        order = ws.partition_order(key)
        found = sorted(by_asset.get(key, ()), key=order.__getitem__)
        (where / fan_out_file(task_name(key))).write_text(json.dumps(batches(found, fan_out)))


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

"""A run's bookkeeping, shared by ``lakeplan materialize`` (the executor) and the Argo pods.

``begin`` records the run and opens it in the object store (lakeFS: the run branch); ``finish`` publishes
it there only on success (lakeFS: merges the run branch) and records the outcome. In-process, one caller
does both; on Argo every step pod calls ``begin`` (the first one records the run, the others find it) and
the workflow's exit handler calls ``finish`` with counts taken from the run's recorded materializations.
Both are idempotent, so a retried pod or exit handler does no harm.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from .check_status import blocking_failures
from .claims import holder_alive
from .environment import capture
from .errors import StoreError
from .records import Materialization, MaterializationKind, RunRecord, RunStatus
from .workspace import Workspace


def start(
    ws: Workspace, run_id: str, selection: str, started_at: float | None = None, holder: str | None = None
) -> bool:
    """Record ``run_id`` as running unless it already is; True when this call recorded it.

    ``holder`` names the one process that will finish the run (a local ``materialize``), so a run whose
    process died can be shown as abandoned; Argo runs, finished by their exit handler, have none.
    """
    if ws.store.run(run_id) is not None:  # the common case on Argo: skip capturing the environment
        return False
    started = time.time() if started_at is None else started_at
    resources = {name: config.recorded() for name, config in ws.resource_configs.items()}
    environment = capture(ws.settings, ws.target, resources=resources)
    if holder is not None:
        environment["holder"] = holder
    return ws.store.ensure_run(RunRecord(run_id, started, RunStatus.RUNNING, selection, environment=environment))


def begin(
    ws: Workspace, run_id: str, selection: str, started_at: float | None = None, holder: str | None = None
) -> None:
    """Record the run (if not yet) and open it in the object store, before its first step writes."""
    start(ws, run_id, selection, started_at, holder)
    ws.objects.begin_run(run_id)


def finish(ws: Workspace, run_id: str, success: bool, counts: dict[str, int]) -> str | None:
    """Publish the run in the object store only if ``success``, then record its outcome.

    Returns the object store's note (e.g. where it was published, or which lakeFS branch keeps a failed
    run's outputs). A failed publish records the run as failed and raises the StoreError. A run in which a
    blocking asset check failed is never published, whatever ``success`` says (write, audit, publish).
    """
    blocked = blocking_failures(ws.store.run_checks(run_id)) if ws.graph.checks else []
    success = success and not blocked
    try:
        note = ws.objects.finish_run(run_id, success)
    except StoreError:
        ws.store.finish_run(run_id, RunStatus.FAILED, counts)
        raise
    ws.store.finish_run(run_id, RunStatus.SUCCESS if success else RunStatus.FAILED, counts)
    if blocked and note:
        names = ", ".join(f"{r.asset_key}:{r.check_name}" for r in blocked)
        note = f"not published: blocking check {names} failed; {note}"
    return note


def counts_of(materializations: Iterable[Materialization]) -> dict[str, int]:
    """Assets per outcome of their last attempt in a run (a retried asset counts once, as it ended)."""
    last = {m.asset_key: m.kind for m in materializations}  # in recording order, so the last one wins
    counts = dict.fromkeys((MaterializationKind.BUILT, MaterializationKind.RESTORED, MaterializationKind.FAILED), 0)
    for kind in last.values():
        counts[kind] = counts.get(kind, 0) + 1
    return {kind.value: n for kind, n in counts.items()}


def shown_status(run: RunRecord) -> str:
    """The run's status for display: 'abandoned' for a run still marked running whose process is gone."""
    holder = run.environment.get("holder")
    if run.status is RunStatus.RUNNING and isinstance(holder, str) and not holder_alive(holder):
        return "abandoned"
    return run.status.value

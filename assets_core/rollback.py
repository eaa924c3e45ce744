"""Rollback: make an earlier stored version of an asset current again.

Recorded as its own ROLLBACK materialization (history is never deleted) in a run of its own, and
the head moves by the store's compare-and-set, so it cannot overwrite a concurrent build. It goes
through the generic version-store calls a restoring step uses (``begin_run``, ``commit``,
``finish_run``), so with lakeFS the rollback is a commit on the run's branch, published on success.
Dependents then plan stale (their recorded input differs).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace

from .errors import LakeplanError
from .lineage import resolve_version
from .metadata_store import RecordConflict
from .records import Materialization, MaterializationKind, new_run_id
from .run_lifecycle import begin, finish
from .values import commit, make_current, output_exists
from .workspace import Workspace


class RollbackError(LakeplanError):
    """The rollback cannot be done as asked (no such version, already current, or data gone)."""


@dataclass(frozen=True, slots=True)
class RollbackResult:
    run_id: str
    target: Materialization  # the earlier version now current again
    recorded: Materialization  # the ROLLBACK event
    note: str | None = None  # from the object store, e.g. where it was published


def rollback(ws: Workspace, key: str, spec: str) -> RollbackResult:
    """Point ``key``'s head at the version ``spec`` names (data-version prefix or materialization id)."""
    if key not in ws.graph.assets:
        raise RollbackError(f"unknown asset {key!r}; run 'lakeplan plan' to list the assets")
    head = ws.store.heads([key]).get(key)
    if head is None:
        raise RollbackError(f"{key!r} was never materialized, so there is nothing to roll back")
    target = resolve_version(key, ws.store.history(key), spec)
    if target.data_version == head.data_version:
        raise RollbackError(f"{key!r} is already at version {head.data_version[:12]}; nothing to roll back")
    if not target.location or not output_exists(ws, target.location, target.data_version or ""):
        raise RollbackError(
            f"the data of {key!r} version {(target.data_version or '')[:12]} is gone from {_where(ws, target)} "
            f"({target.location}); it cannot be restored: pick another version from 'lakeplan history {key}'"
        )
    run_id = new_run_id()
    now = time.time()
    event = replace(
        target,
        run_id=run_id,
        kind=MaterializationKind.ROLLBACK,
        started_at=now,
        finished_at=time.time(),
        metadata={**target.metadata, "rolled_back_to": target.id},
        error=None,
        id=None,
    )
    begin(ws, run_id, f"rollback {key}", now)
    try:
        event = commit(ws, event, {})  # the version store's own commit (lakeFS), as a restore
        make_current(ws, event)  # the IO manager's own "current" (a PostgreSQL view)
        new_id = ws.store.record(event, head.id)
    except RecordConflict:
        _abandon(ws, run_id)
        raise RollbackError(
            f"another run changed {key!r} while rolling back; check 'lakeplan history {key}' and retry"
        ) from None
    except BaseException:
        _abandon(ws, run_id)
        raise
    note = finish(ws, run_id, True, {"rollback": 1})
    return RollbackResult(run_id, target, replace(event, id=new_id), note)


def _where(ws: Workspace, target: Materialization) -> str:
    """The store that held ``target``'s data, for the message."""
    return ws.io_manager_at(target.location)[0].describe() if target.location else ws.objects.describe()


def _abandon(ws: Workspace, run_id: str) -> None:
    """Close a failed rollback's run in both stores without hiding the error in flight."""
    with contextlib.suppress(LakeplanError):
        finish(ws, run_id, False, {"rollback": 0})

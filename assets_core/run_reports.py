"""What lakeplan reports about runs, with its stable JSON form: the list, one run in full, and what
changed between two runs. The CLI's ``--json`` prints these and ``lakeplan ui``'s API serves them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .asset_reports import CheckChanges, check_diffs, with_checks
from .lineage import VersionError, iso_time, materialization_json
from .lookup import named_run
from .records import CheckRecord, Materialization, RunRecord
from .run_diff import RunDiff, diff_runs, last_id, resolve_run, run_diff_json
from .run_lifecycle import counts_of, shown_status
from .workspace import Workspace


def run_json(run: RunRecord, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """One run's record: when, status, selection, counts and the environment it captured."""
    return {
        "run_id": run.run_id,
        "started_at": iso_time(run.started_at),
        "finished_at": iso_time(run.finished_at) if run.finished_at else None,
        "status": shown_status(run),
        "selection": run.selection,
        "counts": run.counts if counts is None else counts,
        "environment": run.environment,
    }


def shown_counts(ws: Workspace, run: RunRecord) -> dict[str, int]:
    """The run's counts; for an abandoned run (its process died before recording them), what it recorded."""
    return counts_of(ws.store.run_materializations(run.run_id)) if shown_status(run) == "abandoned" else run.counts


def runs_report(ws: Workspace, limit: int | None = None) -> dict[str, Any]:
    """The newest ``limit`` runs, newest first, environments included (schema lakeplan.runs/v1)."""
    return {"schema": "lakeplan.runs/v1", "runs": [run_json(r, shown_counts(ws, r)) for r in ws.store.runs(limit)]}


@dataclass(frozen=True)
class RunDetail:
    """One run in full: its record, every materialization and check result it recorded, and for an
    abandoned run what it was building when its process died."""

    run: RunRecord
    status: str
    counts: dict[str, int]
    materializations: list[Materialization]
    checks: list[CheckRecord]
    building_when_abandoned: list[str]

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.run_detail/v1."""
        by_id = {m.id: [c for c in self.checks if c.materialization_id == m.id] for m in self.materializations}
        shown = [with_checks(materialization_json(m), by_id[m.id]) for m in self.materializations]
        data: dict[str, Any] = {
            **run_json(self.run, self.counts),
            "materializations": shown,
            "checks": [c.to_json() for c in self.checks],
        }
        return {
            "schema": "lakeplan.run_detail/v1",
            "run": {**data, "building_when_abandoned": self.building_when_abandoned},
        }


def read_run(ws: Workspace, spec: str) -> RunDetail:
    """The run ``spec`` names (id, unique prefix, ``latest``, ``latest~N``) in full."""
    run = named_run(ws, spec)
    status = shown_status(run)
    # an abandoned run's claims outlive its process: they name what it was building when it died
    lost = [c.asset_key for c in ws.store.held_claims() if c.run_id == run.run_id] if status == "abandoned" else []
    return RunDetail(
        run,
        status,
        shown_counts(ws, run),
        ws.store.run_materializations(run.run_id),
        ws.store.run_checks(run.run_id),  # with its materializations, or on current versions (re-checks)
        lost,
    )


@dataclass(frozen=True)
class RunComparison:
    """Two runs compared: environment, packages, git, configuration, and the asset versions after each."""

    diff: RunDiff
    checks: dict[str, CheckChanges]

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.diff/v1."""
        data = run_diff_json(self.diff)
        data["assets"] = [{**shown, "checks": self.checks[shown["asset"]]} for shown in data["assets"]]
        return data


def _run(runs: list[RunRecord], spec: str) -> RunRecord:
    run = resolve_run(runs, spec)
    if run is None:
        raise VersionError(f"no run {spec!r}; run 'lakeplan runs' to list them (or pass --asset to compare versions)")
    return run


def compare_runs(ws: Workspace, a: str, b: str) -> RunComparison:
    """Compare the runs ``a`` and ``b`` name, by the versions current when each ended."""
    runs = ws.store.runs()
    run_a, run_b = _run(runs, a), _run(runs, b)
    histories = ws.store.histories()
    removed = set(histories) - set(ws.planned.nodes)
    result = diff_runs(
        run_a, run_b, histories, last_id(run_a, histories), last_id(run_b, histories), ws.planned.order, removed
    )
    return RunComparison(result, check_diffs(ws, result.assets))


def previous_run(ws: Workspace, run_id: str) -> RunRecord | None:
    """The run recorded just before ``run_id`` (None for the first), to diff a run against."""
    runs = ws.store.runs()  # newest first
    position = next((i for i, r in enumerate(runs) if r.run_id == run_id), None)
    return runs[position + 1] if position is not None and position + 1 < len(runs) else None

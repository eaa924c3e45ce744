"""What lakeplan reports about assets, each as one function or record with its stable JSON form: the
listing, the plan, a code version's parts, checks, history, logs, lineage and a diff of two versions.
The CLI's ``--json`` prints these and ``lakeplan ui``'s API serves them, so both say the same."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .check_status import AcrossPartitions, across_partitions, check_changes, latest_results
from .definitions import AssetDef
from .errors import LakeplanError
from .lineage import (
    LineageNode,
    VersionError,
    downstream_lineage,
    materialization_json,
    recorded_downstream,
    resolve_version,
    upstream_lineage,
)
from .lookup import UnknownAsset, audited, check_asset, named_run
from .partition_summary import summarise
from .partitions import extent
from .planner import AssetStatus, Plan
from .records import CheckRecord, Materialization, RunRecord
from .run_diff import AssetDiff, asset_diff_json, diff_assets, last_id, resolve_run, versions_as_of
from .step import timeout_of
from .workspace import Workspace

CheckChanges = dict[str, tuple[str | None, str | None]]


class NoLog(LakeplanError):
    """``lakeplan logs`` found no attempt of the asset that ran its code, or none whose output was kept."""


def assets_report(ws: Workspace, selection: str | None = None) -> dict[str, Any]:
    """Every declared asset and source (in graph order) with its group, upstreams, code version, checks and
    partitions (schema lakeplan.assets/v1)."""
    chosen = ws.select(selection) if selection else set(ws.graph.nodes)
    rows: list[dict[str, Any]] = []
    for key in ws.graph.order:
        if key not in chosen:
            continue
        node = ws.graph.nodes[key]
        is_asset = isinstance(node, AssetDef)
        rows.append(
            {
                "key": key,
                "kind": "asset" if is_asset else "source",
                "group": node.group,
                "upstream": list(ws.graph.upstream[key]),
                "code_version": ws.code_version(key).version if is_asset else None,
                "io_manager": node.io_manager if isinstance(node, AssetDef) else None,
                "resources": list(node.resource_params) if isinstance(node, AssetDef) else [],
                "description": (node.description or "").strip().splitlines()[0] if node.description else "",
                "metadata": dict(node.metadata),
                "checks": [
                    {"name": c.name, "blocking": c.blocking, "code_version": ws.check_versions(key)[c.name]}
                    for c in ws.graph.checks.get(key, ())
                ],
                "partitions": None if node.partitions is None else extent(node.partitions, ws.now),
            }
        )
    return {"schema": "lakeplan.assets/v1", "assets": rows}


def check_results(ws: Workspace, statuses: Sequence[AssetStatus]) -> dict[str, list[dict[str, Any]]]:
    """The newest result of each check on each shown asset's current version (assets with checks only)."""
    checked = [s for s in statuses if ws.checks_of(s.key)]
    versions = {s.key: s.data_version for s in checked if s.data_version}
    recorded = ws.store.check_results(versions) if versions else {}
    return {
        s.key: latest_results(ws.checks_of(s.key), ws.check_versions(s.key), recorded.get(s.key, ())) for s in checked
    }


def partition_checks(
    ws: Workspace, statuses: Sequence[AssetStatus], results: dict[str, list[dict[str, Any]]]
) -> dict[str, list[AcrossPartitions]]:
    """Per partitioned asset with checks: each check summed over its partitions that have a current version
    (``results``: ``check_results`` of the partitions' statuses)."""
    by_asset: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for s in statuses:
        where = ws.instance(s.key)
        if where.partition is not None and s.data_version and s.key in results:
            by_asset.setdefault(where.asset, {})[where.partition] = results[s.key]
    return {
        asset: across_partitions(ws.graph.checks[asset], found, ws.partition_order(asset))
        for asset, found in by_asset.items()
    }


def plan_report(ws: Workspace, result: Plan, only_stale: bool = False) -> dict[str, Any]:
    """The plan as JSON (schema lakeplan.plan/v1): each asset's status, causes, time limit and checks; for a
    partitioned project every partition with its asset and partition key, and a summary per asset."""
    statuses = [s for s in result.statuses if s.stale or not only_stale]
    data = result.to_json()
    if ws.partitioned:
        checks = check_results(ws, list(result.statuses))
        across = partition_checks(ws, list(result.statuses), checks)
        data["assets"] = [
            {
                **s.to_json(),
                "asset": ws.instance(s.key).asset,
                "partition": ws.instance(s.key).partition,
                **({"checks": checks[s.key]} if s.key in checks else {}),
            }
            for s in statuses
        ]
        data["summary"] = [
            {**s.to_json(), **({"checks": [c.to_json() for c in across[s.asset]]} if s.asset in across else {})}
            for s in summarise(result.statuses, ws.instance, ws.partition_order)
        ]
        return data
    checks = check_results(ws, statuses)
    data["assets"] = [
        {
            **s.to_json(),
            "timeout_seconds": timeout_of(ws, s.key),
            **({"checks": checks[s.key]} if s.key in checks else {}),
        }
        for s in statuses
    ]
    return data


def code_version_report(ws: Workspace, key: str) -> dict[str, Any]:
    """What asset ``key``'s code version is made of, part by part, and its time limit
    (schema lakeplan.code-version/v1)."""
    if key not in ws.graph.assets:  # the code version is per asset, so a partitioned one is named bare
        check_asset(ws, key)
    code = ws.code_version(key)
    parts = [{"name": p.name, "kind": p.kind, "hash": p.digest, "reason": p.reason} for p in code.parts]
    return {
        "schema": "lakeplan.code-version/v1",
        "asset": key,
        "code_version": code.version,
        "explicit": not code.parts,
        "parts": parts,
        "timeout_seconds": timeout_of(ws, key),
    }


def with_checks(data: dict[str, Any], checks: Sequence[CheckRecord]) -> dict[str, Any]:
    """A materialization's JSON with the check results recorded against it (oldest first)."""
    return {**data, "checks": [c.to_json() for c in checks]}


@dataclass(frozen=True)
class AssetHistory:
    """Every recorded materialization of one asset (or partition), newest first, with the check results
    recorded on each and which ones kept printed output."""

    key: str
    removed: bool  # no longer declared in the code
    materializations: list[Materialization]
    head_id: int | None
    checks: dict[int, list[CheckRecord]]
    printed: set[int]
    declared_metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.history/v1."""
        return {
            "schema": "lakeplan.history/v1",
            "asset": self.key,
            "removed": self.removed,
            "head": self.head_id,
            "declared_metadata": self.declared_metadata,
            "materializations": [
                {
                    **with_checks(materialization_json(m), self.checks.get(m.id or 0, [])),
                    "printed": m.id in self.printed,
                }
                for m in self.materializations
            ],
        }


def read_history(ws: Workspace, key: str, limit: int | None = None) -> AssetHistory:
    """The history of recorded key ``key`` (an asset, a partition of one, or a removed asset)."""
    removed = audited(ws, key)
    history = ws.store.history(key, limit)
    head = ws.store.heads([key]).get(key)
    ids = [m.id for m in history if m.id is not None]
    declared = {} if removed else dict(ws.graph.nodes[ws.instance(key).asset].metadata)
    return AssetHistory(
        key, removed, history, head.id if head else None, ws.store.checks_of(ids), ws.store.printed(ids), declared
    )


@dataclass(frozen=True)
class AssetLogs:
    """What an asset's code printed: its newest attempt that ran, or its attempts in one run (in order)."""

    key: str
    removed: bool
    run_id: str | None
    attempts: list[Materialization]

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.logs/v1: each attempt's record with its log."""
        shown = [{**materialization_json(m), "log": m.log} for m in self.attempts]
        return {
            "schema": "lakeplan.logs/v1",
            "asset": self.key,
            "removed": self.removed,
            "run_id": self.run_id,
            "attempts": shown,
        }


def read_logs(ws: Workspace, key: str, run: str | None = None) -> AssetLogs:
    """The attempts of ``key`` in run ``run`` (id, prefix, ``latest``), else its newest one; none is an error."""
    removed = audited(ws, key)
    run_id = named_run(ws, run).run_id if run else None
    attempts = ws.store.attempts(key, run_id, limit=None if run_id else 1)[::-1]  # a run's in order
    if not attempts:
        where = f"in run {run_id}" if run_id else "recorded"
        raise NoLog(
            f"{key!r} has no attempt {where} that ran its code (built or failed); "
            f"'lakeplan history {key}' lists its materializations and their runs"
        )
    return AssetLogs(key, removed, run_id, attempts)


@dataclass(frozen=True)
class Lineage:
    """The recorded provenance of one version: what it was built from, or what was built from it."""

    tree: LineageNode
    downstream: bool
    removed: frozenset[str]  # keys in the tree today's code no longer declares

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.lineage/v1."""
        return {
            "schema": "lakeplan.lineage/v1",
            "direction": "downstream" if self.downstream else "upstream",
            "tree": self.tree.to_json(self.removed),
        }


def _keys(node: LineageNode) -> set[str]:
    return {node.key}.union(*(_keys(c) for c in node.children))


def read_lineage(
    ws: Workspace, key: str, version: str = "", downstream: bool = False, depth: int | None = None
) -> Lineage:
    """The lineage of ``key``'s version ``version`` (data-version prefix or id; default: its current one),
    ``depth`` levels deep at most (default: all)."""
    audited(ws, key)
    history = ws.store.history(key)
    if version:
        root = resolve_version(key, history, version)
    else:
        head = ws.store.heads([key]).get(key)
        if head is None:
            raise UnknownAsset(f"{key!r} was never materialized; run 'lakeplan materialize --select +{key}' first")
        root = next(m for m in history if m.id == head.id)
    if downstream:  # what was built from it, as recorded: today's graph may have dropped edges
        histories = ws.store.histories()
        tree = downstream_lineage(key, root.data_version or "", root, recorded_downstream(histories), histories, depth)
    else:
        tree = upstream_lineage(root, ws.store.histories(), depth)  # recorded inputs, even removed ones
    return Lineage(tree, downstream, frozenset(k for k in _keys(tree) if k not in ws.planned.nodes))


def check_diffs(ws: Workspace, diffs: Sequence[AssetDiff]) -> dict[str, CheckChanges]:
    """For each asset diff, the checks whose results differ between its A and B versions."""
    sides = [m.id for d in diffs for m in (d.old, d.new) if m is not None and m.id is not None]
    recorded = ws.store.checks_of(sides) if sides and ws.graph.checks else {}

    def of(mat: Materialization | None) -> list[CheckRecord]:
        return recorded.get(mat.id, []) if mat is not None and mat.id is not None else []

    return {d.key: check_changes(of(d.old), of(d.new)) for d in diffs}


@dataclass(frozen=True)
class AssetComparison:
    """Two versions of one asset compared: code, inputs, data, metadata and check results."""

    diff: AssetDiff
    checks: CheckChanges

    def to_json(self) -> dict[str, Any]:
        """Schema lakeplan.diff/v1 for one asset."""
        return {"schema": "lakeplan.diff/v1", **asset_diff_json(self.diff), "checks": self.checks}


def _asset_side(runs: list[RunRecord], spec: str, key: str, history: list[Materialization]) -> Materialization | None:
    """The version ``spec`` names (id or data prefix), else the one current after run ``spec``."""
    try:
        return resolve_version(key, history, spec)
    except VersionError:
        run = resolve_run(runs, spec)
        if run is None:
            raise
    histories = {key: history}
    return versions_as_of(histories, last_id(run, histories)).get(key)


def compare_versions(ws: Workspace, key: str, a: str, b: str) -> AssetComparison:
    """Compare the versions of recorded key ``key`` that ``a`` and ``b`` name (version ids, data-version
    prefixes, or runs: the version current after each)."""
    gone = audited(ws, key)
    runs = ws.store.runs()
    history = ws.store.history(key)
    old, new = (_asset_side(runs, spec, key, history) for spec in (a, b))
    diff = diff_assets(key, old, new, gone)
    return AssetComparison(diff, check_diffs(ws, [diff])[key])

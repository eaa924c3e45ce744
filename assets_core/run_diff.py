"""What changed between two runs, or two versions of one asset (pure: the caller loads the records).

For each asset: its code version (and, with auto versions, which functions changed), its input data
versions, its own data version and its metadata (row count, columns added/removed/retyped, numeric
metrics such as an evaluation score). For runs also: package versions, Python/platform, git commit,
container image and configuration. A run is compared by the versions current when it finished.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .lineage import VersionError, successful
from .records import Materialization, RunRecord

BOOKKEEPING = frozenset({"attempts", "restored_from", "rolled_back_to"})  # metadata that is not about the data
_ENVIRONMENT_FIELDS = ("python", "implementation", "platform", "image", "host")

Change = tuple[Any, Any]


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Change]:
    """Keys whose value differs (missing on one side shows as None), sorted."""
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class MetadataDiff:
    """Row count, schema and metric changes between two materializations' metadata."""

    rows: Change | None = None
    columns_added: dict[str, str] = field(default_factory=dict)
    columns_removed: dict[str, str] = field(default_factory=dict)
    columns_retyped: dict[str, Change] = field(default_factory=dict)
    metrics: dict[str, Change] = field(default_factory=dict)  # numeric values
    other: dict[str, Change] = field(default_factory=dict)  # anything else that changed

    def __bool__(self) -> bool:
        return bool(
            self.rows
            or self.columns_added
            or self.columns_removed
            or self.columns_retyped
            or self.metrics
            or self.other
        )


def diff_metadata(old: Mapping[str, Any], new: Mapping[str, Any]) -> MetadataDiff:
    old_cols: Mapping[str, str] = old.get("columns") or {}
    new_cols: Mapping[str, str] = new.get("columns") or {}
    rows = (old.get("rows"), new.get("rows")) if old.get("rows") != new.get("rows") else None
    metrics: dict[str, Change] = {}
    other: dict[str, Change] = {}
    for key, change in changed_keys(old, new).items():
        if key in BOOKKEEPING or key in ("rows", "columns"):
            continue
        a, b = change
        is_metric = (a is None or _number(a) is not None) and (b is None or _number(b) is not None)
        (metrics if is_metric else other)[key] = change
    return MetadataDiff(
        rows=rows,
        columns_added={c: t for c, t in new_cols.items() if c not in old_cols},
        columns_removed={c: t for c, t in old_cols.items() if c not in new_cols},
        columns_retyped={c: (old_cols[c], t) for c, t in new_cols.items() if c in old_cols and old_cols[c] != t},
        metrics=metrics,
        other=other,
    )


@dataclass(frozen=True, slots=True)
class AssetDiff:
    """How one asset's version in B differs from its version in A (None on a side: no version there)."""

    key: str
    old: Materialization | None
    new: Materialization | None
    removed: bool = False  # today's code no longer declares the asset
    code: Change | None = None
    functions: dict[str, str] = field(default_factory=dict)  # "module.qualname" -> added|removed|changed
    inputs: dict[str, Change] = field(default_factory=dict)
    data: Change | None = None
    metadata: MetadataDiff = field(default_factory=MetadataDiff)

    @property
    def changed(self) -> bool:
        return bool(self.code or self.inputs or self.data or self.metadata) or (self.old is None) != (self.new is None)

    @property
    def status(self) -> str:
        """'removed' (no longer in the code), 'added' (no version on the A side), 'absent' (none on the B
        side: B is the earlier one) or 'changed'."""
        if self.removed:
            return "removed"
        if self.old is None:
            return "added"
        return "absent" if self.new is None else "changed"


def changed_functions(old: Mapping[str, str], new: Mapping[str, str]) -> dict[str, str]:
    """Which functions/classes/constants of the user's code differ between two ``code_components`` maps."""
    return {
        name: "added" if name not in old else "removed" if name not in new else "changed"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def diff_assets(key: str, old: Materialization | None, new: Materialization | None, removed: bool = False) -> AssetDiff:
    if old is None or new is None:
        return AssetDiff(key, old, new, removed)
    code = (old.code_version, new.code_version) if old.code_version != new.code_version else None
    data = (old.data_version, new.data_version) if old.data_version != new.data_version else None
    return AssetDiff(
        key,
        old,
        new,
        removed,
        code=code,
        functions=changed_functions(old.code_components, new.code_components) if code else {},
        inputs=changed_keys(old.input_versions, new.input_versions),
        data=data,
        metadata=diff_metadata(old.metadata, new.metadata),
    )


def last_id(run: RunRecord, histories: Mapping[str, Sequence[Materialization]]) -> int:
    """The newest record id written by ``run``; for a run that wrote none, the newest one before it ended."""
    mats = [m for history in histories.values() for m in history]
    own = [m.id or 0 for m in mats if m.run_id == run.run_id]
    if own:
        return max(own)
    ended = run.finished_at or run.started_at
    return max((m.id or 0 for m in mats if m.finished_at <= ended), default=0)


_LATEST = re.compile(r"latest(?:~(\d+))?")


def resolve_run(runs: Sequence[RunRecord], spec: str) -> RunRecord | None:
    """The run whose id is ``spec`` or starts with it (None when none does); ambiguity is an error.

    ``latest`` is the newest run and ``latest~N`` the one N runs before it (``runs`` is newest first).
    """
    relative = _LATEST.fullmatch(spec)
    if relative:
        back = int(relative.group(1) or 0)
        return runs[back] if back < len(runs) else None
    exact = [r for r in runs if r.run_id == spec]
    matches = exact or [r for r in runs if r.run_id.startswith(spec)]
    if len(matches) > 1:
        shown = ", ".join(r.run_id for r in matches[:4])
        raise VersionError(f"run {spec!r} is ambiguous ({shown}); give more characters")
    return matches[0] if matches else None


def versions_as_of(histories: Mapping[str, Sequence[Materialization]], upto_id: int) -> dict[str, Materialization]:
    """Each asset's current version right after record ``upto_id``: its newest successful record up to it."""
    current: dict[str, Materialization] = {}
    for key, history in histories.items():
        for mat in successful(history):  # newest first
            if (mat.id or 0) <= upto_id:
                current[key] = mat
                break
    return current


@dataclass(frozen=True, slots=True)
class RunDiff:
    """Everything that differs between run A and run B."""

    run_a: RunRecord
    run_b: RunRecord
    environment: dict[str, Change]
    git: dict[str, Change]
    packages: dict[str, Change]
    config: dict[str, Change]
    assets: tuple[AssetDiff, ...]  # those that differ, and every removed one that had a version
    unchanged: tuple[str, ...] = ()  # assets still in the code with the same version on both sides


def diff_runs(
    run_a: RunRecord,
    run_b: RunRecord,
    histories: Mapping[str, Sequence[Materialization]],
    last_a: int,
    last_b: int,
    order: Sequence[str] = (),
    removed: Collection[str] = (),
) -> RunDiff:
    """Compare environments and the asset versions current after each run (``last_*`` from ``last_id``);
    assets come in ``order`` (e.g. the graph's), any others after it, sorted. Assets in ``removed`` (no
    longer in the code) are marked so and always listed."""
    env_a, env_b = run_a.environment, run_b.environment
    before, after = versions_as_of(histories, last_a), versions_as_of(histories, last_b)
    position = {key: i for i, key in enumerate(order)}
    keys = sorted(set(before) | set(after), key=lambda k: (position.get(k, len(position)), k))
    diffs = [diff_assets(key, before.get(key), after.get(key), key in removed) for key in keys]
    assets = tuple(d for d in diffs if d.changed or d.removed)
    unchanged = tuple(d.key for d in diffs if not (d.changed or d.removed))
    config = changed_keys(
        {**(env_a.get("config") or {}), "selection": run_a.selection},
        {
            **(env_b.get("config") or {}),
            "selection": run_b.selection,
        },
    )
    return RunDiff(
        run_a,
        run_b,
        environment=changed_keys(
            {k: env_a.get(k) for k in _ENVIRONMENT_FIELDS}, {k: env_b.get(k) for k in _ENVIRONMENT_FIELDS}
        ),
        git=changed_keys(env_a.get("git") or {}, env_b.get("git") or {}),
        packages=changed_keys(env_a.get("packages") or {}, env_b.get("packages") or {}),
        config=config,
        assets=assets,
        unchanged=unchanged,
    )


def _change_json(change: Change | None) -> dict[str, Any] | None:
    return None if change is None else {"old": change[0], "new": change[1]}


def _changes_json(changes: Mapping[str, Change]) -> dict[str, Any]:
    return {k: _change_json(v) for k, v in changes.items()}


def asset_diff_json(diff: AssetDiff) -> dict[str, Any]:
    meta = diff.metadata
    return {
        "asset": diff.key,
        "status": diff.status,
        "old_id": diff.old.id if diff.old else None,
        "new_id": diff.new.id if diff.new else None,
        "code_version": _change_json(diff.code),
        "functions": diff.functions,
        "inputs": _changes_json(diff.inputs),
        "data_version": _change_json(diff.data),
        "metadata": {
            "rows": _change_json(meta.rows),
            "columns_added": meta.columns_added,
            "columns_removed": meta.columns_removed,
            "columns_retyped": _changes_json(meta.columns_retyped),
            "metrics": _changes_json(meta.metrics),
            "other": _changes_json(meta.other),
        },
    }


def run_diff_json(diff: RunDiff) -> dict[str, Any]:
    return {
        "schema": "lakeplan.diff/v1",
        "run_a": diff.run_a.run_id,
        "run_b": diff.run_b.run_id,
        "environment": _changes_json(diff.environment),
        "git": _changes_json(diff.git),
        "packages": _changes_json(diff.packages),
        "config": _changes_json(diff.config),
        "assets": [asset_diff_json(d) for d in diff.assets],
        "unchanged": list(diff.unchanged),
    }

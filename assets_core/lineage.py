"""Provenance walks over recorded materializations (pure: the caller loads the records).

Upstream: which exact versions of which inputs built an asset version, recursively. Downstream: which
versions of which assets were built from it, recursively. Versions are named like git names commits:
by a unique prefix of the data version, or by a materialization id.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import LakeplanError
from .records import Materialization, MaterializationKind


class VersionError(LakeplanError):
    """A version named on the command line matches no recorded version, or more than one."""


def iso_time(timestamp: float) -> str:
    """``2026-11-21 09:30:00Z`` (UTC, seconds)."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(timestamp))


def materialization_json(mat: Materialization) -> dict[str, Any]:
    """A materialization as history, lineage and the HTML view show it."""
    return {
        "id": mat.id,
        "asset": mat.asset_key,
        "kind": mat.kind.value,
        "run_id": mat.run_id,
        "finished_at": iso_time(mat.finished_at),
        "seconds": round(mat.finished_at - mat.started_at, 3),
        "code_version": mat.code_version,
        "data_version": mat.data_version,
        "input_versions": mat.input_versions,
        "location": mat.location,
        "metadata": mat.metadata,
        "error": mat.error,
        "traceback": mat.traceback,
    }


def successful(history: Sequence[Materialization]) -> list[Materialization]:
    return [m for m in history if m.kind is not MaterializationKind.FAILED and m.data_version]


def resolve_version(key: str, history: Sequence[Materialization], spec: str) -> Materialization:
    """The materialization ``spec`` names: an id, or a unique data-version prefix (the newest record of it)."""
    candidates = successful(history)
    if spec.isdigit():
        by_id = [m for m in candidates if m.id == int(spec)]
        if by_id:
            return by_id[0]
    matches = [m for m in candidates if m.data_version and m.data_version.startswith(spec.lower())]
    versions = sorted({m.data_version for m in matches if m.data_version})
    if not versions:
        raise VersionError(
            f"{key!r} has no recorded version {spec!r}; run 'lakeplan history {key}' to list its versions"
        )
    if len(versions) > 1:
        shown = ", ".join(v[:12] for v in versions[:4])
        raise VersionError(f"version {spec!r} of {key!r} is ambiguous ({shown}); give more characters")
    return matches[0]  # history is newest first


def producer(history: Sequence[Materialization], data_version: str) -> Materialization | None:
    """The record that first produced ``data_version`` (its BUILT one when there is one)."""
    same = [m for m in successful(history) if m.data_version == data_version]
    built = [m for m in same if m.kind is MaterializationKind.BUILT]
    chosen = built or same
    return min(chosen, key=lambda m: m.id or 0) if chosen else None


@dataclass(frozen=True, slots=True)
class LineageNode:
    """One asset version in a lineage tree; ``materialization`` is None for sources and unrecorded inputs."""

    key: str
    data_version: str
    materialization: Materialization | None
    children: tuple[LineageNode, ...] = ()

    def to_json(self, removed: Collection[str] = ()) -> dict[str, Any]:
        """The tree as JSON; ``removed`` names the keys today's code no longer declares."""
        mat = self.materialization
        return {
            "asset": self.key,
            "removed": self.key in removed,
            "data_version": self.data_version,
            "materialization": None if mat is None else materialization_json(mat),
            "children": [c.to_json(removed) for c in self.children],
        }


def upstream_lineage(
    root: Materialization, histories: Mapping[str, Sequence[Materialization]], depth: int | None = None
) -> LineageNode:
    """The inputs ``root`` was built from, each resolved to the record that produced that exact version;
    ``depth`` levels of them at most (a tree repeats shared inputs, so a deep graph's is huge)."""

    def walk(mat: Materialization, level: int) -> tuple[LineageNode, ...]:
        if depth is not None and level >= depth:
            return ()
        nodes = []
        for key, version in sorted(mat.input_versions.items()):
            made = producer(histories.get(key, ()), version)
            nodes.append(LineageNode(key, version, made, walk(made, level + 1) if made else ()))
        return tuple(nodes)

    return LineageNode(root.asset_key, root.data_version or "", root, walk(root, 0))


def downstream_lineage(
    key: str,
    data_version: str,
    root: Materialization | None,
    downstream: Mapping[str, Sequence[str]],
    histories: Mapping[str, Sequence[Materialization]],
    depth: int | None = None,
) -> LineageNode:
    """Every recorded version of every downstream asset built from ``key`` at ``data_version``, recursively
    (``depth`` levels at most).

    ``downstream`` maps a key to the keys that read it (from the graph); one node per distinct version.
    """

    def walk(up: str, version: str, level: int = 0) -> tuple[LineageNode, ...]:
        if depth is not None and level >= depth:
            return ()
        nodes = []
        for child in downstream.get(up, ()):
            built_from = [m for m in successful(histories.get(child, ())) if m.input_versions.get(up) == version]
            for child_version in sorted({m.data_version for m in built_from if m.data_version}):
                made = producer(built_from, child_version)
                nodes.append(LineageNode(child, child_version, made, walk(child, child_version, level + 1)))
        return tuple(nodes)

    return LineageNode(key, data_version, root, walk(key, data_version))


def recorded_downstream(histories: Mapping[str, Sequence[Materialization]]) -> dict[str, tuple[str, ...]]:
    """Which assets were ever built from each asset, from the recorded input versions (so assets since
    removed from the code, or edges since changed, still count)."""
    readers: dict[str, set[str]] = {}
    for key, history in histories.items():
        for mat in history:
            for up in mat.input_versions:
                readers.setdefault(up, set()).add(key)
    return {up: tuple(sorted(keys)) for up, keys in readers.items()}

"""A plan per asset rather than per partition: how many of its partitions are stale, as ranges of keys,
and why (each kind of cause with the number of partitions it applies to), so a plan of 10k partitions
stays a screenful. Pure: the statuses, which asset and partition each key is, and the partition order.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .partition_graph import Instance
from .planner import AssetStatus, CauseKind, Plan, StaleCause


@dataclass(frozen=True, slots=True)
class AssetSummary:
    """One asset of a plan: ``planned`` of its partitions were planned, ``stale`` of them (in order) stale."""

    asset: str
    partitioned: bool
    planned: int
    stale: tuple[str, ...]
    waiting: int
    causes: tuple[tuple[CauseKind, str, int], ...]  # (kind, reason, how many partitions), most frequent first
    ranges: tuple[str, ...]  # the stale keys as 'first..last' runs of consecutive partitions
    code_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "partitioned": self.partitioned,
            "planned": self.planned,
            "stale": len(self.stale),
            "stale_ranges": list(self.ranges),
            "waiting": self.waiting,
            "causes": [{"kind": k.value, "reason": r, "partitions": n} for k, r, n in self.causes],
        }


def reason(cause: StaleCause, instance: Callable[[str], Instance]) -> tuple[CauseKind, str]:
    """A cause without what varies between partitions (versions, partition keys, locations)."""
    if cause.kind is CauseKind.UPSTREAM and cause.input is not None:
        return cause.kind, f"{instance(cause.input).asset!r} is stale"
    if cause.kind is CauseKind.DATA and cause.input is not None:
        return cause.kind, f"{instance(cause.input).asset!r} changed"
    if cause.kind is CauseKind.MISSING:
        return cause.kind, cause.message.split(":")[0]
    return cause.kind, cause.message


def runs(keys: Iterable[str], order: Mapping[str, int]) -> tuple[str, ...]:
    """``keys`` as runs of consecutive partitions: ``('2026-01-01..2026-01-07', '2026-03-02')``."""
    found: list[list[str]] = []
    last = -2
    for key in sorted(keys, key=order.__getitem__):
        position = order[key]
        if position == last + 1 and found:
            found[-1][1] = key
        else:
            found.append([key, key])
        last = position
    return tuple(first if first == end else f"{first}..{end}" for first, end in found)


def summarise(
    statuses: Sequence[AssetStatus],
    instance: Callable[[str], Instance],
    order_of: Callable[[str], Mapping[str, int]],
) -> list[AssetSummary]:
    """Per asset, in plan order; ``order_of(asset)`` gives each of its partition keys' position."""
    grouped: dict[str, list[AssetStatus]] = {}
    for status in statuses:
        grouped.setdefault(instance(status.key).asset, []).append(status)
    summaries = []
    for asset, group in grouped.items():
        partitioned = instance(group[0].key).partition is not None
        stale = [s for s in group if s.causes]
        keys = tuple(p for s in stale if (p := instance(s.key).partition) is not None)
        counted = Counter(r for s in stale for r in dict.fromkeys(reason(c, instance) for c in s.causes))
        summaries.append(
            AssetSummary(
                asset,
                partitioned,
                len(group),
                keys,
                sum(1 for s in group if s.waiting_on),
                tuple((kind, text, n) for (kind, text), n in counted.most_common()),
                runs(keys, order_of(asset)) if partitioned else (),
                group[0].code_version,
            )
        )
    return summaries


def per_asset(
    statuses: Sequence[AssetStatus], summaries: Sequence[AssetSummary], instance: Callable[[str], Instance]
) -> Plan:
    """One status per asset (for the graph and HTML views): a partitioned asset is stale when any of its
    partitions is, each kind of cause saying in how many; an unpartitioned one keeps its own status, its
    causes about partitions of an upstream folded into one per upstream and kind (a model over 10k days)."""
    own = {s.key: s for s in statuses}
    folded = []
    for summary in summaries:
        if summary.partitioned:
            causes = tuple(StaleCause(k, f"{r} in {n} of {summary.planned} partitions") for k, r, n in summary.causes)
            folded.append(AssetStatus(summary.asset, causes, summary.code_version, None))
            continue
        status = own[summary.asset]
        whole = [c for c in status.causes if c.input is None or instance(c.input).partition is None]
        counted = Counter(reason(c, instance) for c in status.causes if c not in whole)
        if counted:
            parts = tuple(StaleCause(k, f"{r} in {n} partitions" if n > 1 else r) for (k, r), n in counted.items())
            status = dataclasses.replace(status, causes=(*whole, *parts))
        folded.append(status)
    return Plan(tuple(folded))


def strips(
    statuses: Sequence[AssetStatus], instance: Callable[[str], Instance]
) -> dict[str, list[tuple[str, str, str]]]:
    """Per partitioned asset, each planned partition (in order) with its drawn state (missing, stale or
    fresh) and why, its first cause without what varies between partitions (the HTML view's strip)."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for status in statuses:
        where = instance(status.key)
        if where.partition is None:
            continue
        missing = any(c.kind is CauseKind.MISSING for c in status.causes)
        state = "missing" if missing else "stale" if status.causes else "fresh"
        kind, text = reason(status.causes[0], instance) if status.causes else (None, "")
        found.setdefault(where.asset, []).append((where.partition, state, f"{kind.value}: {text}" if kind else ""))
    return found

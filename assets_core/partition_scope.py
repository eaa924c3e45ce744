"""Which partitions a command means: ``--partition KEY`` or ``--from A --to B`` over the selected assets.

The chosen partitions of every selected asset that has them, plus the selected instances downstream of
those whose asset has none of them (an unpartitioned model, a monthly roll-up of daily data): a backfill
builds exactly the range, and what reads it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from .errors import SelectionError
from .partition_graph import PartitionGraph
from .partitions import SEPARATOR, AnyPartitions, MultiPartitions, extent, positions


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """From ``first`` to ``last`` (inclusive, in partition order; None: from the first / to the last
    partition); one partition when they are equal."""

    first: str | None
    last: str | None

    @classmethod
    def one(cls, key: str) -> PartitionRange:
        return cls(key, key)


def keys_in_range(partitions: AnyPartitions, wanted: PartitionRange, now: dt.datetime) -> frozenset[str] | None:
    """The partition keys of ``partitions`` within ``wanted`` (for two dimensions, ends that are values of one
    dimension choose every key whose value there is within them), or None when they name none of its keys."""
    found = _between(partitions, wanted, now)
    if found is not None or not isinstance(partitions, MultiPartitions):
        return found
    for index, (_, dimension) in enumerate(partitions.dimensions):
        inner = _between(dimension, wanted, now)
        if inner is not None:
            return frozenset(k for k in partitions.keys(now) if k.split(SEPARATOR)[index] in inner)
    return None


def _between(partitions: AnyPartitions, wanted: PartitionRange, now: dt.datetime) -> frozenset[str] | None:
    where, keys = positions(partitions, now), partitions.keys(now)
    start = 0 if wanted.first is None else where.get(wanted.first)
    end = len(keys) - 1 if wanted.last is None else where.get(wanted.last)
    if start is None or end is None:
        return None
    if start > end and wanted.first is not None and wanted.last is not None:
        raise SelectionError(f"--from {wanted.first} comes after --to {wanted.last}; swap them")
    return frozenset(keys[start : end + 1])


def scope(
    expanded: PartitionGraph,
    definitions: dict[str, AnyPartitions | None],
    selected: Collection[str],
    wanted: PartitionRange,
    now: dt.datetime,
) -> frozenset[str]:
    """The instance keys ``wanted`` chooses among the ``selected`` assets (see the module docstring).

    Raises SelectionError (one line) when no selected asset is partitioned, or none has those partitions.
    """
    partitioned = {k: p for k in sorted(selected) if (p := definitions.get(k)) is not None}
    if not partitioned:
        raise SelectionError(
            "--partition/--from/--to given, but no selected asset is partitioned; drop them or select a "
            "partitioned asset"
        )
    chosen_by_asset: dict[str, frozenset[str]] = {}
    for key, partitions in partitioned.items():
        keys = keys_in_range(partitions, wanted, now)
        if keys is not None:
            chosen_by_asset[key] = keys
    if not chosen_by_asset:
        sample, partitions = next(iter(partitioned.items()))
        known = positions(partitions, now)
        unknown = next((k for k in (wanted.first, wanted.last) if k is not None and k not in known), wanted.first)
        raise SelectionError(
            f"unknown partition key {unknown!r} for the selected assets; {sample!r} has {extent(partitions, now)}"
        )
    instances = expanded.instances
    roots = [
        k
        for k, inst in instances.items()
        if inst.asset in chosen_by_asset and inst.partition in chosen_by_asset[inst.asset]
    ]
    below = expanded.graph.descendants(roots)
    extra = (k for k in below if instances[k].asset in selected and instances[k].asset not in chosen_by_asset)
    return frozenset([*roots, *extra])


def instances_of(expanded: PartitionGraph, assets: Iterable[str]) -> frozenset[str]:
    """Every instance key of ``assets`` (their own keys when the graph has no partitions: a frozenset given is
    returned as it is, not copied)."""
    if not expanded.instances:
        return frozenset(assets)
    wanted = set(assets)
    return frozenset(k for k, inst in expanded.instances.items() if inst.asset in wanted)

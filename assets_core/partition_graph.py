"""The partition graph: one node per (asset, partition), with the edges the partition mappings give.

The planner works on it unchanged, so versions, staleness, early cutoff and restore are per partition.
An unpartitioned asset keeps its own key; a partition of an asset is keyed ``ASSET/partition=KEY``
(``ASSET/date=.../region=...`` for two dimensions), which is also the folder its outputs are stored in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .bulk import collector_paused
from .definitions import AssetDef
from .graph import AssetGraph, Node
from .partitions import (
    SEPARATOR,
    AllPartitions,
    AnyPartitions,
    Identity,
    MultiPartitions,
    PartitionMapping,
    Window,
    positions,
)


@dataclass(frozen=True, slots=True)
class Instance:
    """One node of the partition graph: an asset, and which of its partitions (None: unpartitioned)."""

    asset: str
    partition: str | None


@dataclass(frozen=True, slots=True)
class PartitionGraph:
    """The expanded graph (for the planner and executors) and what each of its keys stands for."""

    graph: AssetGraph
    instances: Mapping[str, Instance]


def instance_key(asset: str, partition: str | None, partitions: AnyPartitions | None) -> str:
    """The key of one partition of ``asset``: also its storage folder."""
    if partition is None or partitions is None:
        return asset
    if isinstance(partitions, MultiPartitions):
        values = partition.split(SEPARATOR)
        return "/".join(
            [asset, *(f"{name}={value}" for (name, _), value in zip(partitions.dimensions, values, strict=True))]
        )
    return f"{asset}/partition={partition}"


def expand(graph: AssetGraph, now: dt.datetime) -> PartitionGraph:
    """The partition graph of ``graph`` at ``now`` (time partitions grow with it). Linear in its edges."""
    with collector_paused():  # hundreds of thousands of keys, tuples and records, none in a cycle
        return _expand(graph, now)


def _expand(graph: AssetGraph, now: dt.datetime) -> PartitionGraph:
    nodes: dict[str, Node] = {}
    instances: dict[str, Instance] = {}
    upstream: dict[str, tuple[str, ...]] = {}
    keys_of: dict[str, tuple[str, ...]] = {}  # asset -> its instance keys, in partition order
    for key in graph.order:
        node = graph.nodes[key]
        partitions = node.partitions
        partition_keys: tuple[str | None, ...] = (None,) if partitions is None else partitions.keys(now)
        own = tuple(instance_key(key, p, partitions) for p in partition_keys)
        keys_of[key] = own
        for inst, partition in zip(own, partition_keys, strict=True):
            nodes[inst] = node
            instances[inst] = Instance(key, partition)
        reads = [_reads(node, up, graph.nodes[up], own, partition_keys, keys_of[up], now) for up in graph.upstream[key]]
        for position, inst in enumerate(own):
            upstream[inst] = tuple(k for edges in reads for k in edges[position])
    downstream: dict[str, list[str]] = {k: [] for k in nodes}
    for inst, ups in upstream.items():
        for up in ups:
            downstream[up].append(inst)
    order = tuple(k for key in graph.order for k in keys_of[key])
    expanded = AssetGraph(nodes, upstream, {k: tuple(v) for k, v in downstream.items()}, order)
    return PartitionGraph(expanded, instances)


def _reads(
    node: Node,
    up: str,
    up_node: Node,
    own: tuple[str, ...],
    partition_keys: tuple[str | None, ...],
    up_keys: tuple[str, ...],
    now: dt.datetime,
) -> list[tuple[str, ...]]:
    """For each of ``node``'s instances, the instance keys of upstream ``up`` it reads."""
    down_parts, up_parts = node.partitions, up_node.partitions
    if up_parts is None:
        return [up_keys] * len(own)  # an unpartitioned upstream: its one value
    mapping = _mapping(node, up, down_parts)
    if isinstance(mapping, AllPartitions) or down_parts is None:
        return [up_keys] * len(own)  # one shared tuple: fan-in costs no copies
    if isinstance(mapping, Identity) and down_parts == up_parts:
        return [(k,) for k in up_keys]
    if isinstance(mapping, Window) and down_parts == up_parts:
        size = mapping.size
        return [up_keys[max(0, i - size + 1) : i + 1] for i in range(len(up_keys))]
    index = positions(up_parts, now)
    return [
        tuple(up_keys[index[k]] for k in mapping.upstream_keys(p, down_parts, up_parts, now)) for p in partition_keys
    ]


def _mapping(node: Node, up: str, down_parts: AnyPartitions | None) -> PartitionMapping:
    declared = node.partition_mapping.get(up) if isinstance(node, AssetDef) else None
    if declared is not None:
        return declared
    return Identity() if down_parts is not None else AllPartitions()

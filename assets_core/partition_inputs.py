"""What one partition's step reads: its source partitions as plain sources (the path formatted for the
partition), and each parameter's upstream partitions as one value, a ``{partition key: value}`` dict or
one concatenated table, as the parameter's annotation asks.

An input is one value when exactly one upstream partition corresponds to the downstream's (the identity
mapping between equal definitions, or from a two-dimensional asset to one of its dimensions); any other
mapping (a window, all partitions, a custom mapping, an unpartitioned asset reading a partitioned one) gives
many: annotate the parameter ``dict[str, T]`` to get each by key, else they are concatenated in key order.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .definitions import AssetDef, SourceAsset
from .errors import StepFailed
from .graph import Node
from .partition_graph import Instance
from .partitions import SEPARATOR, Identity, MultiPartitions

PLACEHOLDER = "{partition}"


def bind_source(source: SourceAsset, instance_key: str, partition: str | None) -> SourceAsset:
    """One partition of a partitioned source as a source of its own: its key, and its path with
    ``{partition}`` (and ``{DIMENSION}`` of a two-dimensional source) filled in."""
    if partition is None or source.path is None:
        return dataclasses.replace(source, key=instance_key)
    text = str(source.path).replace(PLACEHOLDER, partition)
    if isinstance(source.partitions, MultiPartitions):
        values = partition.split(SEPARATOR)
        for (name, _), value in zip(source.partitions.dimensions, values, strict=True):
            text = text.replace("{" + name + "}", value)
    return dataclasses.replace(source, key=instance_key, path=Path(text))


def reads_one(asset: AssetDef, upstream: Node) -> bool:
    """Whether each partition of ``asset`` reads exactly one partition of ``upstream`` (or its one value)."""
    down, up = asset.partitions, upstream.partitions
    if up is None:
        return True
    if down is None or not isinstance(asset.partition_mapping.get(upstream.key, Identity()), Identity):
        return False
    return down == up or (isinstance(down, MultiPartitions) and any(d == up for _, d in down.dimensions))


def input_keys(upstream_keys: tuple[str, ...], instances: Mapping[str, Instance], asset: str) -> tuple[str, ...]:
    """Of one instance's upstream instance keys (in partition order), those of ``asset``."""
    if not instances:
        return (asset,)
    return tuple(k for k in upstream_keys if instances[k].asset == asset)


def part_annotation(annotation: object) -> object:
    """The annotation each upstream partition is read with: ``T`` of ``dict[str, T]``, else the annotation."""
    if _wants_dict(annotation):
        args = typing.get_args(annotation)
        return args[1] if len(args) == 2 else None
    return annotation


def _wants_dict(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    return annotation in (dict, Mapping) or origin in (dict, Mapping, typing.Mapping)


def combine(param: str, values: Mapping[str, Any], annotation: object) -> Any:
    """Many upstream partitions (``{partition key: value}`` in key order) as the parameter asks: the dict
    itself for ``dict[str, T]``, else one table (pandas, polars or pyarrow) or list, concatenated in order."""
    if _wants_dict(annotation):
        return dict(values)
    parts = list(values.values())
    if not parts:
        raise StepFailed(f"parameter {param!r} reads no upstream partitions (none exist yet)")
    first = parts[0]
    module = type(first).__module__.split(".")[0]
    if module == "pandas":
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    if module == "polars":
        import polars as pl

        return pl.concat(parts)
    if module == "pyarrow":
        import pyarrow as pa

        return pa.concat_tables(parts)
    if isinstance(first, list):
        return [item for part in parts for item in part]
    raise StepFailed(
        f"parameter {param!r} reads {len(parts)} upstream partitions of type {type(first).__name__}, which "
        "cannot be concatenated; annotate it dict[str, T] to receive them by partition key"
    )

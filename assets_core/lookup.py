"""What a command or the UI names, checked against the code and the store: an asset (declared, or only
recorded: removed), one partition of one, a run. A name that matches nothing is one line with the fix."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from .errors import LakeplanError
from .lineage import VersionError
from .partition_graph import instance_key
from .records import RunRecord
from .run_diff import resolve_run
from .workspace import Workspace


class UnknownAsset(LakeplanError):
    """A command names an asset the loaded definitions do not have."""


def declared(ws: Workspace, key: str) -> bool:
    """Whether ``key`` is an asset, or a partition of one, in today's code."""
    return key in ws.planned.nodes and ws.instance(key).asset in ws.graph.assets


def check_asset(ws: Workspace, key: str, recorded: Collection[str] = ()) -> None:
    """Refuse a key that is neither in the code nor in ``recorded``, suggesting the nearest of either."""
    if not declared(ws, key) and key not in recorded:
        node = ws.graph.nodes.get(key)
        if node is not None and node.partitions is not None:
            first = node.partitions.keys(ws.now)[:1] or ("KEY",)
            raise UnknownAsset(f"{key!r} is partitioned; name one partition with --partition {first[0]}")
        close = difflib.get_close_matches(key, [*ws.graph.assets, *recorded], n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run 'lakeplan plan' to list the assets"
        raise UnknownAsset(f"unknown asset {key!r}; {hint}")


def partition_key(ws: Workspace, key: str, partition: str | None) -> str:
    """The recorded key ``key --partition KEY`` names: ``ASSET/partition=KEY`` (for two dimensions,
    KEY is 'VALUE|VALUE', e.g. 2026-03-02|DE)."""
    if partition is None:
        return key
    node = ws.graph.nodes.get(key)
    if node is None or node.partitions is None:
        raise UnknownAsset(f"--partition given, but {key!r} is not a partitioned asset; drop --partition")
    return instance_key(key, partition, node.partitions)


def audited(ws: Workspace, key: str) -> bool:
    """Check an asset the audit commands may name: one in the code (False) or one that is only recorded,
    no longer in the code (True: removed)."""
    if declared(ws, key):
        return False
    check_asset(ws, key, ws.store.recorded_keys())
    return True


def named_run(ws: Workspace, spec: str) -> RunRecord:
    """The run ``spec`` names (id, unique prefix, ``latest``, ``latest~N``), or a one-line error."""
    run = resolve_run(ws.store.runs(), spec)
    if run is None:
        raise VersionError(f"no run {spec!r}; run 'lakeplan runs' to list them")
    return run

"""``lakeplan sync``: rebuild the metadata store's view (materializations and heads) from lakeFS history.

With lakeFS the commit log is the truth and the SQL store a cache: every lakeplan object a run commit
changed carries its full provenance as user metadata, so a fresh database can be refilled from it alone.
A materialization is known by its asset, run and data version, not by the commit that holds it: with
several writers on one run branch, the commit that took an object need not be its writer's.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assets_core.errors import ConfigError

if TYPE_CHECKING:
    from assets_core.workspace import Workspace


@dataclass(frozen=True)
class SyncResult:
    commits: int  # lakeplan object versions found in the branch's history
    recorded: int  # materializations added to the metadata store
    heads: int  # assets whose head now points at their newest commit


def sync(ws: Workspace) -> SyncResult:
    """Add every lakeplan object version the metadata store lacks, oldest first, then point each head at
    its newest."""
    from .lakefs_store import LakeFSStore

    store = ws.objects
    if not isinstance(store, LakeFSStore):
        raise ConfigError("lakeplan sync needs lakeFS: set [tool.lakeplan.lakefs] endpoint, repository and branch")
    mats = list(store.materializations())
    newest = {m.asset_key: m for m in mats}
    known: dict[str, set[tuple[str, str | None]]] = {}
    recorded = 0
    for mat in mats:
        versions = known.setdefault(
            mat.asset_key, {(m.run_id, m.data_version) for m in ws.store.history(mat.asset_key)}
        )
        head = ws.store.heads([mat.asset_key]).get(mat.asset_key)
        is_head = head is not None and (head.run_id, head.data_version) == (mat.run_id, mat.data_version)
        if (mat.run_id, mat.data_version) in versions and (newest[mat.asset_key] is not mat or is_head):
            continue
        ws.store.record(mat, head.id if head else None)
        versions.add((mat.run_id, mat.data_version))
        recorded += 1
    ws.store.checkpoint()  # as at a run's end: lakeplan.db alone holds what sync recorded
    return SyncResult(len(mats), recorded, len(newest))


def register(subparsers: Any) -> None:
    from assets_core.cli.core_commands import add_target

    parser = subparsers.add_parser(
        "sync",
        help="rebuild the metadata store from lakeFS commit history",
        description="Rebuild the metadata store's materializations and heads from the lakeplan objects in the "
        "history of the configured lakeFS branch (the SQL store is a cache of lakeFS history).",
    )
    add_target(parser)
    parser.set_defaults(handler=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from assets_core.workspace import Workspace

    ws = Workspace.load(args.target)
    result = sync(ws)
    print(
        f"synced {ws.objects.describe()}: {result.commits} lakeplan object versions, "
        f"{result.recorded} recorded, {result.heads} asset heads",
        file=sys.stderr,
    )
    return 0

"""``lakeplan sync``: rebuild the metadata store's view (materializations and heads) from lakeFS history.

With lakeFS the commit log is the truth and the SQL store a cache: every lakeplan commit reachable from
the target branch carries its full provenance, so a fresh database can be refilled from it alone.
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
    commits: int  # lakeplan commits found on the branch
    recorded: int  # materializations added to the metadata store
    heads: int  # assets whose head now points at their newest commit


def sync(ws: Workspace) -> SyncResult:
    """Add every lakeplan commit the metadata store lacks, oldest first, then point each head at its newest."""
    from .lakefs_store import LakeFSStore

    store = ws.objects
    if not isinstance(store, LakeFSStore):
        raise ConfigError("lakeplan sync needs lakeFS: set [tool.lakeplan.lakefs] endpoint, repository and branch")
    mats = list(store.materializations())
    newest = {m.asset_key: m for m in mats}
    known: dict[str, set[str]] = {}
    recorded = 0
    for mat in mats:
        commits = known.setdefault(mat.asset_key, _commits(ws, mat.asset_key))
        commit = mat.metadata["lakefs"]["commit"]
        head = ws.store.heads([mat.asset_key]).get(mat.asset_key)
        is_head = head is not None and head.location == mat.location
        if commit in commits and (newest[mat.asset_key] is not mat or is_head):
            continue
        ws.store.record(mat, head.id if head else None)
        commits.add(commit)
        recorded += 1
    ws.store.checkpoint()  # as at a run's end: lakeplan.db alone holds what sync recorded
    return SyncResult(len(mats), recorded, len(newest))


def _commits(ws: Workspace, key: str) -> set[str]:
    return {str(m.metadata["lakefs"]["commit"]) for m in ws.store.history(key) if "lakefs" in m.metadata}


def register(subparsers: Any) -> None:
    from assets_core.cli.core_commands import add_target

    parser = subparsers.add_parser(
        "sync",
        help="rebuild the metadata store from lakeFS commit history",
        description="Rebuild the metadata store's materializations and heads from the lakeplan commits on the "
        "configured lakeFS branch (the SQL store is a cache of lakeFS history).",
    )
    add_target(parser)
    parser.set_defaults(handler=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from assets_core.workspace import Workspace

    ws = Workspace.load(args.target)
    result = sync(ws)
    print(
        f"synced {ws.objects.describe()}: {result.commits} lakeplan commits, "
        f"{result.recorded} recorded, {result.heads} asset heads",
        file=sys.stderr,
    )
    return 0

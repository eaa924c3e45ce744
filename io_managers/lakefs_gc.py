"""``lakeplan gc``: remove what lakeFS runs leave behind once it is older than a retention.

A failed run keeps its lakeFS branch (``lakeplan-run-<run id>``) for debugging, and every download is
cached locally by commit; neither is ever needed again after a while. A branch whose run is still
running in the metadata store is kept whatever its age; deleting a branch leaves its commits readable
by id, so nothing recorded in the metadata store stops resolving.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assets_core.errors import ConfigError
from assets_core.records import RunStatus

if TYPE_CHECKING:
    from assets_core.workspace import Workspace

DAY = 24 * 3600


@dataclass(frozen=True)
class GcResult:
    branches: tuple[str, ...]  # run branches deleted (or that would be, with dry_run)
    kept_running: tuple[str, ...]  # old run branches whose run is still running
    cache_files: int  # cached downloads and leftover spool files removed
    cache_bytes: int


def gc(ws: Workspace, older_than: float, dry_run: bool = False, now: float | None = None) -> GcResult:
    """Delete run branches whose head commit is older than ``older_than`` seconds (unless their run is
    still running) and local cache files not modified for as long."""
    from .lakefs_store import RUN_BRANCH_PREFIX, LakeFSStore

    store = ws.objects
    if not isinstance(store, LakeFSStore):
        raise ConfigError("lakeplan gc needs lakeFS: set [tool.lakeplan.lakefs] endpoint, repository and branch")
    cutoff = (time.time() if now is None else now) - older_than
    deleted, running = [], []
    for name, created in store.run_branches():
        if created >= cutoff:
            continue
        record = ws.store.run(name.removeprefix(RUN_BRANCH_PREFIX))
        if record is not None and record.status is RunStatus.RUNNING:
            running.append(name)
            continue
        if not dry_run:
            store.delete_branch(name)
        deleted.append(name)
    files, size = _clear_cache(store.cache, cutoff, dry_run)
    return GcResult(tuple(deleted), tuple(running), files, size)


def _clear_cache(root: Path, cutoff: float, dry_run: bool) -> tuple[int, int]:
    """Remove files under ``root`` last modified before ``cutoff``, then the folders left empty."""
    files = size = 0
    for folder, _, names in os.walk(root, topdown=False):
        for name in names:
            path = Path(folder) / name
            try:
                stat = path.stat()
                if stat.st_mtime < cutoff:
                    if not dry_run:
                        path.unlink()
                    files, size = files + 1, size + stat.st_size
            except FileNotFoundError:
                continue
        if not dry_run and folder != str(root):
            with contextlib.suppress(OSError):  # not empty
                os.rmdir(folder)
    return files, size


def register(subparsers: Any) -> None:
    from assets_core.cli.core_commands import add_target

    parser = subparsers.add_parser(
        "gc",
        help="delete old failed-run lakeFS branches and cached downloads",
        description="Delete lakeFS run branches (kept by failed runs) and local cache files older than the "
        "retention. A branch whose run is still running is kept.",
    )
    add_target(parser)
    parser.add_argument("--older-than", type=float, default=7.0, metavar="DAYS", help="retention (default 7 days)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed, remove nothing")
    parser.set_defaults(handler=cmd_gc)


def cmd_gc(args: argparse.Namespace) -> int:
    from assets_core.workspace import Workspace

    if args.older_than < 0:
        raise ConfigError("--older-than must be a number of days, 0 or more")
    ws = Workspace.load(args.target)
    result = gc(ws, args.older_than * DAY, args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for name in result.branches:
        print(f"{verb} lakeFS branch {name}")
    for name in result.kept_running:
        print(f"kept lakeFS branch {name}: its run is still running")
    print(
        f"{verb} {len(result.branches)} run branches and {result.cache_files} cached files "
        f"({result.cache_bytes / 1e6:.1f} MB) older than {args.older_than:g} days",
        file=sys.stderr,
    )
    return 0

"""``lakeplan check ASSET``: run an asset's checks again on its current version; and how check results are
shown by the other commands (history, runs, diff)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..check_status import verdict_text
from ..errors import SelectionError
from ..hashing import short
from ..records import CheckRecord
from .core_commands import add_target, command, load_workspace
from .output import dump_json, table

CHECK_EPILOG = """\
Runs every check declared with @asset_check(asset=ASSET) on the asset's current version, whatever was
recorded before (a check's result is otherwise reused while the data and the check's code are
unchanged), and records the results as a run of its own. The asset is not rebuilt.
Exit code 1 when a blocking check fails (with severity 'error' or by raising): the asset's dependents
then plan as stale and wait until it passes.

examples:
  lakeplan check orders
  lakeplan check -m examples.quickstart.pipeline orders --json
"""


def register(subparsers: Any) -> None:
    check = command(subparsers, "check", "run an asset's checks again on its current version", CHECK_EPILOG)
    add_target(check)
    check.add_argument("asset", metavar="ASSET")
    check.add_argument("--json", action="store_true", help="print the results as JSON (schema lakeplan.check/v1)")
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from ..check_step import check
    from ..claims import this_holder
    from ..records import RunStatus, new_run_id
    from ..run_lifecycle import start
    from ..step import Outcome
    from .audit_commands import _check_asset

    ws = load_workspace(args, writes=True)
    _check_asset(ws, args.asset)
    if args.asset not in ws.graph.checks:
        raise SelectionError(
            f"asset {args.asset!r} declares no checks; add one with @asset_check(asset={args.asset!r})"
        )
    run_id = new_run_id()
    start(ws, run_id, f"check {args.asset}", time.time(), this_holder())
    result = check(ws, args.asset, run_id)
    failed = result.outcome is Outcome.FAILED
    ws.store.finish_run(run_id, RunStatus.FAILED if failed else RunStatus.SUCCESS, {result.outcome.value: 1})
    records = ws.store.run_checks(run_id)
    if args.json:
        dump_json(
            {
                "schema": "lakeplan.check/v1",
                "asset": args.asset,
                "run_id": run_id,
                "data_version": result.data_version,
                "outcome": result.outcome.value,
                "message": result.message,
                "checks": [r.to_json() for r in records],
            }
        )
        return 1 if failed else 0
    version = short(result.data_version, 12) if result.data_version else "-"
    print(f"{args.asset} @ {version}: {result.outcome.value} (run {run_id})")
    if records:
        table(
            ["CHECK", "BLOCKING", "RESULT"],
            [[r.check_name, "yes" if r.blocking else "no", verdict_text(r)] for r in records],
        )
    if failed:
        print(f"error: {result.message}", file=sys.stderr)
    return 1 if failed else 0


def checks_cell(records: Sequence[CheckRecord]) -> str:
    """One table cell naming each check's result: ``no_negatives failed (negative=1)``."""
    return "; ".join(f"{r.check_name} {verdict_text(r)}" for r in _newest(records)) or "-"


def _newest(records: Iterable[CheckRecord]) -> list[CheckRecord]:
    """The newest result of each check (records come oldest first)."""
    return list({r.check_name: r for r in records}.values())


def check_changes(old: Sequence[CheckRecord], new: Sequence[CheckRecord]) -> dict[str, tuple[str | None, str | None]]:
    """Checks whose result differs between two versions: name -> (A's verdict, B's verdict)."""
    before = {r.check_name: verdict_text(r) for r in _newest(old)}
    after = {r.check_name: verdict_text(r) for r in _newest(new)}
    names = sorted(before.keys() | after.keys())
    return {n: (before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)}

"""``lakeplan check ASSET``: run an asset's checks again on its current version; and how check results are
shown by the other commands (history, runs, diff)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..check_status import newest_results, verdict_text
from ..errors import SelectionError
from ..hashing import short
from ..records import CheckRecord
from .core_commands import add_partitions, add_target, command, load_workspace
from .output import dump_json, table

CHECK_EPILOG = """\
Runs every check declared with @asset_check(asset=ASSET) on the asset's current version, whatever was
recorded before (a check's result is otherwise reused while the data and the check's code are
unchanged), and records the results as a run of its own. The asset is not rebuilt.
Exit code 1 when a blocking check fails (with severity 'error', by raising, or by running past the
asset's time limit, @asset(timeout=...), which the checks share): the asset's dependents then plan as
stale and wait until it passes. What the checks print is shown on stderr (--json: 'log'), not recorded.
A partitioned asset's checks run on each of its materialized partitions (or those --partition or
--from/--to choose), each check's results summed over them ('--json': every partition's too).

examples:
  lakeplan check orders
  lakeplan check -m examples.quickstart.pipeline orders --json
  lakeplan check -m examples.partitioned.pipeline clean_events --from 2026-01-03 --to 2026-01-09
"""


def register(subparsers: Any) -> None:
    check = command(subparsers, "check", "run an asset's checks again on its current version", CHECK_EPILOG)
    add_target(check)
    check.add_argument("asset", metavar="ASSET")
    check.add_argument("--json", action="store_true", help="print the results as JSON (schema lakeplan.check/v1)")
    add_partitions(check)
    check.set_defaults(handler=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from ..check_step import check
    from ..claims import this_holder
    from ..lookup import check_asset
    from ..records import RunStatus, new_run_id
    from ..run_lifecycle import start
    from ..step import Outcome
    from .core_commands import partition_range, recorded_selection

    ws = load_workspace(args, writes=True)
    if args.asset not in ws.graph.assets:  # a partitioned asset is named bare: its partitions are all checked
        check_asset(ws, args.asset)
    if args.asset not in ws.graph.checks:
        raise SelectionError(
            f"asset {args.asset!r} declares no checks; add one with @asset_check(asset={args.asset!r})"
        )
    chosen = ws.scope(args.asset, partition_range(args))
    keys = [k for k in ws.planned.order if k in chosen]
    heads = ws.observe(keys).heads
    partitioned = ws.graph.nodes[args.asset].partitions is not None
    if partitioned:
        keys = [k for k in keys if k in heads]  # a partition never built has nothing to check
        if not keys:
            raise SelectionError(
                f"no chosen partition of {args.asset!r} was materialized; materialize it first "
                f"(lakeplan materialize --select {args.asset})"
            )
    run_id = new_run_id()
    start(ws, run_id, f"check {recorded_selection(args.asset, args)}", time.time(), this_holder())
    results = [check(ws, key, run_id, heads.get(key)) for key in keys]
    failed = [r for r in results if r.outcome is Outcome.FAILED]
    counts = Counter(r.outcome.value for r in results)
    ws.store.finish_run(run_id, RunStatus.FAILED if failed else RunStatus.SUCCESS, dict(counts))
    records = ws.store.run_checks(run_id)
    if partitioned:
        _show_partitions(ws, args, run_id, results, failed, records)
        return 1 if failed else 0
    result = results[0]
    if args.json:
        dump_json(
            {
                "schema": "lakeplan.check/v1",
                "asset": args.asset,
                "run_id": run_id,
                "data_version": result.data_version,
                "outcome": result.outcome.value,
                "message": result.message,
                "log": result.log,
                "checks": [r.to_json() for r in records],
            }
        )
        return 1 if failed else 0
    version = short(result.data_version, 12) if result.data_version else "-"
    print(f"{args.asset} @ {version}: {result.outcome.value} (run {run_id})")
    for line in (result.log or "").splitlines():  # what the checks printed, to stderr as under materialize
        print(f"    | {line}", file=sys.stderr)
    if records:
        table(
            ["CHECK", "BLOCKING", "RESULT"],
            [[r.check_name, "yes" if r.blocking else "no", verdict_text(r)] for r in records],
        )
    if failed:
        print(f"error: {result.message}", file=sys.stderr)
    return 1 if failed else 0


def _show_partitions(
    ws: Any,
    args: argparse.Namespace,
    run_id: str,
    results: Sequence[Any],
    failed: Sequence[Any],
    records: Sequence[CheckRecord],
) -> None:
    """``lakeplan check`` of a partitioned asset: each check summed over the partitions checked (``--json``:
    every partition's outcome and every result too)."""
    from ..check_status import across_partitions, latest_results

    by_key: dict[str, list[CheckRecord]] = {}
    for record in records:
        by_key.setdefault(record.asset_key, []).append(record)
    checks, versions = ws.graph.checks[args.asset], ws.check_versions(args.asset)
    shown = {ws.instance(r.key).partition: latest_results(checks, versions, by_key.get(r.key, [])) for r in results}
    across = across_partitions(checks, shown, ws.partition_order(args.asset))
    if args.json:
        partitions = [
            {
                "key": r.key,
                "partition": ws.instance(r.key).partition,
                "data_version": r.data_version,
                "outcome": r.outcome.value,
                "message": r.message,
                "log": r.log,
            }
            for r in results
        ]
        dump_json(
            {
                "schema": "lakeplan.check/v1",
                "asset": args.asset,
                "run_id": run_id,
                "outcome": "failed" if failed else "checked",
                "summary": [c.to_json() for c in across],
                "partitions": partitions,
                "checks": [r.to_json() for r in records],
            }
        )
        return
    print(f"{args.asset}: {len(results)} partitions checked, {len(failed)} failed (run {run_id})")
    for result in results:  # what the checks printed, to stderr as under materialize
        for line in (result.log or "").splitlines():
            print(f"    {ws.instance(result.key).partition} | {line}", file=sys.stderr)
    table(["CHECK", "BLOCKING", "RESULT"], [[c.check, "yes" if c.blocking else "no", c.text] for c in across])
    for result in failed:
        print(f"error: {result.key}: {result.message}", file=sys.stderr)


def checks_cell(records: Sequence[CheckRecord]) -> str:
    """One table cell naming each check's result: ``no_negatives failed (negative=1)``."""
    return "; ".join(f"{r.check_name} {verdict_text(r)}" for r in newest_results(records)) or "-"

"""``lakeplan plan`` and ``lakeplan materialize``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..check_status import summary_text
from ..config import MAX_WORKERS, whole_number
from ..errors import ConfigError
from ..hashing import short
from ..output_check import OutputCheck
from .output import dump_json, indented, logs_command, note_later, table

if TYPE_CHECKING:
    from ..partition_scope import PartitionRange

SELECT_HELP = (
    "which assets: NAME, +NAME (and all upstream), NAME+ (and all downstream), group:GROUP, '*'; "
    "separate several with commas"
)


def add_target(parser: argparse.ArgumentParser) -> None:
    """The -m option every command that loads definitions shares."""
    parser.add_argument(
        "-m",
        "--module",
        dest="target",
        metavar="TARGET",
        help="module name (examples.quickstart.pipeline) or .py file holding the assets; "
        "default: [tool.lakeplan] module",
    )


def add_verify(parser: argparse.ArgumentParser, unchecked: str) -> None:
    """``--verify``; ``unchecked`` says what the command checks of stored outputs without it."""
    parser.add_argument(
        "--verify",
        action="store_true",
        help="re-hash every stored output against its data version first; a deleted one plans as MISSING, a "
        f"corrupted one is moved to .quarantine/ and plans as MISSING. Without it, {unchecked}",
    )


def add_select(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--select", metavar="EXPR", help=SELECT_HELP)


def add_partitions(parser: argparse.ArgumentParser) -> None:
    """--partition / --from / --to: which partitions of the selected partitioned assets (docs/partitions.md)."""
    group = parser.add_argument_group("partitions")
    group.add_argument(
        "-p",
        "--partition",
        metavar="KEY",
        help="only this partition of the selected partitioned assets (e.g. 2026-03-02), and what reads it",
    )
    group.add_argument(
        "--from", dest="first", metavar="KEY", help="a backfill from this partition (inclusive; default: the first)"
    )
    group.add_argument("--to", dest="last", metavar="KEY", help="... to this partition (inclusive; default: the last)")


def partition_range(args: argparse.Namespace) -> PartitionRange | None:
    """The PartitionRange the options name, or None; --partition with --from/--to is a usage error."""
    from ..errors import SelectionError
    from ..partition_scope import PartitionRange

    if args.partition is not None and (args.first is not None or args.last is not None):
        raise SelectionError("give either --partition KEY or --from/--to, not both")
    if args.partition is not None:
        return PartitionRange.one(args.partition)
    if args.first is not None or args.last is not None:
        return PartitionRange(args.first, args.last)
    return None


def whole_number_option(low: int = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type`` for a count option: a whole number from ``low`` (to ``high``), so ``-1``, ``0`` or
    ``99999`` is a usage error naming the range instead of a store error or a silent default later."""
    expected = f"a whole number from {low} to {high}" if high is not None else f"a whole number >= {low}"

    def parse(text: str) -> int:
        try:
            return whole_number(text, low, high)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}") from None

    return parse


def command(subparsers: Any, name: str, summary: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose --help shows its summary and an epilog of examples, laid out as written."""
    return subparsers.add_parser(  # type: ignore[no-any-return]
        name, help=summary, description=summary, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def register(subparsers: Any) -> None:
    plan = command(subparsers, "plan", "show which assets are stale and why", PLAN_EPILOG)
    add_target(plan)
    add_select(plan)
    add_partitions(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON (schema lakeplan.plan/v1)")
    plan.add_argument("--stale", action="store_true", help="list only stale assets")
    plan.add_argument(
        "--explain",
        metavar="ASSET",
        help="list what ASSET's code version is made of: each function, class, constant, value and module "
        "with its own hash, and what was taken whole conservatively (and why); and its time limit",
    )
    add_verify(plan, "each stored output is checked to exist (one stat each): a deleted one plans as MISSING")
    plan.add_argument(
        "--trust-records",
        action="store_true",
        help="plan from the store's records alone, reading no output (faster on large graphs; an output deleted "
        "by hand then shows FRESH until materialize or --verify finds it)",
    )
    plan.set_defaults(handler=cmd_plan)

    mat = command(subparsers, "materialize", "build the stale assets, in dependency order", MATERIALIZE_EPILOG)
    add_target(mat)
    add_select(mat)
    add_partitions(mat)
    add_verify(mat, "every output the run would skip is checked to exist and every output read is hash-verified")
    mat.add_argument("--force", action="store_true", help="rebuild the selected assets even if fresh")
    mat.add_argument(
        "-w",
        "--workers",
        type=whole_number_option(1, MAX_WORKERS),
        metavar="N",
        help="run up to N assets (or partitions) at once in worker processes",
    )
    mat.add_argument("--json", action="store_true", help="print the run summary as JSON (schema lakeplan.run/v1)")
    mat.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    mat.add_argument(  # SUPPRESS: unset here must not undo 'lakeplan --debug materialize'
        "--debug", action="store_true", default=argparse.SUPPRESS, help="print each failure's full traceback"
    )
    mat.set_defaults(handler=cmd_materialize)

    listing = command(subparsers, "assets", "list the declared assets and sources", ASSETS_EPILOG)
    add_target(listing)
    add_select(listing)
    listing.add_argument("--json", action="store_true", help="print as JSON (schema lakeplan.assets/v1)")
    listing.set_defaults(handler=cmd_assets)


PLAN_EPILOG = """\
causes:
  MISSING   never built, or its stored output is gone (each output is checked to exist; --verify
            re-hashes each one; --trust-records reads the store's records alone)
  CODE      the asset's code version changed (old -> new)
  DATA      an input's data version differs from the one it was built from
  UPSTREAM  an upstream asset is itself stale
  CHECK     an asset check must run on the current version (new or changed; status CHECK when nothing
            else is stale: only the check runs), or a blocking check failed on it (dependents wait)

A partitioned asset is one row: how many of its partitions are stale, as ranges of keys, and each
cause with the number of partitions it applies to; --json lists every partition with its causes.

examples:
  lakeplan plan -m examples.quickstart.pipeline
  lakeplan plan -m pipeline.py --select +model --json
  lakeplan plan -m examples.quickstart.pipeline --explain churn_model
  lakeplan plan -m examples.partitioned.pipeline --from 2026-01-03 --to 2026-01-09
"""

MATERIALIZE_EPILOG = """\
Only stale assets run. When a rebuilt asset's data comes out unchanged, assets that were stale only
because of it are skipped (early cutoff); when an asset's code and inputs match an earlier
materialization whose output still exists, that output is reused instead of recomputed.
Exit code 1 when any asset failed (its downstream is skipped; independent branches finish), or when
a selected asset waits on a stale upstream the selection leaves out: it cannot be made fresh without
it, so it is reported 'waiting' (select +NAME to include its upstreams), never 'fresh'.
An attempt that runs past its time limit (@asset(timeout="30m"), or [tool.lakeplan] timeout) is
stopped and fails "timed out after 30m"; its downstream is skipped and independent assets still run.
Asset checks (@asset_check) run right after their asset; a failed blocking one fails the asset and its
output is not made current. An asset whose checks changed is only re-checked ('checked'), not rebuilt.

What an asset's code prints (print, logging, C extensions, subprocesses; stdout and stderr) is captured
and recorded with its attempt, failed ones included: stdout carries only lakeplan's own output, so
--json stays parseable. The last lines are shown on stderr under the asset's progress line (not with
--json or -q); 'lakeplan logs ASSET' shows all that was kept.

Partitioned assets are built partition by partition (each one a step, so --workers N builds N
partitions at once). --partition KEY builds that partition of the selected partitioned assets and
the selected assets reading it that are not partitioned alike (e.g. a model over all days);
--from/--to does the same for a range of partitions (a backfill).

examples:
  lakeplan materialize -m examples.quickstart.pipeline
  lakeplan materialize -m examples.quickstart.pipeline --select daily_revenue+ --workers 2
  lakeplan materialize --select group:features --force
  lakeplan materialize -m examples.partitioned.pipeline --partition 2026-01-05
  lakeplan materialize -m examples.partitioned.pipeline --from 2026-01-03 --to 2026-01-09 --select clean_events+
"""


ASSETS_EPILOG = """\
examples:
  lakeplan assets -m examples.quickstart.pipeline
  lakeplan assets --select group:model --json
"""


def cmd_assets(args: argparse.Namespace) -> int:
    from ..asset_reports import assets_report

    ws = load_workspace(args)
    report = assets_report(ws, args.select)
    rows = report["assets"]
    if args.json:
        dump_json(report)
        return 0
    shown_checks = bool(ws.graph.checks)
    partitioned = any(r["partitions"] for r in rows)
    table(
        [
            "ASSET",
            "KIND",
            "GROUP",
            "UPSTREAM",
            "CODE",
            "METADATA",
            *(["CHECKS"] if shown_checks else []),
            *(["PARTITIONS"] if partitioned else []),
            "DESCRIPTION",
        ],
        [
            [
                r["key"],
                r["kind"],
                r["group"],
                ", ".join(r["upstream"]) or "-",
                short(r["code_version"]),
                " ".join(f"{name}={value}" for name, value in r["metadata"].items()) or "-",
                *(
                    [", ".join(c["name"] + (" (blocking)" if c["blocking"] else "") for c in r["checks"]) or "-"]
                    if shown_checks
                    else []
                ),
                *([r["partitions"] or "-"] if partitioned else []),
                r["description"],
            ]
            for r in rows
        ],
    )
    return 0


def load_workspace(args: argparse.Namespace, writes: bool = False) -> Any:
    """The project the command's -m names (or [tool.lakeplan] module). Unless the command ``writes``, it
    is opened read-only: nothing is created or migrated, and a store not created yet reads as empty,
    with a note on stderr."""
    from ..workspace import Workspace

    return Workspace.load(args.target, read_only=not writes, notify=note_later)


def cmd_plan(args: argparse.Namespace) -> int:
    ws = load_workspace(args)
    if args.explain:
        return explain_code_version(ws, args.explain, args.json)
    # A deleted output is never shown FRESH unless the user asked to trust the records (docs/concepts.md,
    # "What a plan checks of the stored outputs").
    if args.verify and args.trust_records:
        raise ConfigError("--verify and --trust-records contradict each other; pass one of them")
    checked = OutputCheck.HASH if args.verify else OutputCheck.TRUST if args.trust_records else OutputCheck.EXISTS
    result = ws.plan(args.select, outputs=checked, partitions=partition_range(args))
    if args.json:
        from ..asset_reports import plan_report

        dump_json(plan_report(ws, result, args.stale))
        return 0
    if ws.partitioned:
        return print_partitioned_plan(ws, result, args.stale)
    from ..asset_reports import check_results

    statuses = [s for s in result.statuses if s.stale or not args.stale]
    checks = check_results(ws, statuses)
    rows = []
    for status in statuses:
        causes = [f"{c.kind.value}: {c.message}" for c in status.causes] or [""]
        if status.waiting_on:
            causes.append(f"WAITING: {status.waiting_message}")
        shown = [summary_text(checks[status.key]) if status.key in checks else "-"] if checks else []
        rows.append([status.key, status.label, short(status.code_version), *shown, causes[0]])
        rows += [["", "", "", *[""] * len(shown), cause] for cause in causes[1:]]
    table(["ASSET", "STATUS", "CODE", *(["CHECKS"] if checks else []), "WHY"], rows)
    counts = result.counts()
    checks_only = sum(1 for s in result.statuses if s.checks_only)
    notes = [f"{checks_only} only to run checks"] if checks_only else []
    notes += [f"{counts['waiting']} waiting on stale upstreams outside the selection"] if counts["waiting"] else []
    waiting = f" ({'; '.join(notes)})" if notes else ""
    print(f"\n{counts['assets']} assets: {counts['stale']} stale{waiting}, {counts['fresh']} fresh")
    return 0


def print_partitioned_plan(ws: Any, result: Any, only_stale: bool) -> int:
    """A partitioned project's plan: one row per asset (partitions summarised, checks summed over them)."""
    from ..asset_reports import check_results, partition_checks
    from ..partition_summary import summarise

    summaries = summarise(result.statuses, ws.instance, ws.partition_order)
    checks = check_results(ws, list(result.statuses))
    across = partition_checks(ws, list(result.statuses), checks)
    rows = []
    for summary in summaries:
        label = "STALE" if summary.causes else "FRESH"
        if only_stale and not summary.causes:
            continue
        count = f"{len(summary.stale)} of {summary.planned} stale" if summary.partitioned else "-"
        where = ", ".join(summary.ranges[:4]) + (
            f", ... ({len(summary.ranges)} ranges)" if len(summary.ranges) > 4 else ""
        )
        causes = [f"{k.value}: {r}" + (f" ({n})" if summary.partitioned else "") for k, r, n in summary.causes]
        causes = causes or [""]
        if summary.waiting:
            causes.append(f"WAITING: {summary.waiting} on stale upstreams outside the selection")
        shown = [_checks_cell(summary.asset, checks, across)] if checks else []
        rows.append([summary.asset, label, count, where or "-", *shown, causes[0]])
        rows += [["", "", "", "", *[""] * len(shown), cause] for cause in causes[1:]]
    table(["ASSET", "STATUS", "PARTITIONS", "STALE KEYS", *(["CHECKS"] if checks else []), "WHY"], rows)
    counts = result.counts()
    waiting = f" ({counts['waiting']} waiting on stale upstreams outside the selection)" if counts["waiting"] else ""
    print(
        f"\n{len(summaries)} assets, {counts['assets']} asset-partitions: {counts['stale']} stale{waiting}, "
        f"{counts['fresh']} fresh"
    )
    return 0


def _checks_cell(asset: str, checks: dict[str, list[dict[str, Any]]], across: dict[str, list[Any]]) -> str:
    """A partitioned asset's checks summed over its partitions; an unpartitioned asset's own results."""
    if asset in across:
        return "; ".join(f"{c.check} {c.text}" for c in across[asset])
    return summary_text(checks[asset]) if asset in checks else "-"


def explain_code_version(ws: Any, key: str, as_json: bool) -> int:
    """Print the parts of one asset's code version (schema lakeplan.code-version/v1 as JSON)."""
    from ..asset_reports import code_version_report

    report = code_version_report(ws, key)
    if as_json:
        dump_json(report)
        return 0
    code = ws.code_version(key)
    timeout = report["timeout_seconds"]
    if report["explicit"]:
        print(f"{key}: code version {code.version!r}, declared with code_version= (no code is hashed)")
    else:
        print(f"{key}: code version {short(code.version)}, made of {len(code.parts)} parts:\n")
        rows = [[p.name, p.kind, short(p.digest), f"conservative: {p.reason}" if p.reason else ""] for p in code.parts]
        table(["PART", "KIND", "HASH", "NOTE"], rows)
    print(f"\n{key}: {_time_limit(ws, key, timeout)}")
    return 0


def _time_limit(ws: Any, key: str, timeout: int | None) -> str:
    """How long each attempt at ``key`` may run, and who said so."""
    from ..timeouts import format_duration

    if timeout is None:
        return "no time limit (set @asset(timeout=...) or [tool.lakeplan] timeout)"
    whose = "@asset(timeout=...)" if ws.graph.asset(key).timeout is not None else "the project's default timeout"
    return f"each attempt may run {format_duration(timeout)} ({whose})"


def recorded_selection(expression: str, args: argparse.Namespace) -> str:
    """The run's selection as recorded (``lakeplan runs``): the expression, and the partitions if given."""
    flags = [("--partition", args.partition), ("--from", args.first), ("--to", args.last)]
    return " ".join([expression, *(f"{flag} {value}" for flag, value in flags if value is not None)])


def cmd_materialize(args: argparse.Namespace) -> int:
    from ..executor import RunInterrupted, planned_work, run
    from ..step import Outcome
    from .progress import Progress

    ws = load_workspace(args, writes=True)
    checked = OutputCheck.HASH if args.verify else OutputCheck.EXISTS  # a deleted output is rebuilt, never skipped
    plan = ws.plan(args.select, outputs=checked, partitions=partition_range(args))
    keys, waiting = planned_work(plan, args.force)
    workers = args.workers or ws.settings.workers
    quiet = args.quiet or args.json

    if not quiet:
        what = "asset-partitions" if ws.partitioned else "assets"
        print(f"{len(keys)} of {len(plan.statuses)} selected {what} to materialize", file=sys.stderr)
    interrupted = False
    try:
        with Progress(enabled=not quiet) as progress:
            summary = run(
                ws,
                keys,
                selection=recorded_selection(args.select or "*", args),
                force=args.force,
                workers=workers,
                on_result=progress.finished,
                on_start=progress.started,
                waiting=waiting,
            )
    except RunInterrupted as stop:
        summary, interrupted = stop.summary, True
    counts = summary.counts()
    if args.json:
        dump_json(
            {
                "schema": "lakeplan.run/v1",
                "run_id": summary.run_id,
                "seconds": round(summary.seconds, 3),
                "interrupted": interrupted,
                "counts": counts,
                "results": [r.to_json() for r in summary.results],
            }
        )
    else:
        parts = [
            f"{counts['built']} built",
            f"{counts['restored']} restored from identical earlier runs",
            f"{counts['fresh']} unchanged after upstream rebuild",
            f"{counts['checked']} re-checked without rebuilding",
            f"{len(plan.statuses) - len(keys)} already fresh",
            f"{counts['failed']} failed",
            f"{counts['skipped']} skipped after a failure",
            f"{counts['waiting']} waiting on stale upstreams outside the selection",
            f"{counts['conflict']} kept a concurrent run's version",
        ]
        if interrupted:
            parts.append(f"{len(keys) - len(summary.results)} not started")
        shown = [p for p in parts if not p.startswith("0 ") or "built" in p or "failed" in p]
        stopped = " interrupted" if interrupted else ""
        print(f"run {summary.run_id}{stopped}: {', '.join(shown)} in {summary.seconds:.2f}s")
        for r in summary.results:
            if r.outcome in (Outcome.FAILED, Outcome.WAITING):
                print(f"  {r.outcome.value} {r.key}: {r.message}", file=sys.stderr)
                if args.debug and r.traceback:
                    print(indented(r.traceback), file=sys.stderr)
                if r.log and r.log_recorded:
                    print(f"    its output: {logs_command(r.key, summary.run_id)}", file=sys.stderr)
        if any(r.traceback for r in summary.results) and not args.debug:
            print(f"  tracebacks: lakeplan runs {summary.run_id} (or add --debug)", file=sys.stderr)
    for note in summary.notes:
        print(note, file=sys.stderr)
    if interrupted:
        return 130  # the shell's code for a run stopped by SIGINT
    return 1 if summary.failed else 0

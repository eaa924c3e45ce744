"""``lakeplan graph``, ``runs``, ``history``, ``logs``, ``lineage``, ``diff`` and ``rollback``: seeing and
auditing what was built, from what, what its code printed, and what changed."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..check_status import verdict_text
from ..errors import LakeplanError
from ..hashing import short
from .check_commands import checks_cell
from .core_commands import add_select, add_target, command, load_workspace, whole_number_option
from .output import dump_json, indented, logs_command, table

if TYPE_CHECKING:
    from ..asset_reports import CheckChanges
    from ..lineage import LineageNode
    from ..records import Materialization
    from ..run_diff import AssetDiff, Change, RunDiff
    from ..workspace import Workspace


def register(subparsers: Any) -> None:
    graph = command(
        subparsers, "graph", "draw the asset graph coloured by status (svg, png, pdf, dot, html)", GRAPH_EPILOG
    )
    add_target(graph)
    add_select(graph)
    graph.add_argument("-o", "--output", metavar="FILE", help="graph.svg|.png|.pdf|.dot (default graph.svg)")
    graph.add_argument("--html", action="store_true", help="write one self-contained HTML page (default graph.html)")
    graph.set_defaults(handler=cmd_graph)

    runs = command(subparsers, "runs", "list recorded runs, newest first, or show one run in full", RUNS_EPILOG)
    add_target(runs)
    runs.add_argument(
        "run",
        nargs="?",
        metavar="RUN",
        help="show this run (id, unique prefix, 'latest' or 'latest~N'): every asset it recorded, "
        "and each failure's traceback",
    )
    runs.add_argument(
        "-n", "--limit", type=whole_number_option(), default=20, metavar="N", help="show the newest N runs (default 20)"
    )
    runs.add_argument("--json", action="store_true", help="print as JSON, environments included (lakeplan.runs/v1)")
    runs.set_defaults(handler=cmd_runs)

    history = command(subparsers, "history", "list every materialization of an asset, newest first", HISTORY_EPILOG)
    add_target(history)
    history.add_argument("asset", metavar="ASSET")
    add_partition(history)
    history.add_argument("-n", "--limit", type=whole_number_option(), metavar="N", help="show the newest N only")
    history.add_argument("--json", action="store_true", help="print as JSON (lakeplan.history/v1)")
    history.set_defaults(handler=cmd_history)

    logs = command(subparsers, "logs", "show what an asset's code printed (stdout and stderr)", LOGS_EPILOG)
    add_target(logs)
    logs.add_argument("asset", metavar="ASSET")
    add_partition(logs)
    logs.add_argument(
        "--run",
        metavar="RUN",
        help="its attempts in this run (id, unique prefix, 'latest' or 'latest~N'); default: its newest attempt",
    )
    logs.add_argument(
        "--json", action="store_true", help="print as JSON, with each attempt's record (lakeplan.logs/v1)"
    )
    logs.set_defaults(handler=cmd_logs)

    lineage = command(
        subparsers, "lineage", "which input versions built a version, or what was built from it", LINEAGE_EPILOG
    )
    add_target(lineage)
    lineage.add_argument("asset", metavar="ASSET[@VERSION]", help="VERSION: data-version prefix or materialization id")
    add_partition(lineage)
    direction = lineage.add_mutually_exclusive_group()
    direction.add_argument(
        "--upstream", dest="downstream", action="store_false", help="what it was built from (default)"
    )
    direction.add_argument("--downstream", dest="downstream", action="store_true", help="what was built from it")
    lineage.add_argument("--json", action="store_true", help="print the tree as JSON (lakeplan.lineage/v1)")
    lineage.set_defaults(handler=cmd_lineage, downstream=False)

    diff = command(subparsers, "diff", "what changed between two runs, or two versions of one asset", DIFF_EPILOG)
    add_target(diff)
    diff.add_argument("a", metavar="RUN_A")
    diff.add_argument("b", metavar="RUN_B")
    diff.add_argument(
        "--asset",
        metavar="ASSET",
        help="compare this asset only; RUN_A/RUN_B may then be its versions (id or data prefix)",
    )
    add_partition(diff, "with --asset: ")
    diff.add_argument("--json", action="store_true", help="print as JSON (lakeplan.diff/v1)")
    diff.set_defaults(handler=cmd_diff)

    rollback = command(
        subparsers, "rollback", "make an earlier stored version of an asset current again", ROLLBACK_EPILOG
    )
    add_target(rollback)
    rollback.add_argument("asset", metavar="ASSET")
    add_partition(rollback)
    rollback.add_argument("--to", required=True, metavar="VERSION", help="data-version prefix or materialization id")
    rollback.set_defaults(handler=cmd_rollback)


GRAPH_EPILOG = """\
Colours: fresh (green), stale (orange; the causes are in the tooltip), missing (grey), failed in its
latest attempt (red); sources are blue cylinders. Groups are drawn as clusters, left to right.
Layout uses Graphviz's dot when installed, else the graphviz-pure wheel (svg, png); with neither,
svg and --html get a simple layered drawing and png/pdf fall back to a .dot file.

examples:
  lakeplan graph -o graph.svg
  lakeplan graph --select +model_report -o model.png
  lakeplan graph --html -o graph.html
"""

RUNS_EPILOG = """\
STATUS is running, success, failed or interrupted (Ctrl-C); 'abandoned' marks a run still recorded as
running whose process on this machine is gone (killed, or ended by os._exit in an asset), so it will
never finish; its counts are then taken from what it recorded. With RUN, every asset the run recorded
is listed, and each failure is followed by the traceback of the user's code and, when its code printed
something, the 'lakeplan logs' command that shows it.

examples:
  lakeplan runs
  lakeplan runs --json -n 5
  lakeplan runs latest
  lakeplan runs 20261121-0930 --json
"""

HISTORY_EPILOG = """\
'*' marks the current version. Metadata includes rows/columns for tables and what the asset passed
to add_metadata(...); the asset's declared @asset(metadata=...) is shown above the table. The newest
failed attempt listed is followed by its traceback (--json has every one). An asset deleted or
renamed in the code keeps its history (marked removed).

examples:
  lakeplan history model_report
  lakeplan history -m examples.partitioned.pipeline clean_events --partition 2026-01-05
"""

LOGS_EPILOG = """\
Each attempt that ran the asset's code (built or failed, in any executor: in-process, --workers, an
Argo pod) keeps what the code printed to stdout and stderr: print, logging, warnings, C extensions
and subprocesses, in the order written. The last 64 KiB are kept (a longer output starts with a line
saying how many bytes were dropped), and secrets in URLs are masked. The output is printed to stdout
as it was written; a line naming the attempt (id, outcome, run, time, error) goes to stderr.

examples:
  lakeplan logs churn_model                    # its newest attempt
  lakeplan logs churn_model --run latest       # its attempts in the newest run
  lakeplan logs churn_model --run 20261121-0930 --json
"""

LINEAGE_EPILOG = """\
Answers from recorded provenance, not from today's code: each node is the exact data version used;
assets no longer in the code are marked removed.

examples:
  lakeplan lineage model_report --upstream
  lakeplan lineage orders@3f2a1b --downstream --json
  lakeplan lineage -m examples.partitioned.pipeline rolling_7d --partition 2026-01-07
"""

DIFF_EPILOG = """\
RUN_A and RUN_B are run ids or unique prefixes (see 'lakeplan runs'), or 'latest' and 'latest~N' (N runs
before the newest); a run is compared by the versions current when it ended. With --asset they may also
be that asset's versions. Assets are listed as changed, added (no version when A ended) or removed (no
longer in the code); 'unchanged' names those with the same version after both.

examples:
  lakeplan diff latest~1 latest
  lakeplan diff 20261121-0930 20261122-0200
  lakeplan diff 20261121-0930 20261122-0200 --asset churn_model --json
  lakeplan diff latest~1 latest --asset clean_events --partition 2026-01-05
"""

ROLLBACK_EPILOG = """\
Recorded as a ROLLBACK event in a run of its own; nothing is deleted. Its dependents then plan as
stale, so 'lakeplan materialize' rebuilds them from the rolled-back version.

examples:
  lakeplan rollback churn_model --to 8c41f0
  lakeplan rollback -m examples.partitioned.pipeline clean_events --partition 2026-01-05 --to 3f2a1b
"""


def add_partition(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(
        "-p",
        "--partition",
        metavar="KEY",
        help=f"{prefix}one partition of a partitioned asset (the same as naming ASSET/partition=KEY)",
    )


def _removed_note(key: str) -> str:
    return f"note: {key!r} is removed: today's code no longer declares it; showing what was recorded"


def _histories(ws: Workspace, keys: Any, limit: int | None = None) -> dict[str, list[Materialization]]:
    return {k: ws.store.history(k, limit) for k in keys if k in ws.graph.assets and k in ws.planned.nodes}


# -- graph -----------------------------------------------------------------------------------------


def cmd_graph(args: argparse.Namespace) -> int:
    from ..asset_reports import check_results, partition_checks
    from ..graph_render import INSTALL_HINT, drawn_keys, find_engine, svg_for, write_graph
    from ..graph_state import graph_state
    from ..html_view import asset_details, partition_strip, render_html

    ws = load_workspace(args)
    out = Path(args.output or ("graph.html" if args.html else "graph.svg"))
    if args.html and out.suffix.lower() not in (".html", ".htm"):
        raise LakeplanError(f"--html writes an HTML page; name the output {out.with_suffix('.html').name}")
    keys = drawn_keys(ws.graph, ws.select(args.select))
    drawn = graph_state(ws)
    plan, views, partitions = drawn.plan, drawn.views, drawn.partitions
    across: dict[str, list[Any]] = {}
    if args.html and ws.graph.checks and drawn.partitioned:  # each check summed over the partitions, as plan shows it
        partitioned = list(drawn.partitioned)
        across = partition_checks(ws, partitioned, check_results(ws, partitioned))
    engine = find_engine()
    note = None
    if args.html:
        svg = svg_for(ws.graph, views, keys, engine)
        recent = _histories(ws, keys, limit=5)
        checks = check_results(ws, [s for s in plan.statuses if s.key not in across])
        checks.update({k: [{**c.to_json(), "text": c.text} for c in found] for k, found in across.items()})
        ids = [m.id for history in recent.values() for m in history if m.id is not None]
        recorded = ws.store.checks_of(ids) if ws.graph.checks else {}
        printed = ws.store.printed(ids)
        logs = {m.id or 0: logs_command(key, m.run_id) for key, h in recent.items() for m in h if m.id in printed}
        details = asset_details(ws.graph, plan, views, recent, keys, checks, recorded, logs)
        for asset, strip in partitions.items():  # a cell per partition, or per bucket of them when many
            if asset in details:
                details[asset]["partitions"] = partition_strip(strip)
        out.write_text(render_html(svg, details, f"lakeplan: {ws.target}"))
        if engine is None:
            note = f"no Graphviz layout engine found, drew a simple layered layout; {INSTALL_HINT}"
        written = out
    else:
        rendered = write_graph(ws.graph, views, keys, out, engine)
        written, note = rendered.path, rendered.note
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {written} ({len(keys)} nodes)")
    return 0


# -- runs and history ------------------------------------------------------------------------------


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items() if n) or "-"


def cmd_runs(args: argparse.Namespace) -> int:
    from ..lineage import iso_time
    from ..run_lifecycle import shown_status
    from ..run_reports import runs_report, shown_counts

    ws = load_workspace(args)
    if args.run:
        return _show_run(ws, args.run, args.json)
    if args.json:
        dump_json(runs_report(ws, args.limit))
        return 0
    runs = ws.store.runs(args.limit)
    counts = {r.run_id: shown_counts(ws, r) for r in runs}
    rows = []
    for run in runs:
        took = f"{run.finished_at - run.started_at:.1f}s" if run.finished_at else "-"
        git = run.environment.get("git") or {}
        commit = (short(git["commit"], 8) + ("+dirty" if git.get("dirty") else "")) if git.get("commit") else "-"
        rows.append(
            [
                run.run_id,
                iso_time(run.started_at),
                shown_status(run),
                took,
                commit,
                run.selection,
                _counts(counts[run.run_id]),
            ]
        )
    table(["RUN", "STARTED", "STATUS", "TOOK", "COMMIT", "SELECTION", "COUNTS"], rows)
    return 0


def _show_run(ws: Workspace, spec: str, as_json: bool) -> int:
    """One run in full: its outcome, every materialization it recorded, and each failure's traceback."""
    from ..lineage import iso_time
    from ..records import MaterializationKind
    from ..run_reports import read_run

    detail = read_run(ws, spec)
    if as_json:
        dump_json(detail.to_json())
        return 0
    run, status, counts, lost = detail.run, detail.status, detail.counts, detail.building_when_abandoned
    recorded, checks = detail.materializations, detail.checks
    took = f", took {run.finished_at - run.started_at:.1f}s" if run.finished_at else ""
    print(f"run {run.run_id}: {status}, started {iso_time(run.started_at)}{took}, selection {run.selection}")
    print(f"counts: {_counts(counts)}")
    if lost:
        print(f"its process died while building: {', '.join(lost)} (no outcome recorded)")
    for c in checks:
        print(f"check {c.asset_key}:{c.check_name} on #{c.materialization_id}: {verdict_text(c)}")
    if not recorded:
        print("no materializations recorded")
        return 0
    rows = [
        [
            m.asset_key,
            m.kind.value,
            f"{m.finished_at - m.started_at:.2f}s",
            short(m.data_version, 12) if m.data_version else "-",
            m.error or "",
        ]
        for m in recorded
    ]
    print()
    table(["ASSET", "KIND", "TOOK", "DATA", "ERROR"], rows)
    failed = {m.asset_key for m in recorded if m.kind is MaterializationKind.FAILED}
    printed = {a.id for key in failed for a in ws.store.attempts(key, run.run_id) if a.log}
    for m in recorded:
        if m.kind is MaterializationKind.FAILED and (m.traceback or m.id in printed):
            print(f"\n{m.asset_key} (#{m.id}) failed: {m.error}")
        if m.kind is MaterializationKind.FAILED and m.traceback:
            print(indented(m.traceback))
        if m.id in printed:
            print(f"    its output: {logs_command(m.asset_key, run.run_id)}")
    return 0


def _metadata_summary(metadata: dict[str, Any]) -> str:
    from ..run_diff import BOOKKEEPING

    parts = []
    for name, value in metadata.items():
        if name in BOOKKEEPING and name != "rolled_back_to":
            continue
        shown = f"{len(value)} cols" if name == "columns" and isinstance(value, dict) else value
        parts.append(f"{name}={shown}")
    return " ".join(parts)


def cmd_history(args: argparse.Namespace) -> int:
    from ..asset_reports import read_history
    from ..lineage import iso_time
    from ..lookup import partition_key
    from ..records import MaterializationKind

    ws = load_workspace(args)
    args.asset = partition_key(ws, args.asset, args.partition)
    found = read_history(ws, args.asset, args.limit)
    if args.json:
        dump_json(found.to_json())
        return 0
    history, head_id, checks, printed = found.materializations, found.head_id, found.checks, found.printed
    removed = found.removed
    rows = [
        [
            ("*" if m.id == head_id else " ") + str(m.id),
            iso_time(m.finished_at),
            m.kind.value,
            m.run_id,
            short(m.code_version, 8),
            short(m.data_version, 12) if m.data_version else "-",
            m.error or _metadata_summary(m.metadata),
            *([checks_cell(checks.get(m.id or 0, []))] if checks else []),
        ]
        for m in history
    ]
    if removed:
        print(_removed_note(args.asset), file=sys.stderr)
    declared = _declared_metadata(ws, args.asset)
    if declared:
        print(f"{args.asset}: declared metadata {declared}")
    table(["ID", "WHEN", "KIND", "RUN", "CODE", "DATA", "METADATA", *(["CHECKS"] if checks else [])], rows)
    latest_failure = next((m for m in history if m.kind is MaterializationKind.FAILED and m.traceback), None)
    if latest_failure is not None and latest_failure.traceback:
        print(f"\n#{latest_failure.id} failed: {latest_failure.error}\n{indented(latest_failure.traceback)}")
    if printed:
        print()
    for m in history:
        if m.id in printed:
            print(f"#{m.id} printed output: {logs_command(args.asset, m.run_id)}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from ..asset_reports import NoLog, read_logs
    from ..lookup import partition_key

    ws = load_workspace(args)
    key = partition_key(ws, args.asset, args.partition)
    logs = read_logs(ws, key, args.run)
    if args.json:
        dump_json(logs.to_json())
        return 0
    attempts, removed = logs.attempts, logs.removed
    if all(m.log is None for m in attempts):
        newest = attempts[-1]
        raise NoLog(
            f"no output was kept for {key!r} #{newest.id} (run {newest.run_id}): it was recorded before lakeplan "
            "captured output, its code never started, or its process died first; "
            f"'lakeplan materialize --select {key} --force' runs it again"
        )
    if removed:
        print(_removed_note(key), file=sys.stderr)
    for m in attempts:
        _print_log(m)
    return 0


def _print_log(m: Materialization) -> None:
    """One attempt's output on stdout as it was written, under a line on stderr naming the attempt."""
    from ..lineage import iso_time

    error = f": {m.error}" if m.error else ""
    print(
        f"{m.asset_key} #{m.id}, {m.kind.value} in run {m.run_id} at {iso_time(m.finished_at)}{error}", file=sys.stderr
    )
    if m.log is None:
        print("(no output kept for this attempt)", file=sys.stderr)
    elif not m.log:
        print("(it printed nothing)", file=sys.stderr)
    else:
        sys.stdout.write(m.log if m.log.endswith("\n") else m.log + "\n")
        sys.stdout.flush()  # before the next attempt's line on stderr


def _declared_metadata(ws: Workspace, key: str) -> str:
    """``@asset(metadata=...)`` as ``name=value`` pairs (empty when none, or the asset is no longer declared)."""
    node = ws.graph.nodes.get(ws.instance(key).asset) if key in ws.planned.nodes else None
    return " ".join(f"{name}={value}" for name, value in node.metadata.items()) if node is not None else ""


# -- lineage ---------------------------------------------------------------------------------------


def _lineage_lines(
    node: LineageNode, ws: Workspace, removed: Collection[str], prefix: str = "", last: bool = True, top: bool = True
) -> list[str]:
    mat = node.materialization
    if mat is not None:
        what = f"{mat.kind.value} #{mat.id} in run {mat.run_id}, code {short(mat.code_version, 8)}"
    elif node.key in ws.planned.nodes and ws.planned.is_source(node.key):
        what = "source"
    else:
        what = "no record of this version"
    if node.key in removed:
        what += "; removed"
    branch = "" if top else ("└── " if last else "├── ")
    lines = [f"{prefix}{branch}{node.key} {short(node.data_version, 12)} ({what})"]
    child_prefix = prefix if top else prefix + ("    " if last else "│   ")
    for i, child in enumerate(node.children):
        lines += _lineage_lines(child, ws, removed, child_prefix, i == len(node.children) - 1, False)
    return lines


def cmd_lineage(args: argparse.Namespace) -> int:
    from ..asset_reports import read_lineage
    from ..lookup import partition_key

    ws = load_workspace(args)
    key, _, spec = args.asset.partition("@")
    key = partition_key(ws, key, args.partition)
    lineage = read_lineage(ws, key, spec, args.downstream)
    if args.json:
        dump_json(lineage.to_json())
        return 0
    tree, removed = lineage.tree, lineage.removed
    print("\n".join(_lineage_lines(tree, ws, removed)))
    return 0


# -- diff ------------------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12]  # a hash
    return "-" if value is None else str(value)


def _arrow(change: Change) -> str:
    return f"{_fmt(change[0])} -> {_fmt(change[1])}"


def _metric(change: Change) -> str:
    old, new = change
    delta = f" ({new - old:+.4g})" if isinstance(old, int | float) and isinstance(new, int | float) else ""
    return _arrow(change) + delta


_REMOVED = "  removed: no longer in the code"


def _asset_lines(diff: AssetDiff) -> list[str]:
    removed = _REMOVED if diff.removed else ""
    if diff.new is None:
        old_id = diff.old.id if diff.old else None
        return [f"  {diff.key}  no version on the B side (#{old_id} on A){removed}"]
    if diff.old is None:
        return [f"  {diff.key}  added: first version #{diff.new.id}{removed}"]
    lines = [f"  {diff.key}  (#{diff.old.id} -> #{diff.new.id}){removed}"]
    if diff.code:
        changed = ", ".join(f"{name} ({how})" for name, how in diff.functions.items())
        lines.append(f"    code version   {_arrow(diff.code)}" + (f"  changed: {changed}" if changed else ""))
    for name, change in diff.inputs.items():
        lines.append(f"    input {name}  {_arrow(change)}")
    if diff.data:
        lines.append(f"    data version   {_arrow(diff.data)}")
    meta = diff.metadata
    if meta.rows:
        lines.append(f"    rows           {_metric(meta.rows)}")
    for title, cols in (("columns added", meta.columns_added), ("columns removed", meta.columns_removed)):
        if cols:
            lines.append(f"    {title:<15}" + ", ".join(f"{c} ({t})" for c, t in cols.items()))
    for col, change in meta.columns_retyped.items():
        lines.append(f"    column {col} type  {_arrow(change)}")
    for name, change in {**meta.metrics, **meta.other}.items():
        lines.append(f"    {name:<15}{_metric(change)}")
    return lines


def _section(title: str, changes: dict[str, Change]) -> list[str]:
    return [f"{title}:"] + [f"  {name}  {_arrow(change)}" for name, change in changes.items()] if changes else []


def _run_diff_lines(diff: RunDiff, checked: dict[str, CheckChanges]) -> list[str]:
    lines = [f"diff {diff.run_a.run_id} -> {diff.run_b.run_id}"]
    lines += _section("packages", diff.packages)
    lines += _section("git", diff.git)
    lines += _section("environment", diff.environment)
    lines += _section("configuration", diff.config)
    if diff.assets:
        lines.append("assets:")
        for asset in diff.assets:
            lines += _asset_lines(asset) + _check_lines(checked.get(asset.key, {}))
    else:
        lines.append("assets: no changes")
    if diff.unchanged:
        lines.append("unchanged: " + ", ".join(diff.unchanged))
    return lines


def cmd_diff(args: argparse.Namespace) -> int:
    from ..asset_reports import compare_versions
    from ..lookup import UnknownAsset, partition_key
    from ..run_reports import compare_runs

    ws = load_workspace(args)
    if args.partition and not args.asset:
        raise UnknownAsset("--partition compares one partition of an asset; add --asset ASSET")
    if args.asset:
        args.asset = partition_key(ws, args.asset, args.partition)
        compared = compare_versions(ws, args.asset, args.a, args.b)
        if args.json:
            dump_json(compared.to_json())
        else:
            asset_diff, checked = compared.diff, compared.checks
            same = f"  {args.asset}: no changes" + (_REMOVED if asset_diff.removed else "")
            changed = asset_diff.changed or checked
            print("\n".join(_asset_lines(asset_diff) + _check_lines(checked) if changed else [same]))
        return 0
    runs = compare_runs(ws, args.a, args.b)
    if args.json:
        dump_json(runs.to_json())
        return 0
    print("\n".join(_run_diff_lines(runs.diff, runs.checks)))
    return 0


def _check_lines(changes: dict[str, tuple[str | None, str | None]]) -> list[str]:
    return [f"    check {name}  {old or '-'} -> {new or '-'}" for name, (old, new) in changes.items()]


# -- rollback --------------------------------------------------------------------------------------


def cmd_rollback(args: argparse.Namespace) -> int:
    from ..lookup import check_asset, partition_key
    from ..rollback import rollback

    ws = load_workspace(args, writes=True)
    args.asset = partition_key(ws, args.asset, args.partition)
    check_asset(ws, args.asset)
    result = rollback(ws, args.asset, args.to)
    target = result.target
    print(
        f"rolled back {args.asset} to {short(target.data_version or '', 12)} "
        f"(#{target.id}, {target.kind.value} in run {target.run_id}); "
        f"recorded as #{result.recorded.id} in run {result.run_id}"
    )
    if result.note:
        print(result.note)
    below = ws.planned.descendants([args.asset])  # of this partition only, for a partitioned asset
    statuses = {s.key: s for s in ws.plan(f"{ws.instance(args.asset).asset}+").statuses}
    stale = [k for k, s in statuses.items() if s.stale and k in below]
    if stale:
        print(f"now stale: {', '.join(stale)}; run 'lakeplan materialize' to rebuild them from this version")
    own = [f"{c.kind.value}: {c.message}" for c in statuses[args.asset].causes]
    if own:
        print(
            f"note: {args.asset} itself plans stale ({'; '.join(own)}), so 'lakeplan materialize' would rebuild it; "
            "revert the code or inputs too to keep this version",
            file=sys.stderr,
        )
    return 0

"""``lakeplan compile | schedules | submit`` (on your machine), ``lakeplan step | plan-task | finish-run`` (in the pod).

hera is imported inside the command functions, so other commands and the pods' steps start fast.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from assets_core.cli.core_commands import (
    SELECT_HELP,
    add_partitions,
    add_select,
    add_target,
    command,
    load_workspace,
    partition_range,
    whole_number_option,
)
from assets_core.cli.output import dump_json, table
from assets_core.errors import ConfigError
from assets_core.schedules import outside_warning
from assets_core.selection import upstreams_outside

from .contract import BUILD_CHOICES, WORKFLOW_STATUSES


def _command(subparsers: Any, name: str, summary: str, epilog: str) -> argparse.ArgumentParser:
    """Every Argo command loads the project, so each takes -m."""
    parser = command(subparsers, name, summary, epilog)
    add_target(parser)
    return parser


def _compile_options(parser: argparse.ArgumentParser) -> None:
    add_select(parser)
    parser.add_argument(
        "--all", action="store_true", help="build every selected asset, not only those the in-cluster plan finds stale"
    )
    parser.add_argument(
        "--plan-here",
        action="store_true",
        help="plan against this machine's store and compile only what is stale there (the pods must use the "
        "same store)",
    )
    parser.add_argument("--template", action="store_true", help="a WorkflowTemplate instead of a Workflow")
    parser.add_argument("--schedules", action="store_true", help="one CronWorkflow per declared schedule")
    parser.add_argument(
        "--split",
        type=whole_number_option(),
        metavar="N",
        help="parts of at most N tasks (default: as large as the size budget allows), run by a parent workflow",
    )
    add_partitions(parser)


def _pod_partitions(parser: argparse.ArgumentParser) -> None:
    """What every pod of a partitioned project is given: the run's ``now`` and the partitions it was compiled for."""
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="expand partitions as at this RFC 3339 time (the workflow's creation or fire time)",
    )
    add_partitions(parser)


def register(subparsers: Any) -> None:
    compile_ = _command(subparsers, "compile", "write the plan as an Argo Workflow (YAML)", COMPILE_EPILOG)
    _compile_options(compile_)
    compile_.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    compile_.set_defaults(handler=cmd_compile)

    schedules = _command(subparsers, "schedules", "list the schedules and their next fire times", SCHEDULES_EPILOG)
    schedules.add_argument(
        "-n", "--count", type=whole_number_option(), default=5, metavar="N", help="fire times to show (default 5)"
    )
    schedules.add_argument("--json", action="store_true", help="print as JSON (schema lakeplan.schedules/v1)")
    schedules.set_defaults(handler=cmd_schedules)

    submit = _command(subparsers, "submit", "create the compiled manifests on an Argo Server", SUBMIT_EPILOG)
    submit.add_argument(
        "--kind",
        choices=("workflow", "cron", "template"),
        default="workflow",
        help="workflow: what is stale now (default); cron: every schedule; template: the whole "
        "selection as a WorkflowTemplate",
    )
    add_select(submit)
    submit.add_argument("--all", action="store_true", help="with --kind workflow: every selected asset")
    submit.add_argument("--plan-here", action="store_true", help="plan against this machine's store (see compile)")
    submit.add_argument(
        "--split", type=whole_number_option(), metavar="N", help="parts of at most N tasks (see compile)"
    )
    add_partitions(submit)
    submit.add_argument("-f", "--file", type=Path, metavar="FILE", help="submit an already compiled YAML file")
    submit.add_argument(
        "--host",
        help="Argo Server URL, e.g. https://argo.example.com:2746 "
        "(default: [tool.lakeplan.argo] host or LAKEPLAN_ARGO_HOST)",
    )
    submit.add_argument("--namespace", help="namespace (default: [tool.lakeplan.argo] namespace)")
    submit.add_argument("--token", help="bearer token (default: LAKEPLAN_ARGO_TOKEN; never put it in pyproject.toml)")
    submit.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="verify the server's TLS certificate (default: [tool.lakeplan.argo] verify, true)",
    )
    submit.set_defaults(handler=cmd_submit)

    step = _command(subparsers, "step", "(in the pod) materialize one asset once", STEP_EPILOG)
    step.add_argument("--asset", required=True, metavar="KEY", help="the asset key")
    step.add_argument("--run-id", required=True, help="the run this materialization belongs to (the workflow name)")
    step.add_argument(
        "--selection",
        default="*",
        help="the run's selection, recorded with the run; an asset waiting on a stale upstream it leaves out fails",
    )
    step.add_argument(
        "--partitions", metavar="KEYS", help="build these partitions of the asset, one by one (keys joined by ',')"
    )
    _pod_partitions(step)
    step.set_defaults(handler=cmd_step)

    plan_task = _command(subparsers, "plan-task", "(in the pod) write which assets are stale now", PLAN_TASK_EPILOG)
    add_select(plan_task)
    plan_task.add_argument("--output", type=Path, required=True, metavar="FILE", help="where Argo reads the result")
    plan_task.add_argument("--run-id", help="record the run under this id (the workflow name)")
    plan_task.add_argument("--graph-digest", help="fail unless the image's graph is the compiled one")
    plan_task.add_argument("--slice", metavar="START:END", help="only this slice of the selection (a part)")
    plan_task.add_argument(
        "--build",
        choices=BUILD_CHOICES,
        default="stale",
        help="list the stale keys (default) or all of them (the workflow's 'build' argument)",
    )
    plan_task.add_argument(
        "--tasks", metavar="MASK", help="which keys of the selection have a task; fail if a stale one has none"
    )
    plan_task.add_argument(
        "--fan-out",
        type=whole_number_option(),
        default=1,
        metavar="N",
        help="at most N batches of partitions per partitioned asset (its fan-out's pods)",
    )
    _pod_partitions(plan_task)
    plan_task.set_defaults(handler=cmd_plan_task)

    finish_run = _command(
        subparsers, "finish-run", "(in the pod) publish and record a workflow's run when it ends", FINISH_RUN_EPILOG
    )
    finish_run.add_argument("--run-id", required=True, help="the run to finish (the workflow name)")
    finish_run.add_argument(
        "--status", required=True, choices=WORKFLOW_STATUSES, help="the workflow's status ({{workflow.status}})"
    )
    finish_run.add_argument("--selection", default="*", help="recorded if no step recorded the run (default '*')")
    finish_run.set_defaults(handler=cmd_finish_run)


COMPILE_EPILOG = f"""\
By default the whole selection is compiled behind a plan task that plans in the cluster, against the
store the pods use, and only the stale assets run; every step re-checks its asset when it runs, so a
workflow never rebuilds something twice. Objects whose projected running size (spec + status) would pass
[tool.lakeplan.argo] budget_bytes are cut into parts; the projected size of each is printed on stderr.
Secrets are referenced by name ([tool.lakeplan.argo] database_secret, lakefs_secret, secret_env), never
inlined. Output is deterministic: the same project gives byte-identical YAML.

--select: {SELECT_HELP}

examples:
  lakeplan compile -m examples.quickstart.pipeline -o workflow.yaml
  lakeplan compile -m examples.quickstart.pipeline --all --template -o template.yaml
  lakeplan compile -m examples.quickstart.pipeline --schedules -o cron.yaml
  lakeplan compile -m examples.quickstart.pipeline --plan-here -o stale-now.yaml
  lakeplan compile -m big_project.assets --split 2000 -o parts.yaml
  lakeplan compile -m examples.partitioned.pipeline --from 2026-01-03 --to 2026-01-09 -o backfill.yaml

A partitioned asset is one task that fans out over the batches of partitions the plan task lists
(withParam; at most [tool.lakeplan.argo] fan_out_pods pods, under parallelism); see docs/argo.md.
"""

SCHEDULES_EPILOG = """\
examples:
  lakeplan schedules -m examples.quickstart.pipeline
  lakeplan schedules -m examples.quickstart.pipeline --json -n 10
"""

SUBMIT_EPILOG = """\
Settings come from the flags, else LAKEPLAN_ARGO_HOST / _NAMESPACE / _TOKEN / _VERIFY, else
[tool.lakeplan.argo] host / namespace / verify. Exit code 3 when the server refuses or cannot be reached.

examples:
  lakeplan submit -m examples.quickstart.pipeline --host https://argo:2746 --namespace ml
  lakeplan submit -m examples.quickstart.pipeline --kind cron --host https://argo:2746 --namespace ml
  lakeplan submit -f workflow.yaml --host https://argo:2746 --namespace ml --no-verify
"""

STEP_EPILOG = """\
The container command of every compiled asset task. Prints one JSON line (one per partition with
--partitions, a fan-out's batch, built one after the other at --now). Exit codes: 0 built, restored,
already fresh, or recorded first by a duplicate pod; 1 the asset's code failed; 2 bad definitions;
3 the metadata store or storage failed. Argo does the retries (the asset's retries=). The first pod of a
workflow records its run (under the workflow name); the exit handler finishes it (see finish-run).

example:
  lakeplan step -m examples.quickstart.pipeline --asset daily_revenue --run-id my-workflow-abc12
"""

PLAN_TASK_EPILOG = """\
The first task of a compiled CronWorkflow: plans at fire time and writes the stale keys to FILE (Argo's
output parameter); asset tasks not listed are skipped, so fresh assets cost no pod. With --run-id it
also records the run, so a fire that builds nothing is still listed by 'lakeplan runs'. For each
partitioned asset it also writes the JSON list of batches (at most --fan-out) of partitions to build,
next to FILE, which that asset's task fans out over.

example:
  lakeplan plan-task -m examples.quickstart.pipeline --select daily_revenue+ --output /tmp/stale.txt \
      --run-id nightly-1700000000
"""

FINISH_RUN_EPILOG = """\
The exit handler (onExit) of every compiled workflow; Argo runs it once the DAG is done. With lakeFS it
merges the run branch into the target branch only when the workflow Succeeded; otherwise the target is
left untouched and the run branch is kept (and named in the JSON line). Then it records the run's status
and counts (from the run's materializations). Running it again changes nothing. Exit code 3 when the
store or lakeFS failed (Argo retries it), e.g. a merge conflict with a concurrent run.

example:
  lakeplan finish-run -m examples.quickstart.pipeline --run-id my-workflow-abc12 --status Succeeded
"""


def _compiled(args: argparse.Namespace, ws: Any) -> Any:
    from .config import argo_config
    from .project import Request, compile_project

    wanted = partition_range(args)
    request = Request(args.select, args.all, args.template, args.schedules, args.split, args.plan_here, wanted)
    return compile_project(ws, argo_config(ws.settings), request)


def cmd_compile(args: argparse.Namespace) -> int:
    from .size import size_lines

    ws = load_workspace(args)
    if args.schedules:
        _outside_by_schedule(ws, warn=True)
    compiled = _compiled(args, ws)
    if compiled.nothing:
        print(f"{compiled.nothing}; no workflow written", file=sys.stderr)
        return 0
    docs, text = compiled.manifests, compiled.yaml
    for line in size_lines(docs, compiled.documents, (0.02, 0.3, 1.0), compiled.partition_bytes):
        print(line, file=sys.stderr)
    if args.output:
        args.output.write_text(text)
        tasks = sum(len(t.get("dag", {}).get("tasks", [])) for d in docs for t in _templates(d))
        print(
            f"wrote {args.output} ({len(docs)} manifest(s), {tasks} DAG tasks, {len(text.encode())} bytes)",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0


def _templates(doc: dict[str, Any]) -> list[dict[str, Any]]:
    from .render import templates_of

    return templates_of(doc)


def _outside_by_schedule(ws: Any, warn: bool) -> dict[str, tuple[str, ...]]:
    """Per schedule, the assets its selection reads but does not build; ``warn`` says so on stderr."""
    found = {s.name: upstreams_outside(ws.graph, ws.select(s.select)) for s in ws.schedules}
    for declared in ws.schedules:
        if warn and found[declared.name]:
            print(f"warning: {outside_warning(declared, found[declared.name])}", file=sys.stderr)
    return found


def cmd_schedules(args: argparse.Namespace) -> int:
    ws = load_workspace(args)
    now = dt.datetime.now(dt.UTC)
    rows = []
    outside_by_schedule = _outside_by_schedule(ws, warn=not args.json)
    for s in ws.schedules:
        times = [t.isoformat() for t in s.next_fire_times(args.count, after=now)]
        outside = outside_by_schedule[s.name]
        rows.append(
            {
                "name": s.name,
                "cron": s.cron,
                "timezone": s.timezone,
                "select": s.select,
                "next": times,
                "upstreams_outside": list(outside),
            }
        )
    if args.json:
        dump_json({"schema": "lakeplan.schedules/v1", "schedules": rows})
        return 0
    if not rows:
        print(f"{ws.target} declares no schedules")
        return 0
    lines = []
    for row in rows:
        lines.append([row["name"], row["cron"], row["timezone"], row["select"], row["next"][0] if row["next"] else ""])
        lines += [["", "", "", "", t] for t in row["next"][1:]]
    table(["SCHEDULE", "CRON", "TIMEZONE", "SELECT", "NEXT FIRE TIMES"], lines)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from assets_core.config import load_settings

    from .config import argo_config
    from .render import from_yaml
    from .submit import Server, submit

    if args.file:
        settings = load_settings()
        docs = from_yaml(args.file.read_text())
    else:
        ws = load_workspace(args)
        settings = ws.settings
        args.template, args.schedules = args.kind == "template", args.kind == "cron"
        docs = _compiled(args, ws).manifests
    config = argo_config(settings)
    host = args.host or config.host
    namespace = args.namespace or config.namespace
    if not host or not namespace:
        missing = "--host" if not host else "--namespace"
        raise ConfigError(f"{missing} is required (or set it under [tool.lakeplan.argo] / LAKEPLAN_ARGO_*)")
    if not docs:
        print("nothing to run; nothing submitted", file=sys.stderr)
        return 0
    token = args.token or config.token
    verify = config.verify if args.verify is None else args.verify
    for done in submit(docs, Server(host, namespace, token, verify)):
        print(f"{done} in {namespace} on {host}")
    return 0


def cmd_step(args: argparse.Namespace) -> int:
    from .pod import run_now, step

    return step(
        args.target, args.asset, args.run_id, args.selection, args.partitions, run_now(args.now), partition_range(args)
    )


def cmd_plan_task(args: argparse.Namespace) -> int:
    from .pod import plan_task, run_now

    part = None
    if args.slice:
        start, _, end = args.slice.partition(":")
        if not (start.isdigit() and end.isdigit()):
            raise ConfigError(f"--slice must be START:END, got {args.slice!r}")
        part = (int(start), int(end))
    every = args.build == "all"
    return plan_task(
        args.target,
        args.select,
        args.output,
        args.run_id,
        args.graph_digest,
        part,
        every,
        args.tasks,
        run_now(args.now),
        partition_range(args),
        args.fan_out,
    )


def cmd_finish_run(args: argparse.Namespace) -> int:
    from .pod import finish_run

    return finish_run(args.target, args.run_id, args.status, args.selection)

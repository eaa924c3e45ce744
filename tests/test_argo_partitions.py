"""Partitions on Argo: a fan-out (``withParam``) per partitioned asset over the batches of stale partitions its
plan task lists, run on the stand-in controller (``argo_harness``) with the pods' real commands, against the
same store state a local ``lakeplan materialize`` gives; CronWorkflow runs expand partitions at their fire time.
"""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from argo_harness import Cluster, Harness, Pod, Refused, dag_tasks
from conftest import Project
from sample_pipelines import PARTITIONED, PARTITIONED_DAYS
from test_argo_harness import _cluster, _compile, _env, _lakeplan_compile
from test_partition_runs import write_events

from argo_compiler import ArgoConfig, ManifestTooLarge, Request, compile_project
from argo_compiler.checks import problems, size_problems
from argo_compiler.contract import batches
from argo_compiler.pod import run_now
from argo_compiler.size import projected_size
from assets_core.config import load_settings
from assets_core.errors import DefinitionError
from assets_core.executor import planned_work, run
from assets_core.records import MaterializationKind
from assets_core.workspace import Workspace


def _project(project: Project, tmp_path: Path, **extra: str) -> tuple[dict[str, str], Path]:
    project.write("pipeline", PARTITIONED)
    for number, day in enumerate(PARTITIONED_DAYS, start=1):
        write_events(project, day, [number, number, -1])
    storage = tmp_path / "pvc"
    storage.mkdir()
    return {**_env(project.database_url, storage), **extra}, storage


def _built(ws: Workspace, run_id: str) -> set[str]:
    return {m.asset_key for m in ws.store.run_materializations(run_id) if m.kind is MaterializationKind.BUILT}


def _versions(ws: Workspace) -> dict[str, str]:
    return {k: h.data_version for k, h in ws.store.heads(list(ws.planned.assets)).items()}


def test_batches_are_consecutive_near_equal_and_at_most_the_fan_out() -> None:
    keys = [f"2026-01-{d:02d}" for d in range(1, 8)]
    assert batches(keys, 3) == ["2026-01-01,2026-01-02,2026-01-03", "2026-01-04,2026-01-05", "2026-01-06,2026-01-07"]
    assert batches(keys[:2], 5) == ["2026-01-01", "2026-01-02"]
    assert batches([], 5) == []


def test_a_partitioned_project_on_argo_builds_what_a_local_run_builds(
    project: Project, tmp_path: Path, validator: Any
) -> None:
    env, storage = _project(project, tmp_path, LAKEPLAN_ARGO_PARALLELISM="2", LAKEPLAN_ARGO_FAN_OUT_PODS="2")
    [workflow] = _compile(project.root, env, "-m", project.module())
    assert not [e.message for e in validator.iter_errors(workflow)]
    tasks = {t["name"]: t for t in dag_tasks(workflow)}
    assert tasks["clean"]["withParam"] == "{{tasks.plan.outputs.parameters.clean}}"
    assert tasks["rolling"]["depends"] == "plan && clean" and "when" not in tasks["rolling"]
    assert tasks["model"]["depends"] == "plan && rolling"

    harness = Harness(workflow, _cluster(project.root, project.database_url, storage), "parts-abc12")
    results = harness.run()
    assert {n: r.phase for n, r in results.items()} == dict.fromkeys(
        ("plan", "clean", "rolling", "model"), "Succeeded"
    ), [i.stderr[-600:] + i.stdout for i in results["clean"].items]
    assert json.loads(results["plan"].outputs["clean"]) == ["2026-01-01,2026-01-02,2026-01-03", "2026-01-04,2026-01-05"]
    assert [i.name for i in results["clean"].items] == [
        "clean(0:2026-01-01,2026-01-02,2026-01-03)",  # operator.go generateNodeName
        "clean(1:2026-01-04,2026-01-05)",
    ]
    assert harness.peak_pods <= 2  # parallelism: 2
    assert harness.exit is not None and harness.exit.phase == "Succeeded", harness.exit.stderr
    assert harness.object_size() <= projected_size(workflow, 1.0, _partition_bytes(project, env))

    ws = Workspace.load(project.module(), load_settings(project.root, env))
    assert not ws.plan().stale
    assert len(_built(ws, "parts-abc12")) == 11  # 5 clean + 5 rolling + model
    local_env = {**env, "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'local.db'}"}
    local_env["LAKEPLAN_STORAGE_ROOT"] = str(tmp_path / "local")
    local = Workspace.load(project.module(), load_settings(project.root, local_env))
    keys, waiting = planned_work(local.plan())
    assert not run(local, keys, waiting=waiting).failed
    assert _versions(ws) == _versions(local) and len(_versions(ws)) == 11

    again = Harness(workflow, _cluster(project.root, project.database_url, storage), "parts-def34").run()
    assert again["clean"].phase == again["rolling"].phase == "Skipped"
    assert again["clean"].message == "Skipped, empty params"  # dag.go executeDAGTask
    assert again["model"].phase == "Skipped"


def _partition_bytes(project: Project, env: dict[str, str]) -> dict[str, int]:
    ws = Workspace.load(project.module(), load_settings(project.root, env))
    config = ArgoConfig(image="registry.example/x:1")
    return dict(compile_project(ws, config, Request()).partition_bytes)


def test_a_backfill_after_one_days_source_changed_rebuilds_only_that_days_cone_on_argo(
    sqlite_project: Project, tmp_path: Path
) -> None:
    env, storage = _project(sqlite_project, tmp_path)
    cluster = _cluster(sqlite_project.root, sqlite_project.database_url, storage)
    [first] = _compile(sqlite_project.root, env, "-m", sqlite_project.module())
    assert Harness(first, cluster, "first-1").run()["model"].phase == "Succeeded"

    write_events(sqlite_project, "2026-01-02", [50, -1])
    [backfill] = _compile(
        sqlite_project.root, env, "-m", sqlite_project.module(), "--from", "2026-01-01", "--to", "2026-01-05"
    )
    plan_args = next(t for t in backfill["spec"]["templates"] if t["name"] == "plan")["container"]["args"]
    assert plan_args[plan_args.index("--from") : plan_args.index("--from") + 4] == [
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-05",
    ]
    results = Harness(backfill, cluster, "backfill-1").run()
    assert json.loads(results["plan"].outputs["clean"]) == ["2026-01-02"]
    ws = Workspace.load(sqlite_project.module(), load_settings(sqlite_project.root, env))
    cone = {"clean/partition=2026-01-02", *(f"rolling/partition=2026-01-0{d}" for d in (2, 3, 4)), "model"}
    assert _built(ws, "backfill-1") == cone
    assert not ws.plan().stale


def test_a_run_in_parts_fans_out_in_each_part_at_the_parents_now(sqlite_project: Project, tmp_path: Path) -> None:
    env, storage = _project(sqlite_project, tmp_path)
    *parts, top = _compile(sqlite_project.root, env, "-m", sqlite_project.module(), "--split", "1")
    assert len(parts) == 3
    for part in parts:
        args = next(t for t in part["spec"]["templates"] if t["name"] == "plan")["container"]["args"]
        assert args[args.index("--now") + 1] == "{{workflow.parameters.now}}"
    manifest = json.loads(top["spec"]["templates"][1]["resource"]["manifest"])
    assert {"name": "now", "value": "{{workflow.creationTimestamp}}"} in manifest["spec"]["arguments"]["parameters"]
    cluster = _cluster(sqlite_project.root, sqlite_project.database_url, storage)
    harness = Harness(top, cluster, "split-1", library=parts)
    harness.run()
    assert harness.status() == "Succeeded", [c.results for c in harness.children]
    ws = Workspace.load(sqlite_project.module(), load_settings(sqlite_project.root, env))
    assert len(_built(ws, "split-1")) == 11 and not ws.plan().stale


SCHEDULED = """
import pandas as pd

from assets_core import all_partitions, asset, daily_partitions, schedule, source_asset

days = daily_partitions("2026-01-01", timezone="Europe/Berlin")  # open: a day exists once it has ended there
events = source_asset("events", path="data/events/{partition}.csv", partitions=days)


@asset(partitions=days)
def clean(events: pd.DataFrame) -> pd.DataFrame:
    return events[events["n"] >= 0].reset_index(drop=True)


@asset(partition_mapping={"clean": all_partitions()})
def total(clean: pd.DataFrame) -> int:
    return int(clean["n"].sum())


nightly = schedule("nightly", cron="30 0 * * *", timezone="Europe/Berlin")
"""


def test_a_cron_fire_builds_the_partition_of_its_fire_time_and_what_else_is_stale(
    sqlite_project: Project, tmp_path: Path
) -> None:
    sqlite_project.write("pipeline", textwrap.dedent(SCHEDULED))
    for day in PARTITIONED_DAYS:
        write_events(sqlite_project, day, [1, 2])
    storage = tmp_path / "pvc"
    storage.mkdir()
    env = _env(sqlite_project.database_url, storage)
    template, cron = _compile(sqlite_project.root, env, "-m", sqlite_project.module(), "--schedules")
    args = next(t for t in template["spec"]["templates"] if t["name"] == "plan")["container"]["args"]
    assert args[args.index("--now") + 1] == "{{workflow.scheduledTime}}"
    cluster = _cluster(sqlite_project.root, sqlite_project.database_url, storage)
    ws = Workspace.load(sqlite_project.module(), load_settings(sqlite_project.root, env))

    def fire(name: str, at: str) -> dict[str, Any]:
        return Harness(cron, cluster, name, library=[template], scheduled_time=at).run()

    # 00:30 in Berlin on the 4th is 23:30 UTC on the 3rd: the days that ended by then are the 1st..3rd.
    first = fire("nightly-1", "2026-01-04T00:30:00+01:00")  # workflow/common/convert.go: time.RFC3339
    assert json.loads(first["plan"].outputs["clean"]) == ["2026-01-01", "2026-01-02", "2026-01-03"]  # 20 pods at most
    assert _built(ws, "nightly-1") == {f"clean/partition=2026-01-0{d}" for d in (1, 2, 3)} | {"total"}

    second = fire("nightly-2", "2026-01-05T00:30:00+01:00")  # one more day has ended: only it, and the total
    assert json.loads(second["plan"].outputs["clean"]) == ["2026-01-04"]
    assert _built(ws, "nightly-2") == {"clean/partition=2026-01-04", "total"}

    manual = Harness(template, cluster, "by-hand-1").run()  # not a cron run: {{workflow.scheduledTime}} stays
    assert manual["plan"].phase == "Failed" and manual["plan"].exit_code == 2
    assert "was not started by its CronWorkflow" in manual["plan"].stderr


def _fan_out(items: Any, parallelism: int) -> dict[str, Any]:
    """A Workflow whose one task fans out over ``items`` (withItems), ``parallelism`` pods at once."""
    step = {
        "name": "step",
        "inputs": {"parameters": [{"name": "x"}]},
        "container": {"image": "i", "command": ["lakeplan"], "args": ["{{inputs.parameters.x}}"]},
    }
    task = {"name": "fan", "template": "step", "arguments": {"parameters": [{"name": "x", "value": "{{item}}"}]}}
    entry = {
        "name": "main",
        "dag": {
            "tasks": [
                {**task, "withItems": items},
                {
                    "name": "after",
                    "template": "step",
                    "depends": "fan",
                    "arguments": {"parameters": [{"name": "x", "value": "done"}]},
                },
            ]
        },
    }
    spec = {"entrypoint": "main", "parallelism": parallelism, "templates": [entry, step]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "f-"}, "spec": spec}


def test_the_stand_in_expands_items_as_the_controller_names_them_under_parallelism(tmp_path: Path) -> None:
    seen: list[str] = []

    def kubelet(pod: Pod) -> int:
        seen.append(pod.argv[-1])
        return 1 if pod.argv[-1] == '{"a":1,"b":"x"}' else 0

    cluster = Cluster(secrets={}, volumes={}, workdir=tmp_path, isolated=False, pods=kubelet)
    harness = Harness(_fan_out(["p", ["q", 2], {"b": "x", "a": 1}], 2), cluster)
    results = harness.run(exit_handler=False)
    assert [i.name for i in results["fan"].items] == ["fan(0:p)", 'fan(1:["q",2])', "fan(2:a:1,b:x)"]
    assert sorted(seen) == sorted(["p", '["q",2]', '{"a":1,"b":"x"}'])  # json.Marshal: compact, keys sorted
    assert results["fan"].phase == "Failed" and results["after"].phase == "Omitted"  # waits for the whole group
    assert harness.peak_pods <= 2

    empty = Harness(_fan_out([], 2), cluster).run(exit_handler=False)
    assert (empty["fan"].phase, empty["fan"].message) == ("Skipped", "Skipped, empty params")
    assert empty["after"].phase == "Succeeded"  # a bare depends passes a Skipped task


@pytest.mark.parametrize("text", ['{"a": 1}', "not json"])
def test_a_with_param_that_is_not_a_json_list_errors_the_task(tmp_path: Path, text: str) -> None:
    manifest = _fan_out([], 2)
    fan = manifest["spec"]["templates"][0]["dag"]["tasks"][0]
    del fan["withItems"]
    fan["withParam"] = text
    results = Harness(manifest, Cluster(secrets={}, volumes={}, workdir=tmp_path, pods=lambda p: 0)).run(
        exit_handler=False
    )
    assert results["fan"].phase == "Error"
    assert results["fan"].message.startswith("withParam value could not be parsed as a JSON list")


def test_a_backfill_of_10k_partition_tasks_stays_within_the_size_budget(sqlite_project: Project) -> None:
    assets = "\n".join(
        f"@asset(partitions=days)\ndef a{i}({'a' + str(i - 1) if i else 'events'}: dict) -> dict: ...\n"
        for i in range(30)
    )
    sqlite_project.write(
        "pipeline",
        "from assets_core import asset, daily_partitions, source_asset\n"
        'days = daily_partitions("2025-01-01", end="2026-01-01")\n'
        'events = source_asset("events", path="data/{partition}.json", partitions=days)\n' + assets,
    )
    ws = sqlite_project.workspace()
    config = ArgoConfig(image="registry.example/x:1")
    compiled = compile_project(ws, config, Request(all=True))
    sizes = [projected_size(d, 1.0, compiled.partition_bytes) for d in compiled.manifests]
    assert max(sizes) <= config.budget_bytes
    fanned = [t for d in compiled.manifests for t in dag_tasks(d) if "withParam" in t]
    assert len(fanned) == 30  # one task per asset, never one per partition
    assert sum(len(doc) for doc in compiled.documents) < 200_000

    # Run it on the stand-in with in-process pods: each plan pod lists every partition of its part's assets
    # (what a first backfill's plan writes), the steps succeed; every object is measured from what ran.
    days = [d.isoformat() for d in (dt.date(2025, 1, 1) + dt.timedelta(n) for n in range(365))]

    def kubelet(pod: Pod) -> int:
        for name, path in pod.outputs.items():
            text = " " if name == "stale" else json.dumps(batches(days, config.fan_out_pods))
            Path(path).write_text(text)
        return 0

    *parts, top = compiled.manifests
    secrets = {"lakeplan-database": {"url": "postgresql://unused"}}
    cluster = Cluster(secrets, {"lakeplan-storage": sqlite_project.root}, sqlite_project.root, pods=kubelet)
    harness = Harness(top, cluster, "backfill-10k", library=parts)
    harness.run()
    assert harness.status() == "Succeeded", [(n, r.phase, r.message) for n, r in harness.results.items()]
    ran = [harness, *harness.children]
    assert sum(len(r.items) for child in harness.children for r in child.results.values()) == 30 * config.fan_out_pods
    measured = {run.workflow_name: run.object_size() for run in ran}  # parent 5 KB, parts ~510 KB
    assert max(measured.values()) <= config.budget_bytes, measured
    for child, part in zip(harness.children, parts, strict=False):
        assert child.object_size() <= projected_size(part, 1.0, compiled.partition_bytes)
    # The semantic checks project the same way: the objects fit, and a limit under what ran is caught only
    # with the partitions' bytes (without them each part projects to about 16 KB: its fan-outs all Skipped).
    assert problems(compiled.manifests, partition_bytes=compiled.partition_bytes) == []
    below = max(measured.values()) - 1
    assert len(size_problems(compiled.manifests, below, compiled.partition_bytes)) >= 1
    assert size_problems(compiled.manifests, below) == []


def test_one_asset_with_more_partitions_than_one_object_holds_is_refused_in_one_line(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        "from assets_core import asset, daily_partitions, source_asset\n"
        'days = daily_partitions("1990-01-01", end="2026-01-01")\n'
        'events = source_asset("events", path="data/{partition}.json", partitions=days)\n'
        "@asset(partitions=days)\ndef a(events: dict) -> dict: ...\n",
    )
    with pytest.raises(
        ManifestTooLarge, match=r"^asset 'a' alone grows to [\d,]+ bytes running .* narrower --from/--to"
    ):
        compile_project(sqlite_project.workspace(), ArgoConfig(image="registry.example/x:1"), Request(all=True))


def test_partition_options_with_schedules_are_refused_in_one_line(sqlite_project: Project, tmp_path: Path) -> None:
    env, _ = _project(sqlite_project, tmp_path)
    done = _lakeplan_compile(
        sqlite_project.root, env, "-m", sqlite_project.module(), "--schedules", "--from", "2026-01-02"
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr.startswith("error: --partition/--from/--to choose a backfill's partitions")
        and done.stderr.count("\n") == 1
    )
    unknown = _lakeplan_compile(sqlite_project.root, env, "-m", sqlite_project.module(), "--partition", "2026-02-30")
    assert (unknown.returncode, unknown.stderr.count("\n")) == (2, 1)
    assert "unknown partition key '2026-02-30'" in unknown.stderr


def test_the_stand_in_refuses_what_validate_go_cannot_resolve(tmp_path: Path) -> None:
    cluster = Cluster(secrets={}, volumes={}, workdir=tmp_path, pods=lambda p: 0)
    manifest = _fan_out(["a"], 2)
    after = manifest["spec"]["templates"][0]["dag"]["tasks"][1]
    after["arguments"]["parameters"][0]["value"] = "{{item}}"  # no withItems/withParam on this task
    with pytest.raises(Refused, match=r"tasks.after failed to resolve \{\{item\}\}"):
        Harness(manifest, cluster)
    after["arguments"]["parameters"][0]["value"] = "{{tasks.fan.outputs.parameters.out}}"  # fan declares no output
    with pytest.raises(Refused, match="failed to resolve"):
        Harness(manifest, cluster)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-04T00:30:00+01:00", dt.datetime(2026, 1, 3, 23, 30, tzinfo=dt.UTC)),  # time.RFC3339 with an offset
        ("2026-11-30T08:00:00Z", dt.datetime(2026, 11, 30, 8, tzinfo=dt.UTC)),
    ],
)
def test_the_pods_read_argos_rfc3339_times(text: str, expected: dt.datetime) -> None:
    assert run_now(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{workflow.scheduledTime}}", "was not started by its CronWorkflow"),
        ("yesterday", "is not an RFC 3339 time"),
        ("2026-01-04T00:30:00", "has no UTC offset"),
    ],
)
def test_a_now_the_pods_cannot_use_is_one_line(text: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        run_now(text)

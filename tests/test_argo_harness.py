"""Proof that compiled manifests run: their own container commands, executed by ``argo_harness`` in the
manifest's dependency order against a shared PostgreSQL store and a shared storage directory (the PVC).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from argo_harness import Cluster, Harness, TaskRun, dag_tasks
from conftest import REPO, Project, _make_project
from sample_pipelines import WAREHOUSE

from argo_compiler import from_yaml
from argo_compiler.size import projected_size
from assets_core.config import load_settings
from assets_core.records import MaterializationKind, RunStatus
from assets_core.workspace import Workspace

QUICKSTART = "examples.quickstart.pipeline"
QUICKSTART_ASSETS = {"orders", "daily_revenue", "customer_features", "churn_model", "model_report"}


def _env(database_url: str, storage: Path) -> dict[str, str]:
    """The developer's shell when compiling: the shared store, and the image the pods use."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
    env.update(
        LAKEPLAN_DATABASE_URL=database_url,
        LAKEPLAN_STORAGE_ROOT=str(storage),
        LAKEPLAN_ARGO_IMAGE="registry.example/lakeplan-quickstart:1",
        LAKEPLAN_RETRY_BACKOFF_SECONDS="0",
    )
    return env


def _compile(cwd: Path, env: Mapping[str, str], *args: str) -> list[dict[str, Any]]:
    """``lakeplan compile`` as a user runs it: the manifests it writes."""
    done = _lakeplan_compile(cwd, env, *args)
    assert done.returncode == 0, done.stderr
    return from_yaml(done.stdout)


def _lakeplan_compile(cwd: Path, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assets_core", "compile", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cluster(workdir: Path, database_url: str, storage: Path) -> Cluster:
    return Cluster(
        secrets={"lakeplan-database": {"url": database_url}},
        volumes={"lakeplan-storage": storage},
        workdir=workdir,
        image_env={"LAKEPLAN_RETRY_BACKOFF_SECONDS": "0"},
    )


def _outcomes(results: Mapping[str, Any]) -> dict[str, str]:
    """Each asset task's outcome (the plan task prints no outcome)."""
    return {n: _outcome(r.stdout) for n, r in results.items() if n != "plan"}


def _keys(manifest: Mapping[str, Any]) -> set[str]:
    return {t["arguments"]["parameters"][0]["value"] for t in dag_tasks(manifest) if "arguments" in t}


def _outcome(stdout: str) -> str:
    outcome: str = json.loads(stdout.strip().splitlines()[-1])["outcome"]
    return outcome


@pytest.mark.postgres
@pytest.mark.slow
def test_quickstart_workflow_materializes_everything_then_compiles_empty_and_cron_runs_only_the_plan(
    tmp_path: Path, postgres_url: str
) -> None:
    storage = tmp_path / "pvc"
    storage.mkdir()
    env = _env(postgres_url, storage)
    [workflow] = _compile(REPO, env, "-m", QUICKSTART)
    assert _keys(workflow) == QUICKSTART_ASSETS

    harness = Harness(workflow, _cluster(REPO, postgres_url, storage), workflow_name="quickstart-abc12")
    results = harness.run()
    assert {r.phase for r in results.values()} == {"Succeeded"}, {n: r.stderr for n, r in results.items()}
    assert set(_outcomes(results).values()) == {"built"}

    ws = Workspace.load(QUICKSTART, load_settings(REPO, env))
    assert ws.plan().counts() == {"assets": 5, "stale": 0, "fresh": 5, "waiting": 0}
    assert harness.exit is not None and harness.exit.phase == "Succeeded", harness.exit.stderr
    [run] = ws.store.runs()  # the pods and the exit handler recorded one run, under the workflow name
    assert (run.run_id, run.status, run.selection) == ("quickstart-abc12", RunStatus.SUCCESS, "*")
    assert run.counts == {"built": 5, "restored": 0, "failed": 0} and run.finished_at is not None
    assert run.environment["config"]["module"] == QUICKSTART  # captured in the pod that started the run
    assert run.environment["image"] == env["LAKEPLAN_ARGO_IMAGE"]  # the pod's LAKEPLAN_IMAGE, from its image
    recorded = ws.store.run_materializations("quickstart-abc12")
    assert sorted(m.asset_key for m in recorded) == sorted(QUICKSTART_ASSETS)
    assert all(m.location and (storage / m.location).is_file() for m in recorded)
    assert harness.object_size() <= projected_size(workflow, 1.0)  # the compiler's model is not optimistic

    nothing = _lakeplan_compile(REPO, env, "-m", QUICKSTART, "--plan-here")
    assert (nothing.returncode, nothing.stdout) == (0, "")  # no empty DAG, which Argo refuses
    assert "nothing is stale in '*'" in nothing.stderr
    again = Harness(workflow, _cluster(REPO, postgres_url, storage), workflow_name="quickstart-def34").run()
    assert {n: r.phase for n, r in again.items()} == {"plan": "Succeeded", **{n: "Skipped" for n in _outcomes(results)}}
    assert again["orders"].message == "when 'false' evaluated false"  # not the stale list (dag.go skipReason)

    template, cron = _compile(REPO, env, "-m", QUICKSTART, "--schedules")
    fired = Harness(cron, _cluster(REPO, postgres_url, storage), "nightly-1700000000", library=[template]).run()
    assert fired["plan"].phase == "Succeeded"
    assert fired["plan"].outputs == {"stale": " "}
    assert {n: r.phase for n, r in fired.items() if n != "plan"} == {"orders": "Skipped", "daily-revenue": "Skipped"}
    assert ws.store.run_materializations("nightly-1700000000") == []
    quiet = ws.store.run("nightly-1700000000")  # started by the plan task, finished by the exit handler
    assert quiet is not None and (quiet.status, quiet.selection) == (RunStatus.SUCCESS, "+daily_revenue")
    assert quiet.counts == {"built": 0, "restored": 0, "failed": 0}


PIPELINE = """
import time
from pathlib import Path

from assets_core import asset, schedule, source_asset

ROOT = Path(__file__).resolve().parent.parent
raw = source_asset("raw", path="../raw.json")


@asset
def base(raw: dict) -> dict:
    return {"text": raw["text"]}


@asset(retries=2)
def slow(base: dict) -> dict:
    (ROOT / "started").write_text("1")
    while (ROOT / "hold").exists():
        time.sleep(0.05)
    return {"text": base["text"].upper()}


@asset
def report(slow: dict) -> dict:
    return {"length": len(slow["text"])}


every_hour = schedule("hourly", cron="0 * * * *", select="*")
"""


def _setup(project: Project, tmp_path: Path) -> tuple[dict[str, str], Path]:
    project.write("pipeline", PIPELINE)
    project.write_file("raw.json", '{"text": "hello"}')
    storage = tmp_path / "pvc"
    storage.mkdir()
    return _env(project.database_url, storage), storage


def _built(ws: Workspace, key: str) -> int:
    return sum(1 for m in ws.store.history(key) if m.kind is MaterializationKind.BUILT)


def test_killed_step_rerun_by_argo_records_exactly_one_materialization(project: Project, tmp_path: Path) -> None:
    env, storage = _setup(project, tmp_path)
    [workflow] = _compile(project.root, env, "-m", project.module(), "--all")
    harness = Harness(workflow, _cluster(project.root, project.database_url, storage), workflow_name="wf-kill-1")
    assert harness.run_task("base").phase == "Succeeded"

    (project.root / "hold").write_text("1")
    pod = harness.start("slow")
    deadline = time.monotonic() + 60
    while not (project.root / "started").exists():
        assert pod.poll() is None and time.monotonic() < deadline, pod.communicate()
        time.sleep(0.05)
    pod.kill()  # SIGKILL while the user's function runs
    assert pod.wait(timeout=30) == -9

    ws = Workspace.load(project.module(), load_settings(project.root, env))
    assert _built(ws, "slow") == 0

    (project.root / "hold").unlink()
    retried = harness.run_task("slow")  # Argo's retry: the same command in a new pod
    assert (retried.phase, _outcome(retried.stdout)) == ("Succeeded", "built"), retried.stderr
    duplicate = harness.run_task("slow")  # a duplicated pod of the same task
    assert (duplicate.phase, _outcome(duplicate.stdout)) == ("Succeeded", "fresh"), duplicate.stderr
    assert _built(ws, "slow") == 1
    assert harness.run_task("report").phase == "Succeeded"
    assert ws.plan().counts()["stale"] == 0


def test_cron_fire_runs_only_what_is_stale_including_transitively(project: Project, tmp_path: Path) -> None:
    env, storage = _setup(project, tmp_path)
    template, cron = _compile(project.root, env, "-m", project.module(), "--schedules")
    assert (template["kind"], cron["kind"]) == ("WorkflowTemplate", "CronWorkflow")
    cluster = _cluster(project.root, project.database_url, storage)

    def fire(name: str) -> dict[str, TaskRun]:
        return Harness(cron, cluster, workflow_name=name, library=[template]).run()

    first = fire("hourly-1")
    assert {n: r.phase for n, r in first.items()} == {n: "Succeeded" for n in ("plan", "base", "slow", "report")}

    quiet = fire("hourly-2")
    assert {n: r.phase for n, r in quiet.items()} == {
        "plan": "Succeeded",
        "base": "Skipped",
        "slow": "Skipped",
        "report": "Skipped",
    }

    # Only the source changes: base is stale for DATA, slow and report only because base is (UPSTREAM).
    project.write_file("raw.json", '{"text": "hello again"}')
    changed = fire("hourly-3")
    assert changed["plan"].outputs["stale"].split() == ["base", "slow", "report"]
    assert {_outcome(changed[n].stdout) for n in ("base", "slow", "report")} == {"built"}


FAILING = """
from assets_core import asset


@asset
def a() -> int:
    return 1


@asset
def b(a: int) -> int:
    raise ValueError("bad row")


@asset
def c(b: int) -> int:
    return b


@asset
def x() -> int:
    return 2


@asset
def y(x: int) -> int:
    return x + 1
"""


@pytest.mark.slow
def test_split_and_unsplit_runs_fail_the_same_way(tmp_path: Path) -> None:
    """A failure stops what depends on it and nothing else, whether the run is one workflow or parts of one
    asset each (the old split omitted every later part after a failure in one part); both runs fail."""
    outcomes = {}
    for run_id, flags in (("whole-1", ()), ("parts-1", ("--split", "1"))):
        project = _make_project(tmp_path / run_id, f"sqlite:///{tmp_path / run_id / 'store.db'}")
        project.write("pipeline", FAILING)
        storage = tmp_path / run_id / "pvc"
        storage.mkdir()
        env = _env(project.database_url, storage)
        *parts, top = _compile(project.root, env, "-m", project.module(), *flags)
        assert len(parts) == (5 if flags else 0)
        harness = Harness(top, _cluster(project.root, project.database_url, storage), run_id, library=parts)
        harness.run()
        assert harness.status() == "Failed" and harness.exit is not None, run_id
        assert json.loads(harness.exit.stdout.splitlines()[-1])["workflow_status"] == "Failed"
        ws = Workspace.load(project.module(), load_settings(project.root, env))
        outcomes[run_id] = sorted((m.asset_key, m.kind.value) for m in ws.store.run_materializations(run_id))
    assert outcomes["whole-1"] == outcomes["parts-1"], outcomes
    assert [key for key, _ in outcomes["whole-1"]] == ["a", "b", "x", "y"]  # c waits on the failed b


@pytest.mark.postgres
@pytest.mark.slow
def test_a_resource_secret_reaches_the_pods_by_secret_key_ref(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled run of a warehouse pipeline: without the resource's Secret only the asset using it fails, in
    one line naming the variable (the ref is optional); with it, the pods build the PostgreSQL table."""
    project = _make_project(tmp_path, postgres_url)
    project.write("pipeline", WAREHOUSE)
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2]}))
    storage = tmp_path / "pvc"
    storage.mkdir()
    env = _env(postgres_url, storage)
    [workflow] = _compile(project.root, env, "-m", project.module(), "--all")

    cluster = _cluster(project.root, postgres_url, storage)
    missing = Harness(workflow, cluster, workflow_name="wh-1").run()
    assert (missing["orders"].phase, missing["revenue"].phase) == ("Succeeded", "Failed")
    assert "needs its secret 'url' from the environment variable WAREHOUSE_URL" in missing["revenue"].stdout
    assert missing["report"].phase == "Omitted"

    cluster.secrets = {**cluster.secrets, "lakeplan-resource-warehouse": {"url": postgres_url}}
    present = Harness(workflow, cluster, workflow_name="wh-2").run()
    assert _outcomes(present) == {"orders": "fresh", "revenue": "built", "report": "built"}
    monkeypatch.setenv("WAREHOUSE_URL", postgres_url)  # to ask the warehouse from here
    ws = Workspace.load(project.module(), load_settings(project.root, env))
    manager, where = ws.io_manager_at(ws.store.heads()["revenue"].location)
    assert where.endswith(f"revenue__{ws.store.heads()['revenue'].data_version[:16]}")
    assert manager.exists(where, ws.store.heads()["revenue"].data_version, verify=True)

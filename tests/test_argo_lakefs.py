"""An Argo workflow run is one lakeplan run: its pods write to the lakeFS run branch, and its exit handler
(``lakeplan finish-run``) merges that branch into the target only when the workflow Succeeded.

Compiled manifests run through ``argo_harness`` (their own container commands) against PostgreSQL and
lakeFS (``tests/lakefs_server.py`` unless LAKEPLAN_TEST_LAKEFS_* point at a real one), with the lakeFS
credentials coming from the cluster's Secret as the manifest references them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lakefs
import pytest
from argo_harness import Cluster, Harness, TaskRun
from conftest import Project, _make_project
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture

from argo_compiler import ArgoConfig, Request, compile_project
from assets_core.records import RunRecord, RunStatus

PIPELINE = """
    from assets_core import asset, schedule, source_asset

    raw = source_asset("raw", path="../data/raw.json")


    @asset
    def base(raw: dict) -> dict:
        return {"text": raw["text"]}


    @asset
    def shout(base: dict) -> dict:
        return {"text": base["text"].upper()}


    @asset
    def report(shout: dict) -> dict:
        FAIL
        return {"length": len(shout["text"])}


    hourly = schedule("hourly", cron="0 * * * *", select="*")
"""
CONFIG = ArgoConfig(image="registry.example/lakeplan-test:1", lakefs_secret="lakefs-credentials")


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Iterator[Project]:
    """A fresh project on PostgreSQL, the store an Argo cluster's pods share."""
    yield _make_project(tmp_path, postgres_url)


def _setup(project: Project, target: LakeFS, *, fail: bool = False) -> Project:
    target.configure(project.root)
    project.write("pipeline", PIPELINE.replace("FAIL", "raise ValueError('bad row')" if fail else "pass"))
    target.put("data/raw.json", b'{"text": "hello"}', "sources")
    return project


def _cluster(project: Project, target: LakeFS, tmp_path: Path) -> Cluster:
    storage = tmp_path / "pvc"
    storage.mkdir(exist_ok=True)
    return Cluster(
        secrets={
            "lakeplan-database": {"url": project.database_url},
            "lakefs-credentials": {"access_key_id": target.access_key, "secret_access_key": target.secret_key},
        },
        volumes={"lakeplan-storage": storage},
        workdir=project.root,
        image_env={"LAKEPLAN_RETRY_BACKOFF_SECONDS": "0"},
    )


def _line(run: TaskRun | None) -> dict[str, Any]:
    assert run is not None
    line: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return line


def _branches(target: LakeFS) -> set[str]:
    return {b.id for b in lakefs.Repository(target.repository, client=target.client).branches()}


def _run(project: Project, run_id: str) -> RunRecord:
    record = project.workspace().store.run(run_id)
    assert record is not None, f"no lp_runs row for {run_id}"
    return record


@pytest.mark.postgres
def test_split_run_publishes_in_exit_handler(pg_project: Project, lakefs_target: LakeFS, tmp_path: Path) -> None:  # noqa: F811
    """A split workflow publishes only in its exit handler; a re-run of the handler is harmless."""
    project = _setup(pg_project, lakefs_target)
    *parts, parent = compile_project(project.workspace(), CONFIG, Request(all=True, split=2)).manifests
    harness = Harness(parent, _cluster(project, lakefs_target, tmp_path), "lakeplan-wf-ok12", library=parts)
    assert len(parts) == 2 and all(p["kind"] == "WorkflowTemplate" for p in parts)
    before = lakefs_target.branch().get_commit().id

    results = harness.run(exit_handler=False)
    phases = {n: r.phase for part in results.values() for n, r in part.children.items() if n != "plan"}
    assert phases == {"base": "Succeeded", "shout": "Succeeded", "report": "Succeeded"}
    assert lakefs_target.branch().get_commit().id == before  # built on the run branch, not yet published
    assert not lakefs_target.branch().object("assets/report.json").exists()
    assert _run(project, "lakeplan-wf-ok12").status is RunStatus.RUNNING  # the first pod recorded the run

    finished = harness.run_exit()
    assert finished is not None and finished.phase == "Succeeded", finished.stderr
    assert _line(finished)["outcome"] == "published" and "published run lakeplan-wf-ok12" in _line(finished)["note"]
    published = lakefs_target.branch().get_commit().id
    assert published != before and lakefs_target.branch().get_commit().metadata == {
        "lakeplan.run_id": "lakeplan-wf-ok12"
    }
    report = lakefs_target.branch().object("assets/report.json").reader("rb", pre_sign=False).read()
    assert json.loads(report) == {"length": 5}
    assert "lakeplan-run-lakeplan-wf-ok12" not in _branches(lakefs_target)
    run = _run(project, "lakeplan-wf-ok12")
    assert (run.status, run.counts, run.selection) == (RunStatus.SUCCESS, {"built": 3, "restored": 0, "failed": 0}, "*")
    assert project.workspace().plan().counts()["stale"] == 0  # the target now holds what the run built

    again = harness.run_exit()  # Argo retrying the exit handler
    assert again is not None and again.phase == "Succeeded", again.stderr
    assert "nothing to publish" in _line(again)["note"]
    assert lakefs_target.branch().get_commit().id == published
    rerun = _run(project, "lakeplan-wf-ok12")
    assert (rerun.status, rerun.counts) == (RunStatus.SUCCESS, run.counts)


@pytest.mark.postgres
def test_failed_cron_keeps_target_unchanged(pg_project: Project, lakefs_target: LakeFS, tmp_path: Path) -> None:  # noqa: F811
    """A failed CronWorkflow fire leaves the target branch alone and keeps (and names) the run branch."""
    project = _setup(pg_project, lakefs_target, fail=True)
    template, cron = compile_project(project.workspace(), CONFIG, Request(schedules=True)).manifests
    before = lakefs_target.branch().get_commit().id

    harness = Harness(cron, _cluster(project, lakefs_target, tmp_path), "hourly-1700000000", library=[template])
    results = harness.run()
    assert {n: r.phase for n, r in results.items()} == {
        "plan": "Succeeded",
        "base": "Succeeded",
        "shout": "Succeeded",
        "report": "Failed",
    }
    assert harness.exit is not None and harness.exit.phase == "Succeeded", harness.exit.stderr
    line = _line(harness.exit)
    assert (line["workflow_status"], line["outcome"]) == ("Failed", "not published")
    assert "'main' is unchanged" in line["note"] and "'lakeplan-run-hourly-1700000000'" in line["note"]
    assert lakefs_target.branch().get_commit().id == before
    assert not lakefs_target.branch().object("assets/base.json").exists()
    kept = lakefs_target.branch("lakeplan-run-hourly-1700000000")
    assert kept.object("assets/shout.json").exists()  # kept for debugging
    run = _run(project, "hourly-1700000000")
    assert (run.status, run.counts) == (RunStatus.FAILED, {"built": 2, "restored": 0, "failed": 1})

    again = harness.run_exit()  # a retried exit handler changes nothing
    assert again is not None and again.phase == "Succeeded" and _line(again)["note"] == line["note"]
    assert lakefs_target.branch().get_commit().id == before
    assert "lakeplan-run-hourly-1700000000" in _branches(lakefs_target)
    assert _run(project, "hourly-1700000000").status is RunStatus.FAILED


@pytest.mark.postgres
def test_exit_handler_retry_after_merge(pg_project: Project, lakefs_target: LakeFS, tmp_path: Path) -> None:  # noqa: F811
    """An exit handler that died between merging and cleaning up is retried: published once, run recorded."""
    server = lakefs_target.fake_only()
    project = _setup(pg_project, lakefs_target)
    [workflow] = compile_project(project.workspace(), CONFIG, Request(all=True)).manifests
    harness = Harness(workflow, _cluster(project, lakefs_target, tmp_path), "lakeplan-wf-retry1")
    harness.run(exit_handler=False)

    server.fail(503, times=100, method="DELETE", path_part="/branches/lakeplan-run-")  # cleanup keeps failing
    first = harness.run_exit()
    assert first is not None and first.exit_code == 3 and _line(first)["outcome"] == "error", first.stderr
    merged = lakefs_target.branch().get_commit()
    assert merged.metadata == {"lakeplan.run_id": "lakeplan-wf-retry1"}  # the merge itself went through
    assert _run(project, "lakeplan-wf-retry1").status is RunStatus.FAILED  # as far as this attempt knows

    server.faults.clear()
    retried = harness.run_exit()
    assert retried is not None and retried.phase == "Succeeded", retried.stderr
    assert f"as commit {merged.id[:12]}" in _line(retried)["note"]  # recognised the earlier merge
    assert lakefs_target.branch().get_commit().id == merged.id  # no second merge commit
    assert "lakeplan-run-lakeplan-wf-retry1" not in _branches(lakefs_target)
    run = _run(project, "lakeplan-wf-retry1")
    assert (run.status, run.counts) == (RunStatus.SUCCESS, {"built": 3, "restored": 0, "failed": 0})

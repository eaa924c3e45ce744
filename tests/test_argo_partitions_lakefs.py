"""Partitions on Argo with lakeFS as the store: each fan-out pod writes its partitions to the run branch as
``ASSET/partition=KEY`` objects, the exit handler merges the branch only when every partition (and its
blocking checks) passed. On the Argo stand-in (``argo_harness``) against the lakeFS stand-in
(``lakefs_server``), compared with a local ``lakeplan materialize`` of the same sources."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import lakefs
import pytest
from argo_harness import Harness
from conftest import Project
from sample_pipelines import PARTITIONED, PARTITIONED_DAYS
from test_argo_lakefs import CONFIG, _branches, _cluster, _line, _run
from test_argo_partitions import _built, _versions
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture
from test_partition_runs import CHECKED

from argo_compiler import Request, compile_project
from assets_core.config import load_settings
from assets_core.partition_scope import PartitionRange
from assets_core.records import RunStatus
from assets_core.workspace import Workspace


def _events(day: str, counts: list[int]) -> bytes:
    return ("event_id,n\n" + "".join(f"{day}-{i},{n}\n" for i, n in enumerate(counts))).encode()


def _setup(project: Project, target: LakeFS, pipeline: str = PARTITIONED) -> Project:
    """The partitioned pipeline on ``target``, its day files committed on main as someone else would."""
    target.configure(project.root)
    project.write("pipeline", pipeline)
    _put_events(project, target)
    return project


def _put_events(project: Project, target: LakeFS) -> None:
    """Each day's events on ``target``'s main, as test_partition_runs.partitioned writes them to files."""
    for number, day in enumerate(PARTITIONED_DAYS, start=1):
        target.put(f"{project.package}/data/events/{day}.csv", _events(day, [number, number, -1]), f"events {day}")


def _harness(project: Project, target: LakeFS, tmp_path: Path, name: str, request: Request) -> Harness:
    [workflow] = compile_project(project.workspace(), replace(CONFIG, fan_out_pods=2), request).manifests
    return Harness(workflow, _cluster(project, target, tmp_path), name)


def _objects(target: LakeFS, ref: str = "main") -> set[str]:
    listed = lakefs.Repository(target.repository, client=target.client).ref(ref).objects(prefix="assets/")
    return {o.path for o in listed}


def _local_copy(project: Project, target: LakeFS, tmp_path: Path) -> dict[str, str]:
    """A local ``lakeplan materialize`` of the same sources in a second repository and database: its versions."""
    local = target.sibling("local")
    _put_events(project, local)
    env = {**project.env(), "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'local.db'}"}
    env["LAKEPLAN_LAKEFS_REPOSITORY"] = local.repository
    done = project.cli("materialize", "-m", project.module(), env=env)
    assert done.returncode == 0, done.stderr
    return _versions(Workspace.load(project.module(), load_settings(project.root, env)))


@pytest.mark.slow
def test_a_partitioned_run_on_argo_publishes_what_a_local_run_publishes_as_partition_objects(
    sqlite_project: Project,
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = _setup(sqlite_project, lakefs_target)
    harness = _harness(project, lakefs_target, tmp_path, "parts-lake1", Request())
    results = harness.run()
    assert {n: r.phase for n, r in results.items()} == dict.fromkeys(("plan", "clean", "rolling", "model"), "Succeeded")
    assert harness.exit is not None and _line(harness.exit)["outcome"] == "published", harness.exit.stderr
    days = [f"partition={d}" for d in PARTITIONED_DAYS]
    assert _objects(lakefs_target) == {
        *(f"assets/clean/{d}.parquet" for d in days),
        *(f"assets/rolling/{d}.parquet" for d in days),
        "assets/model.json",
    }
    assert "lakeplan-run-parts-lake1" not in _branches(lakefs_target)
    ws = project.workspace()
    assert not ws.plan().stale and len(_built(ws, "parts-lake1")) == 11
    assert _versions(ws) == _local_copy(project, lakefs_target, tmp_path)

    published = lakefs_target.branch().get_commit().id
    lakefs_target.put(f"{project.package}/data/events/2026-01-02.csv", _events("2026-01-02", [50, -1]))
    backfill = _harness(
        project, lakefs_target, tmp_path, "parts-lake2", Request(partitions=PartitionRange("2026-01-01", "2026-01-05"))
    )
    results = backfill.run()
    assert json.loads(results["plan"].outputs["clean"]) == ["2026-01-02"]
    cone = {"clean/partition=2026-01-02", *(f"rolling/partition=2026-01-0{d}" for d in (2, 3, 4)), "model"}
    ws = project.workspace()
    assert _built(ws, "parts-lake2") == cone and not ws.plan().stale
    assert backfill.exit is not None and _line(backfill.exit)["outcome"] == "published"
    changed = lakefs.Repository(lakefs_target.repository, client=lakefs_target.client).ref(published).diff("main")
    assert {c.path for c in changed if c.path.startswith("assets/")} == {
        f"assets/{k}.parquet" for k in cone - {"model"}
    } | {"assets/model.json"}


@pytest.mark.slow
def test_a_blocking_check_failing_on_one_partition_fails_its_item_and_the_run_is_not_published(
    sqlite_project: Project,
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = _setup(sqlite_project, lakefs_target, CHECKED.replace("VERSION", "1"))
    lakefs_target.put(f"{project.package}/data/events/2026-01-03.csv", _events("2026-01-03", [500, 1]))
    before = lakefs_target.branch().get_commit().id
    harness = _harness(project, lakefs_target, tmp_path, "parts-check1", Request())
    results = harness.run()
    assert {n: r.phase for n, r in results.items()} == {
        "plan": "Succeeded",
        "clean": "Failed",  # the TaskGroup fails when one item did (dag.go)
        "rolling": "Omitted",  # per-asset dependencies: every partition of rolling waits (docs/argo.md)
        "model": "Omitted",
    }
    failed, other = results["clean"].items
    assert (failed.name, failed.phase, failed.exit_code) == ("clean(0:2026-01-01,2026-01-02,2026-01-03)", "Failed", 1)
    assert other.phase == "Succeeded"
    lines = [json.loads(line) for line in failed.stdout.strip().splitlines()]
    assert [(x["key"], x["outcome"]) for x in lines] == [
        ("clean/partition=2026-01-01", "built"),
        ("clean/partition=2026-01-02", "built"),
        ("clean/partition=2026-01-03", "failed"),
    ]
    assert "blocking check 'small_counts' failed (big=1 day=\"2026-01-03\")" in lines[-1]["message"]
    ws = project.workspace()
    assert _built(ws, "parts-check1") == {f"clean/partition={d}" for d in PARTITIONED_DAYS if d != "2026-01-03"}
    assert "clean/partition=2026-01-03" not in ws.store.heads(["clean/partition=2026-01-03"])

    assert harness.exit is not None and _line(harness.exit)["outcome"] == "not published", harness.exit.stderr
    forced = harness.run_exit(status="Succeeded")  # even an exit handler told the workflow succeeded
    assert forced is not None and forced.phase == "Succeeded", forced.stderr
    note = _line(forced)["note"]
    assert note.startswith("not published: blocking check clean/partition=2026-01-03:small_counts failed;")
    assert "'lakeplan-run-parts-check1'" in note and "'main' is unchanged" in note
    assert lakefs_target.branch().get_commit().id == before and not _objects(lakefs_target)
    assert "assets/clean/partition=2026-01-03.parquet" in _objects(lakefs_target, "lakeplan-run-parts-check1")
    assert _run(project, "parts-check1").status is RunStatus.FAILED

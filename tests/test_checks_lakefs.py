"""Asset checks gate publishing (issue 15): with lakeFS a run whose blocking check failed is not merged, the
target branch stays unchanged and the note names the run branch holding the failed data; on Argo the
check runs in the asset's pod and the exit handler (``finish-run``) keeps the run branch unmerged even if
told the workflow Succeeded. Against tests/lakefs_server.py (or a real lakeFS) and tests/argo_harness.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argo_harness import Harness
from conftest import Project
from test_argo_lakefs import CONFIG, _branches, _cluster, _line, _run, pg_project  # noqa: F401 - the fixture
from test_argo_lakefs import PIPELINE as ARGO_PIPELINE
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture

from argo_compiler import Request, compile_project
from assets_core.records import RunStatus

# test_argo_lakefs's raw -> base -> shout -> report, with a blocking check on shout
PIPELINE = (
    ARGO_PIPELINE.replace("FAIL", "pass")
    + """
    from assets_core import CheckResult, asset_check


    @asset_check(asset="shout", blocking=True)
    def no_bad_words(shout: dict) -> CheckResult:
        return CheckResult(passed="BAD" not in shout["text"], metadata={"text": shout["text"]})
"""
)


def _setup(project: Project, target: LakeFS, text: str, pipeline: str = PIPELINE) -> Project:
    target.configure(project.root)
    project.write("pipeline", pipeline)
    target.put("data/raw.json", json.dumps({"text": text}).encode(), "sources")
    return project


def _harness(project: Project, target: LakeFS, tmp_path: Path, name: str) -> Harness:
    """The project's pipeline as it is now, compiled to one workflow, on a stand-in cluster as run ``name``."""
    [workflow] = compile_project(project.workspace(), CONFIG, Request(all=True)).manifests
    return Harness(workflow, _cluster(project, target, tmp_path), name)


def test_local_run_with_a_failed_blocking_check_is_not_merged(sqlite_project: Project, lakefs_target: LakeFS) -> None:  # noqa: F811
    project = _setup(sqlite_project, lakefs_target, "a bad day")
    before = lakefs_target.branch().get_commit().id
    failed = project.cli("materialize", "-m", project.module())
    assert failed.returncode == 1
    assert "failed shout: blocking check 'no_bad_words' failed" in failed.stderr
    assert "skipped   report (0.00s)  upstream 'shout' failed" in failed.stderr
    assert "'main' is unchanged" in failed.stderr and "kept on branch 'lakeplan-run-" in failed.stderr
    assert lakefs_target.branch().get_commit().id == before  # nothing reached the target branch
    assert not lakefs_target.branch().object("assets/shout.json").exists()
    [kept] = [b for b in _branches(lakefs_target) if b.startswith("lakeplan-run-")]
    assert json.loads(lakefs_target.branch(kept).object("assets/shout.json").reader("rb", pre_sign=False).read()) == {
        "text": "A BAD DAY"
    }  # the failed data, on the run branch named in the note

    project.write("pipeline", PIPELINE.replace('"BAD" not in', '"WORSE" not in'))  # the check was wrong
    fixed = project.cli("materialize", "-m", project.module(), "--json")
    assert fixed.returncode == 0, fixed.stderr
    outcomes = {r["key"]: r["outcome"] for r in json.loads(fixed.stdout)["results"]}
    assert outcomes == {"base": "restored", "shout": "restored", "report": "built"}  # shout re-checked, not rebuilt
    assert lakefs_target.branch().object("assets/report.json").exists()  # published


def test_check_command_reads_the_published_version_and_writes_nothing(
    sqlite_project: Project,
    lakefs_target: LakeFS,  # noqa: F811
) -> None:
    project = _setup(sqlite_project, lakefs_target, "a good day")
    project.cli("materialize", "-m", project.module(), check=True)
    published = lakefs_target.branch().get_commit().id
    branches = _branches(lakefs_target)

    passed = project.cli("check", "-m", project.module(), "shout", "--json")
    assert passed.returncode == 0, passed.stderr
    [result] = json.loads(passed.stdout)["checks"]
    assert (result["check"], result["passed"], result["metadata"]) == ("no_bad_words", True, {"text": "A GOOD DAY"})

    project.write("pipeline", PIPELINE.replace('"BAD" not in', '"GOOD" not in'))  # stricter: fails on main's data
    failed = project.cli("check", "-m", project.module(), "shout")
    assert failed.returncode == 1
    assert "error: blocking check 'no_bad_words' failed (text=\"A GOOD DAY\")" in failed.stderr
    assert lakefs_target.branch().get_commit().id == published  # a check reads; it never commits or merges
    assert _branches(lakefs_target) == branches  # and opens no run branch
    plan = {s.key: s.label for s in project.workspace().plan().statuses}
    assert plan == {"base": "FRESH", "shout": "CHECK", "report": "STALE"}  # held back until it passes


@pytest.mark.postgres
@pytest.mark.slow
def test_argo_blocking_check_keeps_the_branch_unmerged_until_the_check_is_fixed(
    pg_project: Project,  # noqa: F811
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = _setup(pg_project, lakefs_target, "bad news")
    harness = _harness(project, lakefs_target, tmp_path, "lakeplan-wf-check1")
    before = lakefs_target.branch().get_commit().id

    results = harness.run()
    assert {n: r.phase for n, r in results.items() if n != "plan"} == {
        "base": "Succeeded",
        "shout": "Failed",  # the check ran in the asset's own pod
        "report": "Omitted",
    }
    step = _line(results["shout"])
    assert step["outcome"] == "failed" and "blocking check 'no_bad_words' failed" in step["message"]
    assert results["shout"].exit_code == 1
    assert harness.exit is not None and _line(harness.exit)["outcome"] == "not published"
    assert lakefs_target.branch().get_commit().id == before

    forced = harness.run_exit(status="Succeeded")  # even an exit handler told the workflow succeeded
    assert forced is not None and forced.phase == "Succeeded", forced.stderr
    note = _line(forced)["note"]
    assert note.startswith("not published: blocking check shout:no_bad_words failed;")
    assert "'lakeplan-run-lakeplan-wf-check1'" in note and "'main' is unchanged" in note
    assert lakefs_target.branch().get_commit().id == before
    assert "lakeplan-run-lakeplan-wf-check1" in _branches(lakefs_target)
    assert _run(project, "lakeplan-wf-check1").status is RunStatus.FAILED

    project.write("pipeline", PIPELINE.replace('"BAD" not in', '"WORSE" not in'))  # the check was wrong: fix it
    rerun = _harness(project, lakefs_target, tmp_path, "lakeplan-wf-check2")
    results = rerun.run()
    assert {n: _line(r)["outcome"] for n, r in results.items() if n != "plan"} == {
        "base": "restored",  # built by the unpublished run, copied onto this run's branch
        "shout": "restored",  # the output that failed, re-checked by the new check, not rebuilt
        "report": "built",
    }
    assert rerun.exit is not None and _line(rerun.exit)["outcome"] == "published"
    report = lakefs_target.branch().object("assets/report.json").reader("rb", pre_sign=False).read()
    assert json.loads(report) == {"length": 8}


@pytest.mark.postgres
@pytest.mark.slow
def test_argo_check_only_step_rechecks_in_the_pod_without_a_rebuild(
    pg_project: Project,  # noqa: F811
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = _setup(pg_project, lakefs_target, "good news")
    assert _harness(project, lakefs_target, tmp_path, "lakeplan-wf-only1").run()
    shout = project.workspace().store.heads()["shout"]

    printing = PIPELINE.replace(
        "    return CheckResult(", '    print("checking", shout["text"])\n        return CheckResult('
    )
    project.write("pipeline", printing)  # only the check's code changed
    harness = _harness(project, lakefs_target, tmp_path, "lakeplan-wf-only2")
    results = harness.run()
    outcomes = {n: _line(r)["outcome"] for n, r in results.items() if n != "plan"}
    assert outcomes == {"base": "fresh", "shout": "checked", "report": "fresh"}  # re-checked in its pod, not rebuilt
    assert "checking GOOD NEWS" in results["shout"].stderr  # what the check printed, in the pod's log
    assert project.workspace().store.heads()["shout"] == shout
    assert harness.exit is not None and harness.exit.phase == "Succeeded"

    before = lakefs_target.branch().get_commit().id
    project.write("pipeline", printing.replace('"BAD" not in', '"GOOD" not in'))  # now fails the current version
    failing = _harness(project, lakefs_target, tmp_path, "lakeplan-wf-only3")
    results = failing.run()
    assert {n: r.phase for n, r in results.items() if n != "plan"} == {
        "base": "Succeeded",
        "shout": "Failed",
        "report": "Omitted",
    }
    step = _line(results["shout"])
    assert step["outcome"] == "failed" and "blocking check 'no_bad_words' failed" in step["message"]
    assert failing.exit is not None and _line(failing.exit)["outcome"] == "not published"
    assert lakefs_target.branch().get_commit().id == before
    assert project.workspace().store.heads()["shout"] == shout  # the version stays; its dependents wait

"""Timeouts on Argo (issue 10 "Timeouts", issue 12 item 3): an asset's timeout becomes its step template's
``activeDeadlineSeconds`` (and the same ``timeout``, which the controller would otherwise let replace it); the
step in the pod stops itself at the timeout and records the failure, so Argo sees exit 1 (retried only as the
asset's ``retries`` say); a pod that cannot stop itself is killed at its deadline by the kubelet."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from argo_harness import DEADLINE_EXCEEDED, Cluster, Harness
from conftest import Project
from sample_pipelines import HUNG, HUNG_CHECK
from test_argo_harness import _compile, _env, _outcome

from argo_compiler.compiler import POD_START_GRACE_SECONDS
from assets_core.config import load_settings
from assets_core.records import MaterializationKind
from assets_core.workspace import Workspace


def _templates(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each asset's step template, by asset key."""
    spec = manifest["spec"]
    by_name = {t["name"]: t for t in spec["templates"]}
    dag = by_name["main"]["dag"]["tasks"]
    return {t["arguments"]["parameters"][0]["value"]: by_name[t["template"]] for t in dag if "arguments" in t}


def _setup(project: Project, tmp_path: Path, **settings: str) -> tuple[dict[str, str], Path, dict[str, Any]]:
    project.write("pipeline", HUNG.format(timeout="1s", retries=0))
    storage = tmp_path / "pvc"
    storage.mkdir()
    env = {**_env(project.database_url, storage), **settings}
    [workflow] = _compile(project.root, env, "-m", project.module(), "--all")
    return env, storage, workflow


def _cluster(project: Project, storage: Path, **image_env: str) -> Cluster:
    return Cluster(
        secrets={"lakeplan-database": {"url": project.database_url}},
        volumes={"lakeplan-storage": storage},
        workdir=project.root,
        image_env={"LAKEPLAN_RETRY_BACKOFF_SECONDS": "0", **image_env},
    )


def test_a_timed_asset_gets_a_pod_deadline_and_the_manifest_validates(
    sqlite_project: Project, tmp_path: Path, validator: Any
) -> None:
    _, _, workflow = _setup(sqlite_project, tmp_path, LAKEPLAN_TIMEOUT="2h")
    templates = _templates(workflow)
    hung = templates["hung"]
    assert hung["activeDeadlineSeconds"] == 1 + POD_START_GRACE_SECONDS
    assert hung["timeout"] == f"{1 + POD_START_GRACE_SECONDS}s"  # else the controller's timeout would replace it
    later = templates["later"]  # the project's default, from the compiling shell's environment
    assert later["activeDeadlineSeconds"] == 7200 + POD_START_GRACE_SECONDS
    assert {"name": "LAKEPLAN_TIMEOUT", "value": "7200"} in later["container"]["env"]  # the pods enforce it too
    assert [e.message for e in validator.iter_errors(workflow)] == []
    # (a module without timeouts compiles as before: the golden manifests in test_argo_compile are unchanged)


def test_the_pod_stops_a_hung_step_and_records_it_as_timed_out(project: Project, tmp_path: Path) -> None:
    env, storage, workflow = _setup(project, tmp_path)
    started = time.monotonic()
    results = Harness(workflow, _cluster(project, storage), workflow_name="wf-timeout-1").run()
    seconds = time.monotonic() - started
    hung = results["hung"]
    assert (hung.phase, hung.exit_code, hung.attempts) == ("Failed", 1, 1)  # exit 1: retried only as retries say
    assert _outcome(hung.stdout) == "failed" and '"message": "timed out after 1s (' in hung.stdout
    assert results["later"].phase == "Succeeded"  # an independent branch finishes (failFast: false)
    assert results["after-hung"].phase in ("Omitted", "Failed")  # its dependency failed
    assert seconds < 60

    ws = Workspace.load(project.module(), load_settings(project.root, env))
    [failure] = ws.store.history("hung")
    assert failure.kind is MaterializationKind.FAILED and failure.error == _message(hung.stdout)
    assert ws.store.held_claims() == []


def test_the_pod_stops_a_hung_check_within_its_assets_limit(sqlite_project: Project, tmp_path: Path) -> None:
    """A check counts toward its asset's attempt: the pod fails it 'timed out', keeps what it printed, and
    exits 1 before the pod's own deadline would kill it."""
    project = sqlite_project
    project.write("pipeline", HUNG_CHECK)
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2]}))
    storage = tmp_path / "pvc"
    storage.mkdir()
    env = _env(project.database_url, storage)
    [workflow] = _compile(project.root, env, "-m", project.module(), "--all")
    started = time.monotonic()
    results = Harness(workflow, _cluster(project, storage), workflow_name="wf-timeout-3").run()
    assert time.monotonic() - started < 60
    numbers = results["numbers"]
    assert (numbers.phase, numbers.exit_code, numbers.attempts) == ("Failed", 1, 1)
    assert _message(numbers.stdout).startswith("blocking check 'no_negatives' timed out after 1s (")
    assert "checking 2" in numbers.stderr  # the check's print, in the pod's log
    assert results["total"].phase == "Omitted"
    ws = Workspace.load(project.module(), load_settings(project.root, env))
    [failure] = ws.store.attempts("numbers")
    assert failure.kind is MaterializationKind.FAILED and failure.log == "checking 2\n"
    assert ws.store.held_claims() == []


@pytest.mark.slow
def test_a_pod_that_cannot_stop_itself_is_killed_at_its_deadline(sqlite_project: Project, tmp_path: Path) -> None:
    """The backstop: the step is stuck outside Python (SIGALRM blocked), so the kubelet ends the pod at its
    deadline. (3 s here instead of 301 s: the rule, not the grace, is under test.)"""
    env, storage, workflow = _setup(sqlite_project, tmp_path)
    template = _templates(workflow)["hung"]
    template.update(activeDeadlineSeconds=3, timeout="3s")
    template["retryStrategy"]["limit"] = 1
    harness = Harness(workflow, _cluster(sqlite_project, storage, HANG="c"), workflow_name="wf-timeout-2")
    started = time.monotonic()
    hung = harness.run_task("hung")
    assert time.monotonic() - started < 20
    assert (hung.phase, hung.message, hung.exit_code) == ("Failed", DEADLINE_EXCEEDED, 143)  # killed by SIGTERM
    assert hung.attempts == 2  # an infrastructure failure to Argo's retryStrategy: retried
    ws = Workspace.load(sqlite_project.module(), load_settings(sqlite_project.root, env))
    assert ws.store.history("hung") == []  # nothing recorded by a killed pod
    # a killed pod's claim lapses by its 1 s deadline (not a 30 s lease), so the next pod or run takes over
    assert all(c.expires_at - c.claimed_at < 2 for c in ws.store.held_claims())


def _message(stdout: str) -> str:
    message: str = json.loads(stdout.strip().splitlines()[-1])["message"]
    return message

"""Part 1 of the hardening issue for Argo pods: the in-pod ``lakeplan step`` SIGKILLed at many points.

The step runs exactly as a compiled Workflow's task runs it (``tests/argo_harness.py``: its container
command, env and secrets, against PostgreSQL and a shared PVC directory), except that ``python -m
assets_core`` is replaced by ``tests/kill_wrapper.py`` so the pod kills itself at a chosen point. After
each kill: every recorded head has its complete data, and the retried task (the same command, the same
run id, as an Argo retry) and a duplicated pod leave exactly one materialization of the asset in that run.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from argo_harness import Cluster, Harness
from conftest import Project, _make_project
from test_argo_harness import _compile, _env, _outcome
from test_faults_kill import WRAPPER, _assert_store_consistent, _bump_seed, _setup

from assets_core.records import MaterializationKind

KEY = "big_a"  # a ~9.6 MB Parquet table
# (point, N) where the pod dies; see tests/kill_wrapper.py. ``step`` has no final bookkeeping of its own.
POD_POINTS = [
    ("write-bytes", 1),
    ("write-bytes", 5_000_000),
    ("publish-before", 1),
    ("publish-after", 1),
    ("claim-held", 1),
    ("record-uncommitted", 1),
    ("record-after", 1),
]


def _killed_pod(harness: Harness, task: str, point: str, n: int) -> None:
    argv, env, _ = harness.command(task)
    assert argv[1:3] == ["-m", "assets_core"], argv
    argv = [argv[0], str(WRAPPER), point, str(n), *argv[3:]]
    done = subprocess.run(argv, cwd=harness.cluster.workdir, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, f"{point} {n} did not kill the pod ({done.returncode}): {done.stderr}"


def _built_in_run(project: Project, run_id: str) -> list[str]:
    ws = project.workspace()
    try:
        return [m.asset_key for m in ws.store.run_materializations(run_id) if m.kind is MaterializationKind.BUILT]
    finally:
        ws.store.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_killed_step_pod_then_argo_retry_records_exactly_one_materialization(tmp_path: Path, postgres_url: str) -> None:
    project = _make_project(tmp_path, postgres_url)
    _setup(project)
    storage = project.settings().resolved_storage_root
    storage.mkdir(parents=True, exist_ok=True)
    env = _env(postgres_url, storage)
    cluster = Cluster(
        secrets={"lakeplan-database": {"url": postgres_url}},
        volumes={"lakeplan-storage": storage},
        workdir=project.root,
        image_env={"LAKEPLAN_RETRY_BACKOFF_SECONDS": "0"},
    )
    for i, (point, n) in enumerate(POD_POINTS, start=1):
        _bump_seed(project, i)  # a new source version: big_a is stale again
        [workflow] = _compile(project.root, env, "-m", project.module(), "--all")
        run_id = f"wf-pod-kill-{i}"
        harness = Harness(workflow, cluster, workflow_name=run_id)
        steps = {name: t for name, t in harness.tasks.items() if name != "plan"}
        task = next(name for name, t in steps.items() if t["arguments"]["parameters"][0]["value"] == KEY)
        _killed_pod(harness, task, point, n)

        survived = _assert_store_consistent(project)  # nothing recorded without its complete data
        recorded = _built_in_run(project, run_id)
        assert recorded == ([KEY] if point == "record-after" else []), (point, recorded)
        assert (KEY in survived) == (point == "record-after"), (point, survived)

        retried = harness.run_task(task)  # Argo's retry: the same command, the same workflow name
        expected = "fresh" if point == "record-after" else "built"
        assert (retried.phase, _outcome(retried.stdout)) == ("Succeeded", expected), (point, retried.stderr)
        duplicate = harness.run_task(task)  # a duplicated pod of the same task
        assert (duplicate.phase, _outcome(duplicate.stdout)) == ("Succeeded", "fresh"), (point, duplicate.stderr)
        assert _built_in_run(project, run_id) == [KEY], point
        assert KEY in _assert_store_consistent(project)
        line = json.loads(retried.stdout.strip().splitlines()[-1])
        assert line["run_id"] == run_id

"""Parts 2 and 3 of the hardening issue: retried and duplicated steps, concurrent runs.

A step takes its asset's claim first (assets_core/claims.py), so a second run waits for the first and
then finds the asset FRESH; compare-and-set on the head is the second line of defence, for a run that
lost its claim (lease expired) and finishes late. Steps run through ``tests/step_driver.py``, which calls
the same ``step.materialize`` an Argo pod runs.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import REPO, Project

from assets_core.claims import Claim, Taken, supersedes
from assets_core.metadata_store import MetadataStore, RecordConflict
from assets_core.records import Materialization, MaterializationKind
from assets_core.schema import claims, materializations
from assets_core.step import Outcome, materialize

DRIVER = REPO / "tests" / "step_driver.py"
PROBLEMS = ("database is locked", "Traceback", "deadlock", "error:")

HOLDING = """
import os
import time
from pathlib import Path
from typing import Any

from assets_core import asset

ROOT = Path(__file__).resolve().parent.parent


def hold(key: str) -> None:
    # When this process was started with HOLD=<key>: announce it, then wait until the test releases it.
    if os.environ.get("HOLD") == key:
        (ROOT / "started").write_text(key)
        while not (ROOT / "release").exists():
            time.sleep(0.02)
"""

CHAIN = (
    HOLDING
    + """

@asset
def a() -> dict:
    hold("a")
    return {"a": 1}


@asset
def b(a: dict) -> dict:
    return {**a, "b": 2}


@asset
def c(b: dict) -> dict:
    time.sleep(0.2)
    return {**b, "c": 3}


@asset
def d(a: dict) -> dict:
    time.sleep(0.2)
    return {**a, "d": 4}


@asset
def e() -> list:
    return [5]
"""
)

FAN_IN = "\n".join(
    [
        "import time",
        "from assets_core import asset",
        *[f"@asset\ndef part_{i}() -> dict:\n    time.sleep(0.05)\n    return {{'part': {i}}}\n" for i in range(12)],
        "@asset",
        f"def total({', '.join(f'part_{i}: dict' for i in range(12))}) -> int:",
        f"    return sum(p['part'] for p in [{', '.join(f'part_{i}' for i in range(12))}])",
    ]
)


@dataclass
class Pod:
    """A step process; its stderr goes to a file so a test can watch it while it runs."""

    proc: subprocess.Popen[str]
    stderr: Path

    def err(self) -> str:
        return self.stderr.read_text()


def _driver(project: Project, run_id: str, keys: list[str], **env: str) -> Pod:
    path = project.root / f"{run_id}.err"
    with path.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), project.module(), run_id, *keys],
            cwd=project.root,
            env={**project.env(), **env},
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    return Pod(proc, path)


def _finish(pod: Pod, timeout: float = 120) -> list[dict[str, str]]:
    out, _ = pod.proc.communicate(timeout=timeout)
    assert pod.proc.returncode == 0, pod.err()
    assert not any(p in pod.err() for p in PROBLEMS), pod.err()
    return [json.loads(line) for line in out.splitlines()]


def _until(condition: Callable[[], bool], proc: subprocess.Popen[Any], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"process ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _built_counts(store: MetadataStore) -> Counter[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(materializations.c.asset_key).where(materializations.c.kind == MaterializationKind.BUILT.value)
        ).all()
    return Counter(r.asset_key for r in rows)


def _claims_left(store: MetadataStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(claims)).scalar_one())


# -- claims, the pure rule and the store ---------------------------------------------------------


def test_a_claim_is_superseded_only_by_its_own_run_an_expired_lease_or_a_dead_holder() -> None:
    mine = Claim("x", "run-2", "host:2", 100.0, 130.0)
    live = Claim("x", "run-1", "host:1", 90.0, 120.0)
    assert not supersedes(mine, live, 100.0, alive=lambda _: True)
    assert supersedes(mine, live, 120.0, alive=lambda _: True)  # lease ran out
    assert supersedes(mine, live, 100.0, alive=lambda _: False)  # holder process is gone
    assert supersedes(mine, Claim("x", "run-2", "host:9", 90.0, 120.0), 100.0, alive=lambda _: True)  # a retry


def test_store_claims_are_exclusive_until_released(database_url: str) -> None:
    store = MetadataStore.open(database_url)
    now = time.time()
    first = Claim("x", "run-1", "h:1", now, now + 30)
    second = Claim("x", "run-2", "h:2", now, now + 30)
    never = lambda _: False  # noqa: E731 - the rule under test is supersedes(); here nobody supersedes
    assert isinstance(store.claim(first, never), Taken)
    assert store.claim(second, never) == first
    assert store.renew_claim(first, now + 60) and not store.renew_claim(second, now + 60)
    store.release_claim(second)  # not ours: nothing happens
    assert store.held_claims() == [Claim("x", "run-1", "h:1", now, now + 60)]
    store.release_claim(first)
    assert isinstance(store.claim(second, never), Taken)
    assert isinstance(store.claim(first, lambda current: current.expires_at <= now + 31), Taken)  # taken over
    assert [c.run_id for c in store.held_claims()] == ["run-1"]
    store.close()


# -- part 2: retries and duplicates --------------------------------------------------------------


def test_same_step_in_sequence_records_once(project: Project) -> None:
    project.write("pipeline", CHAIN)
    ws = project.workspace()
    assert materialize(ws, "a", "run-1").outcome is Outcome.BUILT
    assert materialize(ws, "a", "run-1").outcome is Outcome.FRESH  # an Argo retry of the same step
    assert materialize(ws, "a", "run-2").outcome is Outcome.FRESH  # a later run
    assert _built_counts(ws.store) == {"a": 1}
    assert len(ws.store.history("a")) == 1 and _claims_left(ws.store) == 0


def test_duplicated_step_running_concurrently_records_once(project: Project) -> None:
    project.write("pipeline", CHAIN)
    first = _driver(project, "run-pod-1", ["a"], HOLD="a")
    _until((project.root / "started").exists, first.proc, "the first pod is inside a's code, holding the claim")
    second = _driver(project, "run-pod-2", ["a"])
    _until(lambda: "waiting for run run-pod-1" in second.err(), second.proc, "the duplicate waits for the claim")
    (project.root / "release").touch()
    assert _finish(first) == [{"key": "a", "outcome": "built", "message": ""}]
    [dup] = _finish(second)
    assert dup["outcome"] == "fresh" and dup["message"].startswith("waited for run run-pod-1")
    ws = project.workspace()
    assert _built_counts(ws.store) == {"a": 1} and _claims_left(ws.store) == 0


def test_slower_older_run_never_overwrites_a_newer_materialization(project: Project) -> None:
    """The old run loses its claim (lease expired, e.g. a network partition) and finishes late: CAS refuses it."""
    project.write("pipeline", CHAIN)
    old = _driver(project, "run-old", ["a"], HOLD="a")
    _until((project.root / "started").exists, old.proc, "the old run is inside a's code")
    ws = project.workspace()
    with ws.store.engine.begin() as conn:
        conn.execute(claims.update().values(expires_at=0.0))
    assert materialize(ws, "a", "run-new").outcome is Outcome.BUILT
    (project.root / "release").touch()
    [late] = _finish(old)
    assert late["outcome"] == "conflict"
    assert ws.store.heads(["a"])["a"].run_id == "run-new"
    assert _built_counts(ws.store) == {"a": 1}


def test_record_is_compare_and_set_on_the_head(database_url: str) -> None:
    store = MetadataStore.open(database_url)

    def mat(run_id: str, version: str) -> Materialization:
        return Materialization("x", run_id, MaterializationKind.BUILT, "c1", {}, version, f"x/{version}.json")

    first = store.record(mat("run-1", "v1"), None)
    newer = store.record(mat("run-2", "v2"), first)
    with pytest.raises(RecordConflict):
        store.record(mat("run-3", "v3"), first)  # built from the old head, finished last
    with pytest.raises(RecordConflict):
        store.record(mat("run-4", "v4"), None)  # thought the asset was new
    head = store.heads(["x"])["x"]
    assert (head.id, head.data_version) == (newer, "v2")
    assert [m.data_version for m in store.history("x")] == ["v2", "v1"]
    store.close()


# -- part 3: concurrent runs ---------------------------------------------------------------------


@pytest.mark.slow
def test_two_materialize_runs_over_overlapping_selections(project: Project) -> None:
    project.write("pipeline", CHAIN)
    logs = project.root / "logs"
    logs.mkdir()
    cmd = [sys.executable, "-m", "assets_core", "materialize", "-m", project.module()]
    with (logs / "a.err").open("w") as a_err, (logs / "b.err").open("w") as b_err:
        run_a = subprocess.Popen(
            [*cmd, "--select", "+c"], cwd=project.root, env={**project.env(), "HOLD": "a"}, stderr=a_err, text=True
        )
        _until((project.root / "started").exists, run_a, "run a is inside a's code")
        run_b = subprocess.Popen([*cmd, "--workers", "2"], cwd=project.root, env=project.env(), stderr=b_err)
        deadline = time.monotonic() + 60
        while "built     e" not in (logs / "b.err").read_text():  # b's two workers took 'a' and 'e' together
            assert run_b.poll() is None and time.monotonic() < deadline, (logs / "b.err").read_text()
            time.sleep(0.05)
        time.sleep(3.0)  # b's other worker, started with the first, is now waiting for run a's claim on 'a'
        (project.root / "release").touch()
        assert run_a.wait(120) == 0 and run_b.wait(120) == 0
    a_text, b_text = (logs / "a.err").read_text(), (logs / "b.err").read_text()
    assert not any(p in a_text + b_text for p in PROBLEMS), a_text + b_text
    ws = project.workspace()
    run_a_id = next(r.run_id for r in ws.store.runs() if r.selection == "+c")
    assert "fresh     a (" in b_text and f"waited for run {run_a_id}" in b_text
    assert _built_counts(ws.store) == {k: 1 for k in "abcde"}
    assert _claims_left(ws.store) == 0
    assert all(r.status.value == "success" for r in ws.store.runs())
    assert not ws.plan().stale


def _eight_pods(project: Project) -> None:
    project.write("pipeline", FAN_IN)
    parts = [f"part_{i}" for i in range(12)]
    pods = []
    for n in range(8):
        order = random.Random(n).sample(parts, len(parts))
        pods.append(_driver(project, f"run-pod-{n}", [*order, "total"]))
    outcomes: dict[str, Counter[str]] = {}
    for pod in pods:
        for line in _finish(pod, timeout=180):
            outcomes.setdefault(line["key"], Counter())[line["outcome"]] += 1
    assert outcomes == {key: Counter(built=1, fresh=7) for key in [*parts, "total"]}
    ws = project.workspace()
    assert _built_counts(ws.store) == {key: 1 for key in [*parts, "total"]}
    assert _claims_left(ws.store) == 0
    assert len(ws.store.heads()) == 13


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_parallel_step_processes_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    from conftest import _make_project

    _eight_pods(_make_project(tmp_path, postgres_url))


@pytest.mark.slow
def test_eight_parallel_step_processes_on_sqlite(sqlite_project: Project) -> None:
    _eight_pods(sqlite_project)

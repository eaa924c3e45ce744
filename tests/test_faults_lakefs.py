"""Part 1 of the hardening issue for the lakeFS store: ``lakeplan materialize`` SIGKILLed inside it.

Against the spec-validated fake lakeFS (``tests/lakefs_server.py``) or a real one (see
``tests/test_lakefs_store.py``). ``tests/kill_wrapper.py`` kills the run mid-upload of a ~1.6 MB Parquet
object, between an upload and its commit, between a commit and its SQL record, before the merge into the
target branch and after it. After each kill: every SQL head points to a lakeFS commit that holds its
object with the recorded checksum, every lakeplan commit on a run branch holds its object, the target
branch is untouched unless the merge itself went through, and the next run completes and publishes.
"""

from __future__ import annotations

import http.server
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import lakefs
import pytest
from conftest import Project
from test_faults_kill import WRAPPER
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture

from io_managers.lakefs_store import parse_uri

PIPELINE = """
import numpy as np
import pandas as pd

from assets_core import asset, source_asset

seed = source_asset("seed", path="../data/seed.json")


@asset
def big(seed: dict) -> pd.DataFrame:
    rng = np.random.default_rng(seed["n"])
    return pd.DataFrame({c: rng.standard_normal(100_000) for c in "xy"})


@asset
def small(seed: dict) -> dict:
    return {"n": seed["n"]}


@asset
def summary(big: pd.DataFrame, small: dict) -> dict:
    return {"x": float(big["x"].sum()), "n": small["n"]}
"""
ASSETS = {"big", "small", "summary"}
# (point, N, assets the killed run recorded in SQL, assets it committed on its lakeFS run branch):
# N counts uploads / commits / merges of the run (assets run in the order big, small, summary).
POINTS = [
    ("lakefs-upload", 1, 0, 0),
    ("lakefs-commit-before", 1, 0, 0),
    ("lakefs-commit-before", 3, 2, 2),
    ("lakefs-commit-after", 1, 0, 1),
    ("lakefs-commit-after", 3, 2, 3),
    ("lakefs-merge-before", 1, 3, 3),
    ("lakefs-merge-after", 1, 3, 3),
]


def _setup(project: Project, target: LakeFS) -> None:
    target.configure(project.root)
    project.write("pipeline", PIPELINE)


def _repo(target: LakeFS) -> Any:
    return lakefs.Repository(target.repository, client=target.client)


def _killed_run(project: Project, point: str, n: int) -> None:
    args = [sys.executable, str(WRAPPER), point, str(n), "materialize", "-m", project.module(), "-q"]
    proc = subprocess.run(args, cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"{point} {n} did not kill the run ({proc.returncode}): {proc.stderr}"


def _assert_records_have_commits(project: Project, target: LakeFS) -> set[str]:
    """Every SQL head's location is a lakeFS commit holding its object with the recorded checksum; returns
    the recorded keys."""
    ws = project.workspace()
    try:
        heads = ws.store.heads()
    finally:
        ws.store.close()
    for key, head in heads.items():
        assert head.location is not None, key
        parsed = parse_uri(head.location)
        assert parsed is not None and parsed[0] == target.repository, head.location
        _, commit, path = parsed
        assert _repo(target).ref(commit).object(path).stat().checksum == head.data_version, key
    return set(heads)


def _run_commits(target: LakeFS, run_id: str) -> set[str]:
    """Assets ``run_id`` committed on its (unmerged) run branch: objects at the branch's head commit whose
    provenance (user metadata) names the run; staged-only objects do not count."""
    name = f"lakeplan-run-{run_id}"
    if name not in {b.id for b in _repo(target).branches()}:
        return set()
    head = _repo(target).branch(name).get_commit().id
    objects = _repo(target).ref(head).objects(prefix="assets/", user_metadata=True)
    return {o.metadata["lakeplan-asset"] for o in objects if (o.metadata or {}).get("lakeplan-run") == run_id}


def _run_ids(project: Project) -> set[str]:
    ws = project.workspace()
    try:
        return {r.run_id for r in ws.store.runs()}
    finally:
        ws.store.close()


def _recorded_by(project: Project, run_id: str) -> set[str]:
    ws = project.workspace()
    try:
        return {m.asset_key for m in ws.store.run_materializations(run_id)}
    finally:
        ws.store.close()


@pytest.mark.slow
def test_kill_inside_the_lakefs_store(sqlite_project: Project, lakefs_target: LakeFS) -> None:  # noqa: F811
    project, target = sqlite_project, lakefs_target
    _setup(project, target)
    known: set[str] = set()
    for i, (point, n, recorded, committed) in enumerate(POINTS, start=1):
        before = target.put("data/seed.json", json.dumps({"n": i}).encode(), f"seed {i}")  # everything stale
        _killed_run(project, point, n)

        _assert_records_have_commits(project, target)  # no SQL record without its commit and object
        [run_id] = _run_ids(project) - known  # the killed run
        in_sql = _recorded_by(project, run_id)
        if point != "lakefs-merge-after":  # after the merge, the run branch holds nothing of its own any more
            on_branch = _run_commits(target, run_id)
            assert in_sql <= on_branch and (len(in_sql), len(on_branch)) == (recorded, committed), (point, n)
        else:
            assert len(in_sql) == recorded, (point, in_sql)
        head = target.branch().get_commit()
        if point == "lakefs-merge-after":  # the merge went through: the run is published, just not closed
            assert before in (head.parents or []), point
        else:
            assert head.id == before, f"{point} {n}: a killed run moved the target branch"

        rerun = project.cli("materialize", "-m", project.module(), "--json")
        assert rerun.returncode == 0, (point, rerun.stderr)
        assert "published run" in rerun.stderr or point == "lakefs-merge-after", (point, rerun.stderr)
        assert _assert_records_have_commits(project, target) == ASSETS
        statuses = {s.key: s.stale for s in project.workspace().plan().statuses}
        assert not any(statuses.values()), (point, statuses)
        published = target.branch().object("assets/summary.json").reader("rb", pre_sign=False).read()
        assert json.loads(published)["n"] == i, point
        known = _run_ids(project)


class _NotLakeFS(http.server.BaseHTTPRequestHandler):
    """Some other web server at the configured endpoint: HTML 404 for everything."""

    def do_GET(self) -> None:
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def not_lakefs() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotLakeFS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("problem", ["not-lakefs", "no-scheme", "no-credentials", "empty-endpoint"])
def test_wrong_lakefs_settings_are_one_error_line(
    sqlite_project: Project,
    lakefs_target: LakeFS,  # noqa: F811
    not_lakefs: str,
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project, target = sqlite_project, lakefs_target
    _setup(project, target)
    target.put("data/seed.json", b'{"n": 0}', "seed")
    before = target.branch().get_commit().id
    pyproject = project.root / "pyproject.toml"
    endpoint = {"not-lakefs": not_lakefs, "no-scheme": "127.0.0.1:9", "empty-endpoint": ""}.get(problem)
    if endpoint is not None:
        pyproject.write_text(pyproject.read_text().replace(f'"{target.endpoint}"', f'"{endpoint}"'))
    else:
        monkeypatch.delenv("LAKEFS_ACCESS_KEY_ID")
        monkeypatch.delenv("LAKEFS_SECRET_ACCESS_KEY")
    module = project.module()
    for args in (
        ("plan", "-m", module),
        ("materialize", "-m", module),
        ("step", "-m", module, "--asset", "big", "--run-id", "wf-bad-1"),
        ("finish-run", "-m", module, "--run-id", "wf-bad-1", "--status", "Succeeded"),
        ("sync", "-m", module),
    ):
        result = project.cli(*args)
        assert result.returncode in (2, 3) and "Traceback" not in result.stdout + result.stderr, (args, result)
        if result.stderr or args[0] not in ("step", "finish-run"):
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: ") and not result.stdout, (args, result)
        else:  # a pod's contract: one JSON line on stdout naming the problem (exit 3: infrastructure)
            [line] = result.stdout.splitlines()
            assert json.loads(line)["outcome"] == "error", (args, line)
    assert target.branch().get_commit().id == before
    if problem == "no-credentials" and target.server is not None:  # unauthenticated requests were the point
        target.server.violations[:] = [v for v in target.server.violations if "SecurityValidationError" not in v]

"""Part 1 of the hardening issue: a real ``lakeplan materialize`` subprocess SIGKILLed at many points.

Points inside lakeplan are reached through ``tests/kill_wrapper.py`` (monkeypatches, no product hooks);
"during user code" is signalled by the user's own asset, which writes a marker and sleeps. After every
kill: each recorded head's file exists and hashes to its data version, every visible stored file is
complete (its name is its content's hash), ``lakeplan plan`` gives a reason for each stale asset, and the
next run rebuilds exactly the assets the killed run did not record.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, Project

from io_managers import file_sha256

WRAPPER = REPO / "tests" / "kill_wrapper.py"
ASSETS = ("big_a", "big_b", "big_c", "summary")

PIPELINE = """
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assets_core import asset, source_asset

seed = source_asset("seed", path="seed.json")
ROOT = Path(__file__).resolve().parent.parent


def _maybe_hang(key: str) -> None:
    # The test asks for a kill during this asset's code: say so, then wait to be killed.
    if (ROOT / "hold" / key).exists():
        (ROOT / "started.tmp").write_text(key)
        (ROOT / "started.tmp").replace(ROOT / "started")  # atomic: the test never sees it empty
        time.sleep(600)


def _table(seed: int, rows: int = 300_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.standard_normal(rows) for c in "wxyz"})


@asset
def big_a(seed: dict) -> pd.DataFrame:
    _maybe_hang("big_a")
    return _table(seed["n"])


@asset
def big_b(big_a: pd.DataFrame) -> pd.DataFrame:
    _maybe_hang("big_b")
    return big_a.cumsum()


@asset
def big_c(seed: dict) -> pd.DataFrame:
    _maybe_hang("big_c")
    return _table(seed["n"] + 1)


@asset
def summary(big_b: pd.DataFrame, big_c: pd.DataFrame) -> dict:
    _maybe_hang("summary")
    return {"b": float(big_b["w"].iloc[-1]), "c": float(big_c["x"].sum())}
"""

# (point, N): where the wrapper kills the run. Cumulative table bytes: ~9.6 MB per table.
POINTS = {
    "write": [("write-bytes", 1), ("write-bytes", 4_000_000), ("write-bytes", 12_000_000), ("write-bytes", 25_000_000)],
    "publish": [("publish-before", 1), ("publish-before", 3), ("publish-after", 1), ("publish-after", 2)],
    "record": [("record-uncommitted", 1), ("record-uncommitted", 3), ("record-after", 1), ("record-after", 3)],
    "bookkeeping": [("claim-held", 1), ("claim-held", 3), ("finish-run", 1), ("publish-after", 4)],
}


def _setup(project: Project) -> None:
    project.write("pipeline", PIPELINE)
    project.write_file(f"{project.package}/seed.json", json.dumps({"n": 0}))


def _bump_seed(project: Project, n: int) -> None:
    """A new source version, so every asset is stale before the next (killed) run."""
    project.write_file(f"{project.package}/seed.json", json.dumps({"n": n}))


def _killed_run(project: Project, point: str, n: int) -> None:
    args = [sys.executable, str(WRAPPER), point, str(n), "materialize", "-m", project.module(), "-q"]
    proc = subprocess.run(args, cwd=project.root, env=project.env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, f"{point} {n} did not kill the run ({proc.returncode}): {proc.stderr}"


def _killed_in_user_code(project: Project, key: str) -> None:
    (project.root / "hold").mkdir(exist_ok=True)
    (project.root / "hold" / key).touch()
    marker = project.root / "started"
    marker.unlink(missing_ok=True)
    args = [sys.executable, "-m", "assets_core", "materialize", "-m", project.module(), "-q"]
    proc = subprocess.Popen(args, cwd=project.root, env=project.env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, f"run ended before reaching {key}'s code"
            assert time.monotonic() < deadline, f"{key}'s code was never reached"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone: the assertion above says why
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        (project.root / "hold" / key).unlink()
    assert marker.read_text() == key


def _assert_store_consistent(project: Project) -> set[str]:
    """Nothing recorded without its complete data; no partial file under an output name.

    Returns the assets whose head is fresh for the current seed (recorded by the killed run).
    """
    ws = project.workspace()
    try:
        heads = ws.store.heads()
        for key, head in heads.items():
            path = ws.objects.fetch(head.location, head.data_version)  # raises unless present and intact
            assert path.stat().st_size > 0, key
        root = project.settings().resolved_storage_root
        visible = [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts]
        for path in visible:
            assert file_sha256(path) == path.stem, f"partial or foreign file visible as an output: {path}"
        state = ws.current_state()
        fresh = {s.key for s in ws.plan().statuses if not s.stale}
        assert not state.missing_outputs
        return fresh
    finally:
        ws.store.close()


def _plan_explains(project: Project) -> set[str]:
    planned = project.cli("plan", "-m", project.module(), "--json", check=True)
    stale = {a["key"]: a["causes"] for a in json.loads(planned.stdout)["assets"] if a["causes"]}
    for key, causes in stale.items():
        assert all(c["message"] and c["kind"] for c in causes), f"{key} is stale without a stated reason"
    return set(stale)


def _recover(project: Project, expected: set[str]) -> None:
    """The next run rebuilds exactly what the killed run left stale, then everything is fresh."""
    rerun = project.cli("materialize", "-m", project.module(), "--json", check=True)
    results = json.loads(rerun.stdout)["results"]
    assert {r["key"] for r in results} == expected
    assert {r["outcome"] for r in results} <= {"built", "restored"}, results
    assert _assert_store_consistent(project) == set(ASSETS)


def _kill_and_check(project: Project, iteration: int, kill: object) -> None:
    _bump_seed(project, iteration)
    if isinstance(kill, tuple):
        _killed_run(project, *kill)
    else:
        _killed_in_user_code(project, str(kill))
    survived = _assert_store_consistent(project)
    stale = _plan_explains(project)
    assert stale == set(ASSETS) - survived
    _recover(project, stale)


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(POINTS))
def test_kill_inside_lakeplan(sqlite_project: Project, group: str) -> None:
    _setup(sqlite_project)
    for i, kill in enumerate(POINTS[group], start=1):
        _kill_and_check(sqlite_project, i, kill)


@pytest.mark.slow
def test_kill_during_user_code(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    for i, key in enumerate(ASSETS, start=1):
        _kill_and_check(sqlite_project, i, key)


def test_kill_mid_parquet_write_leaves_only_a_temp_file(sqlite_project: Project) -> None:
    """The unit of part 1: a half-written Parquet file stays in .tmp, never under an output name."""
    _setup(sqlite_project)
    _killed_run(sqlite_project, "write-bytes", 4_000_000)
    root = sqlite_project.settings().resolved_storage_root
    temps = list((root / ".tmp").iterdir())
    assert temps and all(t.stat().st_size <= 4_000_000 for t in temps)
    assert not (root / "big_a").exists()
    assert _assert_store_consistent(sqlite_project) == set()

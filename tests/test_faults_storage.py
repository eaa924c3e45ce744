"""Part 5 of the hardening issue: the storage fails under lakeplan (full, read-only) or changes behind its back.

Disk full and read-only are real filesystems: a 2 MiB tmpfs mounted over the storage root (and remounted
read-only). That needs root and mount rights; without them the tests skip and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Project

PIPELINE = """
import numpy as np
import pandas as pd

from assets_core import asset


@asset
def small() -> dict:
    return {"rows": 3}


@asset
def big(small: dict) -> pd.DataFrame:
    rng = np.random.default_rng(small["rows"])
    return pd.DataFrame({c: rng.standard_normal(200_000) for c in "xyz"})  # ~4.8 MB of Parquet


@asset
def total(big: pd.DataFrame) -> float:
    return round(float(big["x"].sum()), 6)
"""


def _mount(target: Path, options: str) -> str | None:
    """Mount a tmpfs at ``target``; the reason when that is not possible here."""
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, f"lp-{uuid.uuid4().hex[:6]}", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if result.returncode == 0 else f"cannot mount a tmpfs here ({result.stderr.strip()}); needs root"


@pytest.fixture
def small_disk(sqlite_project: Project) -> Iterator[Path]:
    """The project's storage root on a 2 MiB filesystem, unmounted afterwards."""
    root = sqlite_project.root / "storage"
    problem = _mount(root, "size=2m")
    if problem:
        pytest.skip(problem)
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=False)


def _env(project: Project, storage: Path) -> dict[str, str]:
    return {**project.env(), "LAKEPLAN_STORAGE_ROOT": str(storage)}


def _materialize(project: Project, storage: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assets_core", "materialize", "-m", project.module(), *args],
        cwd=project.root,
        env=_env(project, storage),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _visible_outputs(storage: Path) -> list[Path]:
    return [p for p in storage.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(storage).parts]


def test_disk_full_during_a_write_records_nothing_and_says_so(sqlite_project: Project, small_disk: Path) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    result = _materialize(sqlite_project, small_disk)
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot write 'big'") and "No space left on device" in last, result.stderr
    assert "Traceback" not in result.stderr
    assert [p.parent.name for p in _visible_outputs(small_disk)] == ["small"]  # no partial 'big'
    assert not list((small_disk / ".tmp").iterdir())  # the temp file was removed, the space given back
    ws = sqlite_project.workspace()
    assert set(ws.store.heads()) == {"small"}
    assert ws.store.runs()[0].status.value == "failed"
    # More room: the next run builds exactly what is missing.
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    again = _materialize(sqlite_project, small_disk, "--json")
    assert again.returncode == 0, again.stderr
    assert {r["key"]: r["outcome"] for r in json.loads(again.stdout)["results"]} == {"big": "built", "total": "built"}


def test_read_only_store_fails_in_one_line_and_records_nothing(sqlite_project: Project, small_disk: Path) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = _materialize(sqlite_project, small_disk, "--select", "small")
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: cannot write") and "Read-only file system" in lines[-1], result.stderr
    assert "Traceback" not in result.stderr
    assert sqlite_project.workspace().store.heads() == {}


def test_a_deleted_output_is_found_by_verify_and_rebuilt_never_called_fresh_by_a_run(sqlite_project: Project) -> None:
    """docs/concepts.md, "What a plan checks of the stored outputs": ``plan`` and ``plan --verify`` find the
    deleted output MISSING and its reader stale (only ``--trust-records``, asked for, reads the records alone);
    ``materialize`` rebuilds it, never reporting it fresh without its file."""
    sqlite_project.write("pipeline", PIPELINE)
    module = sqlite_project.module()
    sqlite_project.cli("materialize", "-m", module, check=True)
    ws = sqlite_project.workspace()
    head = ws.store.heads(["big"])["big"]
    (ws.settings.resolved_storage_root / head.location).unlink()

    def causes(*flags: str) -> dict[str, list[str]]:
        planned = json.loads(sqlite_project.cli("plan", "-m", module, "--json", *flags, check=True).stdout)
        return {a["key"]: [c["kind"] for c in a["causes"]] for a in planned["assets"]}

    assert causes() == {"small": [], "big": ["MISSING"], "total": ["UPSTREAM"]}
    assert causes("--trust-records") == {"small": [], "big": [], "total": []}  # the records alone, as asked
    assert causes("--verify") == {"small": [], "big": ["MISSING"], "total": ["UPSTREAM"]}
    assert [s.key for s in ws.plan().stale] == ["big", "total"]  # as materialize plans: one stat per output
    rerun = json.loads(sqlite_project.cli("materialize", "-m", module, "--json", check=True).stdout)
    outcomes = {r["key"]: r["outcome"] for r in rerun["results"]}
    assert outcomes["big"] in ("built", "restored") and "small" not in outcomes
    assert ws.objects.fetch(head.location, head.data_version)  # the same bytes are back under the same version
    assert causes("--verify") == {"small": [], "big": [], "total": []}


def test_corrupted_output_is_detected_by_its_data_version_never_loaded(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    ws = sqlite_project.workspace()
    head = ws.store.heads(["big"])["big"]
    path = ws.settings.resolved_storage_root / head.location
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of a column
    path.write_bytes(bytes(data))
    built_before = [m for m in ws.store.history("total") if m.kind.value == "built"]
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "total", "--force")
    assert result.returncode == 1, "only the reading step fails; the run is not aborted"
    line = next(x for x in result.stderr.splitlines() if "failed total" in x)
    assert "is corrupted" in line and head.data_version[:12] in line and "plans as MISSING" in line
    assert [m for m in ws.store.history("total") if m.kind.value == "built"] == built_before
    planned = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", "--verify", check=True)
    causes = {a["key"]: [c["kind"] for c in a["causes"]] for a in json.loads(planned.stdout)["assets"]}
    assert causes["big"] == ["MISSING"]  # moved aside: --verify finds it gone
    rebuilt = sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    assert "0 failed" in rebuilt.stdout

"""Identical output, identical data version: across processes, PYTHONHASHSEED values and ``--workers``
(issue 12, item 4). Sets used to be pickled in hash order, so every build of one gave a new version."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys

from conftest import REPO, Project
from value_kinds import value_kinds

from io_managers.formats import choose_format, read, write

VERSIONS = """
import hashlib, io, json
from value_kinds import value_kinds
from io_managers.formats import choose_format, write

found = {}
for name, value in value_kinds().items():
    out = io.BytesIO()
    fmt = choose_format(value, "auto")
    write(value, fmt, out)
    found[name] = [fmt, hashlib.sha256(out.getvalue()).hexdigest()]
print(json.dumps(found))
"""


def _versions(seed: str) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{REPO}"}
    done = subprocess.run(
        [sys.executable, "-c", VERSIONS], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return dict(json.loads(done.stdout))


def test_every_value_kind_gets_one_version_under_any_hash_seed() -> None:
    runs = {seed: _versions(seed) for seed in ("0", "1", "4242")}
    first = runs["0"]
    assert {fmt for fmt, _ in first.values()} == {"parquet", "json", "pickle"}
    differing = sorted(name for name in first if len({str(found[name]) for found in runs.values()}) != 1)
    assert differing == [], f"data version depends on the hash seed for: {differing}"


def _same(a: object, b: object) -> bool:
    """Equality that treats NaN as equal to NaN and compares arrays and tables by content."""
    if hasattr(a, "equals"):
        return bool(a.equals(b))  # type: ignore[attr-defined]
    if type(a).__module__ == "numpy":
        return bool((a == b).all())  # type: ignore[attr-defined]
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (set, frozenset)) and isinstance(b, (set, frozenset)):
        return len(a) == len(b) and all(any(_same(x, y) for y in b) for x in a)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dict__"):
        return type(a) is type(b) and _same(vars(a), vars(b))
    return a == b


def test_every_value_kind_reads_back_as_the_same_value(tmp_path: object) -> None:
    for name, value in value_kinds().items():
        out = io.BytesIO()
        fmt = choose_format(value, "auto")
        write(value, fmt, out)
        path = tmp_path / f"{len(name)}.bin"  # type: ignore[operator]
        path.write_bytes(out.getvalue())
        back = read(path, fmt, None, "pandas" if fmt == "parquet" else None)
        assert type(back) is type(value) and _same(back, value), name


PIPELINE = """
from assets_core import asset

@asset
def vocabulary() -> set:
    return {"orders", "customers", "revenue", "churn", "model", "report", "daily", "weekly"}

@asset
def index(vocabulary: set) -> dict:
    return {word: len(word) for word in vocabulary}

@asset
def summary(index: dict) -> int:
    return sum(index.values())
"""


def _run(project: Project, seed: str, *args: str) -> dict[str, int]:
    result = project.cli("materialize", "-m", project.module(), "--json", *args, env={"PYTHONHASHSEED": seed})
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout)["counts"])


def test_a_forced_rebuild_under_another_seed_and_workers_changes_no_version(sqlite_project: Project) -> None:
    """Rebuilding a set-valued asset keeps its version, so downstream stays fresh (early cutoff) and a later
    run builds nothing; it used to give a new version every time and restale everything below."""
    sqlite_project.write("pipeline", PIPELINE)
    assert _run(sqlite_project, "1")["built"] == 3
    for seed, workers in (("2", "2"), ("3", "1")):
        _run(sqlite_project, seed, "--force", "--select", "vocabulary+", "--workers", workers)
    assert _run(sqlite_project, "4")["built"] == 0
    ws = sqlite_project.workspace()
    for key in ("vocabulary", "index", "summary"):
        versions = {m.data_version for m in ws.store.history(key)}
        assert len(versions) == 1, (key, versions)

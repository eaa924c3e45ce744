"""The code-analysis cache under .lakeplan/cache/code: it only saves work, it never changes a version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import Project

from assets_core import code_syntax

PIPELINE = """
from assets_core import asset
from .helpers import clean


@asset
def raw():
    return [1, 2, 3]


@asset
def cleaned(raw):
    return [clean(x) for x in raw]
"""

HELPERS = """
def clean(x):
    return x * 2
"""


def _versions(project: Project) -> dict[str, str]:
    ws = project.workspace()
    return {key: ws.code_version(key).version for key in ws.graph.assets}


def _cache_files(project: Project) -> list[Path]:
    return sorted((project.settings().state_dir / "cache" / "code").glob("*.json"))


def test_cached_analysis_gives_the_same_versions(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    first = _versions(sqlite_project)
    assert len(_cache_files(sqlite_project)) == 2  # pipeline.py and helpers.py
    assert _versions(sqlite_project) == first


def test_an_edited_helper_is_analysed_again(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    before = _versions(sqlite_project)
    sqlite_project.write("helpers", HELPERS.replace("x * 2", "x * 3"))
    after = _versions(sqlite_project)
    assert after["raw"] == before["raw"]
    assert after["cleaned"] != before["cleaned"]
    sqlite_project.write("helpers", HELPERS)  # back to the first text: back to the first version
    assert _versions(sqlite_project) == before


def test_a_corrupt_cache_entry_is_ignored_and_replaced(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    before = _versions(sqlite_project)
    for entry in _cache_files(sqlite_project):
        entry.write_text('{"key": "x", "functions": [[1, 2]]')
    assert _versions(sqlite_project) == before
    assert all(entry.read_text().endswith("}") and len(_header(entry)) == 3 for entry in _cache_files(sqlite_project))


def test_a_damaged_entry_with_the_right_key_is_not_trusted(sqlite_project: Project) -> None:
    # A flipped digest that still parses must not give the asset the digest it names.
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    before = _versions(sqlite_project)
    for entry in _cache_files(sqlite_project):
        header, body = entry.read_bytes().split(b"\n", 1)
        digest = json.loads(body.split(b"\n")[0])["functions"][0][1][0]
        entry.write_bytes(header + b"\n" + body.replace(digest.encode(), b"0" * len(digest)))
    assert _versions(sqlite_project) == before


def test_an_edited_helper_plans_stale_with_the_cache_present(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    assert not sqlite_project.workspace().plan().stale
    cached = {entry: entry.read_bytes() for entry in _cache_files(sqlite_project)}
    sqlite_project.write("helpers", HELPERS.replace("x * 2", "x * 3"))
    stale = {s.key: [c.kind.value for c in s.causes] for s in sqlite_project.workspace().plan().stale}
    assert stale == {"cleaned": ["CODE"]}
    assert sorted(cached) == _cache_files(sqlite_project)  # the helper's entry was replaced, not added to
    assert sum(entry.read_bytes() != data for entry, data in cached.items()) == 1  # only the helper's changed


def test_entries_of_another_analysis_are_analysed_again(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new analysis (e.g. one that follows more kinds of references) must not read what an older one
    # cached, and must not change the versions of code it reads the same way.
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    before = _versions(sqlite_project)
    keys = {entry: _header(entry)[0] for entry in _cache_files(sqlite_project)}
    monkeypatch.setattr(code_syntax, "ANALYSIS", "lakeplan-analysis-next")
    assert _versions(sqlite_project) == before
    assert all(_header(entry)[0] != key for entry, key in keys.items())


def _header(entry: Path) -> list[str]:
    return list(json.loads(entry.read_bytes().split(b"\n", 1)[0]))


def _big_module(helper_bodies: dict[int, str], top: str = "") -> str:
    """120 assets over 30 helpers in one module: helpers form chains of three (h0 -> h1 -> h2, h3 -> h4 -> h5
    ...), asset ``a{j}`` calls helper ``j % 30``; ``top`` goes before everything (shifting every line)."""
    lines = [top, "from assets_core import asset", ""]
    for i in range(30):
        calls = f" + h{i + 1}(x)" if i % 3 != 2 else ""
        lines += ["", f"def h{i}(x):", f"    return {helper_bodies.get(i, f'x * {i}')}{calls}", ""]
    for j in range(120):
        lines += ["", "@asset", f"def a{j}():", f"    return h{j % 30}({j})", ""]
    return "\n".join(lines)


def _reaching(helper: int) -> set[str]:
    """The assets whose helper chain passes through ``helper``."""
    chain_start = helper - helper % 3
    return {f"a{j}" for j in range(120) if chain_start <= j % 30 <= helper}


def _versions_without_cache(project: Project) -> dict[str, str]:
    shutil.rmtree(project.settings().state_dir / "cache", ignore_errors=True)
    return _versions(project)


def test_an_edit_in_a_big_module_changes_exactly_the_assets_that_reach_it(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", _big_module({}))
    before = _versions(sqlite_project)
    for step, (helper, top) in enumerate([(4, ""), (0, ""), (29, "# a comment above everything\n\n"), (13, "X = 1\n")]):
        sqlite_project.write("pipeline", _big_module({helper: f"x * {helper} + {step + 100}"}, top))
        after = _versions(sqlite_project)  # from the previous edit's cache: one block analysed again
        changed = {key for key in before if after[key] != before[key]}
        assert changed == _reaching(helper), f"edit {step} of h{helper}"
        assert after == _versions_without_cache(sqlite_project)  # the cache never gives a stale version
        sqlite_project.write("pipeline", _big_module({}, top))
        assert _versions(sqlite_project) == before  # back to the first text: back to the first versions


def test_a_damaged_block_is_never_reused(sqlite_project: Project) -> None:
    # The file's text changed, so its blocks are looked up one by one; a block whose digest was flipped
    # (its line still parsing) must not be trusted, even though its key matches.
    sqlite_project.write("pipeline", _big_module({}))
    _versions(sqlite_project)
    for entry in _cache_files(sqlite_project):
        header, analysis, made_of = entry.read_bytes().split(b"\n")
        digest = json.loads(analysis)["functions"][0][1][0]
        entry.write_bytes(b"\n".join([header, analysis, made_of.replace(digest.encode(), b"0" * len(digest))]))
    sqlite_project.write("pipeline", _big_module({7: "x - 7"}))
    assert _versions(sqlite_project) == _versions_without_cache(sqlite_project)

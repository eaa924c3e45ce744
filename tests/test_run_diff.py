"""Run diff: code (and which function), inputs, data, packages, configuration and metadata changes."""

from __future__ import annotations

import json

from conftest import Project

from assets_core.records import Materialization, MaterializationKind, RunRecord, RunStatus
from assets_core.run_diff import (
    changed_functions,
    diff_assets,
    diff_metadata,
    diff_runs,
    last_id,
    resolve_run,
    versions_as_of,
)


def test_metadata_diff_rows_columns_and_metrics() -> None:
    old = {"rows": 10, "columns": {"a": "int64", "b": "string", "c": "double"}, "auc": 0.7, "bytes": 5, "attempts": 1}
    new = {"rows": 12, "columns": {"a": "double", "c": "double", "d": "bool"}, "auc": 0.75, "bytes": 5, "attempts": 2}
    diff = diff_metadata({**old, "url": "s3://a"}, {**new, "url": "s3://b"})
    assert diff.rows == (10, 12)
    assert diff.columns_added == {"d": "bool"} and diff.columns_removed == {"b": "string"}
    assert diff.columns_retyped == {"a": ("int64", "double")}
    assert diff.metrics == {"auc": (0.7, 0.75)}  # attempts is bookkeeping, bytes unchanged
    assert diff.other == {"url": ("s3://a", "s3://b")}
    assert not diff_metadata(old, old)


def test_changed_functions_names_added_removed_and_changed() -> None:
    old = {"m.f": "1", "m.g": "2", "m.K": "3"}
    new = {"m.f": "1", "m.g": "9", "m.h": "4"}
    assert changed_functions(old, new) == {"m.K": "removed", "m.g": "changed", "m.h": "added"}


def _mat(id: int, key: str, data: str, run: str, **kw: object) -> Materialization:
    return Materialization(
        key, run, MaterializationKind.BUILT, kw.pop("code", "c1"), kw.pop("inputs", {}), data, "x", id=id, **kw
    )  # type: ignore[arg-type]


def test_runs_compare_versions_current_after_each_and_environments() -> None:
    histories = {
        "a": [
            _mat(3, "a", "a2", "r2", code="c2", code_components={"m.f": "2"}),
            _mat(1, "a", "a1", "r1", code_components={"m.f": "1"}),
        ],
        "b": [_mat(2, "b", "b1", "r1", inputs={"a": "a1"})],
    }
    env_a = {"packages": {"numpy": "2.0"}, "config": {"workers": 1}, "git": {"commit": "x", "dirty": False}}
    env_b = {
        "packages": {"numpy": "2.1", "scipy": "1.0"},
        "config": {"workers": 4},
        "git": {"commit": "y", "dirty": False},
    }
    run_a = RunRecord("r1", 1.0, RunStatus.SUCCESS, "*", 2.0, environment=env_a)
    run_b = RunRecord("r2", 3.0, RunStatus.SUCCESS, "a", 4.0, environment=env_b)
    assert last_id(run_a, histories) == 2 and last_id(run_b, histories) == 3
    assert {k: m.id for k, m in versions_as_of(histories, 2).items()} == {"a": 1, "b": 2}
    diff = diff_runs(run_a, run_b, histories, 2, 3)
    assert diff.packages == {"numpy": ("2.0", "2.1"), "scipy": (None, "1.0")}
    assert diff.config == {"selection": ("*", "a"), "workers": (1, 4)}
    assert diff.git == {"commit": ("x", "y")}
    (a,) = diff.assets  # b did not change
    assert a.code == ("c1", "c2") and a.functions == {"m.f": "changed"} and a.data == ("a1", "a2")
    assert not diff_assets("b", histories["b"][0], histories["b"][0]).changed


PIPELINE = """
    from assets_core import add_metadata, asset, source_asset

    raw = source_asset("raw", path="raw.json")

    def scale():
        return SCALE

    SCALE = {scale}

    @asset
    def table(raw: dict) -> "pd.DataFrame":
        import pandas as pd
        frame = pd.DataFrame({{"v": raw["values"]}})
        frame[{column!r}] = frame["v"] * scale()
        return frame

    @asset
    def score(table: "pd.DataFrame") -> dict:
        value = float(table[{column!r}].mean())
        add_metadata(score=value)
        return {{"score": value}}
"""


def test_cli_diff_between_two_runs_and_two_versions(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 3]}))
    project.write("pipeline", PIPELINE.format(scale=2, column="scaled"))
    first = json.loads(project.cli("materialize", "-m", project.module(), "--json", check=True).stdout)["run_id"]
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 3, 4]}))
    project.write("pipeline", PIPELINE.format(scale=3, column="tripled"))
    second = json.loads(project.cli("materialize", "-m", project.module(), "--json", check=True).stdout)["run_id"]

    out = json.loads(project.cli("diff", "-m", project.module(), first, second[:-2], "--json", check=True).stdout)
    table, score = out["assets"]
    assert table["asset"] == "table" and set(table["functions"]) >= {f"{project.package}.pipeline.SCALE"}
    assert table["inputs"]["raw"]["old"] != table["inputs"]["raw"]["new"]
    assert table["metadata"]["rows"] == {"old": 3, "new": 4}
    assert table["metadata"]["columns_added"] == {"tripled": "int64"}
    assert table["metadata"]["columns_removed"] == {"scaled": "int64"}
    assert score["metadata"]["metrics"]["score"] == {"old": 4.0, "new": 7.5}

    text = project.cli("diff", "-m", project.module(), first, second, check=True).stdout
    assert "columns added  tripled (int64)" in text and "score          4.0 -> 7.5 (+3.5)" in text

    ws = project.workspace()
    old_id, new_id = (m.id for m in reversed(ws.store.history("score")))
    one = json.loads(
        project.cli(
            "diff", "-m", project.module(), str(old_id), str(new_id), "--asset", "score", "--json", check=True
        ).stdout
    )
    assert one["metadata"]["metrics"]["score"] == {"old": 4.0, "new": 7.5} and one["code_version"] is not None

    bad = project.cli("diff", "-m", project.module(), "nope", second)
    assert bad.returncode == 2 and "no run 'nope'" in bad.stderr


def test_latest_and_latest_tilde_n_name_runs_counting_back_from_the_newest() -> None:
    runs = [RunRecord(f"2026112{i}-000000-aaaaa{i}", float(10 - i), RunStatus.SUCCESS, "*") for i in range(3)]
    assert resolve_run(runs, "latest") is runs[0]
    assert resolve_run(runs, "latest~1") is runs[1]
    assert resolve_run(runs, "latest~2") is runs[2]
    assert resolve_run(runs, "latest~3") is None
    assert resolve_run(runs, "20261121") is runs[1]  # prefixes still work

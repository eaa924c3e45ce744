"""Issue 9, found 7: history, lineage and diff answer over everything recorded, including assets today's
code no longer declares (marked "removed"), and diff names added and removed assets as such."""

from __future__ import annotations

import json

from conftest import Project
from sample_pipelines import TWO_ASSETS

from assets_core.records import Materialization, MaterializationKind, RunRecord, RunStatus
from assets_core.run_diff import diff_runs, run_diff_json

# b deleted; c added and built; d added but never built
AFTER = """
    from assets_core import asset

    @asset
    def a() -> int:
        return 2

    @asset
    def c(a: int) -> int:
        return a + 3

    @asset
    def d() -> int:
        return 4
"""


def _mat(id: int, key: str, data: str, run: str) -> Materialization:
    return Materialization(key, run, MaterializationKind.BUILT, "code", {}, data, f"{key}/{data}", id=id)


def test_diff_runs_marks_added_and_removed_assets() -> None:
    histories = {"a": [_mat(3, "a", "a2", "r2"), _mat(1, "a", "a1", "r1")], "gone": [_mat(2, "gone", "g1", "r1")]}
    run_a = RunRecord("r1", 1.0, RunStatus.SUCCESS, "*", 2.0)
    run_b = RunRecord("r2", 3.0, RunStatus.SUCCESS, "*", 4.0)
    histories["new"] = [_mat(4, "new", "n1", "r2")]
    diff = diff_runs(run_a, run_b, histories, 2, 4, ["a", "new"], removed={"gone"})
    assert [(d.key, d.status) for d in diff.assets] == [("a", "changed"), ("new", "added"), ("gone", "removed")]
    assert diff.unchanged == ()
    shown = run_diff_json(diff)
    assert [(d["asset"], d["status"]) for d in shown["assets"]] == [
        ("a", "changed"),
        ("new", "added"),
        ("gone", "removed"),
    ]


def _two_runs(project: Project) -> tuple[str, str]:
    project.write("pipeline", TWO_ASSETS)
    first = json.loads(project.cli("materialize", "-m", project.module(), "--json", check=True).stdout)["run_id"]
    project.write("pipeline", AFTER)
    built = project.cli("materialize", "-m", project.module(), "--select", "+c", "--json", check=True).stdout
    second = json.loads(built)["run_id"]
    return first, second


def test_audit_commands_answer_for_removed_assets(sqlite_project: Project) -> None:
    project = sqlite_project
    first, second = _two_runs(project)
    module = ("-m", project.module())

    history = project.cli("history", "b", *module)
    assert history.returncode == 0, history.stderr  # was: "unknown asset 'b'", exit 2
    assert "'b' is removed" in history.stderr and "built" in history.stdout
    listed = json.loads(project.cli("history", "b", *module, "--json", check=True).stdout)
    assert listed["removed"] is True and [m["kind"] for m in listed["materializations"]] == ["built"]
    assert json.loads(project.cli("history", "a", *module, "--json", check=True).stdout)["removed"] is False
    unknown = project.cli("history", "bb", *module)
    assert unknown.returncode == 2 and "unknown asset 'bb'; did you mean 'b'?" in unknown.stderr

    text = project.cli("diff", first, second, *module, check=True).stdout
    assert "  c  added: first version #" in text
    assert "  b  (#2 -> #2)  removed: no longer in the code" in text
    assert "unchanged" not in text  # d was never built: neither unchanged nor listed
    shown = json.loads(project.cli("diff", first, second, *module, "--json", check=True).stdout)
    assert [(d["asset"], d["status"]) for d in shown["assets"]] == [("a", "changed"), ("c", "added"), ("b", "removed")]
    assert shown["unchanged"] == []

    down = json.loads(project.cli("lineage", "a@1", "--downstream", *module, "--json", check=True).stdout)["tree"]
    assert [(c["asset"], c["removed"]) for c in down["children"]] == [("b", True)]
    up = project.cli("lineage", "b", *module, check=True).stdout.splitlines()
    assert up[0].startswith("b ") and up[0].endswith("; removed)")
    assert up[1].startswith("└── a ") and "removed" not in up[1]

"""Asset checks (issue 15): declared with @asset_check, run in the asset's step, recorded with the
materialization; a failed blocking check keeps the new output from becoming current and its dependents
from being built; a changed check runs again without a rebuild. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from conftest import Project
from sample_pipelines import CHECKED

from assets_core import (
    AssetCheck,
    AssetGraph,
    CheckRecord,
    CheckResult,
    DefinitionError,
    GraphError,
    asset,
    asset_check,
)
from assets_core.check_status import pending_checks
from assets_core.executor import RunSummary, planned_work, run
from assets_core.planner import CauseKind
from assets_core.records import MaterializationKind, RunStatus
from assets_core.step import Outcome


def _write(project: Project, values: list[int], pipeline: str = CHECKED) -> None:
    project.write("pipeline", pipeline)
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": values}))


def _materialize(project: Project, force: bool = False) -> RunSummary:
    ws = project.workspace()
    keys, waiting = planned_work(ws.plan(), force)
    return run(ws, keys, force=force, waiting=waiting)


def _outcomes(summary: RunSummary) -> dict[str, Outcome]:
    return {r.key: r.outcome for r in summary.results}


def _builds(project: Project) -> int:
    path = project.root / "builds.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _plan(project: Project) -> dict[str, tuple[str, list[str]]]:
    return {
        s.key: (s.label, [f"{c.kind.value}: {c.message}" for c in s.causes])
        for s in project.workspace().plan().statuses
    }


def test_passing_checks_are_recorded_with_the_materialization(project: Project) -> None:
    _write(project, [1, 2, 3])
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.BUILT, "total": Outcome.BUILT}
    ws = project.workspace()
    head = ws.store.heads()["numbers"]
    [result] = ws.store.checks_of([head.id])[head.id]
    assert (result.check_name, result.passed, result.blocking, result.severity) == ("no_negatives", True, True, "error")
    assert result.metadata == {"negative": 0} and result.run_id == summary.run_id
    assert result.data_version == head.data_version
    assert result.code_version == ws.check_versions("numbers")["no_negatives"]
    assert {s.label for s in ws.plan().statuses} == {"FRESH"}


def test_failed_blocking_check_keeps_the_head_and_skips_dependents(project: Project) -> None:
    _write(project, [1, 2, 3])
    _materialize(project)
    ws = project.workspace()
    good = ws.store.heads()["numbers"]
    _write(project, [1, -2, 3])
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.FAILED, "total": Outcome.SKIPPED}
    assert summary.failed
    [failed] = [r for r in summary.results if r.key == "numbers"]
    assert "blocking check 'no_negatives' failed (negative=1)" in failed.message
    assert "the output was not made current" in failed.message
    ws = project.workspace()
    assert ws.store.heads()["numbers"] == good  # the head did not move: dependents never read the bad output
    attempt = ws.store.history("numbers")[0]
    assert attempt.kind is MaterializationKind.FAILED and attempt.location and attempt.data_version
    assert ws.objects.exists(attempt.location)  # the output that failed is kept for a look
    [result] = ws.store.checks_of([attempt.id or 0])[attempt.id or 0]
    assert not result.passed and result.metadata == {"negative": 1}
    assert ws.store.run(summary.run_id).status is RunStatus.FAILED  # type: ignore[union-attr]
    plan = _plan(project)
    assert plan["numbers"][0] == "STALE" and plan["total"][1] == ["UPSTREAM: upstream 'numbers' is stale"]


def test_fixing_the_check_reuses_the_failed_output_without_a_rebuild(project: Project) -> None:
    _write(project, [1, -2, 3])
    assert _outcomes(_materialize(project))["numbers"] is Outcome.FAILED
    assert _builds(project) == 1
    _write(project, [1, -2, 3], CHECKED.replace("n < 0", "n < -5"))
    label, causes = _plan(project)["numbers"]
    assert label == "STALE" and causes == ["MISSING: never materialized"]
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.RESTORED, "total": Outcome.BUILT}
    assert _builds(project) == 1  # re-checked, not rebuilt
    assert project.workspace().plan().counts()["stale"] == 0


def test_fixing_the_data_rebuilds_and_publishes(project: Project) -> None:
    _write(project, [1, -2, 3])
    _materialize(project)
    _write(project, [1, 2, 3])
    assert _outcomes(_materialize(project)) == {"numbers": Outcome.BUILT, "total": Outcome.BUILT}
    assert project.workspace().plan().counts()["stale"] == 0


def test_a_changed_check_runs_again_without_a_rebuild(project: Project) -> None:
    _write(project, [1, -2, 3], CHECKED.replace("n < 0", "n < -5"))
    _materialize(project)
    _write(project, [1, -2, 3], CHECKED.replace("n < 0", "n < -9"))
    plan = _plan(project)
    assert plan["numbers"][0] == "CHECK"
    [cause] = plan["numbers"][1]
    assert cause.startswith("CHECK: check 'no_negatives' changed: ")
    assert plan["total"] == ("STALE", ["UPSTREAM: upstream 'numbers' is stale"])  # a blocking check gates
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.CHECKED, "total": Outcome.FRESH}
    assert _builds(project) == 1
    assert project.workspace().plan().counts()["stale"] == 0


def test_a_changed_check_failing_on_the_current_version_holds_dependents_back(project: Project) -> None:
    _write(project, [1, -2, 3], CHECKED.replace("n < 0", "n < -5"))
    _materialize(project)
    _write(project, [1, -2, 3], CHECKED)  # the stricter check fails on the current version
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.FAILED, "total": Outcome.SKIPPED}
    plan = _plan(project)
    assert plan["numbers"] == ("CHECK", ["CHECK: blocking check 'no_negatives' failed (negative=1) on this version"])
    assert plan["total"][0] == "STALE"  # never FRESH against data that fails a blocking check
    again = _materialize(project)  # nothing changed: the recorded result stands, nothing is rebuilt
    assert _outcomes(again) == {"numbers": Outcome.FAILED, "total": Outcome.SKIPPED}
    assert _builds(project) == 1
    forced = _materialize(project, force=True)  # --force rebuilds and checks afresh
    assert _outcomes(forced)["numbers"] is Outcome.FAILED and _builds(project) == 2


WARN = CHECKED.replace("blocking=True", "blocking=False")


def test_a_non_blocking_check_warns_and_holds_nothing_back(project: Project) -> None:
    _write(project, [1, -2, 3], WARN)
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.BUILT, "total": Outcome.BUILT}
    [built] = [r for r in summary.results if r.key == "numbers"]
    assert built.message == "check 'no_negatives' failed (negative=1)"
    _write(project, [1, -2, 3], WARN.replace("n < 0", "n < -5"))
    plan = _plan(project)
    assert plan["numbers"][0] == "CHECK" and plan["total"] == ("FRESH", [])  # nothing waits on a warning
    assert _outcomes(_materialize(project)) == {"numbers": Outcome.CHECKED}


RAISES = CHECKED.replace("bad = sum(1 for n in numbers if n < 0)", 'bad = numbers["missing"]')


def test_a_check_that_raises_has_failed_with_its_error(project: Project) -> None:
    _write(project, [1, 2], RAISES)
    summary = _materialize(project)
    assert _outcomes(summary) == {"numbers": Outcome.FAILED, "total": Outcome.SKIPPED}
    [failed] = [r for r in summary.results if r.key == "numbers"]
    assert "blocking check 'no_negatives' raised TypeError: list indices must be integers" in failed.message
    assert "pipeline.py:" in failed.message  # the check's own line
    attempt = project.workspace().store.history("numbers")[0]
    [result] = project.workspace().store.checks_of([attempt.id or 0])[attempt.id or 0]
    assert not result.passed and result.error and result.error.startswith("TypeError")


def test_a_check_returning_something_else_fails(sqlite_project: Project) -> None:
    _write(
        sqlite_project,
        [1],
        CHECKED.replace("-> CheckResult:", ":").replace(
            'CheckResult(passed=bad == 0, metadata={"negative": bad})', "(bad, 0)"
        ),
    )
    [failed] = [r for r in _materialize(sqlite_project).results if r.key == "numbers"]
    assert "returned tuple, not a CheckResult; return CheckResult(passed=...)" in failed.message


def test_check_command_reruns_checks_and_prints_json(project: Project) -> None:
    _write(project, [1, 2, 3])
    project.cli("materialize", "-m", project.module(), "-q", check=True)
    result = project.cli("check", "-m", project.module(), "numbers", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema"] == "lakeplan.check/v1" and data["asset"] == "numbers"
    assert [(c["check"], c["passed"]) for c in data["checks"]] == [("no_negatives", True)]
    ws = project.workspace()
    head = ws.store.heads()["numbers"]
    assert len(ws.store.checks_of([head.id])[head.id]) == 2  # ran again, whatever was recorded


def test_cli_blocking_failure_exits_1_and_history_plan_show_it(project: Project) -> None:
    _write(project, [1, -2, 3])
    result = project.cli("materialize", "-m", project.module(), "--workers", "2")
    assert result.returncode == 1
    assert "failed numbers: blocking check 'no_negatives' failed (negative=1)" in result.stderr
    assert "skipped   total" in result.stderr
    history = project.cli("history", "-m", project.module(), "numbers", "--json", check=True)
    [attempt] = json.loads(history.stdout)["materializations"]
    assert attempt["checks"][0]["passed"] is False and attempt["checks"][0]["metadata"] == {"negative": 1}
    text = project.cli("history", "-m", project.module(), "numbers", check=True).stdout
    assert "no_negatives failed (negative=1)" in text
    listed = json.loads(project.cli("assets", "-m", project.module(), "--json", check=True).stdout)["assets"]
    assert [c["name"] for a in listed if a["key"] == "numbers" for c in a["checks"] if c["blocking"]] == [
        "no_negatives"
    ]
    run = json.loads(project.cli("runs", "-m", project.module(), "latest", "--json", check=True).stdout)["run"]
    assert [(c["check"], c["passed"]) for c in run["checks"]] == [("no_negatives", False)]
    assert run["materializations"][0]["checks"] == run["checks"]
    checked = project.cli("check", "-m", project.module(), "numbers")
    assert checked.returncode == 1 and "was never materialized" in checked.stderr


# -- declaration -----------------------------------------------------------------------------------


def test_declaration_errors_are_one_line_with_the_fix() -> None:
    with pytest.raises(DefinitionError, match="exactly one parameter, the asset's value"):
        asset_check(asset="orders")(lambda a, b: CheckResult(True))
    with pytest.raises(DefinitionError, match=r"returns CheckResult\(passed=...\), but it is annotated -> bool"):

        @asset_check(asset="orders")
        def positive(orders: list) -> bool:
            return True

    with pytest.raises(DefinitionError, match="blocking must be True or False"):
        asset_check(asset="orders", blocking="yes")(lambda orders: CheckResult(True))  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=r"CheckResult\(severity=...\) must be 'error' or 'warn'"):
        CheckResult(passed=True, severity="fatal")
    with pytest.raises(DefinitionError, match=r"passed=...\) must be True or False"):
        CheckResult(passed=1)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="is not JSON-able"):
        CheckResult(passed=True, metadata={"when": object()})


def test_graph_refuses_unknown_assets_sources_and_repeated_names() -> None:
    from assets_core import source_asset

    @asset
    def orders() -> list:
        return []

    raw = source_asset("raw", version=lambda: "1", read=lambda: 1)

    def check(name: str, target: object) -> object:
        return asset_check(asset=target, name=name)(lambda value: CheckResult(True))

    with pytest.raises(GraphError) as caught:
        AssetGraph.build(
            [orders, raw], [check("a", "order"), check("b", "raw"), check("c", orders), check("c", "orders")]
        )
    assert caught.value.problems == sorted(
        [
            "@asset_check a checks unknown asset 'order'; did you mean 'orders'?",
            "@asset_check b: 'raw' is a source; checks run after an asset is built, so check an asset that reads it",
            "asset 'orders' has two checks named 'c'; rename one with name='...'",
        ]
    )
    graph = AssetGraph.build([orders], [check("c", orders)])
    assert [c.name for c in graph.checks["orders"]] == ["c"]


def test_check_defaults_to_the_parameter_name() -> None:
    @asset_check()
    def no_empty(orders: list) -> CheckResult:
        return CheckResult(passed=bool(orders))

    assert (no_empty.asset_key, no_empty.name, no_empty.blocking) == ("orders", "no_empty", False)
    assert no_empty([1]) == CheckResult(passed=True)


def test_unknown_check_asset_is_one_line_at_load(sqlite_project: Project) -> None:
    _write(sqlite_project, [1], CHECKED.replace('asset="numbers"', 'asset="numbrs"'))
    result = sqlite_project.cli("plan", "-m", sqlite_project.module())
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("checks unknown asset 'numbrs'; did you mean 'numbers'?")
    assert "Traceback" not in result.stderr


def test_check_cause_kind_is_in_plan_json(sqlite_project: Project) -> None:
    _write(sqlite_project, [1, 2])
    _materialize(sqlite_project)
    _write(sqlite_project, [1, 2], CHECKED.replace("n < 0", "n < -1"))
    data = json.loads(sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", check=True).stdout)
    numbers = next(a for a in data["assets"] if a["key"] == "numbers")
    assert numbers["status"] == "CHECK" and numbers["causes"][0]["kind"] == CauseKind.CHECK.value
    assert numbers["causes"][0]["input"] == "no_negatives"
    assert numbers["checks"] == [{**numbers["checks"][0], "check": "no_negatives", "passed": True, "current": False}]
    assert data["counts"]["stale"] == 2  # total waits on the blocking check
    text = sqlite_project.cli("plan", "-m", sqlite_project.module(), check=True).stdout
    assert "2 assets: 2 stale (1 only to run checks), 0 fresh" in text
    assert next(line for line in text.splitlines() if line.startswith("numbers ")).split()[1:4] == [
        "CHECK",
        numbers["code_version"][:12],
        "to",
    ]


def test_the_docs_first_example_runs(sqlite_project: Project) -> None:
    from conftest import REPO

    text = (REPO / "docs" / "checks.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    sqlite_project.write("pipeline", example)
    ws = sqlite_project.workspace()
    summary = run(ws, planned_work(ws.plan())[0])
    assert _outcomes(summary) == {"orders": Outcome.BUILT}
    head = ws.store.heads()["orders"]
    [result] = ws.store.checks_of([head.id])[head.id]
    assert result.passed and result.metadata == {"non_positive_rows": 0}


def test_definitions_bundle_lists_checks(sqlite_project: Project) -> None:
    bundle = (
        CHECKED
        + "\n    from assets_core import Definitions\n\n"
        + "    defs = Definitions(assets=[raw, numbers], checks=[no_negatives])\n"
    )
    _write(sqlite_project, [1], bundle)
    graph = sqlite_project.workspace().graph
    assert sorted(graph.nodes) == ["numbers", "raw"] and [c.name for c in graph.checks["numbers"]] == ["no_negatives"]


def test_diff_and_html_view_show_check_results(sqlite_project: Project) -> None:
    project = sqlite_project
    _write(project, [1, 2], WARN)
    first = _materialize(project).run_id
    _write(project, [1, -2], WARN)
    second = _materialize(project).run_id
    text = project.cli("diff", "-m", project.module(), first, second, check=True).stdout
    assert "check no_negatives passed (negative=0) -> failed (negative=1)" in " ".join(text.split())
    data = json.loads(project.cli("diff", "-m", project.module(), first, second, "--json", check=True).stdout)
    numbers = next(a for a in data["assets"] if a["asset"] == "numbers")
    assert numbers["checks"] == {"no_negatives": ["passed (negative=0)", "failed (negative=1)"]}

    out = project.root / "graph.html"
    project.cli("graph", "-m", project.module(), "--html", "-o", str(out), check=True)
    page = out.read_text()
    details = json.loads(page.split('<script type="application/json" id="lp-data">', 1)[1].split("</script>", 1)[0])
    [check] = details["numbers"]["checks"]
    assert (check["check"], check["passed"], check["metadata"], check["current"]) == (
        "no_negatives",
        False,
        {"negative": 1},
        True,
    )
    assert details["numbers"]["materializations"][0]["checks"][0]["metadata"] == {"negative": 1}
    assert details["total"]["checks"] == []


def _record(check: str, version: str, passed: bool, severity: str = "error", error: str | None = None) -> CheckRecord:
    return CheckRecord("orders", check, "run", version, passed, severity, True, {}, error)


def test_pending_checks_rules() -> None:
    def check(name: str, blocking: bool) -> AssetCheck:
        return asset_check(asset="orders", name=name, blocking=blocking)(lambda orders: CheckResult(True))

    strict, loose = check("strict", True), check("loose", False)
    versions = {"strict": "v2", "loose": "w1"}
    assert (
        pending_checks([strict, loose], versions, [_record("strict", "v2", True), _record("loose", "w1", False)])
        is None
    )
    owed = pending_checks([strict, loose], versions, [_record("strict", "v1", True)])
    assert owed is not None and owed.gating
    assert [c.message for c in owed.causes] == [
        "check 'strict' changed: v1 -> v2",
        "check 'loose' has not run on this version",
    ]
    only_loose = pending_checks([strict, loose], versions, [_record("strict", "v2", True)])
    assert only_loose is not None and not only_loose.gating  # a non-blocking check holds nothing back
    warned = pending_checks([strict], versions, [_record("strict", "v2", False, severity="warn")])
    assert warned is None  # a warning from a blocking check does not block
    raised = pending_checks([strict], versions, [_record("strict", "v2", False, error="KeyError: 'x'")])
    assert (
        raised is not None
        and raised.gating
        and "raised on this version (KeyError: 'x'); it runs again" in (raised.causes[0].message)
    )
    failed = pending_checks([strict], versions, [_record("strict", "v2", True), _record("strict", "v2", False)])
    assert failed is not None and failed.causes[0].message == "blocking check 'strict' failed on this version"

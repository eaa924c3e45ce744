"""Issue 9, item 4: an asset below a stale upstream that the selection leaves out is never called fresh.

``plan --select`` marks it WAITING (naming the upstream and the selection that would rebuild it), and
``materialize`` reports it 'waiting' and exits 1 instead of 'up to date'."""

from __future__ import annotations

import json

from conftest import Project

from assets_core.planner import CauseKind

PIPELINE = """
    from assets_core import asset, source_asset

    raw = source_asset("raw", path="../raw.json")

    @asset
    def orders(raw: dict) -> list:
        return raw["values"]

    @asset(code_version={revenue_version!r})
    def revenue(orders: list) -> dict:
        return {{"total": sum(orders)}}

    @asset
    def report(revenue: dict) -> str:
        return f"revenue {{revenue['total']}}"

    @asset
    def other(raw: dict) -> int:
        return len(raw["values"])
"""


def _setup(project: Project, revenue_version: str = "1") -> None:
    project.write("pipeline", PIPELINE.format(revenue_version=revenue_version))
    project.write_file("raw.json", json.dumps({"values": [1, 2, 3]}))


def _plan(project: Project, *args: str) -> dict[str, dict]:
    result = project.cli("plan", "-m", project.module(), "--json", *args, check=True)
    return {a["key"]: a for a in json.loads(result.stdout)["assets"]}


def test_plan_marks_assets_below_an_unselected_stale_upstream_as_waiting(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.write_file("raw.json", json.dumps({"values": [1, 2, 3, 4]}))

    whole = _plan(sqlite_project)
    assert all(not a["waiting_on"] for a in whole.values())  # everything selected: nothing waits

    planned = _plan(sqlite_project, "--select", "revenue+")
    assert set(planned) == {"revenue", "report"}
    assert planned["revenue"]["status"] == "STALE"
    assert planned["revenue"]["waiting_on"] == ["orders"]
    assert planned["report"]["waiting_on"] == ["orders"]  # through the selected 'revenue'
    assert [c["kind"] for c in planned["report"]["causes"]] == [CauseKind.UPSTREAM.value]

    text = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--select", "revenue+", check=True).stdout
    assert "WAITING: waiting on stale upstream 'orders' (not selected); select +revenue to rebuild it" in text
    assert "2 stale (2 waiting on stale upstreams outside the selection)" in text


def test_materialize_below_an_unselected_stale_upstream_says_waiting_and_exits_1(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.write_file("raw.json", json.dumps({"values": [1, 2, 3, 4]}))

    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "revenue+", "--json")
    assert result.returncode == 1, result.stderr
    outcomes = {r["key"]: r for r in json.loads(result.stdout)["results"]}
    assert {k: r["outcome"] for k, r in outcomes.items()} == {"revenue": "waiting", "report": "waiting"}
    assert "select +revenue to rebuild it" in outcomes["revenue"]["message"]

    text = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "revenue+")
    assert text.returncode == 1
    assert "up to date" not in text.stderr
    assert "2 waiting on stale upstreams outside the selection" in text.stdout
    assert "waiting revenue: waiting on stale upstream 'orders' (not selected)" in text.stderr

    # plan and the run agree: still stale; selecting the upstream too brings everything up to date
    assert _plan(sqlite_project, "--select", "revenue+")["revenue"]["status"] == "STALE"
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "+revenue+", check=True)
    assert all(a["status"] == "FRESH" for a in _plan(sqlite_project, "--select", "revenue+").values())


def test_a_directly_stale_asset_is_built_but_reported_still_stale(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.write_file("raw.json", json.dumps({"values": [5]}))
    _setup_code = PIPELINE.format(revenue_version="2")
    sqlite_project.write("pipeline", _setup_code)

    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "revenue", "--json")
    outcome = json.loads(result.stdout)["results"][0]
    assert outcome["outcome"] == "built"  # its own code changed: the requested build happens
    assert outcome["message"].startswith("still stale: waiting on stale upstream 'orders'")
    assert result.returncode == 0
    assert _plan(sqlite_project, "--select", "revenue")["revenue"]["waiting_on"] == ["orders"]


def test_waiting_with_workers_matches_in_process(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.write_file("raw.json", json.dumps({"values": [9, 9]}))
    result = sqlite_project.cli(
        "materialize", "-m", sqlite_project.module(), "--select", "revenue+,other", "--workers", "2", "--json"
    )
    assert result.returncode == 1
    outcomes = {r["key"]: r["outcome"] for r in json.loads(result.stdout)["results"]}
    assert outcomes == {"revenue": "waiting", "report": "waiting", "other": "built"}


def test_schedules_warn_about_upstreams_their_selection_leaves_out(sqlite_project: Project) -> None:
    _setup(sqlite_project)
    sqlite_project.write(
        "pipeline",
        PIPELINE.format(revenue_version="1")
        + '    from assets_core import schedule\n    narrow = schedule("narrow", cron="0 2 * * *", select="revenue+")\n'
        + '    wide = schedule("wide", cron="0 3 * * *", select="+revenue+")\n',
    )
    result = sqlite_project.cli("schedules", "-m", sqlite_project.module(), check=True)
    assert "warning: schedule 'narrow' selects 'revenue+' but not its upstream 'orders'" in result.stderr
    assert "'wide'" not in result.stderr
    rows = json.loads(sqlite_project.cli("schedules", "-m", sqlite_project.module(), "--json", check=True).stdout)
    assert {r["name"]: r["upstreams_outside"] for r in rows["schedules"]} == {"narrow": ["orders"], "wide": []}


def test_the_argo_pod_step_reports_waiting_and_fails(sqlite_project: Project) -> None:
    """The in-pod 'lakeplan step' of a run whose selection leaves out a stale upstream does what the local
    run does: 'waiting', exit 1, so the workflow fails and its run branch is not published."""
    _setup(sqlite_project)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.write_file("raw.json", json.dumps({"values": [7]}))
    args = ("step", "-m", sqlite_project.module(), "--asset", "revenue", "--run-id", "wf-1")
    result = sqlite_project.cli(*args, "--selection", "revenue+")
    assert result.returncode == 1, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert (line["outcome"], line["message"]) == (
        "waiting",
        "waiting on stale upstream 'orders' (not selected); select +revenue to rebuild it",
    )
    whole = sqlite_project.cli(*args, "--selection", "*")  # nothing left out: up to date as far as it can tell
    assert whole.returncode == 0 and json.loads(whole.stdout.strip().splitlines()[-1])["outcome"] == "fresh"

"""``lakeplan ui``: the JSON API over a real store, and the pages in a real browser."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import textwrap
import time
from typing import Any

import pytest
from conftest import Project
from sample_pipelines import PARTITIONED, PARTITIONED_DAYS
from starlette.testclient import TestClient
from test_partition_runs import write_events
from ui_harness import needs_browser, served

from assets_core.ui.api import finite
from assets_core.ui.server import create_app

PIPELINE = """
    from assets_core import asset

    @asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset(group="reports")
    def total(numbers: list[int]) -> int:
        return sum(numbers)
"""


def test_the_graph_api_lists_every_asset_with_its_state(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "-s", "numbers", check=True)
    client = TestClient(create_app(sqlite_project.module(), settings=sqlite_project.settings()))
    assets = {a["key"]: a for a in client.get("/api/graph").json()["assets"]}
    assert assets["numbers"]["state"] == "fresh"
    assert assets["total"]["state"] == "missing" and assets["total"]["deps"] == ["numbers"]
    assert assets["total"]["group"] == "reports"


# -- the JSON API -----------------------------------------------------------------------------------

SECRET = "s3cr3t-Tok3n-9f1e"
HOSTILE_META = "<script>alert(1)</script>"
HOSTILE_VALUE = '<img src=x onerror="alert(2)">'

AUDITED = f"""
    import os
    from assets_core import CheckResult, add_metadata, asset, asset_check, resource

    @resource(secrets={{"token": "UI_TEST_TOKEN"}})
    def api(config) -> dict:
        return dict(config)

    @asset(metadata={{"owner": {HOSTILE_META!r}}})
    def numbers(api: dict) -> list[int]:
        print("calling the API with", api["token"])
        count = int(os.environ.get("UI_COUNT", "3"))
        add_metadata(note={HOSTILE_VALUE!r}, count=count)
        return list(range(count))

    @asset(group="reports")
    def total(numbers: list[int]) -> int:
        if os.environ.get("UI_FAIL"):
            print("about to fail")
            raise ValueError("total refused")
        return sum(numbers)

    @asset_check(asset="numbers")
    def positive(numbers: list[int]) -> CheckResult:
        return CheckResult(passed=all(n >= 0 for n in numbers), metadata={{"n": len(numbers)}})
"""


def _audited(project: Project) -> list[str]:
    """Three runs of AUDITED: built, rebuilt with one more number, and ``total`` failing; their run ids."""
    project.write("pipeline", AUDITED)
    env = {"UI_TEST_TOKEN": SECRET}
    project.cli("materialize", "-m", project.module(), check=True, env=env)
    project.cli("materialize", "-m", project.module(), "--force", check=True, env={**env, "UI_COUNT": "4"})
    failed = project.cli("materialize", "-m", project.module(), "-s", "total", "--force", env={**env, "UI_FAIL": "1"})
    assert failed.returncode == 1, failed.stderr
    runs = json.loads(project.cli("runs", "-m", project.module(), "--json", check=True).stdout)["runs"]
    return [r["run_id"] for r in reversed(runs)]


def _cli_json(project: Project, *args: str) -> Any:
    return json.loads(project.cli(*args, "-m", project.module(), "--json", check=True).stdout)


def _client(project: Project, monkeypatch: pytest.MonkeyPatch, allow_launch: bool = False) -> TestClient:
    monkeypatch.setenv("UI_TEST_TOKEN", SECRET)
    return TestClient(create_app(project.module(), allow_launch=allow_launch, settings=project.settings()))


def test_the_api_serves_what_the_cli_prints(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _, second, failed = _audited(project)
    client = _client(project, monkeypatch)
    assert client.get("/api/plan").json() == _cli_json(project, "plan")
    assert client.get("/api/runs").json() == _cli_json(project, "runs")
    listed = {a["key"]: a for a in client.get("/api/assets").json()["assets"]}
    for row in _cli_json(project, "assets")["assets"]:
        assert {k: v for k, v in listed[row["key"]].items() if k in row} == row
    assert listed["numbers"]["status"] == listed["total"]["status"] == "FRESH"  # a failure keeps the last version

    run = client.get(f"/api/runs/{failed}").json()
    assert run["run"] == _cli_json(project, "runs", failed)["run"]
    assert run["previous"] == second and run["diff"]["run_a"] == second and run["diff"]["run_b"] == failed
    assert [(m["asset"], m["kind"]) for m in run["run"]["materializations"]] == [("total", "failed")]
    assert run["run"]["environment"]["python"] and run["building"] == []

    found = client.get("/api/assets/numbers").json()
    assert found["history"] == _cli_json(project, "history", "numbers")
    assert found["code"] == _cli_json(project, "plan", "--explain", "numbers")
    assert found["status"]["status"] == "FRESH" and found["definition"]["group"] == "default"
    newest, oldest = found["history"]["materializations"]
    assert found["history"]["head"] == newest["id"] and newest["metadata"]["count"] == 4
    assert [(c["check"], c["passed"]) for c in newest["checks"]] == [("positive", True)]
    assert found["lineage"]["downstream"]["children"][0]["asset"] == "total"
    assert found["lineage"]["upstream"]["asset"] == "numbers" and found["partitions"] is None

    diff = client.get(f"/api/assets/numbers/diff?from={oldest['id']}&to={newest['id']}").json()
    assert diff == _cli_json(project, "diff", str(oldest["id"]), str(newest["id"]), "--asset", "numbers")
    assert diff["metadata"]["metrics"]["count"] == {"old": 3, "new": 4}
    logs = client.get(f"/api/assets/total/logs?run={failed}").json()
    assert logs["attempts"][0]["log"] == "about to fail\n"
    assert "ValueError: total refused" in logs["attempts"][0]["traceback"]
    checks = client.get("/api/checks").json()["assets"]
    assert [(a["asset"], [c["check"] for c in a["checks"]]) for a in checks] == [("numbers", ["positive"])]


def test_api_errors_are_one_line_with_a_status(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    _audited(sqlite_project)
    client = _client(sqlite_project, monkeypatch)
    missing = client.get("/api/assets/nubmers")
    assert missing.status_code == 404
    assert missing.json() == {"error": "unknown asset 'nubmers'; did you mean 'numbers'?"}
    assert client.get("/api/runs/nope").status_code == 404
    assert client.get("/api/assets/numbers/diff?from=1").status_code == 400
    assert client.get("/api/plan?select=nope").status_code == 400
    assert client.get("/api/runs?limit=0").json() == {"error": "limit must be a whole number >= 1, got '0'"}


def test_no_secret_in_any_api_response(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, failed = _audited(sqlite_project)
    client = _client(sqlite_project, monkeypatch)
    logs = client.get("/api/assets/numbers/logs").json()["attempts"][0]["log"]
    assert logs == "calling the API with ***\n"  # what the user's code printed, masked
    paths = [
        "/api/config",
        "/api/assets",
        "/api/assets/numbers",
        "/api/assets/total",
        "/api/assets/numbers/logs",
        f"/api/assets/total/logs?run={failed}",
        "/api/plan",
        "/api/runs",
        "/api/checks",
        "/api/graph",
        *(f"/api/runs/{run}" for run in (first, second, failed)),
        *(f"/api/runs/{run}/events" for run in (first, failed)),
        "/",
        "/assets",
        "/runs",
        "/static/asset.js",
        "/static/runs.js",
        "/static/common.js",
    ]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert SECRET not in answer.text, path


def test_an_unreachable_store_is_a_503_with_one_line(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    settings = dataclasses.replace(
        sqlite_project.settings(), database_url="postgresql+psycopg://lake:hunter2@127.0.0.1:9/lake?connect_timeout=2"
    )
    client = TestClient(create_app(sqlite_project.module(), settings=settings))
    for path in ("/api/assets", "/api/runs", "/api/assets/numbers"):
        answer = client.get(path)
        assert answer.status_code == 503, path
        error = answer.json()["error"]
        assert "127.0.0.1:9" in error and "hunter2" not in error and "\n" not in error


def test_the_server_starts_on_an_unreachable_store_but_not_on_a_project_that_does_not_load(
    sqlite_project: Project,
) -> None:
    """Warming up (what ``lakeplan ui`` does before it listens): a store that cannot be reached is the page's to
    explain; a definitions mistake is one line and exit 2 before anything is served."""
    sqlite_project.write("pipeline", PIPELINE)
    settings = dataclasses.replace(
        sqlite_project.settings(), database_url="postgresql+psycopg://lake:hunter2@127.0.0.1:9/lake?connect_timeout=2"
    )
    warmed = TestClient(create_app(sqlite_project.module(), settings=settings, warm=True))
    assert warmed.get("/api/graph").status_code == 503
    broken = "\n@asset\ndef broken(nubmers: int) -> int:\n    return 1\n"  # a mistyped upstream
    sqlite_project.write("pipeline", textwrap.dedent(PIPELINE) + broken)
    started = sqlite_project.cli("ui", "-m", sqlite_project.module(), "--port", "1", timeout=60)
    assert started.returncode == 2 and "http://" not in started.stdout
    assert started.stderr.count("\n") == 1 and "nubmers" in started.stderr, started.stderr


def test_the_project_is_reloaded_when_its_code_changes(sqlite_project: Project) -> None:
    path = sqlite_project.write("pipeline", PIPELINE)
    client = TestClient(create_app(sqlite_project.module(), settings=sqlite_project.settings()))
    before = {a["key"]: a for a in client.get("/api/assets").json()["assets"]}
    assert len(client.get("/api/graph").json()["assets"]) == len(before)
    assert client.get("/api/assets").json()["assets"] == list(before.values())  # unchanged: the same answer
    path.write_text(path.read_text().replace("return sum(numbers)", "return sum(numbers) * 2") + MORE)
    shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)  # bytecode is keyed by whole-second mtime
    after = {a["key"]: a for a in client.get("/api/assets").json()["assets"]}
    assert set(after) == {"numbers", "total", "doubled"}
    assert {a["key"] for a in client.get("/api/graph").json()["assets"]} == set(after)  # the graph page too
    assert after["total"]["code_version"] != before["total"]["code_version"]
    assert after["numbers"]["code_version"] == before["numbers"]["code_version"]


MORE = """

@asset
def doubled(total: int) -> int:
    return total * 2
"""


def test_launching_needs_the_flag_and_a_request_from_the_ui(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    ours = {"Content-Type": "application/json", "X-Lakeplan": "1"}
    body = json.dumps({"select": "numbers"})
    refused = _client(sqlite_project, monkeypatch).post("/api/materialize", content=body, headers=ours)
    assert refused.status_code == 403 and "lakeplan ui --allow-launch" in refused.json()["error"]
    assert _client(sqlite_project, monkeypatch).get("/api/config").json()["allow_launch"] is False

    client = _client(sqlite_project, monkeypatch, allow_launch=True)
    assert client.get("/api/config").json()["allow_launch"] is True
    form = client.post("/api/materialize", data={"select": "numbers"}, headers={"X-Lakeplan": "1"})
    assert form.status_code == 403 and "JSON" in form.json()["error"]  # what a cross-site form can send
    bare = client.post("/api/materialize", content=body, headers={"Content-Type": "application/json"})
    assert bare.status_code == 403 and "X-Lakeplan" in bare.json()["error"]
    elsewhere = client.post("/api/materialize", content=body, headers={**ours, "Origin": "http://evil.example"})
    assert elsewhere.status_code == 403
    assert client.get("/api/materialize").status_code == 405
    wrong = client.post("/api/materialize", content=json.dumps({"select": "nubmers"}), headers=ours)
    assert wrong.status_code == 400 and "did you mean 'numbers'" in wrong.json()["error"]
    assert client.get("/api/runs").json()["runs"] == []  # nothing was started

    started = client.post("/api/materialize", content=body, headers=ours)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 60
    while (run := client.get(f"/api/runs/{run_id}").json()["run"])["status"] == "running":
        assert time.monotonic() < deadline, "the launched run did not finish"
        time.sleep(0.1)
    assert run["status"] == "success" and run["selection"] == "numbers"
    assert [m["asset"] for m in run["materializations"]] == ["numbers"]


# -- the pages in a real browser ---------------------------------------------------------------------

SLOW = """
    import time
    from assets_core import asset

    @asset
    def first() -> int:
        time.sleep(1.5)
        return 1

    @asset
    def second(first: int) -> int:
        time.sleep(1.5)
        return first + 1

    @asset
    def third(second: int) -> int:
        time.sleep(1.5)
        return second + 1
"""


@needs_browser
def test_the_asset_page_shows_history_versions_and_values_as_text(
    sqlite_project: Project,
    page: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _audited(sqlite_project)
    monkeypatch.setenv("UI_TEST_TOKEN", SECRET)
    code_version = sqlite_project.workspace().code_version("numbers").version
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.goto(f"{url}/assets")
        page.wait_for_selector("#assets tbody tr")
        page.fill("#search", "num")
        assert page.locator("#assets tbody tr:visible").count() == 1
        page.click("#assets a:text-is('numbers')")
        page.wait_for_selector("#history tbody tr")
        assert page.url == f"{url}/assets/numbers"
        assert page.locator("#history tbody tr").count() == 2
        assert page.text_content("#code-version") == code_version
        assert page.locator("#code-parts tbody tr").count() >= 1
        main = page.text_content("main")
        assert HOSTILE_META in main and HOSTILE_VALUE in main  # shown as text...
        assert page.locator("main script, main img").count() == 0  # ...never made into elements
        page.check("#history tbody tr:nth-child(2) input[name=a]")
        page.check("#history tbody tr:nth-child(1) input[name=b]")
        page.click("#compare")
        page.wait_for_selector("#diff:visible")
        assert "count: 3 -> 4" in page.text_content("#diff")
        assert "total" in page.text_content("#downstream")
        page.click("#history .show-log")
        page.wait_for_selector("#history .log:visible")
        assert page.text_content("#history .log") == "calling the API with ***\n"

        page.goto(f"{url}/assets/total")
        page.wait_for_selector("#history tr.failed")
        failed = page.locator("#history tr.failed")
        failed.locator("summary").click()
        assert "ValueError: total refused" in failed.locator("pre").first.text_content()
        assert SECRET not in page.content()
    assert dialogs == []


@needs_browser
def test_a_run_started_from_the_runs_page_is_followed_live(sqlite_project: Project, page: Any) -> None:
    sqlite_project.write("pipeline", SLOW)
    with served(sqlite_project.module(), sqlite_project.settings(), allow_launch=True) as url:
        page.goto(f"{url}/runs")
        page.fill("#launch-select", "*")
        page.click("#launch")
        page.wait_for_url(re.compile(r".*/runs/\d{8}-\d{6}-[0-9a-f]{6}$"))
        page.wait_for_selector("#outcomes .status.built", timeout=30_000)  # first is built ...
        assert page.locator("#summary .status.running").count() == 1  # ... while the run goes on
        page.wait_for_selector("#summary .status.success", timeout=60_000)
        rows = page.locator("#outcomes tbody tr").all_text_contents()
        assert [row.split("built")[0] for row in rows] == ["first", "second", "third"]
        assert all(float(row.split("built")[1].split("s")[0]) >= 1.5 for row in rows)  # each one's duration
        assert "python" in page.text_content("#environment")
        page.goto(f"{url}/runs")
        page.wait_for_selector("#runs tbody tr")
        assert page.locator("#runs tbody tr").count() == 1


@needs_browser
def test_an_unreachable_store_shows_one_line(sqlite_project: Project, browser: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    settings = dataclasses.replace(
        sqlite_project.settings(), database_url="postgresql+psycopg://lake:hunter2@127.0.0.1:9/lake?connect_timeout=2"
    )
    opened = browser.new_page()  # not the page fixture: the 503 itself is logged to the console
    try:
        with served(sqlite_project.module(), settings) as url:
            for path in ("/assets", "/runs"):
                opened.goto(f"{url}{path}")
                opened.wait_for_selector("#error:visible")
                error = opened.text_content("#error")
                assert "127.0.0.1:9" in error and "hunter2" not in error
    finally:
        opened.close()


def test_a_partitioned_asset_as_a_whole_and_one_partition(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_project.write("pipeline", PARTITIONED)
    for day in PARTITIONED_DAYS:
        write_events(sqlite_project, day, [1, 2])
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "-s", "clean", "-p", "2026-01-02", check=True)
    client = _client(sqlite_project, monkeypatch)
    assert client.get("/api/plan").json() == _cli_json(sqlite_project, "plan")
    whole = client.get("/api/assets/clean").json()
    assert whole["history"] is None and whole["code"]["asset"] == "clean"
    assert (whole["partitions"]["planned"], whole["partitions"]["stale"]) == (5, 4)
    statuses = {p["partition"]: p["status"] for p in whole["partition_statuses"]}
    assert statuses == {day: "FRESH" if day == "2026-01-02" else "STALE" for day in PARTITIONED_DAYS}
    one = client.get("/api/assets/clean?partition=2026-01-02").json()
    assert one["key"] == "clean/partition=2026-01-02" and one["status"]["status"] == "FRESH"
    assert [m["kind"] for m in one["history"]["materializations"]] == ["built"]
    assert one["lineage"]["upstream"]["children"][0]["asset"] == "events/partition=2026-01-02"
    logs = client.get("/api/assets/clean/logs?partition=2026-01-02").json()
    assert logs["attempts"][0]["log"] == "cleaning 2026-01-02\n"
    listed = {a["key"]: a for a in client.get("/api/assets").json()["assets"]}
    assert listed["clean"]["status"] == "STALE" and listed["model"]["status"] == "STALE"


def test_numbers_json_cannot_carry_are_sent_as_text() -> None:
    data = {"auc": float("nan"), "rows": [1, float("inf"), -float("inf")], "ok": 0.5}
    assert finite(data) == {"auc": "nan", "rows": [1, "inf", "-inf"], "ok": 0.5}

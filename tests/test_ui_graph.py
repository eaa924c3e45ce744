"""``lakeplan ui``'s asset graph: ``/api/graph`` over a real store, and the page (canvas, search, hover,
groups, links) in a real browser."""

from __future__ import annotations

import json
from typing import Any

from conftest import Project
from starlette.testclient import TestClient
from ui_harness import needs_browser, served

from assets_core.config import load_settings
from assets_core.ui.server import create_app

PIPELINE = """
    from assets_core import asset

    @asset
    def orders() -> list[float]:
        return [9.5, 20.0, 4.25]

    @asset(group="reports")
    def revenue(orders: list[float]) -> float:
        return sum(orders)

    @asset(group="reports")
    def average_order(orders: list[float]) -> float:
        return sum(orders) / len(orders)

    @asset(group="reports")
    def refunds(orders: list[float]) -> float:
        raise ValueError("the refunds feed is down")
"""


def graph_of(client: TestClient) -> dict[str, dict[str, Any]]:
    return {a["key"]: a for a in client.get("/api/graph").json()["assets"]}


def test_the_graph_api_shows_failed_attempts_and_follows_runs_and_edits(project: Project) -> None:
    project.write("pipeline", PIPELINE)
    client = TestClient(create_app(project.module(), settings=project.settings()))
    assert {a["state"] for a in graph_of(client).values()} == {"missing"}
    project.cli("materialize", "-m", project.module())  # refunds fails
    assets = graph_of(client)  # a new materialization in the store: planned again, not the answer kept
    assert {k: a["state"] for k, a in assets.items()} == {
        "orders": "fresh",
        "revenue": "fresh",
        "average_order": "fresh",
        "refunds": "failed",
    }
    assert assets["refunds"]["causes"] == ["MISSING: never materialized"]
    assert assets["revenue"]["deps"] == ["orders"] and assets["revenue"]["group"] == "reports"
    project.write("pipeline", PIPELINE.replace("4.25", "4.5"))  # a file changed: loaded again
    assert graph_of(client)["orders"]["causes"][0].startswith("CODE")
    project.cli("materialize", "-m", project.module(), "-s", "orders", check=True)  # kept answer, new run
    assert graph_of(client)["orders"]["state"] == "fresh"


def test_the_graph_api_counts_stale_partitions_per_asset(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import asset, daily_partitions

        @asset(partitions=daily_partitions("2026-01-01", end="2026-01-06"))
        def day() -> int:
            return 1
        """,
    )
    client = TestClient(create_app(sqlite_project.module(), settings=sqlite_project.settings()))
    (day,) = client.get("/api/graph").json()["assets"]
    assert day["key"] == "day" and day["note"] == "5 of 5 partitions stale"
    assert day["causes"] == ["MISSING: never materialized in 5 of 5 partitions"]


def stale_project(project: Project) -> dict[str, dict[str, Any]]:
    """Everything built, then ``orders``' code changed: it and its readers are stale."""
    project.write("pipeline", PIPELINE)
    project.cli("materialize", "-m", project.module())
    project.write("pipeline", PIPELINE.replace("[9.5, 20.0, 4.25]", "[9.5, 20.0]"))
    return graph_of(TestClient(create_app(project.module(), settings=project.settings())))


def open_graph(page: Any, url: str) -> None:
    """Open the graph page and wait for its first drawing."""
    page.goto(url)
    page.wait_for_function("document.body.dataset.painted", timeout=30_000)


def hover(page: Any, name: str) -> str:
    """Move the mouse onto the drawn node ``name`` and return the tooltip's text."""
    where = page.evaluate("name => window.graphPage.where(name)", name)
    assert where is not None, f"{name} is not drawn"
    page.mouse.move(where["x"], where["y"])
    page.wait_for_selector("#tooltip:not([hidden])")
    return str(page.inner_text("#tooltip"))


def centre_of(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    return {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}


def near(a: dict[str, float], b: dict[str, float], by: float = 2) -> bool:
    return abs(a["x"] - b["x"]) <= by and abs(a["y"] - b["y"]) <= by


@needs_browser
def test_the_page_finds_assets_and_explains_stale_ones(sqlite_project: Project, page: Any) -> None:
    assets = stale_project(sqlite_project)
    assert assets["orders"]["state"] == "stale" and assets["orders"]["causes"][0].startswith("CODE")
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        open_graph(page, url)
        assert page.inner_text("#status") == "4 assets"
        assert [t.strip() for t in page.locator("#legend li").all_inner_texts()] == [
            "fresh",
            "stale",
            "missing",
            "failed",
            "source",
        ]
        page.fill("#search", "REV")
        assert page.inner_text("#status") == "1 match"
        assert near(page.evaluate("window.graphPage.where('revenue')"), centre_of(page, "#stage"))
        assert page.locator("#matches a").all_inner_texts() == ["revenue (stale)"]
        assert page.get_attribute("#matches a", "href") == "/assets/revenue"
        page.fill("#search", "order")  # orders, average_order: the view centred on the first
        assert page.inner_text("#status") == "match 1 of 2"
        page.press("#search", "Enter")
        assert page.inner_text("#status") == "match 2 of 2"
        assert hover(page, "orders").splitlines() == ["orders: stale", "group default", *assets["orders"]["causes"]]


@needs_browser
def test_a_collapsed_group_counts_its_assets_by_state(sqlite_project: Project, page: Any) -> None:
    stale_project(sqlite_project)
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        open_graph(page, url)
        page.click("text=▾ reports (3)")
        assert page.evaluate("window.graphPage.where('revenue')") is None  # drawn as its group now
        assert hover(page, "reports").splitlines() == [
            "group reports: 3 assets (click to expand)",
            "2 stale · 1 failed",
        ]
        where = page.evaluate("window.graphPage.where('reports')")
        page.mouse.click(where["x"], where["y"])  # expands it again
        page.wait_for_selector("text=▾ reports (3)")
        assert page.evaluate("window.graphPage.where('revenue')") is not None


@needs_browser
def test_clicking_an_asset_opens_its_page(sqlite_project: Project, page: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.route("**/assets/average_order", lambda route: route.fulfill(body="<!doctype html><title>asset</title>"))
        open_graph(page, url)
        where = page.evaluate("window.graphPage.where('average_order')")
        page.mouse.click(where["x"], where["y"])
        page.wait_for_url("**/assets/average_order")


@needs_browser
def test_drag_pans_the_wheel_zooms_and_fit_brings_everything_back(sqlite_project: Project, page: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        open_graph(page, url)
        where = lambda: page.evaluate("window.graphPage.where('orders')")  # noqa: E731
        fitted = where()
        page.mouse.move(fitted["x"] + 5, fitted["y"] + 200)
        page.mouse.down()
        page.mouse.move(fitted["x"] + 105, fitted["y"] + 150, steps=5)
        page.mouse.up()
        assert near(where(), {"x": fitted["x"] + 100, "y": fitted["y"] - 50})
        page.click("#fit")
        assert near(where(), fitted)
        gap = lambda: page.evaluate("window.graphPage.where('revenue')")["x"] - where()["x"]  # noqa: E731
        wide = gap()
        page.mouse.move(fitted["x"], fitted["y"])
        page.mouse.wheel(0, 300)  # out, about the pointer: the node under it stays, the others come closer
        page.wait_for_function(
            "wide => window.graphPage.where('revenue').x - window.graphPage.where('orders').x < wide", arg=wide * 0.8
        )
        assert near(where(), fitted) and 0 < gap() < wide * 0.8
        narrow = gap()
        page.click("#zoom-in")
        assert abs(gap() - narrow * 1.5) < 1


def synthetic(n: int, cause: str = "code: changed") -> dict[str, Any]:
    """An /api/graph answer for ``n`` assets in layers of 20, each reading two of the layer before."""
    states = {s: {"fill": "#eeeeee", "border": "#757575"} for s in ("fresh", "stale", "missing", "failed", "source")}
    assets = []
    for i in range(n):
        deps = [f"a{j}" for j in {i - 20, i - 19} if j >= 0 and j // 20 == i // 20 - 1]
        state = "stale" if i % 3 else "fresh"
        assets.append({"key": f"a{i}", "group": f"g{i // 500}", "deps": deps, "state": state,
                       "causes": [cause] if state == "stale" else [], "note": ""})  # fmt: skip
    return {"target": "synthetic", "states": states, "assets": assets}


@needs_browser
def test_causes_are_shown_as_text_not_html(sqlite_project: Project, page: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    evil = "data: source changed to <img src=x onerror=\"document.title='pwned'\"><b>bold</b>"
    answer = json.dumps(synthetic(2, cause=evil))
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.route("**/api/graph", lambda route: route.fulfill(body=answer, content_type="application/json"))
        open_graph(page, url)
        assert hover(page, "a1").splitlines()[-1] == evil
        page.fill("#search", "a1")
        assert page.locator("img, b").count() == 0 and page.title() != "pwned"


@needs_browser
def test_two_thousand_assets_paint_quickly(sqlite_project: Project, page: Any) -> None:
    """A smoke check only: benchmarks/bench_ui.py measures first paint."""
    sqlite_project.write("pipeline", PIPELINE)
    answer = json.dumps(synthetic(2000))
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.route("**/api/graph", lambda route: route.fulfill(body=answer, content_type="application/json"))
        open_graph(page, url)
        assert float(page.evaluate("document.body.dataset.painted")) < 10_000
        assert page.inner_text("#status") == "2000 assets"


@needs_browser
def test_an_unreachable_store_is_explained_in_place_of_the_graph(sqlite_project: Project, browser: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    env = {**sqlite_project.env(), "LAKEPLAN_DATABASE_URL": "postgresql://nobody:hunter2@127.0.0.1:1/x"}
    context = browser.new_context()  # not the page fixture: the 503 is logged as a console error, rightly
    try:
        with served(sqlite_project.module(), load_settings(sqlite_project.root, env)) as url:
            page = context.new_page()
            page.goto(url)
            message = page.wait_for_selector("#message:not([hidden])").inner_text()
    finally:
        context.close()
    assert message.startswith("cannot read from metadata store postgresql://nobody:***@127.0.0.1:1/x")
    assert "hunter2" not in message


@needs_browser
def test_a_graph_over_two_thousand_assets_opens_with_its_groups_collapsed(sqlite_project: Project, page: Any) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    answer = json.dumps(synthetic(2500))  # groups g0..g4 of 500
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.route("**/api/graph", lambda route: route.fulfill(body=answer, content_type="application/json"))
        open_graph(page, url)
        assert page.evaluate("window.graphPage.where('a0')") is None
        assert hover(page, "g0").splitlines() == ["group g0: 500 assets (click to expand)", "167 fresh · 333 stale"]
        open_graph(page, url + "/?groups=expanded")
        assert page.evaluate("window.graphPage.where('a0')") is not None

"""``lakeplan ui``: the JSON API over a real store, and the pages in a real browser."""

from __future__ import annotations

from typing import Any

from conftest import Project
from starlette.testclient import TestClient
from ui_harness import browser, needs_browser, page, served  # noqa: F401 - fixtures

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


@needs_browser
def test_the_graph_page_shows_the_assets(sqlite_project: Project, page: Any) -> None:  # noqa: F811
    sqlite_project.write("pipeline", PIPELINE)
    with served(sqlite_project.module(), sqlite_project.settings()) as url:
        page.goto(url)
        page.wait_for_selector(".asset.missing")
        assert page.locator(".asset").count() == 2

"""Draw docs/ui/graph.png: ``lakeplan ui``'s asset graph page for a small project with every state (fresh,
stale after a code edit, missing, failed, source), one group collapsed, a search and a stale asset's tooltip.

    .venv/bin/python scripts/ui_graph_screenshot.py [OUT.png]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from ui_harness import CHROMIUM, CHROMIUM_ARGS, served  # noqa: E402 - the tests' server and browser

PIPELINE = """
    from typing import Any

    from assets_core import asset, source_asset

    prices = source_asset("vendor_prices", path="prices.csv", group="ingest")

    @asset(group="ingest")
    def orders_raw() -> list[int]:
        return [3, 1, 2]

    @asset(group="ingest")
    def customers_raw() -> list[str]:
        return ["ann", "bob"]

    @asset(group="ingest")
    def events_raw() -> list[str]:
        return ["view", "buy"]

    @asset(group="clean")
    def orders(orders_raw: list[int]) -> list[int]:
        return sorted(orders_raw)

    @asset(group="clean")
    def customers(customers_raw: list[str]) -> list[str]:
        return sorted(customers_raw)

    @asset(group="clean")
    def events(events_raw: list[str]) -> list[str]:
        return events_raw

    @asset(group="clean")
    def products(vendor_prices: Any) -> int:
        return len(vendor_prices)

    @asset(group="features")
    def customer_features(orders: list[int], customers: list[str]) -> int:
        return len(orders) * len(customers)

    @asset(group="features")
    def product_features(orders: list[int], products: int) -> int:
        return len(orders) + products

    @asset(group="features")
    def sessions(events: list[str]) -> int:
        return len(events)

    @asset(group="features")
    def funnel(events: list[str], orders: list[int]) -> float:
        return len(orders) / len(events)

    @asset(group="reports")
    def daily_revenue(orders: list[int]) -> int:
        return sum(orders)

    @asset(group="reports")
    def top_products(product_features: int) -> int:
        return product_features

    @asset(group="reports")
    def funnel_report(funnel: float) -> str:
        raise RuntimeError("the report template is missing")

    @asset(group="model")
    def churn_model(customer_features: int, sessions: int) -> int:
        return customer_features + sessions
"""
LATER = """
    @asset(group="model")
    def churn_scores(churn_model: int, customers: list[str]) -> int:
        return churn_model * len(customers)
"""


def build(root: Path) -> str:
    """The project, materialized once (funnel_report fails), then edited: orders_raw's code changed
    (stale downstream) and churn_scores added (never built)."""
    package = root / "shop"
    package.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n\n[tool.lakeplan]\nmodule = 'shop.pipeline'\n")
    (package / "__init__.py").write_text("")
    (package / "prices.csv").write_text("sku,price\na,1\nb,2\n")
    pipeline = package / "pipeline.py"
    pipeline.write_text(textwrap.dedent(PIPELINE))
    subprocess.run([sys.executable, "-m", "assets_core", "materialize", "-q"], cwd=root, check=False)
    edited = PIPELINE.replace("[3, 1, 2]", "[3, 1, 2, 5]") + LATER
    pipeline.write_text(textwrap.dedent(edited))
    return str(pipeline)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "ui" / "graph.png"
    if CHROMIUM is None:
        sys.exit("ui_graph_screenshot: chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        target = build(root)
        with served(target) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 640})
            page.goto(url)
            page.wait_for_function("document.body.dataset.painted")
            page.click("text=▾ ingest (4)")  # collapsed: one node, its states in a strip
            page.fill("#search", "churn")
            page.click("#fit")
            page.wait_for_timeout(200)
            where = page.evaluate("window.graphPage.where('customer_features')")
            page.mouse.move(where["x"], where["y"])
            page.wait_for_selector("#tooltip:not([hidden])")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

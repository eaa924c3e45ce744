"""The HTML view in a real headless Chromium (driven over the DevTools protocol on a pipe): it loads with no
console errors and no network requests, and clicking a node shows that asset's details."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from ui_harness import CHROMIUM, CHROMIUM_ARGS, needs_browser

from assets_core.graph_render import drawn_keys, layered_svg, node_views
from assets_core.html_view import STRIP_RANGES, asset_details, partition_strip, render_html

PIPELINE = """
    from assets_core import add_metadata, asset, source_asset

    raw = source_asset("raw", path="raw.json")

    @asset(group="clean")
    def numbers(raw: dict) -> list:
        '''Numbers from the raw file.'''
        return raw["values"]

    @asset(group="report", metadata={"owner": "data-team", "tier": 1})
    def total(numbers: list) -> dict:
        add_metadata(score=0.875, url="https://example.invalid/report")
        return {"total": sum(numbers)}
"""


class Browser:
    """Chromium with ``--remote-debugging-pipe``: DevTools messages are NUL-terminated JSON on fds 3 and 4."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        flags = [
            "--headless",
            *CHROMIUM_ARGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]

        def wire() -> None:  # in the child: the pipe ends become fds 3 and 4
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [str(CHROMIUM), *flags],
            preexec_fn=wire,
            pass_fds=(3, 4),  # kept open after preexec_fn has put the pipe ends there
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 20) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise AssertionError(f"no reply to {method} in {timeout}s")

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise AssertionError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in self.events if e.get("method") == method), None)
            if found:
                return found
            self.events.append(self._read())
        raise AssertionError(f"no {method} event in {timeout}s")

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and network requests other than the page itself."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent" and not params["request"]["url"].startswith("file:"):
                found.append(f"network request: {params['request']['url']}")
        return found

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    chrome = Browser(tmp_path / "profile")
    try:
        yield chrome
    finally:
        chrome.close()


def _built_project(project: Project) -> Project:
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 3]}))
    project.write("pipeline", PIPELINE)
    project.cli("materialize", "-m", project.module(), check=True)
    return project


def _click_node(browser: Browser, key: str) -> None:
    box = browser.evaluate(
        "(() => { const g = [...document.querySelectorAll('#lp-graph g.node')]"
        f".find((n) => n.querySelector('title').textContent === {json.dumps(key)});"
        " g.scrollIntoView(); const r = g.getBoundingClientRect();"
        " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    browser.click(*box)


def _assert_click_shows(browser: Browser, html: Path) -> None:
    browser.open(html.as_uri())
    assert browser.problems() == []
    assert browser.evaluate("document.querySelectorAll('#lp-graph g.node').length") == 3
    _click_node(browser, "total")
    assert browser.evaluate("document.getElementById('lp-details').dataset.asset") == "total"
    text = browser.evaluate("document.getElementById('lp-details').innerText")
    assert "fresh" in text and "score" in text and "0.875" in text and "built" in text
    declared = browser.evaluate("document.getElementById('lp-declared-metadata').innerText")
    assert "owner\tdata-team" in declared and "tier\t1" in declared, declared
    _click_node(browser, "numbers")
    text = browser.evaluate("document.getElementById('lp-details').innerText")
    assert "Numbers from the raw file." in text and "score" not in text and "Declared metadata" not in text
    assert browser.problems() == []


@needs_browser
def test_html_from_cli_loads_cleanly_and_click_shows_details(
    sqlite_project: Project, browser: Browser, tmp_path: Path
) -> None:
    project = _built_project(sqlite_project)
    out = tmp_path / "graph.html"
    result = project.cli("graph", "-m", project.module(), "--html", "-o", str(out), check=True)
    assert "3 nodes" in result.stdout
    _assert_click_shows(browser, out)


@needs_browser
def test_html_with_engine_free_layout_works_the_same(sqlite_project: Project, browser: Browser, tmp_path: Path) -> None:
    ws = _built_project(sqlite_project).workspace()
    keys = drawn_keys(ws.graph, ws.select(None))
    plan = ws.plan()
    views = node_views(ws.graph, plan)
    recent = {k: ws.store.history(k, 5) for k in ws.graph.assets}
    out = tmp_path / "layered.html"
    out.write_text(
        render_html(layered_svg(ws.graph, views, keys), asset_details(ws.graph, plan, views, recent, keys), "t")
    )
    _assert_click_shows(browser, out)


def test_html_is_self_contained_and_escapes_script_breakers(sqlite_project: Project) -> None:
    ws = _built_project(sqlite_project).workspace()
    keys = drawn_keys(ws.graph, ws.select(None))
    views = node_views(ws.graph, ws.plan())
    details = asset_details(ws.graph, ws.plan(), views, {}, keys)
    details["total"]["description"] = "</script><script>alert(1)</script>"
    page = render_html(
        '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', details, "t"
    )
    assert page.count("</script>") == 3  # only the three real script elements close
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert "src=" not in page and "<link" not in page
    assert details["total"]["state"] == "fresh" and details["raw"]["state"] == "source"


@needs_browser
def test_the_browser_check_catches_errors_and_requests(browser: Browser, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); nope();</script>')
    browser.open(page.as_uri())
    found = " | ".join(browser.problems())
    assert "boom" in found and "nope" in found and "network request: http://127.0.0.1:9/x.png" in found


BROKEN_WORDS = """(() => {
  const broken = [];
  document.querySelectorAll("#lp-details td, #lp-details th").forEach((cell) => {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((box) => Math.round(box.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  });
  return broken;
})()"""


@needs_browser
def test_table_cells_never_break_inside_a_word(sqlite_project: Project, browser: Browser, tmp_path: Path) -> None:
    """The details panel is narrow: its tables keep each word whole ("code version", not "code ver / sion")
    and scroll sideways when their columns need more room than the panel has."""
    project = _built_project(sqlite_project)
    project.cli("materialize", "-m", project.module(), "--force", check=True)  # two rows of history, long details
    out = tmp_path / "graph.html"
    project.cli("graph", "-m", project.module(), "--html", "-o", str(out), check=True)
    browser.open(out.as_uri())
    _click_node(browser, "total")
    headers = browser.evaluate("[...document.querySelectorAll('#lp-details th')].map((h) => h.textContent)")
    assert {"when", "kind", "run", "data", "detail"} <= set(headers)  # the Recent materializations table is shown
    assert browser.evaluate(BROKEN_WORDS) == []
    panel = "document.getElementById('lp-details')"
    assert browser.evaluate(f"{panel}.getBoundingClientRect().width") <= 460  # still the narrow panel
    assert browser.problems() == []


def test_a_strip_of_ten_thousand_partitions_is_bucketed_and_described_in_ranges() -> None:
    """Above STRIP_CELLS partitions the strip draws at most that many cells (each a bucket, in its worst
    state), counts each state and names the runs of partitions in words, so the page stays small."""
    start = dt.date(2000, 1, 1)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range(10_000)]
    cells = [(d, "fresh", "") for d in days]
    cells[5000] = (days[5000], "stale", "DATA: 'events' changed")
    cells[-3:] = [(d, "missing", "MISSING: never materialized") for d in days[-3:]]
    strip = partition_strip(cells)
    assert strip["total"] == 10_000 and strip["stale"] == 4 and strip["bucket"] == 25
    assert strip["counts"] == {"fresh": 9_996, "missing": 3, "stale": 1}
    assert len(strip["cells"]) == 400
    assert strip["cells"][200] == [
        f"{days[5000]}..{days[5024]}",
        "stale",
        f"{days[5000]}..{days[5024]}: 24 fresh, 1 stale",
    ]
    assert strip["ranges"] == [
        f"{days[0]}..{days[4999]} (5000) fresh",
        f"{days[5000]} stale: DATA: 'events' changed",
        f"{days[5001]}..{days[9996]} (4996) fresh",
        f"{days[9997]}..{days[9999]} (3) missing: MISSING: never materialized",
    ]
    assert strip["more_ranges"] == 0
    assert len(json.dumps(strip)) < 40_000  # 400 cells of two keys each, whatever the partition count

    alternating = [(d, "stale" if i % 2 else "fresh", "") for i, d in enumerate(days)]
    many = partition_strip(alternating)
    assert len(many["ranges"]) == STRIP_RANGES and many["more_ranges"] == 10_000 - STRIP_RANGES
    assert len(json.dumps(many)) < 40_000
    small = partition_strip(cells[:3])
    assert small["bucket"] == 1 and small["cells"] == [[d, "fresh", f"{d}: fresh"] for d in days[:3]]


@needs_browser
def test_the_browser_draws_a_bounded_strip_for_ten_thousand_partitions(browser: Browser, tmp_path: Path) -> None:
    days = [(dt.date(2000, 1, 1) + dt.timedelta(days=i)).isoformat() for i in range(10_000)]
    cells = [
        (d, "stale" if d == days[7000] else "fresh", "DATA: 'events' changed" if d == days[7000] else "") for d in days
    ]
    svg = '<svg xmlns="http://www.w3.org/2000/svg"><g class="node"><title>daily</title><rect/></g></svg>'
    details = {
        "daily": {
            "key": "daily",
            "group": "default",
            "state": "stale",
            "description": "",
            "causes": [],
            "code_version": "c",
            "data_version": None,
            "upstream": [],
            "downstream": [],
            "metadata": {},
            "declared_metadata": {},
            "checks": [],
            "materializations": [],
            "partitions": partition_strip(cells),
        }
    }
    page = tmp_path / "daily.html"
    page.write_text(render_html(svg, details, "t"))
    assert page.stat().st_size < 60_000
    browser.open(page.as_uri())
    browser.evaluate("document.querySelector('#lp-graph g.node').dispatchEvent(new MouseEvent('click'))")
    assert browser.problems() == []
    assert browser.evaluate("document.querySelectorAll('#lp-strip span').length") == 400
    text = browser.evaluate("document.getElementById('lp-details').innerText")
    assert "Partitions: 1 of 10000 stale" in text and "9999 fresh, 1 stale; each cell: up to 25 partitions" in text
    ranges = browser.evaluate("document.getElementById('lp-strip-ranges').innerText").splitlines()
    assert ranges == [
        f"{days[0]}..{days[6999]} (7000) fresh",
        f"{days[7000]} stale: DATA: 'events' changed",
        f"{days[7001]}..{days[9999]} (2999) fresh",
    ]

"""The UI's asset graph page at 1k and 10k assets: time from navigation start to the graph drawn in
Chromium (the page sets ``document.body.dataset.painted`` after its first draw), with ``lakeplan ui`` in
its own process, and the ``/api/graph`` request alone.

The project is ``graphs.py``'s layered graph in 10 groups (10 layers each), with automatic code versions
(as users get them): its store is populated as in ``bench_plan.py`` with today's code versions (every
asset built once), then the first root's code is edited (it and its descendants stale), the last layer's
heads removed (missing) and 5 assets given a failed latest attempt. Cases, each the min and median of at
least 5 page loads in fresh browser contexts (``fetched``: when the answer had arrived; ``layout``: the
page's layered layout):

- the first load after the server started (it imports the project, computes code versions, plans), once;
- every asset drawn (``?groups=expanded``) when before each load a file of the project changed (its mtime:
  the server loads the project again and plans), a run recorded something (it plans again) or nothing
  changed (it gives the answer it kept);
- the opening view (groups collapsed above 2,000 assets), nothing changed;
- ``/api/graph`` alone, in the first three cases.

    .venv/bin/python benchmarks/bench_ui.py [--sizes 1000 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bench_plan
import graphs
import harness
import sqlalchemy as sa

from assets_core.config import Settings
from assets_core.metadata_store import MetadataStore
from assets_core.records import recipe_of
from assets_core.schema import heads, materializations
from assets_core.workspace import Workspace

sys.path.insert(0, str(harness.REPO / "tests"))
from ui_harness import CHROMIUM, CHROMIUM_ARGS  # the tests' way of driving Debian's Chromium

COLUMNS = ("assets", "case", "min_ms", "med_ms", "fetched_med_ms", "layout_med_ms")
EXPANDED = "/?groups=expanded"
GROUP_LAYERS = 10  # layers per group
FAILED = 5


def module_source(n: int) -> str:
    """``graphs.py``'s graph as ``@asset`` functions in groups of 10 layers, with automatic code versions."""
    lines = ['"""Generated UI benchmark graph."""', "", "from assets_core import asset", ""]
    width = max(1, n // graphs.LAYERS)
    for i, (k, ups) in enumerate(graphs.layered(n)):
        group = f"layers_{i // width // GROUP_LAYERS * GROUP_LAYERS:02d}"
        body = f"({' + '.join(ups)}) % 997" if ups else "1"
        lines += ["", f"@asset(group={group!r})", f"def {k}({', '.join(ups)}):", f"    return {body}", ""]
    return "\n".join(lines)


def failure(key: str) -> dict[str, object]:
    """A failed attempt's record."""
    texts = {"run_id": "bench-failed", "kind": "failed", "code_version": "-", "recipe": "-"}
    return {"asset_key": key, **texts, **dict.fromkeys(("input_versions", "metadata", "code_components"), "{}"),
            "started_at": 1.0, "finished_at": 1.0}  # fmt: skip


def write_project(project: Path, n: int) -> Path:
    """The project and its store (every asset built with today's code versions), then the first root's code
    edited, the last layer's heads removed and ``FAILED`` assets failed; returns the definitions file."""
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
    source = project / "generated.py"
    source.write_text(module_source(n), encoding="utf-8")
    bench_plan.populate(project, n)
    sys.modules.pop("generated", None)  # the previous size's
    settings = Settings(project_root=project)
    ws = Workspace.load(str(source), settings)
    built = graphs.fresh_heads(n)
    versions = {k: ws.code_version(k).version for k in built}
    keys = list(built)
    width = max(1, n // graphs.LAYERS)
    store = MetadataStore.open(settings.resolved_database_url)
    update = (
        materializations.update()
        .where(materializations.c.id == sa.bindparam("b_id"))
        .values(code_version=sa.bindparam("b_code"), recipe=sa.bindparam("b_recipe"))
    )
    with store.engine.begin() as conn:
        rows = [{"b_id": h.id, "b_code": versions[k], "b_recipe": recipe_of(versions[k], h.input_versions)}
                for k, h in built.items()]  # fmt: skip
        conn.execute(update, rows)
        conn.execute(heads.delete().where(heads.c.asset_key.in_(keys[-width:])))
        conn.execute(materializations.insert(), [failure(k) for k in keys[width : width + FAILED]])
    store.close()
    root = f"def {graphs.root(n)}():\n    return 1"
    source.write_text(source.read_text().replace(root, root.replace("1", "2")), encoding="utf-8")
    return source


def edit(project: Path) -> None:
    """Make the server load the project again: a file it was loaded from changed."""
    source = project / "generated.py"
    mtime = source.stat().st_mtime + 1
    os.utime(source, (mtime, mtime))


def record(project: Path) -> None:
    """Make the server plan again (with the workspace it has): something was recorded."""
    store = MetadataStore.open(Settings(project_root=project).resolved_database_url)
    with store.engine.begin() as conn:
        conn.execute(materializations.insert(), [failure("bench_tick")])
    store.close()


CASES = (  # (case, page, what changes before each load)
    ("every asset drawn, a file changed", EXPANDED, edit),
    ("every asset drawn, a run recorded", EXPANDED, record),
    ("every asset drawn, nothing changed", EXPANDED, None),
    ("opening view, nothing changed", "/", None),
)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as response:
        return bytes(response.read())


@contextmanager
def ui_server(target: Path) -> Iterator[str]:
    """``lakeplan ui`` for ``target`` in its own process until the block ends; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "assets_core", "ui", "-m", str(target), "--port", str(port)]
    proc = subprocess.Popen(command, cwd=target.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(url + "/static/graph.css")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"lakeplan ui did not start: {proc.stderr and proc.stderr.read()!r}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def page_load(browser: Any, url: str) -> dict[str, float]:
    """One load of the graph page in a fresh context: the page's own marks, in ms since navigation start."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("document.body.dataset.painted", timeout=120_000)
        marks = page.evaluate("({...document.body.dataset})")
        return {name: float(marks[name]) for name in ("painted", "fetchMs", "layoutMs")}
    finally:
        context.close()


def row(n: int, case: str, loads: list[dict[str, float]]) -> dict[str, Any]:
    """Min and median first paint of ``loads``, with the median time the answer arrived and the JS layout."""
    painted = [x["painted"] for x in loads]
    return {
        "assets": n,
        "case": case,
        "min_ms": min(painted),
        "med_ms": statistics.median(painted),
        "fetched_med_ms": statistics.median(x["fetchMs"] for x in loads),
        "layout_med_ms": statistics.median(x["layoutMs"] for x in loads),
    }


def measure(browser: Any, n: int, repeat: int) -> list[dict[str, Any]]:
    repeat = max(repeat, harness.REPEAT)
    with tempfile.TemporaryDirectory() as tmp:
        target = write_project(Path(tmp) / "project", n)
        with ui_server(target) as url:
            rows = [row(n, "first load after the server started", [page_load(browser, url + EXPANDED)])]
            for case, page, change in CASES:
                loads = []
                if change is None:
                    get(url + "/api/graph")  # kept from here for MAX_AGE seconds
                for _ in range(repeat):
                    if change is not None:
                        change(target.parent)
                    loads.append(page_load(browser, url + page))
                rows.append(row(n, case, loads))
            for case, _, change in CASES[:3]:
                times = []
                if change is None:
                    get(url + "/api/graph")
                for _ in range(repeat):
                    if change is not None:
                        change(target.parent)
                    start = time.perf_counter()
                    size = len(get(url + "/api/graph"))
                    times.append((time.perf_counter() - start) * 1000)
                case = "/api/graph alone, " + case.split(", ")[1]
                rows.append({"assets": n, "case": case, "min_ms": min(times), "med_ms": statistics.median(times)})
    print(f"{n} assets: /api/graph is {size / 1e6:.2f} MB", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=harness.REPEAT)
    args = parser.parse_args()
    if CHROMIUM is None:
        sys.exit("bench_ui: chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    rows = []
    with harness.session("ui graph page"), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in args.sizes:
            for row in measure(browser, n, args.repeat):
                harness.progress(row, COLUMNS)
                rows.append(row)
        browser.close()
    print(harness.table(rows, COLUMNS))


if __name__ == "__main__":
    main()

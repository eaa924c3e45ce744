"""Take the screenshots in docs/ui/ of ``lakeplan ui``: a copy of the quickstart is built, one helper is
edited and it is built again (so the pages have history, a diff and a previous run), then the asset page
and the runs page are captured by Debian's Chromium through Playwright, and a slow asset added to the
copy is started from the runs page and captured while it runs.

    .venv/bin/python scripts/ui_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402
from ui_harness import CHROMIUM, CHROMIUM_ARGS, served  # noqa: E402

from assets_core.config import load_settings  # noqa: E402

OUT = REPO / "docs" / "ui"
SLOW = """

@asset(group="reporting")
def nightly_export() -> int:
    import time

    time.sleep(4)
    return 1
"""
MODULE = "examples.quickstart.pipeline"


def materialize(project: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
    command = [sys.executable, "-m", "assets_core", "materialize", "-m", MODULE, "-q", *args]
    subprocess.run(command, cwd=project, env=env, check=True)


def main() -> None:
    if CHROMIUM is None:
        raise SystemExit("chromium not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="lakeplan-ui-shots-") as tmp:
        project = Path(tmp)
        shutil.copytree(REPO / "examples", project / "examples", ignore=shutil.ignore_patterns("__pycache__"))
        (project / "pyproject.toml").write_text('[project]\nname = "shots"\nversion = "0"\n\n[tool.lakeplan]\n')
        materialize(project)
        features = project / "examples" / "quickstart" / "features.py"
        features.write_text(features.read_text().replace("astype(float)", "astype(float) + 0.0 * 1"))
        materialize(project)
        pipeline = project / "examples" / "quickstart" / "pipeline.py"
        pipeline.write_text(pipeline.read_text() + SLOW)
        with served(MODULE, load_settings(project), allow_launch=True) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/assets/customer_features")
            page.wait_for_selector("#history tbody tr")
            page.check("#history tbody tr:nth-child(2) input[name=a]")
            page.check("#history tbody tr:nth-child(1) input[name=b]")
            page.click("#compare")
            page.wait_for_selector("#diff:visible")
            page.screenshot(path=str(OUT / "asset.png"), full_page=True)
            page.goto(f"{url}/runs")
            page.wait_for_selector("#runs tbody tr")
            page.screenshot(path=str(OUT / "runs.png"))
            page.click("#runs tbody tr:first-child a")
            page.wait_for_selector("#outcomes")
            page.screenshot(path=str(OUT / "run.png"), full_page=True)
            page.goto(f"{url}/runs")
            page.fill("#launch-select", "nightly_export")
            page.click("#launch")
            page.wait_for_selector("#outcomes .status.building")
            page.screenshot(path=str(OUT / "run-live.png"))
            page.wait_for_selector("#summary .status.success", timeout=60_000)
            browser.close()
    print(f"wrote {', '.join(str(p.relative_to(REPO)) for p in sorted(OUT.glob('*.png')))}")


if __name__ == "__main__":
    main()

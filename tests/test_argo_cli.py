"""``lakeplan submit`` against a local HTTP server standing in for the Argo Server; ``lakeplan step`` exit
codes; ``lakeplan schedules``; ``lakeplan compile -o``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Project

from argo_compiler import from_yaml

QUICKSTART = "examples.quickstart.pipeline"


class ArgoServer:
    """Records each request; answers like the Argo Server (the created object back), or with ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": json.loads(raw)}
                )
                created = next(v for k, v in json.loads(raw).items() if k in ("workflow", "cronWorkflow", "template"))
                created["metadata"].setdefault("name", created["metadata"].get("generateName", "") + "x7k2p")
                reply = json.dumps(created if owner.status == 200 else {"code": 7, "message": "forbidden"}).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    server = ArgoServer()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    thread.join()


def _lakeplan(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
    env.update(
        LAKEPLAN_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite'}",
        LAKEPLAN_STORAGE_ROOT=str(tmp_path / "storage"),
        LAKEPLAN_ARGO_IMAGE="registry.example/lakeplan-quickstart:1",
        **extra,
    )
    command = [sys.executable, "-m", "assets_core", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_submit_posts_the_compiled_workflow_with_the_token(tmp_path: Path, argo_server: ArgoServer) -> None:
    out = tmp_path / "workflow.yaml"
    compiled = _lakeplan(tmp_path, "compile", "-m", QUICKSTART, "-o", str(out))
    assert compiled.returncode == 0 and "5 DAG tasks" in compiled.stderr, compiled.stderr
    done = _lakeplan(
        tmp_path, "submit", "-f", str(out), "--host", argo_server.url, "--namespace", "ml", "--token", "t0ken"
    )
    assert done.returncode == 0, done.stderr
    [request] = argo_server.requests
    assert request["path"] == "/api/v1/workflows/ml"
    assert request["auth"] == "Bearer t0ken"
    assert request["body"]["workflow"] == from_yaml(out.read_text())[0]
    assert done.stdout.strip() == f"created Workflow/examples-quickstart-pipeline-x7k2p in ml on {argo_server.url}"


def test_submit_cron_compiles_and_posts_each_schedule(tmp_path: Path, argo_server: ArgoServer) -> None:
    config = {"LAKEPLAN_ARGO_HOST": argo_server.url, "LAKEPLAN_ARGO_NAMESPACE": "ml"}
    expected = from_yaml(_lakeplan(tmp_path, "compile", "-m", QUICKSTART, "--schedules", **config).stdout)
    args = ("submit", "-m", QUICKSTART, "--kind", "cron", "--no-verify")
    done = _lakeplan(tmp_path, *args, LAKEPLAN_ARGO_TOKEN="env-token", **config)
    assert done.returncode == 0, done.stderr
    assert [r["path"] for r in argo_server.requests] == ["/api/v1/cron-workflows/ml"]
    assert argo_server.requests[0]["auth"] == "Bearer env-token"
    assert [r["body"]["cronWorkflow"] for r in argo_server.requests] == expected


def test_submit_template_and_a_refusal_is_exit_code_3(tmp_path: Path, argo_server: ArgoServer) -> None:
    argo_server.status = 403
    args = ("submit", "-m", QUICKSTART, "--kind", "template", "--host", argo_server.url, "--namespace", "ml")
    done = _lakeplan(tmp_path, *args)
    assert done.returncode == 3
    assert [r["path"] for r in argo_server.requests] == ["/api/v1/workflow-templates/ml"]
    assert argo_server.requests[0]["body"]["template"]["kind"] == "WorkflowTemplate"
    assert done.stderr.startswith("error: Argo Server") and done.stderr.count("\n") == 1


def test_submit_without_a_host_names_the_fix(tmp_path: Path) -> None:
    done = _lakeplan(tmp_path, "submit", "-m", QUICKSTART, "--namespace", "ml")
    assert done.returncode == 2 and "--host is required" in done.stderr


def test_schedules_lists_the_next_five_fire_times(tmp_path: Path) -> None:
    done = _lakeplan(tmp_path, "schedules", "-m", QUICKSTART, "--json")
    assert done.returncode == 0, done.stderr
    [nightly] = json.loads(done.stdout)["schedules"]
    assert (nightly["name"], nightly["cron"], nightly["timezone"]) == ("nightly", "0 2 * * *", "Europe/Berlin")
    assert len(nightly["next"]) == 5 and all(
        t.endswith(("+01:00", "+02:00")) and "T02:00:00" in t for t in nightly["next"]
    )
    assert nightly["next"] == sorted(nightly["next"])


STEP_PIPELINE = """
from assets_core import asset


@asset
def fine() -> dict:
    return {"ok": 1}


@asset
def broken(fine: dict) -> dict:
    raise ValueError("bad row")
"""


def _step(project: Project, key: str, **extra: str) -> tuple[int, dict[str, Any]]:
    env = {**project.env(), **extra}
    command = [sys.executable, "-m", "assets_core", "step", "-m", project.module(), "--asset", key, "--run-id", "wf-9"]
    done = subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    return done.returncode, json.loads(lines[-1]) if lines else {"stderr": done.stderr}


def test_step_exit_codes_tell_user_failures_from_infrastructure(sqlite_project: Project, tmp_path: Path) -> None:
    sqlite_project.write("pipeline", STEP_PIPELINE)
    assert _step(sqlite_project, "fine")[0] == 0
    code, line = _step(sqlite_project, "broken")
    assert (code, line["outcome"]) == (1, "failed") and "ValueError: bad row" in line["message"]
    assert _step(sqlite_project, "nope")[0] == 2  # the manifest names an asset the code no longer has
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the storage directory should be")
    fresh_db = f"sqlite:///{tmp_path / 'other.db'}"  # nothing recorded there, so the step must write
    code, line = _step(sqlite_project, "fine", LAKEPLAN_STORAGE_ROOT=str(blocked), LAKEPLAN_DATABASE_URL=fresh_db)
    assert (code, line["outcome"]) == (3, "error")

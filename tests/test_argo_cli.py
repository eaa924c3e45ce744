"""``lakeplan submit`` against a local HTTP server standing in for the Argo Server; ``lakeplan step`` exit
codes; ``lakeplan schedules``; ``lakeplan compile -o``.
"""

from __future__ import annotations

import json
import os
import re
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


_BODY = {"workflows": "workflow", "cron-workflows": "cronWorkflow", "workflow-templates": "template"}
_PATH = re.compile(
    r"^(?P<base>.*?)/api/v1/(?P<kind>workflows|cron-workflows|workflow-templates)/(?P<ns>[^/]+)(?:/(?P<name>[^/?]+))?"
)


class ArgoServer:
    """Stands in for the Argo Server over the Kubernetes API, by their rules: POST creates (409 AlreadyExists for
    a taken name; ``generateName`` gets 5 characters), GET reads (404 NotFound), PUT updates only with the
    current ``metadata.resourceVersion`` (422 when missing, 409 Conflict when stale), a body whose namespace
    differs from the path's is refused (400), as the apiserver does for server/workflowtemplate and
    server/cronworkflow's Create/Update. Serves under ``base`` (an ingress path prefix); ``status`` forces a
    refusal."""

    def __init__(self, base: str = "") -> None:
        self.requests: list[dict[str, Any]] = []
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.status = 200
        self.base = base
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                reply = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                owner.requests.append(
                    {"method": method, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                status, reply = owner.answer(method, self.path, body)
                self._reply(status, reply)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{base}"

    def answer(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        match = _PATH.match(path)
        if self.status != 200:
            return self.status, {"code": 7, "message": "forbidden"}
        if match is None or match["base"] != self.base:
            return 404, {"code": 5, "message": f"no route {path}"}
        kind, namespace, name = match["kind"], match["ns"], match["name"]
        if method == "GET":
            found = self.objects.get((kind, namespace, name or ""))
            return (200, found) if found else (404, {"code": 5, "message": f'"{name}" not found'})
        obj = dict(body[_BODY[kind]]) if body else {}
        meta = obj["metadata"] = dict(obj.get("metadata", {}))
        if meta.get("namespace", namespace) != namespace:
            message = "the namespace of the provided object does not match the namespace sent on the request"
            return 400, {"code": 3, "message": message}
        meta["namespace"] = namespace
        if method == "POST":
            meta.setdefault("name", meta.get("generateName", "") + "x7k2p")
            if (kind, namespace, meta["name"]) in self.objects:
                return 409, {"code": 6, "message": f'"{meta["name"]}" already exists'}
            meta["resourceVersion"] = "1"
        else:
            current = self.objects.get((kind, namespace, name or ""))
            if current is None:
                return 404, {"code": 5, "message": f'"{name}" not found'}
            if not meta.get("resourceVersion"):
                return 422, {"code": 3, "message": "metadata.resourceVersion: must be specified for an update"}
            if meta["resourceVersion"] != current["metadata"]["resourceVersion"]:
                return 409, {"code": 10, "message": "the object has been modified"}
            meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        self.objects[(kind, namespace, meta["name"])] = obj
        return 200, obj

    def sent(self, method: str = "POST") -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method]


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
    assert compiled.returncode == 0 and "6 DAG tasks" in compiled.stderr, compiled.stderr  # plan + 5
    assert "Workflow examples-quickstart-pipeline-: 6 tasks, YAML" in compiled.stderr  # projected size per object
    done = _lakeplan(
        tmp_path, "submit", "-f", str(out), "--host", argo_server.url, "--namespace", "ml", "--token", "t0ken"
    )
    assert done.returncode == 0, done.stderr
    [request] = argo_server.requests
    assert request["path"] == "/api/v1/workflows/ml"
    assert request["auth"] == "Bearer t0ken"
    assert request["body"]["workflow"] == {
        **(doc := from_yaml(out.read_text())[0]),
        "metadata": {**doc["metadata"], "namespace": "ml"},
    }
    assert done.stdout.strip() == f"created Workflow/examples-quickstart-pipeline-x7k2p in ml on {argo_server.url}"


def test_cron_deploys_again_and_again_templates_first(tmp_path: Path, argo_server: ArgoServer) -> None:
    """The second deploy updated the fixed-name objects (it was a 409 AlreadyExists before); the
    WorkflowTemplate a CronWorkflow runs is created, and read back, before the CronWorkflow."""
    config = {"LAKEPLAN_ARGO_HOST": argo_server.url, "LAKEPLAN_ARGO_NAMESPACE": "ml"}
    template, cron = from_yaml(_lakeplan(tmp_path, "compile", "-m", QUICKSTART, "--schedules", **config).stdout)
    args = ("submit", "-m", QUICKSTART, "--kind", "cron", "--no-verify")
    first = _lakeplan(tmp_path, *args, LAKEPLAN_ARGO_TOKEN="env-token", **config)
    assert first.returncode == 0, first.stderr
    assert [(r["method"], r["path"].split("/")[3]) for r in argo_server.requests] == [
        ("GET", "workflow-templates"),
        ("POST", "workflow-templates"),
        ("GET", "workflow-templates"),  # visible before what runs it is created
        ("GET", "cron-workflows"),
        ("POST", "cron-workflows"),
    ]
    assert all(r["auth"] == "Bearer env-token" for r in argo_server.requests)
    assert [r["body"]["cronWorkflow"]["spec"] for r in argo_server.sent() if "cronWorkflow" in r["body"]] == [
        cron["spec"]
    ]
    second = _lakeplan(tmp_path, *args, LAKEPLAN_ARGO_TOKEN="env-token", **config)
    assert second.returncode == 0, second.stderr
    assert [line.split(" in ")[0] for line in second.stdout.splitlines()] == [
        f"updated WorkflowTemplate/{template['metadata']['name']}",
        f"updated CronWorkflow/{cron['metadata']['name']}",
    ]
    assert {o["metadata"]["resourceVersion"] for o in argo_server.objects.values()} == {"2"}


def test_namespace_flag_and_base_path_are_kept(tmp_path: Path) -> None:
    server = ArgoServer(base="/argo")
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        config = {"LAKEPLAN_ARGO_NAMESPACE": "dev"}  # the config says dev; the flag says ml
        args = ("submit", "-m", QUICKSTART, "--kind", "template", "--host", server.url, "--namespace", "ml")
        done = _lakeplan(tmp_path, *args, **config)
        assert done.returncode == 0, done.stderr
        [post] = server.sent()
        assert post["path"] == "/argo/api/v1/workflow-templates/ml"
        assert post["body"]["template"]["metadata"]["namespace"] == "ml"
    finally:
        server.server.shutdown()
        thread.join()


def test_submit_template_and_a_refusal_is_exit_code_3(tmp_path: Path, argo_server: ArgoServer) -> None:
    argo_server.status = 403
    args = ("submit", "-m", QUICKSTART, "--kind", "template", "--host", argo_server.url, "--namespace", "ml")
    done = _lakeplan(tmp_path, *args)
    assert done.returncode == 3
    assert [r["path"] for r in argo_server.requests] == ["/api/v1/workflow-templates/ml/examples-quickstart-pipeline"]
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

"""The UI's JSON API over the project's store: assets, the plan, runs (live too), history, lineage, diffs,
logs and checks. Each answer is the report the CLI's ``--json`` prints (asset_reports, run_reports),
with every secret masked; the pages under ``/assets`` and ``/runs`` are drawn from it."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..asset_reports import (
    assets_report,
    check_results,
    code_version_report,
    compare_versions,
    plan_report,
    read_history,
    read_lineage,
    read_logs,
)
from ..errors import SelectionError
from ..lookup import partition_key
from ..masking import mask_data
from ..run_reports import compare_runs, previous_run, read_run, runs_report
from ..workspace import Workspace
from . import launch
from .server import STATIC, UiContext, json_route

RUNS_EVERY = 0.5  # seconds between looks at a running run's records (the events stream)
# Levels of lineage an asset page shows each way: the tree repeats shared inputs, so a deep graph's whole
# tree is exponential in its depth ('lakeplan lineage' prints it all).
LINEAGE_DEPTH = 3


def secrets_of(ws: Workspace) -> list[str]:
    """The secret values the project's resources read from the environment: never to be shown."""
    return [
        str(value)
        for config in ws.resource_configs.values()
        for key, value in config.values.items()
        if key in config.secret_keys and value
    ]


WorkspaceEndpoint = Callable[[Workspace, Request], dict[str, Any]]


def finite(data: Any) -> Any:
    """``data`` with NaN and infinities as text ("nan", "inf"): JSON has no such numbers, and metadata may."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list):
        return [finite(v) for v in data]
    return data


def shown(ws: Workspace, data: dict[str, Any]) -> Any:
    """An answer fit to send: secrets masked, numbers JSON can carry."""
    return finite(mask_data(data, secrets_of(ws)))


def _masked(endpoint: WorkspaceEndpoint) -> Callable[[UiContext, Request], Any]:
    """``endpoint`` given the project loaded afresh (so edits to its code are seen), its answer ``shown``."""

    def handle(ctx: UiContext, request: Request) -> Any:
        ws = ctx.workspace()
        return shown(ws, endpoint(ws, request))

    return handle


def _limit(request: Request, default: int) -> int:
    text = request.query_params.get("limit", str(default))
    if not text.isdigit() or int(text) < 1:
        raise SelectionError(f"limit must be a whole number >= 1, got {text!r}")
    return int(text)


def _key(ws: Workspace, request: Request) -> str:
    """The recorded key the path and ``?partition=`` name."""
    return partition_key(ws, request.path_params["key"], request.query_params.get("partition") or None)


def config(ctx: UiContext, request: Request) -> dict[str, Any]:
    return {"allow_launch": ctx.allow_launch, "target": ctx.target}


def assets(ws: Workspace, request: Request) -> dict[str, Any]:
    """Every asset and source with its status now: the CLI's ``assets --json`` rows with the plan's."""
    report = assets_report(ws, request.query_params.get("select") or None)
    plan = plan_report(ws, ws.plan())
    statuses = {s["asset"]: s for s in plan["summary"]} if ws.partitioned else {s["key"]: s for s in plan["assets"]}
    for row in report["assets"]:
        status = statuses.get(row["key"])
        row["status"] = None if status is None else _label(status)
        row["causes"] = [] if status is None else status["causes"]
    return report


def _label(status: dict[str, Any]) -> str:
    """A plan entry's status word (a partitioned asset's summary: STALE when any partition is)."""
    return str(status["status"]) if "status" in status else ("STALE" if status["causes"] else "FRESH")


def asset(ws: Workspace, request: Request) -> dict[str, Any]:
    """One asset or partition: status and why, code version parts, history with checks, lineage both ways.
    A partitioned asset named without ``?partition=`` is answered as a whole: its partitions' summary and
    each one's status, no history (each partition has its own)."""
    name = request.path_params["key"]
    declared = ws.graph.assets.get(name)
    whole = declared is not None and declared.partitions is not None and not request.query_params.get("partition")
    key = name if whole else _key(ws, request)
    history = None if whole else read_history(ws, key, _limit(request, 50))  # refuses an unknown key
    found: dict[str, Any] = {"key": key, "asset": name, "history": history.to_json() if history else None}
    found.update(definition=None, code=None, status=None, partitions=None, partition_statuses=None, lineage=None)
    if declared is not None:
        found["definition"] = next(r for r in assets_report(ws, name)["assets"] if r["key"] == name)
        found["code"] = code_version_report(ws, name)
        plan = plan_report(ws, ws.plan(name))
        found["status"] = next((s for s in plan["assets"] if s["key"] == key), None)
        found["partitions"] = next((s for s in plan.get("summary", ()) if s["asset"] == name), None)
        if whole:
            found["partition_statuses"] = [
                {"partition": s["partition"], "status": s["status"]} for s in plan["assets"] if s["asset"] == name
            ]
    if history is not None and history.head_id is not None:
        found["lineage"] = {
            "depth": LINEAGE_DEPTH,
            "upstream": read_lineage(ws, key, depth=LINEAGE_DEPTH).to_json()["tree"],
            "downstream": read_lineage(ws, key, downstream=True, depth=LINEAGE_DEPTH).to_json()["tree"],
        }
    return found


def asset_diff(ws: Workspace, request: Request) -> dict[str, Any]:
    a, b = request.query_params.get("from"), request.query_params.get("to")
    if not a or not b:
        raise SelectionError("name the two versions: ?from=ID&to=ID (materialization ids or data-version prefixes)")
    return compare_versions(ws, _key(ws, request), a, b).to_json()


def asset_logs(ws: Workspace, request: Request) -> dict[str, Any]:
    return read_logs(ws, _key(ws, request), request.query_params.get("run") or None).to_json()


def plan(ws: Workspace, request: Request) -> dict[str, Any]:
    stale = request.query_params.get("stale") in ("1", "true", "yes")
    return plan_report(ws, ws.plan(request.query_params.get("select") or None), stale)


def runs(ws: Workspace, request: Request) -> dict[str, Any]:
    return runs_report(ws, _limit(request, 50))


def run(ws: Workspace, request: Request) -> dict[str, Any]:
    """One run in full, what it is building now, and what changed since the run before it."""
    detail = read_run(ws, request.path_params["run_id"])
    found = detail.to_json()
    found["building"] = _building(ws, detail.run.run_id)
    before = previous_run(ws, detail.run.run_id)
    found["previous"] = before.run_id if before else None
    found["diff"] = compare_runs(ws, before.run_id, detail.run.run_id).to_json() if before else None
    return found


def _building(ws: Workspace, run_id: str) -> list[str]:
    """The assets run ``run_id`` holds claims on: those it is building now."""
    return sorted(c.asset_key for c in ws.store.held_claims() if c.run_id == run_id)


def checks(ws: Workspace, request: Request) -> dict[str, Any]:
    """The newest result of every check on its asset's current version."""
    results = check_results(ws, ws.plan().statuses) if ws.graph.checks else {}
    return {"assets": [{"asset": key, "checks": shown} for key, shown in results.items()]}


def run_events(ctx: UiContext, request: Request) -> StreamingResponse:
    """A running run's progress as server-sent events: its record and what it is building, each time they
    change; an ``end`` event when it has finished."""
    run_id = request.path_params["run_id"]

    def look(ws: Workspace) -> dict[str, Any]:
        found = read_run(ws, run_id).to_json()["run"]
        found["building"] = _building(ws, found["run_id"])
        return dict(shown(ws, found))

    async def events() -> AsyncIterator[str]:
        try:
            ws = await run_in_threadpool(ctx.workspace)
            last = None
            while True:
                found = await run_in_threadpool(look, ws)
                if found != last:
                    yield f"data: {json.dumps(found, default=str)}\n\n"
                    last = found
                if found["status"] != "running":
                    yield "event: end\ndata: {}\n\n"
                    return
                await asyncio.sleep(RUNS_EVERY)
        except Exception as exc:  # the stream has begun: an error can only be an event now
            yield f"event: failure\ndata: {json.dumps({'error': launch.one_line(exc)})}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


def page(request: Request) -> FileResponse:
    """The asset and run pages: one shell whose scripts draw by path."""
    return FileResponse(STATIC / "page.html")


def routes(ctx: UiContext) -> list[BaseRoute]:
    return [
        json_route("/api/config", ctx, config),
        json_route("/api/assets", ctx, _masked(assets)),
        json_route("/api/assets/{key:path}/diff", ctx, _masked(asset_diff)),
        json_route("/api/assets/{key:path}/logs", ctx, _masked(asset_logs)),
        json_route("/api/assets/{key:path}", ctx, _masked(asset)),
        json_route("/api/plan", ctx, _masked(plan)),
        json_route("/api/runs", ctx, _masked(runs)),
        Route("/api/runs/{run_id}/events", lambda request: run_events(ctx, request)),
        json_route("/api/runs/{run_id}", ctx, _masked(run)),
        json_route("/api/checks", ctx, _masked(checks)),
        *launch.routes(ctx),
        Route("/assets", page),
        Route("/assets/{key:path}", page),
        Route("/runs", page),
        Route("/runs/{run_id}", page),
    ]

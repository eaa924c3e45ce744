"""Starting a materialization from the UI (only under ``lakeplan ui --allow-launch``): a ``lakeplan
materialize`` subprocess for the project, the same code path as the CLI, whose run id is answered as soon
as the run is recorded. A launch must be a JSON POST carrying the ``X-Lakeplan`` header from this UI's own
origin, which a cross-site form or image cannot send (no CORS is answered), so another site cannot start runs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..claims import this_holder
from ..errors import LakeplanError
from ..masking import mask_text
from ..metadata_store import MetadataStore
from ..workspace import Workspace
from .server import UiContext

HEADER = "X-Lakeplan"
RECORDED_WITHIN = 60.0  # seconds for the subprocess to load the project and record its run


class LaunchRefused(LakeplanError):
    """A launch the UI does not accept: launching is off, the request is not this UI's, or it names nothing."""


def one_line(exc: BaseException) -> str:
    """An error as the one masked line the pages show."""
    text = str(exc) if isinstance(exc, LakeplanError) else f"{type(exc).__name__}: {exc}"
    return mask_text(text.strip().splitlines()[0] if text.strip() else type(exc).__name__)


def refusal(ctx: UiContext, request: Request) -> str | None:
    """Why this request may not launch a run (None: it may)."""
    if not ctx.allow_launch:
        return "launching runs is off; start the UI with 'lakeplan ui --allow-launch' to allow it"
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return "a launch must be a JSON request (Content-Type: application/json)"
    if request.headers.get(HEADER) != "1":
        return f"a launch must carry the header {HEADER}: 1 (sent by the UI's own pages)"
    origin = request.headers.get("origin")
    if origin and urlsplit(origin).netloc != request.headers.get("host"):
        return f"a launch from another site ({origin}) is refused"
    return None


def command(ws: Workspace, select: str, partition: str | None) -> list[str]:
    """The ``lakeplan materialize`` command line for the selection."""
    return [
        sys.executable,
        "-m",
        "assets_core",
        "materialize",
        "--quiet",
        "-m",
        ws.target,
        "--select",
        select,
        *(["--partition", partition] if partition else []),
    ]


def environment(ws: Workspace) -> dict[str, str]:
    """The server's environment, pointing at the store and storage the UI shows."""
    settings = ws.settings
    return {
        **os.environ,
        "LAKEPLAN_DATABASE_URL": settings.resolved_database_url,
        "LAKEPLAN_STORAGE_ROOT": str(settings.resolved_storage_root),
    }


def _recorded_run(url: str, holder: str) -> str | None:
    """The run ``holder`` recorded, read afresh (the store may not have existed when the UI opened it)."""
    store = MetadataStore.open(url, create=False)
    try:
        return next((r.run_id for r in store.runs(20) if r.environment.get("holder") == holder), None)
    finally:
        store.close()


def _last_line(output: IO[str]) -> str:
    output.seek(0)
    lines = [line for line in output.read().splitlines() if line.strip()]
    return mask_text(lines[-1]) if lines else "no output"


def _reap(process: subprocess.Popen[str], output: IO[str]) -> None:
    """Wait for the run's process to end (no zombie left) and drop its output."""
    process.wait()
    output.close()


def start(ws: Workspace, select: str, partition: str | None) -> str:
    """Start materializing ``select`` (``partition``) in a subprocess; its run id once it is recorded."""
    ws.scope(select, None)  # a bad selection is one line now, not a subprocess's exit
    output = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed once the process has ended
    process = subprocess.Popen(
        command(ws, select, partition),
        cwd=ws.settings.project_root,
        env=environment(ws),
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        text=True,
        start_new_session=True,  # Ctrl-C on the server does not interrupt the run
    )
    holder = this_holder(process.pid)
    deadline = time.monotonic() + RECORDED_WITHIN
    while time.monotonic() < deadline:
        ended = process.poll() is not None
        run_id = _recorded_run(ws.settings.resolved_database_url, holder)
        if run_id is not None:
            threading.Thread(target=_reap, args=(process, output), daemon=True).start()
            return run_id
        if ended:
            with output:
                raise LaunchRefused(f"lakeplan materialize exited {process.returncode}: {_last_line(output)}")
        time.sleep(0.1)
    threading.Thread(target=_reap, args=(process, output), daemon=True).start()
    raise LaunchRefused(f"the run did not start within {RECORDED_WITHIN:.0f}s (process {process.pid} goes on)")


async def materialize(ctx: UiContext, request: Request) -> Response:
    """POST {"select": EXPR, "partition": KEY?}: 202 with the run id; 403 when refused; 400 on a bad request."""
    refused = refusal(ctx, request)
    if refused:
        return JSONResponse({"error": refused}, status_code=403)
    try:
        body: Any = await request.json()
    except ValueError:
        return JSONResponse({"error": 'the body must be JSON: {"select": "ASSET"}'}, status_code=400)
    select = body.get("select") if isinstance(body, dict) else None
    partition = body.get("partition") if isinstance(body, dict) else None
    if not isinstance(select, str) or not select.strip() or not isinstance(partition, str | None):
        return JSONResponse({"error": 'name what to build: {"select": "ASSET", "partition": KEY?}'}, 400)
    try:
        ws = await run_in_threadpool(ctx.workspace)
        run_id = await run_in_threadpool(start, ws, select.strip(), partition)
    except LakeplanError as exc:
        return JSONResponse({"error": one_line(exc)}, status_code=400)
    return JSONResponse({"run_id": run_id}, status_code=202)


def routes(ctx: UiContext) -> list[Route]:
    async def handle(request: Request) -> Response:
        return await materialize(ctx, request)

    return [Route("/api/materialize", handle, methods=["POST"])]

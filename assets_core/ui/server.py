"""The web server behind ``lakeplan ui``: one Starlette app serving the pages in ``static/`` and the JSON
API under ``/api/``; read-only unless started with ``--allow-launch``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..config import Settings
from ..errors import LakeplanError, SelectionError
from ..masking import mask_text
from ..workspace import Workspace

STATIC = Path(__file__).parent / "static"
_loading = threading.Lock()


@dataclass(frozen=True)
class UiContext:
    """What every endpoint shares: the project to load and whether it may start runs."""

    target: str | None
    allow_launch: bool = False
    settings: Settings | None = None  # None: found from the target, as the CLI does

    def workspace(self) -> Workspace:
        """The project, opened read-only; one load at a time (a load may re-import the user's edited modules)."""
        with _loading:
            return Workspace.load(self.target, self.settings, read_only=True)


Endpoint = Callable[[UiContext, Request], Any]


def error_status(exc: LakeplanError) -> int:
    """404 for a name that matches nothing, 400 for a bad request, 503 when the project or store fails."""
    from ..asset_reports import NoLog
    from ..lineage import VersionError
    from ..lookup import UnknownAsset

    if isinstance(exc, UnknownAsset | VersionError | NoLog):
        return 404
    return 400 if isinstance(exc, SelectionError) else 503


def json_route(path: str, ctx: UiContext, endpoint: Endpoint, methods: tuple[str, ...] = ("GET",)) -> Route:
    """An API route returning ``endpoint``'s value as JSON; a user-facing error becomes ``{"error": ...}``
    (status from ``error_status``), its message masked like the CLI's."""

    def handle(request: Request) -> Response:  # sync: Starlette runs it in a worker thread
        try:
            return JSONResponse(endpoint(ctx, request))
        except LakeplanError as exc:
            return JSONResponse({"error": mask_text(str(exc))}, status_code=error_status(exc))

    return Route(path, handle, methods=list(methods))


def create_app(
    target: str | None, *, allow_launch: bool = False, settings: Settings | None = None, warm: bool = False
) -> Starlette:
    """The UI for the project ``target`` names (as ``-m`` does); ``warm`` loads and plans it before returning."""
    from . import api, graph_api

    ctx = UiContext(target, allow_launch, settings)
    routes: list[BaseRoute] = [
        Route("/", lambda request: FileResponse(STATIC / "index.html")),
        *graph_api.routes(ctx, warm),
        *api.routes(ctx),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


def serve(target: str | None, host: str, port: int, allow_launch: bool, announce: Callable[[str], None]) -> None:
    """Load and plan the project, ``announce`` the address, then serve until interrupted."""
    import uvicorn

    announce("lakeplan ui: loading the project and planning it ...")
    app = create_app(target, allow_launch=allow_launch, warm=True)
    announce(f"lakeplan ui: http://{host}:{port} (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning")

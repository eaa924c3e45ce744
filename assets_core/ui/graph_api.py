"""``/api/graph``: every asset with its group, upstreams, drawn state, stale causes and partition note, as
``lakeplan graph --html`` computes them (``graph_state``), for the graph page to lay out and draw.

Loading a project of 10k assets and planning it takes seconds, so the answer is kept while nothing it
depends on changed:
the project's files (their mtimes) and the store (its newest materialization id). What changes outside
both (a source's new data, an output deleted by hand) shows once the answer is ``MAX_AGE`` seconds old.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..environment import user_modules
from ..errors import StoreError
from ..graph_render import COLOURS
from ..graph_state import graph_state
from ..metadata_store import AbsentStore
from ..workspace import Workspace
from .server import UiContext, json_route

MAX_AGE = 10.0  # seconds


def payload(ws: Workspace) -> dict[str, Any]:
    """The whole graph as the page draws it."""
    views = graph_state(ws).views
    return {
        "target": ws.target,
        "states": {state.value: {"fill": fill, "border": border} for state, (fill, border) in COLOURS.items()},
        "assets": [
            {
                "key": key,
                "group": view.group,
                "deps": list(ws.graph.upstream[key]),
                "state": view.state.value,
                "causes": list(view.causes),
                "note": view.note,
            }
            for key, view in views.items()
        ],
    }


def project_files(ws: Workspace) -> tuple[Path, ...]:
    """The files the project's definitions came from (its imported modules) and its pyproject.toml."""
    found = sorted({Path(m.__file__) for m in user_modules(ws.settings.project_root) if m.__file__})
    return (ws.settings.project_root / "pyproject.toml", *found)


def mtimes(files: tuple[Path, ...]) -> tuple[float, ...]:
    return tuple(f.stat().st_mtime if f.exists() else -1.0 for f in files)


@dataclass
class Cached:
    """An answer and what it was made from: the workspace, its files and their mtimes, the store's newest id."""

    ws: Workspace
    files: tuple[Path, ...]
    mtimes: tuple[float, ...]
    latest_id: int
    made: float
    answer: dict[str, Any]


class GraphCache:
    """The last answer, given again while the project's files and the store are as they were then; when
    only the store changed, the workspace is kept too (a new one computes every code version again: 1.6 s
    of CPU at 10k assets), unless it is partitioned (which partitions exist depends on when it loaded)."""

    def __init__(self) -> None:
        self.cached: Cached | None = None
        self.lock = threading.Lock()  # one plan at a time; a request arriving meanwhile gets its answer

    def __call__(self, ctx: UiContext, request: Request) -> dict[str, Any]:
        return self.answer(ctx)

    def answer(self, ctx: UiContext) -> dict[str, Any]:
        with self.lock:
            last = self.cached
            kept = last if last is not None and mtimes(last.files) == last.mtimes else None  # files unchanged
            young = kept is not None and time.monotonic() - kept.made < MAX_AGE
            if kept is not None and young and kept.ws.store.latest_id() == kept.latest_id:
                return kept.answer
            ws = kept.ws if kept is not None and not kept.ws.partitioned else ctx.workspace()
            if isinstance(ws.store, AbsentStore):  # nothing recorded yet: the store's creation is not seen
                self.cached = None
                return payload(ws)
            files = project_files(ws)
            # Read before planning: what is recorded meanwhile is seen by the next request.
            self.cached = Cached(ws, files, mtimes(files), ws.store.latest_id(), time.monotonic(), payload(ws))
            return self.cached.answer


def routes(ctx: UiContext, warm: bool = False) -> list[Route]:
    """The graph's route; ``warm`` computes its answer now, so the first page is drawn as fast as later ones
    (at 10k assets the first load and plan take seconds). A project that does not load (a mistyped module, a
    cycle) is the user's to fix before serving and is raised; an unreachable store is left for the page to show.
    """
    cache = GraphCache()
    if warm:
        with contextlib.suppress(StoreError):
            cache.answer(ctx)
    return [json_route("/api/graph", ctx, cache)]

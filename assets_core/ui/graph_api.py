"""``/api/graph``: every asset with its group, upstreams and planned state, for the graph page."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..graph_render import node_views
from .server import UiContext, json_route


def graph(ctx: UiContext, request: Request) -> dict[str, Any]:
    ws = ctx.workspace()
    views = node_views(ws.graph, ws.plan())
    return {
        "target": ws.target,
        "assets": [
            {
                "key": key,
                "group": view.group,
                "deps": list(ws.graph.upstream[key]),
                "state": view.state.value,
                "causes": list(view.causes),
            }
            for key, view in views.items()
        ],
    }


def routes(ctx: UiContext) -> list[Route]:
    return [json_route("/api/graph", ctx, graph)]

"""What every drawing of the asset graph shows of each asset (``lakeplan graph``, its HTML view and the web
UI): the planned state, failed when its latest attempt failed, and for a partitioned asset one node whose
causes count partitions ('3 of 14 partitions stale')."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .graph_render import NodeView, node_views
from .partition_summary import per_asset, strips, summarise
from .planner import AssetStatus, Plan
from .workspace import Workspace


@dataclass(frozen=True, slots=True)
class GraphState:
    """The whole graph's drawn state: ``plan`` has one status per asset (partitions folded), ``views`` each
    asset's node, ``partitions`` each partitioned asset's partitions in order with their drawn state and why."""

    plan: Plan
    views: dict[str, NodeView]
    partitions: dict[str, list[tuple[str, str, str]]]
    partitioned: tuple[AssetStatus, ...] = ()  # the planned partitions' own statuses, before folding


def graph_state(ws: Workspace) -> GraphState:
    """Plan the whole project once and fold it into one drawn node per asset."""
    failed = ws.store.failed_latest()
    plan = ws.plan()  # once: it reads every head and source
    notes: dict[str, str] = {}
    partitions: dict[str, list[tuple[str, str, str]]] = {}
    partitioned: tuple[AssetStatus, ...] = ()
    if ws.partitioned:
        partitions = strips(plan.statuses, ws.instance)
        partitioned = tuple(s for s in plan.statuses if ws.instance(s.key).partition is not None)
        summaries = summarise(plan.statuses, ws.instance, ws.partition_order)
        plan = per_asset(plan.statuses, summaries, ws.instance)
        notes = {s.asset: f"{len(s.stale)} of {s.planned} partitions stale" for s in summaries if s.partitioned}
    views = node_views(ws.graph, plan, failed)
    for key, note in notes.items():
        views[key] = dataclasses.replace(views[key], note=note)
    return GraphState(plan, views, partitions, partitioned)

"""Drawing the asset graph: DOT source (grouped clusters, status colours, sources drawn as cylinders,
left to right), laid out by Graphviz's ``dot`` or the self-contained ``graphviz-pure`` wheel, with a
plain layered SVG when neither is installed so ``.dot`` and the HTML view always work.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import sysconfig
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import graphviz

from .errors import LakeplanError
from .graph import AssetGraph
from .planner import CauseKind, Plan

FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_HINT = "install Graphviz (apt-get install graphviz / brew install graphviz) or pip install graphviz-pure"


class RenderError(LakeplanError):
    """The layout engine failed or the output format is not supported."""


class NodeState(enum.StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"
    FAILED = "failed"  # the asset's latest materialization failed
    SOURCE = "source"


# fill, border
COLOURS: Mapping[NodeState, tuple[str, str]] = {
    NodeState.FRESH: ("#c8e6c9", "#2e7d32"),
    NodeState.STALE: ("#ffe0b2", "#ef6c00"),
    NodeState.MISSING: ("#eeeeee", "#757575"),
    NodeState.FAILED: ("#ffcdd2", "#c62828"),
    NodeState.SOURCE: ("#e3f2fd", "#1565c0"),
}


@dataclass(frozen=True, slots=True)
class NodeView:
    """What the drawing shows of one node: its state and, when stale, why; ``note`` is drawn under its
    key (a partitioned asset's '3 of 14 partitions stale')."""

    key: str
    group: str
    state: NodeState
    causes: tuple[str, ...] = ()
    note: str = ""


def node_views(graph: AssetGraph, plan: Plan, failed: Collection[str] = frozenset()) -> dict[str, NodeView]:
    """Each node's drawn state from the plan (whole graph) and the assets whose latest attempt failed."""
    statuses = {s.key: s for s in plan.statuses}
    views: dict[str, NodeView] = {}
    for key in graph.order:
        node = graph.nodes[key]
        status = statuses.get(key)
        if graph.is_source(key) or status is None:
            views[key] = NodeView(key, node.group, NodeState.SOURCE)
            continue
        causes = tuple(f"{c.kind.value}: {c.message}" for c in status.causes)
        if key in failed:
            state = NodeState.FAILED
        elif any(c.kind is CauseKind.MISSING for c in status.causes):
            state = NodeState.MISSING
        else:
            state = NodeState.STALE if status.stale else NodeState.FRESH
        views[key] = NodeView(key, node.group, state, causes)
    return views


def drawn_keys(graph: AssetGraph, selected: Collection[str]) -> tuple[str, ...]:
    """The selected assets plus the sources feeding them, in graph order."""
    chosen = set(selected)
    chosen |= {up for key in selected for up in graph.upstream[key] if graph.is_source(up)}
    return tuple(k for k in graph.order if k in chosen)


def _legend() -> str:
    cells = "".join(
        f'<td bgcolor="{fill}" color="{border}" border="1">{state.value}</td>'
        for state, (fill, border) in COLOURS.items()
    )
    return f'<<table border="0" cellspacing="4"><tr>{cells}</tr></table>>'


def to_dot(graph: AssetGraph, views: Mapping[str, NodeView], keys: Sequence[str]) -> str:
    """DOT source: one cluster per group, left to right, nodes coloured by state, sources as cylinders."""
    dot = graphviz.Digraph("lakeplan")
    dot.attr(rankdir="LR", newrank="true", ranksep="0.9", nodesep="0.2", fontname="Helvetica", fontsize="11")
    dot.attr(label=_legend(), labelloc="t", labeljust="l")
    dot.attr("node", shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10", height="0.3")
    dot.attr("edge", color="#607d8b", arrowsize="0.6")
    drawn = set(keys)
    by_group: dict[str, list[str]] = {}
    for key in keys:
        by_group.setdefault(views[key].group, []).append(key)
    for group in sorted(by_group):
        with dot.subgraph(name=f"cluster_{group}") as cluster:
            cluster.attr(label=group, style="rounded,dashed", color="#90a4ae", fontcolor="#455a64")
            for key in by_group[group]:
                view = views[key]
                fill, border = COLOURS[view.state]
                shape = {"shape": "cylinder", "style": "filled"} if view.state is NodeState.SOURCE else {}
                tooltip = "\n".join((f"{key}: {view.state.value}", *view.causes))
                label = f"{key}\n{view.note}" if view.note else key
                cluster.node(
                    key, label=label, fillcolor=fill, color=border, tooltip=tooltip, **{"class": "lp-asset"}, **shape
                )
    for key in keys:
        for up in graph.upstream[key]:
            if up in drawn:
                dot.edge(up, key)
    return str(dot.source)


@dataclass(frozen=True, slots=True)
class Engine:
    """A Graphviz layout program and the output formats it can write."""

    command: str
    formats: frozenset[str]


def find_engine(search_path: str | None = None) -> Engine | None:
    """Graphviz's ``dot`` when installed (every format), else the ``graphviz-pure`` wheel's (svg, png)."""
    if search_path is None:
        search_path = os.pathsep.join(filter(None, [os.environ.get("PATH"), sysconfig.get_path("scripts")]))
    dot = shutil.which("dot", path=search_path)
    if dot:
        return Engine(dot, frozenset({"svg", "png", "pdf"}))
    pure = shutil.which("graphviz-pure", path=search_path)
    if pure:
        return Engine(pure, frozenset({"svg", "png"}))
    return None


def layout(source: str, fmt: str, engine: Engine) -> bytes:
    """Run the layout engine on DOT ``source`` and return the rendered bytes."""
    try:
        result = subprocess.run(
            [engine.command, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"cannot run {engine.command}: {exc}; {INSTALL_HINT}") from None
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise RenderError(f"{Path(engine.command).name} failed: {reason[-1] if reason else result.returncode}")
    return result.stdout


def layers(graph: AssetGraph, keys: Sequence[str]) -> dict[str, int]:
    """Column of each drawn key: one past its deepest drawn upstream (``keys`` in topological order)."""
    column: dict[str, int] = {}
    for key in keys:
        column[key] = 1 + max((column[up] for up in graph.upstream[key] if up in column), default=-1)
    return column


_BOX_H, _ROW_GAP, _COL_GAP, _CHAR_W, _PAD = 34, 14, 70, 7, 16


def layered_svg(graph: AssetGraph, views: Mapping[str, NodeView], keys: Sequence[str]) -> str:
    """A simple deterministic left-to-right layered drawing, for when no layout engine is installed."""
    column = layers(graph, keys)
    columns: dict[int, list[str]] = {}
    for key in sorted(keys, key=lambda k: (column[k], views[k].group, k)):
        columns.setdefault(column[key], []).append(key)
    widths = {c: max(len(k) for k in members) * _CHAR_W + 2 * _PAD for c, members in columns.items()}
    x_of: dict[int, int] = {}
    x = _PAD
    for c in sorted(columns):
        x_of[c] = x
        x += widths[c] + _COL_GAP
    box: dict[str, tuple[int, int, int]] = {}
    for c, members in columns.items():
        for row, key in enumerate(members):
            box[key] = (x_of[c], _PAD + row * (_BOX_H + _ROW_GAP), widths[c])
    width = x - _COL_GAP + _PAD
    height = _PAD * 2 + max(len(m) for m in columns.values()) * (_BOX_H + _ROW_GAP) if columns else 2 * _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
        f'viewBox="0 0 {width} {height}" font-family="Helvetica,sans-serif" font-size="11">',
        '<g class="graph">',
    ]
    for key in keys:
        x2, y2, _ = box[key]
        for up in graph.upstream[key]:
            if up in box:
                x1, y1, w1 = box[up]
                sx, sy, ey, mid = x1 + w1, y1 + _BOX_H // 2, y2 + _BOX_H // 2, (x1 + w1 + x2) // 2
                parts.append(
                    f'<g class="edge"><title>{escape(up)}-&gt;{escape(key)}</title><path fill="none" '
                    f'stroke="#607d8b" d="M{sx},{sy} C{mid},{sy} {mid},{ey} {x2},{ey}"/></g>'
                )
    for key in keys:
        view = views[key]
        fill, border = COLOURS[view.state]
        bx, by, bw = box[key]
        radius = 12 if view.state is NodeState.SOURCE else 6
        tooltip = escape("\n".join((f"{key}: {view.state.value}", *view.causes)))
        parts.append(
            f'<g class="node lp-asset"><title>{escape(key)}</title><desc>{tooltip}</desc>'
            f'<rect x="{bx}" y="{by}" width="{bw}" height="{_BOX_H}" rx="{radius}" fill="{fill}" stroke="{border}"/>'
            f'<text x="{bx + bw // 2}" y="{by + 14}" text-anchor="middle">{escape(key)}</text>'
            f'<text x="{bx + bw // 2}" y="{by + 27}" text-anchor="middle" font-size="9" fill="#546e7a">'
            f"{escape(' · '.join(filter(None, (view.group, view.note))))}</text></g>"
        )
    parts.append("</g></svg>")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Rendered:
    """What was written, and a note when it is not what was asked for (no layout engine)."""

    path: Path
    note: str | None = None


def write_graph(
    graph: AssetGraph, views: Mapping[str, NodeView], keys: Sequence[str], out: Path, engine: Engine | None
) -> Rendered:
    """Write ``out`` in the format its suffix names; without an engine, svg gets the layered drawing and
    png/pdf fall back to ``.dot`` beside it, with a one-line hint."""
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise RenderError(f"cannot write {out.name}: unknown format {fmt!r}; use one of .svg .png .pdf .dot")
    source = to_dot(graph, views, keys)
    if fmt == "dot":
        out.write_text(source)
        return Rendered(out)
    if engine is not None and fmt in engine.formats:
        out.write_bytes(layout(source, fmt, engine))
        return Rendered(out)
    if fmt == "svg":
        out.write_text(layered_svg(graph, views, keys))
        return Rendered(out, f"no Graphviz layout engine found, drew a simple layered layout; {INSTALL_HINT}")
    fallback = out.with_suffix(".dot")
    fallback.write_text(source)
    why = "no Graphviz layout engine found" if engine is None else f"{Path(engine.command).name} cannot write {fmt}"
    hint = INSTALL_HINT if engine is None else "install Graphviz (apt-get install graphviz) for pdf, or use -o .svg"
    return Rendered(fallback, f"{why}: wrote {fallback.name} instead; {hint}")


def svg_for(graph: AssetGraph, views: Mapping[str, NodeView], keys: Sequence[str], engine: Engine | None) -> str:
    """The drawing as SVG text: laid out by the engine when there is one, else layered."""
    if engine is None:
        return layered_svg(graph, views, keys)
    return layout(to_dot(graph, views, keys), "svg", engine).decode()

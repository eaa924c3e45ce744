"""The HTML view: one self-contained file with the drawn graph inline and, per asset, its status,
causes, code version, declared metadata, its checks' results on the current version, recent
materializations with their metadata and check results as JSON, shown when its node is clicked.
Nothing is fetched at view time: no scripts, styles or fonts from the network.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from .definitions import AssetDef
from .graph import AssetGraph
from .graph_render import COLOURS, NodeView
from .lineage import materialization_json
from .planner import Plan
from .records import CheckRecord, Materialization, MaterializationKind
from .timeouts import TIMED_OUT


def asset_details(
    graph: AssetGraph,
    plan: Plan,
    views: Mapping[str, NodeView],
    recent: Mapping[str, Sequence[Materialization]],
    keys: Sequence[str],
    checks: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    recorded_checks: Mapping[int, Sequence[CheckRecord]] | None = None,
    logs: Mapping[int, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per drawn key: what the details panel shows (``recent``: newest-first materializations per asset;
    ``checks``: each check's newest result on the current version, ``check_status.latest_results``;
    ``recorded_checks``: the results recorded against each recent materialization, by its id; ``logs``: the
    ``lakeplan logs`` command for each one whose printed output was kept, by its id)."""
    checks, recorded_checks, logs = checks or {}, recorded_checks or {}, logs or {}
    statuses = {s.key: s for s in plan.statuses}
    details: dict[str, dict[str, Any]] = {}
    for key in keys:
        node, view, status = graph.nodes[key], views[key], statuses.get(key)
        history = list(recent.get(key, ()))
        latest = next((m for m in history if m.kind is not MaterializationKind.FAILED), None)
        details[key] = {
            "key": key,
            "group": node.group,
            "state": view.state.value,
            "description": node.description
            or (node.fn.__doc__ if isinstance(node, AssetDef) and node.fn.__doc__ else ""),
            "causes": list(view.causes),
            "code_version": status.code_version if status else None,
            "data_version": status.data_version if status else None,
            "upstream": list(graph.upstream[key]),
            "downstream": list(graph.downstream[key]),
            "metadata": latest.metadata if latest else {},
            "declared_metadata": dict(node.metadata),
            "checks": list(checks.get(key, ())),
            "materializations": [
                {
                    **materialization_json(m),
                    "checks": [c.to_json() for c in recorded_checks.get(m.id or 0, ())],
                    "logs": logs.get(m.id or 0),
                }
                for m in history
            ],
        }
    return details


STRIP_CELLS = 400  # above this many partitions, a cell stands for a bucket of them and ranges say which is which
STRIP_RANGES = 12  # runs of partitions in one state named in words; the rest are counted
_WORST = {"fresh": 0, "stale": 1, "missing": 2}


def partition_strip(cells: Sequence[tuple[str, str, str]], limit: int = STRIP_CELLS) -> dict[str, Any]:
    """What the details panel draws for a partitioned asset's ``cells`` (partition, state, why; in order):
    up to ``limit`` partitions one cell each; above, at most ``limit`` cells each standing for an equal run
    of partitions in the worst state among them, with counts per state and the first runs of consecutive
    partitions that share a state and cause, in words. Its size is bounded whatever the partitions."""
    counts = Counter(state for _, state, _ in cells)
    drawn: dict[str, Any] = {
        "total": len(cells),
        "stale": len(cells) - counts["fresh"],
        "counts": dict(counts.most_common()),
    }
    if len(cells) <= limit:
        return {**drawn, "bucket": 1, "cells": [[key, state, f"{key}: {state}"] for key, state, _ in cells]}
    size = math.ceil(len(cells) / limit)
    buckets = []
    for start in range(0, len(cells), size):
        chunk = cells[start : start + size]
        states = Counter(state for _, state, _ in chunk)
        worst = max(states, key=_WORST.__getitem__)
        label = f"{chunk[0][0]}..{chunk[-1][0]}"
        buckets.append([label, worst, f"{label}: " + ", ".join(f"{n} {state}" for state, n in states.most_common())])
    runs: list[list[Any]] = []  # [first, last, state, why, how many]
    for key, state, why in cells:
        if runs and runs[-1][2:4] == [state, why]:
            runs[-1][1] = key
            runs[-1][4] += 1
        else:
            runs.append([key, key, state, why, 1])
    ranges = [_range_text(*run) for run in runs[:STRIP_RANGES]]
    return {**drawn, "bucket": size, "cells": buckets, "ranges": ranges, "more_ranges": len(runs) - len(ranges)}


def _range_text(first: str, last: str, state: str, why: str, count: int) -> str:
    """``2026-01-01..2026-03-31 fresh (90)`` or ``2026-04-01 stale: DATA: 'events' changed``."""
    keys = first if first == last else f"{first}..{last} ({count})"
    return f"{keys} {state}" + (f": {why}" if why else "")


_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)


def _inline_svg(svg: str) -> str:
    """The ``<svg>`` element alone (no XML declaration or DOCTYPE, which are invalid inside HTML)."""
    return _PROLOGUE.sub("", svg, count=1)


def _script_json(data: object) -> str:
    """JSON safe inside a ``<script>`` element."""
    return json.dumps(data, sort_keys=True, default=str).replace("</", "<\\/").replace("<!--", "<\\!--")


_STYLE = """
body{margin:0;font:13px/1.4 system-ui,Helvetica,Arial,sans-serif;color:#263238;display:flex;height:100vh}
#lp-graph{flex:1;overflow:auto;padding:8px}
#lp-graph g.node{cursor:pointer}
#lp-graph g.node.lp-selected polygon,#lp-graph g.node.lp-selected path,#lp-graph g.node.lp-selected rect
{stroke-width:3px}
#lp-details{width:420px;overflow:auto;border-left:1px solid #cfd8dc;padding:12px 16px;background:#fafafa}
#lp-details h2{margin:0 0 4px;font-size:17px;word-break:break-all}
.lp-badge{display:inline-block;padding:1px 8px;border-radius:9px;border:1px solid}
table{border-collapse:collapse;margin:4px 0 10px;display:block;overflow-x:auto;max-width:100%}
td,th{border-bottom:1px solid #eceff1;padding:2px 4px;text-align:left;vertical-align:top;white-space:nowrap}
td:last-child{white-space:normal}
#lp-materializations td:last-child{min-width:20em}
code{font-size:12px}
h3{font-size:13px;margin:12px 0 2px;color:#455a64}
button.lp-link{border:0;background:none;color:#1565c0;padding:0;cursor:pointer;font:inherit}
#lp-strip{display:flex;flex-wrap:wrap;gap:1px;margin:4px 0 10px}
#lp-strip span{width:7px;height:14px;border:1px solid}
"""

_SCRIPT = """
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("lp-data").textContent);
  const colours = JSON.parse(document.getElementById("lp-colours").textContent);
  const panel = document.getElementById("lp-details");
  const nodes = {};
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    return e;
  }
  function short(v) { return v ? String(v).slice(0, 12) : "-"; }
  function value(v) { return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v); }
  function verdict(c) {
    if (c.passed === null) return "not run on this version";
    if (c.error) return c.error.startsWith(TIMED_OUT) ? c.error : "raised " + c.error;
    const state = c.passed ? "passed" : c.severity === "warn" ? "warned" : "failed";
    const meta = Object.entries(c.metadata).map(([k, v]) => k + "=" + value(v)).join(" ");
    return meta ? state + " (" + meta + ")" : state;
  }
  function table(headers, rows) {
    const t = el("table");
    const head = el("tr");
    headers.forEach((h) => head.appendChild(el("th", h)));
    t.appendChild(head);
    rows.forEach((r) => {
      const tr = el("tr");
      r.forEach((c) => tr.appendChild(c instanceof Node ? wrap(c) : el("td", c)));
      t.appendChild(tr);
    });
    return t;
  }
  function wrap(node) { const td = el("td"); td.appendChild(node); return td; }
  function links(keys) {
    const span = el("span");
    keys.forEach((k, i) => {
      if (i) span.appendChild(document.createTextNode(", "));
      const b = el("button", k, { class: "lp-link" });
      b.addEventListener("click", () => show(k));
      span.appendChild(b);
    });
    if (!keys.length) span.textContent = "-";
    return span;
  }
  function show(key) {
    const d = data[key];
    if (!d) return;
    Object.values(nodes).forEach((g) => g.classList.remove("lp-selected"));
    if (nodes[key]) nodes[key].classList.add("lp-selected");
    panel.replaceChildren();
    panel.dataset.asset = key;
    panel.appendChild(el("h2", d.key));
    const [fill, border] = colours[d.state];
    const badge = el("span", d.state, { class: "lp-badge", id: "lp-state" });
    badge.style.background = fill;
    badge.style.borderColor = border;
    panel.appendChild(badge);
    panel.appendChild(document.createTextNode("  group " + d.group));
    if (d.description) panel.appendChild(el("p", d.description));
    if (d.causes.length) {
      panel.appendChild(el("h3", "Why stale"));
      const ul = el("ul");
      d.causes.forEach((c) => ul.appendChild(el("li", c)));
      panel.appendChild(ul);
    }
    if (d.partitions) {
      const p = d.partitions;
      panel.appendChild(el("h3", "Partitions: " + p.stale + " of " + p.total + " stale"));
      if (p.bucket > 1) {
        const counts = Object.entries(p.counts).map(([state, n]) => n + " " + state).join(", ");
        panel.appendChild(el("p", counts + "; each cell: up to " + p.bucket + " partitions", { id: "lp-strip-note" }));
      }
      const strip = el("div", null, { id: "lp-strip" });
      p.cells.forEach(([, state, title]) => {
        const cell = el("span", null, { title: title });
        [cell.style.background, cell.style.borderColor] = colours[state];
        strip.appendChild(cell);
      });
      panel.appendChild(strip);
      if (p.ranges) {
        const ul = el("ul", null, { id: "lp-strip-ranges" });
        p.ranges.forEach((r) => ul.appendChild(el("li", r)));
        if (p.more_ranges) ul.appendChild(el("li", "... and " + p.more_ranges + " more ranges"));
        panel.appendChild(ul);
      }
    }
    panel.appendChild(table(["", ""], [
      ["code version", el("code", d.code_version || "-", { id: "lp-code-version" })],
      ["data version", el("code", d.data_version || "-")],
      ["upstream", links(d.upstream)],
      ["downstream", links(d.downstream)],
    ]));
    const declared = Object.entries(d.declared_metadata);
    if (declared.length) {
      panel.appendChild(el("h3", "Declared metadata"));
      const t = table(["name", "value"], declared.map(([k, v]) => [k, value(v)]));
      t.id = "lp-declared-metadata";
      panel.appendChild(t);
    }
    const meta = Object.entries(d.metadata);
    if (meta.length) {
      panel.appendChild(el("h3", "Metadata (current version)"));
      panel.appendChild(table(["name", "value"], meta.map(([k, v]) => [k, value(v)])));
    }
    if (d.checks.length) {
      panel.appendChild(el("h3", "Checks (current version)"));
      const t = table(["check", "blocking", "result"], d.checks.map((c) => [
        c.check, c.blocking ? "yes" : "no",
        c.text !== undefined ? "partitions " + c.text  // a partitioned asset's: summed over its partitions
          : verdict(c) + (c.passed !== null && !c.current ? " (check changed since)" : ""),
      ]));
      t.id = "lp-checks";
      panel.appendChild(t);
    }
    if (d.materializations.length) {
      panel.appendChild(el("h3", "Recent materializations"));
      const t = table(["when", "kind", "run", "data", "detail"], d.materializations.map((m) => [
        m.finished_at, m.kind, m.run_id, short(m.data_version),
        [m.error || Object.entries(m.metadata).map(([k, v]) => k + "=" + value(v)).join(" ")]
          .concat(m.checks.map((c) => c.check + " " + verdict(c)))
          .concat(m.logs ? ["output: " + m.logs] : []).filter(Boolean).join("; "),
      ]));
      t.id = "lp-materializations";
      panel.appendChild(t);
    }
  }
  document.querySelectorAll("#lp-graph g.node").forEach((g) => {
    const title = g.querySelector("title");
    if (!title || !(title.textContent in data)) return;
    nodes[title.textContent] = g;
    g.addEventListener("click", (event) => { event.preventDefault(); show(title.textContent); });
  });
})();
"""


def render_html(svg: str, details: Mapping[str, Mapping[str, Any]], title: str) -> str:
    """One self-contained page: the SVG inline, the details as JSON, and a small script to show them."""
    colours = {state.value: list(pair) for state, pair in COLOURS.items()}
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f'<div id="lp-graph">{_inline_svg(svg)}</div>\n'
        '<div id="lp-details"><p>Click an asset to see its status, versions, metadata and history.</p></div>\n'
        f'<script type="application/json" id="lp-data">{_script_json(details)}</script>\n'
        f'<script type="application/json" id="lp-colours">{_script_json(colours)}</script>\n'
        f"<script>const TIMED_OUT = {_script_json(TIMED_OUT)};{_SCRIPT}</script>\n"  # as check_status words it
        "</body></html>\n"
    )

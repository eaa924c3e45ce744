"""Selection syntax for ``--select``: terms separated by commas or spaces, their union selected.

``name`` the asset; ``+name`` it and everything upstream; ``name+`` it and everything downstream;
``+name+`` both; ``group:x`` every asset in group x; ``*`` every asset. Sources are never selected.
"""

from __future__ import annotations

import difflib
import re

from .errors import SelectionError
from .graph import AssetGraph

_SPLIT = re.compile(r"[,\s]+")


def select(graph: AssetGraph, expression: str | None) -> frozenset[str]:
    """The asset keys an expression selects (all assets for None or empty)."""
    assets = graph.assets
    if not expression or not expression.strip():
        return frozenset(assets)
    chosen: set[str] = set()
    for term in filter(None, _SPLIT.split(expression.strip())):
        found = {k for k in _term(graph, term) if k in assets}
        if not found:  # only sources matched: they are read, never built
            name = term.strip("+")
            if term.startswith("group:"):
                what, fix = f"group {name[len('group:') :]!r} holds only sources", "name one of its dependents"
            else:
                what, fix = f"{name!r} is a source", f"select what is built from it with '{name}+'"
            raise SelectionError(
                f"--select {term!r} selects no asset: {what}, which lakeplan reads but never builds; {fix}"
            )
        chosen |= found
    return frozenset(chosen)


def _term(graph: AssetGraph, term: str) -> set[str]:
    if term == "*":
        return set(graph.nodes)
    if term.startswith("group:"):
        group = term[len("group:") :]
        members = {k for k, n in graph.nodes.items() if n.group == group}
        if not members:
            groups = sorted({n.group for n in graph.nodes.values()})
            close = difflib.get_close_matches(group, groups, n=1)
            hint = f"did you mean 'group:{close[0]}'?" if close else f"groups are: {', '.join(groups)}"
            raise SelectionError(f"--select {term!r}: no asset is in group {group!r}; {hint}")
        return members
    up, down = term.startswith("+"), term.endswith("+")
    name = term.strip("+")
    if name not in graph.nodes:
        close = difflib.get_close_matches(name, graph.nodes.keys(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else "run 'lakeplan plan' to list the assets"
        raise SelectionError(f"--select {term!r}: unknown asset {name!r}; {hint}")
    result = {name}
    if up:
        result |= graph.ancestors([name])
    if down:
        result |= graph.descendants([name])
    return result


def upstreams_outside(graph: AssetGraph, selected: frozenset[str]) -> tuple[str, ...]:
    """Assets (not sources) the selection reads from but leaves out: while one is stale, what the selection
    builds from it waits (``AssetStatus.waiting_on``) instead of being rebuilt."""
    outside = {up for key in selected for up in graph.upstream[key] if up not in selected}
    return tuple(sorted(up for up in outside if not graph.is_source(up)))

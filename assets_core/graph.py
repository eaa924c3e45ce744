"""The asset graph: validated once, then read by the planner, executors, compiler and renderer."""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .bulk import collector_paused
from .checks import AssetCheck, by_asset, validate_checks
from .definitions import AssetDef, SourceAsset
from .errors import GraphError

Node = AssetDef | SourceAsset


def _origin(node: Node) -> str:
    if isinstance(node, AssetDef):
        code = getattr(node.fn, "__code__", None)
        if code is not None:
            return f"{Path(code.co_filename).name}:{code.co_firstlineno}"
    return "source_asset" if isinstance(node, SourceAsset) else "?"


@dataclass(frozen=True, slots=True)
class AssetGraph:
    """Assets and sources by key, with upstream/downstream edges and a deterministic order.

    ``order`` is topological, layer by layer, keys sorted within a layer, so plans and compiled
    manifests come out the same on every run.
    """

    nodes: Mapping[str, Node]
    upstream: Mapping[str, tuple[str, ...]]
    downstream: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]
    checks: Mapping[str, tuple[AssetCheck, ...]] = field(default_factory=dict)  # by asset key

    @classmethod
    def build(cls, items: Iterable[Node], checks: Iterable[AssetCheck] = ()) -> AssetGraph:
        """Validate and index the declarations and asset checks; every problem found is raised together."""
        with collector_paused():  # a dict, tuple and list per asset: no cycles, nothing to collect
            return cls._build(items, tuple(checks))

    @classmethod
    def _build(cls, items: Iterable[Node], checks: tuple[AssetCheck, ...] = ()) -> AssetGraph:
        problems: list[str] = []
        nodes: dict[str, Node] = {}
        for item in items:
            existing = nodes.get(item.key)
            if existing is not None and existing is not item:
                problems.append(
                    f"duplicate asset key {item.key!r} ({_origin(existing)} and {_origin(item)}); "
                    "rename one with name='...'"
                )
                continue
            nodes[item.key] = item
        upstream: dict[str, tuple[str, ...]] = {}
        for key, node in nodes.items():
            ups = node.upstream_keys if isinstance(node, AssetDef) else ()
            for up in ups:
                if up == key:
                    problems.append(f"asset {key!r} depends on itself; remove {key!r} from its parameters/deps")
                elif up not in nodes:
                    close = difflib.get_close_matches(up, nodes.keys(), n=1)
                    hint = f"did you mean {close[0]!r}?" if close else "declare it with @asset or source_asset()"
                    problems.append(f"asset {key!r} depends on unknown asset {up!r}; {hint}")
            upstream[key] = tuple(u for u in ups if u != key and u in nodes)
        order, downstream, cycle = _layered_order(upstream)
        if cycle:
            problems.append(f"cycle in the asset graph: {' -> '.join(cycle)}; remove one of these dependencies")
        sources = {key for key, node in nodes.items() if isinstance(node, SourceAsset)}
        problems += validate_checks(checks, nodes.keys() - sources, sources)
        if problems:
            raise GraphError(problems)
        return cls(nodes=nodes, upstream=upstream, downstream=downstream, order=order, checks=by_asset(checks))

    @property
    def assets(self) -> dict[str, AssetDef]:
        """The materializable assets (not sources), by key."""
        return {k: n for k, n in self.nodes.items() if isinstance(n, AssetDef)}

    def asset(self, key: str) -> AssetDef:
        node = self.nodes[key]
        if not isinstance(node, AssetDef):
            raise KeyError(key)
        return node

    def is_source(self, key: str) -> bool:
        return isinstance(self.nodes[key], SourceAsset)

    def ancestors(self, keys: Iterable[str]) -> set[str]:
        """Every key upstream of ``keys`` (not including them)."""
        return _reach(keys, self.upstream)

    def descendants(self, keys: Iterable[str]) -> set[str]:
        """Every key downstream of ``keys`` (not including them)."""
        return _reach(keys, self.downstream)

    def nearest_among(self, keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """For each of ``keys``, the nearest ancestors that are also in ``keys`` (what it must wait for)."""
        ordered = list(dict.fromkeys(keys))
        planned = set(ordered)
        waits: dict[str, tuple[str, ...]] = {}
        for key in ordered:
            found: set[str] = set()
            stack = list(self.upstream[key])
            seen: set[str] = set()
            while stack:
                up = stack.pop()
                if up in seen:
                    continue
                seen.add(up)
                if up in planned:
                    found.add(up)
                else:
                    stack.extend(self.upstream[up])
            waits[key] = tuple(sorted(found))
        return waits


def _reach(start: Iterable[str], edges: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = [n for k in start for n in edges[k]]
    while stack:
        key = stack.pop()
        if key not in seen:
            seen.add(key)
            stack.extend(edges[key])
    return seen


def _layered_order(
    upstream: Mapping[str, tuple[str, ...]],
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], list[str]]:
    """Kahn's algorithm, one sorted layer at a time, on plain dicts (linear: a million assets take
    seconds); also the downstream edges, in that order. For a cycle, its members in order instead."""
    pending = {key: len(ups) for key, ups in upstream.items()}
    below: dict[str, list[str]] = {key: [] for key in upstream}
    for key, ups in upstream.items():
        for up in ups:
            below[up].append(key)
    order: list[str] = []
    layer = sorted(key for key, count in pending.items() if count == 0)
    while layer:
        order.extend(layer)
        ready = []
        for key in layer:
            for down in below[key]:
                pending[down] -= 1
                if pending[down] == 0:
                    ready.append(down)
        layer = sorted(ready)
    if len(order) < len(upstream):
        return (), {}, _cycle({k: v for k, v in upstream.items() if pending[k] > 0})
    downstream: dict[str, list[str]] = {key: [] for key in order}
    for key in order:  # again, so each key's dependents come in order
        for up in upstream[key]:
            downstream[up].append(key)
    return tuple(order), {k: tuple(v) for k, v in downstream.items()}, []


def _cycle(remaining: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One cycle among the keys Kahn's algorithm could not order, starting at its smallest member."""
    try:
        graphlib.TopologicalSorter(remaining).prepare()
    except graphlib.CycleError as exc:
        members = list(exc.args[1])[:-1]  # graphlib repeats the first member at the end
        start = members.index(min(members))  # start at the smallest key, so the message is deterministic
        members = members[start:] + members[:start]
        return [*members, members[0]]
    raise AssertionError("unordered keys without a cycle")  # pragma: no cover

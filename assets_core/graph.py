"""The asset graph: validated once, then read by the planner, executors, compiler and renderer."""

from __future__ import annotations

import difflib
import graphlib
from collections.abc import Iterable, Mapping
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


class AssetGraph:
    """Assets and sources by key, with upstream/downstream edges and a deterministic order.

    ``order`` is topological, layer by layer, keys sorted within a layer, so plans and compiled
    manifests come out the same on every run. Read-only by convention. ``downstream`` and ``assets`` are
    derived on first use: planning a million assets needs neither.
    """

    __slots__ = ("_assets", "_downstream", "checks", "nodes", "order", "upstream")

    def __init__(
        self,
        nodes: Mapping[str, Node],
        upstream: Mapping[str, tuple[str, ...]],
        downstream: Mapping[str, tuple[str, ...]] | None,
        order: tuple[str, ...],
        checks: Mapping[str, tuple[AssetCheck, ...]] | None = None,  # by asset key
    ) -> None:
        self.nodes = nodes
        self.upstream = upstream
        self.order = order
        self.checks: Mapping[str, tuple[AssetCheck, ...]] = checks if checks is not None else {}
        self._downstream = downstream
        self._assets: dict[str, AssetDef] | None = None

    @classmethod
    def build(cls, items: Iterable[Node], checks: Iterable[AssetCheck] = ()) -> AssetGraph:
        """Validate and index the declarations and asset checks; every problem found is raised together."""
        with collector_paused():  # a dict entry and a tuple per asset: no cycles, nothing to collect
            return cls._build(items, tuple(checks))

    @classmethod
    def _build(cls, items: Iterable[Node], checks: tuple[AssetCheck, ...] = ()) -> AssetGraph:
        problems: list[str] = []
        nodes: dict[str, Node] = {}
        for item in items:
            existing = nodes.setdefault(item.key, item)
            if existing is not item:
                problems.append(
                    f"duplicate asset key {item.key!r} ({_origin(existing)} and {_origin(item)}); "
                    "rename one with name='...'"
                )
        upstream: dict[str, tuple[str, ...]] = {}
        for key, node in nodes.items():
            ups = node.upstream_keys if isinstance(node, AssetDef) else ()
            for up in ups:
                if up == key or up not in nodes:
                    upstream[key] = _checked(key, ups, nodes, problems)
                    break
            else:  # the usual case: every upstream is declared; the asset's own tuple is kept
                upstream[key] = ups
        order, cycle = _layered_order(upstream)
        if cycle:
            problems.append(f"cycle in the asset graph: {' -> '.join(cycle)}; remove one of these dependencies")
        sources = {key for key, node in nodes.items() if isinstance(node, SourceAsset)}
        problems += validate_checks(checks, nodes.keys() - sources, sources)
        if problems:
            raise GraphError(problems)
        return cls(nodes, upstream, None, order, by_asset(checks))

    @property
    def downstream(self) -> Mapping[str, tuple[str, ...]]:
        """Each key's dependents, in ``order``."""
        if self._downstream is None:
            self._downstream = _downstream(self.upstream, self.order)
        return self._downstream

    @property
    def assets(self) -> Mapping[str, AssetDef]:
        """The materializable assets (not sources), by key."""
        if self._assets is None:
            self._assets = {k: n for k, n in self.nodes.items() if isinstance(n, AssetDef)}
        return self._assets

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


def _checked(key: str, ups: tuple[str, ...], nodes: Mapping[str, Node], problems: list[str]) -> tuple[str, ...]:
    """The declared upstreams of ``key``, with a problem for itself or an unknown key (each left out)."""
    for up in ups:
        if up == key:
            problems.append(f"asset {key!r} depends on itself; remove {key!r} from its parameters/deps")
        elif up not in nodes:
            close = difflib.get_close_matches(up, nodes.keys(), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "declare it with @asset or source_asset()"
            problems.append(f"asset {key!r} depends on unknown asset {up!r}; {hint}")
    return tuple(u for u in ups if u != key and u in nodes)


def _layered_order(upstream: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, ...], list[str]]:
    """Keys layer by layer, sorted within a layer; a key's layer is one more than its deepest upstream's (as
    in Kahn's algorithm, without building the reverse edges). One pass when upstreams are declared before
    their dependents, a depth-first search from the others. For a cycle, its members in order instead."""
    depth: dict[str, int] = {}
    for key, ups in upstream.items():
        layer = 0
        for up in ups:
            above = depth.get(up)
            if above is None:
                if key not in depth and not _search(key, upstream, depth):
                    return (), _cycle(upstream)
                break
            if above >= layer:
                layer = above + 1
        else:
            depth[key] = layer
    layers: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for key, layer in depth.items():
        layers[layer].append(key)
    return tuple(key for keys in layers for key in sorted(keys)), []


def _search(start: str, upstream: Mapping[str, tuple[str, ...]], depth: dict[str, int]) -> bool:
    """Give ``start`` and everything upstream of it a layer (depth first); False on meeting a cycle."""
    stack = [(start, iter(upstream[start]))]
    visiting = {start}
    while stack:
        key, pending = stack[-1]
        for up in pending:
            if up in depth:
                continue
            if up in visiting:
                return False
            visiting.add(up)
            stack.append((up, iter(upstream[up])))
            break
        else:
            stack.pop()
            visiting.discard(key)
            depth[key] = 1 + max((depth[up] for up in upstream[key]), default=-1)
    return True


def _downstream(upstream: Mapping[str, tuple[str, ...]], order: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Each key's dependents, in ``order``."""
    below: dict[str, list[str]] = {key: [] for key in order}
    for key in order:
        for up in upstream[key]:
            below[up].append(key)
    return {key: tuple(keys) for key, keys in below.items()}


def _cycle(upstream: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One cycle of the graph, starting at its smallest member."""
    try:
        graphlib.TopologicalSorter(upstream).prepare()
    except graphlib.CycleError as exc:
        members = list(exc.args[1])[:-1]  # graphlib repeats the first member at the end
        start = members.index(min(members))  # start at the smallest key, so the message is deterministic
        members = members[start:] + members[:start]
        return [*members, members[0]]
    raise AssertionError("a depth-first search met a cycle graphlib does not find")  # pragma: no cover

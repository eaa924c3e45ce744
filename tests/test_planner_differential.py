"""Differential test of the planner and the executor against a small reference model of docs/concepts.md.

Hypothesis draws random DAGs (20-200 assets, 1-5 sources) and event sequences: materialize a random
selection (sometimes forced), change an asset's code (cosmetically, keeping its output, or for real,
sometimes back to an earlier version), change a source (sometimes back to earlier content), and delete a
stored output. Every event runs through the real executor, step and SQLite store; after each one the real
plan is compared with the model's, cause by cause, and every run's per-asset outcomes with the model's.

The model is written from the documentation, not from the planner:
- directly stale: never built (MISSING), stored output gone (MISSING), code version changed (CODE), an
  input's current data version differs from the one it was built from (DATA);
- UPSTREAM: exactly the assets downstream of a stale asset (a never-built asset cites only MISSING);
- a selected stale asset waits on the stale assets outside the selection it reads, directly or through
  selected assets;
- a run rebuilds the selection's stale assets in order; each is re-checked first (early cutoff: FRESH, or
  WAITING below an unselected stale upstream), then restored when an earlier materialization with the same
  code and input versions still has its output, else built; an asset whose input has no data, or whose
  input's output is gone, fails, and what is planned below it is skipped.

Values are small integers (so equal outputs, early cutoff and restore happen often); an asset's value is a
function of its "semantic" code and its inputs' values, so a cosmetic code change keeps the value.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets_core import AssetDef, AssetGraph, AssetInput, CurrentState, Head, partition_key, plan, source_asset
from assets_core.config import Settings
from assets_core.executor import planned_work, run
from assets_core.metadata_store import MetadataStore
from assets_core.partition_graph import expand
from assets_core.partitions import all_partitions, daily_partitions, window
from assets_core.workspace import Workspace
from io_managers.version_store import LocalVersionStore

MODULUS = 5  # few distinct values: identical outputs (early cutoff, restore) are common


def value_of(salt: int, inputs: list[int]) -> int:
    """What an asset returns: a function of its semantic code (``salt``) and its inputs, in input order."""
    return (salt + sum((i + 2) * v for i, v in enumerate(inputs))) % MODULUS


# ---------------------------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Shape:
    """A DAG: ``upstreams[i]`` indexes nodes, where nodes 0..sources-1 are sources, the rest assets."""

    sources: int
    upstreams: tuple[tuple[int, ...], ...]

    @property
    def assets(self) -> range:
        return range(self.sources, self.sources + len(self.upstreams))

    def name(self, node: int) -> str:
        return f"s{node}" if node < self.sources else f"a{node - self.sources}"


Event = tuple[Any, ...]


@st.composite
def shapes(draw: st.DrawFn, min_assets: int = 20, max_assets: int = 200) -> Shape:
    sources = draw(st.integers(1, 5))
    count = draw(st.integers(min_assets, max_assets))
    upstreams = []
    for i in range(count):
        node = sources + i
        ups = draw(st.lists(st.integers(0, node - 1), max_size=3, unique=True)) if node else []
        upstreams.append(tuple(ups))
    return Shape(sources, tuple(upstreams))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Shape, list[Event]]:
    return draw(events_on(draw(shapes())))


@st.composite
def events_on(draw: st.DrawFn, shape: Shape) -> tuple[Shape, list[Event]]:
    assets = st.sampled_from(list(shape.assets))
    events = st.one_of(
        st.tuples(
            st.just("materialize"),
            st.one_of(st.none(), st.sets(assets, min_size=1, max_size=12)),
            st.booleans() if draw(st.booleans()) else st.just(False),
            st.sampled_from(["", "+", "+", "x+"]),  # how each selected name is written (NAME, +NAME, NAME+)
        ),
        st.tuples(st.just("code"), assets, st.sampled_from(["cosmetic", "semantic", "revert"])),
        st.tuples(st.just("source"), st.integers(0, shape.sources - 1), st.integers(0, 3)),
        st.tuples(st.just("delete"), assets),
    )
    first = ("materialize", None, False, "")
    return shape, [first, *draw(st.lists(events, min_size=3, max_size=10))]


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class Record:
    code: str
    inputs: dict[str, int]
    value: int


@dataclass
class Model:
    """The documented behaviour, in its most direct form."""

    shape: Shape
    salt: dict[str, int] = field(default_factory=dict)
    revision: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # code versions seen, for reverts
    source: dict[str, int] = field(default_factory=dict)
    head: dict[str, Record] = field(default_factory=dict)
    records: dict[str, list[Record]] = field(default_factory=dict)
    gone: set[tuple[str, int]] = field(default_factory=set)  # (asset, value) whose stored output was deleted

    def __post_init__(self) -> None:
        for node in self.shape.assets:
            name = self.shape.name(node)
            self.salt[name], self.revision[name] = node % MODULUS, 0
            self.history[name] = [(self.salt[name], 0)]
        for node in range(self.shape.sources):
            self.source[self.shape.name(node)] = 0

    def ups(self, name: str) -> list[str]:
        if name in self.source:
            return []
        index = int(name[1:]) + self.shape.sources
        return [self.shape.name(u) for u in self.shape.upstreams[index - self.shape.sources]]

    def code(self, name: str) -> str:
        return f"{self.salt[name]}.{self.revision[name]}"

    def current(self, name: str) -> int | None:
        if name in self.source:
            return self.source[name]
        record = self.head.get(name)
        return record.value if record else None

    def direct(self, name: str) -> set[tuple[str, str | None]]:
        record = self.head.get(name)
        if record is None:
            return {("MISSING", None)}
        causes: set[tuple[str, str | None]] = set()
        if (name, record.value) in self.gone:
            causes.add(("MISSING", None))
        if record.code != self.code(name):
            causes.add(("CODE", None))
        for up in self.ups(name):
            if self.current(up) != record.inputs.get(up):
                causes.add(("DATA", up))
        return causes

    def plan(self) -> dict[str, set[tuple[str, str | None]]]:
        """Every asset's causes (empty: fresh). UPSTREAM is the downstream cone of the directly stale."""
        direct = {self.shape.name(n): self.direct(self.shape.name(n)) for n in self.shape.assets}
        stale = {k for k, c in direct.items() if c}
        changed = True
        while changed:  # a fixpoint, deliberately unlike the planner's single topological pass
            changed = False
            for name in direct:
                if name not in stale and any(u in stale for u in self.ups(name)):
                    stale.add(name)
                    changed = True
        causes: dict[str, set[tuple[str, str | None]]] = {}
        for name, own in direct.items():
            never_built = name not in self.head
            upstream = set() if never_built else {("UPSTREAM", u) for u in self.ups(name) if u in stale}
            causes[name] = own | upstream
        return causes

    def waiting_on(self, name: str, selected: set[str], stale: set[str]) -> list[str]:
        """Stale assets outside ``selected`` that ``name`` reads, directly or through selected assets."""
        found: set[str] = set()
        stack, seen = list(self.ups(name)), set()
        while stack:
            up = stack.pop()
            if up in seen or up in self.source:
                continue
            seen.add(up)
            if up not in stale:
                continue
            if up in selected:
                stack.extend(self.ups(up))
            else:
                found.add(up)
        return sorted(found)

    def materialize(self, selected: set[str], force: bool) -> dict[str, str]:
        causes = self.plan()
        stale = {k for k, c in causes.items() if c}
        order = [self.shape.name(n) for n in self.shape.assets]  # ids ascend along every edge
        keys = [k for k in order if k in selected and (force or k in stale)]
        waiting = {k for k in keys if k in stale and self.waiting_on(k, selected, stale)}
        outcomes: dict[str, str] = {}
        for key in keys:
            if any(outcomes.get(a) in ("failed", "skipped") for a in self.ancestors(key)):
                outcomes[key] = "skipped"
                continue
            if not force and not self.direct(key):
                outcomes[key] = "waiting" if key in waiting else "fresh"
                continue
            inputs = {u: self.current(u) for u in self.ups(key)}
            if any(v is None for v in inputs.values()):
                outcomes[key] = "failed"
                continue
            known = {u: v for u, v in inputs.items() if v is not None}
            earlier = [r for r in self.records.get(key, []) if r.code == self.code(key) and r.inputs == known]
            if not force and any((key, r.value) not in self.gone for r in earlier):
                self._record(key, Record(self.code(key), known, earlier[0].value))
                outcomes[key] = "restored"
                continue
            if any((u, v) in self.gone for u, v in known.items() if u not in self.source):
                outcomes[key] = "failed"
                continue
            value = value_of(self.salt[key], [known[u] for u in self.ups(key)])
            self.gone.discard((key, value))
            self._record(key, Record(self.code(key), known, value))
            outcomes[key] = "built"
        return outcomes

    def _record(self, key: str, record: Record) -> None:
        self.head[key] = record
        self.records.setdefault(key, []).append(record)

    def ancestors(self, name: str) -> set[str]:
        found: set[str] = set()
        stack = self.ups(name)
        while stack:
            up = stack.pop()
            if up not in found:
                found.add(up)
                stack.extend(self.ups(up))
        return found

    def change_code(self, name: str, how: str) -> None:
        if how == "cosmetic":
            self.revision[name] += 1
        elif how == "semantic":
            self.salt[name] = (self.salt[name] + 1) % MODULUS
            self.revision[name] += 1
        else:
            self.salt[name], self.revision[name] = self.history[name][0]
        if (self.salt[name], self.revision[name]) not in self.history[name]:
            self.history[name].append((self.salt[name], self.revision[name]))

    def selection(self, chosen: set[int] | None, style: str) -> set[str] | None:
        if chosen is None:
            return None
        names = {self.shape.name(n) for n in chosen}
        result = set(names)
        for name in names:
            if style == "+":
                result |= {a for a in self.ancestors(name) if a not in self.source}
            elif style == "x+":
                result |= self.descendants(name)
        return result

    def descendants(self, name: str) -> set[str]:
        everything = [self.shape.name(n) for n in self.shape.assets]
        return {k for k in everything if name in self.ancestors(k)}


# ---------------------------------------------------------------------------------------------- the real thing


class Real:
    """The same scenario on the real workspace, executor, step and SQLite store (shared across examples)."""

    def __init__(self, model: Model, store: MetadataStore, root: Path) -> None:
        self.model = model
        self.prefix = f"d{uuid.uuid4().hex[:10]}"  # examples share one store: keys never collide
        self.settings = Settings(project_root=root, retry_backoff_seconds=0.0, storage_root=root / "storage")
        self.store = store
        self.objects = LocalVersionStore(self.settings.resolved_storage_root)

    def key(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def workspace(self) -> Workspace:
        model = self.model
        nodes: list[Any] = []
        for name in model.source:
            nodes.append(
                source_asset(self.key(name), version=_reader(model.source, name, str), read=_reader(model.source, name))
            )
        for node in model.shape.assets:
            name = model.shape.name(node)
            inputs = tuple(AssetInput(up, self.key(up), None) for up in model.ups(name))
            nodes.append(AssetDef(self.key(name), _asset_fn(model, name), inputs, code_version=model.code(name)))
        ws = Workspace(self.settings, "differential", AssetGraph.build(nodes))
        ws.__dict__["store"] = self.store  # cached properties, set once here
        ws.__dict__["objects"] = self.objects
        return ws

    def plan(self, selected: set[str] | None) -> dict[str, tuple[set[tuple[str, str | None]], list[str]]]:
        expression = None if selected is None else ",".join(sorted(self.key(n) for n in selected))
        cut = len(self.prefix) + 1
        return {
            s.key[cut:]: (
                {(c.kind.value, c.input[cut:] if c.input else None) for c in s.causes},
                [w[cut:] for w in s.waiting_on],
            )
            for s in self.workspace().plan(expression).statuses
        }

    def materialize(self, selected: set[str] | None, force: bool) -> dict[str, str]:
        ws = self.workspace()
        expression = None if selected is None else ",".join(sorted(self.key(n) for n in selected))
        keys, waiting = planned_work(ws.plan(expression), force)
        summary = run(ws, keys, selection=expression or "*", force=force, waiting=waiting)
        cut = len(self.prefix) + 1
        return {r.key[cut:]: r.outcome.value for r in summary.results}

    def delete(self, name: str) -> None:
        head = self.store.heads([self.key(name)]).get(self.key(name))
        if head is not None:
            self.objects.path(head.location).unlink(missing_ok=True)


def _reader(values: dict[str, int], name: str, convert: Callable[[int], Any] = int) -> Callable[[], Any]:
    return lambda: convert(values[name])


def _asset_fn(model: Model, name: str) -> Callable[..., int]:
    order = model.ups(name)

    def fn(**inputs: int) -> int:
        return value_of(model.salt[name], [inputs[u] for u in order])

    return fn


def _apply(model: Model, event: Event) -> set[str] | None:
    """Apply a non-run event to the model; returns the selection of a materialize event (None: everything)."""
    if event[0] == "code":
        model.change_code(model.shape.name(event[1]), event[2])
    elif event[0] == "source":
        model.source[model.shape.name(event[1])] = event[2]
    elif event[0] == "delete":
        name = model.shape.name(event[1])
        if name in model.head:
            model.gone.add((name, model.head[name].value))
    return model.selection(event[1], event[3]) if event[0] == "materialize" else None


def expected_plan(model: Model, chosen: set[str] | None) -> dict[str, tuple[set[tuple[str, str | None]], list[str]]]:
    """The model's plan of ``chosen`` (None: everything): each asset's causes and what it waits on."""
    causes = model.plan()
    stale = {k for k, c in causes.items() if c}
    return {
        k: (c, model.waiting_on(k, chosen, stale) if chosen is not None and c else [])
        for k, c in causes.items()
        if chosen is None or k in chosen
    }


def _state(model: Model) -> CurrentState:
    """The model's state as the planner sees it: data versions are the values' text."""
    heads = {
        name: Head(i, str(r.value), r.code, {u: str(v) for u, v in r.inputs.items()}, f"{name}/{r.value}.json", "r")
        for i, (name, r) in enumerate(model.head.items())
    }
    return CurrentState(
        code_versions={model.shape.name(n): model.code(model.shape.name(n)) for n in model.shape.assets},
        heads=heads,
        source_versions={k: str(v) for k, v in model.source.items()},
        missing_outputs={name for name, r in model.head.items() if (name, r.value) in model.gone},
    )


def _graph(shape: Shape) -> AssetGraph:
    nodes: list[Any] = [source_asset(shape.name(n), version=str, read=int) for n in range(shape.sources)]
    for node in shape.assets:
        ups = [shape.name(u) for u in shape.upstreams[node - shape.sources]]
        nodes.append(AssetDef(shape.name(node), int, tuple(AssetInput(u, u, None) for u in ups)))
    return AssetGraph.build(nodes)


def _settings(examples_variable: str, default: int) -> settings:
    """``default`` examples (``examples_variable`` overrides), no deadline: examples are large by design."""
    return settings(
        max_examples=int(os.environ.get(examples_variable, default)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@_settings("LAKEPLAN_DIFFERENTIAL_EXAMPLES", 500)
@given(scenario=scenarios())
def test_planner_matches_the_reference_model(scenario: tuple[Shape, list[Event]]) -> None:
    """The pure planner, on every state the documented semantics reach (the model runs the events)."""
    shape, events = scenario
    model, graph = Model(shape), _graph(shape)
    for number, event in enumerate(events):
        selected = _apply(model, event)
        if event[0] == "materialize":
            model.materialize(selected or set(model.salt), event[2])
        for chosen in (None, selected):
            result = plan(graph, _state(model), chosen)
            actual = {s.key: ({(c.kind.value, c.input) for c in s.causes}, list(s.waiting_on)) for s in result.statuses}
            assert actual == expected_plan(model, chosen), f"after event {number}: {event}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MetadataStore, Path]]:
    """One SQLite store for every example of the run test (examples use distinct key prefixes)."""
    root = tmp_path_factory.mktemp("differential")
    store = MetadataStore.open(f"sqlite:///{root / 'lakeplan.db'}")
    yield store, root
    store.close()


@pytest.mark.slow
@_settings("LAKEPLAN_DIFFERENTIAL_RUNS", 40)
@given(scenario=scenarios())
def test_runs_match_the_reference_model(
    scenario: tuple[Shape, list[Event]], shared: tuple[MetadataStore, Path]
) -> None:
    """The real executor, step and store: every run's outcomes (built, restored, fresh, waiting, failed,
    skipped) and every plan after each event agree with the model."""
    shape, events = scenario
    model = Model(shape)
    replay(model, Real(model, *shared), events, _apply)


def replay(model: Model, real: Real, events: list[Event], apply: Callable[[Model, Event], set[str] | None]) -> None:
    """Run ``events`` on the model (``apply``) and the real thing; every run's outcomes and every plan agree."""
    for number, event in enumerate(events):
        if event[0] == "delete":
            real.delete(model.shape.name(event[1]))
        selected = apply(model, event)
        if event[0] == "materialize":
            expected = model.materialize(selected or set(model.salt), event[2])
            assert real.materialize(selected, event[2]) == expected, f"event {number}: {event}"
        for chosen in (None, selected):
            assert real.plan(chosen) == expected_plan(model, chosen), f"plan after event {number}: {event}"


# ---------------------------------------------------------------------------------------------- partitions
#
# The same model on a partitioned graph: declarations (daily sources and assets, some unpartitioned, with
# identity, window or all-partitions mappings) are expanded here, from docs/partitions.md, into a flat
# Shape with one node per (asset, day); the real planner works on assets_core's own expansion. Both the
# edges of the two expansions and every plan must agree.

DAY_ONE = dt.date(2026, 1, 1)


@dataclass(frozen=True)
class Declared:
    """Nodes 0..sources-1 are sources; ``partitioned[i]`` says whether node i is daily; ``reads[j]`` lists
    asset j's upstream nodes with their mapping ('identity', 'window:N' or 'all')."""

    days: int
    sources: int
    partitioned: tuple[bool, ...]
    reads: tuple[tuple[tuple[int, str], ...], ...]

    def name(self, node: int) -> str:
        return f"s{node}" if node < self.sources else f"a{node - self.sources}"

    def day(self, offset: int) -> str:
        return (DAY_ONE + dt.timedelta(days=offset)).isoformat()

    def instances(self, node: int) -> list[str]:
        """Node's instance keys in day order (its own name when unpartitioned)."""
        name = self.name(node)
        return [f"{name}/partition={self.day(d)}" for d in range(self.days)] if self.partitioned[node] else [name]

    def reads_of(self, node: int, day: int | None) -> list[str]:
        """The documented mapping semantics: which upstream instances one instance of ``node`` reads."""
        found: list[str] = []
        for up, mapping in self.reads[node - self.sources]:
            ups = self.instances(up)
            if not self.partitioned[up]:
                found += ups  # an unpartitioned upstream: its one value
            elif day is None or mapping == "all":
                found += ups  # an unpartitioned asset, or all partitions: every day
            elif mapping == "identity":
                found.append(ups[day])
            else:
                size = int(mapping.split(":")[1])
                found += ups[max(0, day - size + 1) : day + 1]
        return found

    def flat(self) -> tuple[Shape, list[str]]:
        """The reference expansion as a Shape (sources first, then assets' instances) and each flat node's key."""
        keys = [k for n in range(self.sources) for k in self.instances(n)]
        ups: list[tuple[str, ...]] = []
        for node in range(self.sources, len(self.partitioned)):
            days: list[int | None] = list(range(self.days)) if self.partitioned[node] else [None]
            for key, day in zip(self.instances(node), days, strict=True):
                keys.append(key)
                ups.append(tuple(self.reads_of(node, day)))
        sources = sum(len(self.instances(n)) for n in range(self.sources))
        index = {k: i for i, k in enumerate(keys)}
        return Shape(sources, tuple(tuple(index[u] for u in dict.fromkeys(up)) for up in ups)), keys

    def graph(self) -> AssetGraph:
        """The real declarations."""
        days = daily_partitions(self.day(0), end=self.day(self.days))
        nodes: list[Any] = []
        for node in range(len(self.partitioned)):
            name, parts = self.name(node), days if self.partitioned[node] else None
            if node < self.sources:
                source = source_asset(name, path="x/{partition}.csv", partitions=parts) if parts else None
                nodes.append(source or source_asset(name, version=str, read=int))
                continue
            reads = self.reads[node - self.sources]
            inputs = tuple(AssetInput(self.name(u), self.name(u), None) for u, _ in reads)
            mapping = {
                self.name(u): window(int(m.split(":")[1])) if m.startswith("window") else all_partitions()
                for u, m in reads
                if m != "identity" and parts is not None and self.partitioned[u]
            }
            nodes.append(AssetDef(name, int, inputs, partitions=parts, partition_mapping=mapping))
        return AssetGraph.build(nodes)


@st.composite
def declarations(draw: st.DrawFn) -> Declared:
    sources = draw(st.integers(1, 3))
    count = draw(st.integers(3, 12))
    partitioned = tuple(draw(st.lists(st.booleans(), min_size=sources + count, max_size=sources + count)))
    mappings = st.sampled_from(["identity", "identity", "window:2", "window:3", "all"])
    reads = []
    for i in range(count):
        node = sources + i
        ups = draw(st.lists(st.integers(0, node - 1), min_size=1, max_size=3, unique=True))
        reads.append(tuple((u, draw(mappings)) for u in ups))
    return Declared(draw(st.integers(1, 5)), sources, partitioned, tuple(reads))


@st.composite
def partitioned_scenarios(draw: st.DrawFn) -> tuple[Declared, Shape, list[str], list[Event]]:
    declared = draw(declarations())
    shape, keys = declared.flat()
    _, events = draw(events_on(shape))
    return declared, shape, keys, events


def _renamed(state: CurrentState, real: dict[str, str]) -> CurrentState:
    """The model's state (flat names) keyed by the real instance keys."""
    heads = {
        real[k]: Head(
            h.id,
            h.data_version,
            h.code_version,
            {real[u]: v for u, v in h.input_versions.items()},
            h.location,
            h.run_id,
        )
        for k, h in state.heads.items()
    }
    return CurrentState(
        {real[k]: v for k, v in state.code_versions.items()},
        heads,
        {real[k]: v for k, v in state.source_versions.items()},
        {real[k] for k in state.missing_outputs},
    )


@_settings("LAKEPLAN_DIFFERENTIAL_PARTITION_EXAMPLES", 300)
@given(scenario=partitioned_scenarios())
def test_partitioned_planner_matches_the_reference_model(
    scenario: tuple[Declared, Shape, list[str], list[Event]],
) -> None:
    """The partition graph's edges are the documented mappings', and the planner on it agrees with the model
    (per partition: a changed source day makes exactly its cone stale) on every state the events reach."""
    declared, shape, keys, events = scenario
    expanded = expand(declared.graph(), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)).graph
    real = {shape.name(i): key for i, key in enumerate(keys)}
    flat = {key: name for name, key in real.items()}
    assert set(expanded.order) == set(keys)
    for i, ups in enumerate(shape.upstreams):
        key = keys[shape.sources + i]
        assert set(expanded.upstream[key]) == {keys[u] for u in ups}, key
    model = Model(shape)
    for number, event in enumerate(events):
        selected = _apply(model, event)
        if event[0] == "materialize":
            model.materialize(selected or set(model.salt), event[2])
        for chosen in (None, selected):
            wanted = None if chosen is None else {real[k] for k in chosen}
            result = plan(expanded, _renamed(_state(model), real), wanted)
            actual = {
                flat[s.key]: (
                    {(c.kind.value, flat[c.input] if c.input else None) for c in s.causes},
                    sorted(flat[w] for w in s.waiting_on),
                )
                for s in result.statuses
            }
            assert actual == expected_plan(model, chosen), f"after event {number}: {event}"


class RealPartitioned(Real):
    """A partitioned scenario on the real workspace, executor, step and store: a daily source partition is
    a JSON file, an asset's code version is shared by its partitions (a code event changes every one), and
    each function computes its value from what its parameters receive (one value, or a dict by day)."""

    def __init__(self, model: Model, store: MetadataStore, root: Path, declared: Declared, keys: list[str]) -> None:
        super().__init__(model, store, root)
        self.declared = declared
        self.real = {model.shape.name(i): key for i, key in enumerate(keys)}
        self.flat = {key: name for name, key in self.real.items()}
        self.files = root / self.prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}_{self.real[name]}"

    def workspace(self) -> Workspace:
        declared, model = self.declared, self.model
        days = daily_partitions(declared.day(0), end=declared.day(declared.days))
        nodes: list[Any] = []
        for node in range(len(declared.partitioned)):
            name, parts = declared.name(node), days if declared.partitioned[node] else None
            key = f"{self.prefix}_{name}"
            if node < declared.sources:
                if parts is None:
                    flat = self.flat[name]
                    nodes.append(
                        source_asset(key, version=_reader(model.source, flat, str), read=_reader(model.source, flat))
                    )
                    continue
                for instance in declared.instances(node):
                    file = self.files / name / f"{instance.split('=')[1]}.json"
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(str(model.source[self.flat[instance]]))
                nodes.append(source_asset(key, path=str(self.files / name / "{partition}.json"), partitions=parts))
                continue
            reads = declared.reads[node - declared.sources]
            many = {u: declared.partitioned[u] and (parts is None or m != "identity") for u, m in reads}
            inputs = tuple(
                AssetInput(declared.name(u), f"{self.prefix}_{declared.name(u)}", dict if many[u] else None)
                for u, _ in reads
            )
            mapping = {
                f"{self.prefix}_{declared.name(u)}": window(int(m.split(":")[1]))
                if m.startswith("window")
                else all_partitions()
                for u, m in reads
                if m != "identity" and parts is not None and declared.partitioned[u]
            }
            first = self.flat[declared.instances(node)[0]]
            fn = _partitioned_fn(
                model, name, [declared.name(u) for u, _ in reads], {k: self.flat[k] for k in declared.instances(node)}
            )
            nodes.append(
                AssetDef(key, fn, inputs, code_version=model.code(first), partitions=parts, partition_mapping=mapping)
            )
        ws = Workspace(self.settings, "differential", AssetGraph.build(nodes))
        ws.__dict__["store"] = self.store
        ws.__dict__["objects"] = self.objects
        return ws

    def _chosen(self, selected: set[str] | None) -> set[str] | None:
        return None if selected is None else {self.key(n) for n in selected}

    def plan(self, selected: set[str] | None) -> dict[str, tuple[set[tuple[str, str | None]], list[str]]]:
        cut = len(self.prefix) + 1
        ws = self.workspace()
        return {
            self.flat[s.key[cut:]]: (
                {(c.kind.value, self.flat[c.input[cut:]] if c.input else None) for c in s.causes},
                sorted(self.flat[w[cut:]] for w in s.waiting_on),
            )
            for s in plan(ws.planned, ws.current_state(), self._chosen(selected)).statuses
        }

    def materialize(self, selected: set[str] | None, force: bool) -> dict[str, str]:
        ws = self.workspace()
        keys, waiting = planned_work(plan(ws.planned, ws.current_state(), self._chosen(selected)), force)
        summary = run(ws, keys, force=force, waiting=waiting)
        cut = len(self.prefix) + 1
        return {self.flat[r.key[cut:]]: r.outcome.value for r in summary.results}


def _partitioned_fn(model: Model, name: str, params: list[str], flat: dict[str, str]) -> Callable[..., int]:
    """An asset's function: its partition's value from its inputs, flattened in the model's input order."""

    def fn(**inputs: Any) -> int:
        instance = name if name in flat else f"{name}/partition={partition_key()}"
        values: list[int] = []
        for param in params:
            given = inputs[param]
            values += list(given.values()) if isinstance(given, dict) else [given]
        return value_of(model.salt[flat[instance]], values)

    return fn


def _siblings(declared: Declared, keys: list[str], shape: Shape) -> dict[str, list[str]]:
    """Each flat asset node's name -> the flat names of every partition of the same asset."""
    by_asset: dict[str, list[str]] = {}
    for i, key in enumerate(keys):
        by_asset.setdefault(key.split("/")[0], []).append(shape.name(i))
    return {name: group for group in by_asset.values() for name in group}


@pytest.mark.slow
@_settings("LAKEPLAN_DIFFERENTIAL_PARTITION_RUNS", 25)
@given(scenario=partitioned_scenarios())
def test_partitioned_runs_match_the_reference_model(
    scenario: tuple[Declared, Shape, list[str], list[Event]], shared: tuple[MetadataStore, Path]
) -> None:
    """Runs on partitions: every run's outcomes per partition, and every plan after each event, agree with
    the model (code is per asset: a code event changes every partition of its asset in the model too)."""
    declared, shape, keys, events = scenario
    model = Model(shape)
    siblings = _siblings(declared, keys, shape)
    for name in model.salt:  # one code per asset, as lakeplan versions it
        first = siblings[name][0]
        model.salt[name], model.history[name] = model.salt[first], list(model.history[first])

    def apply(model: Model, event: Event) -> set[str] | None:
        if event[0] != "code":
            return _apply(model, event)
        for name in siblings[shape.name(event[1])]:
            model.change_code(name, event[2])
        return None

    replay(model, RealPartitioned(model, *shared, declared, keys), events, apply)

"""Part 7: the planner is a pure function of (graph, current versions, recorded provenance)."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core import AssetDef, AssetGraph, AssetInput, CauseKind, CurrentState, Head, plan, source_asset
from assets_core.definitions import SourceAsset


def _noop() -> None:
    return None


def node(key: str, *ups: str) -> AssetDef:
    return AssetDef(key=key, fn=_noop, inputs=tuple(AssetInput(u, u, None) for u in ups))


SRC = source_asset("raw", version=lambda: "1", read=lambda: 1)
# raw (source) -> orders -> revenue -> report ; orders -> features -> report ; lone
GRAPH = AssetGraph.build(
    [SRC, node("orders", "raw"), node("revenue", "orders"), node("features", "orders"),
     node("report", "revenue", "features"), node("lone")]
)  # fmt: skip
CODE = {k: f"code-{k}" for k in GRAPH.assets}


def built(graph: AssetGraph, code: dict[str, str], sources: dict[str, str | None]) -> dict[str, Head]:
    """Heads as if every asset had just been built from the current code and sources."""
    heads: dict[str, Head] = {}
    for i, key in enumerate(k for k in graph.order if k in code):
        inputs = {u: sources[u] if u in sources else heads[u].data_version for u in graph.upstream[key]}
        heads[key] = Head(i, f"data-{key}", code[key], {k: v for k, v in inputs.items() if v}, f"{key}/x.pkl", "r1")
    return heads


def state(**changes: object) -> CurrentState:
    sources: dict[str, str | None] = {"raw": "raw-1"}
    base = {"code_versions": CODE, "heads": built(GRAPH, CODE, sources), "source_versions": sources}
    return CurrentState(**{**base, **changes})  # type: ignore[arg-type]


def causes(p: object) -> dict[str, list[tuple[str, str | None]]]:
    return {s.key: [(c.kind.value, c.input) for c in s.causes] for s in p.statuses if s.causes}  # type: ignore[attr-defined]


def test_everything_fresh() -> None:
    result = plan(GRAPH, state())
    assert [s.label for s in result.statuses] == ["FRESH"] * 5
    assert result.stale == ()
    assert result.counts() == {"assets": 5, "fresh": 5, "stale": 0, "waiting": 0}
    assert {s.key: s.data_version for s in result.statuses}["orders"] == "data-orders"


def test_never_built() -> None:
    result = plan(GRAPH, state(heads={}))
    assert causes(result) == {
        "orders": [("MISSING", None)],
        "lone": [("MISSING", None)],
        "revenue": [("MISSING", None)],
        "features": [("MISSING", None)],
        "report": [("MISSING", None)],
    }
    assert result.statuses[0].causes[0].message == "never materialized"
    assert all(s.data_version is None for s in result.statuses)


def test_stored_output_gone() -> None:
    result = plan(GRAPH, state(missing_outputs={"revenue"}))
    assert causes(result) == {"revenue": [("MISSING", None)], "report": [("UPSTREAM", "revenue")]}
    assert result.stale[0].causes[0].message == "stored output is gone: revenue/x.pkl"


def test_code_change_names_old_and_new() -> None:
    result = plan(GRAPH, state(code_versions={**CODE, "features": "code-features-2"}))
    assert causes(result) == {"features": [("CODE", None)], "report": [("UPSTREAM", "features")]}
    cause = result.stale[0].causes[0]
    assert (cause.old, cause.new) == ("code-features", "code-features-2")
    assert cause.message == "code version changed: code-feature -> code-feature"  # 12-character short forms


def test_source_change_is_data_naming_the_input() -> None:
    result = plan(GRAPH, state(source_versions={"raw": "raw-2"}))
    assert causes(result) == {
        "orders": [("DATA", "raw")],
        "revenue": [("UPSTREAM", "orders")],
        "features": [("UPSTREAM", "orders")],
        "report": [("UPSTREAM", "revenue"), ("UPSTREAM", "features")],
    }
    cause = result.stale[0].causes[0]
    assert (cause.old, cause.new) == ("raw-1", "raw-2")
    assert cause.message == "source 'raw' changed: raw-1 -> raw-2"


def test_source_gone() -> None:
    result = plan(GRAPH, state(source_versions={"raw": None}))
    assert result.stale[0].key == "orders"
    assert result.stale[0].causes[0].message == "source 'raw' has no data now"


def test_upstream_rebuilt_elsewhere_is_data() -> None:
    heads = built(GRAPH, CODE, {"raw": "raw-1"})
    orders = heads["orders"]
    heads["orders"] = Head(99, "data-orders-2", orders.code_version, orders.input_versions, orders.location, "r2")
    result = plan(GRAPH, state(heads=heads))
    assert causes(result) == {
        "revenue": [("DATA", "orders")],
        "features": [("DATA", "orders")],
        "report": [("UPSTREAM", "revenue"), ("UPSTREAM", "features")],
    }
    assert result.stale[0].causes[0].message == "input 'orders' changed: data-orders -> data-orders-"  # short forms


def test_several_causes_at_once() -> None:
    result = plan(GRAPH, state(code_versions={**CODE, "orders": "c2", "report": "c3"}, source_versions={"raw": "r2"}))
    assert causes(result)["orders"] == [("CODE", None), ("DATA", "raw")]
    assert causes(result)["report"] == [("CODE", None), ("UPSTREAM", "revenue"), ("UPSTREAM", "features")]


def test_selection_limits_output_but_not_judgement() -> None:
    result = plan(GRAPH, state(code_versions={**CODE, "orders": "c2"}), selection={"report"})
    assert [s.key for s in result.statuses] == ["report"]
    assert causes(result) == {"report": [("UPSTREAM", "revenue"), ("UPSTREAM", "features")]}


def test_order_is_topological_and_deterministic() -> None:
    expected = [k for k in GRAPH.order if k in CODE]
    assert [s.key for s in plan(GRAPH, state()).statuses] == expected
    nodes = list(GRAPH.nodes.values())
    for seed in range(5):
        random.Random(seed).shuffle(nodes)
        assert [s.key for s in plan(AssetGraph.build(nodes), state()).statuses] == expected


def test_json_form_is_stable() -> None:
    result = plan(GRAPH, state(code_versions={**CODE, "features": "code-features-2"}), selection={"features"})
    assert result.to_json() == {
        "schema": "lakeplan.plan/v1",
        "counts": {"assets": 1, "stale": 1, "fresh": 0, "waiting": 0},
        "assets": [
            {
                "key": "features",
                "status": "STALE",
                "code_version": "code-features-2",
                "data_version": "data-features",
                "waiting_on": [],
                "causes": [
                    {
                        "kind": "CODE",
                        "message": "code version changed: code-feature -> code-feature",
                        "input": None,
                        "old": "code-features",
                        "new": "code-features-2",
                    }
                ],
            }
        ],
    }
    text = json.dumps(result.to_json(), sort_keys=True)
    assert text == json.dumps(
        plan(GRAPH, state(code_versions={**CODE, "features": "code-features-2"}), {"features"}).to_json(),
        sort_keys=True,
    )


def test_planner_does_no_io() -> None:
    """Source callables are never called by the planner: it only reads the state it is given."""
    calls: list[str] = []
    src = SourceAsset(key="raw", version=lambda: calls.append("v") or "x", read=lambda: calls.append("r"))
    graph = AssetGraph.build([src, node("orders", "raw")])
    plan(graph, CurrentState({"orders": "c"}, {}, {"raw": "s"}))
    assert calls == []


# -- generated graphs ---------------------------------------------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AssetGraph, str]:
    size = draw(st.integers(1, 30))
    keys = [f"n{i:02d}" for i in range(size)]
    nodes = [
        node(k, *draw(st.lists(st.sampled_from(keys[:i]), unique=True, max_size=3)) if i else ())
        for i, k in enumerate(keys)
    ]
    return AssetGraph.build(nodes), draw(st.sampled_from(keys))


@settings(max_examples=80, deadline=None)
@given(scenarios())
def test_a_code_change_makes_exactly_the_asset_and_its_descendants_stale(scenario: tuple[AssetGraph, str]) -> None:
    graph, changed = scenario
    code = {k: f"c-{k}" for k in graph.assets}
    heads = built(graph, code, {})
    assert plan(graph, CurrentState(code, heads, {})).stale == ()
    result = plan(graph, CurrentState({**code, changed: "new"}, heads, {}))
    stale = {s.key: s for s in result.stale}
    assert set(stale) == {changed} | graph.descendants([changed])
    assert [c.kind for c in stale[changed].causes] == [CauseKind.CODE]
    for key, status in stale.items():
        if key != changed:
            assert status.only_upstream
            assert {c.input for c in status.causes} == {u for u in graph.upstream[key] if u in stale}
    assert [s.key for s in result.statuses] == list(graph.order)


@settings(max_examples=50, deadline=None)
@given(scenarios())
def test_nothing_built_makes_everything_missing(scenario: tuple[AssetGraph, str]) -> None:
    graph, _ = scenario
    code = {k: "c" for k in graph.assets}
    result = plan(graph, CurrentState(code, {}, {}))
    assert all([c.kind for c in s.causes] == [CauseKind.MISSING] for s in result.statuses)
    assert result.counts() == {"assets": len(code), "stale": len(code), "fresh": 0, "waiting": 0}

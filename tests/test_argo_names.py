"""Names Argo can run: task names that are identifiers in the ``depends`` language for any key, object names
that never collide, and the checks that catch a collision or a DAG Argo refuses."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argo_compiler import ArgoConfig, Run, Target, depends, problems, split_workflow, task_name, workflow
from argo_compiler.names import EXPR_RESERVED, resource_name
from assets_core.definitions import AssetDef, AssetInput
from assets_core.graph import AssetGraph
from assets_core.keys import key_problem

CONFIG = ArgoConfig(image="img:1")
WORDS = sorted(w for w in EXPR_RESERVED if w.islower())  # asset keys are lowercase-able identifiers


def _noop() -> int:
    return 0


def _chain(keys: list[str]) -> AssetGraph:
    return AssetGraph.build(
        [AssetDef(k, _noop, (AssetInput("up", keys[i - 1], None),) if i else ()) for i, k in enumerate(keys)]
    )


@pytest.mark.parametrize("key", WORDS)
def test_keys_that_are_expr_words_get_task_names_argo_can_evaluate(key: str) -> None:
    """A task called ``in`` turns ``depends: in`` into an expr syntax error at run time (dag.go)."""
    name = task_name(key)
    assert depends.names(f"{name} && other") == [name, "other"]
    graph = _chain(["first", key, "last"])
    doc = workflow(Target(graph, "m", CONFIG), Run.of(graph, graph.assets, gated=True))
    assert problems([doc]) == []


@given(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), unique=True, max_size=12))
def test_any_keys_give_depends_that_parse(keys: list[str]) -> None:
    keys = [k for k in keys if key_problem(k) is None]
    assert depends.names(" && ".join(task_name(k) for k in keys)) == [task_name(k) for k in keys]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("a &&", "ends too early"),
        ("(a || b", "ends too early"),
        ("(a || b))", r"unexpected '\)'"),
        ("a.Bogus", "task result 'Bogus' for task 'a' is invalid"),
        ("in && a", "not an identifier"),
        ("a-nil || x", None),  # a_nil is one identifier
        ("nil", "not an identifier"),
        ("9lives", "not an identifier"),
        ("a b", "unexpected 'b'"),
    ],
)
def test_depends_grammar_rejects_what_argo_rejects(expression: str, message: str | None) -> None:
    if message is None:
        assert depends.names(expression) == ["a-nil", "x"]
        return
    with pytest.raises(ValueError, match=message):
        depends.parse(expression)


@pytest.mark.parametrize(
    "expression, phases, expected",
    [
        ("a", {"a": "Skipped"}, True),  # a bare name: Succeeded, Skipped or Daemoned
        ("a", {"a": "Omitted"}, False),
        ("a && b", {"a": "Succeeded", "b": "Failed"}, False),
        ("a.Failed || b", {"a": "Succeeded", "b": "Succeeded"}, True),
        ("a || b && c", {"a": "Succeeded", "b": "Failed", "c": "Failed"}, True),  # && binds tighter
        ("!(a || b) && c", {"a": "Failed", "b": "Failed", "c": "Succeeded"}, True),
        ("a.Errored", {"a": "Error"}, True),
    ],
)
def test_depends_evaluates_like_the_controller(expression: str, phases: dict[str, str], expected: bool) -> None:
    assert depends.holds(expression, phases) is expected


def test_object_names_never_collide() -> None:
    long = "a-very-long-project-name-that-fills-most-of-the-limit-x"
    assert resource_name("nightly-run") == "nightly-run"
    names = {resource_name(t) for t in ("nightly_run", "nightly-run", "Nightly-Run", long + "1", long + "2")}
    assert len(names) == 5 and all(len(n) <= 52 for n in names)


def test_split_parts_of_a_long_base_name_are_distinct() -> None:
    keys = [f"k{i}" for i in range(6)]
    config = ArgoConfig(image="img:1", name="p" * 60)
    docs = split_workflow(Target(_chain(keys), "m", config), Run.of(_chain(keys), keys), 2)
    names = [d["metadata"]["name"] for d in docs[:-1]]
    assert len(set(names)) == 3 and problems(docs) == []


def test_checks_catch_an_object_name_collision_and_an_empty_dag() -> None:
    keys = [f"k{i}" for i in range(4)]
    docs = split_workflow(Target(_chain(keys), "m", CONFIG), Run.of(_chain(keys), keys), 2)
    clash = copy.deepcopy(docs)
    clash[1]["metadata"]["name"] = clash[0]["metadata"]["name"]
    assert any("the same name as manifest 1" in p for p in problems(clash))
    empty = workflow(Target(_chain(keys), "m", CONFIG), Run.of(_chain(keys), keys))
    empty["spec"]["templates"][0]["dag"]["tasks"] = []
    assert any("must have at least one task" in p for p in problems([empty]))

"""Part 2: declaring assets and sources; every declaration mistake is a DefinitionError at declaration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assets_core import AssetDef, DefinitionError, Resources, SourceAsset, asset, source_asset
from assets_core.keys import MAX_KEY_LENGTH, key_problem


def test_bare_decorator_reads_parameters_as_upstreams() -> None:
    @asset
    def revenue(orders: pd.DataFrame, customers) -> int:  # type: ignore[no-untyped-def]
        """Total revenue."""
        return 1

    assert isinstance(revenue, AssetDef)
    assert revenue.key == "revenue"
    assert [(i.param, i.key, i.annotation) for i in revenue.inputs] == [
        ("orders", "orders", pd.DataFrame),
        ("customers", "customers", None),
    ]
    assert revenue.upstream_keys == ("orders", "customers")
    assert revenue.description == "Total revenue."
    assert revenue.return_annotation is int
    assert (revenue.group, revenue.io_manager, revenue.retries, revenue.code_version) == ("default", "auto", 0, None)
    assert revenue(pd.DataFrame(), None) == 1  # still callable as the plain function


def test_every_option_is_recorded() -> None:
    @asset(
        name="reports/daily",
        group="reporting",
        description="Daily numbers",
        code_version="7",
        io_manager="json",
        metadata={"owner": "data-team"},
        resources={"cpu": "500m", "memory": "2Gi", "gpu": 1},
        retries=3,
        image="ghcr.io/acme/job:1",
        node_selector={"pool": "cpu"},
        tolerations=[{"key": "spot", "operator": "Exists"}],
    )
    def daily() -> dict[str, int]:
        return {}

    assert daily.key == "reports/daily"
    assert daily.group == "reporting"
    assert daily.description == "Daily numbers"
    assert daily.code_version == "7"
    assert daily.io_manager == "json"
    assert dict(daily.metadata) == {"owner": "data-team"}
    assert daily.resources == Resources(cpu="500m", memory="2Gi", gpu=1)
    assert daily.resources.as_dict() == {"cpu": "500m", "memory": "2Gi", "gpu": 1}
    assert daily.retries == 3
    assert daily.image == "ghcr.io/acme/job:1"
    assert dict(daily.node_selector) == {"pool": "cpu"}
    assert [dict(t) for t in daily.tolerations] == [{"key": "spot", "operator": "Exists"}]


def test_numeric_resources_become_strings() -> None:
    @asset(resources={"cpu": 2, "memory": 0.5})
    def a() -> int:
        return 1

    assert a.resources == Resources(cpu="2", memory="0.5")


def test_deps_are_order_only_upstreams_by_name_or_object() -> None:
    raw = source_asset("raw", version=lambda: "1", read=lambda: 1)

    @asset
    def first() -> int:
        return 1

    @asset(deps=[first, raw, "other/thing", "first"])
    def second(first: int) -> int:
        return first

    assert second.deps == (first.key, "raw", "other/thing", "first")
    assert [i.key for i in second.inputs] == ["first"]
    assert second.upstream_keys == ("first", "raw", "other/thing")  # no repeats, data inputs first


def test_ins_renames_a_parameter_to_another_key() -> None:
    @asset(ins={"df": "raw/orders"})
    def cleaned(df: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
        return df

    assert [(i.param, i.key) for i in cleaned.inputs] == [("df", "raw/orders"), ("customers", "customers")]


def test_string_annotations_are_resolved() -> None:
    # This module uses ``from __future__ import annotations``: annotations arrive as strings.
    @asset
    def t(x: pd.DataFrame) -> pd.DataFrame:
        return x

    assert t.inputs[0].annotation is pd.DataFrame
    assert t.return_annotation is pd.DataFrame


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be a whole number from 0 to 100"),
        ({"retries": 101}, "retries must be a whole number from 0 to 100"),
        ({"retries": 1.5}, "retries must be a whole number"),
        ({"retries": True}, "retries must be a whole number"),
        ({"retries": "2"}, "retries must be a whole number"),
        ({"resources": {"cpus": "1"}}, "unknown resource 'cpus'; use cpu, memory, gpu"),
        ({"resources": ["cpu", "1"]}, "resources must be a dict"),
        ({"resources": {"cpu": [1]}}, "resources['cpu'] must be a string"),
        ({"resources": {"memory": True}}, "resources['memory'] must be a string"),
        ({"resources": {"cpu": float("inf")}}, "resources['cpu'] must be finite"),
        ({"resources": {"gpu": -1}}, "resources['gpu'] must be a whole number"),
        ({"resources": {"gpu": "1"}}, "resources['gpu'] must be a whole number"),
        ({"io_manager": "my-store"}, "io_manager must be one of auto, parquet, json, pickle or the name of an IO"),
        ({"group": ""}, "group must be a non-empty string"),
        ({"group": "my group"}, "invalid asset key 'my group'"),
        ({"code_version": "  "}, "code_version must be a non-empty string"),
        ({"code_version": 3}, "code_version must be a non-empty string"),
        ({"image": ""}, "image must be a non-empty string"),
        ({"metadata": ["a"]}, "metadata must be a dict with string keys"),
        ({"metadata": {1: "a"}}, "metadata must be a dict with string keys"),
        ({"node_selector": "pool=cpu"}, "node_selector must be a dict"),
        ({"tolerations": {"key": "x"}}, "tolerations must be a list of dicts"),
        ({"deps": "orders"}, "deps= must be a list of asset names"),
        ({"deps": ["../up"]}, "invalid asset key '../up'"),
        ({"ins": {"nope": "orders"}}, "ins= names 'nope', which is not a parameter"),
        ({"ins": {"x": "a/../b"}}, "invalid asset key 'a/../b'"),
    ],
)
def test_bad_options_are_refused_at_declaration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=None) as caught:

        @asset(**options)
        def thing(x: int) -> int:
            return x

    assert message in str(caught.value)
    assert "thing" in str(caught.value)  # names the function at fault
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "key",
    [
        "..",
        "a/../b",
        "../escape",
        "/abs",
        "trailing/",
        "a//b",
        "with space",
        "nul\x00byte",
        "café",
        "ключ",
        "a.b",
        "a\\b",
        "1starts_with_digit",
        "",
        "x" * (MAX_KEY_LENGTH + 1),
        "line\n",
    ],
)
def test_invalid_keys_are_refused(key: str) -> None:
    assert key_problem(key) is not None
    with pytest.raises(DefinitionError) as caught:

        @asset(name=key)
        def thing() -> int:
            return 1

    assert "\n" not in str(caught.value)
    with pytest.raises(DefinitionError):
        source_asset(key, version=lambda: "1", read=lambda: 1)


def test_too_long_key_names_the_limit() -> None:
    problem = key_problem("k" * 500)
    assert problem is not None and str(MAX_KEY_LENGTH) in problem and "500" in problem


@pytest.mark.parametrize("key", ["a", "raw/orders", "_x/y_1/Z", "k" * MAX_KEY_LENGTH])
def test_valid_keys_pass(key: str) -> None:
    assert key_problem(key) is None


def test_non_string_key_is_refused() -> None:
    assert key_problem(3) == "asset key must be a string, got int"


def test_non_ascii_function_name_asks_for_name() -> None:
    with pytest.raises(DefinitionError, match="pass name="):

        @asset
        def café() -> int:
            return 1

    @asset(name="cafe")
    def café2() -> int:
        return 1

    assert café2.key == "cafe"


def test_signature_shapes_that_cannot_name_upstreams() -> None:
    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs"):

        @asset
        def star(*rows: int) -> int:
            return 0

    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs"):

        @asset
        def kw(**rows: int) -> int:
            return 0

    with pytest.raises(DefinitionError, match="positional-only"):

        @asset
        def pos(a: int, /) -> int:
            return a


def test_decorating_something_else_is_refused() -> None:
    with pytest.raises(DefinitionError, match="decorates a plain function"):
        asset("orders")  # type: ignore[call-overload]

    @asset
    def a() -> int:
        return 1

    with pytest.raises(DefinitionError, match="decorates a plain function"):
        asset(a)  # type: ignore[call-overload]

    with pytest.raises(DefinitionError, match="decorates a plain function"):
        asset(int)  # type: ignore[call-overload]


def test_source_asset_resolves_relative_paths_against_the_declaring_module() -> None:
    src = source_asset("orders_csv", path="data/orders.csv", description="raw", metadata={"owner": "shop"})
    assert isinstance(src, SourceAsset)
    assert src.path == Path(__file__).resolve().parent / "data" / "orders.csv"
    assert (src.group, src.description, dict(src.metadata)) == ("sources", "raw", {"owner": "shop"})
    absolute = source_asset("abs", path="/srv/data.csv", group="ext")
    assert absolute.path == Path("/srv/data.csv") and absolute.group == "ext"


def test_source_asset_with_its_own_version_and_reader() -> None:
    src = source_asset("api", version=lambda: "v9", read=lambda: [1, 2])
    assert src.path is None
    assert src.version is not None and src.version() == "v9"
    assert src.read is not None and src.read() == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give path="),
        ({"version": lambda: "1"}, "give path="),
        ({"path": "x.csv", "version": "v1"}, "version= must be a callable"),
        ({"path": "x.csv", "read": 3}, "read= must be a callable"),
        ({"path": ""}, "path must be a non-empty string"),
        ({"path": 12}, "path must be a non-empty string"),
        ({"path": "x.csv", "group": "bad group"}, "invalid asset key"),
        ({"path": "x.csv", "metadata": "m"}, "metadata must be a dict"),
    ],
)
def test_source_asset_mistakes(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        source_asset("src", **kwargs)
    assert message in str(caught.value) and "source_asset('src')" in str(caught.value)


def test_definitions_object_limits_what_is_loaded(sqlite_project: Any) -> None:
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import Definitions, asset

        @asset
        def kept() -> int:
            return 1

        @asset
        def ignored() -> int:
            return 2

        defs = Definitions(assets=[kept])
        """,
    )
    assert set(sqlite_project.workspace().graph.nodes) == {"kept"}


def test_loading_by_file_path(sqlite_project: Any) -> None:
    path = sqlite_project.write(
        "pipeline",
        """
        from assets_core import asset

        @asset
        def one() -> int:
            return 1

        @asset
        def two(one: int) -> int:
            return one + 1
        """,
    )
    from assets_core.workspace import Workspace

    ws = Workspace.load(str(path.relative_to(sqlite_project.root)), sqlite_project.settings())
    assert ws.graph.order == ("one", "two")

"""Partition definitions and mappings (issue 14, part 1): keys, time zones, DST, windows, fan-in, two
dimensions, custom mappings, and declaration errors that name the fix."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from assets_core.errors import DefinitionError
from assets_core.partitions import (
    AllPartitions,
    CustomMapping,
    Identity,
    Window,
    daily_partitions,
    hourly_partitions,
    monthly_partitions,
    multi_partitions,
    partition_key_problem,
    static_partitions,
)

UTC = dt.UTC


def at(text: str, zone: str = "UTC") -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


def test_daily_keys_are_the_days_that_have_ended() -> None:
    days = daily_partitions("2026-01-01")
    assert days.keys(at("2026-01-04T00:00")) == ("2026-01-01", "2026-01-02", "2026-01-03")
    assert days.keys(at("2026-01-04T23:59")) == ("2026-01-01", "2026-01-02", "2026-01-03")  # today is not over
    assert days.keys(at("2025-12-31T12:00")) == ()
    assert days.key_at(at("2026-03-02T17:30")) == "2026-03-02"


def test_end_is_exclusive_and_caps_the_keys() -> None:
    days = daily_partitions("2026-01-01", end="2026-01-03")
    assert days.keys(at("2030-01-01T00:00")) == ("2026-01-01", "2026-01-02")


def test_days_follow_the_timezone_wall_clock_across_dst() -> None:
    days = daily_partitions("2026-03-28", timezone="Europe/Berlin")
    periods = list(days.periods(at("2026-03-31T00:00", "Europe/Berlin")))
    assert [k for k, _, _ in periods] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    lengths = [(end.astimezone(UTC) - start.astimezone(UTC)).total_seconds() / 3600 for _, start, end in periods]
    assert lengths == [24, 23, 24]  # clocks went forward on 29 March
    # 23:30 UTC on 28 March is already 29 March in Berlin
    assert days.key_at(dt.datetime(2026, 3, 28, 23, 30, tzinfo=UTC)) == "2026-03-29"


def test_hourly_keys_name_the_repeated_hour_with_its_offset() -> None:
    hours = hourly_partitions("2026-10-25T01:00", timezone="Europe/Berlin")
    keys = hours.keys(at("2026-10-25T04:00", "Europe/Berlin"))
    assert keys == (
        "2026-10-25T01:00",
        "2026-10-25T02:00+02:00",
        "2026-10-25T02:00+01:00",
        "2026-10-25T03:00",
    )
    assert len(set(keys)) == len(keys)


def test_monthly_keys() -> None:
    months = monthly_partitions("2025-11-01")
    assert months.keys(at("2026-02-15T00:00")) == ("2025-11", "2025-12", "2026-01")


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: daily_partitions("2026-01-01T05:00"), "start must be the beginning of a daily period"),
        (lambda: daily_partitions("yesterday"), "start must be an ISO date"),
        (lambda: daily_partitions("2026-01-01", timezone="Mars/Base"), "unknown timezone 'Mars/Base'"),
        (lambda: daily_partitions("2026-01-02", end="2026-01-01"), "must be after start"),
        (lambda: monthly_partitions("2026-01-15"), "beginning of a monthly period"),
        (lambda: static_partitions([]), "non-empty list"),
        (lambda: static_partitions("DE"), "non-empty list"),
        (lambda: static_partitions(["DE", "DE"]), "duplicate keys 'DE'"),
        (lambda: static_partitions(["../etc"]), "invalid partition key"),
        (lambda: multi_partitions(a=static_partitions(["x"])), "exactly two named dimensions"),
    ],
)
def test_declaration_errors_name_the_fix(declare: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        declare()  # type: ignore[operator]


def test_partition_keys_are_one_safe_path_segment() -> None:
    assert partition_key_problem("2026-10-25T02:00+01:00") is None
    for bad in ("", ".hidden", "a/b", "a|b", "x" * 101, "é"):
        assert partition_key_problem(bad) is not None


NOW = at("2026-01-11T00:00")
DAYS = daily_partitions("2026-01-01")
REGIONS = static_partitions(["DE", "FR"])
GRID = multi_partitions(date=DAYS, region=REGIONS)


def test_identity_window_and_all() -> None:
    assert Identity().upstream_keys("2026-01-05", DAYS, DAYS, NOW) == ("2026-01-05",)
    assert Window(3).upstream_keys("2026-01-05", DAYS, DAYS, NOW) == ("2026-01-03", "2026-01-04", "2026-01-05")
    assert Window(7).upstream_keys("2026-01-02", DAYS, DAYS, NOW) == ("2026-01-01", "2026-01-02")  # clipped
    assert AllPartitions().upstream_keys("2026-01-05", DAYS, DAYS, NOW) == DAYS.keys(NOW)
    assert Identity().upstream_keys(None, None, DAYS, NOW) == DAYS.keys(NOW)  # unpartitioned reads all


def test_two_dimensions_map_to_and_from_one_of_them() -> None:
    assert GRID.keys(NOW)[:3] == ("2026-01-01|DE", "2026-01-01|FR", "2026-01-02|DE")
    assert Identity().upstream_keys("2026-01-02|FR", GRID, DAYS, NOW) == ("2026-01-02",)
    assert Identity().upstream_keys("FR", REGIONS, GRID, NOW) == tuple(f"{d}|FR" for d in DAYS.keys(NOW))
    with pytest.raises(DefinitionError, match="deps_window=, deps_all= or deps_mapping="):
        Identity().upstream_keys("2026-01", monthly_partitions("2026-01-01"), DAYS, NOW)


def test_custom_mapping_must_name_existing_partitions() -> None:
    def previous_day(key: str) -> list[str]:
        day = dt.date.fromisoformat(key)
        return [(day - dt.timedelta(days=1)).isoformat()]

    mapping = CustomMapping(previous_day)
    assert mapping.upstream_keys("2026-01-05", DAYS, DAYS, NOW) == ("2026-01-04",)
    with pytest.raises(DefinitionError, match="maps partition '2026-01-01' to '2025-12-31'"):
        mapping.upstream_keys("2026-01-01", DAYS, DAYS, NOW)


def test_a_year_of_days_is_cheap_to_map() -> None:
    year = daily_partitions("2025-01-01")
    now = at("2026-01-01T00:00")
    keys = year.keys(now)
    assert len(keys) == 365
    windows = [Window(7).upstream_keys(k, year, year, now) for k in keys]
    assert windows[-1] == keys[-7:] and windows[0] == keys[:1]


# ---------------------------------------------------------------------------------------------- the partition graph

from assets_core import AssetGraph, CurrentState, Head, asset, plan, source_asset  # noqa: E402
from assets_core.partition_graph import Instance, expand, instance_key  # noqa: E402
from assets_core.partitions import all_partitions, window  # noqa: E402

TEN_DAYS = at("2026-01-11T00:00")


def _pipeline() -> AssetGraph:
    events = source_asset("events", path="data/{partition}.csv", partitions=DAYS)

    @asset(partitions=DAYS)
    def clean_events(events: list) -> list:
        return events

    @asset(partitions=DAYS, partition_mapping={"clean_events": window(7)})
    def rolling_7d(clean_events: list) -> list:
        return clean_events

    @asset
    def model(rolling_7d: dict) -> int:
        return len(rolling_7d)

    @asset(partitions=GRID)
    def by_region(clean_events: list) -> list:
        return clean_events

    @asset(partitions=REGIONS, partition_mapping={"by_region": all_partitions()})
    def region_total(by_region: list) -> int:
        return len(by_region)

    return AssetGraph.build([events, clean_events, rolling_7d, model, by_region, region_total])


def test_expand_gives_one_node_per_partition_with_the_mapped_edges() -> None:
    expanded = expand(_pipeline(), TEN_DAYS)
    graph, up = expanded.graph, expanded.graph.upstream
    day = "2026-01-05"
    assert up[f"clean_events/partition={day}"] == (f"events/partition={day}",)
    assert up[f"rolling_7d/partition={day}"] == tuple(f"clean_events/partition=2026-01-0{d}" for d in range(1, 6))
    assert len(up["model"]) == 10 and up["model"][-1] == "rolling_7d/partition=2026-01-10"
    assert up[f"by_region/date={day}/region=FR"] == (f"clean_events/partition={day}",)
    assert len(up["region_total/partition=FR"]) == 20  # all_partitions(): every (day, region)
    assert expanded.instances[f"by_region/date={day}/region=DE"] == Instance("by_region", f"{day}|DE")
    assert instance_key("model", None, None) == "model"
    order = {k: i for i, k in enumerate(graph.order)}
    assert all(order[u] < order[k] for k, ups in up.items() for u in ups)  # topological
    assert len(graph.order) == 3 * 10 + 1 + 20 + 2  # events, clean_events, rolling_7d; model; grid; regions


def _built(expanded_graph: AssetGraph, sources: dict[str, str]) -> tuple[dict[str, str], dict[str, Head]]:
    code = {k: f"code-{expanded_graph.nodes[k].key}" for k in expanded_graph.order if k not in sources}
    heads: dict[str, Head] = {}
    for i, key in enumerate(k for k in expanded_graph.order if k in code):
        inputs = {u: sources[u] if u in sources else heads[u].data_version for u in expanded_graph.upstream[key]}
        heads[key] = Head(i, f"data-{key}", code[key], inputs, f"{key}/x.json", "r1")
    return code, heads


def test_a_changed_source_day_makes_exactly_its_cone_stale() -> None:
    expanded = expand(_pipeline(), TEN_DAYS).graph
    sources = {k: "v1" for k in expanded.order if k.startswith("events/")}
    code, heads = _built(expanded, sources)
    assert plan(expanded, CurrentState(code, heads, sources)).stale == ()

    changed = {**sources, "events/partition=2026-01-05": "v2"}
    stale = {s.key for s in plan(expanded, CurrentState(code, heads, changed)).stale}
    days_after = [f"2026-01-{d:02d}" for d in range(5, 11)]  # the 7-day windows that hold the 5th
    assert stale == {
        "clean_events/partition=2026-01-05",
        *(f"rolling_7d/partition={d}" for d in days_after),
        "model",
        "by_region/date=2026-01-05/region=DE",
        "by_region/date=2026-01-05/region=FR",
        "region_total/partition=DE",
        "region_total/partition=FR",
    }


def test_new_days_appear_as_never_materialized_partitions() -> None:
    expanded = expand(_pipeline(), TEN_DAYS).graph
    sources = {k: "v1" for k in expanded.order if k.startswith("events/")}
    code, heads = _built(expanded, sources)
    tomorrow = expand(_pipeline(), at("2026-01-12T00:00")).graph
    sources["events/partition=2026-01-11"] = "v1"
    code.update({k: f"code-{tomorrow.nodes[k].key}" for k in tomorrow.order if k not in sources})
    result = plan(tomorrow, CurrentState(code, heads, sources))
    missing = {s.key for s in result.stale if s.causes[0].kind.value == "MISSING"}
    assert "clean_events/partition=2026-01-11" in missing and "rolling_7d/partition=2026-01-11" in missing
    assert "rolling_7d/partition=2026-01-10" not in {s.key for s in result.stale}


def test_partition_options_are_checked_where_declared() -> None:
    with pytest.raises(DefinitionError, match="partition_mapping= names 'orders', which is not an upstream"):

        @asset(partitions=DAYS, partition_mapping={"orders": window(2)})
        def a(events: list) -> list:
            return events

    with pytest.raises(DefinitionError, match=re.escape("names its partition, e.g. 'events/{partition}.csv'")):
        source_asset("events", path="events.csv", partitions=DAYS)
    with pytest.raises(DefinitionError, match="has no partitions="):
        source_asset("events", path="events/{partition}.csv")
    with pytest.raises(DefinitionError, match="window\\(size\\) takes a whole number"):
        window(0)
    with pytest.raises(DefinitionError, match="partitions= takes daily_partitions"):

        @asset(partitions="daily")  # type: ignore[arg-type]
        def b() -> int:
            return 1

    with pytest.raises(DefinitionError, match="a partitioned source is read from files"):
        source_asset("events", version=lambda: "1", read=lambda: [], partitions=DAYS)


# ---------------------------------------------------------------------------------------------- inputs and summaries

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pyarrow as pa  # noqa: E402

from assets_core.errors import StepFailed  # noqa: E402
from assets_core.partition_inputs import combine, part_annotation  # noqa: E402
from assets_core.partition_summary import runs  # noqa: E402


def test_several_partitions_are_a_dict_or_one_concatenated_value_by_annotation() -> None:
    frames = {"2026-01-01": pd.DataFrame({"n": [1]}), "2026-01-02": pd.DataFrame({"n": [2, 3]})}
    assert list(combine("x", frames, pd.DataFrame)["n"]) == [1, 2, 3]
    assert combine("x", frames, dict[str, pd.DataFrame]) == frames
    assert part_annotation(dict[str, pd.DataFrame]) is pd.DataFrame and part_annotation(pd.DataFrame) is pd.DataFrame
    polars = {k: pl.from_pandas(v) for k, v in frames.items()}
    assert combine("x", polars, pl.DataFrame)["n"].to_list() == [1, 2, 3]
    arrow = {k: pa.Table.from_pandas(v) for k, v in frames.items()}
    assert combine("x", arrow, pa.Table).column("n").to_pylist() == [1, 2, 3]
    assert combine("x", {"a": [1], "b": [2, 3]}, list) == [1, 2, 3]
    with pytest.raises(StepFailed, match="annotate it dict\\[str, T\\] to receive them by partition key"):
        combine("x", {"a": 1, "b": 2}, int)


def test_stale_keys_are_shown_as_runs_of_consecutive_partitions() -> None:
    order = {f"2026-01-0{d}": d for d in range(1, 10)}
    assert runs(["2026-01-05", "2026-01-01", "2026-01-02", "2026-01-03", "2026-01-09"], order) == (
        "2026-01-01..2026-01-03",
        "2026-01-05",
        "2026-01-09",
    )
    assert runs([], order) == ()

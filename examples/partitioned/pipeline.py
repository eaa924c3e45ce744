"""Partitioned: one CSV of events per day -> cleaned events per day -> a 7-day rolling summary per day
-> one model over every day's summary.

    lakeplan materialize -m examples.partitioned.pipeline
    lakeplan plan -m examples.partitioned.pipeline
    lakeplan materialize -m examples.partitioned.pipeline --partition 2026-01-05
    lakeplan materialize -m examples.partitioned.pipeline --from 2026-01-03 --to 2026-01-09 --select clean_events+

Edit one day's file under data/events/ and plan again: only that day's cone is stale (its cleaned events,
the 7 rolling summaries whose window holds it, and the model). The blocking check no_negative_amounts runs
on each day's cleaned events: lakeplan check -m examples.partitioned.pipeline clean_events
"""

from __future__ import annotations

import pandas as pd

from assets_core import (
    CheckResult,
    add_metadata,
    all_partitions,
    asset,
    asset_check,
    daily_partitions,
    partition_key,
    source_asset,
    window,
)

days = daily_partitions("2026-01-01", end="2026-01-15", timezone="UTC")  # 14 days, 2026-01-01..2026-01-14

events = source_asset(
    "events", path="data/events/{partition}.csv", partitions=days, description="Raw events, a file a day"
)


@asset(partitions=days, group="clean")
def clean_events(events: pd.DataFrame) -> pd.DataFrame:
    """The day's known events, one row per event id, tagged with the day."""
    known = events[events["kind"].isin(["view", "click", "purchase"])].drop_duplicates("event_id")
    return known.assign(day=partition_key()).sort_values("event_id").reset_index(drop=True)


@asset_check(asset="clean_events", blocking=True)
def no_negative_amounts(clean_events: pd.DataFrame) -> CheckResult:
    """Runs on each day's cleaned events; a day with a negative amount is not made current, so the rolling
    summaries that read it (and the model) wait, while every other day goes on."""
    negative = int((clean_events["amount"] < 0).sum())
    return CheckResult(passed=negative == 0, metadata={"negative_rows": negative, "rows": len(clean_events)})


@asset(partitions=days, partition_mapping={"clean_events": window(7)}, group="features")
def rolling_7d(clean_events: pd.DataFrame) -> pd.DataFrame:
    """Per user, the last 7 days' events and purchase total, as of this day (one table of up to 7 days)."""
    summary = (
        clean_events.groupby("user_id")
        .agg(events=("event_id", "count"), spent=("amount", "sum"), days=("day", "nunique"))
        .reset_index()
    )
    return summary.assign(as_of=partition_key(), spent=summary["spent"].round(2))


@asset(partition_mapping={"rolling_7d": all_partitions()}, group="model")
def model(rolling_7d: dict[str, pd.DataFrame]) -> dict[str, float]:
    """Average 7-day spend per active user, day by day, and its trend (each day's summary by key)."""
    per_day = {day: float(frame["spent"].mean()) for day, frame in rolling_7d.items()}
    first, last = per_day[min(per_day)], per_day[max(per_day)]
    add_metadata(days=len(per_day))
    return {
        "days": float(len(per_day)),
        "mean_spend": round(sum(per_day.values()) / len(per_day), 2),
        "trend": round(last - first, 2),
    }

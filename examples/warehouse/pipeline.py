"""Revenue per day as a PostgreSQL table other tools can query, next to files in lakeplan's own storage.

Run it (docs/io_managers.md): the warehouse URL is a secret, so it comes from the environment only.

    WAREHOUSE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \
        lakeplan materialize -m examples.warehouse.pipeline
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from assets_core import asset, resource, source_asset
from io_managers import PostgresTableIOManager

orders_csv = source_asset("orders_csv", path="../quickstart/data/orders.csv")


@resource(config={"schema": "public"}, secrets={"url": "WAREHOUSE_URL"})
def warehouse(config: Mapping[str, Any]) -> PostgresTableIOManager:
    """Tables in the warehouse database: [tool.lakeplan.resources.warehouse] schema = "..." picks the schema."""
    return PostgresTableIOManager(config["url"], schema=config["schema"])


@resource(config={"currency": "EUR", "min_amount": 0.0}, versioned=True)
def reporting(config: Mapping[str, Any]) -> dict[str, Any]:
    """Reporting rules; versioned, so changing them rebuilds the assets that use them."""
    return {"currency": config["currency"], "min_amount": float(config["min_amount"])}


@asset(io_manager="warehouse")
def revenue_by_day(orders_csv: pd.DataFrame, reporting: dict[str, Any]) -> pd.DataFrame:
    """Completed revenue per order date (``reporting`` is a resource, not an upstream asset)."""
    done = orders_csv[(orders_csv.status == "complete") & (orders_csv.amount >= reporting["min_amount"])]
    daily = done.groupby("order_date", as_index=False)["amount"].sum().rename(columns={"amount": "revenue"})
    return daily.assign(currency=reporting["currency"])


@asset
def best_day(revenue_by_day: pd.DataFrame) -> dict[str, Any]:
    """Read back from the table version ``revenue_by_day`` recorded (a pinned read), stored as JSON."""
    top = revenue_by_day.sort_values(["revenue", "order_date"], ascending=[False, True]).iloc[0]
    return {"day": str(top.order_date), "revenue": round(float(top.revenue), 2), "currency": str(top.currency)}

"""Quickstart: raw orders CSV -> cleaned orders (checked: plausible amounts) -> daily revenue and
customer features -> churn model -> evaluation report.

    lakeplan plan -m examples.quickstart.pipeline
    lakeplan materialize -m examples.quickstart.pipeline
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from assets_core import CheckResult, add_metadata, asset, asset_check, schedule, source_asset

from .features import CUTOFF, LogisticModel, recency_days, roc_auc, train_logistic

orders_csv = source_asset("orders_csv", path="data/orders.csv", description="Raw order export from the shop")


@asset(group="clean")
def orders(orders_csv: pd.DataFrame) -> pd.DataFrame:
    """Completed orders with valid dates and amounts, one row per order id."""
    df = orders_csv.drop_duplicates("order_id")
    df = df[df["status"] == "complete"].copy()
    df["order_date"] = pd.to_datetime(df["order_date"], errors="coerce")
    df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
    df = df.dropna(subset=["order_date", "amount"])
    return df[df["amount"] > 0].sort_values("order_id").reset_index(drop=True)


@asset_check(asset="orders", blocking=True)
def orders_have_plausible_amounts(orders: pd.DataFrame) -> CheckResult:
    """No order above 1,000 (a typo in the export, such as a missing decimal point): revenue and the model's
    spend features would be skewed by one, so a failure keeps the new orders from becoming current."""
    implausible = int((orders["amount"] > 1000).sum())
    return CheckResult(passed=implausible == 0, metadata={"implausible_rows": implausible, "rows": len(orders)})


@asset(group="reporting", code_version="2", retries=2, resources={"cpu": "1", "memory": "2Gi"})
def daily_revenue(orders: pd.DataFrame) -> pl.DataFrame:
    """Revenue and order count per day."""
    return (
        pl.from_pandas(orders)
        .group_by(pl.col("order_date").dt.date().alias("day"))
        .agg(pl.col("amount").sum().round(2).alias("revenue"), pl.len().alias("orders"))
        .sort("day")
    )


@asset(group="features")
def customer_features(orders: pl.DataFrame) -> pl.DataFrame:
    """Per customer, from orders before the cutoff: frequency, spend, recency; label: ordered after it."""
    cutoff = pl.lit(CUTOFF).str.to_date()
    before = orders.filter(pl.col("order_date").dt.date() < cutoff)
    after = orders.filter(pl.col("order_date").dt.date() >= cutoff)
    features = before.group_by("customer_id").agg(
        pl.len().alias("n_orders"),
        pl.col("amount").sum().alias("total_spend"),
        pl.col("amount").mean().alias("avg_order"),
        pl.col("order_date").max().alias("last_order"),
    )
    last = features["last_order"].to_numpy().astype("datetime64[D]")
    returned = after.select("customer_id").unique().with_columns(pl.lit(1).alias("returned"))
    return (
        features.with_columns(pl.Series("recency_days", recency_days(last, np.datetime64(CUTOFF))))
        .drop("last_order")
        .join(returned, on="customer_id", how="left")
        .with_columns(pl.col("returned").fill_null(0))
        .sort("customer_id")
    )


FEATURES = ["n_orders", "total_spend", "avg_order", "recency_days"]


def _split(features: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every fifth customer is held out for evaluation."""
    holdout = features["customer_id"] % 5 == 0
    return features[~holdout], features[holdout]


@asset(group="model", resources={"cpu": "2", "memory": "4Gi"})
def churn_model(customer_features: pd.DataFrame) -> LogisticModel:
    """Logistic regression predicting whether a customer orders again after the cutoff."""
    train, _ = _split(customer_features)
    return train_logistic(train[FEATURES].to_numpy(float), train["returned"].to_numpy(float), FEATURES)


@asset(group="model")
def model_report(churn_model: LogisticModel, customer_features: pd.DataFrame) -> dict[str, float]:
    """Holdout accuracy and AUC of the churn model."""
    _, test = _split(customer_features)
    y = test["returned"].to_numpy(float)
    p = churn_model.predict_proba(test[FEATURES].to_numpy(float))
    report = {
        "holdout_customers": len(test),
        "accuracy": round(float(((p > 0.5) == (y == 1)).mean()), 4),
        "auc": round(roc_auc(y, p), 4),
    }
    add_metadata(**report)
    return report


nightly = schedule("nightly", cron="0 2 * * *", select="+daily_revenue", timezone="Europe/Berlin")

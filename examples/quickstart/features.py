"""Helpers the quickstart's assets call. Editing one makes exactly the assets that use it stale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CUTOFF = "2026-05-01"  # features come from orders before this day, the churn label from orders after it


def recency_days(last_order: np.ndarray, cutoff: np.datetime64) -> np.ndarray:
    """Days between each customer's last order and the cutoff."""
    return (cutoff - last_order).astype("timedelta64[D]").astype(float)


@dataclass
class LogisticModel:
    """A tiny logistic regression: standardized features, weights, bias."""

    columns: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-z))


def train_logistic(x: np.ndarray, y: np.ndarray, columns: list[str], steps: int = 400) -> LogisticModel:
    """Gradient descent on the log loss; deterministic, so the same data gives the same model."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    xs = (x - mean) / scale
    weights, bias = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xs @ weights + bias)))
        weights -= 0.5 * xs.T @ (p - y) / len(y)
        bias -= 0.5 * float(np.mean(p - y))
    return LogisticModel(columns, mean, scale, weights, bias)


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum formula."""
    order = score.argsort()
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    positives = y.sum()
    negatives = len(y) - positives
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))

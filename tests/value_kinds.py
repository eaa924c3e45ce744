"""One value of every kind an asset may return, for the deterministic-version test (imported by the child
processes it starts, so the classes here are importable the same way in each)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

WORDS = ["orders", "customers", "revenue", "churn", "model", "report", "daily", "weekly", "é", "日本"]


@dataclass
class Model:
    """A user object whose state holds a set and a dict built from a set."""

    features: set[str]
    weights: dict[str, float] = field(default_factory=dict)


def value_kinds() -> dict[str, Any]:
    """name -> value; each is built the way user code builds it, so set iteration order follows the seed."""
    import numpy as np
    import pandas as pd

    words = set(WORDS)
    return {
        "set of str": words,
        "frozenset of str": frozenset(words),
        "set of int": {3, 1, 2**70, -5},
        "set of mixed types": {1, "a", b"b", None, 2.5, ("t", 1), frozenset({"x", "y"})},
        "set of tuples": {(w, len(w)) for w in words},
        "set of frozensets": {frozenset({w, w.upper()}) for w in words},
        "set with NaN": {float("nan"), "nan", 1.0},
        "dict built from a set": {w: len(w) for w in words},
        "dict with non-str keys": {(1, w): {w, w + "!"} for w in words},
        "nested containers": [{"k": words}, ({w: {w} for w in words},), frozenset(words)],
        "object holding a set": Model(words, {w: 1.0 / len(w) for w in words}),
        "OrderedDict (order kept)": OrderedDict((i, w) for i, w in enumerate(sorted(words))),
        "shared references": [words, words, {"again": words}],
        "numpy array": np.arange(12, dtype="int64").reshape(3, 4),
        "dict of arrays": {w: np.full(3, len(w)) for w in words},
        "json dict": {"b": [1, 2], "a": {"z": None, "y": True}},
        "json list": [w for w in sorted(words)],
        "str": "text",
        "float": 0.1,
        "pandas table": pd.DataFrame({"word": sorted(words), "n": range(len(words))}),
    }

"""Metadata from user code: ``add_metadata(accuracy=0.93)`` inside an asset attaches values to the
materialization being recorded (shown by history, diff and the HTML view)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .errors import DefinitionError

_collected: ContextVar[dict[str, Any] | None] = ContextVar("lakeplan_metadata", default=None)


def add_metadata(**values: Any) -> None:
    """Attach JSON-able values (numbers, strings, lists, dicts) to the current materialization."""
    target = _collected.get()
    if target is None:
        raise DefinitionError("add_metadata() was called outside an asset being materialized")
    for name, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise DefinitionError(f"add_metadata({name}=...): {value} is not a finite number")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise DefinitionError(
                f"add_metadata({name}=...): {type(value).__name__} is not JSON-able; "
                "pass numbers, strings, lists or dicts"
            ) from None
        target[name] = value


@contextmanager
def collecting() -> Iterator[dict[str, Any]]:
    """Collect what ``add_metadata`` receives while the block runs."""
    values: dict[str, Any] = {}
    token = _collected.set(values)
    try:
        yield values
    finally:
        _collected.reset(token)

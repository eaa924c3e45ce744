"""What an asset's code may ask of the step running it: ``add_metadata(accuracy=0.93)`` attaches values
to the materialization being recorded (shown by history, diff and the HTML view); ``partition_key()``
says which partition is being built."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .errors import DefinitionError

_collected: ContextVar[dict[str, Any] | None] = ContextVar("lakeplan_metadata", default=None)
_partition: ContextVar[str | None] = ContextVar("lakeplan_partition", default=None)


def partition_key() -> str:
    """The key of the partition being built (``'2026-03-02'``; ``'2026-03-02|DE'`` for two dimensions)."""
    key = _partition.get()
    if key is None:
        where = "outside an asset being materialized" if _collected.get() is None else "by an unpartitioned asset"
        raise DefinitionError(f"partition_key() was called {where}; declare the asset with partitions=")
    return key


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
def collecting(partition: str | None = None) -> Iterator[dict[str, Any]]:
    """Collect what ``add_metadata`` receives while the block runs, which builds ``partition`` (if any)."""
    values: dict[str, Any] = {}
    token = _collected.set(values)
    partition_token = _partition.set(partition)
    try:
        yield values
    finally:
        _partition.reset(partition_token)
        _collected.reset(token)

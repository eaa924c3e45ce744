"""How values become files and back: tables as Parquet (``tables.py``), JSON-able values as JSON,
anything else with pickle. Reads return the type the consuming parameter's annotation asks for, so a
polars asset can read a table a pandas asset wrote.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, BinaryIO

from assets_core.errors import DefinitionError

from . import canonical_pickle
from .tables import read_table, table_kind, write_table

EXTENSIONS = {"parquet": "parquet", "json": "json", "pickle": "pkl"}


def annotation_kind(annotation: object) -> str | None:
    """The table library an annotation asks for ('polars-lazy' for a polars LazyFrame), else None."""
    if annotation is None:
        return None
    module = getattr(annotation, "__module__", "") or ""
    name = getattr(annotation, "__name__", "") or ""
    if module.startswith("pandas") and name == "DataFrame":
        return "pandas"
    if module.startswith("polars") and name == "LazyFrame":
        return "polars-lazy"
    if module.startswith("polars") and name == "DataFrame":
        return "polars"
    if module.startswith("pyarrow") and name == "Table":
        return "pyarrow"
    return None


def _json_text(value: object) -> str | None:
    """Canonical JSON for ``value`` when it round-trips exactly, else None (then pickle is used)."""
    if not isinstance(value, (dict, list, str, int, float, bool, type(None))):
        return None
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    return text if json.loads(text) == value else None


def choose_format(value: object, requested: str) -> str:
    """The storage format for ``value``: the asset's ``io_manager`` unless it is 'auto'."""
    if requested != "auto":
        return requested
    if table_kind(value) is not None:
        return "parquet"
    return "json" if _json_text(value) is not None else "pickle"


def write(value: object, fmt: str, out: BinaryIO) -> dict[str, Any]:
    """Serialize ``value`` into ``out``; returns metadata (row count and schema for tables)."""
    if fmt == "parquet":
        return write_table(value, out)
    if fmt == "json":
        text = _json_text(value)
        if text is None:
            raise DefinitionError(
                f"io_manager='json' cannot store {type(value).__name__} exactly; use io_manager='pickle'"
            )
        out.write(text.encode())
        meta: dict[str, Any] = {"python_type": "json"}
        if isinstance(value, (list, dict)):
            meta["length"] = len(value)
        return meta
    if fmt == "pickle":
        canonical_pickle.dump(value, out)  # sets and dicts in sorted order: equal values, equal versions
        return {"python_type": f"{type(value).__module__}.{type(value).__qualname__}"}
    raise DefinitionError(f"unknown storage format {fmt!r}")


def read(path: Path, fmt: str, annotation: object, written_as: str | None) -> Any:
    """Load a stored value as the consuming parameter's annotation asks (else as it was written)."""
    if fmt == "parquet":
        return read_table(path, annotation_kind(annotation) or written_as)
    if fmt == "json":
        return json.loads(path.read_bytes())
    if fmt == "pickle":
        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - only files of lakeplan's own store are read
    raise DefinitionError(f"unknown storage format {fmt!r}")


def read_source_file(path: Path, annotation: object) -> Any:
    """A source asset's file (or Parquet directory) by its suffix: CSV, Parquet, JSON or raw bytes."""
    want = annotation_kind(annotation)
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".parquet":
        return read_table(path, want)
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        if want in ("polars", "polars-lazy"):
            import polars as pl

            return pl.read_csv(path, separator=sep) if want == "polars" else pl.scan_csv(path, separator=sep)
        if want == "pyarrow":
            import pyarrow.csv as pacsv

            return pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=sep))
        import pandas as pd

        return pd.read_csv(path, sep=sep)
    if suffix == ".json":
        return json.loads(path.read_bytes())
    return path.read_bytes()

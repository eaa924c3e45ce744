"""Tables as Parquet, so that what an asset returns is what its consumers read.

Parquet through pyarrow loses some things on the way back: column labels of mixed types come back as
strings, a pandas ``object`` column comes back typed (``None`` turns into NaN, ints into floats, lists
into arrays), and Arrow types Parquet has no exact type for (``timestamp[s]``, ``date64``) come back
widened. Here those are either restored on read (object columns keep their Python values, the Arrow
schema as written is re-applied) or refused at write with one line naming the column and the fix.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from assets_core.errors import DefinitionError

# Notes kept in the file's schema metadata, only where needed (so other files' bytes, and versions, stay as they were)
_SCHEMA_KEY = b"lakeplan.arrow_schema"  # the Arrow schema as written, where Parquet would return another
_LISTS_KEY = b"lakeplan.python_lists"  # pandas object columns of Python lists (pyarrow would return arrays)
_PICKLE_HINT = "or use io_manager='pickle'"


def table_kind(value: object) -> str | None:
    """'pandas', 'polars' or 'pyarrow' for a table of that library, else None (no imports needed)."""
    module = type(value).__module__
    name = type(value).__name__
    if module.startswith("pandas") and name == "DataFrame":
        return "pandas"
    if module.startswith("polars") and name in ("DataFrame", "LazyFrame"):
        return "polars"
    if module.startswith("pyarrow") and name == "Table":
        return "pyarrow"
    return None


def _reason(exc: Exception) -> str:
    """pyarrow's message on one line (some carry the column in a second argument)."""
    text = "; ".join(str(a) for a in exc.args) or type(exc).__name__
    return text.strip().splitlines()[0]


def _arrow(value: object) -> Any:
    import pyarrow as pa

    kind = table_kind(value)
    if kind == "pandas":
        frame: Any = value
        _check_unique(list(frame.columns))
        with warnings.catch_warnings():  # mixed label types: refused with the fix by _check_pandas
            warnings.filterwarnings("ignore", "The DataFrame has column names of mixed type", UserWarning)
            return pa.Table.from_pandas(frame)
    if kind == "polars":
        lazy: Any = value
        return (lazy.collect() if type(lazy).__name__ == "LazyFrame" else lazy).to_arrow()
    if kind == "pyarrow":
        return value
    raise DefinitionError(
        f"io_manager='parquet' needs a pandas, polars or pyarrow table, got {type(value).__name__}; "
        "use io_manager='pickle' or 'auto'"
    )


def _check_unique(names: list[Any]) -> None:
    seen: set[Any] = set()
    for name in names:
        if name in seen:
            raise DefinitionError(f"column {name!r} appears twice; give every column its own name")
        seen.add(name)


def _as_parquet_returns(schema: Any) -> Any:
    """The schema Parquet gives back for ``schema`` (an empty table's round trip: cheap, and it raises
    for a type Parquet cannot hold at all)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(schema.empty_table(), buffer)
    return pq.read_schema(io.BytesIO(buffer.getvalue()))


def _labels(index: Any) -> list[tuple[type, object]]:
    return [(type(label), label) for label in index.tolist()]


def _pandas_notes(frame: Any, table: Any, returned: Any) -> dict[bytes, bytes]:
    """Refuse what Parquet would not give back (labels of other types, non-None nulls in object columns);
    returns the notes that restore the rest on read."""
    import pandas as pd

    labels = returned.empty_table().to_pandas().columns
    if _labels(labels) != _labels(frame.columns):
        shown = ", ".join(repr(c) for c in frame.columns[:4])
        raise DefinitionError(
            f"column labels ({shown}) would come back from Parquet as {list(labels[:4])}; use string labels "
            f"(df.columns = df.columns.astype(str)) {_PICKLE_HINT}"
        )
    lists = []
    for what, position, values in _object_values(frame):
        nulls = pd.isna(values)
        odd = next((v for v in values[nulls] if v is not None), None) if nulls.any() else None
        if odd is not None:
            raise DefinitionError(
                f"object {what} holds {odd!r} as a missing value, which Parquet stores as null and would "
                f"return as None; store None instead, use a typed column (e.g. .astype('float64')), {_PICKLE_HINT}"
            )
        present = values[~nulls]
        if position is not None and len(present) and isinstance(present[0], list):  # arrays come back as arrays
            lists.append(table.schema.field(position).name)
    return {_LISTS_KEY: json.dumps(lists).encode()} if lists else {}


def _object_values(frame: Any) -> Iterator[tuple[str, int | None, Any]]:
    """Each ``object`` column (with its position) and ``object`` index, with its values. A MultiIndex is
    left out: pandas itself turns its missing values into NaN."""
    import pandas as pd

    for position, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_object_dtype(dtype):
            yield f"column {frame.columns[position]!r}", position, frame.iloc[:, position].to_numpy()
    if frame.index.nlevels == 1 and pd.api.types.is_object_dtype(frame.index.dtype):
        yield f"index {frame.index.name!r}", None, frame.index.to_numpy()


def write_table(value: object, out: BinaryIO) -> dict[str, Any]:
    """Write a pandas, polars or pyarrow table as Parquet, or refuse (DefinitionError) what would not
    come back as written; returns the table's row count and schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = _arrow(value)
        _check_unique(table.schema.names)
        returned = _as_parquet_returns(table.schema)
    except (pa.ArrowException, ValueError, TypeError) as exc:  # pyarrow's errors name the column
        raise DefinitionError(
            f"cannot store this table as Parquet: {_reason(exc)}; give each column values of one "
            f"supported type {_PICKLE_HINT}"
        ) from None
    notes = _pandas_notes(value, table, returned) if table_kind(value) == "pandas" else {}
    if not returned.equals(table.schema):
        notes[_SCHEMA_KEY] = base64.b64encode(table.schema.remove_metadata().serialize().to_pybytes())  # text
    if notes:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **notes})
    pq.write_table(table, out, compression="zstd")
    return {
        "python_type": table_kind(value),
        "rows": table.num_rows,
        "columns": {f.name: str(f.type) for f in table.schema},
    }


def _as_written(table: Any, notes: dict[bytes, bytes]) -> Any:
    """``table`` with the Arrow types it was written with, and without lakeplan's notes."""
    import pyarrow as pa

    if not notes:
        return table
    kept = {k: v for k, v in (table.schema.metadata or {}).items() if k not in notes}
    if _SCHEMA_KEY in notes:
        table = table.cast(pa.ipc.read_schema(pa.py_buffer(base64.b64decode(notes[_SCHEMA_KEY]))))
    return table.replace_schema_metadata(kept or None)


def _pandas(table: Any, python_lists: set[str]) -> Any:
    """``table`` as pandas; columns that were ``object`` in pandas get back their Python values."""
    import pandas as pd
    import pyarrow as pa

    frame = table.to_pandas()
    pandas_meta = table.schema.pandas_metadata or {}
    was_object = {c["field_name"] for c in pandas_meta.get("columns", []) if c["numpy_type"] == "object"}
    index_columns = pandas_meta.get("index_columns", [])
    data = [name for name in table.schema.names if name not in index_columns]
    for position, name in enumerate(data):
        if name not in was_object:
            continue
        if pa.types.is_nested(table.schema.field(name).type) and name not in python_lists:
            continue  # pyarrow already gives back dicts, and numpy arrays for the arrays it was given
        values = table.column(name).to_pylist()  # None stays None, 1 stays int, a list stays a list
        frame.isetitem(position, pd.Series(values, index=frame.index, dtype=object))
    if any(isinstance(c, str) and c in was_object for c in index_columns):  # (a RangeIndex is a dict)
        levels = [
            pd.Index(table.column(c).to_pylist(), dtype=object, name=frame.index.names[i])
            if isinstance(c, str) and c in was_object
            else frame.index.get_level_values(i)
            for i, c in enumerate(index_columns)
        ]
        frame.index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels)
    return frame


def read_table(path: Path, want: str | None) -> Any:
    """A Parquet file (or directory) as the table type ``want`` names (pandas when unspecified)."""
    if want == "polars-lazy":
        import polars as pl

        return pl.scan_parquet(path)
    if want == "polars":
        import polars as pl

        return pl.read_parquet(path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    notes = {k: v for k, v in (table.schema.metadata or {}).items() if k in (_SCHEMA_KEY, _LISTS_KEY)}
    table = _as_written(table, notes)
    return table if want == "pyarrow" else _pandas(table, set(json.loads(notes.get(_LISTS_KEY, b"[]"))))

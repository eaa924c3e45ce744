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
import warnings
from pathlib import Path
from typing import Any, BinaryIO

from assets_core.errors import DefinitionError

_SCHEMA_KEY = b"lakeplan.arrow_schema"  # the written Arrow schema, kept only where Parquet would change it
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
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise DefinitionError(f"column {repeated[0]!r} appears twice; give every column its own name")


def _as_parquet_returns(schema: Any) -> Any:
    """The schema Parquet gives back for ``schema`` (an empty table's round trip: cheap, and it raises
    for a type Parquet cannot hold at all)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(schema.empty_table(), buffer)
    return pq.read_schema(io.BytesIO(buffer.getvalue()))


def _labels(index: Any) -> list[tuple[type, object]]:
    return [(type(label), label) for label in index.tolist()]


def _check_pandas(frame: Any, returned: Any) -> None:
    """Refuse what Parquet would not give back: labels of other types, and non-None nulls in object columns."""
    import pandas as pd

    labels = returned.empty_table().to_pandas().columns
    if _labels(labels) != _labels(frame.columns):
        shown = ", ".join(repr(c) for c in frame.columns[:4])
        raise DefinitionError(
            f"column labels ({shown}) would come back from Parquet as {list(labels[:4])}; use string labels "
            f"(df.columns = df.columns.astype(str)) {_PICKLE_HINT}"
        )
    for position, dtype in enumerate(frame.dtypes):
        if not pd.api.types.is_object_dtype(dtype):
            continue
        values = frame.iloc[:, position].to_numpy()
        not_none = pd.isna(values) & (values != None)  # noqa: E711 - elementwise test for None
        if not_none.any():
            raise DefinitionError(
                f"object column {frame.columns[position]!r} holds {values[not_none][0]!r} as a missing value, "
                f"which Parquet stores as null and would return as None; store None instead, use a typed "
                f"column (e.g. .astype('float64')), {_PICKLE_HINT}"
            )


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
    if table_kind(value) == "pandas":
        _check_pandas(value, returned)
    if not returned.equals(table.schema):
        written = base64.b64encode(table.schema.remove_metadata().serialize().to_pybytes())  # text, as Parquet wants
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _SCHEMA_KEY: written})
    pq.write_table(table, out, compression="zstd")
    return {
        "python_type": table_kind(value),
        "rows": table.num_rows,
        "columns": {f.name: str(f.type) for f in table.schema},
    }


def _arrow_as_written(path: Path) -> Any:
    """The stored table with the Arrow types it was written with."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    if _SCHEMA_KEY not in meta:
        return table
    written = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta[_SCHEMA_KEY])))
    kept = {k: v for k, v in meta.items() if k != _SCHEMA_KEY}
    return table.cast(written).replace_schema_metadata(kept or None)


def _pandas(table: Any) -> Any:
    """``table`` as pandas; columns that were ``object`` in pandas get back their Python values."""
    import pandas as pd

    frame = table.to_pandas()
    described = (table.schema.pandas_metadata or {}).get("columns", [])
    index_fields = {c for c in (table.schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    data = [c for c in described if c["field_name"] not in index_fields]
    for position, column in enumerate(data):
        if column["numpy_type"] == "object":  # None stays None, 1 stays int, a list stays a list
            values = table.column(column["field_name"]).to_pylist()
            frame.isetitem(position, pd.Series(values, index=frame.index, dtype=object))
    return frame


def read_table(path: Path, want: str | None) -> Any:
    """A Parquet file (or directory) as the table type ``want`` names (pandas when unspecified)."""
    if want == "polars-lazy":
        import polars as pl

        return pl.scan_parquet(path)
    if want == "polars":
        import polars as pl

        return pl.read_parquet(path)
    table = _arrow_as_written(path)
    return table if want == "pyarrow" else _pandas(table)

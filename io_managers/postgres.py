"""Tables in PostgreSQL, through SQLAlchemy: an IO manager for assets other programs query with SQL.

Each stored version is its own table, ``<asset>__<version[:16]>``, so a read is pinned to the version it
was recorded with, and an earlier version stays readable for ``restore`` and ``rollback``. The table
named like the asset (``daily_revenue``) is a view onto the current version, re-pointed in one
transaction after each build, restore or rollback: a query never sees a half-written table.

A version is written into a temporary table in one transaction, hashed there, and renamed to its
versioned name in the same transaction; an exception (or a killed process) anywhere before the commit
leaves nothing behind. The data version is a hash of the table's content as the server holds it: the
column names and types, the pandas dtypes it was written from, and every row's text in the order the
rows were returned (kept in a ``__lakeplan_row`` column the view leaves out), so the same table returned
twice gets the same version and a table changed outside lakeplan is noticed when it is read.

Old versions are never dropped by lakeplan; drop ``<asset>__<version>`` tables you no longer need
(an asset whose recorded version is gone plans as MISSING and is rebuilt).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from assets_core.errors import CorruptedOutput, DefinitionError, MissingOutput, StoreError
from assets_core.hashing import structured_hash
from assets_core.io_manager import InputContext, IOManager, OutputContext, Stored
from assets_core.masking import mask_text

from .formats import annotation_kind
from .tables import table_kind

ROW = "__lakeplan_row"  # the row's position in the table as returned: part of the content, left out of views
_SCHEME = "lakeplan.postgres-table/v1"
_MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names (NAMEDATALEN - 1)
_BASE_LENGTH = 40  # room for "__" and a 16-digit version, or "__tmp_" and a token
_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "float32",
    "float64",
    "str",
    "string",
)
# Session settings the text of a row depends on (t::text of timestamps, floats, intervals, bytes)
_STABLE_TEXT = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
}
_FALLBACK_HINT = "or use io_manager='auto' (Parquet in the version store)"


def table_base(key: str) -> str:
    """The view's name for an asset key: the key itself when it is a short name without ``/``; otherwise ``/``
    as ``__``, cut to fit, and the key's hash (so ``a/b`` and ``a__b``, or two long keys, never share a name)."""
    if "/" not in key and len(key) <= _BASE_LENGTH:
        return key
    return f"{key.replace('/', '__')[: _BASE_LENGTH - 13]}_{structured_hash(['table', key])[:12]}"


class PostgresTableIOManager(IOManager):
    """pandas, polars and pyarrow tables as PostgreSQL tables in ``schema`` (default: the connection's
    ``search_path`` schema). ``engine``: a SQLAlchemy engine or URL, e.g. ``postgresql+psycopg://u@db/warehouse``."""

    def __init__(self, engine: sa.Engine | str, schema: str | None = None) -> None:
        self.engine = sa.create_engine(engine, pool_pre_ping=True) if isinstance(engine, str) else engine
        self._schema = schema
        self._quote = self.engine.dialect.identifier_preparer.quote

    def describe(self) -> str:
        return f"PostgreSQL {mask_text(self.engine.url.render_as_string(hide_password=True))}"

    # -- writing ---------------------------------------------------------------------------------------

    def store(self, value: Any, context: OutputContext) -> Stored:
        frame, kind = _as_pandas(value)
        dtypes = {str(c): str(t) for c, t in frame.dtypes.items()}
        frame.insert(0, ROW, range(len(frame)))
        base = table_base(context.key)
        with self._transaction() as conn:
            schema = self._schema_of(conn)
            temp = f"{base}__tmp_{secrets.token_hex(6)}"
            copy = self._copy if conn.dialect.driver == "psycopg" else None  # else pandas' own INSERTs
            frame.to_sql(temp, conn, schema=schema, index=False, chunksize=10_000, method=copy)
            version = self._version(conn, schema, temp, dtypes)
            final = f"{base}__{version[:16]}"
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"{schema}.{final}"})
            existing = self._note(conn, schema, final)
            if existing is None:
                conn.execute(sa.text(f"ALTER TABLE {self._name(schema, temp)} RENAME TO {self._quote(final)}"))
                note = json.dumps({"data_version": version, "dtypes": dtypes, "kind": kind}, sort_keys=True)
                conn.execute(sa.text(f"COMMENT ON TABLE {self._name(schema, final)} IS {_literal(note)}"))
            elif existing.get("data_version") == version:
                conn.execute(sa.text(f"DROP TABLE {self._name(schema, temp)}"))  # the same content is stored already
            else:
                raise StoreError(f"table {schema}.{final} holds another version than {version[:16]}; drop it")
        return Stored(
            f"{schema}.{final}", version, {"rows": len(frame), "columns": dtypes, "table": f"{schema}.{final}"}
        )

    def make_current(self, key: str, location: str, data_version: str) -> None:
        """Re-point the view named like the asset at this version, in one transaction (readers see the old or
        the new version, never neither)."""
        schema, table = location.split(".", 1)
        view = table_base(key)
        with self._transaction() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": f"{schema}.{view}"})
            kind = conn.execute(
                sa.text("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:name)"),
                {"name": self._name(schema, view)},
            ).scalar()
            if kind not in (None, "v"):
                raise StoreError(
                    f"{schema}.{view} exists and is not lakeplan's view of asset {key!r}; rename or drop it"
                )
            columns = ", ".join(self._quote(c) for c, _ in self._columns(conn, schema, table) if c != ROW)
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {self._name(schema, view)}"))
            conn.execute(
                sa.text(
                    f"CREATE VIEW {self._name(schema, view)} AS SELECT {columns} FROM {self._name(schema, table)} "
                    f"ORDER BY {self._quote(ROW)}"
                )
            )
            conn.execute(sa.text(f"COMMENT ON VIEW {self._name(schema, view)} IS {_literal(data_version)}"))

    # -- reading ---------------------------------------------------------------------------------------

    def load(self, context: InputContext) -> Any:
        """The pinned version's table, checked against its data version, as the annotation asks."""
        import pandas as pd

        schema, table = context.location.split(".", 1)
        with self._transaction(repeatable=True) as conn:  # the hash and the rows from one snapshot
            note = self._note(conn, schema, table)
            if note is None:
                raise MissingOutput(
                    f"stored table {schema}.{table} is gone from {self.describe()}; "
                    "run 'lakeplan materialize' to rebuild it"
                )
            actual = self._version(conn, schema, table, note["dtypes"])
            frame = None
            if actual == context.data_version:
                query = f"SELECT * FROM {self._name(schema, table)} ORDER BY {self._quote(ROW)}"
                frame = pd.read_sql(sa.text(query), conn)
        if frame is None:
            with self._transaction() as conn:
                moved = self._set_aside(conn, schema, table)
            raise CorruptedOutput(
                f"stored table {schema}.{table} was changed outside lakeplan (content hash {actual[:12]} != "
                f"recorded {context.data_version[:12]}); renamed it to {moved} and it now plans as MISSING: "
                "run 'lakeplan materialize' to rebuild it"
            )
        frame = frame.drop(columns=[ROW])
        for column, dtype in note["dtypes"].items():
            if dtype == "object":  # strings and None (the only object columns stored): NULL is None, not NaN
                frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
            elif str(frame[column].dtype) != dtype:
                frame[column] = frame[column].astype(dtype)
        return _as_kind(
            frame, annotation_kind(context.annotation) or annotation_kind(context.written_as) or note["kind"]
        )

    def exists(self, location: str, data_version: str, verify: bool = False) -> bool:
        schema, table = location.split(".", 1)
        with self._transaction(repeatable=verify) as conn:
            note = self._note(conn, schema, table)
            if note is None or not verify:
                return note is not None
            return self._version(conn, schema, table, note["dtypes"]) == data_version

    # -- helpers ---------------------------------------------------------------------------------------

    def _copy(self, table: Any, conn: sa.Connection, keys: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
        """pandas' rows into the temporary table with COPY (psycopg 3; 100,000 rows: 2.2 s instead of 5.9 s)."""
        driver: Any = conn.connection.driver_connection
        columns = ", ".join(self._quote(k) for k in keys)
        statement = f"COPY {self._name(table.schema, table.name)} ({columns}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    @contextmanager
    def _transaction(self, repeatable: bool = False) -> Iterator[sa.Connection]:
        """A transaction with the settings a row's text depends on; database errors become one line."""
        try:
            with self.engine.begin() as conn:
                if repeatable:
                    conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                for name, value in _STABLE_TEXT.items():
                    conn.execute(sa.text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreError(f"{self.describe()}: {mask_text(reason)}") from None

    def _schema_of(self, conn: sa.Connection) -> str:
        if self._schema is None:
            self._schema = str(conn.execute(sa.text("SELECT current_schema()")).scalar())
        return self._schema

    def _name(self, schema: str, table: str) -> str:
        return f"{self._quote(schema)}.{self._quote(table)}"

    def _columns(self, conn: sa.Connection, schema: str, table: str) -> list[tuple[str, str]]:
        rows = conn.execute(
            sa.text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = to_regclass(:name) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
            ),
            {"name": self._name(schema, table)},
        )
        return [(str(name), str(kind)) for name, kind in rows]

    def _note(self, conn: sa.Connection, schema: str, table: str) -> dict[str, Any] | None:
        """The note lakeplan keeps on a versioned table (its data version and dtypes); None when it is gone."""
        row = conn.execute(
            sa.text("SELECT to_regclass(:name) IS NOT NULL, obj_description(to_regclass(:name), 'pg_class')"),
            {"name": self._name(schema, table)},
        ).one()
        if not row[0]:
            return None
        try:
            note = json.loads(row[1] or "")
        except ValueError:
            raise StoreError(f"table {schema}.{table} was not written by lakeplan; rename or drop it") from None
        return note if isinstance(note, dict) else None

    def _version(self, conn: sa.Connection, schema: str, table: str, dtypes: dict[str, str]) -> str:
        """The data version of a table's content: its columns and types, the dtypes, and each row's text in order."""
        rows = conn.execute(
            sa.text(
                "SELECT count(*), encode(sha256(convert_to(coalesce(string_agg("
                f"encode(sha256(convert_to(t::text, 'UTF8')), 'hex'), '' ORDER BY t.{self._quote(ROW)}), ''), "
                f"'UTF8')), 'hex') FROM {self._name(schema, table)} AS t"
            )
        ).one()
        columns = json.dumps(self._columns(conn, schema, table))
        return structured_hash([_SCHEME, columns, json.dumps(dtypes, sort_keys=True), str(rows[0]), str(rows[1])])

    def _set_aside(self, conn: sa.Connection, schema: str, table: str) -> str:
        """Rename a table changed outside lakeplan (kept for inspection, never read as that version again)."""
        moved = f"{table.rsplit('__', 1)[0]}__changed_{secrets.token_hex(4)}"
        conn.execute(sa.text(f"ALTER TABLE {self._name(schema, table)} RENAME TO {self._quote(moved)}"))
        return f"{schema}.{moved}"


def _literal(text: str) -> str:
    """A SQL string literal (COMMENT takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _as_pandas(value: object) -> tuple[Any, str]:
    """``value`` as a pandas DataFrame with a copy's freedom, and the table library it came from; anything
    PostgreSQL would not give back as written is refused with the column and the fix."""
    kind = table_kind(value)
    if kind is None:
        raise DefinitionError(
            f"the PostgreSQL IO manager stores pandas, polars or pyarrow tables, got {type(value).__name__}; "
            "return a table, or use io_manager='auto'"
        )
    frame: Any = value
    if kind == "polars":
        frame = (frame.collect() if type(frame).__name__ == "LazyFrame" else frame).to_pandas()
    elif kind == "pyarrow":
        frame = frame.to_pandas()
    else:
        frame = frame.copy(deep=False)
    _check_frame(frame)
    return frame, kind


def _check_frame(frame: Any) -> None:
    import pandas as pd

    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0 or frame.index.step != 1:
        raise DefinitionError(
            "the PostgreSQL IO manager stores columns only and this table's index would be lost; "
            f"move it into a column with .reset_index() {_FALLBACK_HINT}"
        )
    if not len(frame.columns):
        raise DefinitionError("a PostgreSQL table needs at least one column")
    seen: set[str] = set()
    for label, dtype in frame.dtypes.items():
        if not isinstance(label, str) or not label or len(label.encode()) > _MAX_IDENTIFIER or label == ROW:
            raise DefinitionError(
                f"column label {label!r} cannot be a PostgreSQL column name; use a string of 1 to {_MAX_IDENTIFIER} "
                f"bytes other than {ROW!r}"
            )
        if label.lower() in seen:
            raise DefinitionError(f"column {label!r} appears twice (PostgreSQL ignores case in many tools); rename one")
        seen.add(label.lower())
        text = str(dtype)
        if text == "object":
            odd = next((v for v in frame[label] if v is not None and not isinstance(v, str)), None)
            if odd is not None:
                raise DefinitionError(
                    f"column {label!r} holds {type(odd).__name__} values; the PostgreSQL IO manager stores object "
                    f"columns of strings (and None) only: convert it (e.g. .astype(str)) {_FALLBACK_HINT}"
                )
        elif text not in _DTYPES and not text.startswith("datetime64["):
            raise DefinitionError(
                f"column {label!r} has dtype {text}, which the PostgreSQL IO manager does not store exactly; "
                f"convert it (e.g. .astype(str) or .astype('float64')) {_FALLBACK_HINT}"
            )


def _as_kind(frame: Any, kind: str | None) -> Any:
    """The pandas table as the library ``kind`` names (pandas when None)."""
    if kind in ("polars", "polars-lazy"):
        import polars as pl

        table = pl.from_pandas(frame)
        return table.lazy() if kind == "polars-lazy" else table
    if kind == "pyarrow":
        import pyarrow as pa

        return pa.Table.from_pandas(frame, preserve_index=False)
    return frame

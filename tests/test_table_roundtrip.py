"""Issue 9, found 10: a table comes back from storage exactly as it was returned, or is refused at write
with one line naming the column and the fix. Each case below is what pandas, polars and pyarrow do by
default through Parquet (see io_managers/tables.py)."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import Project

from assets_core import DefinitionError
from assets_core.executor import run
from assets_core.step import Outcome
from io_managers import read, write


def roundtrip(tmp_path: Path, value: object, annotation: object) -> Any:
    path = tmp_path / "value.parquet"
    with path.open("wb") as out:
        write(value, "parquet", out)
    return read(path, "parquet", annotation, None)


def objects(values: list[object]) -> pd.Series:
    return pd.Series(values, dtype=object)


PANDAS_EXACT = {
    "int labels": pd.DataFrame({0: [1, 2], 1: [3, 4]}),
    "float labels": pd.DataFrame({1.5: [1], 2.5: [2]}),
    "timestamp labels": pd.DataFrame({pd.Timestamp("2026-01-01"): [1]}),
    "multi-level labels": pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)])),
    "None among strings in an object column": pd.DataFrame({"x": objects(["a", None])}),
    "None among ints in an object column": pd.DataFrame({"x": objects([1, None])}),
    "lists, dicts, decimals, dates, bytes in object columns": pd.DataFrame(
        {
            "list": objects([[1, 2], None]),
            "dict": objects([{"k": 1}, None]),
            "decimal": objects([decimal.Decimal("1.50"), None]),
            "date": objects([dt.date(2026, 1, 1), None]),
            "bytes": objects([b"x", None]),
        }
    ),
    "numpy arrays in an object column": pd.DataFrame({"x": objects([np.array([1, 2]), None, np.array([3])])}),
    "int labels and an object column with None": pd.DataFrame({0: objects(["a", None]), 1: [1.5, np.nan]}),
    "nullable Int64, categorical, time zone, timedelta": pd.DataFrame(
        {
            "n": pd.array([1, None], dtype="Int64"),
            "c": pd.Categorical(["a", "b"]),
            "t": pd.to_datetime(["2026-01-01", "2026-01-02"]).tz_localize("Europe/Berlin"),
            "d": pd.to_timedelta([1, 2], unit="s"),
        }
    ),
    "second-resolution timestamps": pd.DataFrame({"t": pd.to_datetime(["2026-01-01"]).astype("datetime64[s]")}),
    "named multi-level index": pd.DataFrame(
        {"x": [1, 2]}, index=pd.MultiIndex.from_tuples([(5, "a"), (7, "b")], names=["id", "k"])
    ),
    "object indexes with None": pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", None], dtype=object, name="k")),
    "object multi-level index with a missing value": pd.DataFrame(
        {"x": [1, 2]}, index=pd.MultiIndex.from_arrays([pd.Index(["a", None], dtype=object), [1, 2]])
    ),
    "range index with a step": pd.DataFrame({"x": [1, 2]}, index=pd.RangeIndex(10, 14, 2)),
}


def kinds(frame: pd.DataFrame) -> list[list[type]]:
    """The Python type of every cell and label: None vs NaN and 0 vs '0' are what the bugs changed."""
    return [[type(label) for label in frame.columns]] + [[type(v) for v in col] for _, col in frame.items()]


@pytest.mark.parametrize("name", list(PANDAS_EXACT))
def test_pandas_tables_round_trip_exactly(tmp_path: Path, name: str) -> None:
    frame = PANDAS_EXACT[name]
    back = roundtrip(tmp_path, frame, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    assert kinds(back) == kinds(frame)


def test_none_in_an_object_column_stays_none(tmp_path: Path) -> None:
    back = roundtrip(tmp_path, pd.DataFrame({"x": objects(["a", None]), "n": objects([1, None])}), pd.DataFrame)
    assert back["x"].tolist() == ["a", None] and back["x"].dtype == object
    assert back["n"].tolist() == [1, None]  # not [1.0, nan]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            pd.DataFrame({0: [1], "a": [2]}),
            r"column labels \(0, 'a'\) would come back from Parquet as \['0', 'a'\]; use string labels",
        ),
        (pd.DataFrame({True: [1], False: [2]}), r"\(True, False\) would come back from Parquet as \[True, True\]"),
        (pd.DataFrame({"x": objects(["a", np.nan])}), r"object column 'x' holds nan as a missing value.*store None"),
        (pd.DataFrame({"x": objects(["a", 1])}), r"Conversion failed for column x.*io_manager='pickle'"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), r"column 'a' appears twice"),
        (pa.table([pa.array([1]), pa.array([2])], names=["a", "a"]), r"column 'a' appears twice"),
        (
            pa.table({"a": pa.array([pa.MonthDayNano([1, 2, 3])], pa.month_day_nano_interval())}),
            r"cannot store this table as Parquet: .*month_day_nano_interval",
        ),
    ],
    ids=[
        "mixed labels",
        "bool labels",
        "NaN in object column",
        "mixed object column",
        "pandas duplicates",
        "arrow duplicates",
        "type",
    ],
)
def test_what_would_not_come_back_is_refused_at_write(frame: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as caught:
        write(frame, "parquet", io.BytesIO())
    assert "\n" not in str(caught.value)


def test_polars_tables_round_trip_exactly(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "n": [1, None],
            "s": ["x", None],
            "list": [[1, 2], None],
            "struct": [{"k": 1}, None],
            "cat": pl.Series(["a", "b"], dtype=pl.Categorical),
            "enum": pl.Series(["a", "b"], dtype=pl.Enum(["a", "b", "c"])),
            "u8": pl.Series([1, 2], dtype=pl.UInt8),
            "dec": [decimal.Decimal("1.50"), None],
            "dur": [dt.timedelta(seconds=1), None],
            "time": [dt.time(1, 2), None],
        }
    )
    back = roundtrip(tmp_path, frame, pl.DataFrame)
    assert back.schema == frame.schema and back.equals(frame)


def test_pyarrow_tables_round_trip_with_their_exact_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "seconds": pa.array([1], pa.timestamp("s")),
            "date64": pa.array([86_400_000], pa.date64()),
            "large": pa.array(["x"], pa.large_string()),
            "dict": pa.array(["x"]).dictionary_encode(),
        }
    ).replace_schema_metadata({"owner": "me"})
    back = roundtrip(tmp_path, table, pa.Table)
    assert back.schema.types == table.schema.types  # Parquet alone returns timestamp[ms] and date32
    assert back.equals(table, check_metadata=True)


def test_labels_and_none_pass_between_assets(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        import pandas as pd
        from assets_core import asset

        @asset
        def wide() -> pd.DataFrame:
            return pd.DataFrame({0: pd.Series(["a", None], dtype=object), 1: pd.Series([1, None], dtype=object)})

        @asset
        def seen(wide: pd.DataFrame) -> list:
            return [repr(label) for label in wide.columns] + [repr(v) for v in wide[0]] + [repr(v) for v in wide[1]]

        @asset
        def mixed() -> pd.DataFrame:
            return pd.DataFrame({0: [1], "a": [2]})
        """,
    )
    ws = sqlite_project.workspace()
    results = {r.key: r for r in run(ws, list(ws.graph.order)).results}
    head = ws.store.heads()["seen"]
    path = ws.objects.fetch(head.location, head.data_version)
    assert read(path, "json", None, None) == ["0", "1", "'a'", "None", "1", "None"]
    assert results["mixed"].outcome is Outcome.FAILED
    assert results["mixed"].message.startswith("cannot store the value: column labels (0, 'a') would come back")
    assert "mixed" not in ws.store.heads()

"""The PostgreSQL table IO manager, against the real server: exact round trips, versions from the table's
content, pinned reads, the current-version view, atomic writes, and tables changed outside lakeplan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN_URL, REPO

from assets_core.errors import CorruptedOutput, DefinitionError, MissingOutput
from assets_core.io_manager import InputContext, OutputContext
from io_managers.postgres import PostgresTableIOManager, table_base


@pytest.fixture
def manager(postgres_url: str) -> Iterator[PostgresTableIOManager]:
    """The IO manager on a fresh schema (the fixture's search_path)."""
    io = PostgresTableIOManager(postgres_url)
    yield io
    io.engine.dispose()


def _store(io: PostgresTableIOManager, frame: Any, key: str = "shop_daily") -> tuple[str, str]:
    stored = io.store(frame, OutputContext(key, "run-1"))
    return stored.location, stored.data_version


def _load(io: PostgresTableIOManager, location: str, version: str, annotation: Any = None) -> Any:
    return io.load(InputContext("shop_daily", location, version, annotation))


def _tables(io: PostgresTableIOManager) -> list[str]:
    with io.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        return sorted(r[0] for r in rows)


def _view(io: PostgresTableIOManager, name: str = "shop_daily") -> list[tuple[Any, ...]]:
    with io.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"'))]


FRAME = pd.DataFrame(
    {
        "day": pd.to_datetime(["2026-01-01", "2026-01-02", None]),
        "at": pd.to_datetime(["2026-03-29 01:30", "2026-03-29 03:30", "2026-10-25 02:30"]).tz_localize(
            "Europe/Berlin", ambiguous=[True, True, False]
        ),
        "amount": [10.5, np.nan, -0.0],
        "orders": np.array([3, 0, 7], dtype="int32"),
        "small": np.array([1, 2, 3], dtype="int8"),
        "ratio": np.array([0.25, 1.5, 3.0], dtype="float32"),
        "shop": pd.Series(["a", "b", None], dtype="str"),
        "note": pd.Series(["x", None, "z"], dtype=object),
        "open": [True, False, True],
    }
)


@pytest.mark.postgres
def test_a_pandas_table_comes_back_exactly_with_a_version_of_its_content(manager: PostgresTableIOManager) -> None:
    location, version = _store(manager, FRAME)
    assert location.endswith(f".shop_daily__{version[:16]}")
    pd.testing.assert_frame_equal(_load(manager, location, version), FRAME)
    # the same content gets the same version (and no second table); one changed value, or the row order, another
    assert _store(manager, FRAME.copy()) == (location, version)
    changed = FRAME.copy()
    changed.loc[1, "orders"] = 1
    reordered = FRAME.iloc[::-1].reset_index(drop=True)
    versions = {version, _store(manager, changed)[1], _store(manager, reordered)[1]}
    assert len(versions) == 3
    assert len([t for t in _tables(manager) if t.startswith("shop_daily__")]) == 3


@pytest.mark.postgres
def test_reads_follow_the_consumer_annotation(manager: PostgresTableIOManager) -> None:
    location, version = _store(manager, pl.DataFrame({"k": ["a", "b"], "v": [1, 2]}))
    as_polars = _load(manager, location, version)  # as written, without an annotation
    assert isinstance(as_polars, pl.DataFrame) and as_polars.to_dicts() == [{"k": "a", "v": 1}, {"k": "b", "v": 2}]
    assert isinstance(_load(manager, location, version, pd.DataFrame), pd.DataFrame)
    arrow = _load(manager, location, version, pa.Table)
    assert isinstance(arrow, pa.Table) and arrow.column("v").to_pylist() == [1, 2]


@pytest.mark.postgres
def test_the_view_shows_the_current_version_and_reads_stay_pinned(manager: PostgresTableIOManager) -> None:
    old = _store(manager, pd.DataFrame({"v": [1, 2]}))
    new = _store(manager, pd.DataFrame({"v": [3]}))
    manager.make_current("shop_daily", new[0], new[1])
    assert _view(manager) == [(3,)]
    assert _load(manager, *old)["v"].tolist() == [1, 2]  # pinned: the old version is still its own table
    manager.make_current("shop_daily", old[0], old[1])  # what restore and rollback do
    assert _view(manager) == [(1,), (2,)]
    # a view whose columns change is replaced too (CREATE OR REPLACE VIEW could not)
    other = _store(manager, pd.DataFrame({"w": ["x"], "v": [9]}))
    manager.make_current("shop_daily", other[0], other[1])
    assert _view(manager) == [("x", 9)]
    nested = _store(manager, pd.DataFrame({"v": [7]}), key="raw/orders")  # a key with '/' gets a hashed name
    manager.make_current("raw/orders", *nested)
    assert _view(manager, table_base("raw/orders")) == [(7,)] and _view(manager) == [("x", 9)]


@pytest.mark.postgres
def test_a_failure_mid_write_leaves_nothing_behind(
    manager: PostgresTableIOManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _store(manager, pd.DataFrame({"v": [1]}))
    manager.make_current("shop_daily", *first)
    before = _tables(manager)

    def fail(*args: Any) -> str:
        raise RuntimeError("killed after the rows were written")

    monkeypatch.setattr(PostgresTableIOManager, "_version", fail)  # after INSERT, before the rename and commit
    with pytest.raises(RuntimeError, match="killed after the rows"):
        _store(manager, pd.DataFrame({"v": list(range(1000))}))
    assert _tables(manager) == before  # no temporary table, no new version
    assert _view(manager) == [(1,)]


KILLED_WRITER = """
import sys, time
import pandas as pd
from assets_core.io_manager import OutputContext
from io_managers.postgres import PostgresTableIOManager

def stall(*args):
    print("rows written", flush=True)
    time.sleep(60)

PostgresTableIOManager._version = stall  # the rows are in the open transaction; the process dies here
PostgresTableIOManager(sys.argv[1]).store(pd.DataFrame({"v": range(5000)}), OutputContext("shop_daily", "r"))
"""


@pytest.mark.postgres
def test_a_killed_writer_leaves_nothing_behind(manager: PostgresTableIOManager, postgres_url: str) -> None:
    first = _store(manager, pd.DataFrame({"v": [1]}))
    manager.make_current("shop_daily", *first)
    before = _tables(manager)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, postgres_url], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout is not None and writer.stdout.readline() == "rows written\n"
    assert _open_transactions(manager) == 1  # the rows are in its open transaction
    writer.kill()  # SIGKILL: no rollback from the client; the server aborts the transaction when the socket closes
    writer.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _open_transactions(manager):
        time.sleep(0.1)
    assert _open_transactions(manager) == 0  # aborted by the server, never committed
    assert _tables(manager) == before and _view(manager) == [(1,)]


def _open_transactions(manager: PostgresTableIOManager) -> int:
    """Sessions still holding a temporary table of ``shop_daily`` open (the killed writer's, until the server
    notices the closed socket and aborts it)."""
    with manager.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%shop_daily__tmp_%' AND pid <> pg_backend_pid()"
        )
        return int(conn.execute(sa.text(query)).scalar() or 0)


@pytest.mark.postgres
def test_two_writers_of_the_same_content_get_one_table(manager: PostgresTableIOManager) -> None:
    frame = pd.DataFrame({"v": list(range(2000))})
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _store(manager, frame), range(2)))
    assert results[0] == results[1]
    assert _tables(manager) == [results[0][0].split(".", 1)[1]]


@pytest.mark.postgres
def test_a_table_changed_outside_lakeplan_is_set_aside_not_read(manager: PostgresTableIOManager) -> None:
    location, version = _store(manager, pd.DataFrame({"v": [1, 2]}))
    assert manager.exists(location, version, verify=True)
    with manager.engine.begin() as conn:
        conn.execute(sa.text(f'UPDATE "{location.split(".", 1)[1]}" SET v = 5 WHERE v = 2'))
    assert manager.exists(location, version) and not manager.exists(location, version, verify=True)
    with pytest.raises(CorruptedOutput, match=r"changed outside lakeplan .* it now plans as MISSING"):
        _load(manager, location, version)
    assert not manager.exists(location, version)
    assert any(t.startswith("shop_daily__changed_") for t in _tables(manager))
    with pytest.raises(MissingOutput, match="is gone"):
        _load(manager, location, version)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"v": [1]}, index=["a"]), r"index would be lost; move it into a column with \.reset_index\(\)"),
        (pd.DataFrame({"v": pd.Categorical(["a"])}), "dtype category, which the PostgreSQL IO manager does not"),
        (pd.DataFrame({"v": pd.Series([1, "a"], dtype=object)}), "column 'v' holds int values"),
        (pd.DataFrame({0: [1]}), "column label 0 cannot be a PostgreSQL column name"),
        (pd.DataFrame({"V": [1], "v": [2]}), "column 'v' appears twice"),
        ({"not": "a table"}, "stores pandas, polars or pyarrow tables, got dict"),
    ],
)
def test_what_would_not_come_back_is_refused_before_writing(
    manager: PostgresTableIOManager, frame: Any, message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        _store(manager, frame)
    assert _tables(manager) == []


def test_keys_become_short_distinct_table_names() -> None:
    long_a, long_b = "raw/" + "a" * 200, "raw/" + "a" * 199 + "b"
    assert table_base("orders") == "orders"
    assert table_base("raw/orders").startswith("raw__orders_") and table_base("raw/orders") != "raw__orders"
    assert len({table_base("a/b"), table_base("a__b"), table_base("a_/_b"), table_base("a/__b")}) == 4
    assert len(table_base(long_a)) == 40 and table_base(long_a) != table_base(long_b)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_warehouse_example_runs(postgres_url: str, tmp_path: Path) -> None:
    """examples/warehouse (docs/io_managers.md): built into the schema the environment names, then fresh."""
    schema = sa.make_url(postgres_url).query["options"].split("=", 1)[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")},
        "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "LAKEPLAN_STORAGE_ROOT": str(tmp_path / "s"),
        "WAREHOUSE_URL": PG_ADMIN_URL,
        "LAKEPLAN_RESOURCE_WAREHOUSE_SCHEMA": schema,
    }

    def lakeplan(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "assets_core", *args, "-m", "examples.warehouse.pipeline"]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)

    built = lakeplan("materialize", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["counts"]["built"] == 2
    assert json.loads(lakeplan("plan", "--json").stdout)["counts"]["stale"] == 0
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        top = conn.execute(sa.text("SELECT order_date, revenue FROM revenue_by_day ORDER BY revenue DESC")).first()
    engine.dispose()
    best = json.loads(next((tmp_path / "s" / "best_day").iterdir()).read_text())
    assert top is not None and best["day"] == top[0] and best["revenue"] == round(top[1], 2)

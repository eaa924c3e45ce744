"""Part 9: formats round-trip, data versions are content hashes, writes are atomic, reads are verified."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import Project

from assets_core import DefinitionError, StoreError
from assets_core.errors import CorruptedOutput
from assets_core.executor import run
from assets_core.output_check import OutputCheck
from assets_core.records import Head
from assets_core.step import Outcome
from io_managers import LocalObjectStore, choose_format, read, read_source_file, write
from io_managers.formats import EXTENSIONS, annotation_kind
from io_managers.version_store import LocalVersionStore

FRAME = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "amount": [1.5, 2.0, None]})


def put(store: LocalObjectStore, key: str, value: object, fmt: str | None = None) -> tuple[Any, dict[str, Any]]:
    fmt = fmt or choose_format(value, "auto")
    meta: dict[str, Any] = {}
    stored = store.put(key, EXTENSIONS[fmt], lambda out: meta.update(write(value, fmt, out)))
    return stored, meta


def roundtrip(tmp_path: Path, value: object, annotation: object, written_as: str | None = None) -> Any:
    store = LocalObjectStore(tmp_path / "store")
    stored, _ = put(store, "k", value)
    fmt = {"parquet": "parquet", "json": "json", "pkl": "pickle"}[stored.location.rsplit(".", 1)[1]]
    return read(store.fetch(stored.location, stored.data_version), fmt, annotation, written_as)


def output_files(root: Path) -> list[Path]:
    """Files visible under the store's output names (everything but the temp directory)."""
    return [p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts]


# -- formats ----------------------------------------------------------------------------------------


def test_pandas_round_trip_and_cross_library_reads(tmp_path: Path) -> None:
    back = roundtrip(tmp_path, FRAME, pd.DataFrame)
    pd.testing.assert_frame_equal(back, FRAME)
    as_polars = roundtrip(tmp_path, FRAME, pl.DataFrame)
    assert isinstance(as_polars, pl.DataFrame) and as_polars.to_dict(as_series=False) == {
        "id": [1, 2, 3],
        "name": ["a", "b", "c"],
        "amount": [1.5, 2.0, None],
    }
    as_arrow = roundtrip(tmp_path, FRAME, pa.Table)
    assert isinstance(as_arrow, pa.Table) and as_arrow.num_rows == 3
    lazy = roundtrip(tmp_path, FRAME, pl.LazyFrame)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect().height == 3
    pd.testing.assert_frame_equal(roundtrip(tmp_path, FRAME, None, "pandas"), FRAME)


def test_polars_round_trip_and_read_as_pandas(tmp_path: Path) -> None:
    frame = pl.DataFrame({"day": ["2026-01-01", "2026-01-02"], "revenue": [10.25, 3.0]})
    back = roundtrip(tmp_path, frame, pl.DataFrame)
    assert back.equals(frame)
    assert roundtrip(tmp_path, frame, None, "polars").equals(frame)  # unannotated: as it was written
    as_pandas = roundtrip(tmp_path, frame, pd.DataFrame)
    pd.testing.assert_frame_equal(as_pandas, frame.to_pandas())
    lazy_written = roundtrip(tmp_path, frame.lazy(), pl.DataFrame)
    assert lazy_written.equals(frame)


def test_pyarrow_round_trip(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2], "y": ["p", "q"]})
    assert roundtrip(tmp_path, table, pa.Table).equals(table)
    assert roundtrip(tmp_path, table, pd.DataFrame)["y"].tolist() == ["p", "q"]


def test_table_metadata_has_rows_and_schema(tmp_path: Path) -> None:
    _, meta = put(LocalObjectStore(tmp_path), "t", FRAME)
    assert meta["rows"] == 3
    assert meta["columns"]["id"] == "int64" and meta["columns"]["amount"] == "double"
    assert meta["columns"]["name"] in ("string", "large_string")  # pandas 3 strings are large_string
    assert meta["python_type"] == "pandas"


@pytest.mark.parametrize("value", [{"a": 1, "b": [1, 2.5, None, "x"]}, [1, 2, 3], "text", 3, 2.5, True, None])
def test_json_values_round_trip_as_json(tmp_path: Path, value: object) -> None:
    assert choose_format(value, "auto") == "json"
    assert roundtrip(tmp_path, value, None) == value


@pytest.mark.parametrize("value", [(1, 2), {1: "int keys"}, float("nan"), {"a": {1, 2}}, b"bytes"])
def test_values_json_cannot_keep_exactly_are_pickled(tmp_path: Path, value: object) -> None:
    assert choose_format(value, "auto") == "pickle"
    back = roundtrip(tmp_path, value, None)
    assert back == value or (isinstance(value, float) and back != back)


class Model:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.weights == self.weights

    __hash__ = None  # type: ignore[assignment]


def test_objects_round_trip_with_pickle(tmp_path: Path) -> None:
    model = Model([0.5, -1.0])
    assert choose_format(model, "auto") == "pickle"
    assert roundtrip(tmp_path, model, Model) == model


def test_requested_formats_that_cannot_hold_the_value_are_refused() -> None:
    with pytest.raises(DefinitionError, match="io_manager='json' cannot store"):
        write(Model([1.0]), "json", io.BytesIO())
    with pytest.raises(DefinitionError, match="io_manager='parquet' needs a pandas, polars or pyarrow table"):
        write({"a": 1}, "parquet", io.BytesIO())
    assert choose_format({"a": 1}, "pickle") == "pickle"


def test_annotation_kinds() -> None:
    assert [annotation_kind(a) for a in (pd.DataFrame, pl.DataFrame, pl.LazyFrame, pa.Table, dict, None)] == [
        "pandas",
        "polars",
        "polars-lazy",
        "pyarrow",
        None,
        None,
    ]


def test_source_files_are_read_as_annotated(tmp_path: Path) -> None:
    csv = tmp_path / "orders.csv"
    csv.write_text("id,amount\n1,2.5\n2,3.0\n")
    assert read_source_file(csv, pd.DataFrame)["amount"].tolist() == [2.5, 3.0]
    assert read_source_file(csv, pl.DataFrame)["id"].to_list() == [1, 2]
    assert read_source_file(csv, pa.Table).num_rows == 2
    assert read_source_file(csv, pl.LazyFrame).collect().height == 2
    tsv = tmp_path / "o.tsv"
    tsv.write_text("a\tb\n1\t2\n")
    assert read_source_file(tsv, None).columns.tolist() == ["a", "b"]
    (tmp_path / "c.json").write_text('{"k": [1]}')
    assert read_source_file(tmp_path / "c.json", None) == {"k": [1]}
    (tmp_path / "raw.bin").write_bytes(b"\x00\x01")
    assert read_source_file(tmp_path / "raw.bin", None) == b"\x00\x01"


# -- data versions ------------------------------------------------------------------------------------


def test_identical_output_gives_an_identical_version(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")
    for value in (FRAME, pl.from_pandas(FRAME), {"b": 1, "a": 2}, Model([1.0])):
        first, _ = put(store, "k", value)
        rebuilt = (
            value.copy()
            if isinstance(value, pd.DataFrame)
            else pl.from_pandas(FRAME)
            if isinstance(value, pl.DataFrame)
            else {"a": 2, "b": 1}
            if isinstance(value, dict)
            else Model([1.0])
        )
        second, _ = put(store, "k", rebuilt)
        assert first == second
        assert first.location == f"k/{first.data_version}.{first.location.rsplit('.', 1)[1]}"
    changed, _ = put(store, "k", FRAME.assign(id=[1, 2, 4]))
    assert changed.data_version != put(store, "k", FRAME)[0].data_version


def test_identical_tables_from_separate_processes_have_the_same_version(tmp_path: Path) -> None:
    script = (
        "import sys, pandas as pd; from pathlib import Path; from io_managers import LocalObjectStore, write\n"
        "s = LocalObjectStore(Path(sys.argv[1]))\n"
        "f = pd.DataFrame({'id': [1, 2], 'name': ['x', 'y']})\n"
        "print(s.put('t', 'parquet', lambda out: write(f, 'parquet', out)).data_version)\n"
    )
    versions = {
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / f"s{i}")], capture_output=True, text=True, check=True
        ).stdout.strip()
        for i in range(2)
    }
    assert len(versions) == 1


# -- atomic writes --------------------------------------------------------------------------------------


def test_a_writer_that_raises_halfway_leaves_nothing(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")

    def half(out: BinaryIO) -> None:
        out.write(b"x" * 100_000)
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError, match="crash mid-write"):
        store.put("k", "pkl", half)
    assert output_files(store.root) == []
    assert list((store.root / ".tmp").iterdir()) == []


def test_an_unstorable_value_fails_the_step_and_records_nothing(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import asset

        class Unpicklable:
            def __reduce__(self):
                raise TypeError("cannot pickle this")

        @asset
        def bad() -> object:
            return [b"x" * 1_000_000, Unpicklable()]
        """,
    )
    ws = sqlite_project.workspace()
    (result,) = run(ws, ["bad"]).results
    assert result.outcome is Outcome.FAILED
    assert "cannot store the value: TypeError: cannot pickle this" in result.message
    assert output_files(ws.settings.resolved_storage_root) == []
    assert "bad" not in ws.store.heads()
    assert [m.kind.value for m in ws.store.history("bad")] == ["failed"]


SLOW_WRITER = """
import os, time
from pathlib import Path
from assets_core import asset

class SlowToPickle:
    def __reduce__(self):
        marker = os.environ.get("LP_TEST_MARKER")
        if marker:
            Path(marker).write_text("writing")
            time.sleep(60)
        return (int, (7,))

@asset
def big() -> object:
    return [b"x" * 2_000_000, SlowToPickle()]

@asset
def after(big: object) -> int:
    return len(big)
"""


def test_a_process_killed_mid_write_leaves_no_output_and_no_record(sqlite_project: Project, tmp_path: Path) -> None:
    sqlite_project.write("pipeline", SLOW_WRITER)
    marker = tmp_path / "marker"
    env = {**sqlite_project.env(), "LP_TEST_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "assets_core", "materialize", "-m", sqlite_project.module()],
        cwd=sqlite_project.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the writer never started"
            time.sleep(0.05)
        storage = sqlite_project.settings().resolved_storage_root
        partial = [p for p in (storage / ".tmp").iterdir() if p.stat().st_size > 0]
        assert partial, "expected a half-written temp file at the moment of the kill"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert output_files(storage) == []
    ws = sqlite_project.workspace()
    assert ws.store.heads() == {}
    assert all(m.kind.value != "built" for m in ws.store.history("big"))
    assert [c.kind.value for c in ws.plan().statuses[0].causes] == ["MISSING"]
    # the next run, not killed, completes
    summary = run(ws, ["big", "after"])
    assert [r.outcome for r in summary.results] == [Outcome.BUILT, Outcome.BUILT]
    assert ws.plan().counts()["stale"] == 0


# -- verified reads ---------------------------------------------------------------------------------------


def test_fetch_detects_corruption_and_missing_files(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")
    stored, _ = put(store, "t", FRAME)
    assert store.fetch(stored.location, stored.data_version) == store.root / stored.location
    path = store.root / stored.location
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedOutput, match=r"is corrupted.*moved it to"):
        store.fetch(stored.location, stored.data_version)
    assert not store.exists(stored.location), "a corrupted output is moved aside, so it plans as MISSING"
    assert [p.read_bytes() for p in (store.root / ".quarantine").iterdir()] == [bytes(data)]
    with pytest.raises(StoreError, match="is gone"):
        store.fetch(stored.location, stored.data_version)


@pytest.mark.parametrize("location", ["../outside.pkl", "a/../../outside.pkl", "/etc/passwd", "..", "", "."])
def test_locations_escaping_the_root_are_refused(tmp_path: Path, location: str) -> None:
    store = LocalObjectStore(tmp_path / "s")
    (tmp_path / "outside.pkl").write_bytes(b"secret")
    with pytest.raises(StoreError, match="outside the storage root"):
        store.path(location)
    assert store.exists(location) is False
    with pytest.raises(StoreError):
        store.fetch(location, "0" * 64)


def test_the_batched_check_plans_every_gone_output_missing_and_nothing_else(tmp_path: Path) -> None:
    """A plan checks every recorded output in one batch (``missing``): whatever makes one unreadable must
    make it MISSING there, never FRESH."""
    store = LocalVersionStore(tmp_path / "s")
    stored = {key: put(store, key, {"key": key})[0] for key in ("kept", "nested/kept", "deleted", "dir", "parent")}
    (store.root / stored["deleted"].location).unlink()
    (store.root / stored["dir"].location).unlink()
    (store.root / stored["dir"].location).mkdir()  # something else in its place
    shutil.rmtree(store.root / "parent")
    (store.root / "parent").write_text("a file where the asset's directory was")
    heads = {key: Head(i, s.data_version, "c", {}, s.location, "r") for i, (key, s) in enumerate(stored.items())}
    heads["unsafe"] = Head(9, "0" * 64, "c", {}, "../outside.json", "r")
    (tmp_path / "outside.json").write_text("{}")
    gone = {"deleted", "dir", "parent", "unsafe"}
    assert store.missing({key: head.location for key, head in heads.items()}) == gone
    assert store.observe(heads, {}).missing == gone
    assert store.observe(heads, {}, outputs=OutputCheck.HASH).missing == gone  # re-hashed: the same ones gone
    assert store.observe(heads, {}, outputs=OutputCheck.TRUST).missing == frozenset()  # lakeplan plan: no I/O
    assert {key for key in heads if not store.exists(heads[key].location)} == gone
    assert store.missing({}) == frozenset()


def test_keys_with_slashes_nest_inside_the_root(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")
    stored, _ = put(store, "raw/orders", [1])
    assert stored.location.startswith("raw/orders/")
    assert (store.root / stored.location).is_file()
    assert os.path.commonpath([store.root, store.root / stored.location]) == str(store.root)


# -- through materialize: a table written by pandas read as polars, and back ------------------------------


def test_assets_read_each_others_tables_as_their_annotation_asks(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        import pandas as pd
        import polars as pl
        import pyarrow as pa
        from assets_core import asset

        @asset
        def by_pandas() -> pd.DataFrame:
            return pd.DataFrame({"x": [1, 2, 3]})

        @asset
        def by_polars(by_pandas: pl.DataFrame) -> pl.DataFrame:
            assert isinstance(by_pandas, pl.DataFrame)
            return by_pandas.with_columns((pl.col("x") * 2).alias("y"))

        @asset
        def back_to_pandas(by_polars: pd.DataFrame, by_pandas: pa.Table) -> dict:
            assert isinstance(by_polars, pd.DataFrame) and isinstance(by_pandas, pa.Table)
            return {"y": by_polars["y"].tolist(), "rows": by_pandas.num_rows}

        @asset
        def unannotated(by_polars):
            return type(by_polars).__module__.split(".")[0]
        """,
    )
    ws = sqlite_project.workspace()
    summary = run(ws, list(ws.graph.order))
    assert [r.outcome for r in summary.results] == [Outcome.BUILT] * 4, [r.message for r in summary.results]
    heads = ws.store.heads()
    path = ws.objects.fetch(heads["back_to_pandas"].location, heads["back_to_pandas"].data_version)
    assert read(path, "json", None, None) == {"y": [2, 4, 6], "rows": 3}
    path = ws.objects.fetch(heads["unannotated"].location, heads["unannotated"].data_version)
    assert read(path, "json", None, None) == "polars"  # unannotated input: the type its producer declared


def test_a_symlink_inside_the_root_pointing_outside_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")
    stored, _ = put(store, "t", FRAME)
    outside = tmp_path / "outside.parquet"
    outside.write_bytes((store.root / stored.location).read_bytes())
    (store.root / stored.location).unlink()
    (store.root / stored.location).symlink_to(outside)
    with pytest.raises(StoreError, match="links outside the storage root"):
        store.fetch(stored.location, stored.data_version)


def test_temp_files_of_dead_writers_are_cleared_and_live_ones_kept(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "s")
    put(store, "t", FRAME)  # creates .tmp
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname().replace(".", "_")
    leftover = store.root / ".tmp" / f"{host}.{dead.stdout.strip()}.t.abc123"
    live = store.root / ".tmp" / f"{host}.{os.getpid()}.t.def456"
    leftover.write_bytes(b"half")
    live.write_bytes(b"in progress")
    assert store.clear_stale_temp() == 1
    assert not leftover.exists() and live.exists()

"""Part 6: the metadata store, run on SQLite and on PostgreSQL (``database_url`` is parametrized)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from conftest import REPO

from assets_core import ConfigError, Materialization, MaterializationKind, RunRecord, RunStatus, StoreError
from assets_core.metadata_store import MetadataStore, RecordConflict
from assets_core.records import new_run_id, recipe_of
from assets_core.schema import SCHEMA_REVISION


def mat(key: str, data: str, *, run: str = "r1", code: str = "c1", inputs: dict[str, str] | None = None,
        kind: MaterializationKind = MaterializationKind.BUILT) -> Materialization:  # fmt: skip
    return Materialization(
        asset_key=key,
        run_id=run,
        kind=kind,
        code_version=code,
        input_versions=inputs or {},
        data_version=data,
        location=f"{key}/{data}.parquet",
        started_at=100.0,
        finished_at=101.5,
        metadata={"rows": 3, "columns": {"a": "int64"}},
        code_components={"pkg.mod.fn": "h"},
    )


@pytest.fixture
def store(database_url: str) -> Iterator[MetadataStore]:
    opened = MetadataStore.open(database_url)
    yield opened
    opened.close()


def test_open_creates_the_schema_at_the_current_revision(store: MetadataStore) -> None:
    with store.engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert {"lp_runs", "lp_materializations", "lp_heads", "alembic_version"} <= tables
    assert revision == SCHEMA_REVISION


def test_the_migrations_build_exactly_the_tables_schema_py_declares(store: MetadataStore) -> None:
    """schema.py and migrations/ describe one schema: a change to one without the other fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from assets_core.schema import metadata

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_reopening_is_a_no_op_and_keeps_data(database_url: str) -> None:
    first = MetadataStore.open(database_url)
    first.record(mat("a", "d1"), None)
    first.close()
    again = MetadataStore.open(database_url)
    with again.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar() == 1
    assert again.heads()["a"].data_version == "d1"
    again.close()


def test_record_heads_and_history(store: MetadataStore) -> None:
    first = store.record(mat("a", "d1"), None)
    second = store.record(mat("a", "d2", run="r2", inputs={"up": "u1"}), first)
    store.record(mat("b", "x1"), None)
    heads = store.heads()
    assert set(heads) == {"a", "b"}
    head = heads["a"]
    assert (head.id, head.data_version, head.code_version, head.input_versions, head.location, head.run_id) == (
        second,
        "d2",
        "c1",
        {"up": "u1"},
        "a/d2.parquet",
        "r2",
    )
    assert set(store.heads(["a"])) == {"a"}
    assert store.heads(["nope"]) == {}
    assert set(store.heads([f"k{i}" for i in range(600)] + ["b"])) == {"b"}  # the large-selection path
    history = store.history("a")
    assert [m.data_version for m in history] == ["d2", "d1"]
    newest = history[0]
    assert newest.kind is MaterializationKind.BUILT
    assert (newest.started_at, newest.finished_at) == (100.0, 101.5)
    assert newest.metadata == {"rows": 3, "columns": {"a": "int64"}}
    assert newest.code_components == {"pkg.mod.fn": "h"}
    assert newest.id == second
    assert [m.data_version for m in store.history("a", limit=1)] == ["d2"]
    assert [m.asset_key for m in store.run_materializations("r1")] == ["a", "b"]


def test_compare_and_set_conflict_records_nothing(store: MetadataStore) -> None:
    first = store.record(mat("a", "d1"), None)
    store.record(mat("a", "d2"), first)
    with pytest.raises(RecordConflict):
        store.record(mat("a", "stale-writer"), first)  # the head moved on since this writer read it
    with pytest.raises(RecordConflict):
        store.record(mat("a", "first-writer-again"), None)  # expected no head, but there is one
    assert store.heads()["a"].data_version == "d2"
    assert [m.data_version for m in store.history("a")] == ["d2", "d1"]


def test_failures_are_recorded_without_moving_heads(store: MetadataStore) -> None:
    ok = store.record(mat("a", "d1"), None)
    failed = Materialization("a", "r2", MaterializationKind.FAILED, "c2", {}, error="ValueError: boom (p.py:3)")
    store.record_failure(failed)
    assert store.heads()["a"].id == ok
    newest = store.history("a")[0]
    assert (newest.kind, newest.error, newest.data_version) == (
        MaterializationKind.FAILED,
        "ValueError: boom (p.py:3)",
        None,
    )
    store.record_failure(Materialization("new", "r2", MaterializationKind.FAILED, "c", {}, error="x"))
    assert "new" not in store.heads()


def test_reusable_finds_identical_recipes_only(store: MetadataStore) -> None:
    first = store.record(mat("a", "d1", inputs={"u": "1"}), None)
    second = store.record(mat("a", "d2", code="c2", inputs={"u": "1"}), first)
    store.record_failure(Materialization("a", "r3", MaterializationKind.FAILED, "c1", {"u": "1"}, error="boom"))
    found = store.reusable("a", recipe_of("c1", {"u": "1"}))
    assert [m.data_version for m in found] == ["d1"]
    assert store.reusable("a", recipe_of("c1", {"u": "2"})) == []
    assert [m.id for m in store.reusable("a", recipe_of("c2", {"u": "1"}))] == [second]


def test_runs(store: MetadataStore) -> None:
    older = RunRecord("20260101-000000-aaaaaa", 1.0, RunStatus.RUNNING, "*", environment={"python": "3"})
    newer = RunRecord(new_run_id(), time.time(), RunStatus.RUNNING, "group:x")
    store.start_run(older)
    store.start_run(newer)
    store.finish_run(older.run_id, RunStatus.FAILED, {"built": 1, "failed": 1})
    assert [r.run_id for r in store.runs()] == [newer.run_id, older.run_id]
    assert [r.run_id for r in store.runs(limit=1)] == [newer.run_id]
    done = store.run(older.run_id)
    assert done is not None
    assert (done.status, done.counts, done.environment, done.selection) == (
        RunStatus.FAILED,
        {"built": 1, "failed": 1},
        {"python": "3"},
        "*",
    )
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.run("nope") is None


_OPEN_AND_RECORD = """
import sys
from assets_core.metadata_store import MetadataStore, RecordConflict
from assets_core.records import Materialization, MaterializationKind
store = MetadataStore.open(sys.argv[1])
m = Materialization("shared", sys.argv[2], MaterializationKind.BUILT, "c", {}, "d-" + sys.argv[2], "shared/x.json")
try:
    store.record(m, None)
    print("recorded")
except RecordConflict:
    print("conflict")
"""


def test_concurrent_opening_and_recording_from_two_processes(database_url: str) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AND_RECORD, database_url, name],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    assert sorted(out.strip() for out, _ in outputs) == ["conflict", "recorded"]
    store = MetadataStore.open(database_url)
    assert len(store.history("shared")) == 1
    assert store.heads()["shared"].run_id in ("p1", "p2")
    store.close()


def test_unreachable_database_is_one_line_with_the_password_masked() -> None:
    with pytest.raises(StoreError) as caught:
        MetadataStore.open("postgresql://nobody:s3cret-pw@127.0.0.1:1/x")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert "postgresql://nobody:***@127.0.0.1:1/x" in message
    assert "LAKEPLAN_DATABASE_URL" in message


@pytest.mark.parametrize(
    "url",
    ["not a url", "http://example/x", "mysql://user:pw@127.0.0.1/db", ""],
)
def test_invalid_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MetadataStore.open(url)
    assert "\n" not in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_sqlite_uses_wal(tmp_path: object) -> None:
    store = MetadataStore.open(f"sqlite:///{tmp_path}/db/lp.db")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()

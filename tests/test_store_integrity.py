"""Store integrity (issue 12, items 6 and 7): a store lakeplan cannot read is refused in one line and left
unchanged (a newer schema revision, an empty or foreign SQLite file); a run leaves ``lakeplan.db`` whole.

Each fault is the real thing: the revision row rewritten in a real SQLite / PostgreSQL store, the file
truncated or replaced on disk, the database file copied without its ``-wal`` after a real CLI run.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import REPO, Project
from sample_pipelines import TWO_ASSETS

from assets_core import StoreError
from assets_core.metadata_store import MetadataStore
from assets_core.schema import SCHEMA_REVISION


def _revision(url: str) -> str:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def test_a_store_from_a_newer_lakeplan_is_refused_and_left_alone(project: Project) -> None:
    """Any revision this lakeplan's migrations do not know is newer: refused in one line naming both
    revisions and the fix, with no attempt to migrate (it was an 85-line alembic traceback)."""
    MetadataStore.open(project.database_url).close()
    newer = f"{int(SCHEMA_REVISION) + 97:04d}"
    store = MetadataStore.open(project.database_url)
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": newer})
    store.close()
    with pytest.raises(StoreError) as caught:
        MetadataStore.open(project.database_url)
    message = str(caught.value)
    assert f"schema revision '{newer}', newer than this lakeplan's '{SCHEMA_REVISION}'" in message
    assert "upgrade lakeplan" in message and "\n" not in message
    assert _revision(project.database_url) == newer, "a newer store must not be touched"

    project.write("pipeline", TWO_ASSETS)
    result = project.cli("plan", "-m", project.module())
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {message}"]


def _cli_error(project: Project) -> tuple[int, list[str]]:
    result = project.cli("materialize", "-m", project.module())
    assert "Traceback" not in result.stderr and not result.stdout, result
    return result.returncode, result.stderr.strip().splitlines()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty (0 bytes), not a lakeplan store: its history is gone; restore it from a backup"),
        (b"orders,total\n1,2\n" * 500, "is not an SQLite database (it starts with b'orders,t')"),
        ("foreign-sqlite", "is an SQLite database lakeplan did not create (it holds customers, invoices)"),
        (b"SQLite format 3\x00" + b"\xff" * 8000, "cannot read metadata store file"),  # a damaged database
    ],
)
def test_an_empty_or_foreign_sqlite_file_is_refused_not_reused(
    sqlite_project: Project, content: bytes | str, expected: str
) -> None:
    """A zero-byte file used to open as a new, empty store (history lost, everything rebuilt, exit 0)."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    db = Path(sqlite_project.database_url.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True)
    if content == "foreign-sqlite":
        with sqlite3.connect(db) as conn:
            conn.executescript("CREATE TABLE customers (id); CREATE TABLE invoices (id);")
        conn.close()
    else:
        assert isinstance(content, bytes)
        db.write_bytes(content)
    before = db.read_bytes()
    code, lines = _cli_error(sqlite_project)
    assert code == 3 and len(lines) == 1 and expected in lines[0], lines
    assert db.read_bytes() == before, "the refused file must be left exactly as it was"
    assert not list(sqlite_project.root.glob(".lakeplan/storage/*/*")), "nothing may be built"


def test_concurrent_first_opens_of_a_new_sqlite_store_all_succeed(tmp_path: Path) -> None:
    """A new store's file appears whole (built aside, hard-linked in), so processes racing to create it never
    see the empty file SQLite creates and refuse it."""
    db = tmp_path / "state" / "lakeplan.db"
    go = tmp_path / "go"
    script = (
        "import sys, time, pathlib\n"
        "from assets_core.metadata_store import MetadataStore\n"
        f"while not pathlib.Path({str(go)!r}).exists(): time.sleep(0.001)\n"
        f"MetadataStore.open({f'sqlite:///{db}'!r}).close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(8)
    ]
    time.sleep(1.5)  # let every process import and wait at the barrier
    go.touch()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    assert sorted(f.name for f in db.parent.iterdir() if not f.name.startswith("lakeplan.db")) == []
    assert _revision(f"sqlite:///{db}") == SCHEMA_REVISION


def test_a_run_leaves_every_record_in_the_database_file(sqlite_project: Project, tmp_path: Path) -> None:
    """The WAL is checkpointed when a run ends: a copy of lakeplan.db alone (no -wal) holds the run and all
    its materializations (it used to hold no table at all after a first run)."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--force", "--workers", "2", check=True)
    db = Path(sqlite_project.database_url.removeprefix("sqlite:///"))
    copy = tmp_path / "backup" / "lakeplan.db"
    copy.parent.mkdir()
    shutil.copyfile(db, copy)  # the database file only, as a naive backup or `cp` does
    with sqlite3.connect(copy) as conn:
        runs = conn.execute("SELECT status FROM lp_runs").fetchall()
        built = conn.execute("SELECT count(*) FROM lp_materializations WHERE kind = 'built'").fetchone()
    conn.close()
    assert runs == [("success",), ("success",)] and built == (4,)


def test_plan_verify_finds_a_corrupted_output_nothing_has_read(sqlite_project: Project) -> None:
    """A flipped bit in a stored output: plain ``plan`` only checks that the file exists, so it plans fresh;
    ``plan --verify`` re-hashes it, moves it to ``.quarantine/`` and plans it MISSING; the next run rebuilds
    exactly that asset (same bytes, same version, so its downstream stays fresh)."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    storage = sqlite_project.root / ".lakeplan" / "storage"
    (output,) = (storage / "a").iterdir()
    data = bytearray(output.read_bytes())
    data[0] ^= 1
    output.write_bytes(bytes(data))

    def statuses(*flags: str) -> dict[str, str]:
        shown = json.loads(sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", *flags).stdout)
        return {entry["key"]: entry["status"] for entry in shown["assets"]}

    assert statuses() == {"a": "FRESH", "b": "FRESH"}
    assert statuses("--verify") == {"a": "STALE", "b": "STALE"}
    assert not output.exists() and len(list((storage / ".quarantine").iterdir())) == 1
    rebuilt = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--json", check=True)
    assert json.loads(rebuilt.stdout)["counts"]["built"] == 1
    assert output.read_bytes() != bytes(data) and statuses() == {"a": "FRESH", "b": "FRESH"}


def test_a_store_opened_again_in_a_process_still_sees_other_processes_commits(tmp_path: Path) -> None:
    """A second ``MetadataStore`` on the same SQLite file in one process (``lakeplan ui`` loads a new
    workspace when the project changes) read the file's header with a descriptor whose close released
    SQLite's locks; another process ending its last connection then deleted the WAL the first store's
    connection read, and that connection never saw a newer commit again."""
    url = f"sqlite:///{tmp_path / 'state' / 'lakeplan.db'}"
    MetadataStore.open(url).close()
    first = MetadataStore.open(url)
    assert first.latest_id() == 0  # its connection stays open in the pool
    MetadataStore.open(url).close()
    record = (
        "import sys\n"
        "from assets_core.metadata_store import MetadataStore\n"
        "from assets_core.schema import materializations\n"
        f"store = MetadataStore.open({url!r})\n"
        "row = dict(asset_key='a', run_id='r', kind='failed', code_version='-', recipe='-', input_versions='{}',\n"
        "           started_at=1.0, finished_at=1.0, metadata='{}', code_components='{}')\n"
        "with store.engine.begin() as conn:\n"
        "    conn.execute(materializations.insert(), [row])\n"
        "store.close()\n"
    )
    try:
        for count in (1, 2, 3):
            subprocess.run([sys.executable, "-c", record], cwd=REPO, check=True, timeout=60)
            assert first.latest_id() == count
    finally:
        first.close()

"""The metadata store: runs and materializations on SQLAlchemy 2 (SQLite by default, PostgreSQL by URL).

Materializations are append-only. ``lp_heads`` points each asset at its current one and is only ever
moved by compare-and-set, so a duplicated or slower step can never overwrite a newer version.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from json.scanner import make_scanner
from pathlib import Path
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from .bulk import collector_paused
from .claims import Claim, ClaimRead, Taken
from .errors import ConfigError, ExitCode, StoreError
from .masking import mask_url
from .records import CheckRecord, Head, Materialization, MaterializationKind, RunRecord, RunStatus, recipe_of
from .schema import SCHEMA_REVISION, check_results, claims, heads, materializations, metadata, runs
from .sqlite_file import check_or_create

_MIGRATION_LOCK = 7_201_415  # PostgreSQL advisory lock id held while migrating


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# For the one column read for every asset on every plan: json.loads wraps this in two whitespace regex
# matches per call, which cost as much as the parsing, and raw_decode in a Python call; what _dumps wrote
# has no surrounding whitespace, so the decoder's C scanner reads it whole from index 0.
_scan_compact = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed types its context as itself


def _missing_sqlite_file(url: str) -> bool:
    """True for a SQLite URL naming a file that does not exist (yet)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return False  # reported by _engine
    database = parsed.database
    in_file = parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:")
    return in_file and not parsed.query.get("uri") and not Path(str(database)).exists()


def _engine(url: str, read_only: bool = False) -> Engine:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"database URL {mask_url(url)!r} is not valid; use e.g. postgresql://user@host:5432/db or sqlite:///path.db"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, read_only)
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4)
    except NoSuchModuleError:
        raise ConfigError(
            f"database URL {mask_url(url)!r}: unsupported database; use sqlite:/// or postgresql://"
        ) from None
    except ImportError as exc:  # a dialect SQLAlchemy knows whose driver is not installed (e.g. mysql://)
        raise ConfigError(
            f"database URL {mask_url(url)!r}: its driver is not installed ({exc}); use sqlite:/// or postgresql://"
        ) from None


def _sqlite_engine(url: sa.URL, read_only: bool = False) -> Engine:
    """``read_only``: the file exists (a missing one is an AbsentStore), so the check creates nothing; and
    the journal mode is left alone (lakeplan's own files are WAL already)."""
    if url.database and url.database != ":memory:" and not url.query.get("uri"):
        check_or_create(Path(url.database))
    engine = sa.create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock up front, so two processes never deadlock upgrading a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def _known_revisions(config: Any) -> set[str]:
    """Every schema revision this lakeplan's migrations know (any other one comes from a newer lakeplan)."""
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


class OutdatedStore(StoreError):
    """A read-only command found the lakeplan schema at another revision; it reads nothing and migrates nothing."""

    exit_code = ExitCode.USAGE


class RecordConflict(Exception):
    """Another writer moved the asset's head first; nothing was recorded."""


def _materialization(row: Any) -> Materialization:
    return Materialization(
        asset_key=row.asset_key,
        run_id=row.run_id,
        kind=MaterializationKind(row.kind),
        code_version=row.code_version,
        input_versions=json.loads(row.input_versions),
        data_version=row.data_version,
        location=row.location,
        started_at=row.started_at,
        finished_at=row.finished_at,
        metadata=json.loads(row.metadata),
        error=row.error,
        code_components=json.loads(row.code_components),
        id=row.id,
        traceback=row.traceback,
        log=row._mapping.get("log"),
    )


def _check(row: Any) -> CheckRecord:
    return CheckRecord(
        asset_key=row.asset_key,
        check_name=row.check_name,
        run_id=row.run_id,
        code_version=row.code_version,
        passed=bool(row.passed),
        severity=row.severity,
        blocking=bool(row.blocking),
        metadata=json.loads(row.metadata),
        error=row.error,
        started_at=row.started_at,
        finished_at=row.finished_at,
        materialization_id=row.materialization_id,
        data_version=row.data_version,
        id=row.id,
    )


# A check result with the data version of the output it checked (results are facts about a data version).
_CHECKS = sa.select(check_results, materializations.c.data_version).join(
    materializations, materializations.c.id == check_results.c.materialization_id
)


def _run(row: Any) -> RunRecord:
    return RunRecord(
        run_id=row.run_id,
        started_at=row.started_at,
        status=RunStatus(row.status),
        selection=row.selection,
        finished_at=row.finished_at,
        counts=json.loads(row.counts),
        environment=json.loads(row.environment),
    )


# Every column but ``log`` (up to step_log.MAX_LOG_BYTES per attempt): audits read whole histories, and
# only ``MetadataStore.attempts`` needs what an asset printed.
_RECORD = sa.select(*(c for c in materializations.c if c.name != "log"))
_ATTEMPT_KINDS = (MaterializationKind.BUILT.value, MaterializationKind.FAILED.value)

_HEAD_COLUMNS = (
    materializations.c.id,
    materializations.c.asset_key,
    materializations.c.data_version,
    materializations.c.code_version,
    materializations.c.input_versions,
    materializations.c.location,
    materializations.c.run_id,
)

# The statements every step runs, built once with bound parameters: building a SQLAlchemy statement
# costs about as much CPU as running it on SQLite.
_HEADS = sa.select(*_HEAD_COLUMNS).join(heads, heads.c.materialization_id == materializations.c.id)


@functools.cache
def _heads_of(count: int) -> sa.Select[Any]:
    """The heads of ``count`` keys bound as ``k0``...: one statement per count, compiled once (an expanding
    IN parameter is rendered again on every execution, which cost a step as much as running it)."""
    return _HEADS.where(heads.c.asset_key.in_([sa.bindparam(f"k{i}") for i in range(count)]))


_REUSABLE = (
    _RECORD.where(
        materializations.c.asset_key == sa.bindparam("key"), materializations.c.recipe == sa.bindparam("recipe")
    )
    .where(  # a failed attempt with an output failed only its checks: re-checked, not rebuilt, when they change
        sa.or_(materializations.c.kind != MaterializationKind.FAILED.value, materializations.c.location.is_not(None))
    )
    .order_by(materializations.c.id.desc())
    .limit(5)
)
_MOVE_HEAD = (
    heads.update()
    .where(heads.c.asset_key == sa.bindparam("b_key"), heads.c.materialization_id == sa.bindparam("b_expected"))
    .values(materialization_id=sa.bindparam("b_new_id"), updated_at=sa.bindparam("b_now"))
)
# Taking a free claim is one statement: an insert that does nothing when the asset is claimed already
# (its row count says which; psycopg reports it for an INSERT only when asked to keep it).
_CLAIM_FREE = {
    name: dialect.insert(claims)
    .on_conflict_do_nothing(index_elements=[claims.c.asset_key])
    .execution_options(preserve_rowcount=True)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_CLAIM_OF = sa.select(claims).where(claims.c.asset_key == sa.bindparam("key")).with_for_update()
_TAKE_OVER = (
    claims.update()
    .where(claims.c.asset_key == sa.bindparam("b_key"))
    .values(
        run_id=sa.bindparam("b_run_id"),
        holder=sa.bindparam("b_holder"),
        claimed_at=sa.bindparam("b_claimed_at"),
        expires_at=sa.bindparam("b_expires_at"),
    )
)
_OUR_CLAIM = (
    claims.c.asset_key == sa.bindparam("b_key"),
    claims.c.holder == sa.bindparam("b_holder"),
    claims.c.run_id == sa.bindparam("b_run_id"),
)
_RELEASE_CLAIM = claims.delete().where(*_OUR_CLAIM)
_RENEW_CLAIM = claims.update().where(*_OUR_CLAIM).values(expires_at=sa.bindparam("b_expires_at"))


def _claim_params(claim: Claim) -> dict[str, str]:
    """Bound parameters naming a claim as ours (asset, holder, run), for renew and release."""
    return {"b_key": claim.asset_key, "b_holder": claim.holder, "b_run_id": claim.run_id}


def _heads(conn: Connection, keys: Collection[str] | None) -> dict[str, Head]:
    """The heads of ``keys`` (default: every asset), read on ``conn``."""
    with collector_paused():
        if keys is not None and len(keys) <= 500:
            rows: Sequence[Any] = conn.execute(_heads_of(len(keys)), {f"k{i}": key for i, key in enumerate(keys)}).all()
        else:
            rows = _every_head_row(conn)
        # The hot loop of a plan, which reads every head: rows unpacked like tuples, each Head made by
        # tuple.__new__ (its NamedTuple constructor is a Python call) and its inputs parsed by the C scanner.
        new, parse = tuple.__new__, _scan_compact
        found = {
            key: new(Head, (id_, data, code, parse(inputs, 0)[0], location, run))
            for id_, key, data, code, inputs, location, run in rows
        }
    if keys is not None and len(keys) > 500:
        found = {k: v for k, v in found.items() if k in keys}
    return found


_EVERY_HEAD_SQL: dict[str, str] = {}  # _HEADS as SQL text, by dialect name (it has no parameters)


def _every_head_row(conn: Connection) -> list[tuple[Any, ...]]:
    """Every head's row as a plain tuple, fetched with the driver's own cursor (sqlite3 or psycopg):
    SQLAlchemy's result rows cost a plan reading every head more than the query does. Driver errors are
    raised as SQLAlchemy's, as ``conn.execute`` would."""
    dbapi = conn.dialect.loaded_dbapi
    sql = _EVERY_HEAD_SQL.get(conn.dialect.name) or _EVERY_HEAD_SQL.setdefault(
        conn.dialect.name, str(_HEADS.compile(dialect=conn.dialect))
    )
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    except dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _reusable(conn: Connection, asset_key: str, recipe: str) -> list[Materialization]:
    return [_materialization(r) for r in conn.execute(_REUSABLE, {"key": asset_key, "recipe": recipe})]


class MetadataStore:
    """Runs, materializations and heads in one SQL database; safe for several processes at once."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str, create: bool = True) -> MetadataStore:
        """Connect, and create or upgrade the schema if it is behind this version of lakeplan.

        ``create=False`` (read-only commands) changes nothing: no folder, file, schema or migration. A
        database with no lakeplan schema yet opens as an ``AbsentStore`` (no records); one at another
        revision raises OutdatedStore.
        """
        if not create:
            return cls._open_existing(url)
        store = cls(_engine(url), url)
        with store._errors("open"):
            store._migrate()
        return store

    @classmethod
    def _open_existing(cls, url: str) -> MetadataStore:
        if _missing_sqlite_file(url):
            return AbsentStore(url)
        store = cls(_engine(url, read_only=True), url)
        with store._read() as conn:
            revision = store._revision(conn)
        if revision == SCHEMA_REVISION:
            return store
        store.close()
        if revision is None:
            return AbsentStore(url)
        store._refuse_newer(revision, _alembic_config())
        raise OutdatedStore(
            f"metadata store {store.describe()} has lakeplan schema revision {revision}, this lakeplan uses "
            f"{SCHEMA_REVISION}; run 'lakeplan materialize' to upgrade it (read-only commands never migrate)"
        )

    def describe(self) -> str:
        return mask_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except IntegrityError:
            raise  # a lost compare-and-set race, handled by the caller
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreError(
                f"cannot {action} metadata store {self.describe()}: {reason}; "
                "check LAKEPLAN_DATABASE_URL / [tool.lakeplan] database_url and that the server is running"
            ) from None
        except DBAPIError as exc:
            raise StoreError(f"metadata store {self.describe()} failed to {action}: {exc.orig}") from None

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._errors("write to"), self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._errors("read from"), self.engine.connect() as conn:
            yield conn

    def _migrate(self) -> None:
        """Upgrade a store that is behind; refuse one with a newer schema instead of changing it."""
        with self._read() as conn:
            found = self._revision(conn)
            if found == SCHEMA_REVISION:
                return
        from alembic import command

        config = _alembic_config()
        self._refuse_newer(found, config)
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def _refuse_newer(self, found: str | None, config: Any) -> None:
        """Raise for a schema revision this lakeplan's migrations do not know (a newer lakeplan's)."""
        if found is not None and found not in _known_revisions(config):
            raise StoreError(
                f"metadata store {self.describe()} has schema revision {found!r}, newer than this lakeplan's "
                f"{SCHEMA_REVISION!r} (a newer lakeplan upgraded it); upgrade lakeplan here "
                "(pip install -U lakeplan) to use it; nothing was changed"
            )

    @staticmethod
    def _revision(conn: Connection) -> str | None:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    # -- reads -----------------------------------------------------------------------------------

    def heads(self, keys: Collection[str] | None = None) -> dict[str, Head]:
        """Current materialization of each asset (all assets, or those in ``keys``)."""
        with self._read() as conn:
            return _heads(conn, keys)

    def reusable(self, asset_key: str, recipe: str) -> list[Materialization]:
        """Earlier outputs with this exact recipe, newest first (memoized restore): successful ones, and those
        that failed only their checks (restoring one runs its checks again)."""
        with self._read() as conn:
            return _reusable(conn, asset_key, recipe)

    def history(self, asset_key: str, limit: int | None = None) -> list[Materialization]:
        """Every materialization of an asset, newest first."""
        query = _RECORD.where(materializations.c.asset_key == asset_key).order_by(materializations.c.id.desc())
        with self._read() as conn:
            return [_materialization(r) for r in conn.execute(query.limit(limit))]

    def attempts(self, asset_key: str, run_id: str | None = None, limit: int | None = None) -> list[Materialization]:
        """The asset's attempts that ran its code (built or failed), newest first, each with its ``log``
        (what the code printed); all runs, or only ``run_id``."""
        query = sa.select(materializations).where(
            materializations.c.asset_key == asset_key, materializations.c.kind.in_(_ATTEMPT_KINDS)
        )
        if run_id is not None:
            query = query.where(materializations.c.run_id == run_id)
        with self._read() as conn:
            return [
                _materialization(r) for r in conn.execute(query.order_by(materializations.c.id.desc()).limit(limit))
            ]

    def recorded_keys(self) -> list[str]:
        """Every asset with a recorded materialization, sorted: today's code may no longer declare some."""
        query = sa.select(materializations.c.asset_key).distinct().order_by(materializations.c.asset_key)
        with self._read() as conn:
            return list(conn.execute(query).scalars())

    def histories(self) -> dict[str, list[Materialization]]:
        """Every recorded asset's history, newest first, in one read (for audits over all of them)."""
        query = _RECORD.order_by(materializations.c.id.desc())
        found: dict[str, list[Materialization]] = {}
        with self._read() as conn:
            for row in conn.execute(query):
                found.setdefault(row.asset_key, []).append(_materialization(row))
        return found

    def failed_latest(self) -> set[str]:
        """The assets whose newest materialization is a failed attempt, in one read (the graph's red nodes)."""
        newest = sa.select(sa.func.max(materializations.c.id)).group_by(materializations.c.asset_key)
        query = sa.select(materializations.c.asset_key).where(
            materializations.c.id.in_(newest), materializations.c.kind == MaterializationKind.FAILED.value
        )
        with self._read() as conn:
            return set(conn.execute(query).scalars())

    def latest_id(self) -> int:
        """The newest materialization's id (0 when none): it changes whenever anything is recorded."""
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.max(materializations.c.id))).scalar() or 0)

    def run_materializations(self, run_id: str) -> list[Materialization]:
        query = _RECORD.where(materializations.c.run_id == run_id).order_by(materializations.c.id)
        with self._read() as conn:
            return [_materialization(r) for r in conn.execute(query)]

    def check_results(self, versions: Mapping[str, str]) -> dict[str, list[CheckRecord]]:
        """Every check result recorded on each asset's given data version (``{key: data_version}``), oldest
        first: what the planner needs to know which checks a current version still owes."""
        found: dict[str, list[CheckRecord]] = {}
        keys = sorted(versions)
        with self._read() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = _CHECKS.where(
                    check_results.c.asset_key.in_(chunk),
                    materializations.c.data_version.in_(sorted({versions[k] for k in chunk})),
                ).order_by(check_results.c.id)
                for row in conn.execute(query):
                    if versions[row.asset_key] == row.data_version:
                        found.setdefault(row.asset_key, []).append(_check(row))
        return found

    def checks_of(self, materialization_ids: Collection[int]) -> dict[int, list[CheckRecord]]:
        """The check results recorded against each of these materializations, oldest first."""
        found: dict[int, list[CheckRecord]] = {}
        ids = sorted(materialization_ids)
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                query = _CHECKS.where(check_results.c.materialization_id.in_(ids[start : start + 500]))
                for row in conn.execute(query.order_by(check_results.c.id)):
                    found.setdefault(row.materialization_id, []).append(_check(row))
        return found

    def printed(self, materialization_ids: Collection[int]) -> set[int]:
        """Which of these attempts kept some output of the code (``lakeplan logs`` shows it), without reading it."""
        found: set[int] = set()
        ids = sorted(materialization_ids)
        column = materializations.c.log
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                query = sa.select(materializations.c.id).where(
                    materializations.c.id.in_(ids[start : start + 500]), column.is_not(None), column != ""
                )
                found.update(conn.execute(query).scalars())
        return found

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        """Every check result a run recorded, oldest first."""
        query = _CHECKS.where(check_results.c.run_id == run_id).order_by(check_results.c.id)
        with self._read() as conn:
            return [_check(r) for r in conn.execute(query)]

    def materialization_with(self, asset_key: str, data_version: str) -> int | None:
        """The newest materialization of ``asset_key`` whose output has ``data_version`` (the one a check of
        that output is recorded against), or None when lakeplan never recorded such an output."""
        query = (
            sa.select(materializations.c.id)
            .where(materializations.c.asset_key == asset_key, materializations.c.data_version == data_version)
            .order_by(materializations.c.id.desc())
            .limit(1)
        )
        with self._read() as conn:
            found = conn.execute(query).scalar()
        return None if found is None else int(found)

    def runs(self, limit: int | None = None) -> list[RunRecord]:
        query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.run_id.desc()).limit(limit)
        with self._read() as conn:
            return [_run(r) for r in conn.execute(query)]

    def run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.run_id == run_id)).first()
        return _run(row) if row else None

    # -- writes ----------------------------------------------------------------------------------

    def start_run(self, run: RunRecord) -> None:
        with self._write() as conn:
            conn.execute(
                runs.insert().values(
                    run_id=run.run_id,
                    started_at=run.started_at,
                    status=run.status.value,
                    selection=run.selection,
                    counts=_dumps(run.counts),
                    environment=_dumps(run.environment),
                )
            )

    def ensure_run(self, run: RunRecord) -> bool:
        """Start ``run`` unless its id is already recorded (an Argo workflow's pods race to start it);
        True when this call recorded it."""
        try:
            self.start_run(run)
        except IntegrityError:
            return False
        return True

    def finish_run(self, run_id: str, status: RunStatus, counts: dict[str, int]) -> None:
        with self._write() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.run_id == run_id)
                .values(status=status.value, counts=_dumps(counts), finished_at=time.time())
            )
        self.checkpoint()

    def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database file, so ``lakeplan.db`` alone holds every
        record (a copy or backup of it loses nothing). PASSIVE never waits: with other runs still writing,
        the last one to finish completes it."""
        if self.engine.dialect.name != "sqlite":
            return
        with self._errors("checkpoint"), contextlib.closing(self.engine.raw_connection()) as raw:
            raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)")  # the driver's autocommit: outside a transaction

    def _insert(self, conn: Connection, mat: Materialization) -> int:
        result = conn.execute(
            materializations.insert(),
            {
                "asset_key": mat.asset_key,
                "run_id": mat.run_id,
                "kind": mat.kind.value,
                "code_version": mat.code_version,
                "recipe": recipe_of(mat.code_version, mat.input_versions),
                "input_versions": _dumps(mat.input_versions),
                "data_version": mat.data_version,
                "location": mat.location,
                "started_at": mat.started_at,
                "finished_at": mat.finished_at,
                "metadata": _dumps(mat.metadata),
                "error": mat.error,
                "code_components": _dumps(mat.code_components),
                "traceback": mat.traceback,
                "log": mat.log,
            },
        )
        pk = result.inserted_primary_key
        if pk is None:
            raise StoreError("metadata store returned no id for a new materialization")
        return int(pk[0])

    def _insert_checks(self, conn: Connection, materialization_id: int, checks: Sequence[CheckRecord]) -> None:
        if not checks:
            return
        conn.execute(
            check_results.insert(),
            [
                {
                    "materialization_id": materialization_id,
                    "asset_key": c.asset_key,
                    "check_name": c.check_name,
                    "run_id": c.run_id,
                    "code_version": c.code_version,
                    "passed": c.passed,
                    "severity": c.severity,
                    "blocking": c.blocking,
                    "metadata": _dumps(c.metadata),
                    "error": c.error,
                    "started_at": c.started_at,
                    "finished_at": c.finished_at,
                }
                for c in checks
            ],
        )

    def record_checks(self, materialization_id: int, checks: Sequence[CheckRecord]) -> None:
        """Append check results on an output already recorded (its checks ran again, or changed)."""
        with self._write() as conn:
            self._insert_checks(conn, materialization_id, checks)

    def record(
        self,
        mat: Materialization,
        expected_head: int | None,
        release: Claim | None = None,
        checks: Sequence[CheckRecord] = (),
    ) -> int:
        """Append ``mat`` with its ``checks`` and make it the asset's head, only if the head is still
        ``expected_head``; ``release`` drops the writer's claim in the same transaction.

        Raises RecordConflict (and records nothing, releases nothing) when another writer moved the head first.
        """
        try:
            with self._write() as conn:
                new_id = self._insert(conn, mat)
                self._insert_checks(conn, new_id, checks)
                now = time.time()
                if expected_head is None:
                    conn.execute(
                        heads.insert(), {"asset_key": mat.asset_key, "materialization_id": new_id, "updated_at": now}
                    )
                else:
                    moved = conn.execute(
                        _MOVE_HEAD,
                        {"b_key": mat.asset_key, "b_expected": expected_head, "b_new_id": new_id, "b_now": now},
                    )
                    if moved.rowcount != 1:
                        raise RecordConflict(mat.asset_key)
                if release is not None:
                    conn.execute(_RELEASE_CLAIM, _claim_params(release))
                return new_id
        except IntegrityError:
            raise RecordConflict(mat.asset_key) from None

    def record_failure(
        self, mat: Materialization, checks: Sequence[CheckRecord] = (), release: Claim | None = None
    ) -> int:
        """Append a failed attempt (with the check results that failed it, if any); the head does not move.
        ``release`` drops the writer's claim in the same transaction."""
        with self._write() as conn:
            new_id = self._insert(conn, mat)
            self._insert_checks(conn, new_id, checks)
            if release is not None:
                conn.execute(_RELEASE_CLAIM, _claim_params(release))
            return new_id

    # -- claims (assets_core/claims.py) ------------------------------------------------------------

    def claim(self, mine: Claim, supersedes: Callable[[Claim], bool], read: ClaimRead | None = None) -> Claim | Taken:
        """Take ``mine``'s asset unless a claim it does not supersede is held: returns that claim (nothing was
        taken or read), else what ``read`` asks for, read in the same transaction."""
        key = mine.asset_key
        values = {"run_id": mine.run_id, "holder": mine.holder, "claimed_at": mine.claimed_at}
        values |= {"expires_at": mine.expires_at}
        with self._write() as conn:
            while not conn.execute(_CLAIM_FREE[conn.dialect.name], {"asset_key": key, **values}).rowcount:
                row = conn.execute(_CLAIM_OF, {"key": key}).first()
                if row is None:
                    continue  # released between the two statements (PostgreSQL): insert again
                current = Claim(key, row.run_id, row.holder, row.claimed_at, row.expires_at)
                if not supersedes(current):
                    return current
                conn.execute(_TAKE_OVER, {"b_key": key, **{f"b_{k}": v for k, v in values.items()}})
                break
            if read is None:
                return Taken({})
            found = _heads(conn, read.keys)
            recipe = read.recipe(found)
            return Taken(found, recipe, tuple(_reusable(conn, key, recipe)) if recipe is not None else ())

    def renew_claim(self, mine: Claim, expires_at: float) -> bool:
        """Extend our lease; False when the claim is no longer ours (it expired and was taken over)."""
        with self._write() as conn:
            moved = conn.execute(_RENEW_CLAIM, {**_claim_params(mine), "b_expires_at": expires_at})
            return bool(moved.rowcount == 1)

    def release_claim(self, mine: Claim) -> None:
        """Drop our claim (someone else's, if ours was taken over, stays)."""
        with self._write() as conn:
            conn.execute(_RELEASE_CLAIM, _claim_params(mine))

    def held_claims(self) -> list[Claim]:
        """Every claim currently held (for status displays and tests)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(claims).order_by(claims.c.asset_key)).all()
        return [Claim(r.asset_key, r.run_id, r.holder, r.claimed_at, r.expires_at) for r in rows]


class AbsentStore(MetadataStore):
    """What a read-only command sees where no lakeplan schema exists yet: every read is empty (an
    in-memory copy of the schema, so it answers like a fresh store) and nothing is created anywhere."""

    def __init__(self, url: str) -> None:
        engine = sa.create_engine("sqlite://", poolclass=StaticPool)  # one connection: one in-memory database
        metadata.create_all(engine)
        super().__init__(engine, url)

    @property
    def note(self) -> str:
        return (
            f"note: no lakeplan metadata store at {self.describe()} yet: nothing has been materialized, "
            "so every asset counts as never built ('lakeplan materialize' creates it)"
        )

    def _write(self) -> NoReturn:
        raise StoreError(f"metadata store {self.describe()} was opened read-only and has no lakeplan schema")

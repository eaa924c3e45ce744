"""The SQLite store's file: refused when it is not a lakeplan store, never visible half-created.

SQLite opens a missing or zero-byte file as a new, empty database, so a truncated ``lakeplan.db`` would
silently become an empty store (history lost, everything rebuilt, exit 0). lakeplan instead builds a new
store's file aside and hard-links it into place, so the file at a store's path always starts with SQLite's
header: an empty file there, or one holding other bytes, was never a lakeplan store and is refused.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from pathlib import Path

from .errors import StoreError

HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
_FIX = "point LAKEPLAN_DATABASE_URL / [tool.lakeplan] database_url at lakeplan's own lakeplan.db, or at a new path"


_CHECKED: set[Path] = set()  # the files this process found to be stores (and may hold connections to)


def check_or_create(path: Path) -> None:
    """Create the store file at ``path`` if there is none; refuse one that is empty or not SQLite.

    Once per file and process, before its first connection: closing any descriptor of a file releases every
    POSIX lock this process holds on it, SQLite's included, after which another process ending its last
    connection deletes the WAL this process's connections still read (they see no newer commit again;
    sqlite.org/howtocorrupt.html, 2.2). A second ``Workspace`` in a long-lived process (``lakeplan ui``)
    did exactly that by reading the header again."""
    key = path.resolve()
    if key in _CHECKED:
        return
    _check_or_create(path)
    _CHECKED.add(key)


def _check_or_create(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(len(HEADER))
    except FileNotFoundError:
        _create(path)
        return
    except OSError as exc:
        raise StoreError(f"cannot read metadata store file {path}: {exc.strerror}; {_FIX}") from None
    if not head:
        raise StoreError(
            f"metadata store file {path} is empty (0 bytes), not a lakeplan store: its history is gone; "
            "restore it from a backup, or delete it to start a new, empty store"
        )
    if head != HEADER:
        raise StoreError(f"metadata store file {path} is not an SQLite database (it starts with {head[:8]!r}); {_FIX}")
    _refuse_foreign(path)


def _create(path: Path) -> None:
    """A new, empty WAL-mode database at ``path``, appearing there whole (a concurrent creator's file wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.new")  # SQLite's own file modes
    try:
        connection = sqlite3.connect(aside)
        try:
            connection.execute("PRAGMA journal_mode=WAL")  # writes the header: the file is a database now
        finally:
            connection.close()
        # FileExistsError: another process created the store first, use theirs. Any other OSError: no hard
        # links on this file system, so SQLite creates the file itself on the first connect.
        with contextlib.suppress(OSError):
            os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def _refuse_foreign(path: Path) -> None:
    """Refuse an SQLite database with tables but no lakeplan schema revision: another program's. Read-only,
    before lakeplan's own connections would switch its journal to WAL."""
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)) as conn:
            tables = sorted(row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
    except sqlite3.Error as exc:  # e.g. "database disk image is malformed"
        raise StoreError(f"cannot read metadata store file {path}: {exc}; restore it from a backup or {_FIX}") from None
    if tables and "alembic_version" not in tables:
        names = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise StoreError(
            f"metadata store file {path} is an SQLite database lakeplan did not create (it holds {names}); {_FIX}"
        )

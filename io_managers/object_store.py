"""Where stored values live. The embedded default is a content-addressed directory: an object's name is
its data version (the SHA-256 of its bytes), so identical output is stored once, old versions stay
readable, and a file is only ever visible under its final name once completely written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO, Protocol

from assets_core.errors import CorruptedOutput, MissingOutput, StoreError
from assets_core.processes import process_alive, this_host

_UNSAFE_PARTS = frozenset({"", ".", ".."})
_STALE_TEMP_SECONDS = 24 * 3600  # a temp file this old has no live writer, whichever host wrote it


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A completely written object: where it is, its data version and its size in bytes."""

    location: str
    data_version: str
    size: int


class ObjectStore(Protocol):
    """The storage interface the executor talks to (local directory here, lakeFS elsewhere)."""

    def put(self, key: str, extension: str, write: Callable[[BinaryIO], None]) -> StoredObject:
        """Write an object through ``write`` and publish it atomically under its data version."""
        ...

    def exists(self, location: str) -> bool: ...

    def fetch(self, location: str, data_version: str) -> Path:
        """A local path to the object, verified to hold ``data_version`` (else StoreError)."""
        ...

    def describe(self) -> str:
        """Where the store is, for messages."""
        ...


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks (never whole in memory)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def file_sha256(path: Path) -> str:
    return file_digest(path)


class LocalObjectStore:
    """Objects under ``root`` as ``<asset key>/<data version>.<ext>``; temp files under ``root/.tmp``."""

    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root.resolve()
        self.fsync = fsync
        self._tmp = self.root / ".tmp"
        self._quarantine = self.root / ".quarantine"
        self._host = this_host().replace(".", "_")
        self._prefix = str(self.root) + os.sep

    def describe(self) -> str:
        return str(self.root)

    def path(self, location: str) -> Path:
        """The file for a location, refusing anything that would leave the storage root."""
        return Path(self._file(location))

    def _file(self, location: str) -> str:
        # A check of the string, not Path.resolve(): resolve stats every path component, and a plan checks
        # every recorded output. Locations come from the metadata store; what could leave the root (or name
        # the root itself) is an empty, '.' or '..' part, or a leading '/'. The root was resolved in __init__.
        if not _UNSAFE_PARTS.isdisjoint(location.split("/")):
            raise StoreError(f"refusing stored location {location!r}: it is outside the storage root {self.root}")
        return self._prefix + location

    def put(self, key: str, extension: str, write: Callable[[BinaryIO], None]) -> StoredObject:
        # host and pid in the name let a later run tell a dead writer's leftovers from a live write
        prefix = f"{self._host}.{os.getpid()}.{key.replace('/', '__')}."
        try:
            try:
                fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix=prefix)
            except FileNotFoundError:  # the first write under this root: directories are made when missing
                self._tmp.mkdir(parents=True, exist_ok=True)
                fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix=prefix)
        except OSError as exc:
            raise StoreError(
                f"cannot write to storage {self.root}: {exc.strerror or exc}; check the path and free space"
            ) from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            size = tmp.stat().st_size
            version = file_sha256(tmp)
            location = f"{key}/{version}.{extension}"
            final = self.path(location)
            try:
                os.replace(tmp, final)
            except FileNotFoundError:  # the asset's first version
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(
                f"cannot write {key!r} to storage {self.root}: {exc.strerror or exc}; check free space and permissions"
            ) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredObject(location, version, size)

    def exists(self, location: str) -> bool:
        return not self.missing({location: location})

    def missing(self, locations: Mapping[str, str]) -> frozenset[str]:
        """The keys of ``locations`` (key -> stored location) whose output is not a file under the root: a
        location that would leave it, a deleted file, anything else in its place.

        One ``stat`` per output in one tight loop: a plan checks every recorded output. Scanning directories
        instead costs more here (measured 2.5x at 10k): each asset has its own directory, holding every
        version it ever stored, so a scan reads at least the one name a ``stat`` asks for, and often many.
        """
        prefix, stat, is_file = self._prefix, os.stat, S_ISREG
        gone = []
        for key, location in locations.items():
            if not _UNSAFE_PARTS.isdisjoint(location.split("/")):
                gone.append(key)
                continue
            try:
                if not is_file(stat(prefix + location).st_mode):
                    gone.append(key)
            except (OSError, ValueError):  # as os.path.isfile: gone, a parent is a file, a NUL in the name
                gone.append(key)
        return frozenset(gone)

    def fetch(self, location: str, data_version: str) -> Path:
        path = self.path(location)
        if not os.path.realpath(path).startswith(self._prefix):  # a symlink planted inside the root
            raise StoreError(f"refusing stored location {location!r}: it links outside the storage root {self.root}")
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            raise MissingOutput(
                f"stored output {location} is gone from {self.root}; run 'lakeplan materialize' to rebuild it"
            ) from None
        except OSError as exc:
            raise StoreError(f"cannot read {location} from {self.root}: {exc.strerror or exc}") from None
        if actual != data_version:
            moved = self._set_aside(path, location)
            raise CorruptedOutput(
                f"stored output {location} is corrupted (content hash {actual[:12]} != recorded {data_version[:12]}); "
                f"moved it to {moved} and it now plans as MISSING: run 'lakeplan materialize' to rebuild it"
            )
        return path

    def verify(self, location: str, data_version: str) -> bool:
        """True when the output exists and hashes to ``data_version``; a corrupted one is moved aside."""
        try:
            self.fetch(location, data_version)
        except StoreError:  # gone, unreadable, or corrupted (and now moved aside)
            return False
        return True

    def _set_aside(self, path: Path, location: str) -> Path:
        """Move a corrupted output into ``.quarantine/`` (kept for inspection, never read again)."""
        target = self._quarantine / f"{location.replace('/', '__')}.{time.time_ns()}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError as exc:
            raise StoreError(f"stored output {location} is corrupted and cannot be moved aside: {exc}") from None
        return target

    def clear_stale_temp(self) -> int:
        """Remove temp files whose writer is gone: a dead process on this host, or any file older than a day."""
        removed = 0
        now = time.time()
        try:
            entries = list(os.scandir(self._tmp))
        except FileNotFoundError:
            return 0
        for entry in entries:
            host, _, rest = entry.name.partition(".")
            pid = rest.partition(".")[0]
            try:
                dead = host == self._host and pid.isdigit() and not process_alive(int(pid))
                if dead or now - entry.stat().st_mtime > _STALE_TEMP_SECONDS:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue  # its writer published or removed it meanwhile
        return removed

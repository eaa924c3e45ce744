"""Observing source assets: their current data version and their value, read from outside the graph."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .definitions import SourceAsset
from .errors import StepFailed, UserCodeError
from .hashing import structured_hash


def _file_version(path: Path) -> str:
    from io_managers import file_sha256

    return file_sha256(path)


def observe(source: SourceAsset) -> str | None:
    """The source's current data version: ``version()`` if given, else a hash of its file(s).

    None means there is no data now (the file or directory is missing).
    """
    if source.version is not None:
        try:
            value = source.version()
        except Exception as exc:  # the user's function: report it, do not crash
            raise UserCodeError(f"source {source.key!r}: version() raised {type(exc).__name__}: {exc}") from None
        return None if value is None else str(value)
    path = source.path
    if path is None or not path.exists():
        return None
    if path.is_file():
        return _file_version(path)
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    parts = ["dir", str(len(files))]
    for file in files:
        parts += (file.relative_to(path).as_posix(), _file_version(file))
    return structured_hash(parts)


def read_source(source: SourceAsset, annotation: Any) -> Any:
    """The source's value, as the consuming parameter's annotation asks."""
    if source.read is not None:
        try:
            return source.read()
        except Exception as exc:
            raise StepFailed(f"source {source.key!r}: read() raised {type(exc).__name__}: {exc}") from exc
    from io_managers import read_source_file

    if source.path is None or not source.path.exists():
        raise StepFailed(f"source {source.key!r} has no data: {source.path} does not exist")
    return read_source_file(source.path, annotation)

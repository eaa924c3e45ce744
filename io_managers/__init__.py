"""Storing and loading asset values: formats (Parquet, JSON, pickle) and object stores."""

from .formats import choose_format, read, read_source_file, write
from .object_store import LocalObjectStore, ObjectStore, StoredObject, file_sha256

__all__ = [
    "LocalObjectStore",
    "ObjectStore",
    "StoredObject",
    "choose_format",
    "file_sha256",
    "read",
    "read_source_file",
    "write",
]

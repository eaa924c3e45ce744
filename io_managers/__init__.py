"""Storing and loading asset values: the built-in file formats (Parquet, JSON, pickle) in object stores,
and IO managers for other stores (PostgreSQL tables), all behind ``assets_core.IOManager``."""

from .files import FileIOManager
from .formats import choose_format, read, read_source_file, write
from .object_store import LocalObjectStore, ObjectStore, StoredObject, file_sha256
from .postgres import PostgresTableIOManager

__all__ = [
    "FileIOManager",
    "LocalObjectStore",
    "ObjectStore",
    "PostgresTableIOManager",
    "StoredObject",
    "choose_format",
    "file_sha256",
    "read",
    "read_source_file",
    "write",
]

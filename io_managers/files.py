"""The built-in IO manager: values as files in the version store (a local directory, or lakeFS), as
Parquet, JSON or pickle (``formats.py``), named by their content hash. ``auto`` picks the format from
the value; ``parquet``, ``json`` and ``pickle`` insist on one.
"""

from __future__ import annotations

from typing import Any

from assets_core.io_manager import InputContext, IOManager, OutputContext, Stored

from .formats import EXTENSIONS, annotation_kind, choose_format, read, write
from .object_store import ObjectStore

_FORMAT_OF = {extension: fmt for fmt, extension in EXTENSIONS.items()}


class FileIOManager(IOManager):
    """Files in ``objects`` in the format ``fmt`` ('auto', 'parquet', 'json' or 'pickle')."""

    def __init__(self, objects: ObjectStore, fmt: str = "auto") -> None:
        self.objects = objects
        self.fmt = fmt

    def store(self, value: Any, context: OutputContext) -> Stored:
        fmt = choose_format(value, self.fmt)
        metadata: dict[str, Any] = {}
        stored = self.objects.put(context.key, EXTENSIONS[fmt], lambda out: metadata.update(write(value, fmt, out)))
        metadata["bytes"] = stored.size
        return Stored(stored.location, stored.data_version, metadata)

    def load(self, context: InputContext) -> Any:
        path = self.objects.fetch(context.location, context.data_version)
        fmt = _FORMAT_OF[context.location.rsplit(".", 1)[-1]]
        return read(path, fmt, context.annotation, annotation_kind(context.written_as))

    def exists(self, location: str, data_version: str, verify: bool = False) -> bool:
        return self.objects.exists(location)

    def describe(self) -> str:
        return self.objects.describe()

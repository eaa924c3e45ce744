"""The IO manager protocol: how an asset's value is stored, loaded back, and given a data version.

The built-in formats (Parquet, JSON, pickle in the version store; ``io_managers/files.py``) and any
other store (``io_managers/postgres.py``, or your own) implement this one interface, and the one step
(``step.py``) talks only to it. An asset chooses one by name: ``@asset(io_manager="warehouse")``, where
``warehouse`` is a ``@resource`` whose value is an ``IOManager``.

A location written by a resource IO manager is recorded as ``io://NAME/WHERE`` so that a reader finds
the manager that wrote it, whatever the asset declares today.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

EXTERNAL_SCHEME = "io://"  # how a location written by a resource IO manager starts (external_location)


@dataclass(frozen=True, slots=True)
class OutputContext:
    """What a store call knows about the value: the asset's key, the run, and its return annotation."""

    key: str
    run_id: str
    annotation: Any = None


@dataclass(frozen=True, slots=True)
class InputContext:
    """What a load call knows: the upstream's key, the pinned location and data version it was recorded
    with, the consuming parameter's annotation (``None``: as written) and the producer's return annotation."""

    key: str
    location: str
    data_version: str
    annotation: Any = None
    written_as: Any = None


@dataclass(frozen=True, slots=True)
class Stored:
    """A completely written value: where it is (the manager's own words), its data version (equal values,
    equal versions) and metadata to record (row count, schema, bytes...)."""

    location: str
    data_version: str
    metadata: dict[str, Any] = field(default_factory=dict)


class IOManager(abc.ABC):
    """Stores asset values and loads them back, pinned by version.

    ``store`` must make nothing visible as a version until it is completely written; ``load`` reads exactly
    the version it is given, never "the latest". ``make_current`` is told which version the metadata store
    now calls current (after a build, a restore or a rollback), for stores that keep a "current" pointer of
    their own; ``exists`` lets a plan tell a gone output (MISSING) from a present one.
    """

    @abc.abstractmethod
    def store(self, value: Any, context: OutputContext) -> Stored:
        """Write ``value``; return where it is and its data version."""

    @abc.abstractmethod
    def load(self, context: InputContext) -> Any:
        """The value stored at ``context.location`` (checked against ``context.data_version``)."""

    def exists(self, location: str, data_version: str, verify: bool = False) -> bool:
        """Whether the version is still there (``verify``: also re-checked against its data version)."""
        return True

    def make_current(self, key: str, location: str, data_version: str) -> None:  # noqa: B027 - optional hook
        """Point the store's own notion of "current" for ``key`` at this version (nothing by default)."""

    def describe(self) -> str:
        """Where values go, for messages."""
        return type(self).__name__


def external_location(manager: str, where: str) -> str:
    """The recorded location of a value a resource IO manager stored: ``io://NAME/WHERE``."""
    return f"{EXTERNAL_SCHEME}{manager}/{where}"


def parse_external(location: str) -> tuple[str, str] | None:
    """``(manager name, its own location)`` for a location written by a resource IO manager, else None
    (the version store's own files: ``key/version.ext`` or a lakeFS URI)."""
    if not location.startswith(EXTERNAL_SCHEME):
        return None
    name, _, where = location[len(EXTERNAL_SCHEME) :].partition("/")
    return name, where

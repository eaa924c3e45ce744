"""The version store: where asset values live, what is current, and how a run is published.

Two implementations share this interface: ``LocalVersionStore`` (the embedded default, a
content-addressed directory) and ``LakeFSStore`` (a lakeFS repository and branch). The planner never sees
either; it only sees the ``CurrentState`` built from an ``Observation``.

The embedded store's commit log is the metadata store's append-only ``lp_materializations`` table: every
row already is a commit (asset, code version, input versions, data version, run id, content-addressed
location that stays readable). A second, file-based log would duplicate that truth and could disagree
with it, so the local store adds none. With lakeFS the commit log is lakeFS's own history, and the SQL
store is a cache rebuilt from it by ``lakeplan sync``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from assets_core.config import Settings
from assets_core.definitions import SourceAsset
from assets_core.errors import StoreError
from assets_core.output_check import OutputCheck
from assets_core.records import Head, Materialization
from assets_core.sources import observe, read_source

from .lakefs_config import SELECTING_ENV
from .object_store import LocalObjectStore, ObjectStore


@dataclass(frozen=True)
class Observation:
    """What a store says is current: heads as published, source versions, missing outputs, where
    changed data was seen (``origins``: key -> location, named in the planner's DATA causes), and the
    run's own outputs that the store holds but no record describes yet (``unrecorded``: a step killed
    after writing; its retry adopts the output instead of calling it fresh or building it again)."""

    heads: dict[str, Head]
    sources: dict[str, str | None]
    missing: frozenset[str] = frozenset()
    origins: dict[str, str] = field(default_factory=dict)
    unrecorded: dict[str, Materialization] = field(default_factory=dict)


class VersionStore(ObjectStore, Protocol):
    """An object store that also knows what is current and publishes runs."""

    def observe(
        self,
        heads: Mapping[str, Head],
        sources: Mapping[str, SourceAsset],
        run_id: str | None = None,
        outputs: OutputCheck = OutputCheck.EXISTS,
    ) -> Observation:
        """Current state of ``heads`` (recorded) and ``sources``, as of the run's view when ``run_id`` is given.

        ``outputs`` says how each recorded output is checked: not at all, that it exists, or that its content
        still hashes to its data version (a gone or corrupted one is missing).
        """
        ...

    def read_source(self, source: SourceAsset, origin: str | None, annotation: Any) -> Any:
        """A source's value, read where ``observe`` saw it (``origin``)."""
        ...

    def commit(self, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
        """Make ``mat`` the asset's current version in the store; returns it with final location and version."""
        ...

    def begin_run(self, run_id: str) -> None:
        """Called before a run's first step writes; on Argo by every pod of the run, so it must be idempotent."""
        ...

    def finish_run(self, run_id: str, success: bool) -> str | None:
        """Called after a run's last step; publishes it on success. Returns a note for the user, if any.
        Idempotent: Argo may retry the exit handler that calls it."""
        ...


class LocalVersionStore(LocalObjectStore):
    """The embedded default: a content-addressed directory; sources are read from local paths."""

    def observe(
        self,
        heads: Mapping[str, Head],
        sources: Mapping[str, SourceAsset],
        run_id: str | None = None,
        outputs: OutputCheck = OutputCheck.EXISTS,
    ) -> Observation:
        if outputs is OutputCheck.HASH:
            missing = frozenset(k for k, h in heads.items() if not self.verify(h.location, h.data_version))
        elif outputs is OutputCheck.EXISTS:
            missing = self.missing({k: h.location for k, h in heads.items()})
        else:
            missing = frozenset()
        return Observation(dict(heads), {key: observe(node) for key, node in sources.items()}, missing)

    def read_source(self, source: SourceAsset, origin: str | None, annotation: Any) -> Any:
        return read_source(source, annotation)

    def commit(self, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
        return mat  # already content-addressed and final; the metadata store's row is the commit

    def begin_run(self, run_id: str) -> None:
        try:
            self.clear_stale_temp()
        except OSError as exc:  # e.g. the storage root is a file: an infrastructure failure, not a bug
            raise StoreError(f"cannot use storage {self.root}: {exc.strerror or exc}; check the path") from None

    def finish_run(self, run_id: str, success: bool) -> str | None:
        return None


def lakefs_configured(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """True when ``[tool.lakeplan.lakefs]`` or one of ``LAKEPLAN_LAKEFS_ENDPOINT`` / ``_REPOSITORY`` /
    ``_BRANCH`` selects the lakeFS store. lakectl's own file and variables alone do not (they name a server,
    never a repository), but they supply the endpoint when these leave it out."""
    env = os.environ if env is None else env
    return bool(settings.section("lakefs")) or any(env.get(var) for var in SELECTING_ENV)


def open_version_store(settings: Settings) -> VersionStore:
    """The configured store: lakeFS when configured, else the local directory under ``storage_root``."""
    if lakefs_configured(settings):
        from .lakefs_store import LakeFSStore  # imported only when used: the core never loads lakeFS

        return LakeFSStore.from_settings(settings)
    return LocalVersionStore(settings.resolved_storage_root, fsync=settings.fsync)

"""A loaded project: its definitions, settings, code versions and stores, opened lazily.

This is the edge where the pure core (graph, planner) meets I/O (metadata store, object store, sources).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .code_version import CodeVersion, CodeVersioner, user_file_predicate
from .config import Settings, load_settings
from .definitions import SourceAsset
from .errors import ConfigError
from .graph import AssetGraph
from .loader import load
from .metadata_store import MetadataStore
from .planner import CurrentState, Plan, plan
from .schedules import Schedule
from .selection import select
from .sources import observe

if TYPE_CHECKING:
    from io_managers import ObjectStore


@dataclass
class Workspace:
    """Everything a command or a step needs about one project."""

    settings: Settings
    target: str
    graph: AssetGraph
    schedules: tuple[Schedule, ...] = ()
    _versioner: CodeVersioner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._versioner = CodeVersioner(user_file_predicate(self.settings.project_root))

    @classmethod
    def load(cls, target: str | None = None, settings: Settings | None = None) -> Workspace:
        """Load the project's definitions (``target`` or ``[tool.lakeplan] module``) and validate the graph."""
        settings = settings or load_settings()
        target = target or settings.module
        if not target:
            raise ConfigError(
                "no definitions to load; pass -m MODULE (or a .py path), or set module = '...' in [tool.lakeplan]"
            )
        loaded = load(target, settings.project_root)
        return cls(settings, target, AssetGraph.build(loaded.nodes), loaded.schedules)

    @functools.cached_property
    def store(self) -> MetadataStore:
        return MetadataStore.open(self.settings.resolved_database_url)

    @functools.cached_property
    def objects(self) -> ObjectStore:
        from io_managers import LocalObjectStore

        return LocalObjectStore(self.settings.resolved_storage_root, fsync=self.settings.fsync)

    def code_version(self, key: str) -> CodeVersion:
        return self._code_versions[key]

    @functools.cached_property
    def _code_versions(self) -> dict[str, CodeVersion]:
        return {key: self._versioner.version(node) for key, node in self.graph.assets.items()}

    def select(self, expression: str | None) -> frozenset[str]:
        return select(self.graph, expression)

    def observe_sources(self, keys: Collection[str] | None = None) -> dict[str, str | None]:
        """Current data versions of the sources (all, or those in ``keys``)."""
        return {
            key: observe(node)
            for key, node in self.graph.nodes.items()
            if isinstance(node, SourceAsset) and (keys is None or key in keys)
        }

    def current_state(self) -> CurrentState:
        """Code versions, recorded heads, source versions and missing outputs for the whole graph."""
        heads = self.store.heads()
        exists = self.objects.exists
        return CurrentState(
            code_versions={k: v.version for k, v in self._code_versions.items()},
            heads=heads,
            source_versions=self.observe_sources(),
            missing_outputs=frozenset(k for k, h in heads.items() if not exists(h.location)),
        )

    def plan(self, selection: str | None = None) -> Plan:
        return plan(self.graph, self.current_state(), self.select(selection))

    def relative(self, path: Path) -> str:
        root = self.settings.project_root
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

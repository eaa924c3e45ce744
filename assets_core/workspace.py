"""A loaded project: its definitions, settings, code versions and stores, opened lazily.

This is the edge where the pure core (graph, planner) meets I/O (metadata store, object store, sources).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .bulk import collector_paused
from .code_version import CodeVersion, CodeVersioner, user_file_predicate
from .config import Settings, load_settings
from .definitions import SourceAsset
from .errors import ConfigError
from .graph import AssetGraph
from .loader import load
from .metadata_store import MetadataStore
from .planner import AssetStatus, CauseKind, CurrentState, Plan, plan
from .schedules import Schedule
from .selection import select

if TYPE_CHECKING:
    from io_managers.version_store import Observation, VersionStore


@dataclass
class Workspace:
    """Everything a command or a step needs about one project."""

    settings: Settings
    target: str
    graph: AssetGraph
    schedules: tuple[Schedule, ...] = ()
    _versioner: CodeVersioner = field(init=False, repr=False)

    def __post_init__(self) -> None:
        root = self.settings.project_root
        self._versioner = CodeVersioner(user_file_predicate(root), self.settings.state_dir / "cache" / "code")

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
    def objects(self) -> VersionStore:
        """The local directory, or lakeFS when configured (imported only then)."""
        from io_managers.version_store import open_version_store

        return open_version_store(self.settings)

    def code_version(self, key: str) -> CodeVersion:
        return self._code_versions[key]

    @functools.cached_property
    def _code_versions(self) -> dict[str, CodeVersion]:
        with collector_paused():  # tens of thousands of small acyclic records (see bulk.py)
            return {key: self._versioner.version(node) for key, node in self.graph.assets.items()}

    def select(self, expression: str | None) -> frozenset[str]:
        return select(self.graph, expression)

    def observe(
        self, keys: Collection[str] | None = None, run_id: str | None = None, verify: bool = False
    ) -> Observation:
        """What the object store says is current for ``keys`` (default: all), as the run ``run_id`` sees it;
        ``verify`` re-hashes every stored output so a corrupted one counts as missing."""
        sources = {
            key: node
            for key, node in self.graph.nodes.items()
            if isinstance(node, SourceAsset) and (keys is None or key in keys)
        }
        return self.objects.observe(self.store.heads(keys), sources, run_id, verify)

    def current_state(self, keys: Collection[str] | None = None, run_id: str | None = None) -> CurrentState:
        """Code versions, published heads, source versions and missing outputs (whole graph by default)."""
        return self._state(self.observe(keys, run_id))

    def _state(self, seen: Observation) -> CurrentState:
        return CurrentState(
            code_versions={k: v.version for k, v in self._code_versions.items()},
            heads=seen.heads,
            source_versions=seen.sources,
            missing_outputs=seen.missing,
        )

    def plan(self, selection: str | None = None, verify: bool = False) -> Plan:
        seen = self.observe(verify=verify)
        return _name_origins(plan(self.graph, self._state(seen), self.select(selection)), seen.origins)

    def relative(self, path: Path) -> str:
        root = self.settings.project_root
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _name_origins(result: Plan, origins: Mapping[str, str]) -> Plan:
    """Name where the store saw changed data (e.g. a lakeFS path) in the DATA causes that cite it."""
    if not origins:
        return result

    def named(status: AssetStatus) -> AssetStatus:
        causes = tuple(
            dataclasses.replace(c, message=f"{c.message} (at {origins[c.input]})")
            if c.kind is CauseKind.DATA and c.input is not None and c.input in origins
            else c
            for c in status.causes
        )
        return dataclasses.replace(status, causes=causes)

    return Plan(tuple(named(s) if s.causes else s for s in result.statuses))

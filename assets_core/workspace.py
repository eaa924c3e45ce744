"""A loaded project: its definitions, settings, code versions and stores, opened lazily.

This is the edge where the pure core (graph, planner) meets I/O (metadata store, object store, sources).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .bulk import collector_paused
from .check_status import pending_checks
from .checks import AssetCheck
from .code_version import CodeVersion, CodeVersioner, user_file_predicate
from .config import Settings, load_settings, project_root_of
from .definitions import AssetDef, SourceAsset, is_builtin_io_manager
from .errors import ConfigError
from .graph import AssetGraph
from .hashing import structured_hash
from .io_manager import EXTERNAL_SCHEME, IOManager, parse_external
from .loader import load
from .metadata_store import AbsentStore, MetadataStore
from .output_check import OutputCheck
from .partition_graph import Instance, PartitionGraph, expand
from .partition_inputs import bind_source
from .partition_scope import PartitionRange, instances_of, scope
from .partitions import positions
from .planner import AssetStatus, CauseKind, CurrentState, PendingChecks, Plan, plan
from .records import Head
from .resources import ResolvedConfig, ResourceDef, build, code_parts, resolve_all
from .schedules import Schedule
from .selection import select

if TYPE_CHECKING:
    from io_managers.version_store import Observation, VersionStore

    from .records import Head


@dataclass
class Workspace:
    """Everything a command or a step needs about one project.

    ``graph`` is the declared graph (assets and sources); ``planned`` is what is planned and built: the
    same graph, or for a partitioned project one node per (asset, partition) as partitions exist at
    ``now``, which a run fixes once and hands to its worker processes so every one expands the same.
    """

    settings: Settings
    target: str
    graph: AssetGraph
    schedules: tuple[Schedule, ...] = ()
    read_only: bool = False  # plan, history, compile...: create no folder, file or schema, migrate nothing
    notify: Callable[[str], None] | None = None  # told when a read-only store has no lakeplan schema yet
    resources: Mapping[str, ResourceDef] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))  # which partitions exist
    _versioner: CodeVersioner = field(init=False, repr=False)
    _built: dict[str, object] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        root = self.settings.project_root
        cache = self.settings.state_dir / "cache" / "code"
        # The parse cache only saves time: a read-only command uses it where it exists, never creates it.
        self._versioner = CodeVersioner(
            user_file_predicate(root), None if self.read_only and not cache.is_dir() else cache
        )

    @classmethod
    def load(
        cls,
        target: str | None = None,
        settings: Settings | None = None,
        read_only: bool = False,
        notify: Callable[[str], None] | None = None,
        now: dt.datetime | None = None,
    ) -> Workspace:
        """Load the project's definitions (``target`` or ``[tool.lakeplan] module``) and validate the graph.

        Without ``settings``, the project is the one holding the target (its pyproject.toml, searched
        upward from the file or module), not the working directory.
        """
        located = settings is None
        if settings is None:
            target, settings = _locate(target)
        target = target or settings.module
        if not target:
            raise ConfigError(
                "no definitions to load; pass -m MODULE (or a .py path), or set module = '...' in [tool.lakeplan]"
            )
        loaded = load(target, settings.project_root)
        if located:
            settings = _settings_of_module(loaded.module, settings)
        graph = AssetGraph.build(loaded.nodes, loaded.checks)
        resources = {r.name: r for r in loaded.resources}
        ws = cls(
            settings, target, graph, loaded.schedules, read_only, notify, resources, now or dt.datetime.now(dt.UTC)
        )
        ws.resource_configs  # noqa: B018 - [tool.lakeplan.resources] mistakes are one line now, not mid-run
        return ws

    @functools.cached_property
    def partitioned(self) -> bool:
        return any(node.partitions is not None for node in self.graph.nodes.values())

    @functools.cached_property
    def expanded(self) -> PartitionGraph:
        """The partition graph at ``now``; the declared graph itself (no instances) when nothing is partitioned."""
        return expand(self.graph, self.now) if self.partitioned else PartitionGraph(self.graph, {})

    @property
    def planned(self) -> AssetGraph:
        """The graph the planner and executors work on (keys are instance keys when partitioned)."""
        return self.expanded.graph

    def instance(self, key: str) -> Instance:
        """Which asset and partition a planned key stands for."""
        found = self.expanded.instances.get(key)
        return found if found is not None else Instance(key, None)

    def partition_order(self, asset: str) -> Mapping[str, int]:
        """Each partition key of ``asset`` by its position (empty for an unpartitioned asset)."""
        partitions = self.graph.nodes[asset].partitions
        return {} if partitions is None else positions(partitions, self.now)

    def asset(self, key: str) -> AssetDef:
        """The asset a step of planned ``key`` builds, keyed by it (an asset's partition records and
        stores under its instance key, ``ASSET/partition=KEY``)."""
        declared = self.graph.asset(self.instance(key).asset)
        return declared if declared.key == key else dataclasses.replace(declared, key=key)

    @functools.cached_property
    def store(self) -> MetadataStore:
        store = MetadataStore.open(self.settings.resolved_database_url, create=not self.read_only)
        if isinstance(store, AbsentStore) and self.notify is not None:
            self.notify(store.note)
        return store

    @functools.cached_property
    def objects(self) -> VersionStore:
        """The local directory, or lakeFS when configured (imported only then)."""
        from io_managers.version_store import open_version_store

        return open_version_store(self.settings)

    def code_version(self, key: str) -> CodeVersion:
        """The code version of the asset of planned ``key`` (one per asset, shared by its partitions)."""
        return self._code_versions[self.instance(key).asset]

    @functools.cached_property
    def _code_versions(self) -> dict[str, CodeVersion]:
        with collector_paused():  # tens of thousands of small acyclic records (see bulk.py)
            versions = {key: self._versioner.version(node) for key, node in self.graph.assets.items()}
        return self._with_resource_parts(versions) if self.resources else versions

    def _with_resource_parts(self, versions: dict[str, CodeVersion]) -> dict[str, CodeVersion]:
        """Automatic code versions that also cover the asset's IO manager resource and the config of each
        ``versioned=True`` resource it uses (``resources.code_parts``); an explicit ``code_version`` still wins."""
        for key, asset in self.graph.assets.items():
            extra = code_parts(asset, self.resources, self.resource_configs)
            code = versions[key]
            if not extra or asset.code_version is not None:
                continue
            hashed = [code.version, *(f"{p.name}={p.digest}" for p in extra)]
            versions[key] = CodeVersion(
                structured_hash(["with-resources", *hashed]),
                {**code.components, **{p.name: p.digest for p in extra}},
                (*code.parts, *extra),
            )
        return versions

    @functools.cached_property
    def resource_configs(self) -> dict[str, ResolvedConfig]:
        """Every declared resource's configuration (pyproject.toml, then the environment)."""
        return resolve_all(self.resources, self.settings.sections)

    def resource(self, name: str) -> object:
        """The resource's value, built once per process on first use."""
        if name not in self._built:
            self._built[name] = build(self.resources[name], self.resource_configs[name])
        return self._built[name]

    def io_manager(self, name: str) -> IOManager:
        """The IO manager ``@asset(io_manager=name)`` means: a built-in format, or the resource of that name."""
        if is_builtin_io_manager(name):
            from io_managers.files import FileIOManager

            return FileIOManager(self.objects, name)
        value = self.resource(name)
        if not isinstance(value, IOManager):
            raise ConfigError(
                f"resource {name!r} is used as io_manager= but returns {type(value).__name__}, not an IOManager; "
                "return an assets_core.IOManager (e.g. io_managers.postgres.PostgresTableIOManager)"
            )
        return value

    def io_manager_at(self, location: str) -> tuple[IOManager, str]:
        """The IO manager that wrote ``location``, and the location in its own words."""
        external = parse_external(location)
        if external is None:
            return self.io_manager("auto"), location
        name, where = external
        if name not in self.resources:
            raise ConfigError(
                f"stored output {location} was written by IO manager {name!r}, which this module no longer "
                f"declares; declare the @resource {name!r} again or rebuild the asset (--force)"
            )
        return self.io_manager(name), where

    def checks_of(self, key: str) -> tuple[AssetCheck, ...]:
        """The checks of planned ``key``: its asset's (each partition of an asset is checked on its own)."""
        return self.graph.checks.get(self.instance(key).asset, ()) if self.graph.checks else ()

    def check_versions(self, key: str) -> dict[str, str]:
        """The code version of each check of planned ``key``'s asset, by check name (versioned like assets)."""
        return self._check_versions.get(self.instance(key).asset, {})

    @functools.cached_property
    def _check_versions(self) -> dict[str, dict[str, str]]:
        return {
            key: {check.name: self._versioner.version(check).version for check in checks}
            for key, checks in self.graph.checks.items()
        }

    def owed_checks(self, heads: Mapping[str, Head]) -> dict[str, PendingChecks]:
        """What the checks owe each current version in ``heads`` (only assets with checks; one store read)."""
        if not self.graph.checks:
            return {}
        versions = {key: head.data_version for key, head in heads.items() if self.checks_of(key)}
        if not versions:
            return {}
        recorded = self.store.check_results(versions)
        owed = {
            key: pending_checks(self.checks_of(key), self.check_versions(key), recorded.get(key, ()))
            for key in versions
        }
        return {key: pending for key, pending in owed.items() if pending is not None}

    def select(self, expression: str | None) -> frozenset[str]:
        """The declared assets and sources ``expression`` selects."""
        return select(self.graph, expression)

    def scope(self, expression: str | None, partitions: PartitionRange | None = None) -> frozenset[str]:
        """The planned keys of the selection, narrowed to ``partitions`` (see partition_scope)."""
        selected = self.select(expression)
        if partitions is None:
            return instances_of(self.expanded, selected)
        definitions = {k: n.partitions for k, n in self.graph.nodes.items()}
        return scope(self.expanded, definitions, selected, partitions, self.now)

    def observe(
        self,
        keys: Collection[str] | None = None,
        run_id: str | None = None,
        outputs: OutputCheck = OutputCheck.EXISTS,
        heads: Mapping[str, Head] | None = None,
    ) -> Observation:
        """What the object store says is current for ``keys`` (default: all), as the run ``run_id`` sees it;
        ``outputs``: how each recorded output is checked (``OutputCheck``: trusted, stat'ed or re-hashed; a
        gone or corrupted one counts as missing). ``heads``: the heads of ``keys`` already read (a step reads
        them with its claim); else they are read here.

        With ``keys`` the work is proportional to them, not to the graph: a step observes its asset and
        its upstreams once per asset of a run."""
        nodes = self.planned.nodes
        found = nodes.items() if keys is None else ((key, nodes.get(key)) for key in keys)
        sources = {key: self.source(key) for key, node in found if isinstance(node, SourceAsset)}
        recorded = self.store.heads(keys) if heads is None else heads
        external = {k: h for k, h in recorded.items() if h.location.startswith(EXTERNAL_SCHEME)}
        own = {k: h for k, h in recorded.items() if k not in external} if external else recorded
        seen = self.objects.observe(own, sources, run_id, outputs)
        if not external:
            return seen
        gone = set()
        for key, head in external.items():  # outputs outside the version store: asked of the manager that wrote them
            name, where = parse_external(head.location) or ("", "")
            if name not in self.resources:
                gone.add(key)  # its IO manager is no longer declared: rebuilt by the one declared now
            elif outputs is not OutputCheck.TRUST and not self.io_manager(name).exists(
                where, head.data_version, outputs is OutputCheck.HASH
            ):
                gone.add(key)
        return dataclasses.replace(seen, heads={**seen.heads, **external}, missing=seen.missing | gone)

    def source(self, key: str) -> SourceAsset:
        """The source of planned ``key``; a partition of a source with its own key and path."""
        instance = self.instance(key)
        node = self.graph.nodes[instance.asset]
        if not isinstance(node, SourceAsset):
            raise KeyError(key)
        return node if instance.partition is None else bind_source(node, key, instance.partition)

    def current_state(self, keys: Collection[str] | None = None, run_id: str | None = None) -> CurrentState:
        """Code versions, published heads, source versions and missing outputs (whole graph by default)."""
        return self._state(self.observe(keys, run_id))

    def _state(self, seen: Observation) -> CurrentState:
        return CurrentState(
            code_versions=self._planned_code_versions,
            heads=seen.heads,
            source_versions=seen.sources,
            missing_outputs=seen.missing,
            checks=self.owed_checks(seen.heads),
        )

    @functools.cached_property
    def _planned_code_versions(self) -> dict[str, str]:
        """Each planned key's code version: its asset's."""
        versions = {k: v.version for k, v in self._code_versions.items()}
        if not self.partitioned:
            return versions
        return {k: versions[i.asset] for k, i in self.expanded.instances.items() if i.asset in versions}

    def plan(
        self,
        selection: str | None = None,
        outputs: OutputCheck = OutputCheck.EXISTS,
        run_id: str | None = None,
        partitions: PartitionRange | None = None,
    ) -> Plan:
        """What is stale in ``selection`` (narrowed to ``partitions``); with ``run_id``, as that run sees the
        store (its own outputs included before they are published, e.g. on its lakeFS branch). ``outputs``:
        how recorded outputs are checked; only a plan that builds nothing may ``TRUST`` them."""
        chosen = self.scope(selection, partitions)  # first: a bad selection fails before the store is read
        # Paused over the whole plan, the cyclic collector never scans the heads: they are freed (they hold
        # no cycles) when _plan returns, before it resumes. Paused only around reading them and around the
        # planner, it resumed twice a plan with them young (12-30 ms of a 10k-asset plan, measured loaded).
        with collector_paused():
            return self._plan(chosen, outputs, run_id)

    def _plan(self, chosen: frozenset[str], outputs: OutputCheck, run_id: str | None) -> Plan:
        seen = self.observe(outputs=outputs, run_id=run_id)
        state = self._state(seen)
        # Every asset selected plans as no selection: the same statuses, without looking for stale upstreams
        # left out of the selection for each stale asset (5,050 searches at 10k assets with one root changed).
        whole = chosen.issuperset(state.code_versions)
        return _name_origins(plan(self.planned, state, None if whole else chosen), seen.origins)

    def relative(self, path: Path) -> str:
        root = self.settings.project_root
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _locate(target: str | None) -> tuple[str | None, Settings]:
    """Settings of the project holding ``target`` when it is a .py file found from here (the file's
    project, with the target made relative to it); else of the project holding the working directory."""
    if target and (target.endswith(".py") or "/" in target):
        path = Path(target).expanduser()
        path = path if path.is_absolute() else Path.cwd() / path
        if path.is_file():
            path = path.resolve()
            settings = load_settings(path.parent)
            root = settings.project_root
            return (str(path.relative_to(root)) if path.is_relative_to(root) else str(path)), settings
    return target, load_settings()


def _settings_of_module(module: ModuleType, settings: Settings) -> Settings:
    """The settings of the project holding ``module``'s file when that is not the one already chosen
    (a module imported from elsewhere on sys.path)."""
    filename = getattr(module, "__file__", None)
    if not filename or Path(filename).resolve().is_relative_to(settings.project_root):
        return settings
    root = project_root_of(Path(filename).resolve().parent)
    return load_settings(root) if root is not None else settings


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

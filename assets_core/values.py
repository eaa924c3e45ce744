"""An asset's values through its IO managers: its arguments (upstream values and resources), its output,
and making a recorded version current. The step (``step.py``) calls these; so does ``rollback``.

Values stored by a resource IO manager live outside the version store, so the version store's own
commit (lakeFS) is not asked to hold them; every manager is told which version is current (``make_current``),
which moves what other programs see (a PostgreSQL view), so it is called only once a version is to be recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .definitions import AssetDef, SourceAsset, is_builtin_io_manager
from .io_manager import InputContext, OutputContext, external_location, parse_external
from .records import Materialization

if TYPE_CHECKING:
    from io_managers.version_store import Observation

    from .workspace import Workspace


def read_inputs(ws: Workspace, asset: AssetDef, seen: Observation) -> dict[str, Any]:
    """The function's arguments: upstream values at their recorded versions, sources where observed, and the
    resources it names."""
    kwargs: dict[str, Any] = {}
    for item in asset.inputs:
        node = ws.graph.nodes[item.key]
        if isinstance(node, SourceAsset):
            kwargs[item.param] = ws.objects.read_source(node, seen.origins.get(item.key), item.annotation)
            continue
        head = seen.heads[item.key]
        kwargs[item.param] = read_output(ws, node, head.location, head.data_version, item.annotation)
    for name in asset.resource_params:
        kwargs[name] = ws.resource(name)
    return kwargs


def read_output(ws: Workspace, producer: AssetDef, location: str, data_version: str, annotation: object) -> Any:
    """An asset's stored output as ``annotation`` asks for it, read (and checked against ``data_version``) by
    the IO manager that wrote it: for a dependent, or anything else that reads a recorded version."""
    manager, where = ws.io_manager_at(location)
    return manager.load(InputContext(producer.key, where, data_version, annotation, producer.return_annotation))


def write_output(ws: Workspace, asset: AssetDef, value: object, run_id: str) -> tuple[str, str, dict[str, Any]]:
    """Store ``value`` through the asset's IO manager: (recorded location, data version, metadata)."""
    stored = ws.io_manager(asset.io_manager).store(value, OutputContext(asset.key, run_id, asset.return_annotation))
    if is_builtin_io_manager(asset.io_manager):
        return stored.location, stored.data_version, dict(stored.metadata)
    return external_location(asset.io_manager, stored.location), stored.data_version, dict(stored.metadata)


def commit(ws: Workspace, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
    """The version store's own commit of a value it holds (lakeFS: on the run's branch), before the metadata
    store records it; a value a resource IO manager holds is not the version store's to commit."""
    if mat.location is not None and parse_external(mat.location) is not None:
        return mat
    return ws.objects.commit(mat, input_locations)


def make_current(ws: Workspace, mat: Materialization) -> None:
    """Tell the IO manager holding ``mat``'s value that it is now the current version (a PostgreSQL view
    moves to it; the built-in files need nothing), before the metadata store records it."""
    if mat.location is not None:
        manager, where = ws.io_manager_at(mat.location)
        manager.make_current(mat.asset_key, where, mat.data_version or "")


def output_exists(ws: Workspace, location: str, data_version: str) -> bool:
    """Whether a recorded output is still there (a restore or rollback needs it)."""
    manager, where = ws.io_manager_at(location)
    return manager.exists(where, data_version)

"""An asset's values through its IO managers: its arguments (upstream values and resources), its output,
and making a recorded version current. The step (``step.py``) calls these; so does ``rollback``.

Values stored by a resource IO manager live outside the version store, so the version store's own
commit (lakeFS) is not asked to hold them: their manager is told which version is current instead.
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
    """The function's arguments: upstream values at their recorded versions (each read by the IO manager
    that wrote it), sources where observed, and the resources it names."""
    kwargs: dict[str, Any] = {}
    for item in asset.inputs:
        node = ws.graph.nodes[item.key]
        if isinstance(node, SourceAsset):
            kwargs[item.param] = ws.objects.read_source(node, seen.origins.get(item.key), item.annotation)
            continue
        head = seen.heads[item.key]
        manager, where = ws.io_manager_at(head.location)
        producer = node.return_annotation if isinstance(node, AssetDef) else None
        kwargs[item.param] = manager.load(InputContext(item.key, where, head.data_version, item.annotation, producer))
    for name in asset.resource_params:
        kwargs[name] = ws.resource(name)
    return kwargs


def write_output(ws: Workspace, asset: AssetDef, value: object, run_id: str) -> tuple[str, str, dict[str, Any]]:
    """Store ``value`` through the asset's IO manager: (recorded location, data version, metadata)."""
    stored = ws.io_manager(asset.io_manager).store(value, OutputContext(asset.key, run_id, asset.return_annotation))
    if is_builtin_io_manager(asset.io_manager):
        return stored.location, stored.data_version, dict(stored.metadata)
    return external_location(asset.io_manager, stored.location), stored.data_version, dict(stored.metadata)


def publish(ws: Workspace, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
    """Make ``mat`` current in the store that holds its value, before the metadata store records it: the
    version store's commit (lakeFS) for its own files, the IO manager's ``make_current`` for the others."""
    if mat.location is None or parse_external(mat.location) is None:
        return ws.objects.commit(mat, input_locations)
    manager, where = ws.io_manager_at(mat.location)
    manager.make_current(mat.asset_key, where, mat.data_version or "")
    return mat


def output_exists(ws: Workspace, location: str, data_version: str) -> bool:
    """Whether a recorded output is still there (a restore or rollback needs it)."""
    manager, where = ws.io_manager_at(location)
    return manager.exists(where, data_version)

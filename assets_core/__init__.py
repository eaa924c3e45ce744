"""lakeplan's core: declare assets, version them, plan only what is stale, materialize it.

Import from here (``from assets_core import asset``); the modules behind it are private.
"""

from .checks import AssetCheck, CheckResult, asset_check
from .context import add_metadata
from .definitions import AssetDef, AssetInput, Definitions, Resources, SourceAsset, asset, source_asset
from .errors import (
    ConfigError,
    DefinitionError,
    ExitCode,
    GraphError,
    LakeplanError,
    SelectionError,
    StepFailed,
    StoreError,
    UserCodeError,
)
from .graph import AssetGraph
from .io_manager import InputContext, IOManager, OutputContext, Stored
from .planner import AssetStatus, CauseKind, CurrentState, Plan, StaleCause, assess, plan
from .records import CheckRecord, Head, Materialization, MaterializationKind, RunRecord, RunStatus
from .resources import ResourceDef, resource
from .schedules import Schedule, schedule

__version__ = "0.1.0"

__all__ = [
    "AssetCheck",
    "AssetDef",
    "AssetGraph",
    "AssetInput",
    "AssetStatus",
    "CauseKind",
    "CheckRecord",
    "CheckResult",
    "ConfigError",
    "CurrentState",
    "DefinitionError",
    "Definitions",
    "ExitCode",
    "GraphError",
    "Head",
    "IOManager",
    "InputContext",
    "LakeplanError",
    "Materialization",
    "MaterializationKind",
    "OutputContext",
    "Plan",
    "ResourceDef",
    "Resources",
    "RunRecord",
    "RunStatus",
    "Schedule",
    "SelectionError",
    "SourceAsset",
    "StaleCause",
    "StepFailed",
    "Stored",
    "StoreError",
    "UserCodeError",
    "__version__",
    "add_metadata",
    "assess",
    "asset",
    "asset_check",
    "plan",
    "resource",
    "schedule",
    "source_asset",
]

"""Compile lakeplan plans to Argo Workflows, CronWorkflows and WorkflowTemplates (built on hera).

Import from here. Names load lazily, so ``lakeplan`` commands and the pods' ``lakeplan step`` do not pay
for importing hera. ``lakeplan compile / schedules / submit`` run on your machine, ``lakeplan step /
plan-task`` inside the pods.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import depends
    from .checks import problems
    from .compiler import Manifest, ManifestTooLarge, Run, Target, cron_workflow, split_workflow, workflow
    from .config import ArgoConfig, SecretRef, argo_config
    from .names import task_name
    from .project import Compiled, Request, compile_project
    from .render import from_yaml, to_model, to_yaml
    from .submit import Server, SubmitError, submit

_WHERE = {
    "depends": "",
    "problems": "checks",
    "Manifest": "compiler",
    "ManifestTooLarge": "compiler",
    "Run": "compiler",
    "Target": "compiler",
    "cron_workflow": "compiler",
    "split_workflow": "compiler",
    "workflow": "compiler",
    "ArgoConfig": "config",
    "SecretRef": "config",
    "argo_config": "config",
    "task_name": "names",
    "Request": "project",
    "compile_project": "project",
    "Compiled": "project",
    "from_yaml": "render",
    "to_model": "render",
    "to_yaml": "render",
    "Server": "submit",
    "SubmitError": "submit",
    "submit": "submit",
}

__all__ = [
    "ArgoConfig",
    "Compiled",
    "Manifest",
    "ManifestTooLarge",
    "Request",
    "Run",
    "SecretRef",
    "Server",
    "SubmitError",
    "Target",
    "argo_config",
    "compile_project",
    "cron_workflow",
    "depends",
    "from_yaml",
    "problems",
    "split_workflow",
    "submit",
    "task_name",
    "to_model",
    "to_yaml",
    "workflow",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'argo_compiler' has no attribute {name!r}")
    if not _WHERE[name]:  # a submodule
        return importlib.import_module(f".{name}", __name__)
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)

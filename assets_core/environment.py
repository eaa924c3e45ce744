"""Where and with what a run happened: Python, platform, host, container image, the versions of the
distributions the user's code imports, the git commit of the user's repo and lakeplan's settings.

Captured once per run (recorded in ``RunRecord.environment``) so ``lakeplan diff`` can say which
package, commit or setting changed between two runs. Cheap: imports are read from the already
loaded user modules' source, distributions come from ``importlib.metadata`` and git is one subprocess.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from .code_version import user_file_predicate
from .config import Settings
from .masking import mask_settings, mask_url

IMAGE_VARIABLES = ("LAKEPLAN_IMAGE",)  # set by the Argo pod spec to the step's container image


def imported_top_modules(sources: Iterable[str]) -> set[str]:
    """Top-level module names imported by these Python sources (absolute imports only)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


@functools.cache
def _distributions_by_module() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution_versions(modules: Iterable[str]) -> dict[str, str]:
    """Installed distribution name -> version for each importable top-level module (stdlib is left out)."""
    found: dict[str, str] = {}
    by_module = _distributions_by_module()
    for module in sorted(set(modules)):
        for dist in by_module.get(module, ()):
            try:
                found[dist] = importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
    return found


def user_modules(project_root: Path, modules: Mapping[str, ModuleType | None] | None = None) -> list[ModuleType]:
    """Loaded modules whose file is the user's own code under ``project_root``."""
    is_user_file = user_file_predicate(project_root)
    loaded = sys.modules if modules is None else modules
    found = []
    for module in list(loaded.values()):
        filename = getattr(module, "__file__", None)
        if module is not None and filename and filename.endswith(".py") and is_user_file(filename):
            found.append(module)
    return found


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def packages(project_root: Path) -> dict[str, str]:
    """Versions of the distributions the user's loaded modules import, plus lakeplan itself."""
    sources = [_read(m.__file__) for m in user_modules(project_root) if m.__file__]
    return distribution_versions(imported_top_modules(sources) | {"assets_core"})


def parse_git_status(output: str) -> dict[str, Any] | None:
    """Commit, branch and dirty flag from ``git status --porcelain=v2 --branch`` output."""
    commit = branch = None
    dirty = False
    for line in output.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split()[2]
        elif line.startswith("# branch.head "):
            branch = line.split(maxsplit=2)[2]
        elif line and not line.startswith("#"):
            dirty = True
    if commit is None:
        return None
    return {"commit": None if commit == "(initial)" else commit, "branch": branch, "dirty": dirty}


def git_state(project_root: Path) -> dict[str, Any] | None:
    """The user's repo commit and whether tracked files changed since; None outside a git repo."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
            cwd=project_root,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_git_status(result.stdout) if result.returncode == 0 else None


def configuration(
    settings: Settings, target: str, resources: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The settings a run used (passwords and secrets masked), to tell configuration changes apart;
    ``resources``: each resource's configuration as resolved for the run (secrets already masked)."""
    sections = {name: mask_settings(section) for name, section in sorted(settings.sections.items())}
    if resources:
        sections["resources"] = {name: mask_settings(config) for name, config in sorted(resources.items())}
    return {
        "module": target,
        "database": mask_url(settings.resolved_database_url),
        "storage_root": str(settings.resolved_storage_root),
        "workers": settings.workers,
        "retry_backoff_seconds": settings.retry_backoff_seconds,
        "fsync": settings.fsync,
        "timeout": settings.timeout,
        **sections,
    }


def capture(
    settings: Settings,
    target: str,
    environ: Mapping[str, str] | None = None,
    resources: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Everything recorded about where a run happened (call after the user's module is loaded)."""
    env = os.environ if environ is None else environ
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "image": next((env[v] for v in IMAGE_VARIABLES if env.get(v)), None),
        "packages": packages(settings.project_root),
        "git": git_state(settings.project_root),
        "config": configuration(settings, target, resources),
    }

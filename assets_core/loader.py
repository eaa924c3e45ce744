"""Loading the user's definitions from a module name or a file path.

An error while importing is reported at the user's own line (``pipeline.py:12: NameError: ...``),
never at importlib's or ours.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType

from .checks import AssetCheck
from .definitions import AssetDef, Definitions, SourceAsset
from .environment import user_modules
from .errors import DefinitionError, LakeplanError, UserCodeError
from .failures import is_lakeplan_frame
from .resources import ResourceDef, bind
from .schedules import Schedule
from .step_log import stdout_to_stderr


@dataclass(frozen=True)
class Loaded:
    """What a user's module declares."""

    target: str
    module: ModuleType
    nodes: tuple[AssetDef | SourceAsset, ...]
    schedules: tuple[Schedule, ...]
    resources: tuple[ResourceDef, ...] = ()
    checks: tuple[AssetCheck, ...] = ()


def _user_frame(tb: TracebackType | None) -> traceback.FrameSummary | None:
    """The innermost traceback frame in the user's code (not importlib's, not lakeplan's)."""
    frames = [f for f in traceback.extract_tb(tb) if not is_lakeplan_frame(f.filename)]
    return frames[-1] if frames else None


def _where(frame: traceback.FrameSummary | None, root: Path) -> str:
    if frame is None:
        return ""
    path = Path(frame.filename)
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return f"{shown}:{frame.lineno}: "


def _module_name_for_file(path: Path, root: Path) -> tuple[str, Path]:
    """A dotted module name for a file, and the sys.path entry that makes it importable."""
    parent = path.parent
    parts = [path.stem]
    while (parent / "__init__.py").is_file() and parent != root.parent:
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts), parent


# Each user module file as this process last imported it (its mtime in ns), to see edits since.
_imported: dict[str, int] = {}


def _mtime(filename: str) -> int:
    try:
        return Path(filename).stat().st_mtime_ns
    except OSError:
        return -1  # deleted: changed


def _forget_edited(root: Path) -> None:
    """Drop every module of the user's code from ``sys.modules`` when any file of it changed since this
    process imported it, so a long-running process (``lakeplan ui``) loads edits; else keep them all."""
    modules = user_modules(root)
    files = {m.__name__: m.__file__ or "" for m in modules}
    if not any(f in _imported and _mtime(f) != _imported[f] for f in files.values()):
        return
    for name in files:  # all of them: an unchanged module may hold objects of a changed one
        del sys.modules[name]
    importlib.invalidate_caches()


def _remember_imported(root: Path) -> None:
    _imported.update({m.__file__: _mtime(m.__file__) for m in user_modules(root) if m.__file__})


def _import(target: str, root: Path) -> ModuleType:
    is_file = target.endswith(".py") or "/" in target
    if is_file:
        path = (root / target).resolve() if not Path(target).is_absolute() else Path(target)
        if not path.is_file():
            raise UserCodeError(f"file {target!r} not found; pass a path to a .py file or a module name with -m")
        name, entry = _module_name_for_file(path, root)
    else:
        name, entry = target, root
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))
    _forget_edited(root)
    try:
        with stdout_to_stderr():  # what the module prints as it loads: stdout is lakeplan's (--json)
            module = importlib.import_module(name)
        _remember_imported(root)
        return module
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise UserCodeError(
                f"module {name!r} not found from {entry}; run lakeplan from the project root or pass a file path"
            ) from None
        raise UserCodeError(f"could not import {target}: {_where(_user_frame(exc.__traceback__), root)}{exc}") from None
    except SyntaxError as exc:
        shown = Path(exc.filename or "?")
        shown = shown.relative_to(root) if shown.is_relative_to(root) else shown
        raise UserCodeError(f"could not import {target}: {shown}:{exc.lineno}: SyntaxError: {exc.msg}") from None
    except LakeplanError as exc:
        raise type(exc)(f"{_where(_user_frame(exc.__traceback__), root)}{exc}") from None
    except Exception as exc:
        where = _where(_user_frame(exc.__traceback__), root)
        raise UserCodeError(f"could not import {target}: {where}{type(exc).__name__}: {exc}") from None


def load(target: str, root: Path) -> Loaded:
    """Import ``target`` and collect its assets, sources, schedules, resources and asset checks (or its one
    ``Definitions``); parameters naming a resource are bound to it, not to an upstream."""
    module = _import(target, root)
    values = list(vars(module).values())
    bundles = [v for v in values if isinstance(v, Definitions)]
    if len(bundles) > 1:
        raise DefinitionError(f"{target} defines {len(bundles)} Definitions objects; keep exactly one")
    if bundles:
        items: list[object] = [*bundles[0].assets, *bundles[0].schedules, *bundles[0].resources, *bundles[0].checks]
        for item in items:
            if not isinstance(item, (AssetDef, SourceAsset, Schedule, ResourceDef, AssetCheck)):
                raise DefinitionError(
                    f"{target}: Definitions holds {item!r}, which is not an asset, source, schedule, resource or check"
                )
    else:
        items = values
    nodes = tuple(dict.fromkeys(v for v in items if isinstance(v, (AssetDef, SourceAsset))))
    schedules = tuple(dict.fromkeys(v for v in items if isinstance(v, Schedule)))
    resources = tuple(dict.fromkeys(v for v in items if isinstance(v, ResourceDef)))
    checks = tuple(dict.fromkeys(v for v in items if isinstance(v, AssetCheck)))
    if not nodes:
        raise DefinitionError(f"{target} declares no assets; decorate functions with @asset")
    names = [s.name for s in schedules]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DefinitionError(f"{target}: schedule name {duplicated[0]!r} is used twice; names must be unique")
    return Loaded(target, module, bind(nodes, resources), schedules, resources, checks)

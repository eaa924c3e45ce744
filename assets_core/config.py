"""Settings from ``[tool.lakeplan]`` in pyproject.toml, overridden by ``LAKEPLAN_*`` environment variables.

Sub-tables (``[tool.lakeplan.argo]``, ``[tool.lakeplan.lakefs]``, ``[tool.lakeplan.resources]``) are kept as
plain dicts for the packages (or modules) that own them to validate.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .timeouts import FORMS, parse_timeout

STATE_DIR = ".lakeplan"
_SECTIONS = ("argo", "lakefs", "resources")
_ENV = {
    "module": "LAKEPLAN_MODULE",
    "database_url": "LAKEPLAN_DATABASE_URL",
    "storage_root": "LAKEPLAN_STORAGE_ROOT",
    "workers": "LAKEPLAN_WORKERS",
    "retry_backoff_seconds": "LAKEPLAN_RETRY_BACKOFF_SECONDS",
    "fsync": "LAKEPLAN_FSYNC",
    "timeout": "LAKEPLAN_TIMEOUT",
}


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one project."""

    project_root: Path
    module: str | None = None
    database_url: str | None = None
    storage_root: Path | None = None
    workers: int = 1
    retry_backoff_seconds: float = 1.0
    fsync: bool = False
    timeout: int | None = None  # seconds an attempt at an asset without its own timeout may run; None: no limit
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def state_dir(self) -> Path:
        return self.project_root / STATE_DIR

    @property
    def resolved_database_url(self) -> str:
        """The metadata store URL: SQLite under ``.lakeplan/`` unless configured."""
        return self.database_url or f"sqlite:///{self.state_dir / 'lakeplan.db'}"

    @property
    def resolved_storage_root(self) -> Path:
        return self.storage_root or self.state_dir / "storage"

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections.get(name, {})


def project_root_of(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding a pyproject.toml, else None."""
    start = start.resolve()
    return next((c for c in (start, *start.parents) if (c / "pyproject.toml").is_file()), None)


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a pyproject.toml, else ``start``."""
    return project_root_of(start) or start.resolve()


def _read_table(pyproject: Path) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pyproject}: not valid TOML ({exc}); fix the file or remove [tool.lakeplan]") from None
    table = data.get("tool", {}).get("lakeplan", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{pyproject}: [tool.lakeplan] must be a table")
    return table


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")
MAX_WORKERS = 256  # more worker processes than this is a typo (99999), not a machine


def parse_bool(value: object) -> bool:
    """A TOML boolean or a yes/no word from the environment ('1', 'true', 'yes' / '0', 'false', 'no');
    anything else raises ValueError for the caller to report where it came from."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in _TRUE + _FALSE:
        raise ValueError(value)
    return text in _TRUE


def whole_number(value: object, low: int, high: int | None = None) -> int:
    """An int (or its decimal text, from the environment or command line) from ``low`` to ``high``;
    anything else, booleans and fractions included (never truncated), raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(value)
    number = int(value)
    if number < low or (high is not None and number > high):
        raise ValueError(value)
    return number


def seconds(value: object, high: float = 3600) -> float:
    """A duration from 0 to ``high`` seconds (a number, or its text); anything else raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    number = float(value)
    if not 0 <= number <= high:  # also refuses NaN
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class Typed:
    """How one non-string setting is parsed, the TOML types it takes, and the words to report it with."""

    parse: Callable[[object], Any]
    toml_types: tuple[type, ...]
    expected: str
    example: str

    def value(self, name: str, value: Any, source: str, from_env: bool) -> Any:
        """``value`` of setting ``name`` as its type. The environment holds text; TOML has types, so a string
        or number where a boolean belongs (``fsync = "yes"``, ``fsync = 1``) is refused with the form to write."""
        if not from_env and not isinstance(value, self.toml_types):
            if isinstance(value, str):
                raise ConfigError(
                    f"{source}: {name} must be {self.expected}, not the string {value!r}; write {self.example}"
                )
            raise ConfigError(f"{source}: {name} must be {self.expected}, got {value!r}")
        try:
            return self.parse(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be {self.expected}, got {value!r}") from None


_TYPED = {
    "workers": Typed(
        lambda v: whole_number(v, 1, MAX_WORKERS), (int,), f"a whole number from 1 to {MAX_WORKERS}", "workers = 4"
    ),
    "retry_backoff_seconds": Typed(seconds, (int, float), "seconds from 0 to 3600", "retry_backoff_seconds = 1.5"),
    "fsync": Typed(parse_bool, (bool,), "true or false", "fsync = true"),
    "timeout": Typed(parse_timeout, (str, int), f"{FORMS}, from 1s to 30 days", 'timeout = "1h"'),
}


def _coerce(name: str, value: Any, source: str, from_env: bool) -> Any:
    typed = _TYPED.get(name)
    if typed is None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: {name} must be a non-empty string, got {value!r}")
        return value
    return typed.value(name, value, source, from_env)


def load_settings(start: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings for the project containing ``start`` (default: the working directory)."""
    env = os.environ if env is None else env
    root_override = env.get("LAKEPLAN_PROJECT_ROOT")
    root = Path(root_override).resolve() if root_override else find_project_root(start or Path.cwd())
    pyproject = root / "pyproject.toml"
    table = _read_table(pyproject)
    values: dict[str, Any] = {}
    sections: dict[str, Mapping[str, Any]] = {}
    for name, value in table.items():
        if name in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{pyproject}: [tool.lakeplan.{name}] must be a table")
            sections[name] = value
        elif name in _ENV:
            values[name] = _coerce(name, value, f"{pyproject} [tool.lakeplan]", from_env=False)
        else:
            known = [*_ENV, *_SECTIONS]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"{pyproject}: unknown key {name!r} in [tool.lakeplan]; {hint}")
    for name, var in _ENV.items():
        if env.get(var):
            values[name] = _coerce(name, env[var], f"environment variable {var}", from_env=True)
    storage = values.pop("storage_root", None)
    if storage is not None:
        storage_path = Path(storage)
        values["storage_root"] = storage_path if storage_path.is_absolute() else root / storage_path
    return Settings(project_root=root, sections=sections, **values)

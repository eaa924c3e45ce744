"""Resources: things an asset uses but does not read as data (a database engine, an API client, an IO
manager), declared once with ``@resource`` and passed to every asset that names one as a parameter.

A resource is not an upstream asset: the graph has no edge to it and the planner never sees it. Its
configuration comes from ``[tool.lakeplan.resources.NAME]`` (non-secret keys it declares), overridden
by ``LAKEPLAN_RESOURCE_NAME_KEY`` (read as the type of the key's default); its secrets come only from
the environment variables it names (on Argo, from Kubernetes Secrets by ``secretKeyRef``). A resource
declared ``versioned=True`` makes its non-secret configuration part of the automatic code version of
every asset that uses it; otherwise a configuration change never makes an asset stale.
"""

from __future__ import annotations

import difflib
import inspect
import json
import keyword
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, TypeVar, overload

from .code_version import CodePart
from .config import parse_bool
from .definitions import AssetDef, SourceAsset, is_builtin_io_manager
from .errors import ConfigError, DefinitionError, GraphError
from .hashing import structured_hash
from .masking import MASK

F = TypeVar("F", bound=Callable[..., Any])
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
ENV_PREFIX = "LAKEPLAN_RESOURCE_"


@dataclass(frozen=True, slots=True, eq=False)
class ResourceDef:
    """A declared resource: ``fn(config)`` builds its value once per process.

    ``config``: the non-secret keys it takes, with their defaults; ``secrets``: config key -> the
    environment variable that holds it; ``versioned``: its non-secret config is part of the code
    version of the assets that use it.
    """

    name: str
    fn: Callable[[Mapping[str, Any]], Any]
    config: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    versioned: bool = False
    description: str | None = None

    def __call__(self, config: Mapping[str, Any]) -> Any:
        """Build the resource from ``config`` directly, e.g. in a unit test of your own."""
        return self.fn(config)


def _make_resource(
    fn: Callable[..., Any],
    name: str | None,
    config: Mapping[str, Any] | None,
    secrets: Mapping[str, str] | None,
    versioned: bool,
) -> ResourceDef:
    where = f"@resource {getattr(fn, '__qualname__', repr(fn))}"
    if not callable(fn) or isinstance(fn, (ResourceDef, AssetDef, type)):
        raise DefinitionError(f"@resource decorates a plain function taking its config, got {fn!r}")
    name = name if name is not None else fn.__name__
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise DefinitionError(
            f"{where}: name must be a Python identifier (assets name it as a parameter), got {name!r}"
        )
    if len([p for p in inspect.signature(fn).parameters.values() if p.default is p.empty]) > 1:
        raise DefinitionError(f"{where}: a resource function takes one argument, its config: def {name}(config): ...")
    config = dict(config or {})
    secrets = dict(secrets or {})
    for key, value in config.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise DefinitionError(f"{where}: config keys must be identifiers, got {key!r}")
        if _canonical(value) is None:
            raise DefinitionError(f"{where}: config[{key!r}] must be a string, number, boolean or None, got {value!r}")
    for key, var in secrets.items():
        if (
            not isinstance(key, str)
            or not key.isidentifier()
            or not isinstance(var, str)
            or not _ENV_NAME.fullmatch(var)
        ):
            raise DefinitionError(
                f"{where}: secrets= maps config keys to environment variables, e.g. secrets={{'url': 'WAREHOUSE_URL'}}"
            )
        if key in config:
            raise DefinitionError(f"{where}: {key!r} is both in config= and secrets=; a secret has no default")
    if not isinstance(versioned, bool):
        raise DefinitionError(f"{where}: versioned must be True or False, got {versioned!r}")
    return ResourceDef(
        name, fn, MappingProxyType(config), MappingProxyType(secrets), versioned, inspect.getdoc(fn) or None
    )


@overload
def resource(fn: F, /) -> ResourceDef: ...


@overload
def resource(
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    versioned: bool = False,
) -> Callable[[F], ResourceDef]: ...


def resource(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
    versioned: bool = False,
) -> ResourceDef | Callable[[Callable[..., Any]], ResourceDef]:
    """Declare a resource: an asset parameter of this name receives ``fn(config)`` instead of an upstream's data.

    ``config`` declares the non-secret keys and their defaults (set in ``[tool.lakeplan.resources.NAME]``);
    ``secrets`` maps config keys to the environment variables holding them; ``versioned=True`` makes the
    non-secret config part of the code version of every asset using the resource.
    """
    if fn is not None:
        return _make_resource(fn, name, config, secrets, versioned)
    return lambda f: _make_resource(f, name, config, secrets, versioned)


def _canonical(value: object) -> str | None:
    """JSON text of a scalar config value, else None (lists and tables are not config values here)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return json.dumps(value)
    return None


@dataclass(frozen=True)
class ResolvedConfig:
    """One resource's configuration as a run uses it: ``values`` (secrets included), which keys are secrets,
    and which secrets are unset."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str]
    missing: tuple[str, ...]  # secrets whose environment variable is unset

    def recorded(self) -> dict[str, Any]:
        """Fit for the run record: each secret as ``***`` (or None when unset), everything else as is."""
        return {k: (MASK if v is not None else None) if k in self.secret_keys else v for k, v in self.values.items()}

    def public(self) -> dict[str, Any]:
        """The non-secret values only (what ``versioned=True`` puts in a code version)."""
        return {k: v for k, v in self.values.items() if k not in self.secret_keys}


def _from_env(text: str, default: object, where: str) -> Any:
    """An environment variable's text as the type of the key's default (text when the default is a string
    or None); what does not parse is one line."""
    try:
        if isinstance(default, bool):
            return parse_bool(text)
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ConfigError(
            f"{where} must be {type(default).__name__} like its default {default!r}, got {text!r}"
        ) from None
    return text


def env_var(resource_name: str, key: str) -> str:
    """The environment variable overriding a non-secret key: ``LAKEPLAN_RESOURCE_WAREHOUSE_SCHEMA``."""
    return f"{ENV_PREFIX}{resource_name.upper()}_{key.upper()}"


def resolve_config(res: ResourceDef, table: Mapping[str, Any], env: Mapping[str, str]) -> ResolvedConfig:
    """Defaults, then ``[tool.lakeplan.resources.NAME]`` (``table``), then the environment; secrets only from
    their environment variables. An unknown key or a secret in pyproject.toml is one line with the fix."""
    where = f"[tool.lakeplan.resources.{res.name}]"
    values: dict[str, Any] = dict(res.config)
    for key, value in table.items():
        if key in res.secrets:
            raise ConfigError(
                f"{where} {key}: a secret does not belong in pyproject.toml; remove it and set the environment "
                f"variable {res.secrets[key]}"
            )
        if key not in res.config:
            close = difflib.get_close_matches(key, list(res.config), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"declare it with @resource(config={{{key!r}: ...}})"
            raise ConfigError(f"{where}: unknown key {key!r}; {hint}")
        if _canonical(value) is None:
            raise ConfigError(f"{where} {key} must be a string, number or boolean, got {value!r}")
        values[key] = value
    for key, default in res.config.items():
        var = env_var(res.name, key)
        if var in env:
            values[key] = _from_env(env[var], default, f"environment variable {var}")
    missing = []
    for key, var in sorted(res.secrets.items()):
        values[key] = env.get(var) or None
        if values[key] is None:
            missing.append(key)
    return ResolvedConfig(MappingProxyType(values), frozenset(res.secrets), tuple(missing))


def resources_table(sections: Mapping[str, Mapping[str, Any]], resources: Iterable[ResourceDef]) -> dict[str, Any]:
    """``[tool.lakeplan.resources]`` checked against the declared resources (an unknown name is one line)."""
    table = dict(sections.get("resources", {}))
    names = [r.name for r in resources]
    for name, value in table.items():
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "declare it with @resource in your module"
            raise ConfigError(f"[tool.lakeplan.resources.{name}] configures no declared resource; {hint}")
        if not isinstance(value, Mapping):
            raise ConfigError(f"[tool.lakeplan.resources.{name}] must be a table of settings")
    return table


def resolve_all(
    resources: Mapping[str, ResourceDef],
    sections: Mapping[str, Mapping[str, Any]],
    env: Mapping[str, str] | None = None,
) -> dict[str, ResolvedConfig]:
    """Every resource's configuration, by name."""
    env = os.environ if env is None else env
    table = resources_table(sections, resources.values())
    return {name: resolve_config(res, table.get(name, {}), env) for name, res in sorted(resources.items())}


def build(res: ResourceDef, config: ResolvedConfig) -> Any:
    """The resource's value: ``fn(config)``; a secret left unset is one line naming its variable."""
    if config.missing:
        key = config.missing[0]
        raise ConfigError(
            f"resource {res.name!r} needs its secret {key!r} from the environment variable {res.secrets[key]}; "
            "set it (on Argo it comes from a Kubernetes Secret, see docs/resources.md)"
        )
    return res.fn(dict(config.values))


def resource_names_used(asset: AssetDef) -> tuple[str, ...]:
    """The resources an asset uses: its resource parameters, and its IO manager when that is a resource."""
    named = () if is_builtin_io_manager(asset.io_manager) else (asset.io_manager,)
    return tuple(dict.fromkeys([*asset.resource_params, *named]))


def code_parts(
    asset: AssetDef, resources: Mapping[str, ResourceDef], configs: Mapping[str, ResolvedConfig]
) -> list[CodePart]:
    """What resources add to an asset's automatic code version: its IO manager resource by name (moving an
    asset to another store rebuilds it there), and the non-secret config of each ``versioned=True``
    resource it uses. Secrets never count."""
    parts = []
    if not is_builtin_io_manager(asset.io_manager):
        name = asset.io_manager
        parts.append(CodePart(f"io_manager:{name}", "io manager", structured_hash(["io-manager", name])))
    for name in resource_names_used(asset):
        if resources[name].versioned:
            public = configs[name].public()
            lines = [f"{k}={_canonical(public[k])}" for k in sorted(public)]
            parts.append(CodePart(f"resource:{name}", "resource config", structured_hash(["resource", name, *lines])))
    return parts


def bind(
    nodes: Iterable[AssetDef | SourceAsset], resources: Iterable[ResourceDef]
) -> tuple[AssetDef | SourceAsset, ...]:
    """Take resource parameters out of each asset's inputs (they are not upstreams) and check every name:
    a resource named like an asset, a resource declared twice, or an ``io_manager=`` naming no resource.
    Every problem is reported at once."""
    problems: list[str] = []
    by_name: dict[str, ResourceDef] = {}
    for res in resources:
        if res.name in by_name and by_name[res.name] is not res:
            problems.append(f"resource {res.name!r} is declared twice; rename one with @resource(name='...')")
        by_name[res.name] = res
    items = list(nodes)
    keys = {n.key for n in items}
    for name in sorted(by_name.keys() & keys):
        problems.append(
            f"resource {name!r} has the name of an asset; rename one (assets and resources share parameter names)"
        )
    bound: list[AssetDef | SourceAsset] = []
    for node in items:
        if isinstance(node, AssetDef):
            node = _bind_asset(node, by_name, problems)
        bound.append(node)
    if problems:
        raise GraphError(problems)
    return tuple(bound)


def _bind_asset(asset: AssetDef, by_name: Mapping[str, ResourceDef], problems: list[str]) -> AssetDef:
    params = tuple(i.param for i in asset.inputs if i.param == i.key and i.param in by_name)
    if not is_builtin_io_manager(asset.io_manager) and asset.io_manager not in by_name:
        close = difflib.get_close_matches(asset.io_manager, by_name, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "declare an IO manager with @resource, or use 'auto'"
        problems.append(f"asset {asset.key!r}: io_manager {asset.io_manager!r} names no resource; {hint}")
    if not params:
        return asset
    return replace(asset, inputs=tuple(i for i in asset.inputs if i.param not in params), resource_params=params)

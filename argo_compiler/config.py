"""``[tool.lakeplan.argo]``: what the compiled manifests need from the cluster, overridable by ``LAKEPLAN_ARGO_*``.

Only Secret *names* are configured here; a manifest refers to them with ``secretKeyRef`` and never holds
a secret value. The submit token is read from the command line or ``LAKEPLAN_ARGO_TOKEN`` only.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assets_core.config import Settings, parse_bool
from assets_core.errors import ConfigError
from assets_core.resources import ResourceDef
from io_managers.version_store import lakefs_configured

ENV_PREFIX = "LAKEPLAN_ARGO_"
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_REF = re.compile(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?)/([-._a-zA-Z0-9]+)")
_STRINGS = (
    "image",
    "namespace",
    "service_account",
    "name",
    "database_secret",
    "lakefs_secret",
    "storage_pvc",
    "storage_mount",
    "workdir",
    "image_pull_policy",
    "host",
)
_SECONDS = {  # key: (default, maximum)
    "retry_backoff_seconds": (10, 86400),
    "active_deadline_seconds": (12 * 3600, 30 * 86400),
    "step_deadline_seconds": (6 * 3600, 30 * 86400),
}
_COUNTS = {"parallelism": 50, "budget_bytes": 700_000}
_TABLES = ("secret_env", "security_context")  # configured in pyproject.toml only
_KNOWN = (*_STRINGS, "verify", *_SECONDS, *_COUNTS, *_TABLES, "image_pull_secrets")
LAKEFS_ENV = ("LAKEPLAN_LAKEFS_ENDPOINT", "LAKEPLAN_LAKEFS_REPOSITORY", "LAKEPLAN_LAKEFS_BRANCH")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


@dataclass(frozen=True)
class SecretRef:
    """One key of a Kubernetes Secret, exposed to the step container as an environment variable."""

    env: str
    secret: str
    key: str
    optional: bool = False  # a missing Secret or key leaves the variable unset instead of the pod Pending


@dataclass(frozen=True)
class ArgoConfig:
    """Resolved Argo settings for one project."""

    image: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    name: str | None = None
    database_secret: str = "lakeplan-database"
    lakefs_secret: str | None = None
    secret_env: tuple[SecretRef, ...] = ()
    resource_secrets: tuple[SecretRef, ...] = ()  # each @resource secret, by default from Secret lakeplan-resource-NAME
    storage_pvc: str | None = "lakeplan-storage"
    storage_mount: str = "/lakeplan/storage"
    workdir: str | None = None
    image_pull_policy: str | None = None
    retry_backoff_seconds: int = _SECONDS["retry_backoff_seconds"][0]
    active_deadline_seconds: int = _SECONDS["active_deadline_seconds"][0]  # a whole run, Pending pods included
    step_deadline_seconds: int = _SECONDS["step_deadline_seconds"][0]  # one pod of one step
    parallelism: int = _COUNTS["parallelism"]  # pods of one workflow at once
    budget_bytes: int = _COUNTS["budget_bytes"]  # projected running size of each Argo object, under etcd's ~1 MiB
    image_pull_secrets: tuple[str, ...] = ()
    security_context: tuple[tuple[str, Any], ...] = ()  # the pods' securityContext, as Kubernetes spells it
    lakefs_env: tuple[tuple[str, str], ...] = ()  # lakeFS endpoint, repository, branch for the pods (not secret)
    host: str | None = None
    verify: bool = True
    token: str | None = field(default=None, repr=False)

    def secrets(self) -> tuple[SecretRef, ...]:
        """Every environment variable the step reads from a Secret, sorted by variable name."""
        refs = [SecretRef("LAKEPLAN_DATABASE_URL", self.database_secret, "url")]
        if self.lakefs_secret:
            refs += [
                SecretRef("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", self.lakefs_secret, "access_key_id"),
                SecretRef("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", self.lakefs_secret, "secret_access_key"),
            ]
        by_env = {r.env: r for r in [*refs, *self.resource_secrets]}
        by_env.update({r.env: r for r in self.secret_env})  # the user's secret_env wins
        return tuple(by_env[k] for k in sorted(by_env))


def resource_secret_name(resource: str) -> str:
    """The Kubernetes Secret a resource's secrets come from unless ``secret_env`` says otherwise."""
    return "lakeplan-resource-" + resource.lower().replace("_", "-").strip("-")


def with_resource_secrets(config: ArgoConfig, resources: Iterable[ResourceDef]) -> ArgoConfig:
    """``config`` with every resource secret as a ``secretKeyRef``: the variable the resource reads, from the
    Secret ``lakeplan-resource-NAME`` under the config key (``[tool.lakeplan.argo.secret_env]`` overrides).

    They are ``optional``: every pod gets every resource's variables, and a Secret that is missing then
    leaves the variable unset (kubelet: pkg/kubelet/kubelet_pods.go, makeEnvironmentVariables), so only the
    assets using that resource fail, each in one line naming the variable, instead of every pod staying
    Pending."""
    refs = [
        SecretRef(var, resource_secret_name(res.name), key, optional=True)
        for res in resources
        for key, var in sorted(res.secrets.items())
    ]
    return replace(config, resource_secrets=tuple(sorted(refs, key=lambda r: r.env)))


def _where(key: str, from_env: bool) -> str:
    return f"environment variable {ENV_PREFIX}{key.upper()}" if from_env else f"[tool.lakeplan.argo] {key}"


def _string(key: str, raw: Any, from_env: bool) -> str | None:
    if not isinstance(raw, str):
        raise ConfigError(f"{_where(key, from_env)} must be a string, got {raw!r}")
    value = raw.strip()
    if key in ("database_secret", "lakefs_secret", "storage_pvc", "service_account", "namespace"):
        if key in ("lakefs_secret", "storage_pvc") and not value:
            return None  # explicitly switched off
        if not _DNS_LABEL.fullmatch(value) or len(value) > 63:
            raise ConfigError(
                f"{_where(key, from_env)} {value!r} is not a Kubernetes name; use lowercase letters, digits and '-'"
            )
    elif key == "storage_mount" or key == "workdir":
        if not value.startswith("/"):
            raise ConfigError(f"{_where(key, from_env)} must be an absolute path in the container, got {value!r}")
    elif key == "image_pull_policy":
        if value not in PULL_POLICIES:
            raise ConfigError(f"{_where(key, from_env)} must be one of {', '.join(PULL_POLICIES)}, got {value!r}")
    elif key == "host":
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"{_where(key, from_env)} must start with https:// (or http://), got {value!r}")
    elif not value:
        raise ConfigError(f"{_where(key, from_env)} must not be empty")
    return value


def _bool(key: str, value: Any, from_env: bool) -> bool:
    try:
        return parse_bool(value)
    except ValueError:
        raise ConfigError(f"{_where(key, from_env)} must be true or false, got {value!r}") from None


def _whole(key: str, value: Any, from_env: bool, low: int, high: int, unit: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if not low <= number <= high:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{_where(key, from_env)} must be whole {unit} from {low} to {high}, got {value!r}") from None
    return number


def _names(key: str, value: Any, from_env: bool) -> tuple[str, ...]:
    """A list of Kubernetes names (a comma-separated string from the environment)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f'{_where(key, from_env)} must be a list of names, e.g. ["regcred"]')
    names = tuple(i.strip() for i in items if i.strip())
    for name in names:
        if not _DNS_LABEL.fullmatch(name) or len(name) > 63:
            raise ConfigError(f"{_where(key, from_env)}: {name!r} is not a Kubernetes name")
    return names


def _secret_env(value: Any) -> tuple[SecretRef, ...]:
    where = "[tool.lakeplan.argo.secret_env]"
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table like {{ MY_TOKEN = "secret-name/key" }}')
    refs = []
    for env, ref in sorted(value.items()):
        match = _SECRET_REF.fullmatch(ref) if isinstance(ref, str) else None
        if not _ENV_NAME.fullmatch(env) or match is None:
            raise ConfigError(f'{where} {env} = {ref!r}: write ENV_NAME = "secret-name/key"')
        refs.append(SecretRef(env, match.group(1), match.group(3)))
    return tuple(refs)


def _security_context(value: Any) -> tuple[tuple[str, Any], ...]:
    """A PodSecurityContext table, checked against hera's model (Kubernetes' field names and types)."""
    from hera.workflows import models as m
    from pydantic import ValidationError

    where = "[tool.lakeplan.argo.security_context]"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table like {{ runAsNonRoot = true, runAsUser = 1000 }}")
    try:
        model = m.PodSecurityContext.model_validate(dict(value))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{where} {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    known = model.model_dump(by_alias=True, exclude_none=True, mode="json")
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]!r} is not a field of a Kubernetes PodSecurityContext")
    return tuple(sorted(known.items()))


def argo_config(settings: Settings, env: Mapping[str, str] | None = None) -> ArgoConfig:
    """Validate ``[tool.lakeplan.argo]`` and apply ``LAKEPLAN_ARGO_*`` overrides, one clear line per mistake."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    raw = dict(settings.section("argo"))
    if "token" in raw:
        raise ConfigError(
            "[tool.lakeplan.argo] token: do not keep an Argo token in pyproject.toml; "
            f"pass --token or set {ENV_PREFIX}TOKEN"
        )
    sources = [(k, v, False) for k, v in raw.items()]
    # set-but-empty counts: LAKEPLAN_ARGO_STORAGE_PVC="" switches the PVC off
    sources += [(k, env[ENV_PREFIX + k.upper()], True) for k in _KNOWN if ENV_PREFIX + k.upper() in env]
    for key, value, from_env in sources:
        if key not in _KNOWN:
            close = difflib.get_close_matches(key, _KNOWN, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KNOWN)}"
            raise ConfigError(f"unknown key {key!r} in [tool.lakeplan.argo]; {hint}")
        if key in _TABLES:
            if from_env:
                continue  # a table; configured in pyproject.toml only
            values[key] = _secret_env(value) if key == "secret_env" else _security_context(value)
        elif key == "verify":
            values[key] = _bool(key, value, from_env)
        elif key in _SECONDS:
            values[key] = _whole(key, value, from_env, 0, _SECONDS[key][1], "seconds")
        elif key in _COUNTS:
            values[key] = _whole(key, value, from_env, 1, 10_000_000, "numbers")
        elif key == "image_pull_secrets":
            values[key] = _names(key, value, from_env)
        else:
            values[key] = _string(key, value, from_env)
    if env.get(ENV_PREFIX + "TOKEN"):
        values["token"] = env[ENV_PREFIX + "TOKEN"]
    return _storage(ArgoConfig(**values), settings, env)


def _storage(config: ArgoConfig, settings: Settings, env: Mapping[str, str]) -> ArgoConfig:
    """Where the pods keep asset data: lakeFS (its settings passed to the pods, no PVC) or the shared PVC;
    refuses a setup where each pod would write to its own disk."""
    if not lakefs_configured(settings, env):
        if config.storage_pvc is None:
            raise ConfigError(
                "storage_pvc is off and lakeFS is not configured, so each pod would write to its own disk; "
                "set [tool.lakeplan.argo] storage_pvc to a ReadWriteMany claim, or configure [tool.lakeplan.lakefs]"
            )
        return config
    if not config.lakefs_secret:
        raise ConfigError(
            "lakeFS is configured but [tool.lakeplan.argo] lakefs_secret is not, so pods could not authenticate; "
            "set lakefs_secret to a Secret with access_key_id and secret_access_key"
        )
    section = settings.section("lakefs")
    lakefs = {var: str(section.get(var.rsplit("_", 1)[1].lower(), "")) for var in LAKEFS_ENV}
    lakefs.update({var: env[var] for var in LAKEFS_ENV if env.get(var)})
    return replace(config, storage_pvc=None, lakefs_env=tuple((k, v) for k, v in lakefs.items() if v))

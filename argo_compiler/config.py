"""``[tool.lakeplan.argo]``: what the compiled manifests need from the cluster, overridable by ``LAKEPLAN_ARGO_*``.

Only Secret *names* are configured here; a manifest refers to them with ``secretKeyRef`` and never holds
a secret value. The submit token is read from the command line or ``LAKEPLAN_ARGO_TOKEN`` only.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assets_core.config import Settings, parse_bool
from assets_core.errors import ConfigError

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
_KNOWN = (*_STRINGS, "verify", "retry_backoff_seconds", "secret_env")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


@dataclass(frozen=True)
class SecretRef:
    """One key of a Kubernetes Secret, exposed to the step container as an environment variable."""

    env: str
    secret: str
    key: str


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
    storage_pvc: str | None = "lakeplan-storage"
    storage_mount: str = "/lakeplan/storage"
    workdir: str | None = None
    image_pull_policy: str | None = None
    retry_backoff_seconds: int = 10
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
        by_env = {r.env: r for r in refs}
        by_env.update({r.env: r for r in self.secret_env})
        return tuple(by_env[k] for k in sorted(by_env))


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


def _seconds(key: str, value: Any, from_env: bool) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = int(value)
        if not 0 <= seconds <= 86400:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{_where(key, from_env)} must be whole seconds from 0 to 86400, got {value!r}") from None
    return seconds


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
    sources += [(k, env[ENV_PREFIX + k.upper()], True) for k in _KNOWN if env.get(ENV_PREFIX + k.upper())]
    for key, value, from_env in sources:
        if key not in _KNOWN:
            close = difflib.get_close_matches(key, _KNOWN, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KNOWN)}"
            raise ConfigError(f"unknown key {key!r} in [tool.lakeplan.argo]; {hint}")
        if key == "secret_env":
            if from_env:
                continue  # a table; configured in pyproject.toml only
            values[key] = _secret_env(value)
        elif key == "verify":
            values[key] = _bool(key, value, from_env)
        elif key == "retry_backoff_seconds":
            values[key] = _seconds(key, value, from_env)
        else:
            values[key] = _string(key, value, from_env)
    if env.get(ENV_PREFIX + "TOKEN"):
        values["token"] = env[ENV_PREFIX + "TOKEN"]
    return ArgoConfig(**values)

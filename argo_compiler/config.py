"""``[tool.lakeplan.argo]``: what the compiled manifests need from the cluster, overridable by ``LAKEPLAN_ARGO_*``.

Only Secret *names* are configured here; a manifest refers to them with ``secretKeyRef`` and never holds
a secret value. The submit token is read from the command line or ``LAKEPLAN_ARGO_TOKEN`` only.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assets_core import k8s_grammar
from assets_core.config import Settings, Typed, parse_bool, whole_number
from assets_core.errors import ConfigError
from assets_core.masking import mask_url
from assets_core.resources import ResourceDef
from io_managers.lakefs_config import LakeFSConfig
from io_managers.version_store import lakefs_configured

ENV_PREFIX = "LAKEPLAN_ARGO_"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_STRINGS: dict[str, Callable[[str], str | None]] = {  # key: the Kubernetes grammar of its value
    "image": k8s_grammar.image_problem,
    "namespace": k8s_grammar.dns_label_problem,
    "service_account": k8s_grammar.dns_subdomain_problem,
    "name": lambda v: k8s_grammar.dns_label_problem(v, NAME_LIMIT),
    "database_secret": k8s_grammar.dns_subdomain_problem,
    "lakefs_secret": k8s_grammar.dns_subdomain_problem,
    "storage_pvc": k8s_grammar.dns_subdomain_problem,
    "storage_mount": lambda v: _path_problem(v),
    "workdir": lambda v: _path_problem(v),
    "image_pull_policy": lambda v: None if v in PULL_POLICIES else f"is not one of {', '.join(PULL_POLICIES)}",
    "host": lambda v: None if v.startswith(("http://", "https://")) else "must start with https:// (or http://)",
}
_OFF = ("lakefs_secret", "storage_pvc")  # "" switches these off
NAME_LIMIT = 52  # a CronWorkflow's name, to which Argo appends a timestamp for each run
_SECONDS = {  # key: (default, maximum)
    "retry_backoff_seconds": (10, 86400),
    "active_deadline_seconds": (12 * 3600, 30 * 86400),
    "step_deadline_seconds": (6 * 3600, 30 * 86400),
}


def _seconds(key: str, high: int) -> Typed:
    return Typed(lambda v: whole_number(v, 0, high), (int,), f"whole seconds from 0 to {high}", f"{key} = 600")


_TYPED = {
    "verify": Typed(parse_bool, (bool,), "true or false", "verify = true"),
    **{key: _seconds(key, high) for key, (_, high) in _SECONDS.items()},
    "parallelism": Typed(
        lambda v: whole_number(v, 1, 100_000), (int,), "a whole number from 1 to 100000", "parallelism = 50"
    ),
    "fan_out_pods": Typed(
        lambda v: whole_number(v, 1, 10_000), (int,), "a whole number from 1 to 10000", "fan_out_pods = 20"
    ),
    "budget_bytes": Typed(
        lambda v: whole_number(v, 100_000, 1024 * 1024),
        (int,),
        "bytes from 100000 to 1048576 (Argo's 1 MiB limit)",
        "budget_bytes = 700000",
    ),
}
_TABLES = ("secret_env", "security_context")  # configured in pyproject.toml only
_KNOWN = (*_STRINGS, *_TYPED, *_TABLES, "image_pull_secrets")


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
    parallelism: int = 50  # pods of one workflow at once
    fan_out_pods: int = 20  # pods of one partitioned asset's fan-out per run, each building a batch of partitions
    budget_bytes: int = 700_000  # projected running size of each Argo object, under etcd's ~1 MiB
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


def _path_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return "must be an absolute path in the container, e.g. '/lakeplan/storage'"
    if not value.isprintable():
        return "holds a control character"
    return None


def _string(key: str, raw: Any, from_env: bool) -> str | None:
    """A string setting checked against the grammar Kubernetes (or Argo) applies to where it is copied."""
    if not isinstance(raw, str):
        raise ConfigError(f"{_where(key, from_env)} must be a string, got {raw!r}")
    value = raw.strip()
    if not value:
        if key in _OFF:
            return None  # explicitly switched off
        raise ConfigError(f"{_where(key, from_env)} must not be empty")
    problem = k8s_grammar.template_problem(value) or _STRINGS[key](value)
    if problem:
        raise ConfigError(f"{_where(key, from_env)} {value!r} {problem}")
    return value


def _names(key: str, value: Any, from_env: bool) -> tuple[str, ...]:
    """A list of Secret names (a comma-separated string from the environment)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f'{_where(key, from_env)} must be a list of names, e.g. ["regcred"]')
    names = tuple(i.strip() for i in items if i.strip())
    for name in names:
        problem = k8s_grammar.dns_subdomain_problem(name)
        if problem:
            raise ConfigError(f"{_where(key, from_env)}: {name!r} {problem}")
    return names


def _secret_env(value: Any) -> tuple[SecretRef, ...]:
    where = "[tool.lakeplan.argo.secret_env]"
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table like {{ MY_TOKEN = "secret-name/key" }}')
    refs = []
    for env, ref in sorted(value.items()):
        secret, slash, key = ref.partition("/") if isinstance(ref, str) else ("", "", "")
        problem = (
            (k8s_grammar.env_name_problem(env) and f"{env!r} {k8s_grammar.env_name_problem(env)}")
            or (not slash and "has no '/'")
            or (k8s_grammar.dns_subdomain_problem(secret) and f"{secret!r} {k8s_grammar.dns_subdomain_problem(secret)}")
            or (k8s_grammar.secret_key_problem(key) and f"{key!r} {k8s_grammar.secret_key_problem(key)}")
        )
        if problem:
            raise ConfigError(f'{where} {env} = {ref!r}: {problem}; write ENV_NAME = "secret-name/key"')
        refs.append(SecretRef(env, secret, key))
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
    problem = k8s_grammar.template_problem(json.dumps(known))
    if problem:
        raise ConfigError(f"{where}: a value {problem}")
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
        elif key in _TYPED:
            source = _where(key, True) if from_env else "[tool.lakeplan.argo]"
            values[key] = _TYPED[key].value(key, value, source, from_env)
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
    lakefs = LakeFSConfig.load(settings.section("lakefs"), env)  # lakectl's file and variables included
    values = (("ENDPOINT", lakefs.endpoint), ("REPOSITORY", lakefs.repository), ("BRANCH", lakefs.branch))
    for name, value in values:
        problem = k8s_grammar.template_problem(value)
        if problem:
            raise ConfigError(f"lakeFS {name.lower()} {mask_url(value)!r} {problem}")
    return replace(config, storage_pvc=None, lakefs_env=tuple((f"LAKEPLAN_LAKEFS_{k}", v) for k, v in values))

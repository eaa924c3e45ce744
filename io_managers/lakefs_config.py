"""Where lakeplan finds its lakeFS server and credentials: the same places lakectl does, then lakeplan's own.

Each layer overrides the one before it:

1. ``~/.lakectl.yaml`` (or the file ``LAKECTL_CONFIG_FILE`` names): ``server.endpoint_url``,
   ``credentials.access_key_id`` / ``secret_access_key``;
2. lakectl's environment: ``LAKECTL_SERVER_ENDPOINT_URL``, ``LAKECTL_CREDENTIALS_ACCESS_KEY_ID`` /
   ``_SECRET_ACCESS_KEY``, and ``LAKECTL_CREDENTIALS_SESSION_TOKEN`` (a session token replaces the keys);
3. ``[tool.lakeplan.lakefs]`` in pyproject.toml (never credentials);
4. ``LAKEPLAN_LAKEFS_ENDPOINT`` / ``_REPOSITORY`` / ``_BRANCH`` and ``LAKEFS_ACCESS_KEY_ID`` /
   ``LAKEFS_SECRET_ACCESS_KEY``.

Secrets never appear in a repr, a message or run metadata: the dataclass hides them, and an endpoint
written as ``http://key:secret@host`` gives its credentials (if no other layer did) and is kept without them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from assets_core.config import seconds, whole_number
from assets_core.errors import ConfigError
from assets_core.masking import mask_url

_KEYS = ("endpoint", "repository", "branch", "assets_prefix", "retries", "retry_backoff_seconds", "presign")
_ENV = {
    "endpoint": "LAKEPLAN_LAKEFS_ENDPOINT",
    "repository": "LAKEPLAN_LAKEFS_REPOSITORY",
    "branch": "LAKEPLAN_LAKEFS_BRANCH",
    "presign": "LAKEPLAN_LAKEFS_PRESIGN",
}
SELECTING_ENV = (_ENV["endpoint"], _ENV["repository"], _ENV["branch"])  # any of these switches lakeFS on
_PRESIGN = {"true": True, "false": False, "auto": None}


@dataclass(frozen=True)
class LakeFSConfig:
    """The lakeFS server, repository and branch lakeplan versions into, and how to authenticate."""

    endpoint: str
    repository: str
    branch: str
    assets_prefix: str = "assets"
    retries: int = 4
    retry_backoff_seconds: float = 0.5
    presign: bool | None = False  # move data through presigned URLs; None: where the server supports them
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    sources: tuple[str, ...] = ()  # where the endpoint and credentials were found, for messages

    @property
    def where(self) -> str:
        """The endpoint as messages show it (any ``user:pass@`` was taken out when loading)."""
        return self.endpoint

    def client_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``lakefs.Client``: explicit, so the SDK reads no file or variable itself."""
        parts = urlsplit(self.endpoint)
        host = (
            self.endpoint
            if "@" not in parts.netloc
            else self.endpoint.replace(parts.netloc, parts.netloc.rsplit("@", 1)[1], 1)
        )
        if self.session_token:
            return {"host": host, "access_token": self.session_token}
        username = self.access_key_id or parts.username
        password = self.secret_access_key or parts.password
        if username and password:
            return {"host": host, "username": username, "password": password}
        return {"host": host}

    @classmethod
    def load(cls, section: Mapping[str, Any], env: Mapping[str, str], home: Path | None = None) -> LakeFSConfig:
        for name in section:
            if name not in _KEYS:
                close = difflib.get_close_matches(name, _KEYS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KEYS)}"
                raise ConfigError(f"unknown key {name!r} in [tool.lakeplan.lakefs]; {hint}")
        values: dict[str, Any] = {}
        found: list[str] = []
        lakectl = _lakectl_yaml(env, home)
        if lakectl:
            values.update(lakectl)
            found.append(env.get("LAKECTL_CONFIG_FILE") or "~/.lakectl.yaml")
        lakectl_env = {
            "endpoint": env.get("LAKECTL_SERVER_ENDPOINT_URL"),
            "access_key_id": env.get("LAKECTL_CREDENTIALS_ACCESS_KEY_ID"),
            "secret_access_key": env.get("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"),
            "session_token": env.get("LAKECTL_CREDENTIALS_SESSION_TOKEN"),
        }
        if any(lakectl_env.values()):
            found.append("LAKECTL_*")
        values.update({k: v for k, v in lakectl_env.items() if v})
        values.update(section)
        values.update({k: env[var] for k, var in _ENV.items() if env.get(var)})
        if env.get("LAKEFS_ACCESS_KEY_ID") and env.get("LAKEFS_SECRET_ACCESS_KEY"):
            values.update(access_key_id=env["LAKEFS_ACCESS_KEY_ID"], secret_access_key=env["LAKEFS_SECRET_ACCESS_KEY"])
            values.pop("session_token", None)
        for name in ("endpoint", "repository", "branch"):
            if not isinstance(values.get(name), str) or not values[name].strip():
                raise ConfigError(f"lakeFS needs {name}: set {name} = '...' in [tool.lakeplan.lakefs] or {_ENV[name]}")
        retries, backoff = values.get("retries", 4), values.get("retry_backoff_seconds", 0.5)
        try:
            if isinstance(section.get("retries"), str) or isinstance(section.get("retry_backoff_seconds"), str):
                raise ValueError(retries)  # TOML has numbers: "4" is a typo
            retries, backoff = whole_number(retries, 0, 20), seconds(backoff, 60)
        except ValueError:
            raise ConfigError(
                f"[tool.lakeplan.lakefs]: retries must be a whole number from 0 to 20 (got {retries!r}) and "
                f"retry_backoff_seconds a number of seconds from 0 to 60 (got {backoff!r})"
            ) from None
        presign = str(values.get("presign", "false")).lower()
        if presign not in _PRESIGN:
            raise ConfigError('[tool.lakeplan.lakefs]: presign must be true, false or "auto"')
        endpoint = values["endpoint"].strip().rstrip("/").removesuffix("/api/v1")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"lakeFS endpoint {mask_url(endpoint)!r} is not an http(s) URL; e.g. http://localhost:8000"
            )
        if parts.username and parts.password and not values.get("access_key_id"):  # http://key:secret@host
            values.update(access_key_id=unquote(parts.username), secret_access_key=unquote(parts.password))
        if "@" in parts.netloc:  # kept without its credentials
            endpoint = endpoint.replace(parts.netloc, parts.netloc.rsplit("@", 1)[1], 1)
        return cls(
            endpoint=endpoint,
            repository=values["repository"],
            branch=values["branch"],
            assets_prefix=str(values.get("assets_prefix", "assets")).strip("/"),
            retries=retries,
            retry_backoff_seconds=backoff,
            presign=_PRESIGN[presign],
            access_key_id=values.get("access_key_id") or None,
            secret_access_key=values.get("secret_access_key") or None,
            session_token=values.get("session_token") or None,
            sources=tuple(found),
        )


def _lakectl_yaml(env: Mapping[str, str], home: Path | None) -> dict[str, str]:
    """Endpoint and credentials from lakectl's YAML file, if there is one (as the lakefs SDK's ClientConfig
    reads it: ``server.endpoint_url``, ``credentials.access_key_id`` / ``secret_access_key``)."""
    import yaml

    path = Path(env.get("LAKECTL_CONFIG_FILE") or (home or Path.home()) / ".lakectl.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read lakectl's configuration {path}: {exc}; fix or remove it") from None
    if not isinstance(data, dict):
        return {}
    server = data.get("server")
    server = server if isinstance(server, dict) else {}
    credentials = data.get("credentials")
    credentials = credentials if isinstance(credentials, dict) else {}
    values = {
        "endpoint": server.get("endpoint_url"),
        "access_key_id": credentials.get("access_key_id"),
        "secret_access_key": credentials.get("secret_access_key"),
    }
    return {k: str(v) for k, v in values.items() if v}

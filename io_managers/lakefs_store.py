"""lakeFS as the version store: every materialization is a lakeFS commit, reads are pinned to commits,
and a run writes to its own branch and is merged into the target branch only when every asset succeeded.

Layout in the repository: asset ``a/b`` lives at ``<assets_prefix>/a/b.<ext>`` (default prefix
``assets``); a source declared with ``path=`` is the object, or every object under the prefix, at that
path relative to the project root. Data versions are the checksums lakeFS reports. The SDK (``lakefs``)
is imported only when this store is opened.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from assets_core.config import Settings, seconds, whole_number
from assets_core.definitions import SourceAsset
from assets_core.errors import ConfigError, StepFailed, StoreError
from assets_core.hashing import structured_hash
from assets_core.masking import mask_url
from assets_core.records import Head, Materialization, MaterializationKind
from assets_core.sources import observe, read_source

from .formats import read_source_file
from .object_store import StoredObject, file_digest
from .version_store import Observation

T = TypeVar("T")
_CHUNK = 8 << 20
_PAGE = 1000  # lakeFS's maximum page size for listings and logs
RUN_BRANCH_PREFIX = "lakeplan-run-"
_COMMIT_META = "lakeplan."  # commit metadata keys: lakeplan.asset, lakeplan.run_id, ...
_OBJECT_META = "lakeplan-"  # object user metadata keys: lakeplan-code-version, lakeplan-inputs, ...
_URI = re.compile(r"^lakefs://(?P<repo>[^/]+)/(?P<ref>[^/]+)/(?P<path>.+)$")
_KEYS = ("endpoint", "repository", "branch", "assets_prefix", "retries", "retry_backoff_seconds")
_ENV = {
    "endpoint": "LAKEPLAN_LAKEFS_ENDPOINT",
    "repository": "LAKEPLAN_LAKEFS_REPOSITORY",
    "branch": "LAKEPLAN_LAKEFS_BRANCH",
}


def lakefs_uri(repository: str, ref: str, path: str) -> str:
    return f"lakefs://{repository}/{ref}/{path}"


def parse_uri(location: str) -> tuple[str, str, str] | None:
    """(repository, ref, path) of a ``lakefs://`` location, else None."""
    match = _URI.match(location)
    return (match["repo"], match["ref"], match["path"]) if match else None


@dataclass(frozen=True)
class LakeFSConfig:
    """``[tool.lakeplan.lakefs]`` overridden by ``LAKEPLAN_LAKEFS_*``; credentials come from the environment."""

    endpoint: str
    repository: str
    branch: str
    assets_prefix: str = "assets"
    retries: int = 4
    retry_backoff_seconds: float = 0.5
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def load(cls, section: Mapping[str, Any], env: Mapping[str, str]) -> LakeFSConfig:
        for name in section:
            if name not in _KEYS:
                close = difflib.get_close_matches(name, _KEYS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_KEYS)}"
                raise ConfigError(f"unknown key {name!r} in [tool.lakeplan.lakefs]; {hint}")
        values = {k: v for k, v in section.items()}
        values.update({k: env[var] for k, var in _ENV.items() if env.get(var)})
        for name in ("endpoint", "repository", "branch"):
            if not isinstance(values.get(name), str) or not values[name].strip():
                raise ConfigError(f"lakeFS needs {name}: set {name} = '...' in [tool.lakeplan.lakefs] or {_ENV[name]}")
        retries, backoff = values.get("retries", 4), values.get("retry_backoff_seconds", 0.5)
        try:
            if isinstance(retries, str) or isinstance(backoff, str):  # TOML has numbers: "4" is a typo
                raise ValueError(retries)
            retries, backoff = whole_number(retries, 0, 20), seconds(backoff, 60)
        except ValueError:
            raise ConfigError(
                f"[tool.lakeplan.lakefs]: retries must be a whole number from 0 to 20 (got {retries!r}) and "
                f"retry_backoff_seconds a number of seconds from 0 to 60 (got {backoff!r})"
            ) from None
        return cls(
            endpoint=values["endpoint"].rstrip("/"),
            repository=values["repository"],
            branch=values["branch"],
            assets_prefix=str(values.get("assets_prefix", "assets")).strip("/"),
            retries=retries,
            retry_backoff_seconds=backoff,
            access_key_id=env.get("LAKEFS_ACCESS_KEY_ID") or env.get("LAKECTL_CREDENTIALS_ACCESS_KEY_ID"),
            secret_access_key=env.get("LAKEFS_SECRET_ACCESS_KEY") or env.get("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"),
        )


def _md5(path: Path) -> str:
    return file_digest(path, "md5")  # lakeFS's checksum for a simple upload is the MD5


def _common_dir(paths: list[str]) -> str:
    """The longest directory prefix (ending in '/') shared by ``paths``: what one listing must cover."""
    if not paths:
        return ""
    shared = paths[0].split("/")[:-1]
    for path in paths[1:]:
        parts = path.split("/")[:-1]
        same = 0
        while same < min(len(shared), len(parts)) and shared[same] == parts[same]:
            same += 1
        shared = shared[:same]
    return "".join(part + "/" for part in shared)


def prefix_version(entries: list[tuple[str, str]]) -> str:
    """Data version of a prefix source: every (relative path, checksum) under it, versioned together."""
    parts = ["prefix", str(len(entries))]
    for rel, checksum in sorted(entries):
        parts += (rel, checksum)
    return structured_hash(parts)


class LakeFSStore:
    """A lakeFS repository and branch as lakeplan's version store (see the module docstring)."""

    def __init__(self, config: LakeFSConfig, project_root: Path, cache_dir: Path) -> None:
        self.config = config
        self.project_root = project_root
        self.cache = cache_dir
        self._client: Any = None
        self._runs: set[str] = set()  # runs whose branch this process has made sure exists

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> LakeFSStore:
        config = LakeFSConfig.load(settings.section("lakefs"), os.environ if env is None else env)
        return cls(config, settings.project_root, settings.resolved_storage_root / "lakefs-cache")

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages show it (credentials in the URL masked)."""
        return mask_url(self.config.endpoint)

    def describe(self) -> str:
        return f"lakefs://{self.config.repository}/{self.config.branch} at {self.shown_endpoint}"

    # -- the SDK and its errors ----------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            import lakefs

            credentials = {}
            if self.config.access_key_id and self.config.secret_access_key:
                credentials = {"username": self.config.access_key_id, "password": self.config.secret_access_key}
            self._client = lakefs.Client(host=self.config.endpoint, **credentials)  # type: ignore[no-untyped-call]
        return self._client

    def _repo(self) -> Any:
        import lakefs

        return lakefs.Repository(self.config.repository, client=self.client)

    def _call(self, action: str, fn: Callable[[], T], done: Callable[[], T | None] | None = None) -> T:
        """``fn()`` with transient failures (5xx, 429, dropped connections) retried with backoff.

        For a non-idempotent call, ``done()`` is asked before each retry whether the last attempt took
        effect after all (it returns that result), so a commit or merge is never applied twice.
        """
        for attempt in range(self.config.retries + 1):
            try:
                if attempt and done is not None and (result := done()) is not None:
                    return result
                return fn()
            except Exception as exc:
                if not _transient(exc):
                    raise self._error(action, exc) from None
                if attempt == self.config.retries:
                    raise self._error(action, exc, attempts=attempt + 1) from None
                time.sleep(self.config.retry_backoff_seconds * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, action: str, exc: Exception, attempts: int = 1) -> StoreError:
        """One line naming the endpoint/repository and what to check."""
        from lakefs.exceptions import ConflictException, ForbiddenException, NotAuthorizedException, NotFoundException

        where = f"lakeFS at {self.shown_endpoint}"
        if isinstance(exc, NotAuthorizedException):
            return StoreError(
                f"{where} rejected the credentials while trying to {action}; "
                "check LAKEFS_ACCESS_KEY_ID and LAKEFS_SECRET_ACCESS_KEY"
            )
        if isinstance(exc, ForbiddenException):
            return StoreError(f"{where} refused to {action} (forbidden); check the user's policies on this repository")
        if isinstance(exc, NotFoundException):
            return StoreError(f"cannot {action}: {self._missing()}")
        if isinstance(exc, ConflictException):
            return StoreError(f"cannot {action} on {where}: conflict ({_reason(exc)})")
        if not hasattr(exc, "status_code"):
            return StoreError(
                f"cannot reach {where} to {action} ({type(exc).__name__}, {attempts} attempts); "
                "check [tool.lakeplan.lakefs] endpoint / LAKEPLAN_LAKEFS_ENDPOINT and that lakeFS is running"
            )
        return StoreError(f"{where} failed to {action}: HTTP {exc.status_code} {_reason(exc)} ({attempts} attempts)")

    def _missing(self) -> str:
        """Which of repository and branch is missing (asked only after a 404)."""
        repo, branch = self.config.repository, self.config.branch
        try:
            self.client.sdk_client.repositories_api.get_repository(repo)
        except Exception as exc:  # this only refines the 404 already reported
            if getattr(exc, "status", None) == 404:
                return (
                    f"lakeFS repository {repo!r} does not exist at {self.shown_endpoint} (or that address is not "
                    "a lakeFS server); create the repository, or fix repository / endpoint in [tool.lakeplan.lakefs]"
                )
        return (
            f"lakeFS branch {branch!r} (or an object it needs) is missing in repository {repo!r} at "
            f"{self.shown_endpoint}; create the branch or fix [tool.lakeplan.lakefs] branch"
        )

    # -- refs ----------------------------------------------------------------------------------------

    def run_branch(self, run_id: str) -> str:
        return RUN_BRANCH_PREFIX + re.sub(r"[^\w-]", "-", run_id)

    def _head(self, branch: str) -> str:
        return str(self._call(f"read branch {branch!r}", lambda: self._repo().branch(branch).head.id))

    def _working_branch(self, run_id: str | None) -> str:
        """The branch a run reads and writes: its run branch (created on first use), else the target."""
        if run_id is None:
            return self.config.branch
        if run_id not in self._runs:
            self.begin_run(run_id)
        return self.run_branch(run_id)

    def begin_run(self, run_id: str) -> None:
        branch = self._repo().branch(self.run_branch(run_id))
        self._call(f"create run branch {branch.id!r}", lambda: branch.create(self.config.branch, exist_ok=True))
        self._runs.add(run_id)

    def _list(self, ref: str, prefix: str) -> dict[str, Any]:
        """Every object under ``prefix`` at ``ref`` with its checksum and user metadata, in pages."""

        def listing() -> dict[str, Any]:
            objects = self._repo().ref(ref).objects(prefix=prefix, amount=_PAGE, user_metadata=True)
            return {o.path: o for o in objects}

        return self._call(f"list objects at {ref[:12]}", listing)

    # -- observing -----------------------------------------------------------------------------------

    def source_path(self, source: SourceAsset) -> str | None:
        """A path source's location in the repository: its path relative to the project root."""
        if source.path is None or source.version is not None:
            return None
        path = Path(os.path.normpath(source.path))
        return (path.relative_to(self.project_root) if path.is_relative_to(self.project_root) else path).as_posix()

    def asset_path(self, key: str, extension: str) -> str:
        return f"{self.config.assets_prefix}/{key}.{extension}"

    def observe(
        self,
        heads: Mapping[str, Head],
        sources: Mapping[str, SourceAsset],
        run_id: str | None = None,
        verify: bool = False,  # lakeFS's checksums already are the data versions compared below
    ) -> Observation:
        """One branch read and a paged listing cover every asset and source, however many there are."""
        repository = self.config.repository
        commit = self._head(self._working_branch(run_id))
        asset_paths = {k: p for k, h in heads.items() if (p := _path_of(h.location)) is not None}
        source_paths = {k: p for k, n in sources.items() if (p := self.source_path(n)) is not None}
        wanted = [*asset_paths.values(), *source_paths.values()]
        listing = self._list(commit, _common_dir(wanted)) if wanted else {}
        seen: dict[str, Head] = {}
        missing: set[str] = set()
        origins: dict[str, str] = {}
        for key, head in heads.items():
            path = asset_paths.get(key)
            info = listing.get(path) if path else None
            if info is None:
                missing.add(key)
                seen[key] = head
            elif info.checksum == head.data_version:
                seen[key] = head
            else:
                uri = lakefs_uri(repository, commit, info.path)
                seen[key] = _published_head(head, info, uri)
                if seen[key].code_version == head.code_version and seen[key].input_versions == head.input_versions:
                    origins[key] = uri  # overwritten outside lakeplan: dependents are stale, named at this path
        versions: dict[str, str | None] = {}
        for key, node in sources.items():
            path = source_paths.get(key)
            if path is None:
                versions[key] = observe(node)
                continue
            if path in listing:
                versions[key] = listing[path].checksum
                origins[key] = lakefs_uri(repository, commit, path)
                continue
            under = [(p[len(path) + 1 :], o.checksum) for p, o in listing.items() if p.startswith(path + "/")]
            versions[key] = prefix_version(under) if under else None
            origins[key] = lakefs_uri(repository, commit, path + "/")
        return Observation(seen, versions, frozenset(missing), origins)

    # -- reading (pinned to commits) -----------------------------------------------------------------

    def exists(self, location: str) -> bool:
        parsed = parse_uri(location)
        if parsed is None:
            return Path(location).is_file()
        _, ref, path = parsed
        return bool(self._call(f"check {location}", lambda: self._repo().ref(ref).object(path).exists()))

    def fetch(self, location: str, data_version: str) -> Path:
        """The object at a pinned location, downloaded once into the local cache and checked."""
        parsed = parse_uri(location)
        if parsed is None:
            raise StoreError(
                f"{location!r} is not a lakeFS location; run 'lakeplan sync' to refresh the metadata store"
            )
        repository, ref, path = parsed
        target = self.cache / repository / ref / path
        if not target.is_file():
            self._download(ref, path, target)
        if re.fullmatch(r"[0-9a-f]{32}", data_version) and _md5(target) != data_version:
            target.unlink(missing_ok=True)
            raise StoreError(
                f"{location} does not hold the recorded version {data_version[:12]}; "
                "rebuild it with 'lakeplan materialize --force --select <asset>'"
            )
        return target

    def _download(self, ref: str, path: str, target: Path) -> None:
        """Stream one object to ``target`` in chunks (never whole in memory); visible only when complete."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part.")

        def download() -> None:
            with (
                os.fdopen(os.dup(fd), "wb") as out,
                self._repo().ref(ref).object(path).reader("rb", pre_sign=False) as src,
            ):
                out.seek(0)
                out.truncate()
                shutil.copyfileobj(src, out, _CHUNK)

        try:
            self._call(f"read {lakefs_uri(self.config.repository, ref, path)}", download)
            os.replace(tmp, target)
        finally:
            os.close(fd)
            Path(tmp).unlink(missing_ok=True)

    def read_source(self, source: SourceAsset, origin: str | None, annotation: Any) -> Any:
        if self.source_path(source) is None:
            return read_source(source, annotation)
        parsed = parse_uri(origin) if origin else None
        if parsed is None:
            where = lakefs_uri(self.config.repository, self.config.branch, self.source_path(source) or "")
            raise StepFailed(f"source {source.key!r} has no data: nothing at {where}")
        repository, ref, path = parsed
        if not path.endswith("/"):
            return read_source_file(self.fetch(origin or "", ""), annotation)
        folder = self.cache / repository / ref / path
        for item in self._list(ref, path).values():
            file = self.cache / repository / ref / item.path
            if not file.is_file():
                self._download(ref, item.path, file)
        return read_source_file(folder, annotation)

    # -- writing and committing ----------------------------------------------------------------------

    def put(self, key: str, extension: str, write: Callable[[BinaryIO], None]) -> StoredObject:
        """Spool the value to a local file; ``commit`` uploads it (streamed) and commits it."""
        spool = self.cache / ".spool"
        spool.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=spool, prefix=key.replace("/", "__") + ".", suffix=f".{extension}")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        path = Path(name)
        return StoredObject(str(path), _md5(path), path.stat().st_size)

    def commit(self, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
        """Upload (or, for a restore, copy) the asset's object onto the run branch and commit it with provenance."""
        if mat.location is None:
            raise StoreError(f"nothing to commit for {mat.asset_key!r}")
        branch = self._repo().branch(self._working_branch(mat.run_id))
        path = self.asset_path(mat.asset_key, mat.location.rsplit(".", 1)[-1])
        obj = branch.object(path)
        object_meta = {
            _OBJECT_META + "asset": mat.asset_key,
            _OBJECT_META + "code-version": mat.code_version,
            _OBJECT_META + "inputs": json.dumps(mat.input_versions, sort_keys=True),
            _OBJECT_META + "run": mat.run_id,
        }
        source = parse_uri(mat.location)
        if source is None:
            spooled = Path(mat.location)

            def upload() -> None:
                with spooled.open("rb") as src, obj.writer("wb", pre_sign=False, metadata=object_meta) as out:
                    shutil.copyfileobj(src, out, _CHUNK)

            self._call(f"upload {path} to branch {branch.id!r}", upload)
            spooled.unlink(missing_ok=True)
        else:
            _, ref, src_path = source
            self._call(
                f"copy {mat.location} to {path}", lambda: self._repo().ref(ref).object(src_path).copy(branch.id, path)
            )
        stats = self._call(f"stat {path}", lambda: branch.object(path).stat())
        inputs = {
            k: {"data_version": v, "commit": _ref_of(input_locations.get(k))} for k, v in mat.input_versions.items()
        }
        record = {
            "started_at": mat.started_at,
            "finished_at": mat.finished_at,
            "metadata": mat.metadata,
            "code_components": mat.code_components,
        }
        metadata = {
            _COMMIT_META + "asset": mat.asset_key,
            _COMMIT_META + "run_id": mat.run_id,
            _COMMIT_META + "kind": mat.kind.value,
            _COMMIT_META + "code_version": mat.code_version,
            _COMMIT_META + "data_version": stats.checksum,
            _COMMIT_META + "path": path,
            _COMMIT_META + "inputs": json.dumps(inputs, sort_keys=True),
            _COMMIT_META + "record": json.dumps(record, sort_keys=True, default=str),
        }

        def committed() -> str | None:
            head = self.client.sdk_client.commits_api.get_commit(self.config.repository, branch.id)
            same = (head.metadata or {}).get(_COMMIT_META + "data_version") == stats.checksum
            return str(head.id) if same and (head.metadata or {}).get(_COMMIT_META + "asset") == mat.asset_key else None

        commit_id = self._call(
            f"commit {mat.asset_key!r} on branch {branch.id!r}",
            lambda: str(branch.commit(f"lakeplan: {mat.asset_key}", metadata=metadata, allow_empty=True).id),
            done=committed,
        )
        lakefs_meta = {"commit": commit_id, "branch": branch.id, "inputs": {k: v["commit"] for k, v in inputs.items()}}
        return replace(
            mat,
            data_version=stats.checksum,
            location=lakefs_uri(self.config.repository, commit_id, path),
            metadata={**mat.metadata, "lakefs": lakefs_meta},
        )

    def finish_run(self, run_id: str, success: bool) -> str | None:
        """Merge the run branch into the target when every asset succeeded; otherwise keep it and say so.

        Safe to call again (Argo retries exit handlers): a run already merged, or whose branch is gone
        (published, or never written to), changes nothing.
        """
        repo, target, name = self._repo(), self.config.branch, self.run_branch(run_id)

        def run_head() -> Any:
            try:
                return self.client.sdk_client.commits_api.get_commit(self.config.repository, name)
            except Exception as exc:
                if getattr(exc, "status", None) == 404:
                    return None
                raise

        head = self._call(f"read run branch {name!r}", run_head)
        if head is None:
            self._head(target)  # a missing repository or target branch is an error, not "nothing to do"
            return f"nothing to publish for run {run_id}: no lakeFS branch {name!r} (already published, or no writes)"
        if (head.metadata or {}).get(_COMMIT_META + "run_id") != run_id:  # nothing committed in this run
            self._call(f"delete run branch {name!r}", lambda: repo.branch(name).delete())
            return None
        if not success:
            return (
                f"lakeFS branch {target!r} is unchanged; the assets this run built are kept on branch {name!r} "
                f"({lakefs_uri(self.config.repository, name, '')}) for debugging"
            )
        from lakefs.exceptions import BadRequestException, ConflictException

        conflicts: list[str] = []

        def merge() -> str | None:
            try:
                message, meta = f"lakeplan run {run_id}", {_COMMIT_META + "run_id": run_id}
                return str(repo.ref(name).merge_into(target, message=message, metadata=meta))
            except ConflictException as exc:
                conflicts.append(_reason(exc))
                return None
            except BadRequestException:  # "no changes": merged by an earlier call that died before deleting
                if (earlier := merged()) is None:
                    raise
                return earlier

        def merged() -> str | None:
            """The target's commit that already merged the run's head (recent history, newest first)."""
            log = self._repo().ref(target).log(max_amount=_PAGE)
            return next((str(c.id) for c in log if head.id in (c.parents or [])), None)

        reference = self._call(f"merge run branch {name!r} into {target!r}", merge, done=merged)
        if reference is None:
            raise StoreError(
                f"run {run_id} not published: branch {target!r} changed the same objects concurrently "
                f"({conflicts[-1]}); nothing was overwritten, the results are kept on lakeFS branch {name!r}; "
                "rerun 'lakeplan materialize'"
            )
        self._call(f"delete run branch {name!r}", lambda: repo.branch(name).delete())
        return f"published run {run_id} to lakeFS branch {target!r} as commit {str(reference)[:12]}"

    # -- history (for ``lakeplan sync``) -------------------------------------------------------------

    def materializations(self) -> Iterator[Materialization]:
        """Every lakeplan commit reachable from the target branch, oldest first, as materializations."""
        commits = self._call(
            f"read the log of {self.config.branch!r}",
            lambda: list(self._repo().ref(self.config.branch).log(amount=_PAGE)),
        )
        for commit in reversed(commits):
            mat = materialization_of(self.config.repository, commit.id, commit.metadata or {})
            if mat is not None:
                yield mat


def materialization_of(repository: str, commit_id: str, meta: Mapping[str, str]) -> Materialization | None:
    """The materialization a lakeplan commit records (None for other commits)."""
    if _COMMIT_META + "asset" not in meta:
        return None
    inputs = json.loads(meta[_COMMIT_META + "inputs"])
    record = json.loads(meta[_COMMIT_META + "record"])
    lakefs_meta = {"commit": commit_id, "inputs": {k: v["commit"] for k, v in inputs.items()}}
    return Materialization(
        asset_key=meta[_COMMIT_META + "asset"],
        run_id=meta[_COMMIT_META + "run_id"],
        kind=MaterializationKind(meta[_COMMIT_META + "kind"]),
        code_version=meta[_COMMIT_META + "code_version"],
        input_versions={k: v["data_version"] for k, v in inputs.items()},
        data_version=meta[_COMMIT_META + "data_version"],
        location=lakefs_uri(repository, commit_id, meta[_COMMIT_META + "path"]),
        started_at=float(record["started_at"]),
        finished_at=float(record["finished_at"]),
        metadata={**record["metadata"], "lakefs": lakefs_meta},
        code_components=record["code_components"],
    )


def _published_head(head: Head, info: Any, uri: str) -> Head:
    """The head as the branch publishes it: lakeplan's object metadata says how it was made; an object
    written by someone else keeps the recorded recipe with the new data version."""
    meta = info.metadata or {}
    code = meta.get(_OBJECT_META + "code-version")
    if code is None:
        return replace(head, data_version=info.checksum, location=uri)
    return Head(
        head.id,
        info.checksum,
        code,
        json.loads(meta.get(_OBJECT_META + "inputs", "{}")),
        uri,
        meta.get(_OBJECT_META + "run", head.run_id),
    )


def _path_of(location: str) -> str | None:
    parsed = parse_uri(location)
    return parsed[2] if parsed else None


def _ref_of(location: str | None) -> str | None:
    parsed = parse_uri(location) if location else None
    return parsed[1] if parsed else None


def _reason(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(getattr(exc, "reason", "") or exc)


def _transient(exc: Exception) -> bool:
    """Worth retrying: server errors, throttling, and connections that failed or were reset."""
    import urllib3

    status = getattr(exc, "status_code", None)
    if status is not None:
        return bool(status >= 500 or status == 429 or status == 0)
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError))

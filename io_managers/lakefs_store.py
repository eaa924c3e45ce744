"""lakeFS as the version store: every materialization is a lakeFS commit, reads are pinned to commits,
and a run writes to its own branch and is merged into the target branch only when every asset succeeded.

Layout in the repository: asset ``a/b`` lives at ``<assets_prefix>/a/b.<ext>`` (default prefix
``assets``); a source declared with ``path=`` is the object, or every object under the prefix, at that
path relative to the project root. A data version is the checksum lakeFS reports for the object: opaque
(an MD5 only for plain API uploads), never re-derived here.

Provenance travels with each object as lakeFS user metadata (asset, run, code version, inputs with the
commits they were read at, timings), so no record depends on which writer's commit took the run branch's
staging area: lakeFS commits everything staged on a branch, whoever staged it. The SDK (``lakefs``) is
imported only when this store is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlencode

from assets_core.config import Settings
from assets_core.definitions import SourceAsset
from assets_core.errors import StepFailed, StoreError
from assets_core.hashing import structured_hash
from assets_core.keys import asset_of
from assets_core.output_check import OutputCheck
from assets_core.records import Head, Materialization, MaterializationKind
from assets_core.sources import observe, read_source

from .formats import read_source_file
from .lakefs_config import LakeFSConfig
from .object_store import StoredObject, file_digest
from .version_store import Observation

T = TypeVar("T")
_CHUNK = 8 << 20
_PAGE = 1000  # lakeFS's maximum page size for listings, diffs and logs
_AUTH = ["basic_auth", "jwt_token"]  # the SDK's auth settings for raw requests (keys or a session token)
RUN_BRANCH_PREFIX = "lakeplan-run-"
_COMMIT_META = "lakeplan."  # commit metadata: lakeplan.run_id (every run commit and merge), lakeplan.writer
_OBJECT_META = "lakeplan-"  # object user metadata: the materialization's provenance (see _provenance)
_URI = re.compile(r"^lakefs://(?P<repo>[^/]+)/(?P<ref>[^/]+)/(?P<path>.+)$")


def lakefs_uri(repository: str, ref: str, path: str) -> str:
    return f"lakefs://{repository}/{ref}/{path}"


def parse_uri(location: str) -> tuple[str, str, str] | None:
    """(repository, ref, path) of a ``lakefs://`` location, else None."""
    match = _URI.match(location)
    return (match["repo"], match["ref"], match["path"]) if match else None


@dataclass(frozen=True)
class Entry:
    """One object as lakeFS lists it: path, checksum (opaque), size and user metadata (keys lower-cased)."""

    path: str
    checksum: str
    size: int
    metadata: dict[str, str]

    @classmethod
    def of(cls, stats: Any) -> Entry:
        return cls(stats.path, stats.checksum, int(stats.size_bytes or 0), _lower(stats.metadata))


def _models() -> Any:
    import lakefs_sdk

    return lakefs_sdk


def _lower(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata with lower-case keys, as lakeFS stores them (controller ``extractLakeFSMetadata``)."""
    return {k.lower(): v for k, v in (metadata or {}).items()}


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
        self._bases: dict[str, str] = {}  # run id -> a commit of its run branch seen by this process
        self._presign: bool | None = config.presign  # None until the server was asked ("auto")

    def __repr__(self) -> str:
        return f"LakeFSStore({self.describe()})"

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] | None = None) -> LakeFSStore:
        config = LakeFSConfig.load(settings.section("lakefs"), os.environ if env is None else env)
        return cls(config, settings.project_root, settings.resolved_storage_root / "lakefs-cache")

    def describe(self) -> str:
        return f"lakefs://{self.config.repository}/{self.config.branch} at {self.config.where}"

    # -- the SDK, raw requests and errors ------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            import lakefs

            self._client = lakefs.Client(**self.config.client_arguments())  # type: ignore[no-untyped-call]
        return self._client

    @property
    def _sdk(self) -> Any:
        return self.client.sdk_client

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        """``fn()`` with transient failures (5xx, 429, dropped connections) retried with backoff.

        The one retry policy for every call, through the ``lakefs`` wrapper or the raw ``lakefs_sdk``.
        Non-idempotent calls (commit, merge) are written so that a repeat after a lost response is
        recognised by the server's answer (400 "no changes"), never applied twice.
        """
        for attempt in range(self.config.retries + 1):
            try:
                return fn()
            except Exception as exc:
                if not _transient(exc):
                    raise self._error(action, exc) from None
                if attempt == self.config.retries:
                    raise self._error(action, exc, attempts=attempt + 1) from None
                time.sleep(self.config.retry_backoff_seconds * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, action: str, exc: Exception, attempts: int = 1) -> StoreError:
        """One line naming the endpoint/repository and what to check (never a credential)."""
        where, status = f"lakeFS at {self.config.where}", _status(exc)
        if status == 401:
            found = f" (found in {', '.join(self.config.sources)})" if self.config.sources else ""
            return StoreError(
                f"{where} rejected the credentials{found} while trying to {action}; check LAKEFS_ACCESS_KEY_ID and "
                "LAKEFS_SECRET_ACCESS_KEY, LAKECTL_CREDENTIALS_* or ~/.lakectl.yaml"
            )
        if status == 403:
            return StoreError(f"{where} refused to {action} (forbidden); check the user's policies on this repository")
        if status == 404:
            return StoreError(f"cannot {action}: {self._missing()}")
        if status == 409:
            return StoreError(f"cannot {action} on {where}: conflict ({_reason(exc)})")
        if status == 412:
            return StoreError(f"{where}: a lakeFS hook rejected the request to {action} ({_reason(exc)})")
        if status is None or status == 0:
            return StoreError(
                f"cannot reach {where} to {action} ({type(exc).__name__}, {attempts} attempts); "
                "check [tool.lakeplan.lakefs] endpoint / LAKEPLAN_LAKEFS_ENDPOINT and that lakeFS is running"
            )
        return StoreError(f"{where} failed to {action}: HTTP {status} {_reason(exc)} ({attempts} attempts)")

    def _missing(self) -> str:
        """Which of repository and branch is missing (asked only after a 404)."""
        repo, branch = self.config.repository, self.config.branch
        try:
            self._sdk.repositories_api.get_repository(repo)
        except Exception as exc:  # this only refines the 404 already reported
            if _status(exc) == 404:
                return (
                    f"lakeFS repository {repo!r} does not exist at {self.config.where} (or that address is not "
                    "a lakeFS server); create the repository, or fix repository / endpoint in [tool.lakeplan.lakefs]"
                )
        return (
            f"lakeFS branch {branch!r} (or an object it needs) is missing in repository {repo!r} at "
            f"{self.config.where}; create the branch or fix [tool.lakeplan.lakefs] branch"
        )

    def _raw(self, method: str, resource: str, query: dict[str, str], **kwargs: Any) -> Any:
        """One HTTP request through the SDK's connection pool and authentication, body streamed (the SDK's
        generated methods hold whole bodies in memory); an error status raises ``ApiException``."""
        api = self._sdk.objects_api.api_client
        headers = dict(kwargs.pop("headers", {}))
        path = "/repositories/" + quote(self.config.repository, safe="") + resource
        api.update_params_for_auth(headers, None, _AUTH, path, method, None)
        url = f"{self.client.config.host}{path}?{urlencode(query)}"
        response = api.rest_client.pool_manager.request(method, url, headers=headers, preload_content=False, **kwargs)
        if response.status >= 400:
            raise _http_error(response)
        return response

    def _pages(self, action: str, page: Callable[[str], Any]) -> list[Any]:
        """Every result of a paged listing (objects, diffs, logs, branches), each page retried on its own."""
        return [result for results in self._paging(action, page) for result in results]

    def _paging(self, action: str, page: Callable[[str], Any]) -> Iterator[list[Any]]:
        """The results of a paged listing page by page, each page asked for (and retried) only when reached."""
        after = ""
        while True:
            answer = self._call(action, lambda at=after: page(at))  # type: ignore[misc]
            yield list(answer.results)
            if not answer.pagination.has_more:
                return
            after = answer.pagination.next_offset

    def _diff(self, left: str, right: str, kind: str, prefix: str) -> list[Any]:
        """Every change between two refs (``two_dot``: left against right; ``three_dot``: what right changed
        since their merge base, with paths both sides changed typed ``conflict``), right-side stats included."""
        refs = self._sdk.refs_api

        def page(after: str) -> Any:
            return refs.diff_refs(
                self.config.repository, left, right, after=after, amount=_PAGE, prefix=prefix, type=kind,
                include_right_stats=True,
            )  # fmt: skip

        return self._pages(f"diff {left[:12]} against {right[:12]}", page)

    # -- refs ----------------------------------------------------------------------------------------

    def run_branch(self, run_id: str) -> str:
        return RUN_BRANCH_PREFIX + re.sub(r"[^\w-]", "-", run_id)

    def _commit_of(self, branch: str) -> str | None:
        """The branch's head commit id, or None when there is no such branch."""

        def get() -> str | None:
            try:
                return str(self._sdk.branches_api.get_branch(self.config.repository, branch).commit_id)
            except Exception as exc:
                if _status(exc) == 404:
                    return None
                raise

        return self._call(f"read branch {branch!r}", get)

    def begin_run(self, run_id: str) -> None:
        """Make sure the run branch exists; when creating it, first check the target has no uncommitted
        changes (a merge into a dirty branch fails, and would only fail after all the work)."""
        self._begin(run_id)

    def _begin(self, run_id: str) -> str:
        """A commit of the run branch, creating the branch from the target on first use; asked once per
        process. Any of its commits pins sources and objects that are not this run's equally well: the run
        branch only ever adds this run's own objects (which ``observe`` reads by the branch's name)."""
        if run_id in self._bases:
            return self._bases[run_id]
        name = self.run_branch(run_id)
        head = self._commit_of(name)
        if head is not None:
            self._bases[run_id] = head
            return head
        target = self.config.branch
        dirty = self._call(
            f"check branch {target!r} for uncommitted changes",
            lambda: self._sdk.branches_api.diff_branch(self.config.repository, target, amount=3).results,
        )
        if dirty:
            paths = ", ".join(repr(d.path) for d in dirty[:2]) + (", ..." if len(dirty) > 2 else "")
            raise StoreError(
                f"lakeFS branch {target!r} has uncommitted changes ({paths}): a run could not be published "
                f"into it; commit them ('lakectl commit lakefs://{self.config.repository}/{target} -m ...') or "
                f"drop them ('lakectl branch reset lakefs://{self.config.repository}/{target}'), then run again"
            )

        def create() -> str:
            try:
                created = _models().BranchCreation.from_dict({"name": name, "source": target})
                return str(self._sdk.branches_api.create_branch(self.config.repository, created))
            except Exception as exc:
                if _status(exc) == 409:  # another pod of the run created it first
                    return self._commit_of(name) or ""
                raise

        self._bases[run_id] = self._call(f"create run branch {name!r}", create)
        return self._bases[run_id]

    def _list(self, ref: str, prefix: str, limit: int | None = None) -> dict[str, Entry]:
        """Every object under ``prefix`` at ``ref`` with checksum, size and user metadata, in pages; with
        ``limit``, only up to the page that passes it (then more may exist: compare with ``limit``)."""
        objects = self._sdk.objects_api

        def page(after: str) -> Any:
            return objects.list_objects(
                self.config.repository, ref, user_metadata=True, after=after, amount=_PAGE, prefix=prefix
            )

        found: dict[str, Entry] = {}
        for results in self._paging(f"list {prefix} at {ref[:12]}", page):
            found.update((e.path, e) for e in map(Entry.of, results))
            if limit is not None and len(found) > limit:
                break
        return found

    def _stat(self, ref: str, path: str) -> Entry | None:
        def stat() -> Entry | None:
            try:
                return Entry.of(self._sdk.objects_api.stat_object(self.config.repository, ref, path))
            except Exception as exc:
                if _status(exc) == 404:
                    return None
                raise

        return self._call(f"stat {lakefs_uri(self.config.repository, ref, path)}", stat)

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
        outputs: OutputCheck = OutputCheck.EXISTS,  # always listed: the listing is what is current, and its
        # checksums already are the data versions compared below
    ) -> Observation:
        """The branch's head, one paged listing of lakeplan's own prefix, and one stat per source, or for
        the partitions of a partitioned source one paged listing of their paths' common prefix (365 daily
        files: one request, not 365): the cost grows with lakeplan's objects and the sources' own paths,
        never with the rest of the repository.

        For a run, the listing is of the run branch itself (staged objects included), so this run's own
        objects that no record describes yet (a step killed after its upload, whose object another step's
        commit took) are returned as ``unrecorded`` for the retried step to adopt, not taken as current.
        """
        repository = self.config.repository
        if run_id is None:
            commit = self._commit_of(self.config.branch)
            if commit is None:
                raise self._error(f"read branch {self.config.branch!r}", _NotFound())
            listed_at = commit
        else:
            commit, listed_at = self._begin(run_id), self.run_branch(run_id)
        prefix = self.config.assets_prefix + "/"
        listing = self._list(listed_at, prefix) if heads or run_id is not None else {}
        seen: dict[str, Head] = {}
        missing: set[str] = set()
        origins: dict[str, str] = {}
        for key, head in heads.items():
            path = _path_of(head.location)
            info = (
                listing.get(path) if path and path.startswith(prefix) else self._stat(listed_at, path) if path else None
            )
            if info is None:
                missing.add(key)
                seen[key] = head
            elif info.checksum == head.data_version or (run_id and info.metadata.get(_OBJECT_META + "run") == run_id):
                seen[key] = head  # this run's own unrecorded object stays stale here; it is adopted, below
            else:
                uri = lakefs_uri(repository, commit, info.path)
                seen[key] = _published_head(head, info, uri)
                if seen[key].code_version == head.code_version and seen[key].input_versions == head.input_versions:
                    origins[key] = uri  # overwritten outside lakeplan: dependents are stale, named at this path
        unrecorded: dict[str, Materialization] = {}
        for info in listing.values() if run_id is not None else ():
            mat = materialization_of(repository, listed_at, info)
            recorded = heads.get(mat.asset_key) if mat else None
            if mat and mat.run_id == run_id and (recorded is None or recorded.data_version != info.checksum):
                unrecorded[mat.asset_key] = mat
        versions: dict[str, str | None] = {}
        paths: dict[str, str] = {}
        for key, node in sources.items():
            path = self.source_path(node)
            if path is None:
                versions[key] = observe(node)
            else:
                paths[key] = path
        for group in _source_groups(sources, paths):
            listed = self._list_partitions(commit, [paths[k] for k in group]) if len(group) > 1 else None
            for key in group:
                version, at = self._source_version(commit, paths[key], listed)
                versions[key] = version
                origins[key] = lakefs_uri(repository, commit, at)
        return Observation(seen, versions, frozenset(missing), origins, unrecorded)

    def _list_partitions(self, commit: str, paths: list[str]) -> dict[str, Entry] | None:
        """The objects under the common prefix of one source's partition ``paths``; None (a stat each, then)
        when that prefix holds over twice as many objects as partitions, and over a page (e.g.
        ``{partition}.csv`` at the root of a big repository): the listing stops at the page that shows it."""
        common = os.path.commonprefix(paths)  # noqa: RUF071 - a lakeFS prefix is any string, not a folder
        limit = max(2 * len(paths), _PAGE)
        listed = self._list(commit, common, limit)
        return listed if len(listed) <= limit else None

    def _source_version(self, commit: str, path: str, listed: Mapping[str, Entry] | None) -> tuple[str | None, str]:
        """A path source's version at ``commit`` and where it was seen: the object at ``path``, else the
        objects under ``path/`` as one directory. ``listed``: a listing that holds both (every partition
        of a source under their common prefix), else they are asked for (a stat, then a listing)."""
        exact = listed.get(path) if listed is not None else self._stat(commit, path)
        if exact is not None:
            return exact.checksum, path
        folder = path + "/"
        found = (
            self._list(commit, folder) if listed is None else {p: e for p, e in listed.items() if p.startswith(folder)}
        )
        under = [(p[len(folder) :], e.checksum) for p, e in found.items()]
        return (prefix_version(under) if under else None), folder

    # -- reading (pinned to commits) -----------------------------------------------------------------

    def exists(self, location: str) -> bool:
        parsed = parse_uri(location)
        if parsed is None:
            return Path(location).is_file()
        _, ref, path = parsed
        return self._stat(ref, path) is not None

    def fetch(self, location: str, data_version: str) -> Path:
        """The object at a pinned location, downloaded once into the local cache and checked against the
        server's identity for it (its checksum, as an ETag) and its size; never re-hashed."""
        parsed = parse_uri(location)
        if parsed is None:
            raise StoreError(
                f"{location!r} is not a lakeFS location; run 'lakeplan sync' to refresh the metadata store"
            )
        repository, ref, path = parsed
        target = self.cache / repository / ref / path
        if not target.is_file():
            self._download(ref, path, target, data_version)
        return target

    def _presigned(self) -> bool:
        """Whether data moves straight between this process and object storage through presigned URLs:
        the ``presign`` setting, or with "auto" what the server's storage supports (asked once)."""
        if self._presign is None:
            config = self._call("read the server's configuration", lambda: self._sdk.config_api.get_config())
            storage = config.storage_config or next(iter(config.storage_config_list or []), None)
            self._presign = bool(storage is not None and storage.pre_sign_support)
        return self._presign

    def _download(self, ref: str, path: str, target: Path, data_version: str = "") -> None:
        """Stream one object to ``target`` in chunks (never whole in memory); visible only when complete
        and when the server's checksum is ``data_version`` (if given) and every byte it announced arrived.

        Through lakeFS, the checksum is the response's ETag; presigned, a stat gives the checksum, size
        and URL, and the bytes come straight from object storage (whose ETag need not be lakeFS's)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part.")
        location = lakefs_uri(self.config.repository, ref, path)

        def download() -> tuple[str, int, int]:
            if self._presigned():
                stats = self._sdk.objects_api.stat_object(self.config.repository, ref, path, presign=True)
                response = self._sdk.objects_api.api_client.rest_client.pool_manager.request(
                    "GET", stats.physical_address, preload_content=False
                )
                if response.status >= 400:
                    raise _http_error(response)
                checksum, announced = str(stats.checksum), int(stats.size_bytes or 0)
            else:
                response = self._raw("GET", f"/refs/{quote(ref, safe='')}/objects", {"path": path})
                checksum, announced = response.headers.get("ETag", "").strip('"'), -1
            try:
                with os.fdopen(os.dup(fd), "wb") as out:
                    out.seek(0)
                    out.truncate()
                    for chunk in response.stream(_CHUNK):
                        out.write(chunk)
                    size = out.tell()
            finally:
                response.release_conn()
            return checksum, int(response.headers.get("Content-Length", size)) if announced < 0 else announced, size

        try:
            checksum, announced, size = self._call(f"read {location}", download)
            if size != announced or (data_version and checksum != data_version):
                raise StoreError(
                    f"{location} does not hold the recorded version {data_version[:12]} (server checksum "
                    f"{checksum[:12]}, {size} of {announced} bytes); rebuild it with "
                    "'lakeplan materialize --force --select <asset>'"
                )
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
                self._download(ref, item.path, file, item.checksum)
        return read_source_file(folder, annotation)

    # -- writing and committing ----------------------------------------------------------------------

    def put(self, key: str, extension: str, write: Callable[[BinaryIO], None]) -> StoredObject:
        """Spool the value to a local file; ``commit`` uploads it (streamed) and commits it. The spool's
        SHA-256 stands in as its version until lakeFS's checksum replaces it on commit."""
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
        return StoredObject(str(path), file_digest(path), path.stat().st_size)

    def _upload(self, branch: str, path: str, file: Path, metadata: Mapping[str, str]) -> Entry:
        """Stream ``file`` to ``path`` on ``branch`` with user metadata; lakeFS's answer is its identity.
        Presigned: PUT straight to a staging location in object storage, then link it with its ETag."""
        size = file.stat().st_size
        if self._presigned():
            return self._call(
                f"upload {path} to branch {branch!r}", lambda: self._upload_presigned(branch, path, file, metadata)
            )
        headers = {"Content-Type": "application/octet-stream", "Accept": "application/json"}
        headers["Content-Length"] = str(size)
        headers.update({"X-Lakefs-Meta-" + k: v for k, v in metadata.items()})

        def upload() -> Entry:
            with file.open("rb") as body:
                response = self._raw("POST", f"/branches/{quote(branch, safe='')}/objects", {"path": path},
                                     headers=headers, body=body)  # fmt: skip
            try:
                stats = json.loads(response.read())
            finally:
                response.release_conn()
            return Entry(
                stats["path"], stats["checksum"], int(stats.get("size_bytes") or 0), _lower(stats.get("metadata"))
            )

        return self._call(f"upload {path} to branch {branch!r}", upload)

    def _upload_presigned(self, branch: str, path: str, file: Path, metadata: Mapping[str, str]) -> Entry:
        repo, staging = self.config.repository, self._sdk.staging_api
        location = staging.get_physical_address(repo, branch, path, presign=True)
        with file.open("rb") as body:
            response = self._sdk.objects_api.api_client.rest_client.pool_manager.request(
                "PUT", location.presigned_url, body=body, headers={"Content-Length": str(file.stat().st_size)},
                preload_content=False,
            )  # fmt: skip
        if response.status >= 400:
            raise _http_error(response)
        response.release_conn()
        link = _models().StagingMetadata.from_dict(
            {
                "staging": location.to_dict(),
                "checksum": response.headers.get("ETag", "").strip('" '),
                "size_bytes": file.stat().st_size,
                "user_metadata": dict(metadata),
                "content_type": "application/octet-stream",
            }
        )
        return Entry.of(staging.link_physical_address(repo, branch, path, link))

    def commit(self, mat: Materialization, input_locations: Mapping[str, str]) -> Materialization:
        """Stage the asset's object on the run branch with its provenance as user metadata, then commit.

        The commit takes whatever is staged on the branch: if another writer's commit (or an earlier
        attempt of this one whose answer was lost) already took this object, lakeFS answers "no changes"
        and the object is pinned at the branch's head instead. Either way no record depends on which
        commit holds it: ``lakeplan sync`` reads provenance from the objects each commit changed.
        """
        if mat.location is None:
            raise StoreError(f"nothing to commit for {mat.asset_key!r}")
        branch = self.run_branch(mat.run_id)  # made by begin_run / observe
        path = self.asset_path(mat.asset_key, mat.location.rsplit(".", 1)[-1])
        inputs = {
            k: {"data_version": v, "commit": _ref_of(input_locations.get(k))} for k, v in mat.input_versions.items()
        }
        source = parse_uri(mat.location)
        if (
            source is not None and source[1:] == (branch, path) and mat.data_version
        ):  # adopted: this run's object is already here
            entry = Entry(path, mat.data_version, int(mat.metadata.get("lakefs", {}).get("size", 0)), {})
        else:
            spooled = Path(mat.location) if source is None else self.fetch(mat.location, mat.data_version or "")
            entry = self._upload(branch, path, spooled, _provenance(mat, inputs))
            if source is None:
                spooled.unlink(missing_ok=True)
        commit_id = self._commit_staged(branch, mat)
        lakefs_meta = {
            "commit": commit_id,
            "branch": branch,
            "size": entry.size,
            "inputs": {k: v["commit"] for k, v in inputs.items()},
        }
        return replace(
            mat,
            data_version=entry.checksum,
            location=lakefs_uri(self.config.repository, commit_id, path),
            metadata={**mat.metadata, "lakefs": lakefs_meta},
        )

    def _commit_staged(self, branch: str, mat: Materialization) -> str:
        """Commit the branch's staging area; the commit that holds what this step staged."""
        body = _models().CommitCreation.from_dict(
            {
                "message": f"lakeplan: {mat.asset_key}",
                "metadata": {_COMMIT_META + "run_id": mat.run_id, _COMMIT_META + "writer": mat.asset_key},
                "allow_empty": False,
            }
        )

        def commit() -> str | None:
            try:
                return str(self._sdk.commits_api.commit(self.config.repository, branch, body).id)
            except Exception as exc:
                if _status(exc) == 400 and "no changes" in _reason(exc):
                    return None  # already committed: by a sibling's commit, or by our own lost attempt
                raise

        committed = self._call(f"commit {mat.asset_key!r} on branch {branch!r}", commit)
        return committed or self._commit_of(branch) or ""

    def finish_run(self, run_id: str, success: bool) -> str | None:
        """Merge the run branch into the target when every asset succeeded; otherwise keep it and say so.

        Safe to call again (Argo retries exit handlers): a run already merged, or whose branch is gone
        (published, or never written to), changes nothing.
        """
        repo, target, name = self.config.repository, self.config.branch, self.run_branch(run_id)

        def run_head() -> Any:
            try:
                return self._sdk.commits_api.get_commit(repo, name)
            except Exception as exc:
                if _status(exc) == 404:
                    return None
                raise

        head = self._call(f"read run branch {name!r}", run_head)
        if head is None:
            if self._commit_of(target) is None:  # a missing repository or target is an error, not "nothing to do"
                raise self._error(f"read branch {target!r}", _NotFound())
            return f"nothing to publish for run {run_id}: no lakeFS branch {name!r} (already published, or no writes)"
        delete = lambda: self._sdk.branches_api.delete_branch(repo, name)  # noqa: E731
        if (head.metadata or {}).get(_COMMIT_META + "run_id") != run_id:  # nothing committed in this run
            self._call(f"delete run branch {name!r}", delete)
            return None
        if not success:
            return (
                f"lakeFS branch {target!r} is unchanged; the assets this run built are kept on branch {name!r} "
                f"({lakefs_uri(repo, name, '')}) for debugging"
            )

        def merge() -> str:
            try:
                body = _models().Merge.from_dict(
                    {"message": f"lakeplan run {run_id}", "metadata": {_COMMIT_META + "run_id": run_id}}
                )
                return str(self._sdk.refs_api.merge_into_branch(repo, head.id, target, merge=body).reference)
            except Exception as exc:
                if _status(exc) == 400 and "no changes" in _reason(exc) and (earlier := merged()) is not None:
                    return earlier  # merged by an earlier attempt whose answer was lost, or that died after
                raise

        def merged() -> str | None:
            """The target's commit that already merged the run's head (recent history, newest first)."""
            log = self._sdk.refs_api.log_commits(repo, target, amount=_PAGE).results
            return next((str(c.id) for c in log if head.id in (c.parents or [])), None)

        try:
            reference = self._call(f"merge run branch {name!r} into {target!r}", merge)
        except StoreError as exc:
            raise self._unpublished(run_id, name, str(exc)) from None
        self._call(f"delete run branch {name!r}", delete)
        return f"published run {run_id} to lakeFS branch {target!r} as commit {reference[:12]}"

    def _unpublished(self, run_id: str, name: str, error: str) -> StoreError:
        """Why a merge failed, in the user's terms: the conflicting paths, or the target's uncommitted changes."""
        repo, target = self.config.repository, self.config.branch
        kept = f"nothing was overwritten, the results are kept on lakeFS branch {name!r}"
        if "conflict" in error:
            paths = [d.path for d in self._diff(target, name, "three_dot", "") if d.type == "conflict"]
            shown = ", ".join(paths[:10]) + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")
            return StoreError(
                f"run {run_id} not published: branch {target!r} changed the same objects concurrently "
                f"({shown or 'lakeFS named no paths'}); {kept}; rerun 'lakeplan materialize'"
            )
        if "dirty branch" in error or "uncommitted changes" in error:
            return StoreError(
                f"run {run_id} not published: lakeFS branch {target!r} has uncommitted changes; {kept}. Commit or "
                f"reset them ('lakectl commit lakefs://{repo}/{target} -m ...' or 'lakectl branch reset "
                f"lakefs://{repo}/{target}'), then 'lakectl merge lakefs://{repo}/{name} lakefs://{repo}/{target}'"
            )
        return StoreError(error)

    # -- history (for ``lakeplan sync``) and housekeeping (for ``lakeplan gc``) ----------------------

    def materializations(self) -> Iterator[Materialization]:
        """Every lakeplan object version reachable from the target branch, oldest first, read from the
        objects each run commit changed (their user metadata), not from who committed them."""
        repo, target, prefix = self.config.repository, self.config.branch, self.config.assets_prefix + "/"
        log = self._pages(
            f"read the log of {target!r}",
            lambda after: self._sdk.refs_api.log_commits(repo, target, after=after, amount=_PAGE),
        )
        for commit in reversed(log):
            if _COMMIT_META + "run_id" not in (commit.metadata or {}) or len(commit.parents or []) != 1:
                continue  # not a run's commit (merges only repeat what their run commits changed)
            for change in self._diff(commit.parents[0], commit.id, "two_dot", prefix):
                if change.type in ("added", "changed") and change.right is not None:
                    entry = Entry(change.path, change.right.checksum, int(change.size_bytes or 0),
                                  _lower(change.right.metadata))  # fmt: skip
                    mat = materialization_of(repo, commit.id, entry)
                    if mat is not None:
                        yield mat

    def run_branches(self) -> list[tuple[str, float]]:
        """Every run branch with the creation time of its head commit."""
        repo = self.config.repository
        branches = self._pages(
            "list run branches",
            lambda after: self._sdk.branches_api.list_branches(
                repo, prefix=RUN_BRANCH_PREFIX, after=after, amount=_PAGE
            ),
        )
        return [(str(ref.id), float(self._commit_date(ref.commit_id))) for ref in branches]

    def _commit_date(self, commit_id: str) -> float:
        commit = self._call(
            f"read commit {commit_id[:12]}",
            lambda: self._sdk.commits_api.get_commit(self.config.repository, commit_id),
        )
        return float(commit.creation_date)

    def delete_branch(self, name: str) -> None:
        self._call(
            f"delete branch {name!r}", lambda: self._sdk.branches_api.delete_branch(self.config.repository, name)
        )


def _http_error(response: Any) -> Exception:
    """An ``ApiException`` (status, reason, body) for a failed raw response, its connection released."""
    from lakefs_sdk.exceptions import ApiException

    exc = ApiException(status=response.status, reason=response.reason)
    exc.body = response.read()
    response.release_conn()
    return exc


class _NotFound(Exception):
    status = 404


def _source_groups(sources: Mapping[str, SourceAsset], paths: Mapping[str, str]) -> list[list[str]]:
    """The path sources to observe together: the partitions of one partitioned source (its planned keys
    ``SOURCE/...`` share the declared key), each other source on its own."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for key in paths:
        partitioned = sources[key].partitions is not None
        groups.setdefault((asset_of(key) if partitioned else key, partitioned), []).append(key)
    return list(groups.values())


def _provenance(mat: Materialization, inputs: Mapping[str, Any]) -> dict[str, str]:
    """The object user metadata that says how it was made (what ``materialization_of`` reads back)."""
    record = {
        "started_at": mat.started_at,
        "finished_at": mat.finished_at,
        "metadata": mat.metadata,
        "code_components": mat.code_components,
    }
    return {
        _OBJECT_META + "asset": mat.asset_key,
        _OBJECT_META + "run": mat.run_id,
        _OBJECT_META + "kind": mat.kind.value,
        _OBJECT_META + "code-version": mat.code_version,
        _OBJECT_META + "inputs": json.dumps(inputs, sort_keys=True),
        _OBJECT_META + "record": json.dumps(record, sort_keys=True, default=str),
    }


def materialization_of(repository: str, ref: str, entry: Entry) -> Materialization | None:
    """The materialization an object's lakeplan user metadata records, located at ``ref`` (None for objects
    lakeplan did not write)."""
    meta = entry.metadata
    if _OBJECT_META + "asset" not in meta or _OBJECT_META + "record" not in meta:
        return None
    inputs = json.loads(meta[_OBJECT_META + "inputs"])
    record = json.loads(meta[_OBJECT_META + "record"])
    lakefs_meta = {"commit": ref, "size": entry.size, "inputs": {k: v["commit"] for k, v in inputs.items()}}
    return Materialization(
        asset_key=meta[_OBJECT_META + "asset"],
        run_id=meta[_OBJECT_META + "run"],
        kind=MaterializationKind(meta[_OBJECT_META + "kind"]),
        code_version=meta[_OBJECT_META + "code-version"],
        input_versions={k: v["data_version"] for k, v in inputs.items()},
        data_version=entry.checksum,
        location=lakefs_uri(repository, ref, entry.path),
        started_at=float(record["started_at"]),
        finished_at=float(record["finished_at"]),
        metadata={**record["metadata"], "lakefs": lakefs_meta},
        code_components=record["code_components"],
    )


def _published_head(head: Head, info: Entry, uri: str) -> Head:
    """The head as the branch publishes it: lakeplan's object metadata says how it was made; an object
    written by someone else keeps the recorded recipe with the new data version."""
    mat = materialization_of("", "", info)
    if mat is None:
        return head._replace(data_version=info.checksum, location=uri)
    return Head(head.id, info.checksum, mat.code_version, mat.input_versions, uri, mat.run_id)


def _path_of(location: str) -> str | None:
    parsed = parse_uri(location)
    return parsed[2] if parsed else None


def _ref_of(location: str | None) -> str | None:
    parsed = parse_uri(location) if location else None
    return parsed[1] if parsed else None


def _status(exc: BaseException) -> int | None:
    """The HTTP status of a failed call: ``status_code`` on ``lakefs`` exceptions, ``status`` on ``lakefs_sdk``'s."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None


def _reason(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, (bytes, str)):
        with contextlib.suppress(ValueError):
            body = json.loads(body)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(getattr(exc, "reason", "") or exc)


def _transient(exc: Exception) -> bool:
    """Worth retrying: server errors, throttling, and connections that failed or were reset."""
    import urllib3

    status = _status(exc)
    if status is not None:
        return status >= 500 or status == 429 or status == 0
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError))

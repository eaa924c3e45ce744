"""A small lakeFS-API-compatible server for tests: exactly the endpoints lakeplan uses, in memory.

Every request it receives and every response it sends is validated against lakeFS's own OpenAPI spec
(``../shared/lakefs/swagger.yml``) with openapi-core; a mismatch is recorded in ``violations`` (and the
request is answered 400/500), so the fixture cannot drift from the real API. Test fixture, not product.

Model: repositories hold commits (immutable trees of path -> object) and branches (a head commit plus
staged changes). Merges are three-way with conflicts on paths both sides changed. Faults can be injected
(``fail``: answer N matching requests with a status; ``reset``: drop the connection; ``lose``: apply the
request, then drop the connection so its response is lost) to test retries.

Each rule below is cited from lakeFS's source (github.com/treeverse/lakeFS, read at commit 71a45eeb):
* a commit takes the branch's whole staging area, whoever staged it (pkg/graveler/graveler.go
  ``Graveler.Commit`` seals the branch's staging token and commits every sealed token); nothing staged
  and ``allow_empty`` unset is 400 "commit: no changes" (``ErrNoChanges`` wrapped by ``Commit``, mapped
  to 400 in pkg/api/controller.go ``handleApiErrorCallback``);
* a merge into a branch with uncommitted changes is 400 "uncommitted changes (dirty branch)"
  (``Graveler.Merge`` -> ``prepareForCommitIDUpdate`` -> ``ErrDirtyBranch``); a merge with nothing to
  merge is 400 "no changes"; a conflict is 409 with the body ``{"reference": ""}`` only
  (controller ``MergeIntoBranch`` writes ``MergeResult{Reference: reference}``, no message);
* an object's identity is size + checksum + user metadata + content type (pkg/catalog/entry.go
  ``EntryToValue``): merges and commits compare identities, not bytes or addresses;
* user metadata keys arrive lower-cased (controller ``extractLakeFSMetadata``);
* checksums are MD5s only for API uploads: an S3-gateway multipart upload records the MD5 of the parts'
  MD5s (pkg/gateway/operations/postobject.go ``HandleCompleteMultipartUpload`` strips the ``-N`` suffix
  of the multipart ETag); an import records the source store's ETag as is (``put_object(how=...)``);
* a ranged read answers 206 with ``Content-Range: bytes <first>-<last>/<size>`` (controller
  ``GetObject``), though swagger.yml's pattern says ``bytes=<from>-<to>``: the response is validated
  with the spec's form and sent with the real one;
* ``next_offset`` is set only when ``has_more`` (controller ``paginationFor``);
* an object listing (``listObjects``, no delimiter) is every path at the ref that starts with ``prefix``, in
  path order, strictly after ``after`` (pkg/catalog/catalog.go ``Catalog.ListEntries`` seeks to ``after``
  and skips it), at most ``amount`` a page: absent, zero or negative is 100, above 1000 is 1000
  (controller ``paginationAmount``); ``has_more`` when more remain, ``max_per_page`` always 1000;
* a request without valid credentials is 401 "error authenticating request" (``ErrAuthenticatingRequest``);
  a session token is accepted as ``Authorization: Bearer <token>``;
* a three-dot diff marks paths changed on both sides as ``conflict``
  (pkg/graveler/committed/compare_iterator.go);
* a locked branch is 500 "branch is currently locked, try again later" (``ErrLockNotAcquired``), too
  many branch-update retries 429 (``ErrTooManyTries``), a failed hook 412 (``actions.ErrActionFailed``):
  the messages ``LOCKED``, ``TOO_MANY_TRIES`` and ``HOOK_FAILED`` below, injected with ``fail``;
* the log lists commits newest first by creation date;
* presigned URLs exist only where the block adapter supports them (``presign``; S3, GCS and Azure do,
  the local adapter does not: 400 ``block.ErrOperationNotSupported``): a presigned stat returns the URL
  as ``physical_address`` (controller ``StatObject``), a presigned read redirects to it (``GetObject``,
  302), a presigned write asks for a staging location (``GetPhysicalAddress``), PUTs the bytes to the
  object store, then links it with the client's checksum (``LinkPhysicalAddress`` keeps the ETag it is
  given; an address it did not issue is 400, ``VerifyLinkAddress``). The "object store" is ``/_blob/``
  on this server: no lakeFS credentials, a single PUT's ETag is the MD5 as on S3.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.validation.request.exceptions import SecurityValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

PREFIX = "/api/v1"
_META = "x-lakefs-meta-"  # user metadata travels in these request headers
LOCKED = "branch is currently locked, try again later"  # controller handleApiErrorCallback, 500
TOO_MANY_TRIES = "Too many attempts, try again later"  # ErrTooManyTries, 429
HOOK_FAILED = "pre-commit hook aborted, run id '0': action failed"  # actions.ErrActionFailed, 412
logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Obj:
    data: bytes
    checksum: str
    mtime: int
    content_type: str
    address: str
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def identity(self) -> tuple[Any, ...]:
        """What lakeFS compares (catalog ``EntryToValue``): size, checksum, user metadata, content type."""
        return (len(self.data), self.checksum, tuple(sorted(self.metadata.items())), self.content_type)


def _same(a: Obj | None, b: Obj | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and a.identity == b.identity)


@dataclass(frozen=True)
class CommitRec:
    id: str
    parents: tuple[str, ...]
    message: str
    metadata: dict[str, str]
    created: int
    seq: int
    tree: dict[str, Obj]


@dataclass
class Repo:
    name: str
    namespace: str
    default_branch: str
    created: int
    commits: dict[str, CommitRec] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit id
    staged: dict[str, dict[str, Obj | None]] = field(default_factory=dict)  # branch -> path -> obj/tombstone


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    """Answer the next ``times`` requests matching ``method`` and ``path_part`` with ``status`` (0 = reset);
    ``after`` applies the request first and then drops the connection (a lost response)."""

    status: int
    times: int
    method: str | None
    path_part: str | None
    message: str = "injected fault"
    after: bool = False
    then: Callable[[], object] | None = None  # run after applying a lost request (e.g. a sibling's commit)

    def matches(self, request: Request) -> bool:
        return (
            self.times > 0
            and (self.method is None or request.method == self.method)
            and (self.path_part is None or self.path_part in request.path)
        )


_RULES = [
    ("/config", "GET", "get_config"),
    ("/repositories", "POST", "create_repository"),
    ("/repositories/<repository>/branches/<branch>/staging/backing", "GET", "get_physical_address"),
    ("/repositories/<repository>/branches/<branch>/staging/backing", "PUT", "link_physical_address"),
    ("/repositories/<repository>", "GET", "get_repository"),
    ("/repositories/<repository>/branches", "POST", "create_branch"),
    ("/repositories/<repository>/branches", "GET", "list_branches"),
    ("/repositories/<repository>/branches/<branch>", "GET", "get_branch"),
    ("/repositories/<repository>/branches/<branch>", "DELETE", "delete_branch"),
    ("/repositories/<repository>/branches/<branch>/objects", "POST", "upload_object"),
    ("/repositories/<repository>/branches/<branch>/objects", "DELETE", "delete_object"),
    ("/repositories/<repository>/branches/<branch>/objects/copy", "POST", "copy_object"),
    ("/repositories/<repository>/branches/<branch>/commits", "POST", "commit"),
    ("/repositories/<repository>/branches/<branch>/diff", "GET", "diff_branch"),
    ("/repositories/<repository>/refs/<left>/diff/<right>", "GET", "diff_refs"),
    ("/repositories/<repository>/refs/<ref>/objects/ls", "GET", "list_objects"),
    ("/repositories/<repository>/refs/<ref>/objects/stat", "GET", "stat_object"),
    ("/repositories/<repository>/refs/<ref>/objects", "GET", "get_object"),
    ("/repositories/<repository>/refs/<ref>/objects", "HEAD", "head_object"),
    ("/repositories/<repository>/refs/<ref>/commits", "GET", "log_commits"),
    ("/repositories/<repository>/commits/<commit_id>", "GET", "get_commit"),
    ("/repositories/<repository>/refs/<source>/merge/<dest>", "POST", "merge"),
]


class FakeLakeFS:
    """In-memory lakeFS on 127.0.0.1; ``calls`` counts requests by operation, ``violations`` spec mismatches."""

    def __init__(self, spec_path: Path, access_key: str = "AKIAFAKE", secret_key: str = "fake-secret") -> None:
        self.openapi = OpenAPI.from_file_path(str(spec_path))
        self.access_key = access_key
        self.secret_key = secret_key
        self.tokens: set[str] = set()  # session tokens accepted as 'Authorization: Bearer <token>'
        self.presign = False  # whether the block adapter supports presigned URLs (see the module docstring)
        self.blobs: dict[str, bytes] = {}  # the object store behind presigned URLs: _blob_key(address) -> bytes
        self._issued: set[str] = set()  # staging addresses handed out and not yet linked
        self.repos: dict[str, Repo] = {}
        self.calls: list[str] = []
        self.bytes_out = 0  # object bytes sent by get_object (whole or ranged), for benchmarks
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._urls = Map([Rule(PREFIX + path, endpoint=name, methods=[method]) for path, method, name in _RULES])
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeLakeFS:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- fault injection -----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        method: str | None = None,
        path_part: str | None = None,
        message: str = "injected fault",
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (e.g. 503, or 500 with ``LOCKED``)."""
        self.faults.append(Fault(status, times, method, path_part, message))

    def reset(self, times: int = 1, method: str | None = None, path_part: str | None = None) -> None:
        """Drop the connection (TCP reset) on the next ``times`` matching requests, before applying them."""
        self.faults.append(Fault(0, times, method, path_part))

    def lose(
        self,
        times: int = 1,
        method: str | None = None,
        path_part: str | None = None,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Apply the next ``times`` matching requests, then drop the connection: the client never hears.
        ``then`` runs between the two (what another client does before this one retries)."""
        self.faults.append(Fault(0, times, method, path_part, after=True, then=then))

    def count(self, *operations: str) -> int:
        return sum(1 for c in self.calls if not operations or c in operations)

    # -- WSGI ----------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith("/_blob/"):  # the object store, reached through presigned URLs
            return self._blob(request)(environ, start_response)
        fault = next((f for f in self.faults if f.matches(request)), None)
        if fault is not None:
            fault.times -= 1
            if fault.after:
                self._respond(request)
                if fault.then is not None:
                    fault.then()
            if fault.status == 0:
                sock: socket.socket = environ["werkzeug.socket"]
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return []
            return _error(fault.status, fault.message)(environ, start_response)
        response = self._respond(request)
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        request.get_data()  # buffer the body so both validation and the handler can read it
        try:
            self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
        except SecurityValidationError:  # no credentials the spec accepts: lakeFS answers 401, not 400
            return _error(401, "error authenticating request")
        except Exception as exc:
            self.violations.append(f"request {request.method} {request.full_path}: {_explain(exc)}")
            return _error(400, f"request does not match the lakeFS API: {exc}")
        try:
            endpoint, args = self._urls.bind_to_environ(request.environ).match()
        except HTTPException:
            self.violations.append(f"no handler for {request.method} {request.path}")
            return _error(404, "not implemented by the fake server")
        self.calls.append(str(endpoint))
        try:
            self._authenticate(request)
            with self._lock:
                response: Response = getattr(self, f"_{endpoint}")(request, **args)
        except ApiError as exc:
            response = _error(exc.status, exc.message)
        response.freeze()
        real_range = response.headers.get("Content-Range")
        if real_range is not None:  # swagger.yml's pattern is 'bytes=a-b'; the server sends 'bytes a-b/size'
            response.headers["Content-Range"] = "bytes=" + real_range.split(" ", 1)[1].split("/")[0]
        try:
            self.openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response))
        except Exception as exc:
            self.violations.append(f"response to {request.method} {request.path}: {_explain(exc)}")
            return _error(500, f"fake server response does not match the lakeFS API: {exc}")
        if real_range is not None:
            response.headers["Content-Range"] = real_range
        return response

    def _blob(self, request: Request) -> Response:
        address = request.path.removeprefix("/_blob/")
        self.calls.append(f"blob_{request.method.lower()}")
        if request.method == "PUT":
            data = request.get_data()
            self.blobs[address] = data
            response = Response(status=200)
            response.headers["ETag"] = f'"{hashlib.md5(data).hexdigest()}"'
            return response
        if address not in self.blobs:
            return Response(status=404)
        return Response(self.blobs[address], status=200, content_type="application/octet-stream")

    def _presigned(self, address: str) -> str:
        if not self.presign:  # block.ErrOperationNotSupported -> 400 (handleApiErrorCallback)
            raise ApiError(400, "operation not supported")
        return f"{self.endpoint}/_blob/{_blob_key(address)}"

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{self.access_key}:{self.secret_key}".encode()).decode()
        bearer = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        if header != expected and bearer not in self.tokens:
            raise ApiError(401, "error authenticating request")

    # -- model helpers -------------------------------------------------------------------------------

    def _repo(self, name: str) -> Repo:
        if name not in self.repos:
            raise ApiError(404, f"repository not found: {name}")
        return self.repos[name]

    def _commit_of(self, repo: Repo, ref: str) -> CommitRec:
        if ref in repo.branches:
            return repo.commits[repo.branches[ref]]
        if ref in repo.commits:
            return repo.commits[ref]
        matches = [c for c in repo.commits if len(ref) >= 6 and c.startswith(ref)]
        if len(matches) == 1:
            return repo.commits[matches[0]]
        raise ApiError(404, f"not found: ref {ref}")

    def _tree(self, repo: Repo, ref: str) -> dict[str, Obj]:
        """A ref's objects; a branch includes its staged (uncommitted) changes."""
        tree = dict(self._commit_of(repo, ref).tree)
        for path, obj in repo.staged.get(ref, {}).items():
            if obj is None:
                tree.pop(path, None)
            else:
                tree[path] = obj
        return tree

    def _branch(self, repo: Repo, branch: str) -> str:
        if branch not in repo.branches:
            raise ApiError(404, f"branch not found: {branch}")
        return branch

    def _new_commit(
        self, repo: Repo, parents: tuple[str, ...], tree: dict[str, Obj], message: str, metadata: dict[str, str]
    ) -> CommitRec:
        seq = next(self._seq)
        digest = hashlib.sha256(f"{repo.name}|{parents}|{message}|{metadata}|{seq}|{time.time()}".encode())
        commit = CommitRec(digest.hexdigest(), parents, message, dict(metadata), int(time.time()), seq, tree)
        repo.commits[commit.id] = commit
        return commit

    def _ancestors(self, repo: Repo, commit_id: str) -> list[CommitRec]:
        """All ancestors including the commit itself, newest first (as lakeFS's log orders them)."""
        seen: dict[str, CommitRec] = {}
        stack = [commit_id]
        while stack:
            cid = stack.pop()
            if cid and cid not in seen:
                seen[cid] = repo.commits[cid]
                stack.extend(seen[cid].parents)
        return sorted(seen.values(), key=lambda c: c.seq, reverse=True)

    def _stats(self, path: str, obj: Obj) -> dict[str, Any]:
        return {
            "path": path,
            "path_type": "object",
            "physical_address": obj.address,
            "checksum": obj.checksum,
            "size_bytes": len(obj.data),
            "mtime": obj.mtime,
            "metadata": obj.metadata,
            "content_type": obj.content_type,
        }

    def _merge_base(self, repo: Repo, a: CommitRec, b: CommitRec) -> CommitRec:
        a_ids = {c.id for c in self._ancestors(repo, a.id)}
        return next(c for c in self._ancestors(repo, b.id) if c.id in a_ids)

    @staticmethod
    def _changes(before: dict[str, Obj], after: dict[str, Obj]) -> set[str]:
        return {p for p in set(before) | set(after) if not _same(before.get(p), after.get(p))}

    def _conflicts(self, base: CommitRec, ours: CommitRec, theirs: CommitRec) -> set[str]:
        """Paths both sides changed differently since the merge base."""
        both = self._changes(base.tree, ours.tree) & self._changes(base.tree, theirs.tree)
        return {p for p in both if not _same(ours.tree.get(p), theirs.tree.get(p))}

    def _object(self, repo: Repo, ref: str, path: str) -> Obj:
        obj = self._tree(repo, ref).get(path)
        if obj is None:
            raise ApiError(404, f"object not found: {path}")
        return obj

    def put_object(
        self,
        repository: str,
        branch: str,
        path: str,
        data: bytes,
        metadata: dict[str, str] | None = None,
        how: str = "api",
    ) -> Obj:
        """Stage an object directly, for tests arranging data; ``how`` it was written decides its checksum:
        "api" (an API upload: the content MD5), "multipart" (an S3-gateway multipart upload in 5 MiB parts:
        the MD5 of the parts' MD5s) or "import" (the source store's multipart ETag, ``<hex>-<parts>``)."""
        repo = self._repo(repository)
        address = f"{repo.namespace}/data/{uuid.uuid4().hex}"
        obj = Obj(data, _checksum(data, how), int(time.time()), "application/octet-stream", address, metadata or {})
        self.blobs[_blob_key(address)] = data
        with self._lock:
            repo.staged.setdefault(branch, {})[path] = obj
        return obj

    # -- handlers ------------------------------------------------------------------------------------

    def _create_repository(self, request: Request) -> Response:
        body = request.get_json()
        name = body["name"]
        if name in self.repos:
            raise ApiError(409, f"repository already exists: {name}")
        repo = Repo(name, body["storage_namespace"], body.get("default_branch") or "main", int(time.time()))
        root = self._new_commit(repo, (), {}, "Repository created", {})
        repo.branches[repo.default_branch] = root.id
        self.repos[name] = repo
        return _json(201, _repository(repo))

    def _get_repository(self, request: Request, repository: str) -> Response:
        return _json(200, _repository(self._repo(repository)))

    def _create_branch(self, request: Request, repository: str) -> Response:
        repo = self._repo(repository)
        body = request.get_json()
        if body["name"] in repo.branches:
            raise ApiError(409, f"branch already exists: {body['name']}")
        commit = self._commit_of(repo, body["source"])
        repo.branches[body["name"]] = commit.id
        return Response(commit.id, status=201, content_type="text/html")

    def _list_branches(self, request: Request, repository: str) -> Response:
        repo = self._repo(repository)
        prefix, after = request.args.get("prefix", ""), request.args.get("after", "")
        amount = _amount(request)
        names = sorted(n for n in repo.branches if n.startswith(prefix) and n > after)
        page, more = names[:amount], len(names) > amount
        refs = [{"id": name, "commit_id": repo.branches[name]} for name in page]
        return _json(200, {"pagination": _pagination(len(page), more, page[-1] if page else ""), "results": refs})

    def _get_branch(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        return _json(200, {"id": branch, "commit_id": repo.branches[self._branch(repo, branch)]})

    def _delete_branch(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        if self._branch(repo, branch) == repo.default_branch:
            raise ApiError(403, "cannot delete the default branch")
        del repo.branches[branch]
        repo.staged.pop(branch, None)
        return Response(status=204)

    def _upload_object(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        self._branch(repo, branch)
        path = request.args["path"]
        if request.headers.get("If-None-Match") == "*" and path in self._tree(repo, branch):
            raise ApiError(412, "object exists")
        meta = {k.lower()[len(_META) :]: v for k, v in request.headers.items() if k.lower().startswith(_META)}
        obj = self.put_object(repository, branch, path, request.get_data(), meta)
        return _json(201, self._stats(path, obj))

    def _delete_object(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        path = request.args["path"]
        self._object(repo, self._branch(repo, branch), path)
        repo.staged.setdefault(branch, {})[path] = None
        return Response(status=204)

    def _copy_object(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        body = request.get_json()
        source = self._object(repo, body.get("src_ref") or branch, body["src_path"])
        dest = request.args["dest_path"]
        repo.staged.setdefault(self._branch(repo, branch), {})[dest] = source
        return _json(201, self._stats(dest, source))

    def _commit(self, request: Request, repository: str, branch: str) -> Response:
        body = request.get_json()
        message, metadata = body["message"], body.get("metadata") or {}
        commit = self.commit_staged(repository, branch, message, metadata, bool(body.get("allow_empty")))
        return _json(201, _commit_json(commit))

    def commit_staged(
        self,
        repository: str,
        branch: str,
        message: str,
        metadata: dict[str, str] | None = None,
        allow_empty: bool = False,
    ) -> CommitRec:
        """Commit everything staged on the branch, whoever staged it (what the commit endpoint does)."""
        with self._lock:
            repo = self._repo(repository)
            head = repo.commits[repo.branches[self._branch(repo, branch)]]
            tree = self._tree(repo, branch)
            if not self._changes(head.tree, tree) and not allow_empty:
                raise ApiError(400, "commit: no changes")
            commit = self._new_commit(repo, (head.id,), tree, message, metadata or {})
            repo.branches[branch] = commit.id
            repo.staged.pop(branch, None)
            return commit

    def _list_objects(self, request: Request, repository: str, ref: str) -> Response:
        repo = self._repo(repository)
        prefix = request.args.get("prefix", "")
        after = request.args.get("after", "")
        amount = _amount(request)
        paths = sorted(p for p in self._tree(repo, ref) if p.startswith(prefix) and p > after)
        page, more = paths[:amount], len(paths) > amount
        tree = self._tree(repo, ref)
        if not _flag(request, "user_metadata", True):
            tree = {p: replace(o, metadata={}) for p, o in tree.items() if p in page}
        results = [self._stats(p, tree[p]) for p in page]
        return _json(200, {"pagination": _pagination(len(page), more, page[-1] if page else ""), "results": results})

    def _stat_object(self, request: Request, repository: str, ref: str) -> Response:
        repo = self._repo(repository)
        path = request.args["path"]
        obj = self._object(repo, ref, path)
        stats = self._stats(path, obj)
        if _flag(request, "presign", False):
            stats["physical_address"] = self._presigned(obj.address)
            stats["physical_address_expiry"] = int(time.time()) + 900
        return _json(200, stats)

    def _get_object(self, request: Request, repository: str, ref: str) -> Response:
        repo = self._repo(repository)
        obj = self._object(repo, ref, request.args["path"])
        if _flag(request, "presign", False):
            return Response(status=302, headers={"Location": self._presigned(obj.address)})
        data = obj.data
        if request.range is not None and request.range.ranges:
            span = request.range.range_for_length(len(data))
            if span is None:
                raise ApiError(416, "requested range not satisfiable")
            start, stop = span
            response = Response(data[start:stop], status=206, content_type=obj.content_type)
            self.bytes_out += stop - start
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
        else:
            response = Response(data, status=200, content_type=obj.content_type)
            self.bytes_out += len(data)
        response.headers["ETag"] = f'"{obj.checksum}"'
        return response

    def _head_object(self, request: Request, repository: str, ref: str) -> Response:
        repo = self._repo(repository)
        self._object(repo, ref, request.args["path"])
        return Response(status=200)

    def _log_commits(self, request: Request, repository: str, ref: str) -> Response:
        repo = self._repo(repository)
        after = request.args.get("after", "")
        amount = _amount(request)
        commits = self._ancestors(repo, self._commit_of(repo, ref).id)
        commits.sort(key=lambda c: (c.created, c.seq), reverse=True)
        if after:
            ids = [c.id for c in commits]
            commits = commits[ids.index(after) + 1 :] if after in ids else []
        page, more = commits[:amount], len(commits) > amount
        return _json(
            200,
            {
                "pagination": _pagination(len(page), more, page[-1].id if page else ""),
                "results": [_commit_json(c) for c in page],
            },
        )

    def _get_commit(self, request: Request, repository: str, commit_id: str) -> Response:
        repo = self._repo(repository)
        return _json(200, _commit_json(self._commit_of(repo, commit_id)))

    def _merge(self, request: Request, repository: str, source: str, dest: str) -> Response:
        repo = self._repo(repository)
        body = request.get_json(silent=True) or {}
        theirs = self._commit_of(repo, source)
        ours = repo.commits[repo.branches[self._branch(repo, dest)]]
        if repo.staged.get(dest):
            raise ApiError(400, f"{dest}: uncommitted changes (dirty branch)")
        base = self._merge_base(repo, ours, theirs)
        changed = self._changes(base.tree, theirs.tree)
        if not changed:
            raise ApiError(400, "no changes")
        if self._conflicts(base, ours, theirs):
            return _json(409, {"reference": ""})
        tree = dict(ours.tree)
        for path in changed:
            if path in theirs.tree:
                tree[path] = theirs.tree[path]
            else:
                tree.pop(path, None)
        message = body.get("message") or f"Merge '{source}' into '{dest}'"
        commit = self._new_commit(repo, (ours.id, theirs.id), tree, message, body.get("metadata") or {})
        repo.branches[dest] = commit.id
        return _json(200, {"reference": commit.id})

    def _get_config(self, request: Request) -> Response:
        storage = {
            "blockstore_type": "s3" if self.presign else "local",
            "blockstore_namespace_example": "s3://example-bucket/",
            "blockstore_namespace_ValidityRegex": "^s3://",
            "pre_sign_support": self.presign,
            "pre_sign_support_ui": False,
            "import_support": False,
            "import_validity_regex": "^s3://",
        }
        return _json(200, {"version_config": {"version": "fake"}, "storage_config": storage})

    def _get_physical_address(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        self._branch(repo, branch)
        address = f"{repo.namespace}/data/{uuid.uuid4().hex}"
        location: dict[str, Any] = {"physical_address": address}
        if _flag(request, "presign", False):
            location["presigned_url"] = self._presigned(address)
            location["presigned_url_expiry"] = int(time.time()) + 900
        self._issued.add(address)
        return _json(200, location)

    def _link_physical_address(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        self._branch(repo, branch)
        body = request.get_json()
        address = body["staging"]["physical_address"]
        if address not in self._issued:  # catalog VerifyLinkAddress: ErrLinkAddressInvalid -> 400
            raise ApiError(400, "link address invalid")
        self._issued.discard(address)
        data = self.blobs.get(_blob_key(address), b"")
        obj = Obj(
            data,
            body["checksum"].strip('" '),
            int(time.time()),
            body.get("content_type") or "application/octet-stream",
            address,
            {k.lower(): v for k, v in (body.get("user_metadata") or {}).items()},
        )
        path = request.args["path"]
        repo.staged.setdefault(branch, {})[path] = obj
        return _json(200, self._stats(path, obj))

    def _diff_branch(self, request: Request, repository: str, branch: str) -> Response:
        repo = self._repo(repository)
        head = repo.commits[repo.branches[self._branch(repo, branch)]]
        return self._diff_page(request, head.tree, self._tree(repo, branch), set())

    def _diff_refs(self, request: Request, repository: str, left: str, right: str) -> Response:
        """Two-dot: left's tree against right's. Three-dot (the default): what right changed since the merge
        base, with paths both sides changed marked ``conflict`` (graveler ``compareIterator``)."""
        repo = self._repo(repository)
        ours, theirs = self._commit_of(repo, left), self._commit_of(repo, right)
        if request.args.get("type", "three_dot") == "two_dot":
            return self._diff_page(request, ours.tree, theirs.tree, set())
        base = self._merge_base(repo, ours, theirs)
        return self._diff_page(request, base.tree, theirs.tree, self._conflicts(base, ours, theirs))

    def _diff_page(
        self, request: Request, before: dict[str, Obj], after: dict[str, Obj], conflicts: set[str]
    ) -> Response:
        prefix, start = request.args.get("prefix", ""), request.args.get("after", "")
        amount = _amount(request)
        paths = sorted(p for p in self._changes(before, after) if p.startswith(prefix) and p > start)
        page, more = paths[:amount], len(paths) > amount
        stats = _flag(request, "include_right_stats", False)
        results = []
        for path in page:
            old, new = before.get(path), after.get(path)
            kind = (
                "conflict" if path in conflicts else "added" if old is None else "removed" if new is None else "changed"
            )
            entry: dict[str, Any] = {"type": kind, "path": path, "path_type": "object"}
            entry["size_bytes"] = len((new or old or Obj(b"", "", 0, "", "")).data)
            if stats and new is not None:
                entry["right"] = {
                    "checksum": new.checksum,
                    "mtime": new.mtime,
                    "content_type": new.content_type,
                    "metadata": new.metadata,
                }
            results.append(entry)
        pagination = _pagination(len(page), more, page[-1] if page else "")
        return _json(200, {"pagination": pagination, "results": results})


def _blob_key(address: str) -> str:
    """Where the fake object store keeps an address's bytes (its last, unique, part)."""
    return address.rsplit("/", 1)[-1]


def _flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter ("true"/"True"/"false"...)."""
    value = request.args.get(name)
    return default if value is None else value.lower() == "true"


def _checksum(data: bytes, how: str) -> str:
    """The checksum lakeFS records for ``data`` written ``how`` (see ``FakeLakeFS.put_object``)."""
    if how == "api":
        return hashlib.md5(data).hexdigest()
    part = 5 << 20
    parts = [data[i : i + part] for i in range(0, max(len(data), 1), part)]
    combined = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    if how == "multipart":
        return combined
    if how == "import":
        return f"{combined}-{len(parts)}"
    raise ValueError(f"unknown write {how!r}")


def _explain(exc: Exception) -> str:
    causes = [str(exc)]
    inner: BaseException | None = exc.__cause__
    while inner is not None:
        causes.append(str(inner))
        inner = inner.__cause__
    errors = getattr(exc, "schema_errors", None) or getattr(exc.__cause__, "schema_errors", None) or []
    causes += [str(getattr(e, "message", e)) for e in errors]
    return "; ".join(causes)


def _json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"message": message})


MAX_PER_PAGE, PER_PAGE = 1000, 100  # pkg/api/controller.go ``DefaultMaxPerPage``, ``DefaultPerPage``


def _amount(request: Request) -> int:
    """A listing's page size as lakeFS reads ``amount`` (controller ``paginationAmount``): absent, zero or
    negative is 100, above 1000 is 1000."""
    asked = int(request.args.get("amount", PER_PAGE))
    return PER_PAGE if asked <= 0 else min(asked, MAX_PER_PAGE)


def _pagination(results: int, more: bool, next_offset: str) -> dict[str, Any]:
    """lakeFS sets ``next_offset`` (the last result's) only when there is a next page, and always reports
    ``max_per_page`` 1000, whatever page size was asked (controller ``paginationFor``)."""
    return {
        "has_more": more,
        "next_offset": next_offset if more else "",
        "results": results,
        "max_per_page": MAX_PER_PAGE,
    }


def _repository(repo: Repo) -> dict[str, Any]:
    return {
        "id": repo.name,
        "creation_date": repo.created,
        "default_branch": repo.default_branch,
        "storage_namespace": repo.namespace,
    }


def _commit_json(commit: CommitRec) -> dict[str, Any]:
    return {
        "id": commit.id,
        "parents": list(commit.parents),
        "committer": "lakeplan-tests",
        "message": commit.message,
        "creation_date": commit.created,
        "meta_range_id": hashlib.sha256(commit.id.encode()).hexdigest()[:32],
        "metadata": commit.metadata,
        "generation": commit.seq,
    }

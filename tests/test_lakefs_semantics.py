"""lakeFS as the real server behaves: the fake's rules (each cited in tests/lakefs_server.py), and lakeplan
right against them: retries through the raw SDK, no duplicate commits after a lost answer, opaque
checksums, a dirty target caught at the start, conflicts naming their paths, bounded call counts.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import lakefs
import pytest
import test_lakefs_store
from conftest import Project
from test_lakefs_store import ORDERS, LakeFS, _plan, _project

from assets_core.step import Outcome, materialize
from io_managers.lakefs_store import LakeFSStore, parse_uri

lakefs_target = test_lakefs_store.lakefs_target  # the fixture


def _http(
    target: LakeFS, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """One raw request to the API (status, headers, body), authenticated unless Authorization is given."""
    auth = base64.b64encode(f"{target.access_key}:{target.secret_key}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", **headers}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    url = f"{target.endpoint}/api/v1/repositories/{target.repository}{path}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _repo(target: LakeFS) -> Any:
    return lakefs.Repository(target.repository, client=target.client)


# -- the fake follows the real server ---------------------------------------------------------------


def test_a_commit_takes_everything_staged_whoever_staged_it(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    server.put_object(lakefs_target.repository, "main", "a.txt", b"a")  # writer a
    server.put_object(lakefs_target.repository, "main", "b.txt", b"b")  # writer b
    status, _, body = _http(lakefs_target, "POST", "/branches/main/commits", {"message": "a's commit"})
    assert status == 201
    commit = json.loads(body)["id"]
    assert {o.path for o in _repo(lakefs_target).ref(commit).objects()} == {"a.txt", "b.txt"}
    status, _, body = _http(lakefs_target, "POST", "/branches/main/commits", {"message": "b's commit"})
    assert (status, json.loads(body)["message"]) == (400, "commit: no changes")


def test_identity_is_size_checksum_metadata_and_content_type(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    repo = lakefs_target.repository
    server.put_object(repo, "main", "x", b"same", {"k": "1"})
    server.commit_staged(repo, "main", "first")
    server.put_object(repo, "main", "x", b"same", {"k": "1"})  # a new address, the same identity
    status, _, _ = _http(lakefs_target, "POST", "/branches/main/commits", {"message": "again"})
    assert status == 400
    server.put_object(repo, "main", "x", b"same", {"k": "2"})  # same bytes, other metadata: a change
    assert _http(lakefs_target, "POST", "/branches/main/commits", {"message": "meta"})[0] == 201


def test_merge_into_a_dirty_branch_is_400_and_a_conflict_body_is_only_the_reference(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    repo = lakefs_target.repository
    _repo(lakefs_target).branch("feature").create("main")
    server.put_object(repo, "feature", "p", b"theirs")
    server.commit_staged(repo, "feature", "theirs")
    server.put_object(repo, "main", "p", b"ours")  # uncommitted on the target
    status, _, body = _http(lakefs_target, "POST", "/refs/feature/merge/main", {})
    assert (status, json.loads(body)["message"]) == (400, "main: uncommitted changes (dirty branch)")
    server.commit_staged(repo, "main", "ours")
    status, _, body = _http(lakefs_target, "POST", "/refs/feature/merge/main", {})
    assert (status, json.loads(body)) == (409, {"reference": ""})
    status, _, body = _http(lakefs_target, "GET", "/refs/main/diff/feature?type=three_dot")
    assert [(d["path"], d["type"]) for d in json.loads(body)["results"]] == [("p", "conflict")]


def test_ranged_read_pagination_and_credentials_as_the_server_answers(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    repo = lakefs_target.repository
    for i in range(3):
        server.put_object(repo, "main", f"o{i}", b"0123456789")
    status, headers, body = _http(lakefs_target, "GET", "/refs/main/objects?path=o0", Range="bytes=2-5")
    assert (status, headers["Content-Range"], body) == (206, "bytes 2-5/10", b"2345")
    pages = [json.loads(_http(lakefs_target, "GET", f"/refs/main/objects/ls?amount={n}")[2]) for n in (2, 3)]
    assert [(p["pagination"]["has_more"], p["pagination"]["next_offset"]) for p in pages] == [(True, "o1"), (False, "")]
    assert _http(lakefs_target, "GET", "/refs/main/objects/ls", Authorization="")[0] == 401
    server.tokens.add("session-token")
    assert _http(lakefs_target, "GET", "/refs/main/objects/ls", Authorization="Bearer session-token")[0] == 200


def test_checksums_are_md5s_only_for_api_uploads(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    import hashlib

    data = b"x" * (6 << 20)  # two 5 MiB parts
    api, multipart, imported = (
        server.put_object(lakefs_target.repository, "main", f"{how}.bin", data, how=how).checksum
        for how in ("api", "multipart", "import")
    )
    assert api == hashlib.md5(data).hexdigest()
    assert multipart != api and len(multipart) == 32  # looks like an MD5, is not the content's
    assert imported.endswith("-2")


def test_a_lost_response_was_applied(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    server.put_object(lakefs_target.repository, "main", "a", b"a")
    server.lose(method="POST", path_part="/commits")
    with pytest.raises(Exception):  # noqa: B017 - the connection drops; the SDK's exception type is its own
        _repo(lakefs_target).branch("main").commit("lost")
    assert _repo(lakefs_target).branch("main").get_commit().message == "lost"


# -- lakeplan against those rules -----------------------------------------------------------------------


def test_raw_sdk_calls_are_retried(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    server.fail(503, times=1, method="GET", path_part="/commits/lakeplan-run-")  # finish_run reads the run's head
    server.fail(
        500, times=1, method="POST", path_part="/commits", message="branch is currently locked, try again later"
    )
    server.fail(429, times=1, method="POST", path_part="/merge/")
    result = project.cli("materialize", "-m", project.module(), "--json")
    assert result.returncode == 0 and "published run" in result.stderr, result.stderr
    assert all(f.times == 0 for f in server.faults)


def test_a_commit_whose_answer_was_lost_is_not_made_twice(lakefs_target: LakeFS, tmp_path: Any) -> None:
    """The commit went through, a sibling committed in between, then the retry: before, an empty duplicate."""
    server = lakefs_target.fake_only()
    from assets_core.records import Materialization, MaterializationKind
    from io_managers.lakefs_config import LakeFSConfig

    config = LakeFSConfig(
        lakefs_target.endpoint,
        lakefs_target.repository,
        "main",
        retry_backoff_seconds=0.0,
        access_key_id=lakefs_target.access_key,
        secret_access_key=lakefs_target.secret_key,
    )
    store = LakeFSStore(config, tmp_path, tmp_path / "cache")
    store.begin_run("r1")
    branch = store.run_branch("r1")

    def sibling() -> None:
        server.put_object(
            lakefs_target.repository, branch, "assets/sibling.json", b"[2]", {"lakeplan-asset": "sibling"}
        )
        server.commit_staged(lakefs_target.repository, branch, "lakeplan: sibling", {"lakeplan.run_id": "r1"})

    server.lose(method="POST", path_part=f"/branches/{branch}/commits", then=sibling)
    stored = store.put("orders", "json", lambda out: out.write(b"[1]"))
    mat = Materialization("orders", "r1", MaterializationKind.BUILT, "c", {}, stored.data_version, stored.location)
    committed = store.commit(mat, {})
    log = list(_repo(lakefs_target).ref(branch).log())
    assert [c.message for c in log[:2]] == ["lakeplan: sibling", "lakeplan: orders"]  # no third, empty commit
    at = parse_uri(committed.location or "")
    assert at is not None and _repo(lakefs_target).ref(at[1]).object(at[2]).stat().checksum == committed.data_version


def test_a_dirty_target_fails_the_run_at_its_start(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    lakefs_target.branch().object("notes/draft.txt").upload(b"wip", mode="wb", pre_sign=False)  # not committed
    result = project.cli("materialize", "-m", project.module())
    assert result.returncode == 3, result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "has uncommitted changes ('notes/draft.txt')" in error and "lakectl commit" in error
    ws = project.workspace()
    assert ws.store.heads() == {}  # nothing was built before failing
    assert not [b for b in _repo(lakefs_target).branches() if b.id.startswith("lakeplan-run-")]


def test_a_conflict_names_the_conflicting_paths(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    from assets_core.errors import StoreError
    from assets_core.records import Materialization, MaterializationKind

    project = _project(sqlite_project, lakefs_target)
    stores = [project.workspace().objects, project.workspace().objects]
    for store, run_id, payload in zip(stores, ("run-a", "run-b"), (b"[1]", b"[2]"), strict=True):
        assert isinstance(store, LakeFSStore)
        store.begin_run(run_id)
        stored = store.put("orders", "json", lambda out, p=payload: out.write(p))  # type: ignore[misc]
        store.commit(Materialization("orders", run_id, MaterializationKind.BUILT, "c", {}, "", stored.location), {})
    assert isinstance(stores[0], LakeFSStore) and isinstance(stores[1], LakeFSStore)
    stores[0].finish_run("run-a", True)
    with pytest.raises(StoreError, match=r"changed the same objects concurrently \(assets/orders\.json\)"):
        stores[1].finish_run("run-b", True)


def test_non_md5_checksums_are_opaque_identities(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    """An asset replaced by an S3-gateway multipart upload (a checksum that looks like, but is not, the
    content's MD5) and a source written by an import: read by their dependents, never re-hashed."""
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    import pandas as pd

    path = project.root / "t.parquet"
    pd.DataFrame({"customer": ["z"], "amount": [1]}).to_parquet(path)
    server.put_object(lakefs_target.repository, "main", "assets/totals.parquet", path.read_bytes(), how="multipart")
    part = lakefs_target.branch().object("data/extra/part-0.parquet").reader("rb", pre_sign=False).read()
    server.put_object(lakefs_target.repository, "main", "data/extra/part-1.parquet", part, how="import")
    server.commit_staged(lakefs_target.repository, "main", "outside writes")
    assert {k for k, a in _plan(project).items() if a["status"] == "STALE"} == {"report", "extra_count"}
    result = project.cli("materialize", "-m", project.module(), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["counts"]["built"] == 2
    assert all(a["status"] == "FRESH" for a in _plan(project).values())


def test_a_download_must_match_the_servers_identity(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    ws = project.workspace()
    head = ws.store.heads()["report"]
    from assets_core.errors import StoreError

    with pytest.raises(StoreError, match="does not hold the recorded version"):
        ws.objects.fetch(head.location, "0" * 32)  # the recorded version is not what the commit holds
    assert json.loads(ws.objects.fetch(head.location, head.data_version).read_text())["rows"] == 3


def test_plan_and_step_cost_do_not_grow_with_unrelated_objects(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    for i in range(3000):  # unrelated objects next to lakeplan's (more than one page of any listing)
        server.put_object(lakefs_target.repository, "main", f"raw/{i:05d}.csv", b"x")
    server.commit_staged(lakefs_target.repository, "main", "unrelated")
    project.cli("materialize", "-m", project.module(), check=True)
    server.calls.clear()
    project.workspace().plan()
    assert len(server.calls) <= 5, server.calls

    lakefs_target.put("data/orders.csv", ORDERS + b"d,9\n")  # orders is stale now
    ws = project.workspace()
    server.calls.clear()
    ws.objects.begin_run("one-step")  # as every Argo pod does first; it creates the run branch here
    result = materialize(ws, "orders", "one-step")
    assert result.outcome is Outcome.BUILT
    transfers = {"get_object", "upload_object"}
    # the run branch (missing: the target is checked clean, and it is made), lakeplan's prefix, the source, the commit
    assert sorted(c for c in server.calls if c not in transfers) == [
        "commit", "create_branch", "diff_branch", "get_branch", "list_objects", "stat_object"
    ], server.calls  # fmt: skip
    server.calls.clear()
    pod = project.workspace()  # the next pod of the same run: the branch exists; totals reads orders
    pod.objects.begin_run("one-step")
    assert materialize(pod, "totals", "one-step").outcome is Outcome.BUILT
    assert sorted(c for c in server.calls if c not in transfers) == ["commit", "get_branch", "list_objects"]


def test_a_merge_whose_answer_was_lost_is_found_not_repeated(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    server.lose(method="POST", path_part="/merge/")
    result = project.cli("materialize", "-m", project.module())
    assert result.returncode == 0 and "published run" in result.stderr, result.stderr
    merges = [c for c in _repo(lakefs_target).ref("main").log() if len(c.parents or []) == 2]
    assert len(merges) == 1


def test_a_hook_that_rejects_a_commit_is_named(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    from lakefs_server import HOOK_FAILED

    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    server.fail(412, times=1, method="POST", path_part="/commits", message=HOOK_FAILED)
    result = project.cli("materialize", "-m", project.module())
    assert result.returncode == 3
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "a lakeFS hook rejected the request to commit" in error and "action failed" in error


def test_a_target_made_dirty_during_the_run_is_named_at_publish(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    from assets_core.errors import StoreError
    from assets_core.records import Materialization, MaterializationKind

    project = _project(sqlite_project, lakefs_target)
    store = project.workspace().objects
    assert isinstance(store, LakeFSStore)
    store.begin_run("r1")
    stored = store.put("orders", "json", lambda out: out.write(b"[1]"))
    store.commit(Materialization("orders", "r1", MaterializationKind.BUILT, "c", {}, "", stored.location), {})
    lakefs_target.branch().object("notes/draft.txt").upload(b"wip", mode="wb", pre_sign=False)  # not committed
    with pytest.raises(StoreError, match="'main' has uncommitted changes; nothing was overwritten") as raised:
        store.finish_run("r1", True)
    assert "lakectl merge lakefs://" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("setting", ["true", "auto"])
def test_presigned_data_moves_straight_to_object_storage(
    sqlite_project: Project, lakefs_target: LakeFS, setting: str
) -> None:
    server = lakefs_target.fake_only()
    server.presign = True
    project = _project(sqlite_project, lakefs_target)
    with (project.root / "pyproject.toml").open("a") as handle:
        handle.write(f'presign = "{setting}"\n')
    server.calls.clear()
    result = project.cli("materialize", "-m", project.module(), "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["counts"]["built"] == 5, result.stderr
    assert server.count("upload_object", "get_object") == 0  # no byte went through the lakeFS server
    assert server.count("blob_put") == 5 and server.count("link_physical_address") == 5
    assert server.count("blob_get") >= 5 and server.count("get_config") == (setting == "auto")  # once per process
    assert all(a["status"] == "FRESH" for a in _plan(project).values())
    ws = project.workspace()
    head = ws.store.heads()["report"]
    assert json.loads(ws.objects.fetch(head.location, head.data_version).read_text())["rows"] == 3


def test_presign_auto_keeps_data_on_the_server_when_storage_cannot_presign(
    sqlite_project: Project, lakefs_target: LakeFS
) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    with (project.root / "pyproject.toml").open("a") as handle:
        handle.write('presign = "auto"\n')
    server.calls.clear()
    assert project.cli("materialize", "-m", project.module()).returncode == 0
    assert server.count("blob_put", "blob_get") == 0 and server.count("upload_object") == 5

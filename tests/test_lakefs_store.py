"""lakeFS as the version store, through the real ``lakefs`` SDK over HTTP.

By default against ``tests/lakefs_server.py`` (every request and response checked against lakeFS's
swagger.yml); against a real lakeFS when LAKEPLAN_TEST_LAKEFS_ENDPOINT (+ _ACCESS_KEY_ID / _SECRET_ACCESS_KEY)
is set. Tests that inject faults or count calls need the fake server and say so when skipped.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lakefs
import pytest
from conftest import SHARED, Project

from assets_core.errors import ConfigError, StoreError
from assets_core.executor import run
from io_managers.lakefs_store import LakeFSConfig, LakeFSStore, parse_uri
from io_managers.lakefs_sync import sync

SPEC = SHARED / "lakefs" / "swagger.yml"
REAL = os.environ.get("LAKEPLAN_TEST_LAKEFS_ENDPOINT")


@dataclass
class LakeFS:
    """A lakeFS to test against: endpoint, credentials, a fresh repository, and the fake server if any."""

    endpoint: str
    access_key: str
    secret_key: str
    repository: str
    server: Any = None
    namespace: str = "local://lakeplan-tests"  # the storage namespace its repositories live under

    def create(self) -> None:
        lakefs.Repository(self.repository, client=self.client).create(
            storage_namespace=f"{self.namespace}/{self.repository}"
        )

    def configure(self, project_root: Path) -> None:
        """Point the project at this repository's main (its pyproject's [tool.lakeplan.lakefs]), with quick retries."""
        with (project_root / "pyproject.toml").open("a") as handle:
            handle.write(
                f'\n[tool.lakeplan.lakefs]\nendpoint = "{self.endpoint}"\nrepository = "{self.repository}"\n'
                'branch = "main"\nretry_backoff_seconds = 0.01\n'
            )

    def sibling(self, suffix: str) -> LakeFS:
        """A second fresh repository on the same lakeFS (e.g. for a run to compare with)."""
        other = replace(self, repository=f"{self.repository}-{suffix}")
        other.create()
        return other

    @property
    def client(self) -> lakefs.Client:
        return lakefs.Client(host=self.endpoint, username=self.access_key, password=self.secret_key)

    def branch(self, name: str = "main") -> Any:
        return lakefs.Repository(self.repository, client=self.client).branch(name)

    def put(self, path: str, data: bytes, message: str = "external change") -> str:
        """Upload and commit on main, as someone else would (not through lakeplan)."""
        main = self.branch()
        main.object(path).upload(data, mode="wb", pre_sign=False)
        return str(main.commit(message).id)

    def fake_only(self) -> Any:
        if self.server is None:
            pytest.skip("needs the fake lakeFS server (fault injection / call counting); unset LAKEPLAN_TEST_LAKEFS_*")
        return self.server


@pytest.fixture
def lakefs_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[LakeFS]:
    repository = f"lakeplan-test-{uuid.uuid4().hex[:10]}"
    if REAL:
        target = LakeFS(
            REAL,
            os.environ["LAKEPLAN_TEST_LAKEFS_ACCESS_KEY_ID"],
            os.environ["LAKEPLAN_TEST_LAKEFS_SECRET_ACCESS_KEY"],
            repository,
            namespace=os.environ.get("LAKEPLAN_TEST_LAKEFS_STORAGE_NAMESPACE", "local://lakeplan-tests"),
        )
    else:
        if not SPEC.is_file():
            pytest.skip(f"lakeFS OpenAPI spec not found at {SPEC} (../shared is absent); the fake server needs it")
        from lakefs_server import FakeLakeFS

        server = FakeLakeFS(SPEC).start()
        target = LakeFS(server.endpoint, server.access_key, server.secret_key, repository, server)
    target.create()
    monkeypatch.setenv("LAKEFS_ACCESS_KEY_ID", target.access_key)
    monkeypatch.setenv("LAKEFS_SECRET_ACCESS_KEY", target.secret_key)
    try:
        yield target
    finally:
        if target.server is not None:
            target.server.stop()
            assert target.server.violations == [], "requests or responses left the lakeFS API spec"


PIPELINE = """
    import pandas as pd
    import polars as pl
    import pyarrow as pa
    from assets_core import asset, source_asset

    orders_csv = source_asset("orders_csv", path="../data/orders.csv")
    extra = source_asset("extra", path="../data/extra")

    @asset
    def orders(orders_csv: pd.DataFrame) -> pd.DataFrame:
        return orders_csv[orders_csv["amount"] > 0].reset_index(drop=True)

    @asset
    def totals(orders: pl.DataFrame) -> pl.DataFrame:
        return orders.group_by("customer").agg(pl.col("amount").sum()).sort("customer")

    @asset
    def table(orders: pa.Table) -> pa.Table:
        return orders.select(["customer"])

    @asset
    def report(totals: pd.DataFrame, table: pd.DataFrame) -> dict:
        {fail}
        return {{"customers": len(totals), "rows": len(table)}}

    @asset
    def extra_count(extra: pd.DataFrame) -> int:
        return len(extra)
"""

ORDERS = b"customer,amount\na,1\nb,2\na,3\nc,-1\n"


def _project(project: Project, target: LakeFS, fail: bool = False) -> Project:
    target.configure(project.root)
    project.write("pipeline", PIPELINE.format(fail="raise ValueError('boom')" if fail else "pass"))
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"n": [1, 2, 3]}), buffer)
    main = target.branch()
    main.object("data/orders.csv").upload(ORDERS, mode="wb", pre_sign=False)
    main.object("data/extra/part-0.parquet").upload(buffer.getvalue().to_pybytes(), mode="wb", pre_sign=False)
    main.commit("sources")
    return project


def _plan(project: Project) -> dict[str, Any]:
    """The plan as ``lakeplan plan --json`` prints it (in-process: a subprocess costs seconds of imports)."""
    return {s.key: s.to_json() for s in project.workspace().plan().statuses}


def test_run_commits_provenance_publishes_and_plans_fresh(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    result = project.cli("materialize", "-m", project.module(), "--json")
    assert json.loads(result.stdout)["counts"]["built"] == 5, result.stdout
    assert "published run" in result.stderr
    assert all(a["status"] == "FRESH" for a in _plan(project).values())

    # Provenance travels with each object (user metadata), whichever commit took it.
    repo = lakefs.Repository(lakefs_target.repository, client=lakefs_target.client)
    objects = {o.path: o for o in repo.ref("main").objects(prefix="assets/", user_metadata=True)}
    assert {o.metadata["lakeplan-asset"] for o in objects.values()} == {
        "orders", "totals", "table", "report", "extra_count"
    }  # fmt: skip
    orders = objects["assets/orders.parquet"]
    inputs = json.loads(orders.metadata["lakeplan-inputs"])
    assert (
        repo.ref(inputs["orders_csv"]["commit"]).object("data/orders.csv").stat().checksum
        == (inputs["orders_csv"]["data_version"])
    )
    heads = project.workspace().store.heads()
    assert heads["orders"].data_version == orders.checksum  # data version = lakeFS checksum
    orders_at = parse_uri(heads["orders"].location)
    assert orders_at is not None and repo.ref(orders_at[1]).object(orders_at[2]).stat().checksum == orders.checksum
    assert json.loads(objects["assets/totals.parquet"].metadata["lakeplan-inputs"])["orders"] == {
        "data_version": orders.checksum,
        "commit": orders_at[1],
    }
    run_commits = [c for c in repo.ref("main").log() if (c.metadata or {}).get("lakeplan.run_id")]
    assert len(run_commits) == 6  # one per asset, and the merge
    assert not [b for b in lakefs.Repository(lakefs_target.repository, client=lakefs_target.client).branches()
                if b.id.startswith("lakeplan-run-")]  # fmt: skip

    ws = project.workspace()
    report = ws.objects.fetch(ws.store.heads(["report"])["report"].location, ws.store.heads()["report"].data_version)
    assert json.loads(report.read_text()) == {"customers": 2, "rows": 3}


def test_source_and_asset_changed_in_lakefs_make_exactly_the_dependents_stale(
    sqlite_project: Project, lakefs_target: LakeFS
) -> None:
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    old = lakefs_target.branch().object("data/orders.csv").stat().checksum

    commit = lakefs_target.put("data/orders.csv", ORDERS + b"d,9\n")
    new = lakefs_target.branch().object("data/orders.csv").stat().checksum
    plan = _plan(project)
    assert {k for k, a in plan.items() if a["status"] == "STALE"} == {"orders", "totals", "table", "report"}
    (cause,) = plan["orders"]["causes"]
    assert cause["kind"] == "DATA" and (cause["old"], cause["new"]) == (old, new)
    assert f"lakefs://{lakefs_target.repository}/{commit}/data/orders.csv" in cause["message"]
    project.cli("materialize", "-m", project.module(), check=True)

    # An asset object overwritten by someone else: its dependents are stale, not the asset itself.
    import pandas as pd

    path = project.root / "t.parquet"
    pd.DataFrame({"customer": ["z"], "amount": [1]}).to_parquet(path)
    lakefs_target.put("assets/totals.parquet", path.read_bytes())
    plan = _plan(project)
    assert {k for k, a in plan.items() if a["status"] == "STALE"} == {"report"}
    assert "assets/totals.parquet" in plan["report"]["causes"][0]["message"]
    project.cli("materialize", "-m", project.module(), check=True)
    ws = project.workspace()
    head = ws.store.heads(["report"])["report"]
    assert json.loads(ws.objects.fetch(head.location, head.data_version).read_text())["customers"] == 1


def test_prefix_source_versions_all_objects_under_it(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    main = lakefs_target.branch()
    data = main.object("data/extra/part-0.parquet").reader("rb", pre_sign=False).read()
    lakefs_target.put("data/extra/part-1.parquet", data)
    plan = _plan(project)
    assert {k for k, a in plan.items() if a["status"] == "STALE"} == {"extra_count"}
    project.cli("materialize", "-m", project.module(), check=True)
    ws = project.workspace()
    head = ws.store.heads(["extra_count"])["extra_count"]
    assert json.loads(ws.objects.fetch(head.location, head.data_version).read_text()) == 6


def test_failed_run_leaves_target_unchanged_and_keeps_run_branch(
    sqlite_project: Project, lakefs_target: LakeFS
) -> None:
    project = _project(sqlite_project, lakefs_target, fail=True)
    before = lakefs_target.branch().get_commit().id
    result = project.cli("materialize", "-m", project.module())
    assert result.returncode == 1
    assert lakefs_target.branch().get_commit().id == before
    kept = [line for line in result.stderr.splitlines() if "is unchanged" in line]
    assert len(kept) == 1 and "lakeplan-run-" in kept[0]
    name = kept[0].split("on branch '")[1].split("'")[0]
    run_branch = lakefs_target.branch(name)
    assert run_branch.object("assets/orders.parquet").exists()  # kept for debugging
    # Nothing published: the next plan still sees the built assets as missing on the target.
    assert _plan(project)["orders"]["status"] == "STALE"


def test_pinned_reads_ignore_a_concurrent_writer(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    ws = project.workspace()
    original = lakefs_target.branch().object("data/orders.csv").stat().checksum

    def on_result(result: Any, done: int, total: int) -> None:
        if result.key == "orders":  # someone replaces the source while the run is going on
            lakefs_target.put("data/orders.csv", b"customer,amount\nx,5\n")

    summary = run(ws, ["orders", "totals"], on_result=on_result)
    assert not summary.failed
    heads = ws.store.heads()
    assert heads["orders"].input_versions["orders_csv"] == original
    totals = ws.objects.fetch(heads["totals"].location, heads["totals"].data_version)
    import pandas as pd

    assert sorted(pd.read_parquet(totals)["customer"]) == ["a", "b"]


def test_concurrent_runs_conflict_is_reported_not_overwritten(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    first, second = project.workspace(), project.workspace()
    store_a, store_b = first.objects, second.objects
    assert isinstance(store_a, LakeFSStore) and isinstance(store_b, LakeFSStore)
    store_a.begin_run("run-a")
    store_b.begin_run("run-b")
    from assets_core.records import Materialization, MaterializationKind

    for store, run_id, payload in ((store_a, "run-a", b"[1]"), (store_b, "run-b", b"[2]")):
        stored = store.put("orders", "json", lambda out, p=payload: out.write(p))  # type: ignore[misc]
        mat = Materialization(
            "orders", run_id, MaterializationKind.BUILT, "c", {}, stored.data_version, stored.location
        )
        store.commit(mat, {})
    assert store_a.finish_run("run-a", True)
    published = lakefs_target.branch().get_commit().id
    with pytest.raises(StoreError) as raised:
        store_b.finish_run("run-b", True)
    message = str(raised.value)
    assert "not published" in message and "lakeplan-run-run-b" in message and "\n" not in message
    assert lakefs_target.branch().get_commit().id == published
    data = lakefs_target.branch().object("assets/orders.json").reader("rb", pre_sign=False).read()
    assert data == b"[1]"


def test_sync_rebuilds_the_metadata_store_from_lakefs_history(
    sqlite_project: Project, lakefs_target: LakeFS, tmp_path: Path
) -> None:
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    original = project.workspace().store.heads()
    project.database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert all(a["status"] == "STALE" for a in _plan(project).values())
    result = project.cli("sync", "-m", project.module(), check=True)
    assert "5 lakeplan object versions" in result.stderr
    assert all(a["status"] == "FRESH" for a in _plan(project).values())
    rebuilt = project.workspace().store.heads()
    assert {k: (h.data_version, h.code_version, h.input_versions, h.location) for k, h in rebuilt.items()} == {
        k: (h.data_version, h.code_version, h.input_versions, h.location) for k, h in original.items()
    }
    again = sync(project.workspace())
    assert again.recorded == 0  # idempotent


def test_plan_makes_a_bounded_number_of_calls(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    server.calls.clear()
    project.workspace().plan()
    # the branch, lakeplan's prefix, the file source (a stat), the folder source (a stat, then its prefix)
    assert sorted(server.calls) == ["get_branch", "list_objects", "list_objects", "stat_object", "stat_object"]


def test_transient_failures_are_retried(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    server.fail(503, times=2, method="GET", path_part="/objects/ls")
    server.reset(times=1, method="GET", path_part="/branches/main")
    server.fail(502, times=1, method="POST", path_part="/commits")
    result = project.cli("materialize", "-m", project.module(), "--json", check=True)
    assert json.loads(result.stdout)["counts"]["built"] == 5
    assert all(f.times == 0 for f in server.faults)
    assert len(list(project.workspace().objects.materializations())) == 5  # each commit made once


@pytest.mark.parametrize("problem", ["unreachable", "credentials", "repository", "branch"])
def test_configuration_errors_are_one_line(
    sqlite_project: Project, lakefs_target: LakeFS, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(sqlite_project, lakefs_target)
    before = lakefs_target.branch().get_commit().id
    pyproject = project.root / "pyproject.toml"
    text = pyproject.read_text()
    if problem == "unreachable":
        text = text.replace(lakefs_target.endpoint, "http://127.0.0.1:9")
    elif problem == "repository":
        text = text.replace(f'"{lakefs_target.repository}"', '"no-such-repo"')
    elif problem == "branch":
        text = text.replace('branch = "main"', 'branch = "nope"')
    else:
        monkeypatch.setenv("LAKEFS_SECRET_ACCESS_KEY", "wrong")
    pyproject.write_text(text)
    expected = {
        "unreachable": "cannot reach lakeFS at http://127.0.0.1:9",
        "credentials": "rejected the credentials",
        "repository": "repository 'no-such-repo' does not exist",
        "branch": "branch 'nope'",
    }[problem]
    for command in ("plan", "materialize"):
        result = project.cli(command, "-m", project.module())
        assert result.returncode == 3, result.stderr
        assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert lakefs_target.branch().get_commit().id == before


def test_fake_server_rejects_requests_outside_the_spec(lakefs_target: LakeFS) -> None:
    server = lakefs_target.fake_only()
    import base64
    import urllib.request

    auth = base64.b64encode(f"{server.access_key}:{server.secret_key}".encode()).decode()
    request = urllib.request.Request(
        f"{server.endpoint}/api/v1/repositories/{lakefs_target.repository}/branches",
        data=b'{"source": "main"}',  # "name" is required by BranchCreation
        headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        method="POST",
    )
    with pytest.raises(urllib.request.HTTPError) as raised:
        urllib.request.urlopen(request)
    assert raised.value.code == 400
    assert len(server.violations) == 1 and "branches" in server.violations[0]
    server.violations.clear()


def test_locations_are_pinned_to_commits(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    project = _project(sqlite_project, lakefs_target)
    project.cli("materialize", "-m", project.module(), check=True)
    for head in project.workspace().store.heads().values():
        parsed = parse_uri(head.location)
        assert parsed is not None and parsed[0] == lakefs_target.repository
        assert len(parsed[1]) == 64 and parsed[2].startswith("assets/")


@pytest.mark.parametrize(
    ("section", "got"),
    [
        ({"retries": "4"}, "got '4'"),  # a TOML string where a number belongs
        ({"retries": -1}, "got -1"),  # was silently clamped to 0
        ({"retries": 1.9}, "got 1.9"),  # was silently truncated to 1
        ({"retries": True}, "got True"),
        ({"retry_backoff_seconds": "fast"}, "got 'fast'"),
        ({"retry_backoff_seconds": -0.5}, "got -0.5"),
    ],
)
def test_numeric_settings_are_typed_and_range_checked(section: dict[str, Any], got: str) -> None:
    base = {"endpoint": "http://lakefs:8000", "repository": "r", "branch": "main"}
    with pytest.raises(ConfigError, match="retries must be a whole number from 0 to 20") as caught:
        LakeFSConfig.load({**base, **section}, {})
    assert got in str(caught.value) and "\n" not in str(caught.value)
    assert LakeFSConfig.load({**base, "retries": 0, "retry_backoff_seconds": 2}, {}).retries == 0


DAILY = """
    from assets_core import daily_partitions, source_asset

    days = daily_partitions("2026-01-01", end="2026-01-26")  # 25 days
    events = source_asset("events", path="../data/events/{partition}.csv", partitions=days)
    other = source_asset("other", path="../data/other/{partition}.csv", partitions=days)
"""


def test_a_partitioned_source_is_observed_with_one_listing_and_the_same_versions(
    sqlite_project: Project, lakefs_target: LakeFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan observes the partitions of a partitioned source with one paged listing of their common
    prefix, not a stat each, and finds the same versions a stat each finds: an object's checksum, a folder
    of objects under ``PATH/`` as one version, none where nothing is."""
    import io_managers.lakefs_store

    monkeypatch.setattr(io_managers.lakefs_store, "_PAGE", 10)  # pages of 10, as of 1000 with 1000s of days
    project = _project(sqlite_project, lakefs_target)
    project.write("pipeline", DAILY)
    main = lakefs_target.branch()
    for day in range(1, 23):  # 2026-01-01 .. 2026-01-22
        main.object(f"data/events/2026-01-{day:02}.csv").upload(f"n\n{day}\n".encode(), mode="wb", pre_sign=False)
    main.object("data/events/2026-01-25.csv/part-0.csv").upload(b"n\n1\n", mode="wb", pre_sign=False)  # a folder
    main.object("data/events/2026-01-25.csv.bak").upload(b"n\n2\n", mode="wb", pre_sign=False)  # not a partition
    main.object("data/other/2026-01-01.csv").upload(b"n\n3\n", mode="wb", pre_sign=False)
    main.commit("a file a day")

    ws = project.workspace()
    keys = [k for k, i in ws.expanded.instances.items() if i.asset in ("events", "other")]
    server = lakefs_target.server
    before = {op: server.count(op) for op in ("list_objects", "stat_object")} if server else {}
    batched = ws.observe(keys).sources
    if server is not None:  # one listing per source (events: 24 objects, three pages of 10), no stat
        assert server.count("list_objects") - before["list_objects"] == 4  # events x3 pages, other x1
        assert server.count("stat_object") == before["stat_object"]
    store, commit = ws.objects, main.get_commit().id
    one_by_one = {k: store._source_version(commit, store.source_path(ws.source(k)), None)[0] for k in keys}
    assert batched == one_by_one
    assert batched["events/partition=2026-01-01"] == main.object("data/events/2026-01-01.csv").stat().checksum
    assert batched["events/partition=2026-01-25"] is not None  # the folder's objects, as one version
    assert [k for k, v in batched.items() if v is None and k.startswith("events/")] == [
        "events/partition=2026-01-23",
        "events/partition=2026-01-24",
    ]
    assert sum(1 for k, v in batched.items() if k.startswith("other/") and v is not None) == 1


def test_partitions_among_many_other_objects_are_stat_ed_after_one_bounded_listing(
    sqlite_project: Project, lakefs_target: LakeFS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the partitions' common prefix holds far more objects than partitions, the listing stops after
    a page past twice the partitions and each partition is asked for on its own: never a whole repository."""
    import io_managers.lakefs_store

    monkeypatch.setattr(io_managers.lakefs_store, "_PAGE", 10)
    project = _project(sqlite_project, lakefs_target)
    project.write(
        "pipeline",
        """
        from assets_core import source_asset, static_partitions

        regions = source_asset("regions", path="../data/{partition}.csv", partitions=static_partitions(["DE", "FR"]))
        """,
    )
    main = lakefs_target.branch()
    main.object("data/DE.csv").upload(b"n\n1\n", mode="wb", pre_sign=False)
    for i in range(30):
        main.object(f"data/unrelated-{i:02}.csv").upload(b"x\n", mode="wb", pre_sign=False)
    main.commit("regions among other files")
    ws = project.workspace()
    de = main.object("data/DE.csv").stat().checksum
    server = lakefs_target.server
    before = {op: server.count(op) for op in ("list_objects", "stat_object")} if server else {}
    found = ws.observe(["regions/partition=DE", "regions/partition=FR"]).sources
    assert found == {"regions/partition=DE": de, "regions/partition=FR": None}
    if server is not None:  # 34 objects under 'data/': two pages of 10 show it, then a stat each (FR: and its folder)
        assert server.count("list_objects") - before["list_objects"] == 3
        assert server.count("stat_object") - before["stat_object"] == 2

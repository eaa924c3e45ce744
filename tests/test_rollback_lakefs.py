"""Rollback with lakeFS as the version store: the rollback is a lakeFS commit, published on main."""

from __future__ import annotations

import pytest
from conftest import Project

store_tests = pytest.importorskip(
    "test_lakefs_store", reason="tests/test_lakefs_store.py (the lakeFS fixtures) is absent"
)
lakefs_target = store_tests.lakefs_target  # the fixture, shared with the lakeFS store tests


@pytest.mark.slow
def test_rollback_on_lakefs_is_a_commit(sqlite_project: Project, request: pytest.FixtureRequest) -> None:
    lakefs = request.getfixturevalue("lakefs_target")
    project = store_tests._project(sqlite_project, lakefs)
    project.cli("materialize", "-m", project.module(), check=True)
    first = project.workspace().store.heads()["orders"].data_version
    lakefs.put("data/orders.csv", b"customer,amount\na,1\nb,5\n")
    project.cli("materialize", "-m", project.module(), check=True)
    result = project.cli("rollback", "-m", project.module(), "orders", "--to", first[:8], check=True)
    assert "now stale:" in result.stdout and "totals" in result.stdout
    ws = project.workspace()
    rollback_run = ws.store.history("orders")[0].run_id
    commits = [c for c in lakefs.branch().log() if (c.metadata or {}).get("lakeplan.writer") == "orders"]
    assert commits[0].metadata["lakeplan.run_id"] == rollback_run
    assert ws.store.heads()["orders"].data_version == first
    stat = lakefs.branch().object("assets/orders.parquet").stat()  # the object says how it came to be
    assert (stat.checksum, stat.metadata["lakeplan-run"], stat.metadata["lakeplan-kind"]) == (
        first,
        rollback_run,
        "rollback",
    )

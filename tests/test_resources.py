"""Resources (issue 15): injected by parameter name and never upstreams, configured from pyproject.toml and
the environment (secrets from the environment only), recorded masked with each run, and part of a code
version only when declared ``versioned=True``. Also an asset stored by the PostgreSQL IO manager resource,
end to end through the CLI, against the real server."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import REPO, Project
from sample_pipelines import WAREHOUSE

from assets_core.errors import ConfigError
from assets_core.planner import CauseKind
from assets_core.resources import resolve_all, resource
from assets_core.run_lifecycle import begin
from assets_core.step import Outcome, materialize


def _fx(config: Mapping[str, Any]) -> dict[str, Any]:
    return dict(config)


FX = resource(config={"currency": "EUR", "rate": 1.0}, secrets={"token": "FX_TOKEN"})(_fx)


def _write(project: Project, resources_toml: str = "") -> None:
    project.write("pipeline", WAREHOUSE)
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2]}))
    (project.root / "pyproject.toml").write_text(f"[tool.lakeplan]\n{resources_toml}")


def test_resources_are_parameters_not_upstreams_and_built_once(sqlite_project: Project) -> None:
    _write(sqlite_project)
    ws = sqlite_project.workspace()
    assert ws.graph.upstream["orders"] == ("raw",) and ws.graph.upstream["revenue"] == ("orders",)
    assert ws.graph.asset("revenue").resource_params == ("fx",) and "fx" not in ws.graph.nodes
    begin(ws, "run-1", "orders")
    assert materialize(ws, "orders", "run-1").outcome is Outcome.BUILT
    assert materialize(ws, "orders", "run-1", force=True).outcome is Outcome.BUILT
    assert sys.modules[sqlite_project.module()].BUILT == ["client"]  # once per process, and only what is used
    listed = json.loads(sqlite_project.cli("assets", "-m", sqlite_project.module(), "--json", check=True).stdout)
    revenue = next(a for a in listed["assets"] if a["key"] == "revenue")
    assert (revenue["upstream"], revenue["resources"], revenue["io_manager"]) == (["orders"], ["fx"], "warehouse")


def test_configuration_comes_from_defaults_pyproject_then_environment() -> None:
    table = {"resources": {"_fx": {"currency": "USD"}}}
    resolved = resolve_all({"_fx": FX}, table, {"LAKEPLAN_RESOURCE__FX_RATE": "1.5", "FX_TOKEN": "t0ken"})["_fx"]
    assert dict(resolved.values) == {"currency": "USD", "rate": 1.5, "token": "t0ken"}  # as the default's type
    assert resolved.recorded() == {"currency": "USD", "rate": 1.5, "token": "***"}
    assert resolve_all({"_fx": FX}, {}, {})["_fx"].missing == ("token",)
    assert FX({"currency": "CHF"}) == {"currency": "CHF"}  # callable directly, like an asset


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"_fx": {"curency": "USD"}},
            r"\[tool.lakeplan.resources._fx\]: unknown key 'curency'; did you mean 'currency'",
        ),
        ({"_fx": {"token": "t0ken"}}, "a secret does not belong in pyproject.toml; remove it and set .* FX_TOKEN"),
        ({"fxx": {}}, r"\[tool.lakeplan.resources.fxx\] configures no declared resource; did you mean '_fx'"),
        ({"_fx": {"rate": [1]}}, "rate must be a string, number or boolean"),
    ],
)
def test_configuration_mistakes_are_one_line(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_all({"_fx": FX}, {"resources": table}, {})


def test_an_environment_value_must_parse_as_its_default() -> None:
    with pytest.raises(
        ConfigError, match=r"LAKEPLAN_RESOURCE__FX_RATE must be float like its default 1\.0, got 'high'"
    ):
        resolve_all({"_fx": FX}, {}, {"LAKEPLAN_RESOURCE__FX_RATE": "high"})


def test_a_missing_secret_fails_the_asset_in_one_line(sqlite_project: Project) -> None:
    _write(sqlite_project)
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module())
    assert result.returncode == 1
    assert re.search(r"failed\s+revenue .*environment variable WAREHOUSE_URL; set it", result.stderr)
    assert re.search(r"skipped\s+report", result.stderr) and "Traceback" not in result.stdout + result.stderr
    statuses = {s.key: s.stale for s in sqlite_project.workspace().plan().statuses}
    assert statuses == {"orders": False, "revenue": True, "report": True}


def _code(project: Project, resources_toml: str) -> dict[str, str]:
    _write(project, resources_toml)
    ws = project.workspace()
    return {key: ws.code_version(key).version for key in ws.graph.assets}


def test_only_versioned_resource_config_changes_code_versions(sqlite_project: Project) -> None:
    base = _code(sqlite_project, "")
    usd = _code(sqlite_project, '[tool.lakeplan.resources.fx]\ncurrency = "USD"\n')
    assert {k for k in base if base[k] != usd[k]} == {"revenue", "report"}  # the assets using fx
    assert _code(sqlite_project, "[tool.lakeplan.resources.client]\ntimeout = 30\n") == base  # not versioned
    explained = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "revenue", check=True)
    assert "resource:fx" in explained.stdout and "resource config" in explained.stdout


def test_moving_an_asset_to_another_io_manager_changes_its_code_version(sqlite_project: Project) -> None:
    base = _code(sqlite_project, "")
    sqlite_project.write("pipeline", WAREHOUSE.replace('@asset(io_manager="warehouse")', "@asset"))
    moved = {key: code.version for key, code in sqlite_project.workspace()._code_versions.items()}
    assert {k for k in base if base[k] != moved[k]} == {"revenue"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "@resource(name='a')\ndef conn(config): return 1\n@asset\ndef a(): return 1\n",
            "resource 'a' has the name of an asset; rename one",
        ),
        (
            "@resource\ndef warehouse(config): return 1\n@asset(io_manager='warehous')\ndef a(): return 1\n",
            "asset 'a': io_manager 'warehous' names no resource; did you mean 'warehouse'?",
        ),
        ("@resource\ndef conn(config, other): return 1\n", "a resource function takes one argument, its config"),
        ("@resource(secrets={'url': 'lower'})\ndef conn(config): return 1\n", "secrets= maps config keys to"),
    ],
)
def test_resource_mistakes_fail_at_load_in_one_line(sqlite_project: Project, source: str, message: str) -> None:
    sqlite_project.write(
        "pipeline", "from assets_core import asset, resource\n" + source + "@asset\ndef z(): return 1\n"
    )
    result = sqlite_project.cli("plan", "-m", sqlite_project.module())
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_resource_io_manager_must_return_an_io_manager(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        "from assets_core import asset, resource\n@resource\ndef store(config): return {}\n"
        "@asset(io_manager='store')\ndef a() -> int: return 1\n",
    )
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module())
    assert result.returncode == 1 and "resource 'store' is used as io_manager= but returns dict" in result.stderr


def _view(url: str, name: str) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"'))]
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_table_asset_end_to_end(project: Project, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built into PostgreSQL, read by its dependent, fresh, rebuilt on new data, rolled back, restored, rebuilt
    when its table is dropped by hand; the run record holds the resources' config with the secret masked."""
    _write(project)
    env = {"WAREHOUSE_URL": postgres_url}
    monkeypatch.setenv("WAREHOUSE_URL", postgres_url)  # plans here ask the warehouse whether tables exist
    project.cli("materialize", "-m", project.module(), "--workers", "2", check=True, env=env)  # built per worker
    ws = project.workspace()
    head = ws.store.heads()["revenue"]
    assert head.location.startswith("io://warehouse/") and head.location.endswith(f"revenue__{head.data_version[:16]}")
    assert _view(postgres_url, "revenue") == [("EUR", 3.0)]
    assert not [s for s in ws.plan().statuses if s.stale]

    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 4]}))
    project.cli("materialize", "-m", project.module(), check=True, env=env)
    assert _view(postgres_url, "revenue") == [("EUR", 7.0)]
    rolled = project.cli("rollback", "-m", project.module(), "revenue", "--to", head.data_version[:8], env=env)
    assert rolled.returncode == 0, rolled.stderr
    assert _view(postgres_url, "revenue") == [("EUR", 3.0)]  # the view follows the rollback

    restored = project.cli("materialize", "-m", project.module(), check=True, env=env)  # today's data again
    assert re.search(r"restored\s+revenue", restored.stderr) and _view(postgres_url, "revenue") == [("EUR", 7.0)]

    current = project.workspace().store.heads()["revenue"]
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE "{current.location.rsplit(".", 1)[1]}" CASCADE'))  # the view goes too
    engine.dispose()
    causes = {s.key: [c.kind for c in s.causes] for s in project.workspace().plan().statuses}
    assert causes["revenue"] == [CauseKind.MISSING]
    rebuilt = project.cli("materialize", "-m", project.module(), check=True, env=env)
    assert re.search(r"built\s+revenue", rebuilt.stderr) and _view(postgres_url, "revenue") == [("EUR", 7.0)]

    runs = json.loads(project.cli("runs", "-m", project.module(), "--json", check=True).stdout)["runs"]
    run = project.workspace().store.run(runs[0]["run_id"])
    assert run is not None
    assert run.environment["config"]["resources"] == {
        "client": {"timeout": 5},
        "fx": {"currency": "EUR", "rate": 1.0},
        "warehouse": {"url": "***"},
    }


def test_the_custom_io_manager_in_the_docs_runs(sqlite_project: Project) -> None:
    """The 'Writing your own' example of docs/io_managers.md, as written: built, read back, fresh, rebuilt when
    its file is gone."""
    text = (REPO / "docs" / "io_managers.md").read_text()
    example = text.split("### Writing your own", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    sqlite_project.write("pipeline", example)
    env = {"LAKEPLAN_RESOURCE_CSV_FOLDER_ROOT": str(sqlite_project.root / "csv")}
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True, env=env)
    ws = sqlite_project.workspace()
    heads = ws.store.heads()
    assert heads["numbers"].location == f"io://csv_folder/numbers/{heads['numbers'].data_version}.csv"
    stored = (sqlite_project.root / "csv" / "numbers").iterdir()
    assert [p.read_text() for p in stored] == ["n\n1\n2\n3\n"]
    again = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", check=True, env=env)
    assert json.loads(again.stdout)["counts"]["stale"] == 0
    for path in (sqlite_project.root / "csv" / "numbers").iterdir():
        path.unlink()
    gone = json.loads(sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", "--verify", env=env).stdout)
    assert gone["counts"]["stale"] == 2  # numbers is MISSING, total waits on it (plain plan trusts the records)
    # with the IO manager no longer declared, what it wrote plans as MISSING (rebuilt by today's), not an error
    sqlite_project.write("pipeline", example.replace('@asset(io_manager="csv_folder")', "@asset"))
    statuses = {s.key: s for s in sqlite_project.workspace().plan().statuses}
    assert [c.kind for c in statuses["numbers"].causes] == [CauseKind.MISSING, CauseKind.CODE]

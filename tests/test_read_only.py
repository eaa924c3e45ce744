"""Issue 9, found 9: read-only commands create nothing (no folder, file, schema or table) and migrate
nothing; the default store belongs to the project holding the module, not to the working directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from conftest import Project
from sample_pipelines import TWO_ASSETS

import assets_core.metadata_store
from assets_core.schema import SCHEMA_REVISION

PIPELINE = (
    TWO_ASSETS
    + """
from assets_core import schedule

nightly = schedule("nightly", cron="0 2 * * *", select="b+")
"""
)

# Every read-only verb, with arguments that reach the store where the verb has one.
READ_ONLY = [
    ("plan",),
    ("plan", "--json"),
    ("assets",),
    ("runs",),
    ("history", "a"),
    ("logs", "a"),
    ("lineage", "a"),
    ("diff", "latest", "latest"),
    ("schedules",),
]
STORE_READERS = [verb for verb in READ_ONLY if verb[0] not in ("assets", "schedules")]


def lakeplan(project: Project, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """``lakeplan ARGS`` from ``cwd`` (default: the project root); ``env`` overrides variables ('' unsets)."""
    environ = {**project.env(), "LAKEPLAN_ARGO_IMAGE": "registry.example/p:1", **env}
    return subprocess.run(
        [sys.executable, "-m", "assets_core", *args],
        cwd=cwd or project.root,
        env={k: v for k, v in environ.items() if v},
        capture_output=True,
        text=True,
        timeout=120,
    )


def tree(path: Path) -> set[Path]:
    return {p.relative_to(path) for p in path.rglob("*")}


@pytest.mark.parametrize("where", ["default location", "sqlite URL in a missing folder"])
def test_read_only_verbs_create_no_folder_or_file(sqlite_project: Project, tmp_path: Path, where: str) -> None:
    project = sqlite_project
    project.write("pipeline", PIPELINE)
    url = "" if where == "default location" else f"sqlite:///{tmp_path / 'missing' / 'dir' / 'lakeplan.db'}"
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    before_project, before_tmp = tree(project.root), tree(tmp_path)
    verbs = [
        *READ_ONLY,
        ("graph", "-o", str(outputs / "graph.dot")),
        ("compile", "-o", str(outputs / "workflow.yaml")),
    ]
    for verb in verbs:
        result = lakeplan(project, *verb, "-m", project.module(), LAKEPLAN_DATABASE_URL=url)
        assert "Traceback" not in result.stderr, (verb, result.stderr)
        assert result.returncode in (0, 2), (verb, result.stderr)
    created = {p for p in tree(project.root) - before_project if "__pycache__" not in p.parts}
    assert created == set()  # was: .lakeplan/ with lakeplan.db and the parse cache
    assert tree(tmp_path) - before_tmp - {p for p in tree(tmp_path) if p.parts[0] in ("outputs", "proj")} == set()

    plan = lakeplan(project, "plan", "-m", project.module(), LAKEPLAN_DATABASE_URL=url)
    assert plan.returncode == 0 and "MISSING: never materialized" in plan.stdout
    (note,) = plan.stderr.splitlines()
    assert (
        note.startswith("note: no lakeplan metadata store at sqlite:///") and "'lakeplan materialize' creates" in note
    )


@pytest.mark.postgres
def test_read_only_verbs_create_no_schema_in_postgres(sqlite_project: Project, postgres_url: str) -> None:
    project = sqlite_project
    project.write("pipeline", PIPELINE)
    for verb in READ_ONLY:
        result = lakeplan(project, *verb, "-m", project.module(), LAKEPLAN_DATABASE_URL=postgres_url)
        assert result.returncode in (0, 2) and "Traceback" not in result.stderr, (verb, result.stderr)
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []  # was: alembic_version and the lp_* tables
    engine.dispose()
    assert lakeplan(project, "materialize", "-m", project.module(), LAKEPLAN_DATABASE_URL=postgres_url).returncode == 0
    plan = lakeplan(project, "plan", "-m", project.module(), LAKEPLAN_DATABASE_URL=postgres_url)
    assert "2 assets: 0 stale, 2 fresh" in plan.stdout and plan.stderr == ""


def _at_revision(url: str, revision: str) -> None:
    """Create the store's schema only up to ``revision``, as an older lakeplan left it."""
    config = Config()
    config.set_main_option("script_location", str(Path(assets_core.metadata_store.__file__).parent / "migrations"))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    engine.dispose()


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return str(found)


def test_read_only_verbs_do_not_migrate_an_older_schema(sqlite_project: Project, tmp_path: Path) -> None:
    project = sqlite_project
    project.write("pipeline", PIPELINE)
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _at_revision(url, "0001")
    assert SCHEMA_REVISION > "0001"
    for verb in STORE_READERS:
        result = lakeplan(project, *verb, "-m", project.module(), LAKEPLAN_DATABASE_URL=url)
        assert result.returncode == 2, (verb, result.stdout)
        assert result.stderr.splitlines() == [
            f"error: metadata store {url} has lakeplan schema revision 0001, this lakeplan uses {SCHEMA_REVISION}; "
            "run 'lakeplan materialize' to upgrade it (read-only commands never migrate)"
        ]
    assert _revision(url) == "0001"  # was: upgraded by 'plan'
    assert lakeplan(project, "materialize", "-m", project.module(), LAKEPLAN_DATABASE_URL=url).returncode == 0
    assert _revision(url) == SCHEMA_REVISION


def test_the_store_belongs_to_the_project_holding_the_module(sqlite_project: Project, tmp_path: Path) -> None:
    project = sqlite_project
    pipeline = project.write("pipeline", PIPELINE)
    assert lakeplan(project, "materialize", "-m", project.module(), LAKEPLAN_DATABASE_URL="").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    by_path = lakeplan(project, "plan", "-m", str(pipeline), cwd=elsewhere, LAKEPLAN_DATABASE_URL="")
    assert by_path.returncode == 0, by_path.stderr
    assert "2 assets: 0 stale, 2 fresh" in by_path.stdout  # was: everything never built
    relative = os.path.relpath(pipeline, elsewhere)
    from_sibling = lakeplan(project, "plan", "-m", relative, cwd=elsewhere, LAKEPLAN_DATABASE_URL="")
    assert "2 assets: 0 stale, 2 fresh" in from_sibling.stdout, from_sibling.stderr
    by_module = lakeplan(
        project, "plan", "-m", project.module(), cwd=elsewhere, LAKEPLAN_DATABASE_URL="", PYTHONPATH=str(project.root)
    )
    assert "2 assets: 0 stale, 2 fresh" in by_module.stdout, by_module.stderr
    assert list(elsewhere.iterdir()) == []  # was: a new .lakeplan/ here

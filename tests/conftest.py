"""Shared fixtures: throwaway projects, and a metadata store URL for SQLite and for PostgreSQL.

PostgreSQL tests use the server at 127.0.0.1:5432 (database ``test``), each in its own schema, and are
skipped with the reason when no server answers.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ui_harness import browser, page  # noqa: F401 - the UI tests' browser, one per session, shared by their modules

from assets_core.config import Settings, load_settings
from assets_core.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
ARGO_SCHEMA = SHARED / "argo" / "schema.json"
PG_ADMIN_URL = os.environ.get("LAKEPLAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@functools.cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when the server answers."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means: no usable server here
        return (
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); "
            "start it or set LAKEPLAN_TEST_POSTGRES_URL"
        )
    return None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    schema = f"lp_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_ADMIN_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs twice: on SQLite (the embedded default) and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'lakeplan.db'}"
    return str(request.getfixturevalue("postgres_url"))


@dataclass
class Project:
    """A throwaway lakeplan project: a directory with pyproject.toml and user modules."""

    root: Path
    database_url: str
    package: str

    def write(self, name: str, source: str) -> Path:
        """Write ``<package>/<name>.py`` (dedented) and return its path."""
        path = self.root / self.package / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        sys.modules.pop(f"{self.package}.{name}", None)
        # Bytecode is validated by whole-second mtime and size: a same-size rewrite within a second would
        # otherwise run the old code (here and in the next subprocess).
        shutil.rmtree(path.parent / "__pycache__", ignore_errors=True)
        importlib.invalidate_caches()
        return path

    def write_file(self, relative: str, content: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def module(self, name: str = "pipeline") -> str:
        return f"{self.package}.{name}"

    def env(self) -> dict[str, str]:
        """Environment for a ``lakeplan`` subprocess in this project."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
        env.update(LAKEPLAN_DATABASE_URL=self.database_url, LAKEPLAN_RETRY_BACKOFF_SECONDS="0")
        return env

    def settings(self) -> Settings:
        return load_settings(self.root, self.env())

    def workspace(self, name: str = "pipeline") -> Workspace:
        """Load the module afresh (as a new process would) and return its workspace."""
        for loaded in [m for m in sys.modules if m == self.package or m.startswith(self.package + ".")]:
            del sys.modules[loaded]
        return Workspace.load(self.module(name), self.settings())

    def cli(
        self, *args: str, check: bool = False, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``lakeplan ARGS`` in a subprocess from the project root (``env`` overrides variables)."""
        result = subprocess.run(
            [sys.executable, "-m", "assets_core", *args],
            cwd=self.root,
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"lakeplan {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Iterator[Project]:
    """A fresh project on SQLite and on PostgreSQL."""
    yield _make_project(tmp_path, database_url)


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    """A fresh project on the embedded SQLite store only (for tests not about the database)."""
    yield _make_project(tmp_path, f"sqlite:///{tmp_path / 'state' / 'lakeplan.db'}")


def _make_project(tmp_path: Path, database_url: str) -> Project:
    root = tmp_path / "proj"
    package = f"userpkg_{uuid.uuid4().hex[:8]}"
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[project]\nname = "userproj"\nversion = "0"\n\n[tool.lakeplan]\n')
    return Project(root, database_url, package)


@pytest.fixture(scope="session")
def validator() -> Any:
    """A JSON-schema validator for manifests, from the official Argo schema in ../shared."""
    if not ARGO_SCHEMA.is_file():
        pytest.skip(f"Argo JSON schema not found at {ARGO_SCHEMA} (the ../shared checkout is absent)")
    import jsonschema

    schema = json.loads(ARGO_SCHEMA.read_text())
    # Kubernetes accepts integers for IntOrString and numbers for Quantity; the published schema says string only.
    definitions = schema["definitions"]
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {"type": ["string", "number"]}
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)

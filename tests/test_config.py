"""Part 2: configuration from ``[tool.lakeplan]`` and ``LAKEPLAN_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets_core import ConfigError
from assets_core.config import find_project_root, load_settings


def project(tmp_path: Path, table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "p"\n\n[tool.lakeplan]\n{table}')
    return tmp_path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(project(tmp_path), {})
    assert s.project_root == tmp_path.resolve()
    assert (s.module, s.database_url, s.workers, s.retry_backoff_seconds, s.fsync) == (None, None, 1, 1.0, False)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.resolve() / '.lakeplan' / 'lakeplan.db'}"
    assert s.resolved_storage_root == tmp_path.resolve() / ".lakeplan" / "storage"
    assert s.section("argo") == {}


def test_table_values_and_sections(tmp_path: Path) -> None:
    table = (
        'module = "pkg.pipeline"\ndatabase_url = "postgresql://u@h/db"\nstorage_root = "data/out"\n'
        'workers = 4\nretry_backoff_seconds = 0.5\nfsync = true\n\n[tool.lakeplan.argo]\nnamespace = "jobs"\n'
    )
    s = load_settings(project(tmp_path, table), {})
    assert s.module == "pkg.pipeline" and s.database_url == "postgresql://u@h/db"
    assert s.resolved_storage_root == tmp_path.resolve() / "data" / "out"  # relative to the project root
    assert (s.workers, s.retry_backoff_seconds, s.fsync) == (4, 0.5, True)
    assert s.section("argo") == {"namespace": "jobs"}


def test_environment_overrides_the_table(tmp_path: Path) -> None:
    root = project(tmp_path, 'module = "a"\nworkers = 2\n')
    env = {
        "LAKEPLAN_MODULE": "b",
        "LAKEPLAN_WORKERS": "8",
        "LAKEPLAN_DATABASE_URL": "sqlite:////tmp/x.db",
        "LAKEPLAN_STORAGE_ROOT": "/abs/store",
        "LAKEPLAN_RETRY_BACKOFF_SECONDS": "0",
        "LAKEPLAN_FSYNC": "yes",
    }
    s = load_settings(root, env)
    assert (s.module, s.workers, s.database_url, s.retry_backoff_seconds, s.fsync) == (
        "b",
        8,
        "sqlite:////tmp/x.db",
        0.0,
        True,
    )
    assert s.resolved_storage_root == Path("/abs/store")
    assert load_settings(root, {"LAKEPLAN_WORKERS": ""}).workers == 2  # empty means unset


def test_project_root_is_found_upwards_or_overridden(tmp_path: Path) -> None:
    root = project(tmp_path)
    nested = root / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == root.resolve()
    assert load_settings(nested, {}).project_root == root.resolve()
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert load_settings(nested, {"LAKEPLAN_PROJECT_ROOT": str(other)}).project_root == other.resolve()


def test_no_pyproject_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path, {}).workers == 1


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ("worker = 2\n", {}, "unknown key 'worker' in [tool.lakeplan]; did you mean 'workers'?"),
        ("qqqq = 2\n", {}, "unknown key 'qqqq' in [tool.lakeplan]; known keys: module, database_url"),
        ("workers = 0\n", {}, "workers must be a whole number from 1 to 256, got 0"),
        ("workers = 257\n", {}, "workers must be a whole number from 1 to 256, got 257"),
        ("workers = true\n", {}, "workers must be a whole number from 1 to 256, got True"),
        ('workers = "2"\n', {}, "workers must be a whole number from 1 to 256, not the string '2'; write workers = 4"),
        ('fsync = "yes"\n', {}, "fsync must be true or false, not the string 'yes'; write fsync = true"),
        ("fsync = 1\n", {}, "fsync must be true or false, got 1"),
        ("retry_backoff_seconds = true\n", {}, "retry_backoff_seconds must be seconds from 0 to 3600, got True"),
        ('retry_backoff_seconds = "1"\n', {}, "retry_backoff_seconds must be seconds from 0 to 3600, not the string"),
        ("retry_backoff_seconds = nan\n", {}, "retry_backoff_seconds must be seconds from 0 to 3600, got nan"),
        ("workers = 1.5\n", {}, None),
        ("retry_backoff_seconds = -1\n", {}, "retry_backoff_seconds must be seconds from 0 to 3600, got -1"),
        ('fsync = "sometimes"\n', {}, "fsync must be true or false, not the string 'sometimes'"),
        ('module = ""\n', {}, "module must be a non-empty string"),
        ("database_url = 5\n", {}, "database_url must be a non-empty string, got 5"),
        ("lakefs = 1\n", {}, "[tool.lakeplan.lakefs] must be a table"),
        ("module = [\n", {}, "not valid TOML"),
        ("", {"LAKEPLAN_WORKERS": "x"}, "environment variable LAKEPLAN_WORKERS: workers must be a whole number"),
        ("", {"LAKEPLAN_FSYNC": "maybe"}, "environment variable LAKEPLAN_FSYNC: fsync must be true or false"),
        ("", {"LAKEPLAN_WORKERS": "99999"}, "LAKEPLAN_WORKERS: workers must be a whole number from 1 to 256"),
        ("", {"LAKEPLAN_WORKERS": "1.5"}, "LAKEPLAN_WORKERS: workers must be a whole number from 1 to 256"),
    ],
)
def test_invalid_settings(tmp_path: Path, table: str, env: dict[str, str], message: str | None) -> None:
    root = project(tmp_path, table)
    if message is None:  # a fractional worker count must be refused, not truncated by int()
        with pytest.raises(ConfigError, match="workers must be a whole number"):
            load_settings(root, env)
        return
    with pytest.raises(ConfigError) as caught:
        load_settings(root, env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_tool_lakeplan_must_be_a_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool]\nlakeplan = "x"\n')
    with pytest.raises(ConfigError, match=r"\[tool.lakeplan\] must be a table"):
        load_settings(tmp_path, {})

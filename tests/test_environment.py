"""Environment capture: imported distributions, git commit and dirty flag, image, masked configuration,
recorded on every run."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Project

from assets_core.environment import (
    configuration,
    distribution_versions,
    git_state,
    imported_top_modules,
    parse_git_status,
)
from assets_core.executor import run


def test_imported_top_modules_reads_absolute_imports_only() -> None:
    source = "import os.path\nimport yaml as y\nfrom pandas.api import types\nfrom . import sibling\nfrom .x import y\n"
    assert imported_top_modules([source, "def broken(:"]) == {"os", "yaml", "pandas"}


def test_distribution_versions_map_modules_to_installed_distributions() -> None:
    found = distribution_versions({"yaml", "pandas", "json", "no_such_module_here"})
    assert found == {"PyYAML": importlib.metadata.version("PyYAML"), "pandas": importlib.metadata.version("pandas")}


def _git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t", *args]
    return subprocess.run(command, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_and_dirty_flag(tmp_path: Path) -> None:
    assert git_state(tmp_path) is None  # not a repository
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-qm", "one")
    state = git_state(tmp_path)
    assert state == {"commit": _git(tmp_path, "rev-parse", "HEAD"), "branch": "main", "dirty": False}
    (tmp_path / "untracked.txt").write_text("ignored: not tracked\n")
    assert git_state(tmp_path) == state
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_state(tmp_path) == {**state, "dirty": True}


def test_parse_git_status_of_a_repository_without_commits() -> None:
    assert parse_git_status("# branch.oid (initial)\n# branch.head main\n") == {
        "commit": None,
        "branch": "main",
        "dirty": False,
    }


def test_configuration_masks_secrets(sqlite_project: Project) -> None:
    settings = replace(
        sqlite_project.settings(),
        database_url="postgresql://u@h/db?sslmode=require&password=pw1",
        sections={
            "lakefs": {"endpoint": "http://k:pw2@x/?token=pw3", "secret_access_key": "s", "retries": 2},
            "argo": {"secret_env": {"API": "name/key"}, "pod": {"api_token": "pw4", "image": "i"}},
        },
    )
    config = configuration(settings, "pkg.pipeline")
    assert config["database"] == "postgresql://u@h/db?sslmode=require&password=***"
    assert config["lakefs"] == {"endpoint": "http://k:***@x/?token=***", "secret_access_key": "***", "retries": 2}
    assert config["argo"] == {"secret_env": "***", "pod": {"api_token": "***", "image": "i"}}
    assert config["module"] == "pkg.pipeline" and config["workers"] == 1


def test_every_run_records_its_environment(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_project.write(
        "pipeline",
        """
        import yaml
        from assets_core import asset

        @asset
        def config_text() -> dict:
            return yaml.safe_load("a: 1")
        """,
    )
    monkeypatch.setenv("LAKEPLAN_IMAGE", "registry.example/pipeline:1.2")
    ws = sqlite_project.workspace()
    summary = run(ws, ["config_text"])
    record = ws.store.run(summary.run_id)
    assert record is not None
    env = record.environment
    assert env["python"] == platform.python_version()
    assert env["image"] == "registry.example/pipeline:1.2"
    assert env["packages"]["PyYAML"] == importlib.metadata.version("PyYAML")
    assert env["packages"]["lakeplan"] == importlib.metadata.version("lakeplan")
    assert "pandas" not in env["packages"]  # not imported by the user's module
    assert env["config"]["module"] == sqlite_project.module() and env["host"]

"""lakeFS settings found where lakectl finds them, in a documented order, with secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_lakefs_store
from conftest import Project
from test_lakefs_store import LakeFS, _plan, _project

from assets_core.config import Settings
from assets_core.errors import StoreError
from io_managers.lakefs_config import LakeFSConfig
from io_managers.lakefs_store import LakeFSStore
from io_managers.version_store import lakefs_configured

lakefs_target = test_lakefs_store.lakefs_target  # the fixture
TABLE = {"repository": "analytics", "branch": "main"}


def _yaml(tmp_path: Path, endpoint: str, key: str = "AKIAYAML", secret: str = "yaml-secret") -> Path:
    path = tmp_path / ".lakectl.yaml"
    path.write_text(
        f"credentials:\n  access_key_id: {key}\n  secret_access_key: {secret}\nserver:\n  endpoint_url: {endpoint}\n"
    )
    return path


def test_layers_override_in_order_lakectl_yaml_env_table_lakeplan_env(tmp_path: Path) -> None:
    _yaml(tmp_path, "http://yaml:8000/api/v1")
    config = LakeFSConfig.load(TABLE, {}, home=tmp_path)
    assert (config.endpoint, config.access_key_id, config.secret_access_key) == (
        "http://yaml:8000",
        "AKIAYAML",
        "yaml-secret",
    )
    env = {"LAKECTL_SERVER_ENDPOINT_URL": "http://env:8000", "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "AKIAENV",
           "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": "env-secret"}  # fmt: skip
    config = LakeFSConfig.load(TABLE, env, home=tmp_path)
    assert (config.endpoint, config.access_key_id) == ("http://env:8000", "AKIAENV")
    config = LakeFSConfig.load({**TABLE, "endpoint": "http://table:8000"}, env, home=tmp_path)
    assert (config.endpoint, config.access_key_id) == ("http://table:8000", "AKIAENV")
    env |= {"LAKEPLAN_LAKEFS_ENDPOINT": "http://lakeplan:8000", "LAKEFS_ACCESS_KEY_ID": "AKIALP",
            "LAKEFS_SECRET_ACCESS_KEY": "lp-secret"}  # fmt: skip
    config = LakeFSConfig.load({**TABLE, "endpoint": "http://table:8000"}, env, home=tmp_path)
    assert (config.endpoint, config.access_key_id, config.secret_access_key) == (
        "http://lakeplan:8000",
        "AKIALP",
        "lp-secret",
    )
    other = _yaml(tmp_path / "elsewhere", "http://other:8000") if (tmp_path / "elsewhere").mkdir() is None else None
    assert LakeFSConfig.load(TABLE, {"LAKECTL_CONFIG_FILE": str(other)}, home=tmp_path).endpoint == "http://other:8000"


def test_a_session_token_replaces_the_keys(tmp_path: Path) -> None:
    _yaml(tmp_path, "http://yaml:8000")
    config = LakeFSConfig.load(TABLE, {"LAKECTL_CREDENTIALS_SESSION_TOKEN": "tok"}, home=tmp_path)
    assert config.client_arguments() == {"host": "http://yaml:8000", "access_token": "tok"}


def test_secrets_are_never_shown(tmp_path: Path) -> None:
    env = {"LAKECTL_CREDENTIALS_SESSION_TOKEN": "tok-XYZ", "LAKEFS_SECRET_ACCESS_KEY": "sec-XYZ"}
    config = LakeFSConfig.load({**TABLE, "endpoint": "http://AKIA:pass-XYZ@lakefs:8000"}, env, home=tmp_path)
    store = LakeFSStore(config, tmp_path, tmp_path / "cache")
    shown = [repr(config), repr(store), store.describe(), config.where]
    assert not [s for s in shown if "XYZ" in s], shown
    assert store.describe() == "lakefs://analytics/main at http://lakefs:8000"
    assert config.client_arguments() == {"host": "http://lakefs:8000", "access_token": "tok-XYZ"}
    with pytest.raises(StoreError) as raised:  # nothing listens there: the error names the masked endpoint
        LakeFSStore(LakeFSConfig.load({**TABLE, "endpoint": "http://AKIA:pass-XYZ@127.0.0.1:9", "retries": 0},
                                      {}, home=tmp_path), tmp_path, tmp_path / "c").observe({}, {})  # fmt: skip
    assert "XYZ" not in str(raised.value) and "http://127.0.0.1:9" in str(raised.value)


def test_plan_authenticates_from_lakectl_yaml_or_a_session_token(
    sqlite_project: Project, lakefs_target: LakeFS, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = lakefs_target.fake_only()
    project = _project(sqlite_project, lakefs_target)
    monkeypatch.delenv("LAKEFS_ACCESS_KEY_ID")
    monkeypatch.delenv("LAKEFS_SECRET_ACCESS_KEY")
    monkeypatch.setenv(
        "LAKECTL_CONFIG_FILE", str(_yaml(tmp_path, "http://unused:1", server.access_key, server.secret_key))
    )
    assert set(a["status"] for a in _plan(project).values()) == {"STALE"}  # authenticated: it read the branch
    monkeypatch.setenv("LAKECTL_CONFIG_FILE", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SESSION_TOKEN", "session-1")
    with pytest.raises(StoreError, match="rejected the credentials"):
        _plan(project)
    server.tokens.add("session-1")
    assert set(a["status"] for a in _plan(project).values()) == {"STALE"}


def test_gc_removes_old_failed_run_branches_and_cache_files(sqlite_project: Project, lakefs_target: LakeFS) -> None:
    import os
    import time

    from io_managers.lakefs_gc import DAY, gc

    project = _project(sqlite_project, lakefs_target, fail=True)
    assert project.cli("materialize", "-m", project.module()).returncode == 1  # keeps its run branch
    ws = project.workspace()
    assert isinstance(ws.objects, LakeFSStore)
    ws.objects.begin_run("still-running")
    from assets_core.records import RunRecord, RunStatus

    ws.store.ensure_run(RunRecord("still-running", time.time(), RunStatus.RUNNING, "*"))
    cached = [p for p in ws.objects.cache.rglob("*") if p.is_file()]
    assert cached  # the failed run downloaded its sources
    assert gc(ws, 7 * DAY) == gc(ws, 7 * DAY, dry_run=True)  # nothing is old yet
    assert gc(ws, 7 * DAY).branches == ()
    for path in cached:
        os.utime(path, (time.time() - 8 * DAY, time.time() - 8 * DAY))
    result = gc(ws, 7 * DAY, now=time.time() + 8 * DAY)
    assert len(result.branches) == 1 and result.branches[0].startswith("lakeplan-run-")
    assert result.kept_running == ("lakeplan-run-still-running",)
    assert result.cache_files == len(cached) and not [p for p in cached if p.exists()]
    import lakefs

    names = {b.id for b in lakefs.Repository(lakefs_target.repository, client=lakefs_target.client).branches()}
    assert names == {"main", "lakeplan-run-still-running"}


def test_lakefs_is_selected_by_any_lakeplan_lakefs_setting_not_by_lakectl_alone(tmp_path: Path) -> None:
    settings = Settings(project_root=tmp_path)
    for var in ("LAKEPLAN_LAKEFS_ENDPOINT", "LAKEPLAN_LAKEFS_REPOSITORY", "LAKEPLAN_LAKEFS_BRANCH"):
        assert lakefs_configured(settings, {var: "x"}), var
    assert not lakefs_configured(settings, {"LAKECTL_SERVER_ENDPOINT_URL": "http://lakefs:8000"})
    assert lakefs_configured(Settings(project_root=tmp_path, sections={"lakefs": {"repository": "r"}}), {})

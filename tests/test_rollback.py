"""Rollback: an earlier version becomes current again as its own recorded event; dependents plan stale."""

from __future__ import annotations

import json

from conftest import Project
from sample_pipelines import NUMBERS

from assets_core.planner import CauseKind
from assets_core.records import MaterializationKind

PIPELINE = NUMBERS


def _two_versions(project: Project) -> tuple[str, str]:
    project.write("pipeline", PIPELINE)
    versions = []
    for values in ([1, 2], [1, 2, 3]):
        project.write_file(f"{project.package}/raw.json", json.dumps({"values": values}))
        project.cli("materialize", "-m", project.module(), check=True)
        versions.append(project.workspace().store.heads()["numbers"].data_version)
    return versions[0], versions[1]


def test_rollback_records_an_event_and_makes_dependents_stale(project: Project) -> None:
    old, new = _two_versions(project)
    result = project.cli("rollback", "-m", project.module(), "numbers", "--to", old[:8], check=True)
    assert f"rolled back numbers to {old[:12]}" in result.stdout and "now stale: total" in result.stdout

    ws = project.workspace()
    history = ws.store.history("numbers")
    assert [m.kind for m in history] == [
        MaterializationKind.ROLLBACK,
        MaterializationKind.BUILT,
        MaterializationKind.BUILT,
    ]
    head = ws.store.heads()["numbers"]
    assert head.id == history[0].id and head.data_version == old
    assert history[0].metadata["rolled_back_to"] == history[2].id
    assert history[0].location == history[2].location

    plan = {s.key: s for s in ws.plan().statuses}
    # the old version was built from the old raw file, so numbers itself now differs from today's source
    assert [(c.kind, c.input) for c in plan["numbers"].causes] == [(CauseKind.DATA, "raw")]
    assert "note: numbers itself plans stale (DATA: source 'raw' changed" in result.stderr
    data = [c for c in plan["total"].causes if c.kind is CauseKind.DATA]
    assert [(c.input, c.old, c.new) for c in data] == [("numbers", new, old)]

    runs = json.loads(project.cli("runs", "-m", project.module(), "--json", check=True).stdout)["runs"]
    assert runs[0]["selection"] == "rollback numbers" and runs[0]["counts"] == {"rollback": 1}


def test_rollback_to_the_current_or_an_unknown_version_is_refused(sqlite_project: Project) -> None:
    _, new = _two_versions(sqlite_project)
    current = sqlite_project.cli("rollback", "-m", sqlite_project.module(), "numbers", "--to", new[:8])
    assert current.returncode == 2 and "already at version" in current.stderr
    unknown = sqlite_project.cli("rollback", "-m", sqlite_project.module(), "numbers", "--to", "zzzz")
    assert unknown.returncode == 2 and "no recorded version 'zzzz'" in unknown.stderr
    assert len(sqlite_project.workspace().store.history("numbers")) == 2  # nothing recorded


def test_rollback_to_a_version_whose_data_is_gone_fails_clearly(sqlite_project: Project) -> None:
    old, _ = _two_versions(sqlite_project)
    ws = sqlite_project.workspace()
    location = next(m.location for m in ws.store.history("numbers") if m.data_version == old)
    assert location is not None
    (ws.settings.resolved_storage_root / location).unlink()
    result = sqlite_project.cli("rollback", "-m", sqlite_project.module(), "numbers", "--to", old[:8])
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: the data of 'numbers' version {old[:12]} is gone")
    assert ws.store.heads()["numbers"].data_version != old


def test_history_shows_rollbacks_and_user_metadata(sqlite_project: Project) -> None:
    old, _ = _two_versions(sqlite_project)
    sqlite_project.cli("rollback", "-m", sqlite_project.module(), "total", "--to", "1", check=False)
    sqlite_project.cli("rollback", "-m", sqlite_project.module(), "numbers", "--to", old[:8], check=True)
    lines = sqlite_project.cli("history", "-m", sqlite_project.module(), "numbers", check=True).stdout.splitlines()
    assert lines[0].split() == ["ID", "WHEN", "KIND", "RUN", "CODE", "DATA", "METADATA"]
    assert lines[1].startswith("*") and "rollback" in lines[1] and "rolled_back_to=" in lines[1]

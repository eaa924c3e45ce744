"""A run's outcome is what happened (issue 9, found 3, 5 and 6): ``sys.exit``, ``os._exit``, Ctrl-C and a
dying worker fail their asset with a clear reason, the summary prints, the exit code is non-zero and the
run's counts match what was built; a None from an asset annotated otherwise is a failure; a failure keeps
the traceback of the user's code and names its innermost frame."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_ADMIN_URL, Project
from sample_pipelines import ORPHANS

from assets_core.executor import run
from assets_core.metadata_store import MetadataStore
from assets_core.records import MaterializationKind
from assets_core.schema import SCHEMA_REVISION

# a -> b -> d ; a -> c (an independent branch). b does what MODE says; every call is logged to CALLS.
PIPELINE = """
import os
import sys
import time
from pathlib import Path

from assets_core import asset

from .helpers import pick

CALLS = Path(__file__).with_name("calls.log")
MODE = os.environ.get("MODE", "")


def log(name):
    with CALLS.open("a") as f:
        f.write(name + "\\n")


@asset
def a() -> int:
    log("a")
    return 1


@asset
def b(a: int) -> int:
    log("b")
    if MODE == "sys.exit":
        sys.exit(0)
    if MODE == "os._exit":
        os._exit(7)
    if MODE == "sleep":
        print("b is sleeping")
        Path(__file__).with_name("b.started").write_text("")
        time.sleep(60)
    if MODE == "helper":
        return pick({{}})
    return a + 1


@asset
def c(a: int) -> int:
    log("c")
    {c_body}
    return a + 2


@asset
def d(b: int) -> int:
    log("d")
    return b
"""

HELPERS = """
def pick(row):
    key = "id"
    return row[key]
"""


def _write(project: Project, c_body: str = "pass") -> None:
    project.write("helpers", HELPERS)
    project.write("pipeline", PIPELINE.format(c_body=c_body))


def _calls(project: Project) -> list[str]:
    log = project.root / project.package / "calls.log"
    return log.read_text().split() if log.exists() else []


def _runs(project: Project) -> list[dict[str, object]]:
    out = project.cli("runs", "-m", project.module(), "--json", check=True).stdout
    return json.loads(out)["runs"]  # type: ignore[no-any-return]


def _history(project: Project, key: str) -> list[dict[str, object]]:
    out = project.cli("history", "-m", project.module(), key, "--json", check=True).stdout
    return json.loads(out)["materializations"]  # type: ignore[no-any-return]


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: n for k, n in counts.items() if n}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sys_exit_fails_its_asset_and_the_run_goes_on(sqlite_project: Project, workers: str) -> None:
    """Before: exit 0, no summary, c and d never ran, the run 'failed' with all counts 0."""
    _write(sqlite_project)
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "-w", workers, env={"MODE": "sys.exit"})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "2 built, 1 failed, 1 skipped after a failure" in summary, result.stdout
    assert (
        "failed b: SystemExit: the asset called sys.exit(0); return its value, or raise an exception to fail it "
        f"({sqlite_project.package}/pipeline.py:"
    ) in result.stderr
    assert sorted(_calls(sqlite_project)) == ["a", "b", "c"]
    (recorded,) = _runs(sqlite_project)
    assert recorded["status"] == "failed"
    assert _nonzero(recorded["counts"]) == {"built": 2, "failed": 1, "skipped": 1}  # type: ignore[arg-type]
    assert [m["kind"] for m in _history(sqlite_project, "b")] == ["failed"]


def test_sys_exit_in_the_argo_pod_step_is_a_failed_step(sqlite_project: Project) -> None:
    """The pod's ``lakeplan step`` uses the same step: before, it exited 0, so Argo counted the asset done."""
    _write(sqlite_project)
    module = sqlite_project.module()
    sqlite_project.cli("step", "-m", module, "--asset", "a", "--run-id", "wf-1", check=True)
    result = sqlite_project.cli("step", "-m", module, "--asset", "b", "--run-id", "wf-1", env={"MODE": "sys.exit"})
    assert result.returncode == 1, (result.stdout, result.stderr)
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["outcome"] == "failed" and line["message"].startswith("SystemExit: the asset called sys.exit(0)")
    assert "sys.exit(0)" in line["traceback"]


def test_a_dying_worker_fails_only_its_asset(sqlite_project: Project) -> None:
    """Before: a raw BrokenProcessPool traceback, exit 1, the run 'failed' with all counts 0."""
    _write(sqlite_project)
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "-w", "2", env={"MODE": "os._exit"})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "BrokenProcessPool" not in result.stderr
    assert "failed b: worker process died (exit code 7) while materializing it" in result.stderr
    assert "2 built, 1 failed, 1 skipped after a failure" in result.stdout
    assert sorted(_calls(sqlite_project)) == ["a", "b", "c"]  # the independent branch still ran
    (recorded,) = _runs(sqlite_project)
    assert _nonzero(recorded["counts"]) == {"built": 2, "failed": 1, "skipped": 1}  # type: ignore[arg-type]
    (attempt,) = _history(sqlite_project, "b")
    assert attempt["kind"] == "failed" and "exit code 7" in str(attempt["error"])
    again = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "-w", "2", check=True)
    assert "2 built" in again.stdout  # no claim of the dead worker blocks the next run


def test_os_exit_in_process_leaves_an_abandoned_run_with_what_it_recorded(sqlite_project: Project) -> None:
    """The process is gone at once, so nothing can print; the next command shows the run abandoned
    (before: 'running' forever with no counts) and counts what it recorded."""
    _write(sqlite_project)
    result = sqlite_project.cli("materialize", "-m", sqlite_project.module(), env={"MODE": "os._exit"})
    assert result.returncode == 7
    (recorded,) = _runs(sqlite_project)
    assert recorded["status"] == "abandoned"
    assert _nonzero(recorded["counts"]) == {"built": 1}  # type: ignore[arg-type]
    table = sqlite_project.cli("runs", "-m", sqlite_project.module(), check=True).stdout
    assert "abandoned" in table and "built 1" in table
    shown = sqlite_project.cli("runs", "-m", sqlite_project.module(), "latest", check=True).stdout
    assert "its process died while building: b (no outcome recorded)" in shown


def _interrupt(project: Project, *options: str) -> subprocess.CompletedProcess[str]:
    """Run materialize in its own process group and press Ctrl-C (SIGINT to the group) while b runs."""
    marker = project.root / project.package / "b.started"
    command = [sys.executable, "-m", "assets_core", "materialize", "-m", project.module(), *options]
    proc = subprocess.Popen(
        command,
        cwd=project.root,
        env={**project.env(), "MODE": "sleep"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "b never started"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_fails_the_running_asset_and_stops_the_run(sqlite_project: Project, workers: str) -> None:
    """Before: 'interrupted', exit 130, no summary, the run 'failed' with all counts 0."""
    _write(sqlite_project)
    result = _interrupt(sqlite_project, "-w", workers)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert f"failed b: interrupted by Ctrl-C ({sqlite_project.package}/pipeline.py:" in result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("run ") and " interrupted: " in summary, result.stdout
    assert "d" not in _calls(sqlite_project)  # nothing after the interrupted asset started
    # with workers, c may have been running too: every running asset is interrupted, each recorded
    lines = result.stderr.splitlines()
    interrupted = {line.split()[1].rstrip(":") for line in lines if line.startswith("  failed ") and "Ctrl-C" in line}
    assert "b" in interrupted and interrupted <= {"b", "c"}, result.stderr
    built = {k for k in ("a", "c") if any(m["kind"] == "built" for m in _history(sqlite_project, k))}
    assert "a" in built and not built & interrupted
    (recorded,) = _runs(sqlite_project)
    assert recorded["status"] == "interrupted"
    assert _nonzero(recorded["counts"]) == {"built": len(built), "failed": len(interrupted)}  # type: ignore[arg-type]
    assert f"{len(built)} built, {len(interrupted)} failed" in summary
    (attempt,) = _history(sqlite_project, "b")
    assert attempt["kind"] == "failed" and str(attempt["error"]).startswith("interrupted by Ctrl-C")
    assert "time.sleep(60)" in str(attempt["traceback"])
    shown = sqlite_project.cli("logs", "-m", sqlite_project.module(), "b", check=True)
    assert shown.stdout == "b is sleeping\n", "the interrupted attempt keeps what it printed"


def test_a_failure_keeps_the_user_traceback_and_names_the_innermost_user_frame(project: Project) -> None:
    """Before: 'KeyError: 'id' (pipeline.py:N)' at the asset's line, and no traceback anywhere."""
    _write(project)
    helpers = f"{project.package}/helpers.py"
    result = project.cli("materialize", "-m", project.module(), "--json", env={"MODE": "helper"})
    assert result.returncode == 1
    failed = next(r for r in json.loads(result.stdout)["results"] if r["key"] == "b")
    assert failed["message"] == f"KeyError: 'id' ({helpers}:4)"
    trace = failed["traceback"]
    assert trace.startswith("Traceback (most recent call last):") and trace.rstrip().endswith("KeyError: 'id'")
    assert "return pick({})" in trace and "return row[key]" in trace
    assert "assets_core" not in trace  # lakeplan's own frames are trimmed

    (attempt,) = _history(project, "b")
    assert attempt["error"] == failed["message"] and attempt["traceback"] == trace
    table = project.cli("history", "-m", project.module(), "b", check=True).stdout
    assert "return row[key]" in table
    shown = project.cli("runs", "-m", project.module(), "latest", check=True).stdout
    assert f"b (#{attempt['id']}) failed: KeyError: 'id' ({helpers}:4)" in shown and "return row[key]" in shown
    detail = json.loads(project.cli("runs", "-m", project.module(), "latest", "--json", check=True).stdout)
    assert detail["schema"] == "lakeplan.run_detail/v1"
    assert [m["traceback"] for m in detail["run"]["materializations"] if m["kind"] == "failed"] == [trace]

    debug = project.cli("materialize", "-m", project.module(), "--debug", env={"MODE": "helper"})
    assert debug.returncode == 1 and "    Traceback (most recent call last):" in debug.stderr
    assert "return row[key]" in debug.stderr
    plain = project.cli("materialize", "-m", project.module(), env={"MODE": "helper"})
    assert "return row[key]" not in plain.stderr and "lakeplan runs " in plain.stderr


def test_a_store_at_revision_0002_is_upgraded_and_keeps_its_records(database_url: str) -> None:
    """Later migrations (0003 adds the traceback column) upgrade an existing store, on SQLite and PostgreSQL."""
    from alembic import command
    from alembic.config import Config

    import assets_core.metadata_store as store_module

    engine = store_module._engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
        conn.execute(
            sa.text(
                "INSERT INTO lp_materializations (asset_key, run_id, kind, code_version, recipe, input_versions, "
                "started_at, finished_at, metadata, error, code_components) "
                "VALUES ('a', 'r1', 'failed', 'c', 'x', '{}', 1, 2, '{}', 'ValueError: old', '{}')"
            )
        )
    engine.dispose()
    store = MetadataStore.open(database_url)
    try:
        (old,) = store.history("a")
        assert (old.error, old.traceback) == ("ValueError: old", None)
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_REVISION
    finally:
        store.close()


NONE_RETURNS = """
from typing import Any, Optional
import pandas as pd
from assets_core import asset

@asset
def frame() -> pd.DataFrame:
    return None

@asset
def count() -> int:
    return None

@asset
def maybe() -> Optional[int]:
    return None

@asset
def union() -> int | None:
    return None

@asset
def anything() -> Any:
    return None

@asset
def unannotated():
    return None

@asset
def nothing() -> None:
    return None

@asset
def after(frame: pd.DataFrame) -> int:
    return len(frame)
"""


def test_none_from_an_asset_annotated_otherwise_fails_in_one_line(sqlite_project: Project) -> None:
    """Before: ``frame`` was recorded as built (a stored JSON null) and only ``after`` failed."""
    sqlite_project.write("pipeline", NONE_RETURNS)
    ws = sqlite_project.workspace()
    summary = run(ws, list(ws.graph.order))
    outcomes = {r.key: r.outcome.value for r in summary.results}
    assert outcomes == {
        "frame": "failed",
        "count": "failed",
        "maybe": "built",
        "union": "built",
        "anything": "built",
        "unannotated": "built",
        "nothing": "built",
        "after": "skipped",
    }
    messages = {r.key: r.message for r in summary.results if r.outcome.value == "failed"}
    assert messages["frame"] == (
        "asset 'frame' returned None but is annotated -> DataFrame; "
        "return a value, or annotate it Optional[...] if None is a valid result"
    )
    assert "-> int;" in messages["count"]
    assert "frame" not in ws.store.heads()  # nothing recorded as built
    assert [m.kind for m in ws.store.history("frame")] == [MaterializationKind.FAILED]


METADATA = """
from assets_core import asset

@asset(metadata={"owner": "data-team", "sla_hours": 6})
def orders() -> list:
    return [1]

@asset
def total(orders: list) -> int:
    return sum(orders)
"""


def test_declared_metadata_is_shown_by_assets_and_history(sqlite_project: Project) -> None:
    """Before: ``@asset(metadata=...)`` was accepted and shown nowhere."""
    sqlite_project.write("pipeline", METADATA)
    module = sqlite_project.module()
    listing = sqlite_project.cli("assets", "-m", module, check=True).stdout.splitlines()
    assert listing[0].split()[:6] == ["ASSET", "KIND", "GROUP", "UPSTREAM", "CODE", "METADATA"]
    assert listing[1].split()[0] == "orders" and "owner=data-team sla_hours=6" in listing[1]
    data = json.loads(sqlite_project.cli("assets", "-m", module, "--json", check=True).stdout)["assets"]
    assert {a["key"]: a["metadata"] for a in data} == {"orders": {"owner": "data-team", "sla_hours": 6}, "total": {}}
    sqlite_project.cli("materialize", "-m", module, check=True)
    history = sqlite_project.cli("history", "-m", module, "orders", check=True).stdout
    assert history.splitlines()[0] == "orders: declared metadata owner=data-team sla_hours=6"
    data = json.loads(sqlite_project.cli("history", "-m", module, "orders", "--json", check=True).stdout)
    assert data["declared_metadata"] == {"owner": "data-team", "sla_hours": 6}


@pytest.mark.slow
def test_workers_die_with_their_parent(project: Project, tmp_path: Path) -> None:
    """Before: after kill -9 of 'materialize --workers 2', both workers ran on (>= 60 s), each holding a store
    connection (idle PostgreSQL sessions). Now each notices within a second or two and exits, its sessions
    close; the next run takes their claims over."""
    application = f"lp_orphans_{os.getpid()}_{time.monotonic_ns()}"
    if project.database_url.startswith("postgresql"):  # tag the run's sessions to count them in pg_stat_activity
        url = sa.make_url(project.database_url).update_query_dict({"application_name": application})
        project.database_url = url.render_as_string(hide_password=False)
    project.write("pipeline", ORPHANS)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**project.env(), "PIDS": str(pids)}
    parent = subprocess.Popen(
        [sys.executable, "-m", "assets_core", "materialize", "-m", project.module(), "-w", "2"],
        cwd=project.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(list(pids.glob("*.pid"))) < 2:
        assert parent.poll() is None and time.monotonic() < deadline, "the workers did not start"
        time.sleep(0.05)
    workers = [int(p.read_text()) for p in pids.glob("*.pid")]
    sessions_before = _sessions(application) if project.database_url.startswith("postgresql") else None
    parent.kill()
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    alive = set(workers)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if _running(pid)}
        time.sleep(0.1)
    for pid in alive:  # leave no orphan behind when the check fails
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {sorted(alive)} outlived their parent by 10 s"
    if sessions_before is not None:
        assert sessions_before >= 2, "the run's sessions were not found: the check below could not fail"
        deadline = time.monotonic() + 5
        while _sessions(application) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _sessions(application) == 0, "PostgreSQL sessions outlived the killed run by 5 s"


def _sessions(application: str) -> int:
    """PostgreSQL sessions open under ``application`` (pg_stat_activity.application_name)."""
    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a")
            return int(conn.execute(query, {"a": application}).scalar_one())
    finally:
        engine.dispose()


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting for its new parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"

"""Time limits (issue 12, "Timeouts"): ``@asset(timeout=...)`` and ``[tool.lakeplan] timeout`` are checked where
they are declared; an attempt past its limit is stopped and fails "timed out after ...", its claim is released,
its downstream is skipped and independent assets still run, in-process and in worker processes; a hung step's
claim is not renewed past its deadline, so another run takes the asset over."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import Project
from sample_pipelines import HUNG

from assets_core import asset
from assets_core.claims import Claim, Held
from assets_core.config import load_settings
from assets_core.errors import ConfigError, DefinitionError
from assets_core.executor import RunSummary, planned_work, run
from assets_core.records import MaterializationKind
from assets_core.step import Outcome
from assets_core.timeouts import StepTimedOut, TimeLimit, format_duration, parse_timeout
from assets_core.workspace import Workspace


def _write(project: Project, timeout: object = 1, retries: int = 0) -> Workspace:
    project.write("pipeline", HUNG.format(timeout=timeout, retries=retries))
    return project.workspace()


def _materialize(ws: Workspace, workers: int) -> tuple[RunSummary, float]:
    keys, waiting = planned_work(ws.plan())
    started = time.monotonic()
    summary = run(ws, keys, workers=workers, waiting=waiting)
    return summary, time.monotonic() - started


def _outcomes(summary: RunSummary) -> dict[str, tuple[Outcome, str]]:
    return {r.key: (r.outcome, r.message) for r in summary.results}


# -- declaring -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, seconds",
    [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1h0m5s", 3605), (45, 45), ("45", 45), (" 2H ", 7200)],
)
def test_accepted_forms(given: object, seconds: int) -> None:
    assert parse_timeout(given) == seconds


@pytest.mark.parametrize("given", ["", "5 minutes", "1.5h", "30x", "m", 0, -1, 1.5, True, None, "0s", "721h"])
def test_invalid_values_are_refused(given: object) -> None:
    with pytest.raises(ValueError):
        parse_timeout(given)


@pytest.mark.parametrize("seconds, text", [(1, "1s"), (90, "1m30s"), (1800, "30m"), (5400, "1h30m"), (7200, "2h")])
def test_durations_read_as_written(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_timeout(text) == seconds


@pytest.mark.parametrize("given", ["5 minutes", 0, 2.5, "-1m"])
def test_an_invalid_timeout_fails_at_declaration_in_one_line_naming_the_asset(given: object) -> None:
    def train() -> int:
        return 1

    with pytest.raises(DefinitionError) as caught:
        asset(timeout=given)(train)  # type: ignore[call-overload]
    message = str(caught.value)
    assert "\n" not in message and "train" in message
    assert "timeout must be a duration like '90s', '30m', '2h' or '1h30m', or a whole number of seconds" in message
    assert repr(given) in message


def test_an_invalid_timeout_in_a_module_is_one_line_and_exit_2(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", HUNG.format(timeout="an hour", retries=0))
    done = sqlite_project.cli("plan", "-m", sqlite_project.module())
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "@asset hung: timeout must be a duration like '90s'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_project_default_from_pyproject_and_environment(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.lakeplan]\ntimeout = "1h"\n')
    assert load_settings(tmp_path, {}).timeout == 3600
    assert load_settings(tmp_path, {"LAKEPLAN_TIMEOUT": "90s"}).timeout == 90  # the environment wins
    assert load_settings(tmp_path, {"LAKEPLAN_TIMEOUT": "120"}).timeout == 120
    (tmp_path / "pyproject.toml").write_text("[tool.lakeplan]\n")
    assert load_settings(tmp_path, {}).timeout is None  # no limit unless set
    for bad in ("timeout = 1.5", 'timeout = "soon"', "timeout = true"):
        (tmp_path / "pyproject.toml").write_text(f"[tool.lakeplan]\n{bad}\n")
        with pytest.raises(ConfigError, match=r"timeout must be a duration like '90s'"):
            load_settings(tmp_path, {})
    (tmp_path / "pyproject.toml").write_text("[tool.lakeplan]\n")
    with pytest.raises(ConfigError, match=r"environment variable LAKEPLAN_TIMEOUT: timeout must be"):
        load_settings(tmp_path, {"LAKEPLAN_TIMEOUT": "0"})


def test_plan_shows_each_assets_limit(sqlite_project: Project) -> None:
    _write(sqlite_project, timeout="1h30m")
    with (sqlite_project.root / "pyproject.toml").open("a") as f:
        f.write('timeout = "10m"\n')
    data = json.loads(sqlite_project.cli("plan", "-m", sqlite_project.module(), "--json", check=True).stdout)
    limits = {a["key"]: a["timeout_seconds"] for a in data["assets"]}
    assert limits == {"hung": 5400, "later": 600, "after_hung": 600}
    text = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "hung", check=True).stdout
    assert "hung: each attempt may run 1h30m (@asset(timeout=...))" in text
    text = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "later", check=True).stdout
    assert "later: each attempt may run 10m (the project's default timeout)" in text


# -- running ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_a_hung_asset_times_out_its_downstream_is_skipped_and_independent_assets_run(
    project: Project, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HANG", raising=False)
    ws = _write(project)
    summary, seconds = _materialize(ws, workers)
    outcomes = _outcomes(summary)
    outcome, message = outcomes["hung"]
    assert outcome is Outcome.FAILED and message.startswith("timed out after 1s (")  # where it was: the sleep
    assert "pipeline.py" in message and "\n" not in message
    assert outcomes["after_hung"] == (Outcome.SKIPPED, "upstream 'hung' failed")
    assert outcomes["later"][0] is Outcome.BUILT  # queued behind the hung asset, still built
    assert summary.failed and seconds < 15
    [failure] = [m for m in ws.store.history("hung") if m.kind is MaterializationKind.FAILED]
    assert failure.error == message and failure.traceback and "time.sleep(600)" in failure.traceback
    assert ws.store.held_claims() == []  # released

    monkeypatch.setenv("HANG", "no")
    again, _ = _materialize(project.workspace(), workers)  # the next run builds it and what it held back
    assert {k: o for k, (o, _) in _outcomes(again).items()} == {"hung": Outcome.BUILT, "after_hung": Outcome.BUILT}


def test_the_limit_is_raised_again_when_the_users_code_swallows_it(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANG", "swallow")
    summary, seconds = _materialize(_write(sqlite_project), 1)
    assert _outcomes(summary)["hung"][1].startswith("timed out after 1s")
    assert seconds < 10


def test_each_retry_gets_the_whole_limit(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANG", "once")  # the first attempt hangs, the retry returns at once
    monkeypatch.setenv("LAKEPLAN_RETRY_BACKOFF_SECONDS", "0")
    ws = _write(sqlite_project, timeout="1s", retries=1)
    summary, _ = _materialize(ws, 1)
    [result] = [r for r in summary.results if r.key == "hung"]
    assert (result.outcome, result.attempts) == (Outcome.BUILT, 2)
    assert _outcomes(summary)["after_hung"][0] is Outcome.BUILT


def test_outside_the_main_thread_the_limit_is_raised_in_the_steps_thread(
    sqlite_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANG", "spin")  # Python code: interruptible from another thread (a sleep would not be)
    ws = _write(sqlite_project)
    done: list[RunSummary] = []
    thread = threading.Thread(target=lambda: done.append(_materialize(ws, 1)[0]))
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert _outcomes(done[0])["hung"][1].startswith("timed out after 1s (")
    assert _outcomes(done[0])["later"][0] is Outcome.BUILT


def test_resume_runs_on_under_the_attempts_deadline_and_raises_at_once_past_it() -> None:
    """What checks run under (check_step.py): the time left in the attempt, not a new one."""
    heard: list[float | None] = []
    with TimeLimit(1, heard.append) as clock:
        deadline = clock.start()
        clock.stop()
        started = time.monotonic()
        with pytest.raises(StepTimedOut, match=r"^timed out after 1s$"), clock.running():
            time.sleep(30)
        assert time.monotonic() - started < 1.5  # within the attempt's 1 s, not a fresh one after it
        assert heard[-1] is None and heard.count(deadline) == 2  # resumed on the same deadline; stopped after
        with pytest.raises(StepTimedOut):
            clock.resume()  # past the deadline: at once, nothing armed
        time.sleep(1.2)  # no alarm lands later either
    with TimeLimit(None, heard.append) as unlimited, unlimited.running():
        pass  # no limit: nothing to arm


def test_a_claims_lease_never_passes_the_deadline() -> None:
    held = Held(Claim("a", "run", "host:1", 0.0, 30.0), None)
    assert held.lease_until(100.0, 30.0) == 130.0  # no limit: a whole lease
    held.deadline = 105.0
    assert held.lease_until(100.0, 30.0) == 105.0
    assert held.lease_until(110.0, 30.0) == 105.0  # past it: not renewed (the renewer skips it)


def test_materialize_exits_1_and_says_timed_out(sqlite_project: Project) -> None:
    _write(sqlite_project)
    started = time.monotonic()
    done = sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--json")
    assert done.returncode == 1 and time.monotonic() - started < 30
    results = {r["key"]: r for r in json.loads(done.stdout)["results"]}
    assert results["hung"]["outcome"] == "failed" and results["hung"]["message"].startswith("timed out after 1s")
    assert results["later"]["outcome"] == "built"


@pytest.mark.slow
def test_a_worker_stuck_outside_python_is_killed_and_its_claim_released(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HANG", "c")  # inherited by the spawned workers
    ws = _write(project)
    summary, seconds = _materialize(ws, 2)
    outcome, message = _outcomes(summary)["hung"]
    assert outcome is Outcome.FAILED
    assert message == "timed out after 1s; its worker did not stop (stuck outside Python) and was killed"
    assert _outcomes(summary)["later"][0] is Outcome.BUILT
    assert seconds < 20  # 1 s limit + 5 s grace + spawning
    assert ws.store.held_claims() == []

    monkeypatch.setenv("HANG", "no")
    again, _ = _materialize(_write(project), 2)  # the next run builds it: nothing holds it
    assert _outcomes(again)["hung"][0] is Outcome.BUILT


@pytest.mark.slow
def test_a_step_stuck_outside_python_stops_holding_its_claim_at_the_deadline(project: Project) -> None:
    """In-process, C code that never returns cannot be interrupted; its claim lapses at the deadline, so a
    second run needing the asset takes it over while the first is still stuck."""
    _write(project, timeout=2)
    stuck = subprocess.Popen(
        [sys.executable, "-m", "assets_core", "materialize", "-m", project.module(), "--select", "hung"],
        cwd=project.root,
        env={**project.env(), "HANG": "c"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ws = project.workspace()
        deadline = time.monotonic() + 30
        while not ws.store.held_claims():  # the stuck run has begun building
            assert stuck.poll() is None and time.monotonic() < deadline, stuck.communicate()
            time.sleep(0.05)
        started = time.monotonic()
        second = project.cli("materialize", "-m", project.module(), "--select", "hung", env={"HANG": "no"})
        waited = time.monotonic() - started
        assert second.returncode == 0, second.stderr
        assert stuck.poll() is None  # still stuck, yet no longer in the way
        assert waited < 15  # the deadline (2 s) and a lease check, not a 30 s lease renewed forever
        assert [m.kind for m in ws.store.history("hung")] == [MaterializationKind.BUILT]
    finally:
        stuck.kill()
        stuck.wait()

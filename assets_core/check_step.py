"""Running an asset's checks on one stored output, inside the asset's step (see step.py), or again on the
current version (``lakeplan check``).

Each check reads the output as a dependent would (through its parameter's annotation) and returns a
CheckResult; one that raises, returns something else, or runs past the attempt's time limit (timeouts.py:
checks count toward it) has failed with that error. What checks print is captured into the step's log.
A result recorded on the same data version by the same check code is reused (unless ``rerun``), like a
memoized output; a check that raised or timed out always runs again.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .check_status import blocks, verdict_text
from .checks import AssetCheck, CheckResult
from .definitions import AssetDef
from .errors import StoreError
from .records import CheckRecord, Head, Materialization
from .step import Outcome, StepResult, failure_in, timeout_of
from .step_log import Captured, captured
from .timeouts import StepTimedOut, TimeLimit
from .values import read_output
from .workspace import Workspace

Load = Callable[[Any], Any]  # the output read for a check parameter's annotation


@dataclass(frozen=True, slots=True)
class Checked:
    """The results of one asset's checks on one output, one per check: run now, or reused (a reused result is
    recorded again, against the materialization it now vouches for)."""

    results: tuple[CheckRecord, ...]
    ran: int  # how many checks ran now (the others' recorded results were reused)
    log: str | None = None  # what the checks printed (step_log.py)

    @property
    def blocking(self) -> tuple[CheckRecord, ...]:
        """The results that keep the output from becoming current."""
        return tuple(r for r in self.results if blocks(r))

    @property
    def message(self) -> str:
        """One line naming each failed check: ``blocking check 'positive' failed (negative_rows=3)``."""
        failed = [r for r in self.results if not r.passed]
        lines = [f"{'blocking check' if blocks(r) else 'check'} {r.check_name!r} {verdict_text(r)}" for r in failed]
        return "; ".join(lines)


def run_checks(
    ws: Workspace, key: str, run_id: str, data_version: str, load: Load, clock: TimeLimit, rerun: bool = False
) -> Checked:
    """Run (or reuse) the checks of planned ``key`` (an asset, or one partition of it) on its output
    ``data_version``, each under ``clock``; the results are recorded under ``key``."""
    checks = ws.checks_of(key)
    versions = ws.check_versions(key)
    recorded = {} if rerun else _reusable(ws.store.check_results({key: data_version}).get(key, ()))
    values: dict[str | None, Any] = {}
    results: list[CheckRecord] = []
    ran = 0
    for check in checks:
        earlier = recorded.get((check.name, versions[check.name]))
        if earlier is not None:
            results.append(replace(earlier, run_id=run_id, blocking=check.blocking, id=None, materialization_id=None))
            continue
        ran += 1
        results.append(_run(ws, key, check, versions[check.name], run_id, load, values, clock))
    return Checked(tuple(results), ran)


def _reusable(recorded: Sequence[CheckRecord]) -> dict[tuple[str, str], CheckRecord]:
    """The newest result of each (check, code version) that the check itself returned (not raised)."""
    return {(r.check_name, r.code_version): r for r in recorded if r.error is None}


def _run(
    ws: Workspace,
    key: str,
    check: AssetCheck,
    version: str,
    run_id: str,
    load: Load,
    values: dict[str | None, Any],
    clock: TimeLimit,
) -> CheckRecord:
    from io_managers.formats import annotation_kind

    started = time.time()
    verdict: CheckResult | None = None
    error: str | None = None
    try:
        with clock.running():  # past the attempt's deadline already: times out before it starts
            kind = annotation_kind(check.annotation)
            if kind not in values:  # read once per table library the checks ask for
                values[kind] = load(check.annotation)
            returned = check.fn(**{check.param: values[kind]})
        if isinstance(returned, CheckResult):
            verdict = returned
        else:
            error = f"returned {type(returned).__name__}, not a CheckResult; return CheckResult(passed=...)"
    except StoreError:  # the output cannot be read: the store's failure, not the check's
        raise
    except (Exception, SystemExit, StepTimedOut) as exc:  # a check that raises, exits or hangs has failed
        timed_out = isinstance(exc, StepTimedOut)
        if timed_out:
            clock.stop()  # one that landed while the block was stopping the clock left it armed
        error = failure_in(ws, check.fn, exc, clock.message if timed_out else None).message
    return CheckRecord(
        asset_key=key,
        check_name=check.name,
        run_id=run_id,
        code_version=version,
        passed=verdict.passed if verdict else False,
        severity=verdict.severity if verdict else "error",
        blocking=check.blocking,
        metadata=dict(verdict.metadata) if verdict else {},
        error=error,
        started_at=started,
        finished_at=time.time(),
    )


def check_output(
    ws: Workspace,
    asset: AssetDef,
    run_id: str,
    data_version: str | None,
    location: str | None,
    clock: TimeLimit,
    rerun: bool,
) -> Checked | None:
    """The asset's checks on an output (run, or reused while the output and check code are unchanged), with
    what they printed; None when it declares none."""
    if data_version is None or location is None or not ws.checks_of(asset.key):
        return None
    load = functools.partial(read_output, ws, asset, location, data_version)
    output = Captured()
    with captured(output):
        checked = run_checks(ws, asset.key, run_id, data_version, load, clock, rerun)
    return replace(checked, log=output.text or None)


def blocked(ws: Workspace, mat: Materialization, checked: Checked, started: float) -> StepResult:
    """A blocking check failed: record the attempt as failed with its results; the head does not move, so
    dependents never read the output (kept, and named, for a look; with lakeFS on the unmerged run branch)."""
    location = mat.location or ""
    kept = location if "://" in location else f"{ws.objects.describe()}/{location}"  # local: under the root
    message = f"{checked.message}; the output was not made current (kept at {kept})"
    ws.store.record_failure(replace(mat, error=message), checked.results)
    return StepResult(mat.asset_key, Outcome.FAILED, time.time() - started, mat.data_version, message, log=mat.log)


def check_current(
    ws: Workspace, asset: AssetDef, head: Head, run_id: str, started: float, clock: TimeLimit, rerun: bool = False
) -> StepResult:
    """Run the asset's checks on its current version (not rebuilt; one attempt on ``clock``) and record them
    with the output's materialization; a failed blocking one fails the step, so its dependents wait. What the
    checks printed is the result's ``log`` (shown, not recorded: no attempt is)."""
    recorded = ws.store.materialization_with(asset.key, head.data_version)
    if recorded is None:
        return StepResult(
            asset.key,
            Outcome.FAILED,
            time.time() - started,
            head.data_version,
            f"cannot check {asset.key!r}: its current data ({head.location}) was not written by lakeplan; "
            f"materialize it with --force --select {asset.key}",
        )
    checked = check_output(ws, asset, run_id, head.data_version, head.location, clock, rerun)
    if checked is None:
        return StepResult(asset.key, Outcome.FRESH, time.time() - started, head.data_version, "it declares no checks")
    ws.store.record_checks(recorded, checked.results)
    seconds = time.time() - started
    if checked.blocking:
        hint = "fix the data or the check and run again (--force rebuilds it)"
        message = f"{checked.message}; {hint}"
        return StepResult(
            asset.key, Outcome.FAILED, seconds, head.data_version, message, log=checked.log, log_recorded=False
        )
    reused = len(checked.results) - checked.ran
    note = f"ran {checked.ran} of {len(checked.results)} checks" + (f" ({reused} unchanged)" if reused else "")
    message = "; ".join(filter(None, [note, checked.message]))
    return StepResult(
        asset.key, Outcome.CHECKED, seconds, head.data_version, message, log=checked.log, log_recorded=False
    )


def check(ws: Workspace, key: str, run_id: str, head: Head | None) -> StepResult:
    """Run every check of planned ``key`` (an asset or one partition) again on its current version ``head``
    (``lakeplan check``), whatever is recorded."""
    started = time.time()
    if head is None:
        return StepResult(key, Outcome.FAILED, message=f"{key!r} was never materialized; materialize it first")
    with TimeLimit(timeout_of(ws, key), lambda _deadline: None) as clock:  # no claim to bound: none is taken
        return check_current(ws, ws.asset(key), head, run_id, started, clock, rerun=True)

"""Executors: run the planned steps in dependency order, in-process or in worker processes.

Both call ``step.materialize`` for each asset and differ only in where it runs. A failed asset's
downstream is skipped; independent branches go on. Ctrl-C fails the asset(s) being built, starts nothing
more, and records the run as interrupted with the counts of what finished.
"""

from __future__ import annotations

import contextlib
import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .claims import this_holder
from .errors import StoreError
from .planner import Plan
from .records import RunStatus, new_run_id
from .run_lifecycle import begin, finish
from .step import INTERRUPTED, Outcome, StepInterrupted, StepResult, materialize, record_lost
from .worker_pool import WorkerPool
from .workspace import Workspace

OnResult = Callable[[StepResult, int, int], None]
OnStart = Callable[[str], None]


def _ignore(*_: object) -> None:
    return None


@dataclass
class RunSummary:
    run_id: str
    results: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # from the object store, e.g. where a run was published

    def counts(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for result in self.results:
            counts[result.outcome.value] += 1
        return counts

    @property
    def failed(self) -> bool:
        """Not everything selected is up to date: an asset failed, was skipped, or waits on an unselected one."""
        return any(r.outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.WAITING) for r in self.results)


def _skip(key: str, failed_upstream: str) -> StepResult:
    return StepResult(key, Outcome.SKIPPED, message=f"upstream {failed_upstream!r} failed")


_BAD = (Outcome.FAILED, Outcome.SKIPPED)
_NOTHING_WAITS: Mapping[str, str] = {}


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run: the asset(s) it was building are recorded as failed, nothing after them
    started, and the run is recorded as interrupted; ``summary`` holds what happened until then."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__(f"run {summary.run_id} interrupted")
        self.summary = summary


def _reporter(done: list[StepResult], total: int, on_result: OnResult) -> Callable[[StepResult], None]:
    """Appends each result to ``done`` as it comes (so an interrupted run still counts it) and reports it."""

    def report(result: StepResult) -> None:
        done.append(result)
        on_result(result, len(done), total)

    return report


def run_in_process(
    ws: Workspace,
    keys: Sequence[str],
    run_id: str,
    force: bool,
    done: list[StepResult],
    on_result: OnResult = _ignore,
    on_start: OnStart = _ignore,
    waiting: Mapping[str, str] = _NOTHING_WAITS,
) -> None:
    """One asset at a time, in the given (topological) order; results are appended to ``done``.

    Ctrl-C fails the asset being built and stops the run (KeyboardInterrupt propagates).
    """
    waits = ws.planned.nearest_among(keys)
    report = _reporter(done, len(keys), on_result)
    outcomes: dict[str, Outcome] = {}
    for key in keys:
        bad = next((u for u in waits[key] if outcomes[u] in _BAD), None)
        if bad:
            result = _skip(key, bad)
        else:
            on_start(key)
            started = time.time()
            try:
                result = materialize(ws, key, run_id, force=force, waiting=waiting.get(key, ""))
            except StepInterrupted as stop:  # recorded by the step
                report(stop.result)
                raise
            except KeyboardInterrupt:  # it landed in lakeplan's own code around the asset's
                with contextlib.suppress(StoreError):
                    report(record_lost(ws, key, run_id, started, INTERRUPTED))
                raise
        outcomes[key] = result.outcome
        report(result)


def run_in_processes(
    ws: Workspace,
    keys: Sequence[str],
    run_id: str,
    force: bool,
    done: list[StepResult],
    pool: WorkerPool,
    on_result: OnResult = _ignore,
    on_start: OnStart = _ignore,
) -> None:
    """Up to ``pool.size`` assets at once in the pool's worker processes; results are appended to ``done``.
    A worker that dies fails its own asset only; Ctrl-C interrupts the running assets and stops.

    An asset is handed to a worker as soon as the last asset it waits for ends: each result updates the
    count of its dependents (no scan of the pending assets per result), and ready assets go in plan order.
    """
    waits = ws.planned.nearest_among(keys)
    report = _reporter(done, len(keys), on_result)
    outcomes: dict[str, Outcome] = {}
    position = {key: i for i, key in enumerate(keys)}
    unfinished = {key: len(ups) for key, ups in waits.items()}
    dependents: dict[str, list[str]] = {key: [] for key in keys}
    for key, ups in waits.items():
        for up in ups:
            dependents[up].append(key)
    ready = [position[key] for key in keys if not waits[key]]  # a heap of plan positions
    heapq.heapify(ready)

    def finished(result: StepResult) -> None:
        outcomes[result.key] = result.outcome
        report(result)
        for down in dependents[result.key]:
            unfinished[down] -= 1
            if not unfinished[down]:
                heapq.heappush(ready, position[down])

    try:
        while ready or pool.busy:
            while ready and pool.busy < pool.size:
                key = keys[heapq.heappop(ready)]
                bad = next((u for u in waits[key] if outcomes[u] in _BAD), None)
                if bad:
                    finished(_skip(key, bad))
                    continue
                pool.submit(key)
                on_start(key)
            if pool.busy:
                for result in pool.wait():
                    finished(result)
    except KeyboardInterrupt:
        for result in pool.interrupt():
            finished(result)
        raise


def planned_work(planned: Plan, force: bool = False) -> tuple[list[str], dict[str, str]]:
    """What running a plan does: its stale assets (every selected one when forced), in order, and why the
    ones waiting on unselected stale upstreams will stay stale (the ``waiting`` argument of ``run``)."""
    keys = [s.key for s in planned.statuses if s.stale or force]
    return keys, {s.key: s.waiting_message for s in planned.statuses if s.waiting_on}


def run(
    ws: Workspace,
    keys: Sequence[str],
    *,
    selection: str = "*",
    force: bool = False,
    workers: int = 1,
    on_result: OnResult | None = None,
    on_start: OnStart | None = None,
    waiting: Mapping[str, str] = _NOTHING_WAITS,
) -> RunSummary:
    """Materialize ``keys`` (in topological order) as one recorded run; ``waiting`` maps the keys that wait
    on stale upstreams outside the selection to why (``AssetStatus.waiting_message``).

    Raises ``RunInterrupted`` (a KeyboardInterrupt carrying the summary) after Ctrl-C; any other error
    propagates after the run is recorded as failed with the counts of what finished before it.
    """
    callback = on_result or _ignore
    started_hook = on_start or _ignore
    summary = RunSummary(new_run_id())
    started = time.time()
    try:
        if workers > 1 and len(keys) > 1:
            # Started first, so the workers load the project while the run is recorded and opened.
            with WorkerPool(ws, summary.run_id, force, min(workers, len(keys)), waiting) as pool:
                begin(ws, summary.run_id, selection, started, this_holder())  # e.g. lakeFS: the run's own branch
                run_in_processes(ws, keys, summary.run_id, force, summary.results, pool, callback, started_hook)
        else:
            begin(ws, summary.run_id, selection, started, this_holder())
            run_in_process(ws, keys, summary.run_id, force, summary.results, callback, started_hook, waiting)
    except BaseException as exc:
        summary.seconds = time.time() - started
        interrupted = isinstance(exc, KeyboardInterrupt)
        status = RunStatus.INTERRUPTED if interrupted else RunStatus.FAILED
        with contextlib.suppress(StoreError):  # the error in flight says more than this one would
            ws.store.finish_run(summary.run_id, status, summary.counts())
        if interrupted:
            raise RunInterrupted(summary) from None
        raise
    summary.seconds = time.time() - started
    note = finish(ws, summary.run_id, not summary.failed, summary.counts())  # publishes only a fully successful run
    summary.notes += [note] if note else []
    return summary

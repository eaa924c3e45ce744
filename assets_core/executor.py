"""Executors: run the planned steps in dependency order, in-process or in worker processes.

Both call ``step.materialize`` for each asset and differ only in where it runs. A failed asset's
downstream is skipped; independent branches go on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from .claims import this_holder
from .config import Settings
from .errors import StoreError
from .planner import Plan
from .records import RunStatus, new_run_id
from .run_lifecycle import begin, finish
from .step import Outcome, StepResult, materialize
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


def run_in_process(
    ws: Workspace,
    keys: Sequence[str],
    run_id: str,
    force: bool,
    on_result: OnResult,
    on_start: OnStart = _ignore,
    waiting: Mapping[str, str] = _NOTHING_WAITS,
) -> list[StepResult]:
    """One asset at a time, in the given (topological) order."""
    waits = ws.graph.nearest_among(keys)
    results: dict[str, StepResult] = {}
    for key in keys:
        bad = next((u for u in waits[key] if results[u].outcome in _BAD), None)
        if not bad:
            on_start(key)
        result = _skip(key, bad) if bad else materialize(ws, key, run_id, force=force, waiting=waiting.get(key, ""))
        results[key] = result
        on_result(result, len(results), len(keys))
    return list(results.values())


_worker: Workspace | None = None


def _init_worker(target: str, settings: Settings) -> None:
    global _worker
    _worker = Workspace.load(target, settings)


def _run_in_worker(key: str, run_id: str, force: bool, waiting: str) -> StepResult:
    if _worker is None:
        raise RuntimeError("worker not initialised")
    return materialize(_worker, key, run_id, force=force, waiting=waiting)


def run_in_processes(
    ws: Workspace,
    keys: Sequence[str],
    run_id: str,
    force: bool,
    on_result: OnResult,
    workers: int,
    on_start: OnStart = _ignore,
    waiting: Mapping[str, str] = _NOTHING_WAITS,
) -> list[StepResult]:
    """Up to ``workers`` assets at once in fresh (spawned) processes that load the project themselves."""
    waits = ws.graph.nearest_among(keys)
    results: dict[str, StepResult] = {}
    pending = list(keys)
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(ws.target, ws.settings)
    ) as pool:
        running: dict[cf.Future[StepResult], str] = {}
        while pending or running:
            for key in list(pending):
                if len(running) >= workers:
                    break
                if not all(u in results for u in waits[key]):
                    continue
                pending.remove(key)
                bad = next((u for u in waits[key] if results[u].outcome in _BAD), None)
                if bad:
                    results[key] = _skip(key, bad)
                    on_result(results[key], len(results), len(keys))
                    continue
                running[pool.submit(_run_in_worker, key, run_id, force, waiting.get(key, ""))] = key
                on_start(key)
            if not running:
                continue
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                results[key] = future.result()
                on_result(results[key], len(results), len(keys))
    return [results[k] for k in keys]


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
    on stale upstreams outside the selection to why (``AssetStatus.waiting_message``)."""
    callback = on_result or _ignore
    started_hook = on_start or _ignore
    summary = RunSummary(new_run_id())
    started = time.time()
    try:
        begin(ws, summary.run_id, selection, started, this_holder())  # e.g. lakeFS: the run's own branch
        if workers > 1 and len(keys) > 1:
            summary.results = run_in_processes(
                ws, keys, summary.run_id, force, callback, workers, started_hook, waiting
            )
        else:
            summary.results = run_in_process(ws, keys, summary.run_id, force, callback, started_hook, waiting)
    except BaseException:
        summary.seconds = time.time() - started
        with contextlib.suppress(StoreError):  # the error in flight says more than this one would
            ws.store.finish_run(summary.run_id, RunStatus.FAILED, summary.counts())
        raise
    summary.seconds = time.time() - started
    note = finish(ws, summary.run_id, not summary.failed, summary.counts())  # publishes only a fully successful run
    summary.notes += [note] if note else []
    return summary

"""Worker processes for ``materialize --workers N``: each loads the project once and materializes one asset
at a time, and the parent always knows which asset each one is running.

That is why this is not ``concurrent.futures.ProcessPoolExecutor``: when one of its workers dies
(``os._exit``, a segfault, the OOM killer) it fails every running future with ``BrokenProcessPool``,
names neither the asset nor the exit code, and refuses further work. Here a dead worker fails exactly
its own asset ("worker process died (exit code N)") and is replaced, so independent branches go on.

Time limits (timeouts.py): a worker stops its own step at the deadline (SIGALRM in its main thread) and
records the failure; it publishes each attempt's deadline in shared memory, and a worker still busy
``STOP_GRACE_SECONDS`` after it (stuck in C code that never returns to the interpreter) is killed by the
parent, its step recorded as timed out and its claim released, and a new worker takes its place.

Ctrl-C: a worker lets SIGINT interrupt only a running step (between steps it is ignored, so an idle
worker never dies with a traceback); the parent forwards it to the busy workers and collects their
results, so each interrupted asset is recorded as failed before the run stops.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any

from .claims import Claim
from .config import Settings
from .errors import StoreError
from .processes import this_host
from .step import INTERRUPTED, StepInterrupted, StepResult, materialize, record_lost, timeout_of
from .step_log import read_log
from .timeouts import STOP_GRACE_SECONDS, timed_out
from .workspace import Workspace

INTERRUPT_GRACE_SECONDS = 10.0  # after Ctrl-C, how long an interrupted worker gets to record its failure
PARENT_CHECK_SECONDS = 1.0  # how often a worker looks whether its parent is still there
EXIT_PARENT_GONE = 3  # a worker's exit code when its parent died (an infrastructure failure)
DEADLINE_POLL_SECONDS = 1.0  # how often the parent looks at the deadlines of busy workers with a time limit


def _exit_with_parent(parent: int) -> None:
    """A worker's watch thread: end the worker within a second of its parent's death (``kill -9``
    included, which runs no clean-up), so no orphan keeps running user code or holding store connections.
    The asset's claim names the dead worker, so the next run takes it over at once."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:  # re-parented: the process that started us is gone
            os._exit(EXIT_PARENT_GONE)


def _interrupt_once(_signum: int, _frame: FrameType | None) -> None:
    """SIGINT during a step: raise KeyboardInterrupt once; a repeat must not cut the failure's recording short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _serve(conn: Connection, target: str, settings: Settings, deadline: Any, now: dt.datetime) -> None:
    """A worker's life (the project loaded at the parent's ``now``, so partitions expand alike): receive
    ``(key, run_id, force, waiting, log_path)``, send back ``("result", StepResult)``,
    ``("lost", reason)`` for the parent to record, or ``("error", exception)`` for it to re-raise;
    ``None`` (or the parent's end of the pipe closing) stops it. ``deadline`` (shared memory) holds the
    running attempt's deadline, 0 when there is none."""

    def publish(at: float | None) -> None:
        deadline.value = at or 0.0

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="lakeplan-parent-watch", daemon=True).start()
    try:  # at once, so loading the project overlaps the parent's first steps
        ws: Workspace | BaseException = Workspace.load(target, settings, now=now)
    except BaseException as exc:  # reported with the first task: the parent re-raises it
        ws = exc
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        key, run_id, force, waiting, log_path = task
        reply: tuple[str, Any]
        signal.signal(signal.SIGINT, _interrupt_once)
        try:
            if isinstance(ws, BaseException):
                raise ws
            done = materialize(ws, key, run_id, force=force, waiting=waiting, on_deadline=publish, log_path=log_path)
            reply = ("result", done)
        except StepInterrupted as exc:  # recorded by the step
            reply = ("result", exc.result)
        except KeyboardInterrupt:  # it landed in lakeplan's own code, before or after the asset's
            reply = ("lost", INTERRUPTED)
        except BaseException as exc:  # the store failed, or the project no longer loads: the parent re-raises
            reply = ("error", exc)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            conn.send(reply)
        except Exception:  # an exception that cannot be pickled: send what it said
            conn.send(("error", RuntimeError(f"{type(reply[1]).__name__}: {reply[1]}")))


def _died(exitcode: int | None) -> str:
    """How a worker's death reads in the asset's failure."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"worker process died (killed by {name}) while materializing it"
    return f"worker process died (exit code {exitcode}) while materializing it"


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    deadline: Any  # shared double: the running attempt's deadline (time.time()), 0 when none
    log: Path  # where it captures what the asset prints, read here should it die mid-step
    key: str | None = None  # the asset it is materializing, None when idle
    started: float = 0.0
    limit: int | None = None  # the asset's time limit (seconds), None when it has none

    def overdue(self, now: float) -> bool:
        """Still busy ``STOP_GRACE_SECONDS`` past its step's deadline: it cannot stop itself."""
        at = float(self.deadline.value)
        return at > 0 and now > at + STOP_GRACE_SECONDS


class WorkerPool:
    """``size`` spawned workers (a dead one is replaced on demand); use as a context manager, which starts
    them all and stops every one at the end."""

    def __init__(self, ws: Workspace, run_id: str, force: bool, size: int, waiting: Mapping[str, str]) -> None:
        self._ws = ws
        self._run_id = run_id
        self._force = force
        self._waiting = waiting  # as step.materialize's ``waiting``, per key
        self._size = size
        self._workers: list[_Worker] = []
        self._context = multiprocessing.get_context("spawn")
        self._logs = Path(tempfile.mkdtemp(prefix="lakeplan-step-logs-"))
        self._spawned = 0

    def __enter__(self) -> WorkerPool:
        while len(self._workers) < self._size:  # all at once: each loads the project while others work
            self._spawn()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        """How many steps the pool runs at once."""
        return self._size

    @property
    def busy(self) -> int:
        return sum(1 for w in self._workers if w.key is not None)

    def submit(self, key: str) -> None:
        """Start ``key`` on an idle worker (a new one in place of one that died)."""
        for gone in [w for w in self._workers if w.key is None and not w.process.is_alive()]:
            self._workers.remove(gone)  # it died after its last answer
        worker = next((w for w in self._workers if w.key is None), None)
        if worker is None:
            if len(self._workers) >= self._size:
                raise RuntimeError("no idle worker")  # the executor never submits more than size at once
            worker = self._spawn()
        worker.deadline.value = 0.0
        worker.log.unlink(missing_ok=True)  # the last step's output: never to be read as this one's
        worker.conn.send((key, self._run_id, self._force, self._waiting.get(key, ""), worker.log))
        worker.key, worker.started, worker.limit = key, time.time(), timeout_of(self._ws, key)

    def _spawn(self) -> _Worker:
        ours, theirs = self._context.Pipe()
        deadline = self._context.RawValue("d", 0.0)
        process = self._context.Process(
            target=_serve,
            args=(theirs, self._ws.target, self._ws.settings, deadline, self._ws.now),
            name="lakeplan-worker",
            daemon=True,
        )
        # Started with SIGINT ignored (an ignored signal stays ignored across exec, and Python then keeps
        # it so): a Ctrl-C while the new interpreter imports would otherwise kill it with a traceback.
        # (Blocking it instead does not hold: starting multiprocessing's resource tracker unblocks it.)
        if threading.current_thread() is not threading.main_thread():  # only the main thread gets SIGINT
            process.start()
        else:
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                process.start()
            finally:
                signal.signal(signal.SIGINT, previous)
        theirs.close()
        self._spawned += 1
        worker = _Worker(process, ours, deadline, self._logs / f"worker-{self._spawned}.log")
        self._workers.append(worker)
        return worker

    def wait(self, timeout: float | None = None) -> list[StepResult]:
        """Results of the steps that ended (at least one unless ``timeout`` passed); a dead worker's step
        fails, an overdue one is killed and its step fails as timed out. Re-raises what a worker raised
        outside the asset's code (e.g. StoreError)."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            busy = [w for w in self._workers if w.key is not None]
            left = None if end is None else max(0.0, end - time.monotonic())
            if any(w.limit is not None for w in busy):
                left = DEADLINE_POLL_SECONDS if left is None else min(left, DEADLINE_POLL_SECONDS)
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], left))
            results = []
            for worker in busy:
                key = worker.key
                if key is None:
                    continue
                if worker.conn in ready or worker.process.sentinel in ready:
                    results.append(self._collect(worker, key))
                elif worker.overdue(time.time()):
                    results.append(self._kill_overdue(worker, key))
            if results or (end is not None and time.monotonic() >= end):
                return results

    def _kill_overdue(self, worker: _Worker, key: str) -> StepResult:
        """Kill a worker stuck past its step's deadline; record the step as timed out and drop its claim."""
        worker.process.kill()
        worker.process.join()
        self._workers.remove(worker)
        self._release_claim(worker, key)
        reason = f"{timed_out(worker.limit or 0)}; its worker did not stop (stuck outside Python) and was killed"
        return self._lost(worker, key, reason)

    def _release_claim(self, worker: _Worker, key: str) -> None:
        """Drop the claim a dead worker held, so no run has to find out that its holder is gone."""
        claim = Claim(key, self._run_id, f"{this_host()}:{worker.process.pid}", 0.0, 0.0)
        with contextlib.suppress(StoreError):  # a dead holder's claim is taken over anyway
            self._ws.store.release_claim(claim)

    def _collect(self, worker: _Worker, key: str) -> StepResult:
        try:
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):  # the worker died before it could answer
            worker.process.join()
            self._workers.remove(worker)
            self._release_claim(worker, key)
            return self._lost(worker, key, _died(worker.process.exitcode))
        worker.key = None
        if kind == "error":
            raise payload
        if kind == "lost":
            return self._lost(worker, key, payload)
        return payload  # type: ignore[no-any-return]

    def _lost(self, worker: _Worker, key: str, reason: str) -> StepResult:
        """Record the failure of a step its worker could not record, with what the asset had printed."""
        return record_lost(self._ws, key, self._run_id, worker.started, reason, read_log(worker.log))

    def interrupt(self) -> list[StepResult]:
        """After Ctrl-C: interrupt every running step and return how each ended (a worker that does not
        answer within the grace period is terminated and its asset recorded as failed)."""
        busy = [w for w in self._workers if w.key is not None]
        for worker in busy:
            if worker.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):  # it ended meanwhile; wait() collects it
                    os.kill(worker.process.pid, signal.SIGINT)
        results = []
        deadline = time.monotonic() + INTERRUPT_GRACE_SECONDS
        while self.busy and time.monotonic() < deadline:
            results += self.wait(max(0.0, deadline - time.monotonic()))
        for worker in list(self._workers):
            if worker.key is not None:
                worker.process.terminate()
                worker.process.join()
                self._workers.remove(worker)
                results.append(self._lost(worker, worker.key, INTERRUPTED))
        return results

    def close(self) -> None:
        """Stop every worker. One still running a step (only when the parent stops on an error, or on a
        second Ctrl-C) is terminated: its write is atomic and a dead holder's claim is taken over."""
        for worker in self._workers:
            if worker.key is not None:
                worker.process.terminate()
            with contextlib.suppress(OSError):  # it died meanwhile
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join()
            worker.conn.close()
        self._workers.clear()
        shutil.rmtree(self._logs, ignore_errors=True)

"""Progress of a materialize run on stderr: a line per finished asset followed by the end of what its code
printed, and while long steps run, a line every ``interval`` seconds naming what is still running and for
how long."""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import TextIO

from ..step import StepResult
from ..step_log import to_terminal

SHOWN_OUTPUT_LINES = 20  # of what an asset printed, under its line; 'lakeplan logs ASSET' has the rest


class Progress:
    """Thread-safe progress lines; use as a context manager so the ticker thread stops with the run."""

    def __init__(self, out: TextIO | None = None, interval: float = 10.0, enabled: bool = True) -> None:
        self._out = out or sys.stderr
        self._interval = interval
        self._enabled = enabled
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="lakeplan-progress", daemon=True)

    def __enter__(self) -> Progress:
        if self._enabled:
            self._ticker.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        if self._ticker.is_alive():
            self._ticker.join()

    def started(self, key: str) -> None:
        with self._lock:
            self._running[key] = time.monotonic()

    def finished(self, result: StepResult, done: int, total: int) -> None:
        with self._lock:
            self._running.pop(result.key, None)
        if self._enabled:
            detail = f"  {result.message}" if result.message else ""
            width = len(str(total))
            line = f"[{done:>{width}}/{total}] {result.outcome.value:<9} {result.key} ({result.seconds:.2f}s){detail}"
            self._print(line)
            if result.log:
                for shown in _output_lines(result.key, result.log):
                    self._print(f"    | {shown}")

    def _tick(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                running = sorted(self._running.items(), key=lambda item: item[1])
            if running:
                names = ", ".join(f"{key} ({now - since:.0f}s)" for key, since in running)
                self._print(f"... still running: {names}")

    def _print(self, line: str) -> None:
        with self._lock:  # the ticker prints while an in-process step's output is captured: around it
            to_terminal(line, self._out)


def _output_lines(key: str, log: str) -> list[str]:
    """The last lines of what ``key`` printed, led by a pointer to the rest when there is more."""
    lines = log.rstrip("\n").splitlines()
    if len(lines) <= SHOWN_OUTPUT_LINES:
        return lines
    earlier = len(lines) - SHOWN_OUTPUT_LINES
    return [f"[{earlier} earlier lines: lakeplan logs {key}]", *lines[-SHOWN_OUTPUT_LINES:]]

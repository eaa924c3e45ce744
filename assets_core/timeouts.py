"""Time limits: ``@asset(timeout="30m")`` and ``[tool.lakeplan] timeout``, parsed, shown and enforced.

One attempt at an asset (reading its inputs, running the function, storing the value, running its checks;
each retry starts the clock again, as each Argo retry is a new pod) may run ``timeout``. Past it the step's thread gets
``StepTimedOut`` and the attempt fails "timed out after 30m" through the usual failure path.

How it is stopped: in the main thread (the CLI, every worker process, the Argo pod) by ``SIGALRM`` from
``setitimer``. Python runs the handler between bytecodes and when a blocking system call returns EINTR
(PEP 475 retries the call only when the handler does not raise), so it interrupts Python code, ``sleep``,
socket and pipe reads, lock waits. It cannot interrupt a C call that never returns to the interpreter (an
extension looping without checking for signals, a deadlock inside C): for that, a worker process is killed
by its parent (worker_pool.py), a pod by Kubernetes (its ``activeDeadlineSeconds``), and the claim stops
being renewed at the deadline (claims.py) so another run can take the asset over. An exception swallowed
by the user's code (a bare ``except:``) is raised again every second until the attempt ends. In another
thread (lakeplan used as a library), the exception is set asynchronously instead, which interrupts
Python code but not sleeps or blocking calls.
"""

from __future__ import annotations

import ctypes
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

MAX_TIMEOUT_SECONDS = 30 * 86400  # a longer limit is a typo, not a job
REPEAT_SECONDS = 1.0  # how often StepTimedOut is raised again when the user's code swallows it
STOP_GRACE_SECONDS = 5.0  # after the deadline, how long a step gets to stop itself before its worker is killed
FORMS = "a duration like '90s', '30m', '2h' or '1h30m', or a whole number of seconds"
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class StepTimedOut(BaseException):
    """Raised in a step's thread when its attempt passes its time limit.

    A BaseException, as KeyboardInterrupt is, so that the user's ``except Exception`` does not swallow it.
    """


def parse_timeout(value: object) -> int:
    """Seconds from ``"90s"``, ``"30m"``, ``"2h"``, ``"1h30m"``, a whole number or its text, from 1 s to 30 days;
    anything else raises ValueError for the caller to report with ``FORMS`` and where it came from."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(value)
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        match = _DURATION.fullmatch(text)
        if text.isdigit():
            seconds = int(text)
        elif text and match is not None:
            hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
            seconds = hours * 3600 + minutes * 60 + secs
        else:
            raise ValueError(value)
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(value)
    return seconds


def effective_timeout(own: int | None, default: int | None) -> int | None:
    """An asset's time limit: its own ``timeout`` wins over the project's default; None: no limit."""
    return own if own is not None else default


def format_duration(seconds: float) -> str:
    """``5400`` -> ``"1h30m"``, ``90`` -> ``"1m30s"``, ``1`` -> ``"1s"`` (whole seconds)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return text or "0s"


TIMED_OUT = "timed out after "


def timed_out(seconds: float) -> str:
    """The failure's reason: ``timed out after 30m``."""
    return f"{TIMED_OUT}{format_duration(seconds)}"


class TimeLimit:
    """The clock of one step: ``start()`` gives the current attempt ``seconds`` (None: no limit) and returns the
    deadline; ``stop()`` disarms it. ``on_change`` hears every new deadline (None when stopped), so the claim's
    lease and a worker's parent know it. Use as a context manager around the step; it restores what it replaced.
    """

    def __init__(self, seconds: float | None, on_change: Callable[[float | None], None]) -> None:
        self.seconds = seconds
        self._on_change = on_change
        self._main = threading.current_thread() is threading.main_thread()
        self._previous: Callable[[int, FrameType | None], object] | int | None = None
        self._timer: threading.Timer | None = None
        self._armed = False
        self._deadline: float | None = None  # the current attempt's, kept across stop() for resume()
        self._lock = threading.Lock()  # outside the main thread: no exception is set after stop() returns
        self._thread = threading.get_ident()

    def __enter__(self) -> TimeLimit:
        if self.seconds is not None and self._main:
            self._previous = signal.signal(signal.SIGALRM, self._expired)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        if self._previous is not None:
            signal.signal(signal.SIGALRM, self._previous)
            self._previous = None

    @property
    def message(self) -> str:
        return timed_out(self.seconds or 0)

    def start(self) -> float | None:
        """(Re)start the clock for an attempt; the deadline (``time.time()``), or None without a limit."""
        if self.seconds is None:
            return None
        self._deadline = time.time() + self.seconds
        self._arm(self.seconds)
        return self._deadline

    def resume(self) -> None:
        """Go on under the current attempt's deadline (a new attempt when none started): what runs after the
        asset's value is stored, its checks, counts toward the same limit. Past the deadline already, raise
        ``StepTimedOut`` at once, armed with nothing."""
        if self.seconds is None:
            return
        if self._deadline is None:
            self.start()
            return
        left = self._deadline - time.time()
        if left <= 0:
            raise StepTimedOut(self.message)
        self._arm(left)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Run the block under the attempt's clock (``resume``), disarmed after it. A ``StepTimedOut`` from it
        is caught outside the block, where no further one is raised (call ``stop()`` again first thing there:
        one landing during the block's own ``stop`` leaves the clock armed)."""
        self.resume()
        try:
            yield
        finally:
            self.stop()

    def _arm(self, seconds: float) -> None:
        self.stop()
        self._armed = True
        if self._main:
            signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
        else:
            self._schedule(seconds)
        self._on_change(self._deadline)

    def stop(self) -> None:
        """Disarm: nothing is raised any more until the next ``start``."""
        if self.seconds is None:
            return
        with self._lock:
            self._armed = False
            if not self._main:  # one set but not raised yet is dropped (NULL clears it)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread), None)
        if self._main:
            signal.setitimer(signal.ITIMER_REAL, 0)
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self._on_change(None)

    def _expired(self, _signum: int, _frame: FrameType | None) -> None:
        if not self._armed:  # delivered just after stop()
            return
        raise StepTimedOut(self.message)

    def _schedule(self, after: float) -> None:
        self._timer = threading.Timer(after, self._raise_in_thread)
        self._timer.daemon = True
        self._timer.start()

    def _raise_in_thread(self) -> None:
        """Outside the main thread: set StepTimedOut in the step's thread (PyThreadState_SetAsyncExc), again
        every second until stopped."""
        with self._lock:
            if not self._armed:
                return
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread), ctypes.py_object(StepTimedOut))
            self._schedule(REPEAT_SECONDS)

"""What every benchmark shares: timing (wall and CPU, min and median of at least ``REPEAT`` repetitions),
the machine's load average at the start and end of a run, running a case in a fresh subprocess (so peak
memory is the case's own; it reports one JSON line on stdout) and printing a table.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "
REPEAT = 5  # the fewest repetitions a figure is taken over
TIME_COLUMNS = ("wall_min_ms", "wall_med_ms", "cpu_min_ms", "cpu_med_ms")


def summary(wall_ms: Sequence[float], cpu_ms: Sequence[float]) -> dict[str, float]:
    """Min and median of wall and CPU times measured ``len(wall_ms)`` times (milliseconds). CPU time (user +
    system, all threads) says what the code costs on a machine busy with other work; wall time does not."""
    if len(wall_ms) < REPEAT or len(cpu_ms) != len(wall_ms):
        raise ValueError(f"need at least {REPEAT} repetitions, got {len(wall_ms)}")
    return {
        "wall_min_ms": min(wall_ms),
        "wall_med_ms": statistics.median(wall_ms),
        "cpu_min_ms": min(cpu_ms),
        "cpu_med_ms": statistics.median(cpu_ms),
    }


def timed(fn: Callable[[], object], repeat: int = REPEAT) -> dict[str, float]:
    """``summary`` of ``repeat`` calls of ``fn`` in this process."""
    walls, cpus = [], []
    for _ in range(max(repeat, REPEAT)):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((time.process_time() - start_cpu) * 1000)
    return summary(walls, cpus)


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak Python memory allocated during one call of ``fn`` (tracemalloc), in MiB."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def maxrss_mib() -> float:
    """Peak resident memory of this whole process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    """The 1, 5 and 15 minute load averages and the core count: above the core count, wall times wait for a
    core and are inflated; CPU times much less so."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


@contextmanager
def session(name: str) -> Iterator[None]:
    """Print the benchmark's name, the time and the load average when it starts and when it ends."""
    print(f"== {name} {time.strftime('%H:%M:%S')} {load_average()}", flush=True)
    try:
        yield
    finally:
        print(f"== end {name} {time.strftime('%H:%M:%S')} {load_average()}", flush=True)


def emit(result: dict[str, Any]) -> None:
    """Hand a case's figures to the parent (the one line it reads from our stdout)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_case(
    script: Path, args: Sequence[str], python: str | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``script`` with ``args`` in a fresh interpreter and return the figures it emitted."""
    full_env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{script.parent}", **(env or {})}
    proc = subprocess.run(
        [python or sys.executable, str(script), *args], capture_output=True, text=True, env=full_env, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return dict(json.loads(line[len(RESULT_PREFIX) :]))
    raise RuntimeError(f"{script.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


def progress(row: dict[str, Any], columns: Sequence[str]) -> None:
    """One finished row on stderr, so a long run shows where it is."""
    print(table([row], columns).splitlines()[-1], file=sys.stderr, flush=True)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A plain aligned text table (numbers with up to 2 decimals)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
        return str(value)

    cells = [[cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)

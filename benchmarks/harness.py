"""Running benchmark cases: each in a fresh subprocess (so peak memory is the case's own), timed with
``perf_counter``, reported as one JSON line on stdout and printed as a table by the parent.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "


def timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Best and median wall time of ``fn`` over ``repeat`` calls, and the best CPU time of this process
    (all threads), in milliseconds. CPU time says what the code costs on a machine busy with other work."""
    times, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return {"best_ms": min(times), "median_ms": statistics.median(times), "cpu_ms": min(cpu)}


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

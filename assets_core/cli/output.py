"""Rendering for the terminal: aligned tables, progress lines and JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO | None = None) -> None:
    """Print rows under headers with columns aligned; the last column is never padded."""
    out = out or sys.stdout
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)] + [cells[-1]]
        return "  ".join(padded).rstrip()

    print(line(headers), file=out)
    for row in rows:
        print(line(row), file=out)


def dump_json(data: Any, out: TextIO | None = None) -> None:
    """Stable JSON: sorted keys, two-space indent."""
    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=out or sys.stdout)


_notes: list[str] = []


def note_later(text: str) -> None:
    """A note for stderr, printed once the command has finished without error (an error stays one line)."""
    _notes.append(text)


def print_notes() -> None:
    for text in _notes:
        print(text, file=sys.stderr)
    _notes.clear()


def indented(text: str, prefix: str = "    ") -> str:
    """A multi-line text (a traceback) set off under the line it belongs to."""
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


def logs_command(key: str, run_id: str) -> str:
    """The command that shows what an attempt of ``key`` in run ``run_id`` printed."""
    return f"lakeplan logs {key} --run {run_id}"

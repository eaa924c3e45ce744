"""What went wrong in the user's code, said for people: a one-line reason naming the innermost frame of
the user's own code, and the full traceback with lakeplan's own frames trimmed (stored with the failed
attempt, shown by ``materialize --debug``, ``history`` and ``runs RUN_ID``)."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .masking import mask_text

_OWN_PACKAGES = tuple(str(Path(__file__).resolve().parent.parent / p) + "/" for p in ("assets_core", "io_managers"))
MAX_TRACEBACK_CHARS = 50_000  # a deep recursion's traceback is kept by its innermost (most telling) end


def is_lakeplan_frame(filename: str) -> bool:
    """A frame of lakeplan itself or of Python's import machinery, which says nothing about the user's bug."""
    return filename.startswith(_OWN_PACKAGES) or filename.startswith("<frozen")


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an asset failed: ``reason`` (``KeyError: 'id'``), where in the user's code, and the traceback."""

    reason: str
    where: str | None = None
    traceback: str | None = None

    @property
    def message(self) -> str:
        """The one line: ``KeyError: 'id' (pkg/helpers.py:5)``."""
        return f"{self.reason} ({self.where})" if self.where else self.reason


def first_line(exc: BaseException) -> str:
    """``Type: message`` on one line (the whole message stays in the traceback)."""
    try:
        text = str(exc).strip()
    except Exception:  # the user's __str__ itself raised
        text = "<exception str() failed>"
    line = text.splitlines()[0] if text else ""
    more = " ..." if "\n" in text else ""
    return f"{type(exc).__name__}: {line}{more}" if line else type(exc).__name__


def describe(exc: BaseException, is_user_file: Callable[[str], bool], root: Path, reason: str | None = None) -> Failure:
    """The failure ``exc`` stands for; ``reason`` replaces its ``Type: message`` line (e.g. for Ctrl-C).
    URLs quoted in the message or traceback are masked: both are shown, recorded and rendered in views."""
    report = traceback.TracebackException.from_exception(exc)
    _trim(report)
    frames = [f for f in report.stack if is_user_file(f.filename)]
    where = f"{_shown(frames[-1].filename, root)}:{frames[-1].lineno}" if frames else None
    text = "".join(report.format())
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "... (start of traceback cut)\n" + text[-MAX_TRACEBACK_CHARS:]
    return Failure(mask_text(reason or first_line(exc)), where, mask_text(text))


def _trim(report: traceback.TracebackException) -> None:
    """Drop lakeplan's frames from ``report`` and from the exceptions it was raised from or during."""
    report.stack = traceback.StackSummary.from_list([f for f in report.stack if not is_lakeplan_frame(f.filename)])
    for nested in (report.__cause__, report.__context__, *(report.exceptions or ())):
        if nested is not None:
            _trim(nested)


def _shown(filename: str, root: Path) -> str:
    path = Path(filename)
    return str(path.relative_to(root)) if path.is_relative_to(root) else path.name

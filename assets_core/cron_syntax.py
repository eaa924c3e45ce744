"""Cron expressions as Argo reads them, so a schedule Argo would refuse fails at declaration, not at submit.

Argo validates a CronWorkflow's schedules with robfig/cron v3 ``ParseStandard`` (argo-workflows
workflow/validate/validate.go: CronWorkflow; robfig/cron parser.go: Parse, normalizeFields, getField,
getRange, parseIntOrName, mustParseInt; bounds in spec.go). Five fields; each a comma list of ``*``, ``?``,
a number or name, or ``a-b``, optionally ``/step``. No ``L``, ``W``, ``#``; weekdays are 0-6 (``7`` is refused).
"""

from __future__ import annotations

import re

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (field name, min, max, names) in robfig's order: minutes, hours, dom, months, dow (spec.go bounds)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 6, {name: i for i, name in enumerate(_DAYS)}),
)
_NUMBER = re.compile(r"[0-9]+")


def _value(text: str, names: dict[str, int]) -> int:
    """parseIntOrName: a name (any case) or a non-negative decimal number."""
    if text.lower() in names:
        return names[text.lower()]
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"failed to parse int from {text}")
    return int(text)


def _range_problem(expr: str, low: int, high: int, names: dict[str, int]) -> None:
    """getRange: ``*``/``?`` or ``a`` or ``a-b``, then an optional ``/step``; ValueError with robfig's wording."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        start = _value(low_and_high[0], names)
        if len(low_and_high) > 2:
            raise ValueError(f"too many hyphens: {expr}")
        end = _value(low_and_high[1], names) if len(low_and_high) == 2 else start
    if len(range_and_step) > 2:
        raise ValueError(f"too many slashes: {expr}")
    step = 1
    if len(range_and_step) == 2:
        step = _value(range_and_step[1], {})
        if len(low_and_high) == 1:
            end = high  # "N/step" means "N-max/step"
    if start < low:
        raise ValueError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise ValueError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise ValueError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ValueError(f"step of range should be a positive number: {expr}")


def argo_cron_problem(expression: str) -> str | None:
    """Why Argo's cron parser refuses ``expression`` (None when it accepts it). Descriptors (``@daily``) are
    left out: lakeplan schedules take the five fields."""
    fields = expression.split()
    if len(fields) != len(FIELDS):
        return f"expected exactly {len(FIELDS)} fields, found {len(fields)}"
    for text, (name, low, high, names) in zip(fields, FIELDS, strict=True):
        for part in (p for p in text.split(",") if p):
            try:
                _range_problem(part, low, high, names)
            except ValueError as exc:
                return f"{name} field: {exc}"
    return None

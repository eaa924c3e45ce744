"""Schedules: a cron expression and a selection, declared next to the assets (compiled to CronWorkflows)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from croniter import croniter

from .cron_syntax import argo_cron_problem
from .errors import DefinitionError
from .keys import validate_key

CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Run what is stale in ``select`` at every ``cron`` fire time, in ``timezone``."""

    name: str
    cron: str
    select: str = "*"
    timezone: str = "UTC"
    concurrency_policy: str = "Forbid"
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int = 3
    failed_jobs_history_limit: int = 1

    def next_fire_times(self, count: int, after: dt.datetime | None = None) -> Iterator[dt.datetime]:
        """The next ``count`` fire times, in the schedule's timezone."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        start = (after or dt.datetime.now(tz=zone)).astimezone(zone)
        it = croniter(self.cron, start)
        for _ in range(count):
            yield it.get_next(dt.datetime)


def schedule(
    name: str,
    *,
    cron: str,
    select: str = "*",
    timezone: str = "UTC",
    concurrency_policy: str = "Forbid",
    starting_deadline_seconds: int | None = None,
    successful_jobs_history_limit: int = 3,
    failed_jobs_history_limit: int = 1,
) -> Schedule:
    """Declare a schedule; an invalid cron expression or timezone fails here, naming the fix."""
    where = f"schedule({name!r})"
    validate_key(name, where)
    if not isinstance(cron, str) or not croniter.is_valid(cron):
        raise DefinitionError(
            f"{where}: invalid cron expression {cron!r}; "
            "use five fields 'minute hour day month weekday', e.g. '0 2 * * *'"
        )
    if len(cron.split()) != 5:
        raise DefinitionError(f"{where}: cron {cron!r} must have exactly five fields (Argo does not take seconds)")
    problem = argo_cron_problem(cron)
    if problem is not None:
        raise DefinitionError(
            f"{where}: Argo's cron parser refuses {cron!r} ({problem}); use numbers or names in range "
            "(weekday 0-6 or sun-sat), '*', ranges a-b, lists and /steps (no L, W or #)"
        )
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise DefinitionError(
            f"{where}: unknown timezone {timezone!r}; use an IANA name such as 'Europe/Berlin'"
        ) from None
    if concurrency_policy not in CONCURRENCY_POLICIES:
        raise DefinitionError(f"{where}: concurrency_policy must be one of {', '.join(CONCURRENCY_POLICIES)}")
    for field_name, value in (
        ("starting_deadline_seconds", starting_deadline_seconds),
        ("successful_jobs_history_limit", successful_jobs_history_limit),
        ("failed_jobs_history_limit", failed_jobs_history_limit),
    ):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise DefinitionError(f"{where}: {field_name} must be a whole number >= 0, got {value!r}")
    return Schedule(
        name,
        cron,
        select,
        timezone,
        concurrency_policy,
        starting_deadline_seconds,
        successful_jobs_history_limit,
        failed_jobs_history_limit,
    )


def outside_warning(declared: Schedule, outside: Sequence[str]) -> str:
    """The warning for a schedule whose selection reads assets it does not build (``upstreams_outside``)."""
    names = ", ".join(repr(k) for k in outside)
    return (
        f"schedule {declared.name!r} selects {declared.select!r} but not its upstream {names}: when that is stale "
        f"the selected assets below it wait instead of being rebuilt; add it to select= or prefix the selected "
        f"names with '+' to include everything upstream"
    )

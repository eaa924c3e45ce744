"""Partitions: an asset split into slices (a day, a region, a day x region) that are versioned, planned
and built one by one, and the mappings that say which upstream slices a downstream slice reads.

Pure functions of the definitions and an explicit ``now``: no clock, no I/O, so the planner can use
them and tests can pin time. Keys are strings, ordered, and safe as a storage path segment
(``ASSET/partition=KEY``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from .errors import DefinitionError

_KEY_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,99}")
SEPARATOR = "|"  # between the dimensions of a MultiPartitions key

Unit = Literal["hourly", "daily", "monthly"]
_FORMATS: dict[Unit, str] = {"hourly": "%Y-%m-%dT%H:%M", "daily": "%Y-%m-%d", "monthly": "%Y-%m"}


def partition_key_problem(key: object) -> str | None:
    """Why ``key`` cannot be a partition key, or None: keys become one storage path segment."""
    if not isinstance(key, str):
        return f"partition key must be a string, got {type(key).__name__}"
    if not _KEY_RE.fullmatch(key):
        return (
            f"invalid partition key {key!r}: use 1-100 of letters, digits and _ . : + - "
            "(not starting with '.', '+', ':' or '-')"
        )
    return None


class Partitions(Protocol):
    """A set of ordered partition keys, possibly growing with time."""

    def keys(self, now: dt.datetime) -> tuple[str, ...]:
        """Every partition that exists at ``now``, in order."""
        ...


@dataclass(frozen=True, slots=True)
class TimePartitions:
    """One partition per hour, day or month from ``start`` (inclusive) to ``end`` (exclusive; default: open).

    A partition exists once its period has ended, so today's data is not built before today is over.
    Periods follow the wall clock of ``timezone``: a day is midnight to midnight there (23 or 25 hours on
    a DST change). An hour that occurs twice when clocks go back carries its UTC offset in its key.
    """

    unit: Unit
    start: dt.datetime
    end: dt.datetime | None = None
    timezone: str = "UTC"

    def _zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def _next(self, moment: dt.datetime) -> dt.datetime:
        """The start of the period after the one starting at ``moment`` (both aware, in the zone)."""
        zone = self._zone()
        if self.unit == "hourly":
            return (moment.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(zone)
        if self.unit == "daily":
            day = moment.date() + dt.timedelta(days=1)
            return dt.datetime.combine(day, dt.time(), zone)
        year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        return dt.datetime(year, month, 1, tzinfo=zone)

    def key(self, moment: dt.datetime) -> str:
        """The key of the period starting at ``moment``."""
        text = moment.strftime(_FORMATS[self.unit])
        if self.unit == "hourly" and _ambiguous(moment):
            offset = moment.strftime("%z")
            text += f"{offset[:3]}:{offset[3:]}"
        return text

    def periods(self, now: dt.datetime) -> Iterable[tuple[str, dt.datetime, dt.datetime]]:
        """(key, start, end) of every partition that has ended by ``now``, in order."""
        # compared in UTC: Python compares two times of one zone by their wall clocks, which repeat
        limit = _aware(now, "now").astimezone(dt.UTC)
        if self.end is not None:
            limit = min(limit, self.end.astimezone(dt.UTC))
        moment = self.start.astimezone(self._zone())
        while True:
            following = self._next(moment)
            if following.astimezone(dt.UTC) > limit:
                return
            yield self.key(moment), moment, following
            moment = following

    def keys(self, now: dt.datetime) -> tuple[str, ...]:
        return _time_keys(self, now)

    def period_start(self, moment: dt.datetime) -> dt.datetime:
        """The start of the period containing ``moment``."""
        local = _aware(moment, "moment").astimezone(self._zone())
        if self.unit == "hourly":
            return local.replace(minute=0, second=0, microsecond=0)
        if self.unit == "daily":
            return dt.datetime.combine(local.date(), dt.time(), self._zone())
        return dt.datetime(local.year, local.month, 1, tzinfo=self._zone())

    def key_at(self, moment: dt.datetime) -> str:
        """The key of the partition containing ``moment`` (e.g. a schedule's fire time)."""
        return self.key(self.period_start(moment))


@functools.lru_cache(maxsize=256)
def _time_keys(partitions: TimePartitions, now: dt.datetime) -> tuple[str, ...]:
    """Cached: a plan asks for the same definition's keys once per edge that reads it."""
    return tuple(key for key, _, _ in partitions.periods(now))


def _ambiguous(moment: dt.datetime) -> bool:
    """True when the wall-clock time of ``moment`` happens twice in its zone (clocks went back)."""
    naive = moment.replace(tzinfo=None)
    zone = moment.tzinfo
    return naive.replace(tzinfo=zone, fold=0).utcoffset() != naive.replace(tzinfo=zone, fold=1).utcoffset()


def _aware(moment: dt.datetime, what: str) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware, got {moment.isoformat()}")
    return moment


@dataclass(frozen=True, slots=True)
class StaticPartitions:
    """A fixed list of partitions, e.g. regions or customers; keys keep the declared order."""

    static_keys: tuple[str, ...]

    def keys(self, now: dt.datetime) -> tuple[str, ...]:
        return self.static_keys


@dataclass(frozen=True, slots=True)
class MultiPartitions:
    """Every combination of two dimensions (e.g. day x region); a key is ``'2026-03-02|DE'``."""

    dimensions: tuple[tuple[str, TimePartitions | StaticPartitions], ...]

    def keys(self, now: dt.datetime) -> tuple[str, ...]:
        (_, first), (_, second) = self.dimensions
        inner = second.keys(now)
        return tuple(f"{a}{SEPARATOR}{b}" for a in first.keys(now) for b in inner)

    def dimension(self, name: str) -> int:
        names = [n for n, _ in self.dimensions]
        if name not in names:
            raise KeyError(name)
        return names.index(name)


AnyPartitions = TimePartitions | StaticPartitions | MultiPartitions


# ---------------------------------------------------------------------------------------------- declaring


def _time(unit: Unit, start: str | dt.datetime, end: str | dt.datetime | None, timezone: str) -> TimePartitions:
    where = f"{unit}_partitions(start={start!r})"
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise DefinitionError(
            f"{where}: unknown timezone {timezone!r}; use an IANA name such as 'Europe/Berlin'"
        ) from None
    first, last = _moment(start, zone, where, "start"), None if end is None else _moment(end, zone, where, "end")
    declared = TimePartitions(unit, first, last, timezone)
    if declared.period_start(first) != first:
        raise DefinitionError(f"{where}: start must be the beginning of a {unit} period, e.g. {_EXAMPLES[unit]!r}")
    if last is not None and last.astimezone(dt.UTC) <= first.astimezone(dt.UTC):
        raise DefinitionError(f"{where}: end {end!r} must be after start")
    return declared


_EXAMPLES: dict[Unit, str] = {"hourly": "2026-01-01T00:00", "daily": "2026-01-01", "monthly": "2026-01-01"}


def _moment(value: str | dt.datetime, zone: zoneinfo.ZoneInfo, where: str, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.astimezone(zone) if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed.astimezone(zone) if parsed.tzinfo else parsed.replace(tzinfo=zone)
    raise DefinitionError(f"{where}: {name} must be an ISO date or datetime such as '2026-01-01', got {value!r}")


def hourly_partitions(
    start: str | dt.datetime, *, end: str | dt.datetime | None = None, timezone: str = "UTC"
) -> TimePartitions:
    """One partition per hour of ``timezone``'s wall clock, keyed ``'2026-03-02T05:00'``."""
    return _time("hourly", start, end, timezone)


def daily_partitions(
    start: str | dt.datetime, *, end: str | dt.datetime | None = None, timezone: str = "UTC"
) -> TimePartitions:
    """One partition per day (midnight to midnight in ``timezone``), keyed ``'2026-03-02'``."""
    return _time("daily", start, end, timezone)


def monthly_partitions(
    start: str | dt.datetime, *, end: str | dt.datetime | None = None, timezone: str = "UTC"
) -> TimePartitions:
    """One partition per calendar month, keyed ``'2026-03'``."""
    return _time("monthly", start, end, timezone)


def static_partitions(keys: Sequence[str]) -> StaticPartitions:
    """A fixed list of partition keys, e.g. ``static_partitions(['DE', 'FR', 'PL'])``."""
    if isinstance(keys, str) or not keys:
        raise DefinitionError(f"static_partitions: give a non-empty list of keys, got {keys!r}")
    problems = [p for k in keys if (p := partition_key_problem(k))]
    if problems:
        raise DefinitionError(f"static_partitions: {problems[0]}")
    duplicates = sorted({k for k in keys if list(keys).count(k) > 1})
    if duplicates:
        raise DefinitionError(f"static_partitions: duplicate keys {', '.join(map(repr, duplicates))}")
    return StaticPartitions(tuple(keys))


def multi_partitions(**dimensions: TimePartitions | StaticPartitions) -> MultiPartitions:
    """Two dimensions combined, e.g. ``multi_partitions(date=days, region=regions)``."""
    if len(dimensions) != 2 or not all(isinstance(d, (TimePartitions, StaticPartitions)) for d in dimensions.values()):
        raise DefinitionError(
            "multi_partitions: give exactly two named dimensions of time or static partitions, "
            "e.g. multi_partitions(date=daily_partitions('2026-01-01'), region=static_partitions(['DE', 'FR']))"
        )
    return MultiPartitions(tuple(dimensions.items()))


# ---------------------------------------------------------------------------------------------- mappings


class PartitionMapping(Protocol):
    """Which partitions of an upstream one downstream partition reads."""

    def upstream_keys(
        self, key: str | None, downstream: AnyPartitions | None, upstream: AnyPartitions, now: dt.datetime
    ) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Identity:
    """The same partition (the default between equal definitions); between a two-dimensional definition
    and one of its dimensions, the partitions that agree on that dimension."""

    def upstream_keys(
        self, key: str | None, downstream: AnyPartitions | None, upstream: AnyPartitions, now: dt.datetime
    ) -> tuple[str, ...]:
        if key is None or downstream is None:
            return upstream.keys(now)  # an unpartitioned asset reads every partition
        if downstream == upstream:
            return (key,)
        if isinstance(upstream, MultiPartitions) and not isinstance(downstream, MultiPartitions):
            index = _matching_dimension(upstream, downstream)
            return tuple(k for k in upstream.keys(now) if k.split(SEPARATOR)[index] == key)
        if isinstance(downstream, MultiPartitions) and not isinstance(upstream, MultiPartitions):
            return (key.split(SEPARATOR)[_matching_dimension(downstream, upstream)],)
        raise DefinitionError(
            "partitions differ between an asset and its upstream; declare how they map with deps_window=, "
            "deps_all= or deps_mapping="
        )


def _matching_dimension(multi: MultiPartitions, single: AnyPartitions) -> int:
    for index, (_, dimension) in enumerate(multi.dimensions):
        if dimension == single:
            return index
    raise DefinitionError(
        "partitions differ between an asset and its upstream and neither is a dimension of the other; "
        "declare how they map with deps_mapping="
    )


@dataclass(frozen=True, slots=True)
class Window:
    """The last ``size`` time partitions up to and including the downstream's (fewer at the start)."""

    size: int

    def upstream_keys(
        self, key: str | None, downstream: AnyPartitions | None, upstream: AnyPartitions, now: dt.datetime
    ) -> tuple[str, ...]:
        if key is None or downstream is None:
            raise DefinitionError("a window mapping needs a partitioned downstream asset")
        keys = upstream.keys(now)
        position = positions(upstream, now).get(key)
        if position is None:
            return ()
        return keys[max(0, position - self.size + 1) : position + 1]


@dataclass(frozen=True, slots=True)
class AllPartitions:
    """Every partition of the upstream (fan-in), e.g. a model trained on all days."""

    def upstream_keys(
        self, key: str | None, downstream: AnyPartitions | None, upstream: AnyPartitions, now: dt.datetime
    ) -> tuple[str, ...]:
        return upstream.keys(now)


@dataclass(frozen=True, slots=True)
class CustomMapping:
    """A declared function from a downstream key to the upstream keys it reads; every key it returns must
    exist upstream."""

    function: Callable[[str], Iterable[str]] = field(compare=False)
    name: str = ""

    def upstream_keys(
        self, key: str | None, downstream: AnyPartitions | None, upstream: AnyPartitions, now: dt.datetime
    ) -> tuple[str, ...]:
        if key is None:
            raise DefinitionError(f"mapping {self.name or self.function!r} needs a partitioned downstream asset")
        wanted = tuple(self.function(key))
        existing = positions(upstream, now)
        unknown = [k for k in wanted if k not in existing]
        if unknown:
            raise DefinitionError(
                f"mapping {self.name or getattr(self.function, '__name__', '?')!r} maps partition {key!r} to "
                f"{unknown[0]!r}, which the upstream does not have"
            )
        return wanted


@functools.lru_cache(maxsize=256)
def positions(partitions: AnyPartitions, now: dt.datetime) -> dict[str, int]:
    """Each key's position in ``partitions.keys(now)``, built once per definition and time."""
    return {k: i for i, k in enumerate(partitions.keys(now))}


def extent(partitions: AnyPartitions, now: dt.datetime) -> str:
    """Which partitions exist at ``now``, in a few words: '2026-01-01..2026-01-14 (14 partitions)'."""
    keys = partitions.keys(now)
    if not keys:
        return "no partitions yet"
    return f"{keys[0]}..{keys[-1]} ({len(keys)} partitions)" if len(keys) > 1 else f"{keys[0]} (1 partition)"


def identity() -> Identity:
    """Read the same partition of the upstream (the default)."""
    return Identity()


def window(size: int) -> Window:
    """Read the last ``size`` partitions of a time-partitioned upstream, up to this one."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise DefinitionError(f"window(size) takes a whole number of partitions >= 1, got {size!r}")
    return Window(size)


def all_partitions() -> AllPartitions:
    """Read every partition of the upstream (fan-in)."""
    return AllPartitions()


MAPPINGS = (Identity, Window, AllPartitions, CustomMapping)  # what ``partition_mapping=`` takes as it is

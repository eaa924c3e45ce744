"""The planner: which assets are stale and why. A pure function of the graph, the current versions and
the recorded provenance; it does no I/O, so the same logic re-checks an asset inside a running step.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .bulk import collector_paused
from .graph import AssetGraph
from .hashing import short
from .keys import asset_of
from .records import Head


class CauseKind(enum.StrEnum):
    MISSING = "MISSING"  # never built, or its stored output is gone
    CODE = "CODE"  # the code version changed
    DATA = "DATA"  # an input's data version differs from the one it was built from
    UPSTREAM = "UPSTREAM"  # an upstream asset is itself stale
    CHECK = "CHECK"  # a check must run on the current version (new or changed), or a blocking one failed there


@dataclass(slots=True, unsafe_hash=True)
class StaleCause:
    """One reason an asset is stale; ``input`` names the upstream for DATA and UPSTREAM causes, the check for
    CHECK causes (``old``/``new``: its code versions).

    Read-only by convention and shared between statuses, not ``frozen``: a frozen dataclass takes three times
    as long to create, and a plan with one root changed makes one per stale asset.
    """

    kind: CauseKind
    message: str
    input: str | None = None
    old: str | None = None
    new: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "message": self.message, "input": self.input, "old": self.old, "new": self.new}


@dataclass(slots=True)
class AssetStatus:
    """An asset's status: FRESH when ``causes`` is empty, otherwise STALE for those causes.

    Read-only by convention, not ``frozen``: a plan makes one per asset, and a frozen dataclass takes three
    times as long to create (a third of a 10k-asset plan).
    """

    key: str
    causes: tuple[StaleCause, ...]
    code_version: str
    data_version: str | None
    waiting_on: tuple[str, ...] = ()  # stale upstreams outside the selection: this run cannot make it fresh

    @property
    def stale(self) -> bool:
        return bool(self.causes)

    @property
    def label(self) -> str:
        """FRESH; CHECK when only checks are owed (they run on the current version, it is not rebuilt); STALE."""
        if not self.causes:
            return "FRESH"
        return "CHECK" if self.checks_only else "STALE"

    @property
    def checks_only(self) -> bool:
        """Stale only because checks must run on the current version (or a blocking one failed there)."""
        return bool(self.causes) and all(c.kind is CauseKind.CHECK for c in self.causes)

    @property
    def only_upstream(self) -> bool:
        """Stale solely because upstreams are stale: the case early cutoff may skip."""
        return bool(self.causes) and all(c.kind is CauseKind.UPSTREAM for c in self.causes)

    @property
    def waiting_message(self) -> str:
        """Why a run of this selection leaves the asset stale, and the selection that would not."""
        names = ", ".join(repr(k) for k in self.waiting_on)
        noun = "upstream" if len(self.waiting_on) == 1 else "upstreams"
        asset = asset_of(self.key)  # selections name the asset, partitions the range
        if asset != self.key:
            return f"waiting on stale {noun} {names} (not selected); select +{asset} over partitions including it"
        return f"waiting on stale {noun} {names} (not selected); select +{self.key} to rebuild it"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.label,
            "causes": [c.to_json() for c in self.causes],
            "code_version": self.code_version,
            "data_version": self.data_version,
            "waiting_on": list(self.waiting_on),
        }


@dataclass(frozen=True, slots=True)
class PendingChecks:
    """What an asset's checks owe its current version (``checks.pending_checks``): CHECK causes, and
    whether they hold its dependents back (a blocking check is owed, or failed there)."""

    causes: tuple[StaleCause, ...]
    gating: bool


@dataclass(frozen=True, slots=True)
class CurrentState:
    """What is true now, gathered at the edge: code on disk, recorded heads, observed sources, and what the
    asset checks owe each current version (only assets with checks appear in ``checks``)."""

    code_versions: Mapping[str, str]
    heads: Mapping[str, Head]
    source_versions: Mapping[str, str | None]
    missing_outputs: Collection[str] = frozenset()
    checks: Mapping[str, PendingChecks] = field(default_factory=dict)

    def data_version(self, key: str) -> str | None:
        """Current data version of an asset (its head) or a source (its observation)."""
        if key in self.source_versions:
            return self.source_versions[key]
        head = self.heads.get(key)
        return head.data_version if head is not None else None


_NO_CAUSES: tuple[StaleCause, ...] = ()
# Causes are immutable, so the common ones are made once and shared (a plan of 100k assets makes many).
_NEVER_MATERIALIZED = (StaleCause(CauseKind.MISSING, "never materialized"),)
_NONE_STALE: Mapping[str, StaleCause] = {}


_UPSTREAM = CauseKind.UPSTREAM  # an enum member read through its class costs more than making the cause


def upstream_cause(key: str) -> StaleCause:
    """The UPSTREAM cause that the dependents of stale asset ``key`` cite (one per stale key of a plan, made
    positionally: keyword arguments double the cost of creating it)."""
    return StaleCause(_UPSTREAM, f"upstream {key!r} is stale", key)


def assess(
    key: str,
    upstreams: tuple[str, ...],
    state: CurrentState,
    stale: Mapping[str, StaleCause] = _NONE_STALE,
    versions: Mapping[str, str | None] | None = None,
) -> AssetStatus:
    """One asset's status against ``state``; ``stale`` maps the upstreams known to be stale to their
    ``upstream_cause``; ``versions``, when given, holds every key's ``state.data_version`` (a plan's fast path)."""
    code_version = state.code_versions[key]
    head = state.heads.get(key)
    if head is None:
        return AssetStatus(key, _NEVER_MATERIALIZED, code_version, None)
    causes: list[StaleCause] = []
    if key in state.missing_outputs:
        causes.append(StaleCause(CauseKind.MISSING, f"stored output is gone: {head.location}"))
    if head.code_version != code_version:
        causes.append(
            StaleCause(
                CauseKind.CODE,
                f"code version changed: {short(head.code_version)} -> {short(code_version)}",
                old=head.code_version,
                new=code_version,
            )
        )
    recorded = head.input_versions
    data_version = state.data_version if versions is None else versions.get  # bound once: runs for every edge
    for up in upstreams:
        current = data_version(up)
        was = recorded.get(up)
        if current != was and (current is not None or up in state.source_versions):
            what = "source" if up in state.source_versions else "input"
            message = (
                f"{what} {up!r} has no data now"
                if current is None
                else f"new input {up!r}"
                if was is None
                else f"{what} {up!r} changed: {short(was)} -> {short(current)}"
            )
            causes.append(StaleCause(CauseKind.DATA, message, input=up, old=was, new=current))
        upstream_stale = stale.get(up)
        if upstream_stale is not None:
            causes.append(upstream_stale)
    pending = state.checks.get(key)
    if pending is not None:
        causes.extend(pending.causes)
    return AssetStatus(key, tuple(causes) if causes else _NO_CAUSES, code_version, head.data_version)


def _holds_back(status: AssetStatus, pending: PendingChecks | None) -> bool:
    """Whether an asset's dependents cite it as a stale upstream: it is stale for a reason other than
    checks, or a blocking check is owed or failed (a non-blocking check re-running holds nothing back)."""
    if not status.causes:
        return False
    return pending is None or pending.gating or not status.checks_only


@dataclass(frozen=True, slots=True)
class Plan:
    """Statuses of the selected assets in deterministic (topological) order."""

    statuses: tuple[AssetStatus, ...]

    @property
    def stale(self) -> tuple[AssetStatus, ...]:
        return tuple(s for s in self.statuses if s.causes)

    def counts(self) -> dict[str, int]:
        stale = sum(1 for s in self.statuses if s.causes)
        waiting = sum(1 for s in self.statuses if s.waiting_on)
        return {"assets": len(self.statuses), "stale": stale, "fresh": len(self.statuses) - stale, "waiting": waiting}

    def to_json(self) -> dict[str, Any]:
        """Stable machine-readable form (``lakeplan plan --json``)."""
        return {
            "schema": "lakeplan.plan/v1",
            "counts": self.counts(),
            "assets": [s.to_json() for s in self.statuses],
        }


def plan(graph: AssetGraph, state: CurrentState, selection: Collection[str] | None = None) -> Plan:
    """Statuses for ``selection`` (default: every asset), judging upstream staleness over the whole graph.

    A selected stale asset downstream of a stale asset the selection leaves out cannot be made fresh by
    running the selection; its ``waiting_on`` names the nearest such upstreams.
    """
    stale: set[str] = set()
    cited: dict[str, StaleCause] = {}  # upstream_cause of a stale key, made when a dependent first cites it

    def cite(up: str) -> StaleCause:
        cause = cited.get(up)
        if cause is None:
            cause = cited[up] = upstream_cause(up)
        return cause

    waiting: dict[str, tuple[str, ...]] = {}
    statuses: list[AssetStatus] = []
    append = statuses.append
    upstream = graph.upstream
    code_versions, heads, missing, checks = state.code_versions, state.heads, state.missing_outputs, state.checks
    current = _current_data_versions(state)
    with collector_paused():
        for key in graph.order:
            code = code_versions.get(key)
            if code is None:
                continue  # a source
            ups = upstream[key]
            head = heads.get(key)
            status = None
            # The common cases (never built, fresh, stale only through upstreams) take one dict lookup per
            # edge; anything else (output gone, new code, changed input data) is left to assess().
            if head is None:
                status = AssetStatus(key, _NEVER_MATERIALIZED, code, None)
            elif head.code_version == code and key not in missing:
                recorded = head.input_versions
                causes: tuple[StaleCause, ...] = _NO_CAUSES
                for up in ups:
                    if recorded.get(up) != current.get(up):
                        break
                    if up in stale:
                        causes += (cited.get(up) or cite(up),)
                else:
                    if checks and key in checks:
                        causes += checks[key].causes
                    status = AssetStatus(key, causes, code, head.data_version)
            if status is None:
                status = assess(key, ups, state, {up: cite(up) for up in ups if up in stale}, current)
            if status.causes and (not checks or _holds_back(status, checks.get(key))):
                stale.add(key)
            if selection is None:
                append(status)
            elif key in selection:
                if status.causes and (blockers := _blockers(ups, stale, selection, waiting)):
                    waiting[key] = blockers
                    status.waiting_on = blockers
                append(status)
    return Plan(tuple(statuses))


def _current_data_versions(state: CurrentState) -> dict[str, str | None]:
    """Every key's current data version (``CurrentState.data_version``) in one dict, for the fast path."""
    current: dict[str, str | None] = {key: head.data_version for key, head in state.heads.items()}
    current.update(state.source_versions)
    return current


def _blockers(
    upstreams: tuple[str, ...],
    stale: Collection[str],
    selection: Collection[str],
    waiting: Mapping[str, tuple[str, ...]],
) -> tuple[str, ...]:
    """The nearest stale upstreams outside ``selection``, directly or through selected upstreams."""
    found: set[str] = set()
    for up in upstreams:
        if up in stale:
            if up in selection:
                found.update(waiting.get(up, ()))
            else:
                found.add(up)
    return tuple(sorted(found))

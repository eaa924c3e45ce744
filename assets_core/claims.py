"""Claims: which run is building an asset right now, so a concurrent run waits for it instead of building it twice.

A step takes the asset's claim (a row in ``lp_claims``) before building and releases it after. The holder
renews its lease while it works; a claim whose lease ran out, or whose holder process on this machine is
gone (SIGKILL), is taken over, so a dead run never blocks the others for longer than one lease. A step with
a time limit (timeouts.py) is never renewed past its deadline: a hung step, even one stuck in C code that
cannot be interrupted, lets another run take the asset over once its time is up.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import StoreError
from .processes import process_alive, this_host
from .records import Head, Materialization

if TYPE_CHECKING:
    from .metadata_store import MetadataStore

LEASE_SECONDS = 30.0  # a holder that stops renewing (a lost pod) blocks others at most this long
_POLL_FIRST, _POLL_MAX = 0.05, 1.0  # waiting backoff: start, cap (seconds)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """``run_id``'s process ``holder`` ("host:pid") is building ``asset_key`` until ``expires_at`` unless renewed."""

    asset_key: str
    run_id: str
    holder: str
    claimed_at: float
    expires_at: float


def this_holder(pid: int | None = None) -> str:
    """This process (or process ``pid`` on this machine), as a claim and a run's record name its holder."""
    return f"{this_host()}:{os.getpid() if pid is None else pid}"


def holder_alive(holder: str) -> bool:
    """False only when the holder is a process on this machine that no longer exists (elsewhere: trust the lease)."""
    host, _, pid = holder.rpartition(":")
    return host != this_host() or not pid.isdigit() or process_alive(int(pid))


def supersedes(mine: Claim, current: Claim, now: float, alive: Callable[[str], bool] = holder_alive) -> bool:
    """Whether ``mine`` may replace ``current``: same run (a retried step), an expired lease, or a dead holder."""
    return current.run_id == mine.run_id or current.expires_at <= now or not alive(current.holder)


def _backoff(attempt: int) -> float:
    return float(min(_POLL_MAX, _POLL_FIRST * 1.5**attempt))


@dataclass(frozen=True, slots=True)
class ClaimRead:
    """What a step reads in the transaction that takes its claim, so it needs no read transaction of its own:
    the heads of ``keys``, and the earlier outputs it could restore for the recipe ``recipe`` computes from
    those heads (None: look none up)."""

    keys: Collection[str]
    recipe: Callable[[Mapping[str, Head]], str | None]


@dataclass(frozen=True, slots=True)
class Taken:
    """A claim taken, with what its ``ClaimRead`` read: ``reusable`` as ``reusable(key, recipe)`` returns it."""

    heads: dict[str, Head]
    recipe: str | None = None
    reusable: tuple[Materialization, ...] = ()


_NOTHING_READ = Taken({})


@dataclass(slots=True)
class Held:
    """A claim held for a block: which run was waited for first (None if it was free), what was read in the
    transaction that took it, whether the holder already released it inside its own record or failure
    transaction (saving a write), and the holder's deadline (``time.time()``; None: none now), past which
    the lease is not renewed."""

    claim: Claim
    waited_for: str | None
    taken: Taken = _NOTHING_READ
    released: bool = False
    deadline: float | None = None

    def lease_until(self, now: float, lease: float) -> float:
        """Where a renewal at ``now`` moves the lease: ``lease`` ahead, but never past the deadline."""
        return now + lease if self.deadline is None else min(now + lease, self.deadline)


@contextmanager
def claimed(
    store: MetadataStore, asset_key: str, run_id: str, lease: float = LEASE_SECONDS, read: ClaimRead | None = None
) -> Iterator[Held]:
    """Hold ``asset_key``'s claim for the block, waiting while another live run holds it; ``read`` is read in
    the transaction that takes it (``Held.taken``). A step with a time limit passes a ``lease`` no longer
    than it, so even the first lease ends by its deadline."""
    holder = this_holder()
    waited_for: str | None = None
    attempt = 0
    while True:
        now = time.time()
        mine = Claim(asset_key, run_id, holder, now, now + lease)
        current = store.claim(mine, functools.partial(supersedes, mine, now=now), read)
        if not isinstance(current, Claim):
            break
        if waited_for != current.run_id:
            log.info("waiting for run %s (%s), which is building %s", current.run_id, current.holder, asset_key)
        waited_for = current.run_id
        time.sleep(_backoff(attempt))
        attempt += 1
    held = Held(mine, waited_for, current)
    _renewer.add(store, held, lease)
    try:
        yield held
    finally:
        _renewer.remove(mine)
        if not held.released:
            with suppress(StoreError):  # an unreleased claim expires or is taken over; the result matters more
                store.release_claim(mine)


class _Renewer:
    """One thread per process extends the lease of every claim it holds, every third of the shortest lease,
    up to the holder's deadline (``Held.lease_until``).

    A thread per step would cost a start and a join on every asset; claims are held by few steps at a time.
    """

    def __init__(self) -> None:
        self._held: dict[Claim, tuple[MetadataStore, Held, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._tick = LEASE_SECONDS / 3  # how long the thread sleeps between renewals, for the leases it holds

    def add(self, store: MetadataStore, held: Held, lease: float) -> None:
        with self._lock:
            self._held[held.claim] = (store, held, lease)
            if self._thread is None or not self._thread.is_alive():
                self._tick = lease / 3
                self._thread = threading.Thread(target=self._run, name="lakeplan-claims", daemon=True)
                self._thread.start()
            elif lease / 3 < self._tick:  # only a shorter lease needs it sooner (waking it costs a thread switch)
                self._wake.set()

    def remove(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop(claim, None)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._tick)
            self._wake.clear()
            with self._lock:
                held = list(self._held.items())
                leases = (lease for _, _, lease in (entry for _, entry in held))
                self._tick = tick = min(leases, default=LEASE_SECONDS) / 3
            now = time.time()
            for claim, (store, holding, lease) in held:
                with self._lock:
                    if claim not in self._held:
                        continue  # released meanwhile
                until = holding.lease_until(now, lease)
                # a just-taken claim needs no renewal yet: it is renewed within two ticks of three
                if now - claim.claimed_at >= tick and until > now:
                    with suppress(StoreError):  # a failed renewal is retried at the next tick
                        store.renew_claim(claim, until)


_renewer = _Renewer()

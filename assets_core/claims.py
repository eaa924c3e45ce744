"""Claims: which run is building an asset right now, so a concurrent run waits for it instead of building it twice.

A step takes the asset's claim (a row in ``lp_claims``) before building and releases it after. The holder
renews its lease while it works; a claim whose lease ran out, or whose holder process on this machine is
gone (SIGKILL), is taken over, so a dead run never blocks the others for longer than one lease.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import StoreError

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


def this_holder() -> str:
    """This process, as a claim names its holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_alive(holder: str) -> bool:
    """False only when the holder is a process on this machine that no longer exists (elsewhere: trust the lease)."""
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def supersedes(mine: Claim, current: Claim, now: float, alive: Callable[[str], bool] = holder_alive) -> bool:
    """Whether ``mine`` may replace ``current``: same run (a retried step), an expired lease, or a dead holder."""
    return current.run_id == mine.run_id or current.expires_at <= now or not alive(current.holder)


def _replaces(mine: Claim, now: float, current: Claim) -> bool:
    return supersedes(mine, current, now)


def _backoff(attempt: int) -> float:
    return float(min(_POLL_MAX, _POLL_FIRST * 1.5**attempt))


@contextmanager
def claimed(store: MetadataStore, asset_key: str, run_id: str, lease: float = LEASE_SECONDS) -> Iterator[str | None]:
    """Hold ``asset_key``'s claim for the block, waiting while another live run holds it.

    Yields the run id that was waited for (None if the claim was free) so the caller can say so.
    """
    holder = this_holder()
    waited_for: str | None = None
    attempt = 0
    while True:
        now = time.time()
        mine = Claim(asset_key, run_id, holder, now, now + lease)
        current = store.claim(mine, functools.partial(_replaces, mine, now))
        if current is None:
            break
        if waited_for != current.run_id:
            log.info("waiting for run %s (%s), which is building %s", current.run_id, current.holder, asset_key)
        waited_for = current.run_id
        time.sleep(_backoff(attempt))
        attempt += 1
    stop = threading.Event()
    renewer = threading.Thread(
        target=_renew, args=(store, mine, lease, stop), name=f"lakeplan-claim-{asset_key}", daemon=True
    )
    renewer.start()
    try:
        yield waited_for
    finally:
        stop.set()
        renewer.join()
        with suppress(StoreError):  # an unreleased claim expires or is taken over; the step's result matters more
            store.release_claim(mine)


def _renew(store: MetadataStore, mine: Claim, lease: float, stop: threading.Event) -> None:
    """Extend the lease every third of it until ``stop``; a failed renewal is retried at the next tick."""
    while not stop.wait(lease / 3):
        with suppress(StoreError):
            store.renew_claim(mine, time.time() + lease)

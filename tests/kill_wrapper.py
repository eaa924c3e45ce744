"""Run the lakeplan CLI with one fault injected: SIGKILL this very process at a chosen point.

    python tests/kill_wrapper.py POINT N lakeplan-args...

No hook lives in product code: the function at POINT is monkeypatched here, before the CLI starts,
and the process kills itself (no cleanup, no ``finally``, like a node dying) on the Nth time it gets there.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, BinaryIO


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Countdown:
    def __init__(self, n: int) -> None:
        self.left = n

    def hit(self, amount: int = 1) -> bool:
        self.left -= amount
        return self.left <= 0


def _patch(
    owner: Any, name: str, countdown: _Countdown, when: str, only: Callable[..., bool] = lambda *a, **k: True
) -> None:
    """Kill at the Nth call of ``owner.name`` for which ``only(args)`` holds: before it runs, or after it returned."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not only(*args, **kwargs):
            return original(*args, **kwargs)
        if when == "before" and countdown.hit():
            die()
        result = original(*args, **kwargs)
        if when == "after" and countdown.hit():
            die()
        return result

    setattr(owner, name, wrapper)


class _DyingFile:
    """A writable file that kills the process once ``countdown`` bytes went through it (mid-write)."""

    def __init__(self, inner: BinaryIO, countdown: _Countdown) -> None:
        self._inner = inner
        self._countdown = countdown

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if self._countdown.hit(size):
            keep = size + self._countdown.left  # write only part of this chunk, then die
            self._inner.write(bytes(memoryview(data).cast("B")[: max(keep, 0)]))
            self._inner.flush()
            die()
        return self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _DyingReader:
    """A file being uploaded that kills the process once ``after`` bytes were read from it (mid-transfer)."""

    def __init__(self, inner: BinaryIO, after: int) -> None:
        self._inner = inner
        self._left = after

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            die()
        data = self._inner.read(size if size >= 0 else self._left)
        self._left -= len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _install_lakefs(point: str, countdown: _Countdown) -> None:
    """Points inside the lakeFS store: mid-upload, before / after the asset's commit, before / after the merge."""
    from io_managers.lakefs_store import LakeFSStore

    if point == "lakefs-upload":  # the Nth object upload dies after 256 KiB of its body went out
        original = LakeFSStore._raw

        def raw(self: Any, method: str, resource: str, query: dict[str, str], **kwargs: Any) -> Any:
            if "body" in kwargs and countdown.hit():
                kwargs["body"] = _DyingReader(kwargs["body"], 256 * 1024)
            return original(self, method, resource, query, **kwargs)

        LakeFSStore._raw = raw  # type: ignore[method-assign]
    elif point in ("lakefs-commit-before", "lakefs-merge-before", "lakefs-merge-after"):
        action = "commit " if "commit" in point else "merge run branch "
        when = point.rsplit("-", 1)[1]
        _patch(LakeFSStore, "_call", countdown, when, only=lambda _self, what, *a, **k: what.startswith(action))
    elif point == "lakefs-commit-after":  # committed on lakeFS, not yet recorded in the metadata store
        _patch(LakeFSStore, "commit", countdown, "after")
    else:
        raise SystemExit(f"unknown fault point {point!r}")


def install(point: str, n: int) -> None:
    import io_managers.files
    from assets_core.metadata_store import MetadataStore

    countdown = _Countdown(n)
    if point == "write-bytes":  # N = bytes written into stored files before dying
        original = io_managers.files.write  # what the file IO manager calls to serialize a value

        def write(value: object, fmt: str, out: BinaryIO) -> dict[str, Any]:
            return original(value, fmt, _DyingFile(out, countdown))  # type: ignore[arg-type]

        io_managers.files.write = write
    elif point in ("publish-before", "publish-after"):  # the rename that makes a stored file visible
        _patch(os, "replace", countdown, point.rsplit("-", 1)[1])
    elif point == "record-uncommitted":  # inside the record transaction, row inserted, not committed
        _patch(MetadataStore, "_insert", countdown, "after")
    elif point == "record-after":  # recorded and committed, before the run moves on
        _patch(MetadataStore, "record", countdown, "after")
    elif point == "claim-held":  # claim taken, nothing built yet
        _patch(MetadataStore, "claim", countdown, "after")
    elif point == "finish-run":  # every asset done, run bookkeeping not yet written
        _patch(MetadataStore, "finish_run", countdown, "before")
    elif point.startswith("lakefs-"):
        _install_lakefs(point, countdown)
    elif point != "none":
        raise SystemExit(f"unknown fault point {point!r}")


if __name__ == "__main__":
    point, count, *argv = sys.argv[1:]
    install(point, int(count))
    from assets_core.cli.main import main

    sys.exit(main(argv))

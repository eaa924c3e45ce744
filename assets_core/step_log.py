"""What an asset's code prints, captured for its record instead of mixed into lakeplan's own output.

While a step runs, Python-level writes (``print``, ``sys.stdout``, ``sys.stderr``, logging) and writes
to file descriptors 1 and 2 (C extensions, ``os.write(1, ...)``, subprocesses the asset starts) all go
to one file; afterwards its tail, secrets masked, is the step's log. So ``materialize --json`` keeps a
clean stdout, and ``lakeplan logs ASSET`` shows what the asset printed, failed attempts included.

Descriptors belong to the whole process: lakeplan's own lines written from another thread during a
capture (the progress ticker beside an in-process step) go around it through ``to_terminal``. What a
user's module prints while it is imported is not a step's: ``stdout_to_stderr`` sends it to stderr.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import functools
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from .masking import mask_text

MAX_LOG_BYTES = 64 * 1024  # the tail kept per attempt; the start of a longer output is dropped, and said so
_LINE_SEARCH = 4096  # a tail starts at the next line when one begins this close to the cut
_STREAMS = (1, 2)  # stdout, stderr

_lock = threading.RLock()  # capture start/end and lakeplan's own writes around a capture
_terminal: dict[int, int] = {}  # fd -> a duplicate of where it pointed before the outermost capture


@dataclass
class Captured:
    """The output of one capture: ``text`` is set when the capture ends (also when its block raised), and
    stays None when it never began (Ctrl-C before it did)."""

    text: str | None = None


@contextmanager
def captured(result: Captured, path: Path | None = None) -> Iterator[None]:
    """Capture everything this process writes to stdout and stderr during the block into ``result``.

    ``path``: the file to capture into (the caller reads it with ``read_log`` if this process dies in the
    block, as a worker's parent does); by default an anonymous temporary file.
    """
    sink: BinaryIO = tempfile.TemporaryFile() if path is None else open(path, "w+b")  # noqa: SIM115
    with sink:
        try:
            with _redirected(sink.fileno()):
                yield
        finally:
            result.text = _tail(sink)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what this process writes to stdout during the block (Python-level and to descriptor 1) to
    stderr: a user's module that prints while it is imported must not break ``--json`` on stdout either."""
    target = _duplicate(2)
    if target is None:  # no stderr to send it to
        yield
        return
    try:
        with _redirected(target, (1,)):
            yield
    finally:
        os.close(target)


@contextmanager
def _redirected(fd: int, numbers: tuple[int, ...] = _STREAMS) -> Iterator[None]:
    """Point descriptors ``numbers`` (1 and 2) and the matching ``sys.stdout``/``sys.stderr`` at ``fd``;
    restore them afterwards, whatever ends the block (an exception, ``sys.exit``, Ctrl-C, even one landing
    while they are set up)."""
    replaced = sys.stdout, sys.stderr
    saved: dict[int, int] = {}  # the descriptors redirected so far, and where each pointed
    outermost = False
    try:
        _flush(*replaced, sys.__stdout__, sys.__stderr__)
        with _lock:
            outermost = not _terminal
            for n in numbers:
                copy = _duplicate(n)
                if copy is None:  # closed: it stays so, and writing to it fails as before
                    continue
                saved[n] = copy
                if outermost:
                    _terminal[n] = copy
                os.dup2(fd, n)
        sys.stdout, sys.stderr = (_unbuffered(n) if n in numbers else replaced[n - 1] for n in _STREAMS)
        yield
    finally:
        sys.stdout, sys.stderr = replaced
        # What the code wrote to the streams it found, still buffered, belongs to the capture too.
        _flush(*replaced, sys.__stdout__, sys.__stderr__)
        with _lock:
            for n, copy in saved.items():
                os.dup2(copy, n)
                os.close(copy)
            if outermost:
                _terminal.clear()


def _unbuffered(fd: int) -> TextIO:
    """A text stream that writes straight to descriptor ``fd``: in order with what C code and subprocesses
    write there, and harmless when the asset keeps it (a logging handler) after the capture: its later
    writes land wherever ``fd`` then points, the next step's capture included."""
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)


def _duplicate(fd: int) -> int | None:
    """A new descriptor for where ``fd`` points, numbered above 2 (never in the slot of a closed stdout or
    stderr, which the capture would then overwrite), or None when ``fd`` is not open."""
    try:
        return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:
        return None


def _flush(*streams: TextIO | None) -> None:
    """Flush Python's ``streams`` and C's stdio buffers (``printf`` in an extension is fully buffered when
    its stdout is not a terminal): what was written before a capture's boundary lands on that side of it."""
    for stream in streams:
        with contextlib.suppress(Exception):  # closed, detached, or None (no console)
            stream.flush()  # type: ignore[union-attr]
    libc = _libc()
    if libc is not None:
        libc.fflush(None)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library of this process, whose ``fflush(NULL)`` flushes every C output stream (None: none found)."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def to_terminal(line: str, out: TextIO) -> None:
    """Print one of lakeplan's own lines to ``out``; while a step's output is captured in this process,
    to where ``out``'s descriptor pointed before, so it neither lands in the asset's log nor is lost."""
    with _lock:
        fd = _fileno(out)
        target = _terminal.get(fd) if fd is not None else None
        if target is None:
            print(line, file=out, flush=True)
            return
        data = (line + "\n").encode(getattr(out, "encoding", None) or "utf-8", errors="backslashreplace")
        while data:
            data = data[os.write(target, data) :]


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation (StringIO) is both
        return None


def read_log(path: Path) -> str | None:
    """The log captured into ``path`` by a process that died before it could store it (None: no file)."""
    try:
        with open(path, "rb") as sink:
            return _tail(sink)
    except FileNotFoundError:
        return None


def _tail(sink: BinaryIO, limit: int = MAX_LOG_BYTES) -> str:
    """The last ``limit`` bytes of what ``sink`` holds, from a line start when one is near, led by a line
    saying how much was dropped; secrets masked."""
    size = sink.seek(0, os.SEEK_END)
    start = max(0, size - limit)
    sink.seek(start)
    data = sink.read()
    if start:
        newline = data.find(b"\n", 0, _LINE_SEARCH)
        cut = newline + 1 if newline >= 0 else _continuation_bytes(data)
        data, start = data[cut:], start + cut
    text = data.decode("utf-8", errors="replace")
    dropped = f"[... {start} bytes earlier dropped]\n" if start else ""
    return mask_text(dropped + text)


def _continuation_bytes(data: bytes) -> int:
    """How many bytes at the start of ``data`` finish a UTF-8 character begun before it (at most 3)."""
    count = 0
    while count < min(3, len(data)) and data[count] & 0xC0 == 0x80:
        count += 1
    return count

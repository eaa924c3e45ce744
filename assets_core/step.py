"""Materializing one asset. The one function every executor calls: in-process, worker processes and
the Argo pod (``lakeplan step``).

It re-checks the asset against the store first (so a retried or duplicated step does nothing twice),
reuses an identical earlier output when one exists, otherwise runs the user's function, writes the
value atomically and records provenance with compare-and-set. Whatever the user's code does to end
(raise, ``sys.exit``, return a None it is not annotated to return, Ctrl-C, run past its time limit) is
recorded as a failed attempt with the traceback of the user's code (see failures.py, timeouts.py).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import re
import time
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .claims import LEASE_SECONDS, ClaimRead, Held, claimed
from .code_version import user_file_predicate
from .context import collecting
from .definitions import AssetDef
from .errors import CorruptedOutput, LakeplanError, MissingOutput, StoreError
from .failures import Failure, describe
from .metadata_store import RecordConflict
from .planner import CurrentState, assess
from .records import Head, Materialization, MaterializationKind, recipe_of
from .step_log import Captured, appended, captured
from .timeouts import StepTimedOut, TimeLimit, effective_timeout
from .values import commit, make_current, output_exists, read_inputs, write_output
from .workspace import Workspace

if TYPE_CHECKING:
    from io_managers.version_store import Observation


class Outcome(enum.StrEnum):
    BUILT = "built"  # computed and recorded
    RESTORED = "restored"  # an identical earlier output was reused
    FRESH = "fresh"  # nothing to do (early cutoff, or someone else built it)
    CONFLICT = "conflict"  # another writer recorded a newer version first; ours was discarded
    FAILED = "failed"  # the user's code raised (after retries)
    SKIPPED = "skipped"  # an upstream failed, so this was not attempted
    WAITING = "waiting"  # still stale: an upstream outside the run's selection is stale
    CHECKED = "checked"  # only its checks ran, on the current version (they changed, or were asked for)


@dataclass(frozen=True, slots=True)
class StepResult:
    key: str
    outcome: Outcome
    seconds: float = 0.0
    data_version: str | None = None
    message: str = ""
    attempts: int = 0
    traceback: str | None = None  # a failure's traceback of the user's code, as recorded with the attempt
    log: str | None = None  # what the asset's code printed (step_log.py), as recorded with the attempt
    log_recorded: bool = True  # False: ``log`` is only shown ('lakeplan logs' has nothing): a check-only step

    def to_json(self) -> dict[str, Any]:
        """The stable form ``materialize --json`` and the pod's ``step`` line print."""
        return {
            "key": self.key,
            "outcome": self.outcome.value,
            "seconds": round(self.seconds, 3),
            "data_version": self.data_version,
            "message": self.message,
            "traceback": self.traceback,
        }


INTERRUPTED = "interrupted by Ctrl-C"  # the reason of every asset a Ctrl-C stopped, wherever it landed


class StepInterrupted(KeyboardInterrupt):
    """Ctrl-C reached the asset's code: the attempt is recorded as failed; the run must stop, not go on."""

    def __init__(self, result: StepResult) -> None:
        super().__init__(result.message)
        self.result = result


def failure_in(ws: Workspace, fn: Callable[..., Any], exc: BaseException, reason: str | None = None) -> Failure:
    """``exc`` raised by the user's ``fn`` (an asset or a check), described at the innermost frame of the
    user's code (``fn``'s own file at least)."""
    own = fn.__code__.co_filename
    in_project = user_file_predicate(ws.settings.project_root)
    return describe(exc, lambda f: f == own or in_project(f), ws.settings.project_root, reason)


def _failure(ws: Workspace, asset: AssetDef, exc: BaseException, reason: str | None = None) -> Failure:
    return failure_in(ws, asset.fn, exc, reason)


def _exit_reason(exc: SystemExit) -> str:
    return f"SystemExit: the asset called sys.exit({exc.code!r}); return its value, or raise an exception to fail it"


def _may_be_none(annotation: object) -> bool:
    """Whether a return annotation admits ``None``: none at all, ``None``, ``Any``/``object``, a TypeVar,
    ``Optional[...]``/``X | None``, or a string (unresolvable here) that mentions one of them."""
    if annotation is None or annotation is type(None) or annotation is Any or annotation is object:
        return True
    if isinstance(annotation, TypeVar):
        return True
    if isinstance(annotation, str):
        return re.search(r"\b(None|Optional|Any|object)\b", annotation) is not None
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _may_be_none(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return any(_may_be_none(arg) for arg in typing.get_args(annotation))
    if origin is typing.Literal:
        return None in typing.get_args(annotation)
    return False


def _annotation_text(annotation: object) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation).replace("typing.", "")


def _call(
    ws: Workspace, asset: AssetDef, kwargs: dict[str, Any], retries: bool, clock: TimeLimit
) -> tuple[Any, dict[str, Any], int] | Failure:
    """Run the user's function with its declared retries: (value, user metadata, attempts), or why it failed.

    ``sys.exit()`` fails the asset without retrying (it was meant, not flaky); Ctrl-C is left to the caller.
    An attempt past its time limit fails like a raised exception; a retry gets a new ``clock`` (the first
    attempt's was started before its inputs were read).
    """
    attempts = asset.retries + 1 if retries else 1
    for attempt in range(1, attempts + 1):
        try:
            with collecting(ws.instance(asset.key).partition) as user_metadata:
                value = asset.fn(**kwargs)
        except SystemExit as exc:
            return _failure(ws, asset, exc, _exit_reason(exc))
        except (Exception, StepTimedOut) as exc:
            clock.stop()
            reason = clock.message if isinstance(exc, StepTimedOut) else None
            if attempt == attempts:
                return _failure(ws, asset, exc, reason)
            time.sleep(ws.settings.retry_backoff_seconds * 2 ** (attempt - 1))
            clock.start()
            continue
        if value is None and not _may_be_none(asset.return_annotation):
            return Failure(
                f"asset {asset.key!r} returned None but is annotated -> {_annotation_text(asset.return_annotation)}; "
                "return a value, or annotate it Optional[...] if None is a valid result"
            )
        return value, user_metadata, attempt
    raise AssertionError("unreachable")  # pragma: no cover


def materialize(
    ws: Workspace,
    key: str,
    run_id: str,
    *,
    force: bool = False,
    retries: bool = True,
    waiting: str = "",
    on_deadline: Callable[[float | None], None] | None = None,
    log_path: Path | None = None,
) -> StepResult:
    """Bring one asset up to date; store failures raise StoreError, user failures return FAILED.

    Holds the asset's claim throughout, so a concurrent run building the same asset is waited for (and
    then usually finds it FRESH) instead of building it twice. ``waiting`` says which stale upstreams the
    run does not build (``AssetStatus.waiting_message``): the asset is then not up to date even when its
    own inputs are unchanged, so it is reported WAITING, never FRESH. ``on_deadline`` hears each attempt's
    deadline (None when none runs), e.g. a worker's parent, which kills a worker that does not stop. What
    the asset's code prints is captured (into ``log_path`` when given, for a parent to read should this
    process die) and recorded.
    """
    limit = timeout_of(ws, key)
    lease = LEASE_SECONDS if limit is None else min(LEASE_SECONDS, limit)
    upstreams = ws.planned.upstream[key]
    code_version = ws.code_version(key).version
    recipe = functools.partial(_recipe_to_restore, key, upstreams, None if force else code_version)
    with claimed(ws.store, key, run_id, lease, ClaimRead((key, *upstreams), recipe)) as held:

        def deadline(at: float | None) -> None:
            held.deadline = at  # the claim's lease never outlives the attempt's deadline
            if on_deadline is not None:
                on_deadline(at)

        with TimeLimit(limit, deadline) as clock:
            result = _materialize(ws, key, run_id, held, clock, force=force, retries=retries, log_path=log_path)
    notes = [f"waited for run {held.waited_for}"] if held.waited_for is not None else []
    if waiting and result.outcome is Outcome.FRESH:
        result = dataclasses.replace(result, outcome=Outcome.WAITING, message=waiting)
    elif waiting and result.outcome in (Outcome.BUILT, Outcome.RESTORED, Outcome.CHECKED):
        notes.append(f"still stale: {waiting}")
    if not notes:
        return result
    return dataclasses.replace(result, message="; ".join([*notes, result.message]).rstrip("; "))


def timeout_of(ws: Workspace, key: str) -> int | None:
    """Seconds one attempt at ``key`` may run: its own ``timeout``, else the project's, else None (no limit)."""
    return effective_timeout(ws.asset(key).timeout, ws.settings.timeout)


def _recipe_to_restore(
    key: str, upstreams: tuple[str, ...], code_version: str | None, heads: Mapping[str, Head]
) -> str | None:
    """The recipe whose earlier outputs a step reads with its claim, judged from the recorded heads alone
    (sources as the asset last read them); None when nothing needs looking up now: forced
    (``code_version`` None), up to date as far as the heads say, or, never built, it reads a source or an
    upstream with no head (its recipe is known only once observed)."""
    if code_version is None:
        return None
    head = heads.get(key)
    recorded = head.input_versions if head is not None else {}
    inputs = {}
    for up in upstreams:
        found = heads.get(up)
        version = found.data_version if found is not None else recorded.get(up)
        if version is None and head is None:
            return None
        if version is not None:
            inputs[up] = version
    if head is not None and code_version == head.code_version and inputs == head.input_versions:
        return None
    return recipe_of(code_version, inputs)


def _restorable(ws: Workspace, key: str, held: Held, recipe: str) -> Iterable[Materialization]:
    """Earlier outputs with ``recipe``: those read with the claim when it was the recipe looked up then (a
    source or a lakeFS object changed since the asset was built, or its output is gone, make it another)."""
    taken = held.taken
    if taken.recipe == recipe:
        return taken.reusable
    return ws.store.reusable(key, recipe)


def _materialize(
    ws: Workspace,
    key: str,
    run_id: str,
    held: Held,
    clock: TimeLimit,
    *,
    force: bool,
    retries: bool,
    log_path: Path | None,
) -> StepResult:
    from .check_step import blocked, check_current, check_output

    started = time.time()
    asset = ws.asset(key)
    upstreams = ws.planned.upstream[key]
    seen = ws.observe([key, *upstreams], run_id, heads=held.taken.heads)
    heads, sources = seen.heads, seen.sources
    code = ws.code_version(key)
    head = heads.get(key)
    owed = ws.owed_checks({key: head}) if head is not None else {}
    state = CurrentState({key: code.version}, heads, sources, seen.missing, owed)
    status = assess(key, upstreams, state)
    if not force and not status.stale:
        return StepResult(
            key,
            Outcome.FRESH,
            time.time() - started,
            head.data_version if head else None,
            "up to date: code and inputs unchanged",
        )
    if not force and head is not None and status.checks_only:  # its checks changed: check, don't rebuild
        return check_current(ws, asset, head, run_id, started, clock)

    for up in upstreams:
        if state.data_version(up) is None:
            what = "source" if up in sources else "upstream asset"
            hint = "check its path" if up in sources else f"materialize it first (--select +{key})"
            reason = f"{what} {up!r} has no data; {hint}"
            return _failed(ws, asset, run_id, started, code.version, {}, Failure(reason), held=held)
    input_versions = {up: v for up in upstreams if (v := state.data_version(up)) is not None}
    expected = head.id if head is not None else None

    def record(
        kind: MaterializationKind,
        data_version: str,
        location: str,
        metadata: dict[str, Any],
        attempts: int = 0,
        log: str | None = None,
    ) -> StepResult:
        mat = Materialization(
            key,
            run_id,
            kind,
            code.version,
            input_versions,
            data_version,
            location,
            started,
            time.time(),
            metadata,
            None,
            code.components,
            log=log,
        )
        inputs_at = {
            up: seen.origins.get(up) or heads[up].location for up in input_versions if up in heads or up in seen.origins
        }
        mat = commit(ws, mat, inputs_at)  # the version store's own commit (lakeFS), before the SQL record
        checked = check_output(ws, asset, run_id, mat.data_version, mat.location, clock, rerun=force)
        if checked is not None and checked.log:  # what the checks printed follows what the asset printed
            log = appended(log, checked.log)
            mat = dataclasses.replace(mat, log=log)
        if checked is not None and checked.blocking:  # never made current; the output is kept where it is
            return blocked(ws, dataclasses.replace(mat, kind=MaterializationKind.FAILED), checked, started)
        make_current(ws, mat)  # the IO manager's own "current" (a PostgreSQL view), before the SQL record
        try:
            ws.store.record(mat, expected, release=held.claim, checks=checked.results if checked else ())
        except RecordConflict:
            return StepResult(
                key,
                Outcome.CONFLICT,
                time.time() - started,
                mat.data_version,
                "another run recorded this asset first; its version was kept",
                log=log,  # shown by the progress lines; not recorded, as nothing of this attempt is
            )
        held.released = True  # the record transaction dropped the claim
        outcome = Outcome.BUILT if kind is MaterializationKind.BUILT else Outcome.RESTORED
        warned = checked.message if checked else ""
        return StepResult(key, outcome, time.time() - started, mat.data_version, warned, attempts=attempts, log=log)

    own = seen.unrecorded.get(key)  # this run already wrote it (a killed attempt): record it, don't rebuild
    same_recipe = own is not None and (own.code_version, own.input_versions) == (code.version, input_versions)
    if own is not None and same_recipe and own.data_version and own.location:
        return record(MaterializationKind.BUILT, own.data_version, own.location, {**own.metadata, "adopted": True})

    if not force:
        for earlier in _restorable(ws, key, held, recipe_of(code.version, input_versions)):
            if earlier.location and earlier.data_version and output_exists(ws, earlier.location, earlier.data_version):
                meta = {**earlier.metadata, "restored_from": earlier.id}
                return record(MaterializationKind.RESTORED, earlier.data_version, earlier.location, meta)

    def failed(failure: Failure, log: str | None) -> StepResult:
        return _failed(ws, asset, run_id, started, code.version, input_versions, failure, log, held)

    output = Captured()
    try:
        with captured(output, log_path):  # recorded after the capture: the descriptors are back by then
            clock.start()  # the attempt's time: reading the inputs, running the function, storing the value
            try:
                built = _build(ws, asset, seen, run_id, retries, clock)
            finally:
                clock.stop()  # recording below, and ending the capture, are never cut short
    except StepTimedOut as exc:  # while reading the inputs or storing the value
        built = _failure(ws, asset, exc, clock.message)
    except KeyboardInterrupt as exc:  # Ctrl-C while reading, computing or writing: record it, then stop the run
        raise StepInterrupted(failed(_failure(ws, asset, exc, INTERRUPTED), output.text)) from None
    if isinstance(built, Failure):
        return failed(built, output.text)
    location, data_version, metadata, attempts = built
    return record(MaterializationKind.BUILT, data_version, location, metadata, attempts, output.text)


def _build(
    ws: Workspace, asset: AssetDef, seen: Observation, run_id: str, retries: bool, clock: TimeLimit
) -> tuple[str, str, dict[str, Any], int] | Failure:
    """Read the inputs, run the function (with retries) and store its value: (stored object, metadata,
    attempts), or why it failed. Runs under the step's clock; store failures raise StoreError."""
    try:
        kwargs = read_inputs(ws, asset, seen)
    except (CorruptedOutput, MissingOutput) as exc:  # the upstream now plans as MISSING; only this branch fails
        return Failure(f"cannot read inputs: {exc}")
    except StoreError:
        raise
    except Exception as exc:  # a source the user's reader or pandas cannot parse
        return _failure(ws, asset, exc, f"cannot read inputs: {_reason(exc)}")
    called = _call(ws, asset, kwargs, retries, clock)
    if isinstance(called, Failure):
        return called
    value, user_metadata, attempts = called
    try:
        location, data_version, metadata = write_output(ws, asset, value, run_id)
    except StoreError:
        raise
    except Exception as exc:  # e.g. a column pyarrow cannot type, or an unpicklable object
        return _failure(ws, asset, exc, f"cannot store the value: {_reason(exc)}")
    return location, data_version, {**metadata, **user_metadata, "attempts": attempts}, attempts


def _reason(exc: Exception) -> str:
    """Our own errors already read as a sentence; anything else is named by its type."""
    return str(exc) if isinstance(exc, LakeplanError) else f"{type(exc).__name__}: {exc}"


def _failed(
    ws: Workspace,
    asset: AssetDef,
    run_id: str,
    started: float,
    code_version: str,
    input_versions: dict[str, str],
    failure: Failure,
    log: str | None = None,
    held: Held | None = None,
) -> StepResult:
    """Record a failed attempt (releasing ``held``'s claim in the same transaction) and say why it failed."""
    ws.store.record_failure(
        Materialization(
            asset.key,
            run_id,
            MaterializationKind.FAILED,
            code_version,
            input_versions,
            started_at=started,
            finished_at=time.time(),
            error=failure.message,
            traceback=failure.traceback,
            log=log,
        ),
        release=held.claim if held is not None else None,
    )
    if held is not None:
        held.released = True
    seconds = time.time() - started
    return StepResult(asset.key, Outcome.FAILED, seconds, message=failure.message, traceback=failure.traceback, log=log)


def record_lost(
    ws: Workspace, key: str, run_id: str, started: float, reason: str, log: str | None = None
) -> StepResult:
    """Record a failed attempt for a step whose process died before it could (a worker's ``os._exit``),
    with what its code had printed when the caller has it (``step_log.read_log``)."""
    asset = ws.asset(key)
    return _failed(ws, asset, run_id, started, ws.code_version(key).version, {}, Failure(reason), log)

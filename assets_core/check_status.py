"""What an asset's checks owe its current version, as a pure function of the declarations, the checks' code
versions and the results recorded on that version; the planner adds it as CHECK causes.

A check result is a fact about one data version and one version of the check's code, as an output is of
its recipe: while both are unchanged the recorded result stands (a check that raised runs again).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .checks import AssetCheck
from .hashing import short
from .partition_summary import runs
from .planner import CauseKind, PendingChecks, StaleCause
from .records import CheckRecord
from .timeouts import TIMED_OUT


def blocks(record: CheckRecord) -> bool:
    """A result that keeps its version from becoming current: failed, from a blocking check, severity error."""
    return record.blocking and not record.passed and record.severity == "error"


def blocking_failures(records: Sequence[CheckRecord]) -> list[CheckRecord]:
    """The newest result of each (asset, check) among ``records`` (oldest first) that blocks its version."""
    newest = {(r.asset_key, r.check_name): r for r in records}
    return [r for r in newest.values() if blocks(r)]


def verdict_text(record: CheckRecord) -> str:
    """One line for a result: ``failed (negative_rows=3)`` or the error a check raised."""
    if record.error:
        return record.error if record.error.startswith(TIMED_OUT) else f"raised {record.error}"
    shown = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in sorted(record.metadata.items()))
    state = "passed" if record.passed else "failed" if record.severity == "error" else "warned"
    return f"{state} ({shown})" if shown else state


def pending_checks(
    checks: Sequence[AssetCheck], versions: Mapping[str, str], recorded: Sequence[CheckRecord]
) -> PendingChecks | None:
    """What the checks of one asset still owe its current version: a check whose current code has no result
    on it must run; a blocking check whose result failed there keeps dependents waiting. ``recorded``: the
    results on that version (any code version), oldest first. None when every check is settled."""
    latest: dict[tuple[str, str], CheckRecord] = {(r.check_name, r.code_version): r for r in recorded}
    causes: list[StaleCause] = []
    gating = False
    for check in checks:
        version = versions[check.name]
        result = latest.get((check.name, version))
        if result is not None and result.error is None:
            if check.blocking and not result.passed and result.severity == "error":
                causes.append(
                    StaleCause(
                        CauseKind.CHECK,
                        f"blocking check {check.name!r} {verdict_text(result)} on this version",
                        input=check.name,
                    )
                )
                gating = True
            continue
        earlier = [r.code_version for r in recorded if r.check_name == check.name and r.code_version != version]
        if result is not None:
            message = f"check {check.name!r} raised on this version ({result.error}); it runs again"
        elif earlier:
            message = f"check {check.name!r} changed: {short(earlier[-1])} -> {short(version)}"
        else:
            message = f"check {check.name!r} has not run on this version"
        causes.append(
            StaleCause(CauseKind.CHECK, message, input=check.name, old=earlier[-1] if earlier else None, new=version)
        )
        gating = gating or check.blocking
    return PendingChecks(tuple(causes), gating) if causes else None


def latest_results(
    checks: Sequence[AssetCheck], versions: Mapping[str, str], recorded: Sequence[CheckRecord]
) -> list[dict[str, object]]:
    """Each declared check's newest result on one version (``recorded``, oldest first), as JSON: its
    ``current`` flag says whether it was run by the check's current code (null result: never ran)."""
    newest = {r.check_name: r for r in recorded}
    shown: list[dict[str, object]] = []
    for check in checks:
        result = newest.get(check.name)
        base = {"check": check.name, "blocking": check.blocking, "code_version": versions[check.name]}
        if result is None:
            shown.append({**base, "passed": None, "severity": None, "metadata": {}, "error": None, "current": False})
            continue
        current = result.code_version == versions[check.name]
        shown.append(
            {
                **base,
                "passed": result.passed,
                "severity": result.severity,
                "metadata": result.metadata,
                "error": result.error,
                "current": current,
            }
        )
    return shown


def summary_text(results: Sequence[Mapping[str, object]]) -> str:
    """One cell for a table: ``2/2 passed``, or the checks that did not pass and those not run yet."""
    failed = [str(r["check"]) for r in results if r["passed"] is False]
    owed = [str(r["check"]) for r in results if r["passed"] is None or not r["current"]]
    if not failed and not owed:
        return f"{len(results)}/{len(results)} passed"
    parts = [f"failed: {', '.join(failed)}"] if failed else []
    parts += [f"to run: {', '.join(owed)}"] if owed else []
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class AcrossPartitions:
    """One check of a partitioned asset over the partitions that have a current version: how many passed,
    failed, and still have to run (never run, raised, or run by older check code); the failed as ranges."""

    check: str
    blocking: bool
    partitions: int
    passed: int
    failed: int
    to_run: int
    failed_ranges: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "check": self.check,
            "blocking": self.blocking,
            "partitions": self.partitions,
            "passed": self.passed,
            "failed": self.failed,
            "to_run": self.to_run,
            "failed_ranges": list(self.failed_ranges),
        }

    @property
    def text(self) -> str:
        """For a table cell: ``13/14 passed, 1 failed (2026-01-05)``."""
        where = ", ".join(self.failed_ranges[:4])
        where += f", ... ({len(self.failed_ranges)} ranges)" if len(self.failed_ranges) > 4 else ""
        parts = [f"{self.passed}/{self.partitions} passed"]
        parts += [f"{self.failed} failed ({where})"] if self.failed else []
        parts += [f"{self.to_run} to run"] if self.to_run else []
        return ", ".join(parts)


def across_partitions(
    checks: Sequence[AssetCheck],
    results: Mapping[str, Sequence[Mapping[str, object]]],
    order: Mapping[str, int],
) -> list[AcrossPartitions]:
    """Each check of a partitioned asset summed over its partitions; ``results``: ``latest_results`` by
    partition key, ``order``: each partition key's position."""
    summary = []
    for check in checks:
        states: dict[str, str] = {}
        for partition, shown in results.items():
            result = next(r for r in shown if r["check"] == check.name)
            owed = result["passed"] is None or not result["current"] or result["error"] is not None
            states[partition] = "to_run" if owed else "passed" if result["passed"] else "failed"
        counted = Counter(states.values())
        failed = [p for p, state in states.items() if state == "failed"]
        summary.append(
            AcrossPartitions(
                check.name,
                check.blocking,
                len(states),
                counted["passed"],
                counted["failed"],
                counted["to_run"],
                runs(failed, order),
            )
        )
    return summary


def newest_results(records: Iterable[CheckRecord]) -> list[CheckRecord]:
    """The newest result of each check (records come oldest first)."""
    return list({r.check_name: r for r in records}.values())


def check_changes(old: Sequence[CheckRecord], new: Sequence[CheckRecord]) -> dict[str, tuple[str | None, str | None]]:
    """Checks whose result differs between two versions: name -> (A's verdict, B's verdict)."""
    before = {r.check_name: verdict_text(r) for r in newest_results(old)}
    after = {r.check_name: verdict_text(r) for r in newest_results(new)}
    names = sorted(before.keys() | after.keys())
    return {n: (before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)}

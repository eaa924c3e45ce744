"""Records kept by the metadata store: runs and materializations (the provenance of every output)."""

from __future__ import annotations

import enum
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .hashing import mapping_hash, structured_hash


class MaterializationKind(enum.StrEnum):
    """How a materialization came to be: computed, reused from an identical earlier one, rolled back to,
    or failed (a failure never becomes an asset's current version)."""

    BUILT = "built"
    RESTORED = "restored"
    ROLLBACK = "rollback"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Materialization:
    """One attempt to produce an asset, with everything needed to explain or reproduce it."""

    asset_key: str
    run_id: str
    kind: MaterializationKind
    code_version: str
    input_versions: dict[str, str]
    data_version: str | None = None
    location: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    code_components: dict[str, str] = field(default_factory=dict)
    id: int | None = None
    traceback: str | None = None  # a failed attempt's traceback of the user's code (lakeplan's frames trimmed)
    # What the asset's code printed (step_log.py): "" when nothing; None when its code did not run here, the
    # output was lost with its process, or it was not read (only MetadataStore.attempts reads it).
    log: str | None = None


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One asset check's result on one materialization's output; ``error`` is what the check raised, if it
    did (then it counts as failed). ``data_version`` is the checked output's, filled when read back."""

    asset_key: str
    check_name: str
    run_id: str
    code_version: str
    passed: bool
    severity: str
    blocking: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    materialization_id: int | None = None
    data_version: str | None = None
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable form every ``--json`` output uses for a check result."""
        return {
            "check": self.check_name,
            "asset": self.asset_key,
            "passed": self.passed,
            "severity": self.severity,
            "blocking": self.blocking,
            "metadata": self.metadata,
            "error": self.error,
            "code_version": self.code_version,
            "run_id": self.run_id,
            "materialization_id": self.materialization_id,
            "data_version": self.data_version,
        }


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C: the asset it was building failed, nothing after it started


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One ``materialize`` (or Argo workflow) run and its outcome counts."""

    run_id: str
    started_at: float
    status: RunStatus
    selection: str
    finished_at: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)


class Head(NamedTuple):
    """An asset's current materialization, as the planner and steps need it: a plain row (a tuple with
    names), because a plan reads one per asset and a frozen dataclass costs twice as much to build."""

    id: int
    data_version: str
    code_version: str
    input_versions: dict[str, str]
    location: str
    run_id: str


def recipe_of(code_version: str, input_versions: dict[str, str]) -> str:
    """What determines an output: the code version and every input's data version (for memoized restore)."""
    return structured_hash(["recipe", code_version, mapping_hash("inputs", input_versions)])


def new_run_id() -> str:
    """A run id that sorts by start time and is unique across machines: ``20261121-093000-a1b2c3``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)

"""User-facing errors: each one is a single line naming the problem and the fix.

The CLI prints ``LakeplanError`` as ``error: <message>`` with no traceback (unless ``--debug``) and exits
with the error's ``exit_code``; anything else is a bug in lakeplan and keeps its traceback.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ExitCode(enum.IntEnum):
    """Process exit codes; the Argo step uses them to tell user failures from infrastructure ones."""

    OK = 0
    RUN_FAILED = 1  # the user's asset code raised
    USAGE = 2  # bad definitions, configuration or command line
    INFRASTRUCTURE = 3  # the store, storage or network failed


class LakeplanError(Exception):
    """Base of every error caused by the user's input or environment, not by a lakeplan bug."""

    exit_code: ExitCode = ExitCode.USAGE


class DefinitionError(LakeplanError):
    """An asset, source or schedule is declared wrongly (raised at import of the user's module)."""


class GraphError(LakeplanError):
    """The asset graph is invalid; carries every problem found so the user fixes them in one pass."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = sorted(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            message = f"{len(self.problems)} problems in the asset graph:\n{lines}"
        super().__init__(message)


class SelectionError(LakeplanError):
    """A ``--select`` expression names nothing that exists."""


class ConfigError(LakeplanError):
    """``[tool.lakeplan]`` or a ``LAKEPLAN_*`` environment variable is invalid."""


class UserCodeError(LakeplanError):
    """Importing the user's module failed; the message points at the user's own line."""


class StoreError(LakeplanError):
    """The metadata store or the object storage cannot be used."""

    exit_code = ExitCode.INFRASTRUCTURE


class CorruptedOutput(StoreError):
    """A stored output's bytes no longer hash to its recorded data version; it was moved aside."""


class MissingOutput(StoreError):
    """A recorded output is gone from storage: its asset plans as MISSING; only what reads it fails."""


class StepFailed(LakeplanError):
    """An asset's own code raised (after its retries)."""

    exit_code = ExitCode.RUN_FAILED

"""What a compiled manifest and the in-pod commands agree on, kept free of hera so pods start fast.

A schedule's plan task writes the stale keys as one space-padded line; each asset task's ``when`` looks
for `` key `` in it. Keys are '/'-separated identifiers, so they hold no spaces or regex metacharacters.
Every pod records under the workflow's name as run id; the exit handler gets the workflow's status.
"""

from __future__ import annotations

from collections.abc import Iterable

PLAN_TASK = "plan"
STALE_PARAMETER = "stale"
STALE_PATH = "/tmp/lakeplan-stale.txt"
KEY_PARAMETER = "asset"
RUN_ID = "{{workflow.name}}"  # every pod of one workflow run records under the workflow's name
EXIT_TEMPLATE = "finish-run"  # the exit handler: publishes and records the run once the DAG is done
WORKFLOW_STATUS = "{{workflow.status}}"  # what Argo passes the exit handler: one of WORKFLOW_STATUSES
WORKFLOW_SUCCEEDED = "Succeeded"
WORKFLOW_STATUSES = (WORKFLOW_SUCCEEDED, "Failed", "Error")


def stale_tokens(keys: Iterable[str]) -> str:
    """The plan task's output: `` a b c `` (a single space when nothing is stale)."""
    return " " + "".join(f"{key} " for key in keys)


def when_stale(key: str) -> str:
    """The ``when`` condition that runs an asset's task only if the plan task listed it."""
    return f"'{{{{tasks.{PLAN_TASK}.outputs.parameters.{STALE_PARAMETER}}}}}' =~ ' {key} '"

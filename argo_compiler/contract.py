"""What a compiled manifest and the in-pod commands agree on, kept free of hera so pods start fast.

A plan task writes the stale keys of its part as one space-padded line; each asset task's ``when`` is an
expression tag that tests for `` key `` in it. Argo resolves ``{{=...}}`` before it evaluates ``when``
(workflow/controller/dag.go: resolveDependencyReferences -> util/template ReplaceStrictAny, expressions with
expr-lang over util/expr/env.GetFuncMap), so a skipped node's message is "when 'false' evaluated false",
not the whole stale list. Keys are '/'-separated identifiers, so they hold no spaces or quotes.
The top-level workflow's pods record under its name as run id; a part's pods under the ``run-id`` parameter
its parent passes. Every run starts with the plan task, which checks the image's graph for the selection
against the compiled graph's digest and, when only some of the selection was compiled, that every stale key
has a task (``task_mask``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import PurePosixPath

from assets_core.graph import AssetGraph
from assets_core.hashing import structured_hash

PLAN_TASK = "plan"
STALE_PARAMETER = "stale"
STALE_PATH = "/tmp/lakeplan-stale.txt"
KEY_PARAMETER = "asset"
RUN_ID = "{{workflow.name}}"  # every pod of one workflow run records under the workflow's name
RUN_ID_PARAMETER = "run-id"  # a part (child Workflow) records under its parent's name, passed as this parameter
PART_RUN_ID = "{{workflow.parameters.run-id}}"
# Every run's one argument: what its plan task lists, the stale keys or all of them, so one deployed
# WorkflowTemplate serves both (``argo submit --from workflowtemplate/NAME -p build=all``).
BUILD_PARAMETER = "build"
BUILD = "{{workflow.parameters.build}}"
BUILD_CHOICES = ("stale", "all")
EXIT_TEMPLATE = "finish-run"  # the exit handler: publishes and records the run once the DAG is done
WORKFLOW_STATUS = "{{workflow.status}}"  # what Argo passes the exit handler: one of WORKFLOW_STATUSES
WORKFLOW_SUCCEEDED = "Succeeded"
WORKFLOW_STATUSES = (WORKFLOW_SUCCEEDED, "Failed", "Error")
# Partitions. Every pod of a partitioned project expands the graph at the same ``now`` (which partitions exist):
# the workflow's creation time, or a CronWorkflow run's fire time. Both are RFC 3339 (workflow/controller/
# operator.go setGlobalParameters: CreationTimestamp.Format(time.RFC3339); the ``workflows.argoproj.io/
# scheduled-time`` annotation, written by workflow/common/convert.go ConvertCronWorkflowToWorkflowWithProperties
# as scheduledTime.Format(time.RFC3339)). On a run not started by a CronWorkflow the controller leaves
# ``{{workflow.scheduledTime}}`` as it is (util/variables/keys/runtime.go), which the pods refuse in one line.
CREATED = "{{workflow.creationTimestamp}}"
SCHEDULED = "{{workflow.scheduledTime}}"
NOW_PARAMETER = "now"  # a part (child Workflow) gets its parent's ``now``: children are created at other times
PART_NOW = "{{workflow.parameters.now}}"
# The plan task writes, per partitioned asset, a JSON list of batches of its partition keys to build (one file,
# one output parameter named as the asset's task); the task fans out over it with ``withParam``, one pod per
# batch, each given its batch as the ``partitions`` parameter (keys joined by ``,``: partition keys hold none).
PARTITIONS_PARAMETER = "partitions"
BATCH_SEPARATOR = ","


def stale_tokens(keys: Iterable[str]) -> str:
    """The plan task's output: `` a b c `` (a single space when nothing is stale)."""
    return " " + "".join(f"{key} " for key in keys)


def fan_out_file(task: str) -> str:
    """The file the plan task writes the batches of ``task``'s asset to, next to its ``--output``."""
    return f"lakeplan-partitions-{task}.json"


def fan_out_path(task: str) -> str:
    """That file in the plan pod (its output parameter's ``valueFrom.path``)."""
    return str(PurePosixPath(STALE_PATH).parent / fan_out_file(task))


def fan_out_items(task: str) -> str:
    """The ``withParam`` of a partitioned asset's task: the batches the plan task listed for it."""
    return f"{{{{tasks.{PLAN_TASK}.outputs.parameters.{task}}}}}"


def batches(partitions: Sequence[str], count: int) -> list[str]:
    """``partitions`` (in order) as at most ``count`` consecutive batches of near-equal size, each its keys joined
    by ``BATCH_SEPARATOR``: one pod per batch, so a backfill of 10k partitions stays within the size budget."""
    if not partitions:
        return []
    size, extra = divmod(len(partitions), min(count, len(partitions)))
    found, start = [], 0
    for index in range(min(count, len(partitions))):
        end = start + size + (1 if index < extra else 0)
        found.append(BATCH_SEPARATOR.join(partitions[start:end]))
        start = end
    return found


def when_stale(key: str) -> str:
    """The ``when`` condition that runs an asset's task only if the plan task listed it (resolves to true/false)."""
    return f"{{{{=tasks.{PLAN_TASK}.outputs.parameters.{STALE_PARAMETER} contains ' {key} '}}}}"


def graph_digest(graph: AssetGraph, keys: Sequence[str], waits: Mapping[str, Sequence[str]] | None = None) -> str:
    """A digest of what was compiled: the keys in order and which of them each waits for (``waits``: already
    computed ``graph.nearest_among(keys)``)."""
    waits = graph.nearest_among(keys) if waits is None else waits
    return structured_hash(["argo-graph", json.dumps([[key, list(waits[key])] for key in keys])])[:16]


def ordered_selection(graph: AssetGraph, keys: Iterable[str]) -> list[str]:
    """``keys`` in the graph's order: how the compiler and the plan task both number a selection."""
    wanted = set(keys)
    return [k for k in graph.order if k in wanted]


def task_mask(selection: Sequence[str], compiled: Collection[str]) -> str:
    """Which keys of ``selection`` (graph order) have a task, one bit each (1.3 KB of text for 10k keys): the
    plan task of a run compiled for some of them (``--plan-here``) checks that every stale key has one."""
    bits = bytearray((len(selection) + 7) // 8)
    for index, key in enumerate(selection):
        if key in compiled:
            bits[index >> 3] |= 1 << (index & 7)
    return base64.urlsafe_b64encode(bytes(bits)).decode()


def masked(selection: Sequence[str], mask: str) -> list[str]:
    """The keys of ``selection`` whose bit ``mask`` sets (``task_mask`` read back); ValueError if malformed."""
    bits = base64.urlsafe_b64decode(mask.encode())
    if len(bits) != (len(selection) + 7) // 8:
        raise ValueError(f"a task mask for {len(bits) * 8} keys, not {len(selection)}")
    return [key for index, key in enumerate(selection) if bits[index >> 3] >> (index & 7) & 1]

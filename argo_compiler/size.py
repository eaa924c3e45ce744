"""How large a compiled object grows while it runs: Argo keeps spec *and* status in one object, and refuses it
once its JSON passes 1 MiB.

The controller measures ``json.Marshal(workflow)`` against ``MAX_WORKFLOW_SIZE`` (default 1024*1024) and fails
the workflow with "workflow is longer than maximum allowed size" (workflow/packer/packer.go: getSize,
IsLargeWorkflow, compressWorkflow; before failing it gzips ``status.nodes``, which lakeplan counts only as
headroom). A run's object holds the spec (or, when started from a WorkflowTemplate or CronWorkflow, the
template's spec copied into ``status.storedWorkflowTemplateSpec``: workflow/controller/operator.go,
setStoredWfSpec), one NodeStatus per node (pkg/apis/workflow/v1alpha1/workflow_types.go: NodeStatus, filled by
operator.go initializeNode), a Retry node above each pod of a template with a retryStrategy
(operator.go: processNodeRetries), a Skipped node whose message repeats the substituted ``when``
(workflow/controller/dag.go: executeDAGTask), and ``taskResultsCompletionStatus`` per pod.

``projected_size`` builds that object as the controller would at completion and measures its JSON: a model,
not a measurement of a cluster, deliberately generous (long timestamps, host names, resource durations).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from .render import templates_of

NAME_SUFFIX = "-x7k2p"  # what generateName adds (Kubernetes: 5 random characters)
CRON_SUFFIX = "-1764470460"  # what a CronWorkflow adds to its runs' names (a unix time)
CONTROLLER_LABELS = {"workflows.argoproj.io/phase": "Succeeded", "workflows.argoproj.io/completed": "true"}
_TIME = "2026-11-30T02:21:46Z"
_HOST = "ip-10-120-13-201.eu-central-1.compute.internal"


def _encoded(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def node_status(
    workflow: str, name: str, kind: str, template: str, phase: str, **extra: Any
) -> tuple[str, dict[str, Any]]:
    """One node of ``status.nodes`` as the controller fills it: (id, NodeStatus), generous where it varies."""
    node_id = f"{workflow}-{zlib.crc32(name.encode()):010d}"
    node: dict[str, Any] = {
        "id": node_id,
        "name": name,
        "displayName": name.rsplit(".", 1)[-1],
        "type": kind,
        "templateName": template,
        "templateScope": f"local/{workflow}",
        "phase": phase,
        "boundaryID": f"{workflow}-0000000000",
        "startedAt": _TIME,
        "finishedAt": _TIME,
        "children": [f"{workflow}-0000000001"],
        **extra,
    }
    if kind == "Pod":
        node.update(
            progress="1/1",
            resourcesDuration={"cpu": 12, "memory": 95},
            hostNodeName=_HOST,
            taskResultSynced=True,
        )
        node.setdefault("outputs", {}).setdefault("exitCode", "0")
    return node_id, node


def _spec_of(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    spec: Mapping[str, Any] = manifest.get("spec", {})
    inner: Mapping[str, Any] = spec.get("workflowSpec", spec)
    return inner


def _entry_tasks(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = _spec_of(manifest)
    entry = next((t for t in templates_of(dict(manifest)) if t.get("name") == spec.get("entrypoint")), {})
    tasks: list[dict[str, Any]] = entry.get("dag", {}).get("tasks", [])
    return tasks


def _fan_out_pods(templates: Mapping[str, Any]) -> int:
    """The most batches the plan task lists per partitioned asset (its ``--fan-out``)."""
    args = templates.get("plan", {}).get("container", {}).get("args", [])
    return int(args[args.index("--fan-out") + 1]) if "--fan-out" in args else 0


def status_nodes(
    manifest: Mapping[str, Any], workflow: str, stale: float, partition_bytes: Mapping[str, int] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The nodes of a finished run in which a ``stale`` share of the gated tasks ran, and of the partitions of
    each fan-out (``partition_bytes``: per partitioned asset, its keys joined); and the pod node ids.

    A fan-out task is a TaskGroup node and, per batch, a Retry and a Pod node whose name (``task(i:batch)``:
    dag.go expandTask, operator.go generateNodeName), display name and inputs each repeat the batch's keys."""
    templates = {t["name"]: t for t in templates_of(dict(manifest))}
    tasks = _entry_tasks(manifest)
    fan_outs = {t["name"]: t for t in tasks if "withParam" in t}
    pods_per_fan_out = _fan_out_pods(templates)
    gated = [t for t in tasks if "when" in t]
    running = round(len(gated) * stale)
    ran = {t["name"] for t in gated[:running]} | {t["name"] for t in tasks if "when" not in t}
    keys = [p["value"] for t in gated[:running] for p in t.get("arguments", {}).get("parameters", [])]
    keys += [_asset_of(t) for t in fan_outs.values()]
    nodes: dict[str, Any] = {}
    pods: list[str] = []
    line = " " + " ".join(keys) + " "  # what the plan task wrote
    batches = {}  # per fan-out task, the batches its plan output lists (generous: keys of a typical length)
    for name, task in fan_outs.items():
        text = round((partition_bytes or {}).get(_asset_of(task), 0) * stale)
        count = min(pods_per_fan_out, text // 8) if text else 0
        batches[name] = ["k" * max(text // count - 1, 1) for _ in range(count)] if count else []

    def pod(name: str, template_name: str, **extra: Any) -> None:
        template = templates.get(template_name, {})
        if "retryStrategy" in template:
            retry_id, retry = node_status(workflow, name, "Retry", template_name, "Succeeded", **extra)
            nodes[retry_id] = retry
            name += "(0)"
        node_id, node = node_status(workflow, name, "Pod", template_name, "Succeeded", **extra)
        nodes[node_id] = node
        pods.append(node_id)

    root_id, root = node_status(workflow, workflow, "DAG", _spec_of(manifest).get("entrypoint", ""), "Succeeded")
    nodes[root_id] = root
    for task in tasks:
        name, template_name = f"{workflow}.{task['name']}", task.get("template", "")
        inputs = {"inputs": task["arguments"]} if "arguments" in task else {}
        if task["name"] in fan_outs:
            found = batches[task["name"]]
            kind, phase = ("TaskGroup", "Succeeded") if found else ("Skipped", "Skipped")
            node_id, node = node_status(workflow, name, kind, template_name, phase)
            nodes[node_id] = node
            for index, batch in enumerate(found):
                arguments = [
                    {**p, "value": batch} if p["value"] == "{{item}}" else p for p in inputs["inputs"]["parameters"]
                ]
                pod(f"{name}({index}:{batch})", template_name, inputs={"parameters": arguments})
            continue
        if task["name"] not in ran:
            node_id, node = node_status(
                workflow, name, "Skipped", template_name, "Skipped", message="when 'false' evaluated false", **inputs
            )
            nodes[node_id] = node
            continue
        outputs = templates.get(template_name, {}).get("outputs", {}).get("parameters", [])
        values = {"outputs": {"parameters": [{"name": p["name"], "value": line} for p in outputs]}}
        pod(name, template_name, **inputs, **(values if outputs else {}))
    if _spec_of(manifest).get("onExit"):
        pod(f"{workflow}.onExit", _spec_of(manifest)["onExit"])
    return nodes, pods


def _asset_of(task: Mapping[str, Any]) -> str:
    return str(task["arguments"]["parameters"][0]["value"])


def projected_size(
    manifest: Mapping[str, Any], stale: float = 1.0, partition_bytes: Mapping[str, int] | None = None
) -> int:
    """Bytes of JSON of the running object a manifest becomes, at completion, when a ``stale`` share (0..1) of
    its plan-gated tasks ran (ungated tasks always run) and of each fan-out's partitions (``partition_bytes``:
    see ``status_nodes``). A CronWorkflow is its own small object; the Workflows it starts are the
    WorkflowTemplate it references (project that)."""
    kind = manifest.get("kind")
    meta = dict(manifest.get("metadata", {}))
    name = (meta.get("name") or meta.get("generateName", "wf-").rstrip("-")) + (
        CRON_SUFFIX if kind == "CronWorkflow" else NAME_SUFFIX
    )
    meta.update(
        name=name,
        uid="0b6f0c1e-5a4c-4c8e-9a55-3f5a1f7b2e10",
        resourceVersion="123456789",
        generation=42,
        creationTimestamp=_TIME,
        labels={**meta.get("labels", {}), **CONTROLLER_LABELS},
    )
    if kind == "CronWorkflow":
        cron_status = {"active": [], "lastScheduledTime": _TIME, "conditions": [], "succeeded": 1000, "phase": "Active"}
        return _encoded({**manifest, "metadata": meta, "status": cron_status})
    nodes, pods = status_nodes(manifest, name, stale, partition_bytes)
    status: dict[str, Any] = {
        "phase": "Succeeded",
        "startedAt": _TIME,
        "finishedAt": _TIME,
        "progress": f"{len(pods)}/{len(pods)}",
        "nodes": nodes,
        "conditions": [{"type": "PodRunning", "status": "False"}, {"type": "Completed", "status": "True"}],
        "resourcesDuration": {"cpu": 12 * len(pods), "memory": 95 * len(pods)},
        "taskResultsCompletionStatus": dict.fromkeys(pods, True),
    }
    if kind == "WorkflowTemplate":  # run by reference: a small spec, the template's spec stored in the status
        status["storedWorkflowTemplateSpec"] = manifest.get("spec", {})
        spec = {"workflowTemplateRef": {"name": meta.get("name")}, "arguments": manifest["spec"].get("arguments", {})}
        run = {"apiVersion": manifest.get("apiVersion"), "kind": "Workflow", "metadata": meta, "spec": spec}
        return _encoded({**run, "status": status})
    return _encoded({**manifest, "metadata": meta, "status": status})


def size_lines(
    manifests: Sequence[Mapping[str, Any]],
    documents: Sequence[str],
    shares: Sequence[float],
    partition_bytes: Mapping[str, int] | None = None,
) -> list[str]:
    """One line per object: YAML bytes and projected running bytes at each stale share."""
    lines = []
    for manifest, document in zip(manifests, documents, strict=True):
        meta = manifest.get("metadata", {})
        label = f"{manifest.get('kind')} {meta.get('name') or meta.get('generateName', '')}"
        running = ", ".join(
            f"{share:.0%} stale {projected_size(manifest, share, partition_bytes):,}" for share in shares
        )
        tasks = len(_entry_tasks(manifest))
        lines.append(f"{label}: {tasks} tasks, YAML {len(document.encode()):,} B, running {running} B")
    return lines

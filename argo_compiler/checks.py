"""Checks the Argo JSON schema cannot express: references (tasks, templates, onExit, the WorkflowTemplates a
CronWorkflow or a part task runs) resolve, names are valid and unique, no secret values, projected size.

``problems(manifests)`` returns every problem found (empty when all is well); the compiler runs it on
its own output and the tests run it on every manifest kind.
"""

from __future__ import annotations

import graphlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

from . import depends
from .compiler import Manifest, dump
from .render import templates_of, to_model
from .size import projected_size

SIZE_LIMIT = 1024 * 1024  # MAX_WORKFLOW_SIZE's default (workflow/packer/packer.go: getMaxWorkflowSize)
FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")  # Argo's rule for task and template names
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_INPUT_REF = re.compile(r"\{\{inputs\.parameters\.([-A-Za-z0-9_]+)\}\}")
_TASK_REF = re.compile(r"\{\{=?\s*tasks\.([-A-Za-z0-9]+)\.")
_CREDENTIAL_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")  # a literal start: re scans for it, not per letter
# every {{...}} tag lakeplan writes (contract.py, compiler.py); keys are '/'-separated identifiers
_OWN_TAG = re.compile(
    r"\{\{(?:inputs\.parameters\.[-a-z]+|workflow\.(?:name|status|parameters\.(?:run-id|build|now)"
    r"|creationTimestamp|scheduledTime)|item|tasks\.plan\.outputs\.parameters\.[-a-z0-9]+"
    r"|=tasks\.plan\.outputs\.parameters\.stale contains ' [A-Za-z0-9_/]+ ')\}\}"
)
_SECRET_ENV = re.compile(r"(URL|TOKEN|KEY|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)


def _containers(manifest: Manifest) -> Iterator[dict[str, Any]]:
    for template in templates_of(manifest):
        for kind in ("container", "script"):
            if kind in template:
                yield template[kind]


def _name_problems(manifest: Manifest, where: str) -> list[str]:
    meta = manifest.get("metadata", {})
    name = meta.get("name") or (meta.get("generateName", "").rstrip("-") or None)
    limit = 52 if manifest.get("kind") == "CronWorkflow" else 63
    if name is None:
        return [f"{where}: neither metadata.name nor metadata.generateName"]
    if not DNS_SUBDOMAIN.fullmatch(name) or len(name) > limit:
        return [f"{where}: invalid object name {name!r} (lowercase DNS name of at most {limit} characters)"]
    return []


def _created_template(template: dict[str, Any]) -> str | None:
    """The WorkflowTemplate a ``resource`` template's child Workflow is created from, if any."""
    manifest = template.get("resource", {}).get("manifest")
    if not manifest:
        return None
    child = yaml.safe_load(manifest)
    name = child.get("spec", {}).get("workflowTemplateRef", {}).get("name") if isinstance(child, dict) else None
    return name if isinstance(name, str) else None


def _argument(task: dict[str, Any], reference: str) -> str:
    """``reference`` with a ``{{inputs.parameters.X}}`` replaced by the task's argument X."""
    match = _INPUT_REF.fullmatch(reference)
    if match is None:
        return reference
    values = {p["name"]: p.get("value") for p in task.get("arguments", {}).get("parameters", [])}
    return str(values.get(match.group(1)))


def _dag_problems(manifest: Manifest, where: str, library: dict[str, Manifest]) -> list[str]:
    problems: list[str] = []
    names = {t.get("name") for t in templates_of(manifest)}
    spec = manifest.get("spec", {})
    spec = spec.get("workflowSpec", spec)
    ref = spec.get("workflowTemplateRef")
    if ref is not None:  # the run's spec is the referenced WorkflowTemplate's
        if ref.get("name") not in library:
            return [f"{where}: workflowTemplateRef to {ref.get('name')!r}, which is not compiled with it"]
        spec = library[ref["name"]]["spec"]
    entry = spec.get("entrypoint")
    if entry is not None and ref is None and entry not in names:
        problems.append(f"{where}: entrypoint {entry!r} is not a template")
    on_exit = spec.get("onExit")
    if on_exit is not None and ref is None and on_exit not in names:
        problems.append(f"{where}: onExit {on_exit!r} is not a template")
    if on_exit is None and manifest.get("kind") in ("Workflow", "CronWorkflow"):
        problems.append(f"{where}: no onExit handler, so its run would never be published or recorded")
    creates = {t.get("name"): _created_template(t) for t in templates_of(manifest)}
    for template in templates_of(manifest):
        tname = template.get("name", "")
        if not FIELD_NAME.fullmatch(tname) or len(tname) > 128:
            problems.append(f"{where}: invalid template name {tname!r}")
        if "dag" not in template:
            continue
        tasks = template["dag"].get("tasks") or []
        if not tasks:  # validate.go, validateDAG
            problems.append(f"{where}: templates.{tname} must have at least one task")
        task_names = [t["name"] for t in tasks]
        if len(set(task_names)) != len(task_names):
            problems.append(f"{where}: template {tname!r} has duplicate task names")
        known = set(task_names)
        graph: dict[str, list[str]] = {}
        ordered = True  # every dependency listed before its task: no cycle (the compiler's order)
        for task in tasks:
            name = task["name"]
            if not FIELD_NAME.fullmatch(name) or len(name) > 128:
                problems.append(f"{where}: invalid task name {name!r}")
            elif name[0].isdigit() and any("depends" in t for t in tasks):  # validate.go, validateDAG
                problems.append(f"{where}: task name {name!r} cannot begin with a digit when using 'depends'")
            if task.get("template") not in names:
                problems.append(f"{where}: task {name!r} uses missing template {task.get('template')!r}")
            child = creates.get(task.get("template"))
            runs = _argument(task, child) if child is not None else None
            if runs is not None and runs not in library:
                problems.append(f"{where}: task {name!r} runs {runs!r}, which is not a compiled WorkflowTemplate")
            try:
                deps = depends.names(task.get("depends", ""))
            except ValueError as exc:
                problems.append(f"{where}: task {name!r}: {exc}")
                deps = []
            problems += [f"{where}: task {name!r} depends on missing task {d!r}" for d in deps if d not in known]
            inside = [d for d in deps if d in known]
            ordered = ordered and all(d in graph for d in inside)  # before adding: a self-dependency is a cycle
            graph[name] = inside
            used = _TASK_REF.findall(task.get("when", "") + str(task.get("arguments", "")))
            problems += [
                f"{where}: task {name!r} reads outputs of {u!r} without depending on it" for u in used if u not in deps
            ]
        try:
            if not ordered:
                graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            problems.append(f"{where}: template {tname!r} has a dependency cycle: {exc.args[1]}")
    return problems


def _text_problems(manifest: Manifest, where: str) -> list[str]:
    """A credential in a URL, and a ``{{`` tag that is not one of lakeplan's own (a user's string that reached
    the manifest unchecked: Argo would substitute it), found in the manifest's JSON text. String boundaries in
    that text hold a space, which neither pattern crosses."""
    text = json.dumps(manifest)
    problems = [f"{where}: a credential-bearing URL appears in the manifest"] if _CREDENTIAL_URL.search(text) else []
    rest = _OWN_TAG.sub("", text)
    if "{{" in rest:
        problems.append(f"{where}: a template tag lakeplan did not write: {rest[rest.index('{{') :][:60]!r}")
    for container in _containers(manifest):
        for var in container.get("env", []):
            if _SECRET_ENV.search(var["name"]) and "value" in var:
                problems.append(f"{where}: env {var['name']} has a literal value; it must come from a secretKeyRef")
    return problems


def _where(manifest: Manifest, index: int) -> str:
    meta = manifest.get("metadata", {})
    return f"{manifest.get('kind')} {meta.get('name') or meta.get('generateName') or index}"


def structure_problems(manifests: Sequence[Manifest]) -> list[str]:
    """Names, references, dependency cycles and secrets of manifests compiled together (a CronWorkflow or a
    part task may run a WorkflowTemplate among them)."""
    library = {d.get("metadata", {}).get("name", ""): d for d in manifests if d.get("kind") == "WorkflowTemplate"}
    found: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, manifest in enumerate(manifests):
        where = _where(manifest, index)
        key = (str(manifest.get("kind")), str(manifest.get("metadata", {}).get("name", "")))
        if key[1] and key in seen:
            found.append(f"{where}: the same name as manifest {seen[key] + 1}; one replaces the other")
        seen.setdefault(key, index)
        found += _name_problems(manifest, where)
        found += _dag_problems(manifest, where, library)
        found += _text_problems(manifest, where)
    return found


def size_problems(
    manifests: Sequence[Manifest], limit: int = SIZE_LIMIT, partition_bytes: Mapping[str, int] | None = None
) -> list[str]:
    """Objects whose projected running size (spec + status when every task and every partition of each fan-out
    ran: ``partition_bytes`` as ``Compiled`` carries it, see ``size``) passes ``limit``."""
    found = []
    for index, manifest in enumerate(manifests):
        size = projected_size(manifest, 1.0, partition_bytes)
        if size > limit:
            found.append(f"{_where(manifest, index)} grows to {size / 1e6:.2f} MB running, over Argo's 1 MiB limit")
    return found


def _first_difference(ours: Any, theirs: Any, path: str = "") -> str:
    """The path of the first field where ``ours`` and ``theirs`` differ (what the model dropped or changed)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in ours:
            if key not in theirs:
                return f"{path}.{key}".lstrip(".")
            found = _first_difference(ours[key], theirs[key], f"{path}.{key}")
            if found:
                return found
        return ""
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            found = _first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return ""
    return "" if ours == theirs else path.lstrip(".") or "(root)"


def model_problems(manifests: Sequence[Manifest]) -> list[str]:
    """Manifests that hera's models (generated from Argo's OpenAPI spec) refuse, or that lose a field when read
    into them (a field Argo does not know): the check that needs no copy of the official JSON schema."""
    found = []
    for index, manifest in enumerate(manifests):
        try:
            again = dump(to_model(manifest))
        except (ValueError, TypeError) as exc:
            first = str(exc).splitlines()[1:2] or [str(exc)]
            found.append(f"{_where(manifest, index)}: not an Argo object: {first[0].strip()}")
            continue
        if again != manifest:
            found.append(f"{_where(manifest, index)}: {_first_difference(manifest, again)} is not in Argo's model")
    return found


def problems(
    manifests: Sequence[Manifest], limit: int = SIZE_LIMIT, partition_bytes: Mapping[str, int] | None = None
) -> list[str]:
    """Every problem found (empty when all is well); ``partition_bytes`` for partitioned manifests' fan-outs."""
    sizes = size_problems(manifests, limit, partition_bytes)
    return structure_problems(manifests) + model_problems(manifests) + sizes

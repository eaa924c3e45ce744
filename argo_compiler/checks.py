"""Checks the Argo JSON schema cannot express: references (tasks, templates, onExit) resolve, names are valid,
no secret values, size.

``problems(manifests)`` returns every problem found (empty when all is well); the compiler runs it on
its own output and the tests run it on every manifest kind.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

from . import depends
from .compiler import Manifest
from .render import document, templates_of

SIZE_LIMIT = 1024 * 1024  # Argo/etcd refuse objects near 1 MiB; stay under it
FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")  # Argo's rule for task and template names
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_TASK_REF = re.compile(r"\{\{tasks\.([-A-Za-z0-9]+)\.")
_CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")
_SECRET_ENV = re.compile(r"(URL|TOKEN|KEY|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


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


def _dag_problems(manifest: Manifest, where: str, templates_by_manifest: dict[str, set[str]]) -> list[str]:
    problems: list[str] = []
    names = {t.get("name") for t in templates_of(manifest)}
    spec = manifest.get("spec", {})
    entry = spec.get("workflowSpec", spec).get("entrypoint")
    if entry is not None and entry not in names:
        problems.append(f"{where}: entrypoint {entry!r} is not a template")
    on_exit = spec.get("workflowSpec", spec).get("onExit")
    if on_exit is not None and on_exit not in names:
        problems.append(f"{where}: onExit {on_exit!r} is not a template")
    if on_exit is None and manifest.get("kind") in ("Workflow", "CronWorkflow"):
        problems.append(f"{where}: no onExit handler, so its run would never be published or recorded")
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
        for task in tasks:
            name = task["name"]
            if not FIELD_NAME.fullmatch(name) or len(name) > 128:
                problems.append(f"{where}: invalid task name {name!r}")
            elif name[0].isdigit() and any("depends" in t for t in tasks):  # validate.go, validateDAG
                problems.append(f"{where}: task name {name!r} cannot begin with a digit when using 'depends'")
            ref = task.get("templateRef")
            if ref is not None:
                if ref.get("template") not in templates_by_manifest.get(ref.get("name"), set()):
                    problems.append(f"{where}: task {name!r} refers to missing {ref.get('name')}/{ref.get('template')}")
            elif task.get("template") not in names:
                problems.append(f"{where}: task {name!r} uses missing template {task.get('template')!r}")
            try:
                deps = depends.names(task.get("depends", ""))
            except ValueError as exc:
                problems.append(f"{where}: task {name!r}: {exc}")
                deps = []
            problems += [f"{where}: task {name!r} depends on missing task {d!r}" for d in deps if d not in known]
            graph[name] = [d for d in deps if d in known]
            used = _TASK_REF.findall(task.get("when", "") + str(task.get("arguments", "")))
            problems += [
                f"{where}: task {name!r} reads outputs of {u!r} without depending on it" for u in used if u not in deps
            ]
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            problems.append(f"{where}: template {tname!r} has a dependency cycle: {exc.args[1]}")
    return problems


def _secret_problems(manifest: Manifest, where: str) -> list[str]:
    problems = [
        f"{where}: a credential-bearing URL appears in the manifest"
        for s in _strings(manifest)
        if _CREDENTIAL_URL.search(s)
    ]
    for container in _containers(manifest):
        for var in container.get("env", []):
            if _SECRET_ENV.search(var["name"]) and "value" in var:
                problems.append(f"{where}: env {var['name']} has a literal value; it must come from a secretKeyRef")
    return problems


def _where(manifest: Manifest, index: int) -> str:
    meta = manifest.get("metadata", {})
    return f"{manifest.get('kind')} {meta.get('name') or meta.get('generateName') or index}"


def structure_problems(manifests: Sequence[Manifest]) -> list[str]:
    """Names, references, dependency cycles and secrets of manifests compiled together (``templateRef`` may
    point between them)."""
    templates_by_manifest = {
        doc.get("metadata", {}).get("name", ""): {t.get("name", "") for t in templates_of(doc)}
        for doc in manifests
        if doc.get("kind") in ("WorkflowTemplate", "ClusterWorkflowTemplate")
    }
    found: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, manifest in enumerate(manifests):
        where = _where(manifest, index)
        key = (str(manifest.get("kind")), str(manifest.get("metadata", {}).get("name", "")))
        if key[1] and key in seen:
            found.append(f"{where}: the same name as manifest {seen[key] + 1}; one replaces the other")
        seen.setdefault(key, index)
        found += _name_problems(manifest, where)
        found += _dag_problems(manifest, where, templates_by_manifest)
        found += _secret_problems(manifest, where)
    return found


def size_problems(
    manifests: Sequence[Manifest], documents: Sequence[str] | None = None, limit: int = SIZE_LIMIT
) -> list[str]:
    """Manifests whose YAML (``documents``, rendered here when not given) reaches Argo's object size limit."""
    found = []
    for index, manifest in enumerate(manifests):
        size = len((documents[index] if documents is not None else document(manifest)).encode())
        if size >= limit:
            found.append(f"{_where(manifest, index)} is {size / 1e6:.2f} MB of YAML, over Argo's ~1 MB object limit")
    return found


def problems(manifests: Sequence[Manifest], limit: int = SIZE_LIMIT) -> list[str]:
    """Every problem found (empty when all is well)."""
    return structure_problems(manifests) + size_problems(manifests, limit=limit)

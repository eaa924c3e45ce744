"""Manifests as YAML: sorted keys, one line per DAG task (compact for 10k-asset plans), byte-identical per input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from hera.workflows import models as m

from .compiler import Manifest

try:  # libyaml's emitter: 5x faster on 10k-task manifests
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

MODELS: dict[str, type[Any]] = {
    "Workflow": m.Workflow,
    "WorkflowTemplate": m.WorkflowTemplate,
    "CronWorkflow": m.CronWorkflow,
}


class _OneLine(dict[str, Any]):
    """A mapping written in flow style, on one line."""


class _Dumper(_BaseDumper):
    pass


def _string(dumper: _Dumper, data: str) -> yaml.Node:
    """Strings holding ``'`` (the ``when`` expressions) in double quotes, which reads better than ``''``."""
    style = '"' if "'" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _string)
_Dumper.add_representer(_OneLine, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True))


def templates_of(manifest: Manifest) -> list[dict[str, Any]]:
    """The templates of any manifest kind (a CronWorkflow keeps them under ``workflowSpec``)."""
    spec = manifest.get("spec", {})
    spec = spec.get("workflowSpec", spec)
    templates: list[dict[str, Any]] = spec.get("templates", [])
    return templates


def _compact(manifest: Manifest) -> Manifest:
    """A copy (sharing untouched parts) whose DAG tasks are written one per line."""
    copy = {**manifest, "spec": dict(manifest.get("spec", {}))}
    holder = copy["spec"]
    if "workflowSpec" in holder:
        workflow_spec = dict(holder["workflowSpec"])
        holder["workflowSpec"] = workflow_spec
        holder = workflow_spec
    if "templates" in holder:
        holder["templates"] = [
            {**t, "dag": {**t["dag"], "tasks": [_OneLine(task) for task in t["dag"]["tasks"]]}} if "dag" in t else t
            for t in holder["templates"]
        ]
    return copy


def document(manifest: Manifest) -> str:
    """One manifest as a YAML document."""
    return yaml.dump(
        _compact(manifest),
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        width=1 << 16,
        allow_unicode=False,
    )


def to_yaml(manifests: Sequence[Manifest], documents: Sequence[str] | None = None) -> str:
    """The manifests as one YAML stream, separated by ``---`` (``documents``: already rendered ones)."""
    return "---\n".join(documents if documents is not None else [document(doc) for doc in manifests])


def from_yaml(text: str) -> list[Manifest]:
    """Parse compiled YAML back into plain manifests."""
    return [doc for doc in yaml.load_all(text, Loader=_BaseLoader) if doc is not None]


def to_model(manifest: Manifest) -> Any:
    """The hera model of a manifest (for the round-trip check and for submitting)."""
    kind = manifest.get("kind")
    if kind not in MODELS:
        raise ValueError(f"not a Workflow, WorkflowTemplate or CronWorkflow: kind {kind!r}")
    return MODELS[kind].model_validate(manifest)

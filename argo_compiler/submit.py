"""Deploying compiled manifests to an Argo Server through hera's ``WorkflowsService``, again and again.

WorkflowTemplates and CronWorkflows have fixed names, so a second deploy must update them: create-or-update
reads the current object for its ``resourceVersion`` and sends the new one with it (Kubernetes' optimistic
concurrency; the Argo Server's WorkflowTemplateService / CronWorkflowService Update in
server/workflowtemplate and server/cronworkflow). Workflows are always created (``generateName``).
WorkflowTemplates go first, and each is read back (bounded wait) before anything that runs it is created, since
the controller resolves ``workflowTemplateRef`` when the run starts. Every body carries the target namespace.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from hera.exceptions import HeraException, NotFound
from hera.workflows import models as m
from hera.workflows.service import WorkflowsService

from assets_core.errors import ConfigError, ExitCode, LakeplanError

from .compiler import Manifest
from .render import to_model

KIND_ORDER = {"WorkflowTemplate": 0, "CronWorkflow": 1, "Workflow": 2}  # what is referenced goes first
VISIBLE_WAIT_SECONDS = 10.0


class SubmitError(LakeplanError):
    """The Argo Server refused the manifest or could not be reached."""

    exit_code = ExitCode.INFRASTRUCTURE


@dataclass(frozen=True)
class Server:
    """Where to submit: the Argo Server URL (a base path is kept), the namespace, a bearer token, TLS checks."""

    host: str
    namespace: str
    token: str | None = None
    verify: bool = True


def _template(service: WorkflowsService, model: m.WorkflowTemplate, namespace: str) -> tuple[str, Any]:
    name = str(model.metadata.name)
    try:
        current = service.get_workflow_template(name, namespace)
    except NotFound:
        return "created", service.create_workflow_template(m.WorkflowTemplateCreateRequest(template=model), namespace)
    model.metadata.resource_version = current.metadata.resource_version
    request = m.WorkflowTemplateUpdateRequest(name=name, namespace=namespace, template=model)
    return "updated", service.update_workflow_template(name, request, namespace)


def _cron(service: WorkflowsService, model: m.CronWorkflow, namespace: str) -> tuple[str, Any]:
    name = str(model.metadata.name)
    try:
        current = service.get_cron_workflow(name, namespace)
    except NotFound:
        return "created", service.create_cron_workflow(m.CreateCronWorkflowRequest(cron_workflow=model), namespace)
    model.metadata.resource_version = current.metadata.resource_version
    request = m.UpdateCronWorkflowRequest(name=name, namespace=namespace, cron_workflow=model)
    return "updated", service.update_cron_workflow(name, request, namespace)


def _apply(service: WorkflowsService, manifest: Manifest, namespace: str) -> tuple[str, str]:
    """(created|updated, name) of one manifest, its namespace set to the target's."""
    model = to_model({**manifest, "metadata": {**manifest.get("metadata", {}), "namespace": namespace}})
    done: Any
    if isinstance(model, m.CronWorkflow):
        action, done = _cron(service, model, namespace)
    elif isinstance(model, m.WorkflowTemplate):
        action, done = _template(service, model, namespace)
    else:
        action, done = "created", service.create_workflow(m.WorkflowCreateRequest(workflow=model), namespace)
    return action, str(done.metadata.name or "")


def _until_visible(read: Callable[[], object], what: str, wait: float) -> None:
    """Read an object back until the server returns it, at most ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            read()
            return
        except NotFound:
            if time.monotonic() >= deadline:
                raise SubmitError(
                    f"{what} was created but the Argo Server does not show it after {wait:.0f}s"
                ) from None
            time.sleep(0.2)


def submit(manifests: Sequence[Manifest], server: Server, wait: float = VISIBLE_WAIT_SECONDS) -> list[str]:
    """Create or update each manifest, WorkflowTemplates first; returns ``action Kind/name`` of each."""
    if not server.host.startswith(("http://", "https://")):
        raise ConfigError(f"Argo Server host {server.host!r} must start with https:// (or http://)")
    host = server.host if server.host.endswith("/") else server.host + "/"  # urljoin keeps a base path only so
    service = WorkflowsService(host=host, token=server.token, verify_ssl=server.verify, namespace=server.namespace)
    done = []
    for manifest in sorted(manifests, key=lambda d: KIND_ORDER.get(str(d.get("kind")), 3)):
        kind = manifest.get("kind")
        try:
            action, name = _apply(service, manifest, server.namespace)
            if kind == "WorkflowTemplate":
                read = functools.partial(service.get_workflow_template, name, server.namespace)
                _until_visible(read, f"{kind}/{name}", wait)
        except HeraException as exc:
            raise SubmitError(f"Argo Server {server.host} refused the {kind}: {exc}") from None
        except requests.RequestException as exc:
            raise SubmitError(f"cannot reach the Argo Server at {server.host}: {type(exc).__name__}: {exc}") from None
        done.append(f"{action} {kind}/{name}")
    return done

"""Creating compiled manifests on an Argo Server through hera's ``WorkflowsService``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from hera.exceptions import HeraException
from hera.workflows import models as m
from hera.workflows.service import WorkflowsService

from assets_core.errors import ConfigError, ExitCode, LakeplanError

from .compiler import Manifest
from .render import to_model


class SubmitError(LakeplanError):
    """The Argo Server refused the manifest or could not be reached."""

    exit_code = ExitCode.INFRASTRUCTURE


@dataclass(frozen=True)
class Server:
    """Where to submit: the Argo Server URL, the namespace, a bearer token and TLS verification."""

    host: str
    namespace: str
    token: str | None = None
    verify: bool = True


def _create(service: WorkflowsService, manifest: Manifest, namespace: str) -> str:
    model = to_model(manifest)
    created: Any
    if isinstance(model, m.CronWorkflow):
        created = service.create_cron_workflow(m.CreateCronWorkflowRequest(cron_workflow=model), namespace)
    elif isinstance(model, m.WorkflowTemplate):
        created = service.create_workflow_template(m.WorkflowTemplateCreateRequest(template=model), namespace)
    else:
        created = service.create_workflow(m.WorkflowCreateRequest(workflow=model), namespace)
    return str(created.metadata.name or "")


def submit(manifests: Sequence[Manifest], server: Server) -> list[str]:
    """Create each manifest in order (split parts before their parent); returns ``Kind/name`` of each."""
    if not server.host.startswith(("http://", "https://")):
        raise ConfigError(f"Argo Server host {server.host!r} must start with https:// (or http://)")
    service = WorkflowsService(
        host=server.host, token=server.token, verify_ssl=server.verify, namespace=server.namespace
    )
    created = []
    for manifest in manifests:
        kind = manifest.get("kind")
        try:
            name = _create(service, manifest, server.namespace)
        except HeraException as exc:
            raise SubmitError(f"Argo Server {server.host} refused the {kind}: {exc}") from None
        except requests.RequestException as exc:
            raise SubmitError(f"cannot reach the Argo Server at {server.host}: {type(exc).__name__}: {exc}") from None
        created.append(f"{kind}/{name}")
    return created

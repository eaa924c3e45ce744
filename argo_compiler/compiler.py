"""Compile a plan to Argo manifests with hera's typed models: one DAG task per asset, a few shared templates.

Assets that need the same container settings (image, resources, retries, node placement) share one
container template; tasks differ only in their ``asset`` argument, so a manifest grows by about one line
per asset. Every workflow ends with an exit handler (``onExit``) that publishes and records the run.
Everything is built from sorted inputs, so the same project gives byte-identical YAML.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hera.workflows import models as m

from assets_core.definitions import AssetDef
from assets_core.errors import ConfigError, LakeplanError
from assets_core.graph import AssetGraph
from assets_core.hashing import structured_hash
from assets_core.schedules import Schedule

from .config import ArgoConfig
from .contract import (
    EXIT_TEMPLATE,
    KEY_PARAMETER,
    PLAN_TASK,
    RUN_ID,
    STALE_PARAMETER,
    STALE_PATH,
    WORKFLOW_STATUS,
    when_stale,
)
from .names import resource_name, sanitize, task_name

API_VERSION = "argoproj.io/v1alpha1"
ENTRYPOINT = "main"
STORAGE_VOLUME = "storage"
ANNOTATION = "lakeplan.dev/"
GPU_RESOURCE = "nvidia.com/gpu"
IMAGE_VARIABLE = "LAKEPLAN_IMAGE"  # assets_core.environment.IMAGE_VARIABLES: recorded with each materialization
# Exit code 2 is a usage/definition error: retrying the same image cannot fix it.
RETRY_EXPRESSION = "asInt(lastRetry.exitCode) != 2"
EXIT_RETRIES = 3  # the exit handler is safe to repeat; a store that is briefly down should not strand a run

Manifest = dict[str, Any]


class ManifestTooLarge(LakeplanError):
    """A manifest would exceed Argo's object size limit."""


@dataclass(frozen=True)
class Target:
    """What is compiled: the loaded graph, how a pod loads it (``module``), and the cluster settings."""

    graph: AssetGraph
    module: str
    config: ArgoConfig

    @property
    def base_name(self) -> str:
        """The project's name in object names; names derived from it (schedules, parts) get a hash when needed."""
        return self.config.name or sanitize(Path(self.module).stem if self.module.endswith(".py") else self.module, 52)


@dataclass(frozen=True)
class Profile:
    """Container settings an asset needs; assets with equal profiles share one template."""

    image: str | None  # None: the configured default image
    cpu: str | None
    memory: str | None
    gpu: int | None
    retries: int
    node_selector: tuple[tuple[str, str], ...]
    tolerations: tuple[tuple[tuple[str, str], ...], ...]

    @classmethod
    def of(cls, asset: AssetDef) -> Profile:
        return cls(
            asset.image,
            asset.resources.cpu,
            asset.resources.memory,
            asset.resources.gpu,
            asset.retries,
            tuple(sorted(asset.node_selector.items())),
            tuple(tuple(sorted(t.items())) for t in asset.tolerations),
        )

    @property
    def template_name(self) -> str:
        """``step`` for the plain profile, ``step-<hash>`` for the others (stable across runs)."""
        if self == Profile(None, None, None, None, 0, (), ()):
            return "step"
        return "step-" + structured_hash(["argo-profile", json.dumps(self.__dict__, sort_keys=True)])[:10]


def _image(config: ArgoConfig) -> str:
    if not config.image:
        raise ConfigError(
            "no container image for the Argo steps; set image = '...' under [tool.lakeplan.argo] "
            "or LAKEPLAN_ARGO_IMAGE (an image with lakeplan and your project installed)"
        )
    return config.image


def _env(config: ArgoConfig, image: str) -> list[m.EnvVar]:
    """Secrets by reference, the image (recorded with each materialization), and the shared storage root."""
    env = [
        m.EnvVar(
            name=ref.env, value_from=m.EnvVarSource(secret_key_ref=m.SecretKeySelector(name=ref.secret, key=ref.key))
        )
        for ref in config.secrets()
    ]
    env.append(m.EnvVar(name=IMAGE_VARIABLE, value=image))
    if config.storage_pvc:
        env.append(m.EnvVar(name="LAKEPLAN_STORAGE_ROOT", value=config.storage_mount))
    return env


def _container(config: ArgoConfig, image: str, args: list[str], profile: Profile | None) -> m.Container:
    resources = None
    if profile is not None and (profile.cpu or profile.memory or profile.gpu):
        requests = {k: m.Quantity(v) for k, v in (("cpu", profile.cpu), ("memory", profile.memory)) if v}
        limits = {k: m.Quantity(v) for k, v in (("memory", profile.memory),) if v}
        if profile.gpu:
            limits[GPU_RESOURCE] = m.Quantity(str(profile.gpu))
        resources = m.ResourceRequirements(requests=requests or None, limits=limits or None)
    return m.Container(
        image=image,
        image_pull_policy=config.image_pull_policy,
        command=["lakeplan"],
        args=args,
        env=_env(config, image),
        volume_mounts=[m.VolumeMount(name=STORAGE_VOLUME, mount_path=config.storage_mount)]
        if config.storage_pvc
        else None,
        working_dir=config.workdir,
        resources=resources,
    )


def _retry(config: ArgoConfig, limit: int) -> m.RetryStrategy | None:
    """Retry on any exit but a usage error (2), with the configured exponential backoff."""
    if not limit:
        return None
    backoff = config.retry_backoff_seconds
    return m.RetryStrategy(
        limit=m.IntOrString(limit),
        retry_policy="Always",
        expression=RETRY_EXPRESSION,
        backoff=m.Backoff(duration=f"{backoff}s", factor=m.IntOrString(2)) if backoff else None,
    )


def _step_template(target: Target, profile: Profile, name: str, selection: str) -> m.Template:
    args = ["step", "-m", target.module, "--asset", f"{{{{inputs.parameters.{KEY_PARAMETER}}}}}"]
    args += ["--run-id", RUN_ID, "--selection", selection]
    return m.Template(
        name=name,
        inputs=m.Inputs(parameters=[m.Parameter(name=KEY_PARAMETER)]),
        container=_container(target.config, profile.image or _image(target.config), args, profile),
        retry_strategy=_retry(target.config, profile.retries),
        node_selector=dict(profile.node_selector) or None,
        tolerations=[m.Toleration.model_validate(dict(t)) for t in profile.tolerations] or None,
    )


def _plan_template(target: Target, select: str) -> m.Template:
    args = ["plan-task", "-m", target.module, "--select", select, "--output", STALE_PATH, "--run-id", RUN_ID]
    return m.Template(
        name=PLAN_TASK,
        container=_container(target.config, _image(target.config), args, None),
        outputs=m.Outputs(parameters=[m.Parameter(name=STALE_PARAMETER, value_from=m.ValueFrom(path=STALE_PATH))]),
    )


def _exit_template(target: Target, selection: str) -> m.Template:
    """The exit handler: after the DAG, publish the run only if the workflow succeeded, and record it."""
    args = ["finish-run", "-m", target.module, "--run-id", RUN_ID, "--status", WORKFLOW_STATUS]
    return m.Template(
        name=EXIT_TEMPLATE,
        container=_container(target.config, _image(target.config), [*args, "--selection", selection], None),
        retry_strategy=_retry(target.config, EXIT_RETRIES),
    )


def _tasks(target: Target, keys: Sequence[str], templates: Mapping[str, str], scheduled: bool) -> list[m.DAGTask]:
    waits = target.graph.nearest_among(keys)
    tasks = []
    for key in keys:
        depends = [PLAN_TASK] if scheduled else []
        depends += [task_name(u) for u in waits[key]]
        tasks.append(
            m.DAGTask(
                name=task_name(key),
                template=templates[key],
                arguments=m.Arguments(parameters=[m.Parameter(name=KEY_PARAMETER, value=key)]),
                depends=" && ".join(depends) or None,
                when=when_stale(key) if scheduled else None,
            )
        )
    return tasks


def _templates_for(target: Target, keys: Sequence[str], selection: str) -> tuple[dict[str, str], list[m.Template]]:
    """Each key's template name and the distinct step templates, in a stable order."""
    by_profile: dict[Profile, str] = {}
    chosen: dict[str, str] = {}
    for key in keys:
        profile = Profile.of(target.graph.asset(key))
        if profile not in by_profile:
            by_profile[profile] = profile.template_name
        chosen[key] = by_profile[profile]
    templates = sorted(
        (_step_template(target, p, n, selection) for p, n in by_profile.items()), key=lambda t: t.name or ""
    )
    return chosen, templates


def _spec(target: Target, dag: list[m.DAGTask], templates: list[m.Template], run: str | None) -> m.WorkflowSpec:
    """The workflow spec; ``run`` (the selection) adds the exit handler, which a split's parts leave to the parent."""
    config = target.config
    volumes = None
    if config.storage_pvc:
        source = m.PersistentVolumeClaimVolumeSource(claim_name=config.storage_pvc)
        volumes = [m.Volume(name=STORAGE_VOLUME, persistent_volume_claim=source)]
    exit_handler = [_exit_template(target, run)] if run is not None else []
    return m.WorkflowSpec(
        entrypoint=ENTRYPOINT,
        on_exit=EXIT_TEMPLATE if exit_handler else None,
        service_account_name=config.service_account,
        volumes=volumes,
        templates=[m.Template(name=ENTRYPOINT, dag=m.DAGTemplate(tasks=dag)), *templates, *exit_handler],
    )


def _metadata(target: Target, *, name: str | None = None, selection: str | None = None) -> m.ObjectMeta:
    annotations = {ANNOTATION + "module": target.module}
    if selection is not None:
        annotations[ANNOTATION + "selection"] = selection
    return m.ObjectMeta(
        name=name,
        generate_name=None if name else f"{target.base_name}-",
        namespace=target.config.namespace,
        labels={ANNOTATION + "managed-by": "lakeplan"},
        annotations=annotations,
    )


def dump(model: m.Workflow | m.WorkflowTemplate | m.CronWorkflow) -> Manifest:
    """A model as the plain dict Kubernetes stores (camelCase keys, unset fields left out)."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def workflow(target: Target, keys: Sequence[str], *, selection: str = "*", template: bool = False) -> Manifest:
    """A Workflow (or, with ``template``, a WorkflowTemplate) running ``keys`` in dependency order."""
    keys = _ordered(target.graph, keys)
    chosen, templates = _templates_for(target, keys, selection)
    spec = _spec(target, _tasks(target, keys, chosen, scheduled=False), templates, selection)
    if template:
        meta = _metadata(target, name=target.base_name, selection=selection)
        return dump(m.WorkflowTemplate(api_version=API_VERSION, kind="WorkflowTemplate", metadata=meta, spec=spec))
    meta = _metadata(target, selection=selection)
    return dump(m.Workflow(api_version=API_VERSION, kind="Workflow", metadata=meta, spec=spec))


def cron_workflow(target: Target, schedule: Schedule, keys: Sequence[str]) -> Manifest:
    """A CronWorkflow whose first task plans at fire time; each asset task runs only if the plan lists it."""
    keys = _ordered(target.graph, keys)
    chosen, templates = _templates_for(target, keys, schedule.select)
    dag = [m.DAGTask(name=PLAN_TASK, template=PLAN_TASK), *_tasks(target, keys, chosen, scheduled=True)]
    spec = _spec(target, dag, [_plan_template(target, schedule.select), *templates], schedule.select)
    name = resource_name(f"{target.base_name}-{schedule.name}")
    cron = m.CronWorkflowSpec(
        schedules=[schedule.cron],
        timezone=schedule.timezone,
        concurrency_policy=schedule.concurrency_policy,
        starting_deadline_seconds=schedule.starting_deadline_seconds,
        successful_jobs_history_limit=schedule.successful_jobs_history_limit,
        failed_jobs_history_limit=schedule.failed_jobs_history_limit,
        workflow_spec=spec,
    )
    meta = _metadata(target, name=name, selection=schedule.select)
    return dump(m.CronWorkflow(api_version=API_VERSION, kind="CronWorkflow", metadata=meta, spec=cron))


def split_workflow(
    target: Target, keys: Sequence[str], part_size: int, *, selection: str = "*", template: bool = False
) -> list[Manifest]:
    """WorkflowTemplates of at most ``part_size`` tasks each, plus a parent running them via ``templateRef``.

    Parts are consecutive slices of the topological order, so a part only waits for earlier parts. Only the
    parent has the exit handler: Argo runs the top-level workflow's ``onExit``, once, after every part.
    """
    if part_size < 1:
        raise ConfigError(f"--split must be a number of tasks >= 1, got {part_size}")
    keys = _ordered(target.graph, keys)
    parts = [keys[i : i + part_size] for i in range(0, len(keys), part_size)]
    part_of = {key: index for index, part in enumerate(parts) for key in part}
    width = len(str(len(parts)))
    names = [resource_name(f"{target.base_name}-part-{i + 1:0{width}d}") for i in range(len(parts))]
    manifests: list[Manifest] = []
    parent_tasks = []
    waits = target.graph.nearest_among(keys)
    for index, part in enumerate(parts):
        chosen, templates = _templates_for(target, part, selection)
        spec = _spec(target, _tasks(target, part, chosen, scheduled=False), templates, None)
        meta = _metadata(target, name=names[index], selection=selection)
        manifests.append(
            dump(m.WorkflowTemplate(api_version=API_VERSION, kind="WorkflowTemplate", metadata=meta, spec=spec))
        )
        before = sorted({part_of[u] for key in part for u in waits[key] if part_of[u] != index})
        parent_tasks.append(
            m.DAGTask(
                name=f"part-{index + 1:0{width}d}",
                template_ref=m.TemplateRef(name=names[index], template=ENTRYPOINT),
                depends=" && ".join(f"part-{i + 1:0{width}d}" for i in before) or None,
            )
        )
    spec = _spec(target, parent_tasks, [], selection)
    kind = "WorkflowTemplate" if template else "Workflow"
    meta = _metadata(target, name=target.base_name if template else None, selection=selection)
    model = m.WorkflowTemplate if template else m.Workflow
    manifests.append(dump(model(api_version=API_VERSION, kind=kind, metadata=meta, spec=spec)))
    return manifests


def _ordered(graph: AssetGraph, keys: Iterable[str]) -> list[str]:
    wanted = set(keys)
    return [k for k in graph.order if k in wanted]

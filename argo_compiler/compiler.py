"""Compile a selection to Argo manifests with hera's typed models: one DAG task per asset, a few shared templates.

Assets that need the same container settings (image, resources, retries, node placement) share one
container template; tasks differ only in their ``asset`` argument, so a manifest grows by about one line
per asset. Every run starts with a plan task in the cluster (against the store the pods use) that checks the
image's graph is the compiled one and lists the tasks to run: the stale ones (a *gated* run) or all of
them. A selection too large for one object is cut into *parts*: consecutive slices of
the graph order, each a WorkflowTemplate run as its own child Workflow by the parent (a ``resource`` task),
each with its own plan task, so no object holds more than one part's status. Every top-level run ends with
an exit handler (``onExit``) that publishes and records the run. Everything is built from sorted inputs, so
the same project gives byte-identical YAML.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hera.workflows import models as m

from assets_core.definitions import AssetDef
from assets_core.errors import ConfigError, LakeplanError
from assets_core.graph import AssetGraph
from assets_core.hashing import structured_hash
from assets_core.partition_scope import PartitionRange
from assets_core.schedules import Schedule
from assets_core.selection import select
from assets_core.timeouts import effective_timeout

from .config import ArgoConfig
from .contract import (
    BUILD,
    BUILD_CHOICES,
    BUILD_PARAMETER,
    CREATED,
    EXIT_TEMPLATE,
    KEY_PARAMETER,
    NOW_PARAMETER,
    PART_NOW,
    PART_RUN_ID,
    PARTITIONS_PARAMETER,
    PLAN_TASK,
    RUN_ID,
    RUN_ID_PARAMETER,
    SCHEDULED,
    STALE_PARAMETER,
    STALE_PATH,
    WORKFLOW_STATUS,
    fan_out_items,
    fan_out_path,
    graph_digest,
    ordered_selection,
    task_mask,
    when_stale,
)
from .names import resource_name, sanitize, task_name

API_VERSION = "argoproj.io/v1alpha1"
ENTRYPOINT = "main"
RUN_PART = "run-part"  # the parent's resource template that runs one part as a child Workflow
PART_PARAMETER = "part"
STORAGE_VOLUME = "storage"
ANNOTATION = "lakeplan.dev/"
GPU_RESOURCE = "nvidia.com/gpu"
IMAGE_VARIABLE = "LAKEPLAN_IMAGE"  # assets_core.environment.IMAGE_VARIABLES: recorded with each materialization
# Exit codes (pod.py): 1 the user's code failed (retried only as often as the asset says), 2 a usage or
# definition error (never retried: the same image cannot fix it), 3 or anything else (a killed pod, -1 when no
# container ran) infrastructure, retried INFRA_RETRIES times. Variables from buildRetryStrategyLocalScope
# (workflow/controller/operator.go): ``retries`` (attempts so far - 1) and ``lastRetry.exitCode`` (strings).
INFRA_RETRIES = 3
EXIT_RETRIES = 3  # the exit handler is safe to repeat; a store that is briefly down should not strand a run
TTL_AFTER_SUCCESS = 86400  # finished runs are deleted after a day (failed ones after a week): etcd stays small
TTL_AFTER_FAILURE = 7 * 86400
# A timed asset's pod may live its timeout plus this: the kubelet counts activeDeadlineSeconds from the pod's
# StartTime, before the image is pulled (kubernetes pkg/kubelet/active_deadline.go: pastActiveDeadline), and
# the pod also starts Python, loads the project and records the failure when the step stops itself at the
# timeout (assets_core/timeouts.py). The deadline is the backstop for a step that cannot stop itself.
POD_START_GRACE_SECONDS = 300
TIMEOUT_VARIABLE = "LAKEPLAN_TIMEOUT"  # assets_core.config: the project's default, so pods enforce what was compiled

Manifest = dict[str, Any]


class ManifestTooLarge(LakeplanError):
    """A manifest would exceed Argo's object size limit."""


@dataclass(frozen=True)
class Target:
    """What is compiled: the loaded graph, how a pod loads it (``module``), and the cluster settings."""

    graph: AssetGraph
    module: str
    config: ArgoConfig
    default_timeout: int | None = None  # the project's [tool.lakeplan] timeout (seconds), for assets without one
    # Per partitioned asset, the bytes of its partition keys joined (as the plan task lists them when all are
    # stale): what its fan-out adds to a running object, for the size projection.
    partition_bytes: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def partitioned(self, key: str) -> bool:
        return self.graph.nodes[key].partitions is not None

    @functools.cached_property
    def any_partitioned(self) -> bool:
        """Whether any node (asset or source) is partitioned: then every pod expands the graph at one ``now``."""
        return any(node.partitions is not None for node in self.graph.nodes.values())

    @property
    def base_name(self) -> str:
        """The project's name in object names; names derived from it (schedules, parts) get a hash when needed."""
        return self.config.name or sanitize(Path(self.module).stem if self.module.endswith(".py") else self.module, 52)


@dataclass(frozen=True)
class Run:
    """What one run executes: ``keys`` (graph order) of ``selection``; ``gated``: the plan task in the cluster
    decides which of them are built (the stale ones); otherwise every key is built."""

    keys: tuple[str, ...]
    selection: str
    gated: bool
    partitions: PartitionRange | None = None  # --partition / --from / --to: which partitions of the selection
    scheduled: bool = False  # started by a CronWorkflow: partitions exist as at its fire time

    @classmethod
    def of(
        cls,
        graph: AssetGraph,
        keys: Iterable[str],
        selection: str = "*",
        gated: bool = False,
        partitions: PartitionRange | None = None,
        scheduled: bool = False,
    ) -> Run:
        return cls(tuple(ordered_selection(graph, keys)), selection, gated, partitions, scheduled)


def _now(run: Run) -> str:
    """The top-level run's ``now``: its fire time when a CronWorkflow started it, else its creation time."""
    return SCHEDULED if run.scheduled else CREATED


def _partition_args(target: Target, run: Run, run_id: str) -> list[str]:
    """What every pod of a partitioned project is told: the ``now`` its graph expands at (the same in every pod
    of the run, parts included), and the partitions the run was compiled for."""
    if not target.any_partitioned:
        return []
    args = ["--now", PART_NOW if run_id == PART_RUN_ID else _now(run)]
    wanted = run.partitions
    if wanted is not None and wanted.first == wanted.last and wanted.first is not None:
        return [*args, "--partition", wanted.first]
    if wanted is not None:
        args += ["--from", wanted.first] if wanted.first is not None else []
        args += ["--to", wanted.last] if wanted.last is not None else []
    return args


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
    timeout: int | None = None  # seconds one attempt may run (the asset's, else the project's)

    @classmethod
    def of(cls, asset: AssetDef, default_timeout: int | None = None) -> Profile:
        return cls(
            asset.image,
            asset.resources.cpu,
            asset.resources.memory,
            asset.resources.gpu,
            asset.retries,
            tuple(sorted(asset.node_selector.items())),
            tuple(tuple(sorted(t.items())) for t in asset.tolerations),
            effective_timeout(asset.timeout, default_timeout),
        )

    @property
    def template_name(self) -> str:
        """``step`` for the plain profile, ``step-<hash>`` for the others (stable across runs)."""
        if self == Profile(None, None, None, None, 0, (), ()):
            return "step"
        fields = dataclasses.asdict(self)
        if self.timeout is None:
            del fields["timeout"]  # profiles without a time limit keep the names they had before there were any
        return "step-" + structured_hash(["argo-profile", json.dumps(fields, sort_keys=True)])[:10]

    @property
    def pod_deadline(self) -> int | None:
        """How long the asset's pod may live (seconds): its timeout and POD_START_GRACE_SECONDS; None: no limit."""
        return None if self.timeout is None else self.timeout + POD_START_GRACE_SECONDS


def _image(config: ArgoConfig) -> str:
    if not config.image:
        raise ConfigError(
            "no container image for the Argo steps; set image = '...' under [tool.lakeplan.argo] "
            "or LAKEPLAN_ARGO_IMAGE (an image with lakeplan and your project installed)"
        )
    return config.image


def _env(config: ArgoConfig, image: str, default_timeout: int | None) -> list[m.EnvVar]:
    """Secrets by reference, lakeFS's address, the image (recorded with each materialization), the storage root,
    and the project's default timeout (which may come from the compiling shell's environment)."""
    env = [
        m.EnvVar(
            name=ref.env,
            value_from=m.EnvVarSource(
                secret_key_ref=m.SecretKeySelector(name=ref.secret, key=ref.key, optional=ref.optional or None)
            ),
        )
        for ref in config.secrets()
    ]
    env += [m.EnvVar(name=name, value=value) for name, value in config.lakefs_env]
    env.append(m.EnvVar(name=IMAGE_VARIABLE, value=image))
    if config.storage_pvc:
        env.append(m.EnvVar(name="LAKEPLAN_STORAGE_ROOT", value=config.storage_mount))
    if default_timeout is not None:
        env.append(m.EnvVar(name=TIMEOUT_VARIABLE, value=str(default_timeout)))
    return env


def _container(target: Target, image: str, args: list[str], profile: Profile | None) -> m.Container:
    config = target.config
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
        env=_env(config, image, target.default_timeout),
        volume_mounts=[m.VolumeMount(name=STORAGE_VOLUME, mount_path=config.storage_mount)]
        if config.storage_pvc
        else None,
        working_dir=config.workdir,
        resources=resources,
    )


def retry_expression(user_retries: int) -> str:
    """Retry infrastructure failures always, the user's code (exit 1) ``user_retries`` times, a usage error never."""
    code = "asInt(lastRetry.exitCode)"
    user = f"{code} != 1" if not user_retries else f"({code} != 1 || asInt(retries) < {user_retries})"
    return f"{code} != 2 && {user}"


def _retry(config: ArgoConfig, user_retries: int) -> m.RetryStrategy:
    """Every pod is retried after an infrastructure failure, with the configured exponential backoff."""
    backoff = config.retry_backoff_seconds
    return m.RetryStrategy(
        limit=m.IntOrString(max(user_retries, INFRA_RETRIES)),
        retry_policy="Always",
        expression=retry_expression(user_retries),
        backoff=m.Backoff(duration=f"{backoff}s", factor=m.IntOrString(2)) if backoff else None,
    )


def _pod_template(
    target: Target, name: str, args: list[str], profile: Profile | None, user_retries: int, **extra: Any
) -> m.Template:
    """A pod template with the step deadline: ``timeout`` counts from the node's start, Pending included
    (workflow/controller/operator.go: checkTemplateTimeouts), so a pod that can never start fails in time.

    An asset with a time limit gets ``activeDeadlineSeconds`` (the pod's, set from the template's:
    workflow/controller/workflowpod.go build; enforced by the kubelet) and the same ``timeout``: when a template
    has a ``timeout``, build replaces the pod's activeDeadlineSeconds with the time left until the node's start
    plus that timeout, so a longer step deadline would cancel the asset's."""
    image = (profile.image if profile else None) or _image(target.config)
    deadline = profile.pod_deadline if profile else None
    step_deadline = deadline or target.config.step_deadline_seconds
    return m.Template(
        name=name,
        container=_container(target, image, args, profile),
        retry_strategy=_retry(target.config, user_retries),
        timeout=f"{step_deadline}s" if step_deadline else None,
        active_deadline_seconds=m.IntOrString(deadline) if deadline else None,
        **extra,
    )


def _step_template(
    target: Target, profile: Profile, name: str, run: Run, run_id: str, partitioned: bool = False
) -> m.Template:
    """The pod of one asset; ``partitioned``: of one batch of its partitions (the fan-out item)."""
    args = ["step", "-m", target.module, "--asset", f"{{{{inputs.parameters.{KEY_PARAMETER}}}}}"]
    args += ["--run-id", run_id, "--selection", run.selection, *_partition_args(target, run, run_id)]
    parameters = [m.Parameter(name=KEY_PARAMETER)]
    if partitioned:
        args += ["--partitions", f"{{{{inputs.parameters.{PARTITIONS_PARAMETER}}}}}"]
        parameters.append(m.Parameter(name=PARTITIONS_PARAMETER))
    annotations = {ANNOTATION + "asset": f"{{{{inputs.parameters.{KEY_PARAMETER}}}}}", ANNOTATION + "run-id": run_id}
    return _pod_template(
        target,
        name,
        args,
        profile,
        profile.retries,
        inputs=m.Inputs(parameters=parameters),
        metadata=m.Metadata(annotations=annotations),
        node_selector=dict(profile.node_selector) or None,
        tolerations=[m.Toleration.model_validate(dict(t)) for t in profile.tolerations] or None,
    )


def _plan_template(
    target: Target,
    run: Run,
    run_id: str,
    guard: tuple[str, str | None],
    part: tuple[int, int] | None,
    keys: Sequence[str] = (),
) -> m.Template:
    """The plan task, first in every run: checks the image's graph against the compiled digest (and with a task
    mask, that every stale key has a task), then writes the keys to build: the stale ones, or every one for an
    ungated run (of its part, holding back keys whose upstream in an earlier part is still stale). For each
    partitioned asset of ``keys`` it also writes the batches of partitions its fan-out runs."""
    args = ["plan-task", "-m", target.module, "--select", run.selection, "--output", STALE_PATH, "--run-id", run_id]
    args += _partition_args(target, run, run_id)
    fanned = [task_name(k) for k in keys if target.partitioned(k)]
    if fanned:
        args += ["--fan-out", str(target.config.fan_out_pods)]
    outputs = [m.Parameter(name=STALE_PARAMETER, value_from=m.ValueFrom(path=STALE_PATH))]
    outputs += [m.Parameter(name=t, value_from=m.ValueFrom(path=fan_out_path(t))) for t in fanned]
    digest, mask = guard
    args += ["--graph-digest", digest]
    if mask is not None:
        args += ["--tasks", mask]
    if part is not None:
        args += ["--slice", f"{part[0]}:{part[1]}"]
    args += ["--build", BUILD]
    return _pod_template(
        target,
        PLAN_TASK,
        args,
        None,
        0,
        outputs=m.Outputs(parameters=outputs),
    )


def _exit_template(target: Target, selection: str) -> m.Template:
    """The exit handler: after the DAG, publish the run only if the workflow succeeded, and record it."""
    args = ["finish-run", "-m", target.module, "--run-id", RUN_ID, "--status", WORKFLOW_STATUS]
    return _pod_template(target, EXIT_TEMPLATE, [*args, "--selection", selection], None, EXIT_RETRIES)


def _tasks(
    keys: Sequence[str],
    waits: Mapping[str, Sequence[str]],
    templates: Mapping[str, str],
    partitioned: Collection[str] = (),
) -> list[m.DAGTask]:
    """The plan task, then one task per key that runs if the plan lists it; ``waits``: the nearest selected
    upstreams of each key (those outside ``keys`` are in earlier parts, which finished before this part).

    A ``partitioned`` key's task fans out over the batches of partitions the plan listed for it (``withParam``;
    none: the task is Skipped, "Skipped, empty params", which its downstream's bare ``depends`` lets pass). Its
    downstream waits for the whole fan-out (the TaskGroup node succeeds when every item did: dag.go
    executeDAGTask): coarser than partition by partition, never wrong."""
    inside = set(keys)
    tasks = [m.DAGTask(name=PLAN_TASK, template=PLAN_TASK)]
    for key in keys:
        depends = " && ".join([PLAN_TASK, *(task_name(u) for u in waits[key] if u in inside)])
        parameters = [m.Parameter(name=KEY_PARAMETER, value=key)]
        fanned = key in partitioned
        if fanned:
            parameters.append(m.Parameter(name=PARTITIONS_PARAMETER, value="{{item}}"))
        tasks.append(
            m.DAGTask(
                name=task_name(key),
                template=templates[key],
                arguments=m.Arguments(parameters=parameters),
                depends=depends,
                when=None if fanned else when_stale(key),
                with_param=fan_out_items(task_name(key)) if fanned else None,
            )
        )
    return tasks


def _step_templates(target: Target, keys: Sequence[str], run: Run, run_id: str) -> tuple[dict[str, str], list[Any]]:
    """Each key's template name and the distinct step templates, in a stable order."""
    by_profile: dict[tuple[Profile, bool], str] = {}
    chosen: dict[str, str] = {}
    for key in keys:
        fanned = target.partitioned(key)
        profile = Profile.of(target.graph.asset(key), target.default_timeout)
        if (profile, fanned) not in by_profile:
            by_profile[profile, fanned] = profile.template_name + ("-partitions" if fanned else "")
        chosen[key] = by_profile[profile, fanned]
    templates = sorted(
        (_step_template(target, p, n, run, run_id, fanned) for (p, fanned), n in by_profile.items()),
        key=lambda t: t.name or "",
    )
    return chosen, templates


def _spec(
    target: Target, dag: list[m.DAGTask], templates: list[m.Template], *, top: Run | None, all_targets: bool = False
) -> m.WorkflowSpec:
    """A workflow spec. ``top``: a top-level run, with the exit handler and the project's mutex (parts have
    neither: the parent holds the mutex, and runs the exit handler once, after every part), else a part taking
    its run id as a parameter. ``failFast: false`` lets independent branches finish after a failure, as in an
    unsplit run; ``all_targets`` makes every task a target so any failed part fails the run
    (workflow/controller/dag.go: executeDAG, assessDAGPhase)."""
    config = target.config
    volumes = None
    if config.storage_pvc:
        source = m.PersistentVolumeClaimVolumeSource(claim_name=config.storage_pvc)
        volumes = [m.Volume(name=STORAGE_VOLUME, persistent_volume_claim=source)]
    exit_handler = [_exit_template(target, top.selection)] if top is not None else []
    labels = {ANNOTATION + "project": target.base_name}
    entry = m.DAGTemplate(
        tasks=dag, fail_fast=False, target=" ".join(t.name for t in dag) if all_targets and dag else None
    )
    return m.WorkflowSpec(
        entrypoint=ENTRYPOINT,
        arguments=_arguments(top, target.any_partitioned),
        on_exit=EXIT_TEMPLATE if exit_handler else None,
        service_account_name=config.service_account,
        image_pull_secrets=[m.LocalObjectReference(name=n) for n in config.image_pull_secrets] or None,
        security_context=m.PodSecurityContext.model_validate(dict(config.security_context))
        if config.security_context
        else None,
        active_deadline_seconds=config.active_deadline_seconds or None,
        parallelism=config.parallelism,
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        ttl_strategy=m.TTLStrategy(seconds_after_success=TTL_AFTER_SUCCESS, seconds_after_failure=TTL_AFTER_FAILURE),
        workflow_metadata=m.WorkflowMetadata(labels=labels),
        pod_metadata=m.Metadata(labels=labels),
        synchronization=m.Synchronization(mutexes=[m.Mutex(name=_mutex(target))]) if top is not None else None,
        volumes=volumes,
        templates=[m.Template(name=ENTRYPOINT, dag=entry), *templates, *exit_handler],
    )


def _arguments(top: Run | None, partitioned: bool = False) -> m.Arguments:
    """A top-level run's ``build`` argument, its default what was compiled (an ``enum`` the Argo Server checks at
    submit: workflow/validate/validate.go, validateArgumentsValues); a part's ``run-id`` and ``build``, which
    its parent passes."""
    if top is None:
        names = [RUN_ID_PARAMETER, BUILD_PARAMETER, *([NOW_PARAMETER] if partitioned else [])]
        return m.Arguments(parameters=[m.Parameter(name=n) for n in names])
    default = BUILD_CHOICES[0] if top.gated else BUILD_CHOICES[1]
    return m.Arguments(parameters=[m.Parameter(name=BUILD_PARAMETER, value=default, enum=list(BUILD_CHOICES))])


def _mutex(target: Target) -> str:
    """One mutex per project and store: a cron fire and a manual run never build the same assets at once."""
    where = target.config.lakefs_env or (("pvc", target.config.storage_pvc or ""),)
    digest = structured_hash(["argo-mutex", json.dumps(list(where))])[:8]
    return resource_name(f"lakeplan-{target.base_name}-{digest}")


def _metadata(target: Target, *, name: str | None = None, selection: str | None = None) -> m.ObjectMeta:
    annotations = {ANNOTATION + "module": target.module}
    if selection is not None:
        annotations[ANNOTATION + "selection"] = selection
    return m.ObjectMeta(
        name=name,
        generate_name=None if name else f"{target.base_name}-",
        namespace=target.config.namespace,
        labels={ANNOTATION + "managed-by": "lakeplan", ANNOTATION + "project": target.base_name},
        annotations=annotations,
    )


def dump(model: m.Workflow | m.WorkflowTemplate | m.CronWorkflow) -> Manifest:
    """A model as the plain dict Kubernetes stores (camelCase keys, unset fields left out)."""
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def _object(target: Target, spec: m.WorkflowSpec, run: Run, template_name: str | None) -> Manifest:
    """A Workflow, or a WorkflowTemplate called ``template_name``."""
    if template_name is not None:
        meta = _metadata(target, name=template_name, selection=run.selection)
        return dump(m.WorkflowTemplate(api_version=API_VERSION, kind="WorkflowTemplate", metadata=meta, spec=spec))
    meta = _metadata(target, selection=run.selection)
    return dump(m.Workflow(api_version=API_VERSION, kind="Workflow", metadata=meta, spec=spec))


def _guard(target: Target, run: Run, waits: Mapping[str, Sequence[str]]) -> tuple[str, str | None]:
    """What the plan task checks: the digest of the selection's graph, as the pod computes it from the image,
    and which keys of the selection have a task when not all of them do (``--plan-here``)."""
    selection = ordered_selection(target.graph, select(target.graph, run.selection))
    if selection == list(run.keys):
        return graph_digest(target.graph, run.keys, waits), None
    return graph_digest(target.graph, selection), task_mask(selection, run.keys)


SAMPLE_GUARD = ("0" * 16, None)  # a digest's length: what a workflow built only to be measured carries


def _single_spec(target: Target, run: Run, guard: tuple[str, str | None] | None) -> m.WorkflowSpec:
    chosen, templates = _step_templates(target, run.keys, run, RUN_ID)
    waits = target.graph.nearest_among(run.keys)
    plan = _plan_template(target, run, RUN_ID, guard or _guard(target, run, waits), None, run.keys)
    dag = _tasks(run.keys, waits, chosen, [k for k in run.keys if target.partitioned(k)])
    return _spec(target, dag, [plan, *templates], top=run)


def workflow(
    target: Target, run: Run, *, template_name: str | None = None, guard: tuple[str, str | None] | None = None
) -> Manifest:
    """One Workflow (or a WorkflowTemplate called ``template_name``) running ``run`` in dependency order.
    ``guard``: the plan task's digest and task mask, when not those of ``run`` (``SAMPLE_GUARD``)."""
    return _object(target, _single_spec(target, run, guard), run, template_name)


def _part_names(target: Target, top_name: str, count: int) -> list[str]:
    width = len(str(count))
    return [resource_name(f"{top_name}-part-{i + 1:0{width}d}") for i in range(count)]


def _run_part_template(target: Target, run: Run) -> m.Template:
    """Creates one part as a child Workflow from its WorkflowTemplate and waits for it to finish; the child
    records under this workflow's name (and, when partitioned, expands partitions at this workflow's ``now``).
    The child's status lives in the child, not here."""
    parameters = [{"name": RUN_ID_PARAMETER, "value": RUN_ID}, {"name": BUILD_PARAMETER, "value": BUILD}]
    if target.any_partitioned:
        parameters.append({"name": NOW_PARAMETER, "value": _now(run)})
    child = {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {"generateName": "{{workflow.name}}-", "labels": {ANNOTATION + "project": target.base_name}},
        "spec": {
            "arguments": {"parameters": parameters},
            "workflowTemplateRef": {"name": f"{{{{inputs.parameters.{PART_PARAMETER}}}}}"},
        },
    }
    return m.Template(
        name=RUN_PART,
        inputs=m.Inputs(parameters=[m.Parameter(name=PART_PARAMETER)]),
        resource=m.ResourceTemplate(
            action="create",
            manifest=json.dumps(child, sort_keys=True),
            set_owner_reference=True,
            success_condition="status.phase == Succeeded",
            failure_condition="status.phase in (Failed, Error)",
        ),
    )  # no retryStrategy: a retry would create the whole part again; its pods have their own retries


def split_workflow(
    target: Target, run: Run, part_size: int, *, top_name: str | None = None, template: bool = False
) -> list[Manifest]:
    """WorkflowTemplates of at most ``part_size`` tasks each, then a parent that runs each as a child Workflow.

    Parts are consecutive slices of the graph order, so a part only waits for earlier parts. A part starts once
    the parts it waits for have *finished*, succeeded or not; its plan task holds back the keys whose upstream
    in an earlier part is still stale (failed), so a failure stops what depends on it and nothing else, as in
    one workflow. ``top_name``: the parent's name when it is a WorkflowTemplate (``template``)."""
    if part_size < 1:
        raise ConfigError(f"--split must be a number of tasks >= 1, got {part_size}")
    keys = run.keys
    bounds = [(i, min(i + part_size, len(keys))) for i in range(0, len(keys), part_size)]
    top = top_name or target.base_name
    names = _part_names(target, top, len(bounds))
    part_of = {key: index for index, (start, end) in enumerate(bounds) for key in keys[start:end]}
    waits = target.graph.nearest_among(keys)
    guard = _guard(target, run, waits)
    if guard[1] is not None:
        raise ConfigError("a run of some of its selection's keys cannot be split: its slices would not be the pods'")
    manifests: list[Manifest] = []
    parent_tasks = []
    width = len(str(len(bounds)))
    for index, (start, end) in enumerate(bounds):
        part = keys[start:end]
        chosen, templates = _step_templates(target, part, run, PART_RUN_ID)
        dag = _tasks(part, waits, chosen, [k for k in part if target.partitioned(k)])
        plan = _plan_template(target, run, PART_RUN_ID, guard, (start, end), part)
        spec = _spec(target, dag, [plan, *templates], top=None)
        manifests.append(_object(target, spec, run, names[index]))
        before = sorted({part_of[u] for key in part for u in waits[key] if part_of[u] != index})
        finished = [f"(part-{i + 1:0{width}d}.Succeeded || part-{i + 1:0{width}d}.Failed)" for i in before]
        parent_tasks.append(
            m.DAGTask(
                name=f"part-{index + 1:0{width}d}",
                template=RUN_PART,
                arguments=m.Arguments(parameters=[m.Parameter(name=PART_PARAMETER, value=names[index])]),
                depends=" && ".join(finished) or None,
            )
        )
    spec = _spec(target, parent_tasks, [_run_part_template(target, run)], top=run, all_targets=True)
    manifests.append(_object(target, spec, run, top if template else None))
    return manifests


def cron_workflow(target: Target, schedule: Schedule, run_template: str) -> Manifest:
    """A CronWorkflow that starts the WorkflowTemplate ``run_template`` (the gated run of the schedule's
    selection) at each fire time: deploying a new version updates the template, not the schedule."""
    cron = m.CronWorkflowSpec(
        schedules=[schedule.cron],
        timezone=schedule.timezone,
        concurrency_policy=schedule.concurrency_policy,
        starting_deadline_seconds=schedule.starting_deadline_seconds,
        successful_jobs_history_limit=schedule.successful_jobs_history_limit,
        failed_jobs_history_limit=schedule.failed_jobs_history_limit,
        workflow_spec=m.WorkflowSpec(workflow_template_ref=m.WorkflowTemplateRef(name=run_template)),
    )
    meta = _metadata(target, name=run_template, selection=schedule.select)
    return dump(m.CronWorkflow(api_version=API_VERSION, kind="CronWorkflow", metadata=meta, spec=cron))


def schedule_template_name(target: Target, schedule: Schedule) -> str:
    """The name of a schedule's run WorkflowTemplate and of its CronWorkflow (different kinds, one name)."""
    return resource_name(f"{target.base_name}-{schedule.name}")

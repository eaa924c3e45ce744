"""From a loaded project to manifests: a plan-gated run of the selection, the whole selection (``--all``),
what is stale in this machine's store (``--plan-here``), or one CronWorkflow per schedule.

By default nothing is planned here: the plan task plans in the cluster, against the store the pods use.
``--plan-here`` is the one edge that reads this machine's store; ``compiler`` only turns keys into manifests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from assets_core import k8s_grammar
from assets_core.bulk import collector_paused
from assets_core.errors import ConfigError, SelectionError
from assets_core.partition_scope import PartitionRange
from assets_core.workspace import Workspace

from . import checks, compiler
from .compiler import Manifest, ManifestTooLarge, Run, Target
from .config import ArgoConfig, with_resource_secrets
from .render import document, to_yaml
from .size import projected_size


@dataclass(frozen=True)
class Compiled:
    """Checked manifests and their YAML documents; ``nothing``: why there are none."""

    manifests: list[Manifest]
    documents: list[str]
    nothing: str | None = None
    partition_bytes: Mapping[str, int] = field(default_factory=dict)  # for the size projection (Target's)

    @property
    def yaml(self) -> str:
        return to_yaml(self.manifests, self.documents)


@dataclass(frozen=True)
class Request:
    """What ``lakeplan compile`` was asked for."""

    select: str | None = None
    all: bool = False
    template: bool = False
    schedules: bool = False
    split: int | None = None
    plan_here: bool = False  # plan against this machine's store and compile only what is stale there
    partitions: PartitionRange | None = None  # --partition / --from / --to


def target_of(ws: Workspace, config: ArgoConfig) -> Target:
    """The compile target; a file path module is made relative to the project root (the pod's working dir)."""
    module = ws.target
    if module.endswith(".py") or "/" in module:
        module = ws.relative(
            Path(module).resolve() if Path(module).is_absolute() else ws.settings.project_root / module
        )
    problem = k8s_grammar.template_problem(module)  # the pods' command line holds it
    if problem:
        raise ConfigError(f"-m {module!r} {problem}")
    sizes = {
        key: sum(len(k) + 1 for k in node.partitions.keys(ws.now))
        for key, node in ws.graph.assets.items()
        if node.partitions is not None
    }
    return Target(ws.graph, module, with_resource_secrets(config, ws.resources.values()), ws.settings.timeout, sizes)


def compile_project(ws: Workspace, config: ArgoConfig, request: Request) -> Compiled:
    """Compile, then check the result; objects are cut into parts to stay under the size budget.

    The cyclic GC is paused while building: models and YAML nodes are ~50 objects per task, and gen-2
    passes over them made 10k-task compiles superlinear (1.3 s -> 0.6 s for the models alone)."""
    with collector_paused():
        return _compile(ws, config, request)


def _compile(ws: Workspace, config: ArgoConfig, request: Request) -> Compiled:
    target = target_of(ws, config)
    selection = request.select or "*"
    docs: list[Manifest] = []
    if request.schedules:
        if request.partitions is not None:
            raise SelectionError(
                "--partition/--from/--to choose a backfill's partitions, but a schedule builds what is stale at its "
                "fire time; drop them, or compile the backfill without --schedules"
            )
        if not ws.schedules:
            raise SelectionError(f"{ws.target} declares no schedules; add schedule('nightly', cron='0 2 * * *')")
        for s in ws.schedules:
            name = compiler.schedule_template_name(target, s)
            run = Run.of(ws.graph, ws.select(s.select), s.select, gated=True, scheduled=True)
            if not run.keys:
                raise SelectionError(f"schedule {s.name!r} selects no assets with select={s.select!r}")
            docs += fit(target, run, request.split, name)
            docs.append(compiler.cron_workflow(target, s, name))
    elif request.plan_here:
        stale = {ws.instance(s.key).asset for s in ws.plan(request.select, partitions=request.partitions).stale}
        if not stale:
            return Compiled([], [], f"nothing is stale in {selection!r} (planned against this machine's store)")
        # the pods' plan decides; a stale key without a task fails
        run = Run.of(ws.graph, stale, selection, gated=True, partitions=request.partitions)
        docs = fit(target, run, request.split, target.base_name if request.template else None, can_split=False)
    else:
        if request.partitions is not None:
            ws.scope(request.select, request.partitions)  # a bad --partition/--from/--to fails here, in one line
        run = Run.of(ws.graph, ws.select(request.select), selection, not request.all, request.partitions)
        if not run.keys:
            return Compiled([], [], f"no assets in {selection!r}")
        docs = fit(target, run, request.split, target.base_name if request.template else None)
    documents = [document(doc) for doc in docs]
    found = checks.structure_problems(docs)
    if found:
        raise RuntimeError("compiled manifests fail lakeplan's own checks (a lakeplan bug): " + "; ".join(found))
    return Compiled(docs, documents, None, target.partition_bytes)


SAMPLE = 400  # tasks compiled to measure the running size per task


def fit(
    target: Target, run: Run, part_size: int | None, template_name: str | None, *, can_split: bool = True
) -> list[Manifest]:
    """One object for ``run`` when its projected running size is under the budget, else parts that each are.

    The size per task is measured on a sample, so a 100k-asset selection is never built whole to be measured;
    every object built is then measured itself, and parts shrink until each fits."""
    budget = target.config.budget_bytes
    if part_size is not None and not can_split:
        raise ConfigError("--split cuts a run planned in the cluster into parts; drop --plan-here to use it")
    if part_size is None:
        sample = Run(run.keys[:SAMPLE], run.selection, run.gated)
        sampled = compiler.workflow(target, sample, guard=compiler.SAMPLE_GUARD)
        per_task = projected_size(sampled, partition_bytes=target.partition_bytes) / max(len(sample.keys), 1)
        if per_task * len(run.keys) <= budget:
            single = compiler.workflow(target, run, template_name=template_name)
            if projected_size(single, partition_bytes=target.partition_bytes) <= budget:
                return [single]
        if not can_split:
            raise ManifestTooLarge(
                f"{len(run.keys)} tasks would pass the {budget:,}-byte budget of one Argo object; "
                "drop --plan-here to compile a plan-gated run, which is cut into parts"
            )
        part_size = max(1, int(budget * 0.9 / per_task))
    while True:
        docs = compiler.split_workflow(
            target, run, part_size, top_name=template_name, template=template_name is not None
        )
        sizes = [projected_size(d, partition_bytes=target.partition_bytes) for d in docs]
        if max(sizes[:-1]) <= budget and sizes[-1] <= budget:
            return docs
        too_big = [i for i, size in enumerate(sizes[:-1]) if size > budget]
        if part_size == 1 and too_big:  # one asset alone: a fan-out over more partitions than one object holds
            key = run.keys[too_big[0]]
            raise ManifestTooLarge(
                f"asset {key!r} alone grows to {sizes[too_big[0]]:,} bytes running (its fan-out over every "
                f"partition), over the {budget:,}-byte budget; compile a narrower --from/--to range"
            )
        if sizes[-1] > budget or part_size == 1:
            raise ManifestTooLarge(
                f"{len(run.keys)} tasks need {len(docs) - 1} parts, and the parent that runs them is "
                f"{sizes[-1]:,} bytes running, over the {budget:,}-byte budget; narrow the selection"
            )
        part_size = max(1, int(part_size * budget / max(sizes) * 0.95))

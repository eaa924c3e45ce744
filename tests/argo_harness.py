"""A local stand-in for the Argo controller, for tests only: runs a compiled manifest's DAG by the controller's
rules, each rule below cited from argo-workflows (v4.1) so the stand-in is never more forgiving than Argo.

- Validation at submit (workflow/validate/validate.go: validateDAG, isValidWorkflowFieldName): a DAG has at
  least one task, names are field names, a task name starts with a letter when ``depends`` is used, every
  dependency is a task, no cycles, every template exists; in a task, ``{{item}}`` only with ``withItems`` /
  ``withParam`` (addItemsToScope) and ``{{tasks.T.outputs.parameters.P}}`` only for an ancestor T whose
  template declares output P (addOutputsToScope over GetTaskAncestry, then resolveAllVariables); output
  parameter names match ``^[-a-zA-Z0-9_]+$`` (paramOrArtifactNameRegex). ``depends`` is parsed by
  ``argo_compiler.depends`` (workflow/common/ancestry.go and expr-lang, as evaluateDependsLogic in
  workflow/controller/dag.go does).
- What runs: a CronWorkflow or a part's child Workflow runs the WorkflowTemplate it references (the template's
  spec is stored in the run: operator.go setStoredWfSpec); ``spec.arguments`` become
  ``{{workflow.parameters.*}}``; a ``resource`` template with ``action: create`` creates that child Workflow and
  waits for its ``successCondition`` / ``failureCondition`` (workflow/executor/resource.go, label selectors).
- Scheduling (dag.go executeDAG, executeDAGTask): a task starts once every task its ``depends`` names has
  finished; ``depends`` false -> Omitted; then ``when``: expression tags ``{{=...}}`` are resolved first
  (util/template ReplaceStrictAny with expr-lang; the subset lakeplan emits: ``<path> contains '<text>'``), then
  govaluate decides (steps.go shouldExecute; the subset: ``true`` / ``false``) -> Skipped with the message
  "when '<resolved>' evaluated false". Ready pods run in parallel, at most ``spec.parallelism`` at once
  (operator.go checkParallelism: ``activePods >= Spec.Parallelism`` refuses a new pod); a template-level
  ``parallelism`` is not modelled and refused (NotImplementedError).
- Fan-out (dag.go expandTask, executeDAGTask; operator.go processItem, generateNodeName): ``withItems``, or
  ``withParam`` resolved (``{{tasks.X.outputs.parameters.Y}}``) then ``json.Unmarshal`` into a list (anything
  else: an Error node "withParam value could not be parsed as a JSON list"); an empty list: the task is Skipped
  "Skipped, empty params"; else a TaskGroup node with one task per item named ``task(i:item)``, ``{{item}}``
  replaced by a string item as is, a list or map item by its JSON (Go's json.Marshal: compact, keys sorted). Each
  item is a pod of its own under ``parallelism``; the group is Failed or Error when an item is, else Succeeded,
  and what depends on the task waits for the whole group.
- Globals (operator.go setGlobalParameters): ``workflow.creationTimestamp`` (RFC 3339) always;
  ``workflow.scheduledTime`` only for a run a CronWorkflow started (``scheduled_time``; the
  ``workflows.argoproj.io/scheduled-time`` annotation), else the tag stays as written
  (util/variables/keys/runtime.go).
- Pods: each pod gets its own file system over the image's (``Cluster.workdir``), at the same path, as an
  overlay in a private mount namespace (a copy at another path where overlays are not allowed); only
  volumes (the PVC) are shared; env from ``secretKeyRef``: a missing Secret or key leaves the pod Pending
  (CreateContainerConfigError) until the template's ``timeout``, which then fails the node
  (operator.go checkTemplateTimeouts); with ``optional: true`` the variable is left unset instead
  (kubernetes pkg/kubelet/kubelet_pods.go: makeEnvironmentVariables, ``continue`` when optional).
  ``lakeplan`` (the image's entrypoint) runs as ``python -m assets_core``.
- Pod deadline: the pod's ``activeDeadlineSeconds`` is the template's, replaced by what is left of the
  template's ``timeout`` when it has one (workflowpod.go build; a pod here starts when its node does). Past it
  the kubelet kills the pod (pkg/kubelet/active_deadline.go in kubernetes: reason DeadlineExceeded, message
  "Pod was active on the node longer than the specified deadline"): SIGTERM, SIGKILL after the grace period;
  the node fails with the pod's message (operator.go inferFailedReason) and the exit code of a container killed
  by signal N, 128 + N, is what the retryStrategy expression sees.
- Retries (operator.go processNodeRetries, buildRetryStrategyLocalScope): up to ``limit`` retries while the
  ``expression`` holds, with ``retries`` and ``lastRetry.exitCode`` ("-1" when no container ran); backoff
  ``duration * factor**n`` is added to the simulated clock, not slept.
- Phases (dag.go assessDAGPhase): an unfinished task inherits the phase of its failed dependencies; the run
  fails when a target task (``dag.target`` or the leaves) is Failed or Error. ``failFast: false`` lets every
  ready branch finish. ``activeDeadlineSeconds``: no pod starts once the simulated clock passes it, and the
  run fails. Then the ``onExit`` template runs with ``{{workflow.status}}`` (Succeeded, Failed or Error).
- Size (workflow/packer/packer.go): ``object_size()`` is the JSON of spec (or stored template spec) + status
  nodes built from what actually ran; over ``MAX_WORKFLOW_SIZE`` (1 MiB) the run is an Error.
Expressions outside what lakeplan emits fail loudly (NotImplementedError) instead of being guessed.
"""

from __future__ import annotations

import functools
import graphlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argo_compiler import depends
from argo_compiler.size import node_status

_SUBST = re.compile(r"\{\{\s*([^{}=][^{}]*?)\s*\}\}")
_EXPRESSION = re.compile(r"\{\{=\s*(.+?)\s*\}\}")
_CONTAINS = re.compile(r"^([A-Za-z_][\w.-]*) contains '([^']*)'$")
_FIELD_NAME = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")  # validate.go workflowFieldNameFmt
_SELECTOR = re.compile(r"^([\w.]+) (==|in) (.+)$")
_TASK_OUTPUT = re.compile(r"\{\{tasks\.([-a-zA-Z0-9]+)\.outputs\.parameters\.([-a-zA-Z0-9_]+)\}\}")
_PARAM_NAME = re.compile(r"[-a-zA-Z0-9_]+")  # validate.go paramOrArtifactNameRegex
FAILED_PHASES = ("Failed", "Error")
MAX_WORKFLOW_SIZE = 1024 * 1024
POD_SAFETY_SECONDS = 300  # the harness's own limit on one pod: longer means a test is stuck, not a deadline
TERMINATION_GRACE_SECONDS = 2  # terminationGracePeriodSeconds (Kubernetes' default is 30; shorter for tests)
DEADLINE_EXCEEDED = "Pod was active on the node longer than the specified deadline"
_IMAGE_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    ".lakeplan",
    "*.egg-info",
)


class Refused(Exception):
    """What Argo would refuse at submit (validation) — the manifest never runs."""


@dataclass(frozen=True)
class Pod:
    """One pod as the kubelet gets it: argv, env, working directory, output parameter files."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    outputs: dict[str, str]


@dataclass
class Cluster:
    """What the cluster provides: Secrets, PVCs (as local directories), the image's file system (copied per pod
    when ``isolated``), extra image environment, and optionally a fake kubelet ``pods`` that runs a pod in-process
    (returns the exit code; used for large DAGs where thousands of processes would be too slow)."""

    secrets: Mapping[str, Mapping[str, str]]
    volumes: Mapping[str, Path]
    workdir: Path
    image_env: Mapping[str, str] = field(default_factory=dict)
    isolated: bool = True
    pods: Callable[[Pod], int] | None = None


@dataclass
class TaskRun:
    """One DAG task's outcome, with Argo's node phase names."""

    name: str
    phase: str  # Succeeded, Failed, Error, Skipped (when was false), Omitted (depends was false)
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    children: dict[str, TaskRun] = field(default_factory=dict)  # a part's own DAG tasks
    items: list[TaskRun] = field(default_factory=list)  # a fan-out's expanded tasks, ``task(i:item)``
    attempts: int = 1
    message: str = ""
    arguments: dict[str, str] = field(default_factory=dict)


def workflow_spec(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    spec: Mapping[str, Any] = manifest["spec"]
    return spec.get("workflowSpec", spec)


def dag_tasks(manifest: Mapping[str, Any], template: str | None = None) -> list[dict[str, Any]]:
    """The DAG tasks of ``template`` (default: the entrypoint)."""
    spec = workflow_spec(manifest)
    entry = next(t for t in spec["templates"] if t["name"] == (template or spec["entrypoint"]))
    tasks: list[dict[str, Any]] = entry["dag"]["tasks"]
    return tasks


def _substitute(text: str, values: Mapping[str, str]) -> str:
    """Expression tags first, then simple tags (util/template: parseTag, expressionReplaceCore, simpleReplace)."""

    def expression(match: re.Match[str]) -> str:
        found = _CONTAINS.match(match.group(1))
        if found is None or found.group(1) not in values:
            raise NotImplementedError(f"harness cannot evaluate expression {match.group(0)!r}")
        return "true" if found.group(2) in values[found.group(1)] else "false"

    def simple(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "workflow.scheduledTime" and name not in values:
            return match.group(0)  # not a CronWorkflow's run: left as written (util/variables/keys/runtime.go)
        if name not in values:
            raise NotImplementedError(f"harness cannot resolve {{{{{name}}}}}")
        return values[name]

    return _SUBST.sub(simple, _EXPRESSION.sub(expression, text))


def when_true(expression: str) -> bool:
    """govaluate on a resolved ``when``: the literals lakeplan's expression tags resolve to."""
    if expression.strip() in ("true", "false"):
        return expression.strip() == "true"
    raise NotImplementedError(f"harness cannot evaluate when: {expression!r}")


def retry_allowed(expression: str, retries: int, exit_code: str) -> bool:
    """A retryStrategy expression of the shape lakeplan emits: ``asInt(lastRetry.exitCode) != N`` and
    ``asInt(retries) < N`` joined by ``&&`` / ``||`` with parentheses (evaluated by expr-lang in Argo)."""
    python = expression.replace("asInt(lastRetry.exitCode)", str(int(exit_code)))
    python = python.replace("asInt(retries)", str(retries)).replace("&&", " and ").replace("||", " or ")
    if not re.fullmatch(r"(?:\s+|-?\d+|[()]|[<>]=?|[!=]=|and|or)+", python):
        raise NotImplementedError(f"harness cannot evaluate retry expression {expression!r}")
    return bool(eval(python, {"__builtins__": {}}))  # only integers, comparisons, and/or and parentheses


def _selector_holds(selector: str, values: Mapping[str, str]) -> bool:
    """A Kubernetes label selector of one requirement: ``key == value`` or ``key in (a, b)``."""
    match = _SELECTOR.match(selector.strip())
    if match is None:
        raise NotImplementedError(f"harness cannot evaluate resource condition {selector!r}")
    key, op, rest = match.groups()
    wanted = [v.strip() for v in rest.strip("()").split(",")] if op == "in" else [rest.strip()]
    return values.get(key) in wanted


class Harness:
    """Runs one manifest's DAG against a ``Cluster``; ``library`` holds the WorkflowTemplates that CronWorkflows
    and part tasks run. ``arguments`` override ``spec.arguments`` (what a parent passes a child)."""

    def __init__(
        self,
        manifest: Mapping[str, Any],
        cluster: Cluster,
        workflow_name: str = "wf-local-1",
        library: Sequence[Mapping[str, Any]] = (),
        arguments: Mapping[str, str] | None = None,
        created: str = "2026-11-30T08:00:00Z",
        scheduled_time: str | None = None,
    ) -> None:
        self.manifest = manifest
        self.created = created
        self.scheduled_time = scheduled_time
        self.active_pods = 0
        self.peak_pods = 0  # the most pods that ran at once
        self.cluster = cluster
        self.workflow_name = workflow_name
        self.library = {doc["metadata"]["name"]: doc for doc in library}
        self.spec = self._resolved_spec(manifest)
        self.templates = {t["name"]: t for t in self.spec["templates"]}
        self.tasks = {t["name"]: t for t in self._entry()["dag"]["tasks"]}
        self.parameters = {p["name"]: p.get("value") for p in self.spec.get("arguments", {}).get("parameters", [])}
        self.parameters.update(arguments or {})
        missing = sorted(k for k, v in self.parameters.items() if v is None)
        if missing:
            raise Refused(f"spec.arguments.{missing[0]}.value is required")
        self.results: dict[str, TaskRun] = {}
        self.exit: TaskRun | None = None  # the onExit handler's run, once the DAG is done
        self.clock = 0.0  # simulated seconds spent (pending timeouts, retry backoff)
        self.children: list[Harness] = []
        self._scratch = Path(tempfile.mkdtemp(prefix="argo-pod-"))
        self._pods = 0
        self._lock = threading.Lock()
        self.validate()

    def _resolved_spec(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        spec = dict(workflow_spec(manifest))
        if manifest.get("kind") == "WorkflowTemplate":
            return spec  # run by reference: its spec is the run's stored spec
        ref = spec.get("workflowTemplateRef")
        if ref is None:
            return spec
        if ref["name"] not in self.library:
            raise Refused(f'workflowtemplates.argoproj.io "{ref["name"]}" not found')
        stored = dict(self.library[ref["name"]]["spec"])
        return {**stored, **{k: v for k, v in spec.items() if k != "workflowTemplateRef"}}

    def _entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = self.templates[self.spec["entrypoint"]]
        return entry

    def validate(self) -> None:
        """What validate.go refuses before anything runs (``Refused`` with Argo's wording)."""
        entry = self._entry()
        tasks = entry["dag"].get("tasks") or []
        if not tasks:
            raise Refused(f"templates.{entry['name']} must have at least one task")
        using_depends = any("depends" in t for t in tasks)
        graph: dict[str, list[str]] = {}
        for task in tasks:
            name = task["name"]
            if not _FIELD_NAME.fullmatch(name) or len(name) > 128:
                raise Refused(f"templates.{entry['name']}.tasks.{name} name must consist of alpha-numeric characters")
            if using_depends and name[0].isdigit():
                raise Refused(f"templates.{entry['name']}.tasks.{name} name cannot begin with a digit")
            if task.get("template") not in self.templates:
                raise Refused(f"templates.{entry['name']}.tasks.{name} template {task.get('template')!r} not found")
            try:
                deps = depends.names(task.get("depends", ""))
            except ValueError as exc:
                raise Refused(f"templates.{entry['name']}.tasks.{name}: {exc}") from None
            for dep in deps:
                if dep not in self.tasks:
                    raise Refused(f"templates.{entry['name']}.tasks.{name} dependency '{dep}' not defined")
            graph[name] = deps
        self.deps = graph
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError:
            raise Refused(f"templates.{entry['name']} sorting failed: dependency cycle") from None
        for template in self.templates.values():
            for param in template.get("outputs", {}).get("parameters", []):
                if not _PARAM_NAME.fullmatch(param["name"]):
                    raise Refused(f"templates.{template['name']}.outputs.parameters.{param['name']}: invalid name")
        for task in tasks:
            self._validate_references(entry["name"], task)

    def _validate_references(self, dag: str, task: Mapping[str, Any]) -> None:
        """``{{item}}`` and ``{{tasks.T.outputs.parameters.P}}`` in a task resolve (validate.go resolveAllVariables)."""
        text = json.dumps(task)
        where = f"templates.{dag}.tasks.{task['name']}"
        if "{{item}}" in text and "withItems" not in task and "withParam" not in task:
            raise Refused(f"{where} failed to resolve {{{{item}}}}")
        ancestors, todo = set(), list(self.deps[task["name"]])
        while todo:
            name = todo.pop()
            if name not in ancestors:
                ancestors.add(name)
                todo += self.deps[name]
        for found in _TASK_OUTPUT.finditer(text):
            name, param = found.groups()
            template = self.templates.get(self.tasks[name]["template"], {}) if name in self.tasks else {}
            declared = {p["name"] for p in template.get("outputs", {}).get("parameters", [])}
            if name not in ancestors or param not in declared:
                raise Refused(f"{where} failed to resolve {found.group(0)}")

    # -- pods ---------------------------------------------------------------------------------------------

    def _paths(self, template: Mapping[str, Any], pod_dir: Path) -> dict[str, str]:
        """Container paths -> local paths: PVC mounts, and output-parameter files in the pod's own dir."""
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in self.spec.get("volumes", [])}
        mapping = {
            mount["mountPath"]: str(self.cluster.volumes[claims[mount["name"]]])
            for mount in template["container"].get("volumeMounts", [])
        }
        for param in template.get("outputs", {}).get("parameters", []):
            path = param["valueFrom"]["path"]
            mapping[path] = str(pod_dir / "outputs" / Path(path).name)
        return mapping

    def _values(self, extra: Mapping[str, str]) -> dict[str, str]:
        values = {"workflow.name": self.workflow_name, "workflow.creationTimestamp": self.created, **extra}
        if self.scheduled_time is not None:
            values["workflow.scheduledTime"] = self.scheduled_time
        values.update({f"workflow.parameters.{k}": str(v) for k, v in self.parameters.items()})
        return values

    def command(self, name: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """The task's process: argv, environment, and its output parameters' local files (run in the shared
        working dir; ``run_task`` gives each pod its own copy)."""
        task = self.tasks[name]
        values = self._values(self._arguments(task))
        pod = self._pod(self.templates[task["template"]], values, name)
        return pod.argv, pod.env, pod.outputs

    @staticmethod
    def _arguments(task: Mapping[str, Any]) -> dict[str, str]:
        return {f"inputs.parameters.{p['name']}": p["value"] for p in task.get("arguments", {}).get("parameters", [])}

    def _pod(self, template: Mapping[str, Any], values: Mapping[str, str], name: str) -> Pod:
        container = template["container"]
        with self._lock:
            self._pods += 1
            pod_dir = (
                self._scratch / f"{re.sub(r'[^-a-z0-9]', '-', name)}-{self._pods}"
            )  # ',' ':' break overlay options
        (pod_dir / "outputs").mkdir(parents=True, exist_ok=True)
        paths = self._paths(template, pod_dir)

        def local(text: str) -> str:
            for inside, outside in paths.items():
                if text == inside or text.startswith(inside + "/"):
                    return outside + text[len(inside) :]
            return text

        command = [_substitute(c, values) for c in container["command"]]
        if command[0] != "lakeplan":
            raise NotImplementedError(f"harness only runs the lakeplan entrypoint, not {command[0]!r}")
        argv = [
            sys.executable,
            "-m",
            "assets_core",
            *(local(_substitute(a, values)) for a in container.get("args", [])),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEPLAN_", "LAKECTL_", "LAKEFS_"))}
        env.update(self.cluster.image_env)
        for var in container.get("env", []):
            if "valueFrom" in var:
                ref = var["valueFrom"]["secretKeyRef"]
                secret = self.cluster.secrets.get(ref["name"], {})
                if ref["key"] not in secret and ref.get("optional"):
                    continue  # kubelet_pods.go makeEnvironmentVariables: an optional missing Secret/key is skipped
                if ref["key"] not in secret:
                    env[var["name"]] = _PENDING  # CreateContainerConfigError: the pod never starts
                    continue
                env[var["name"]] = secret[ref["key"]]
            else:
                env[var["name"]] = local(var["value"])
        outputs = {p["name"]: paths[p["valueFrom"]["path"]] for p in template.get("outputs", {}).get("parameters", [])}
        return Pod(name, argv, env, pod_dir, outputs)

    def start(self, name: str) -> subprocess.Popen[str]:
        """Start a task's pod without waiting, in the shared working dir (for kill tests)."""
        argv, env, _ = self.command(name)
        return subprocess.Popen(
            argv, cwd=self.cluster.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def _attempt(self, pod: Pod, template: Mapping[str, Any]) -> TaskRun:
        """One pod to completion, or Pending until the template's timeout when a Secret is missing."""
        if _PENDING in pod.env.values():
            timeout = str(template.get("timeout", "0s")).rstrip("s")
            if not timeout or timeout == "0":
                raise NotImplementedError("a pod Pending without a template timeout would wait forever")
            with self._lock:
                self.clock += float(timeout)
            return TaskRun(pod.name, "Failed", None, message="timeout")  # checkTemplateTimeouts -> ErrTimeout
        cwd, argv = self.cluster.workdir, pod.argv
        if self.cluster.isolated and self.cluster.pods is None and _overlay_works():
            volumes = [Path(v).resolve() for v in self.cluster.volumes.values()]
            argv = _in_overlay(self.cluster.workdir.resolve(), pod.cwd, pod.argv, volumes)  # same path, own writes
        elif self.cluster.isolated:
            cwd = pod.cwd / "image"  # a copy: its own writes, but at another path
            shutil.copytree(self.cluster.workdir, cwd, ignore=_IMAGE_IGNORE, symlinks=True)
        with self._lock:
            self.active_pods += 1
            self.peak_pods = max(self.peak_pods, self.active_pods)
        try:
            code, stdout, stderr, message = self._container(pod, argv, cwd, template)
        finally:
            with self._lock:
                self.active_pods -= 1
        values = {k: Path(p).read_text() for k, p in pod.outputs.items() if code == 0}
        phase = "Succeeded" if code == 0 else "Failed"
        return TaskRun(pod.name, phase, code, stdout, stderr, values, message=message)

    def _container(
        self, pod: Pod, argv: list[str], cwd: Path, template: Mapping[str, Any]
    ) -> tuple[int, str, str, str]:
        if self.cluster.pods is not None:
            code, stdout, stderr, message = (
                self.cluster.pods(Pod(pod.name, pod.argv, pod.env, cwd, pod.outputs)),
                "",
                "",
                "",
            )
        else:
            code, stdout, stderr, message = _run_container(argv, cwd, pod.env, _pod_deadline(template))
        return code, stdout, stderr, message

    def _with_retries(self, template: Mapping[str, Any], make: Callable[[], TaskRun]) -> TaskRun:
        strategy = template.get("retryStrategy")
        result = make()
        attempts = 1
        while strategy is not None and result.phase in FAILED_PHASES:
            limit = int(strategy.get("limit", 0))
            exit_code = "-1" if result.exit_code is None else str(result.exit_code)
            if attempts > limit or not retry_allowed(strategy.get("expression", "true"), attempts - 1, exit_code):
                break
            if self._past_deadline():  # activeDeadlineSeconds: the controller stops the run, no new pods
                break
            backoff = strategy.get("backoff", {})
            if backoff:
                with self._lock:
                    self.clock += float(str(backoff["duration"]).rstrip("s")) * float(backoff.get("factor", 1)) ** (
                        attempts - 1
                    )
            result = make()
            attempts += 1
        result.attempts = attempts
        return result

    def run_task(self, name: str) -> TaskRun:
        """Run a task (with its retryStrategy) to completion and record it."""
        result = self._run_task(name)
        self.results[name] = result
        return result

    def _run_task(self, name: str, task: Mapping[str, Any] | None = None) -> TaskRun:
        task = task or self.tasks[name]
        template = self.templates[task["template"]]
        values = self._values(self._arguments(task))
        if "resource" in template:
            result = self._with_retries(template, lambda: self._create_child(name, template, values))
        else:
            result = self._with_retries(template, lambda: self._attempt(self._pod(template, values, name), template))
        result.name = name
        result.arguments = {k.rsplit(".", 1)[1]: v for k, v in self._arguments(task).items()}
        return result

    def _create_child(self, name: str, template: Mapping[str, Any], values: Mapping[str, str]) -> TaskRun:
        """``resource: create`` of a Workflow from a WorkflowTemplate, waiting for its conditions."""
        resource = template["resource"]
        if resource.get("action") != "create":
            raise NotImplementedError(f"harness only creates resources, not {resource.get('action')!r}")
        child = json.loads(_substitute(resource["manifest"], values))
        ref = child["spec"]["workflowTemplateRef"]["name"]
        if ref not in self.library:
            return TaskRun(name, "Error", message=f'workflowtemplates.argoproj.io "{ref}" not found')
        arguments = {p["name"]: p["value"] for p in child["spec"].get("arguments", {}).get("parameters", [])}
        with self._lock:
            child_name = f"{child['metadata']['generateName']}{len(self.children):05d}"
        run = Harness(self.library[ref], self.cluster, child_name, list(self.library.values()), arguments)
        with self._lock:
            self.children.append(run)
        run.run(exit_handler=False)
        status = {"status.phase": run.status()}
        with self._lock:
            self.clock = max(self.clock, run.clock)
        if _selector_holds(resource["failureCondition"], status):
            return TaskRun(name, "Failed", message=f"failure condition met: {run.status()}", children=run.results)
        if _selector_holds(resource["successCondition"], status):
            return TaskRun(name, "Succeeded", children=run.results)
        raise NotImplementedError(f"child {child_name} finished {run.status()}, matching neither condition")

    # -- the DAG ------------------------------------------------------------------------------------------

    def _outputs(self) -> dict[str, str]:
        return {f"tasks.{t}.outputs.parameters.{p}": v for t, r in self.results.items() for p, v in r.outputs.items()}

    def _expand(self, name: str) -> list[dict[str, Any]] | TaskRun | None:
        """A ``withItems``/``withParam`` task's expanded tasks (expandTask, processItem); a TaskRun when it is
        Skipped (no items) or Error (not a JSON list); None for a task that does not fan out."""
        task = self.tasks[name]
        if "withItems" in task:
            items = task["withItems"]
        elif "withParam" in task:
            text = _substitute(task["withParam"], self._values(self._outputs()))
            try:
                items = json.loads(text)
            except ValueError:
                items = None
            if not isinstance(items, list):
                message = f"withParam value could not be parsed as a JSON list: {text.strip()}"
                return TaskRun(name, "Error", message=message)
        else:
            return None
        if "when" in task or "withSequence" in task:
            raise NotImplementedError("harness expands withItems/withParam tasks without when or withSequence")
        if not items:
            return TaskRun(name, "Skipped", message="Skipped, empty params")
        expanded = []
        for index, item in enumerate(items):
            if isinstance(item, dict | list):
                value = json.dumps(item, separators=(",", ":"), sort_keys=True)
                label = value if isinstance(item, list) else ",".join(sorted(f"{k}:{v}" for k, v in item.items()))
            elif isinstance(item, str | int | float | bool):
                value = label = item if isinstance(item, str) else json.dumps(item)
            else:
                return TaskRun(name, "Error", message=f"withItems[{index}] expected string, number, list, or map")
            arguments = json.loads(json.dumps(task.get("arguments", {})).replace("{{item}}", json.dumps(value)[1:-1]))
            label = label.replace("(", "").replace(")", "")
            expanded.append({**task, "name": f"{name}({index}:{label})", "arguments": arguments})
        return expanded

    def _decide(self, name: str) -> TaskRun | None:
        """Omitted or Skipped before any pod starts; None when the task runs."""
        task = self.tasks[name]
        phases = {k: r.phase for k, r in self.results.items()}
        if not depends.holds(task.get("depends", ""), phases):
            return TaskRun(name, "Omitted", message="omitted: depends condition not met")
        if "when" in task:
            resolved = _substitute(task["when"], self._values(self._outputs()))
            if not when_true(resolved):
                return TaskRun(name, "Skipped", message=f"when '{resolved}' evaluated false")
        return None

    def _past_deadline(self) -> bool:
        deadline = self.spec.get("activeDeadlineSeconds")
        return deadline is not None and self.clock >= float(deadline)

    def run(self, before: Callable[[str], None] | None = None, exit_handler: bool = True) -> dict[str, TaskRun]:
        """Run the whole DAG, ready tasks in parallel (at most ``parallelism``), then the exit handler (see
        ``exit``); returns every DAG task's outcome."""
        waiting = {name: len(set(deps)) for name, deps in self.deps.items()}
        dependents: dict[str, list[str]] = {name: [] for name in self.tasks}
        for name, deps in self.deps.items():
            for dep in set(deps):
                dependents[dep].append(name)
        ready = sorted(name for name, count in waiting.items() if count == 0)
        if any("parallelism" in t for t in self.templates.values()):
            raise NotImplementedError("harness does not model a template-level parallelism")
        workers = int(self.spec.get("parallelism") or 8)
        groups: dict[str, list[TaskRun | None]] = {}  # a fan-out's items, None while running

        def finished(name: str, result: TaskRun) -> None:
            self.results[name] = result
            for child in dependents[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)

        def item_done(name: str, index: int, result: TaskRun) -> None:
            group = groups[name]
            group[index] = result
            if all(r is not None for r in group):
                items = [r for r in group if r is not None]
                phase = next((r.phase for r in items if r.phase in FAILED_PHASES), "Succeeded")
                finished(name, TaskRun(name, phase, items=items))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            running: dict[Future[TaskRun], tuple[str, int | None]] = {}
            while ready or running:
                while ready:
                    name = ready.pop(0)
                    decided = self._decide(name)
                    if decided is None and self._past_deadline():
                        decided = TaskRun(name, "Failed", message="Step exceeded its deadline")
                    expanded = self._expand(name) if decided is None else None
                    if isinstance(expanded, TaskRun):
                        decided = expanded
                    if decided is not None:
                        finished(name, decided)
                        continue
                    if before is not None:
                        before(name)
                    if expanded is None:
                        running[pool.submit(self._run_task, name)] = (name, None)
                        continue
                    groups[name] = [None] * len(expanded)
                    for index, item in enumerate(expanded):
                        running[pool.submit(self._run_task, item["name"], item)] = (name, index)
                if running:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: str(running[f])):
                        name, index = running.pop(future)
                        if index is None:
                            finished(name, future.result())
                        else:
                            item_done(name, index, future.result())
        if len(self.results) != len(self.tasks):
            raise RuntimeError(f"harness: {sorted(set(self.tasks) - set(self.results))} never became ready")
        if exit_handler:
            self.run_exit()
        return self.results

    def _branch_phase(self, name: str, memo: dict[str, str]) -> str:
        """assessDAGPhase: a completed node's own phase; otherwise Failed if a dependency's branch failed."""
        if name not in memo:
            phase = self.results[name].phase
            if phase not in ("Succeeded", *FAILED_PHASES):
                parents = [self._branch_phase(d, memo) for d in self.deps[name]]
                phase = next((p for p in parents if p in FAILED_PHASES), "Succeeded")
            memo[name] = phase
        return memo[name]

    def status(self) -> str:
        """``{{workflow.status}}`` as Argo gives it to the exit handler."""
        if self.object_size() > MAX_WORKFLOW_SIZE:
            return "Error"  # packer.go: "workflow is longer than maximum allowed size"
        if self._past_deadline():
            return "Failed"
        dag = self._entry()["dag"]
        used = {d for deps in self.deps.values() for d in deps}
        targets = dag["target"].split(" ") if dag.get("target") else [n for n in self.tasks if n not in used]
        memo: dict[str, str] = {}
        phases = [self._branch_phase(t, memo) for t in targets if t in self.results]
        return next((p for p in phases if p in FAILED_PHASES), "Succeeded")

    def run_exit(self, status: str | None = None) -> TaskRun | None:
        """Run the ``onExit`` template once, as one attempt (call again to play Argo retrying it)."""
        handler = self.spec.get("onExit")
        if handler is None:
            return None
        values = self._values({"workflow.status": status or self.status()})
        template = self.templates[handler]
        self.exit = self._attempt(self._pod(template, values, handler), template)
        return self.exit

    def object_size(self) -> int:
        """Bytes of JSON of this run's Workflow object now: its spec (the stored template spec when run by
        reference) and one NodeStatus per node that exists, built from what actually ran."""
        nodes: dict[str, Any] = {}
        flat: list[tuple[str, TaskRun]] = []
        for name, result in self.results.items():
            if result.items:  # a fan-out: its TaskGroup node, then each item's nodes
                template = self.tasks[name]["template"]
                node_id, node = node_status(
                    self.workflow_name, f"{self.workflow_name}.{name}", "TaskGroup", template, result.phase
                )
                nodes[node_id] = node
            flat += [(name, item) for item in result.items] or [(name, result)]
        for task_name, result in flat:
            name = result.name
            template = self.tasks[task_name]["template"]
            node_name = f"{self.workflow_name}.{name}"
            extra: dict[str, Any] = {"message": result.message} if result.message else {}
            if result.arguments:
                extra["inputs"] = {"parameters": [{"name": k, "value": v} for k, v in result.arguments.items()]}
            if result.outputs:
                extra["outputs"] = {"parameters": [{"name": k, "value": v} for k, v in result.outputs.items()]}
            if result.phase in ("Skipped", "Omitted"):
                node_id, node = node_status(self.workflow_name, node_name, "Skipped", template, result.phase, **extra)
                nodes[node_id] = node
                continue
            if "retryStrategy" in self.templates[template]:
                node_id, node = node_status(self.workflow_name, node_name, "Retry", template, result.phase)
                nodes[node_id] = node
            for attempt in range(result.attempts):
                node_id, node = node_status(
                    self.workflow_name, f"{node_name}({attempt})", "Pod", template, result.phase, **extra
                )
                nodes[node_id] = node
        body = {"apiVersion": self.manifest.get("apiVersion"), "kind": "Workflow", "spec": self.spec}
        return len(json.dumps({**body, "status": {"nodes": nodes}}, separators=(",", ":")).encode())


# In a private mount namespace: keep each volume reachable (bind it aside), lay the overlay over the image
# at its own path, bind the volumes back over their paths (a PVC is mounted over the image, not in it), run.
_OVERLAY = """set -e
image=$1; upper=$2; work=$3; aside=$4; shift 4
i=0; for v in $VOLUMES; do mkdir -p "$aside/$i"; mount --bind "$v" "$aside/$i"; i=$((i+1)); done
mount -t overlay overlay -o lowerdir="$image",upperdir="$upper",workdir="$work" "$image"
i=0; for v in $VOLUMES; do mount --bind "$aside/$i" "$v"; i=$((i+1)); done
cd "$image"
exec "$@"
"""


def _pod_deadline(template: Mapping[str, Any]) -> float | None:
    """The pod's activeDeadlineSeconds as workflowpod.go build sets it: the template's ``timeout`` when it has
    one (what is left of it at the pod's start), else the template's ``activeDeadlineSeconds``."""
    timeout = str(template.get("timeout", "")).rstrip("s")
    if timeout:
        return float(timeout)
    deadline = template.get("activeDeadlineSeconds")
    return None if deadline is None else float(deadline)


def _run_container(
    argv: list[str], cwd: Path, env: Mapping[str, str], deadline: float | None
) -> tuple[int, str, str, str]:
    """Run a pod's container: (exit code, stdout, stderr, the pod's failure message). Past ``deadline`` the
    kubelet's DeadlineExceeded: SIGTERM, SIGKILL after the grace period, exit code 128 + the signal."""
    enforced = deadline is not None and deadline < POD_SAFETY_SECONDS
    process = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = process.communicate(timeout=deadline if enforced else POD_SAFETY_SECONDS)
        return process.returncode, stdout, stderr, ""
    except subprocess.TimeoutExpired:
        if not enforced:
            process.kill()
            process.communicate()
            raise
    process.terminate()
    try:
        stdout, stderr = process.communicate(timeout=TERMINATION_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    code = process.returncode
    return (128 - code if code < 0 else code), stdout, stderr, DEADLINE_EXCEEDED


def _in_overlay(image: Path, pod_dir: Path, argv: list[str], volumes: Sequence[Path] = ()) -> list[str]:
    """``argv`` in a private mount namespace where ``image`` is an overlay: the same path as in every other pod
    (as a container image is), with this pod's writes kept in ``pod_dir``; ``volumes`` stay shared."""
    for name in ("upper", "work", "aside"):
        (pod_dir / name).mkdir(exist_ok=True)
    paths = " ".join(str(v) for v in volumes)
    dirs = [str(image), str(pod_dir / "upper"), str(pod_dir / "work"), str(pod_dir / "aside")]
    return ["env", f"VOLUMES={paths}", "unshare", "--mount", "sh", "-c", _OVERLAY, "sh", *dirs, *argv]


@functools.cache
def _overlay_works() -> bool:
    """Whether this machine lets us give a pod its own file system at the image's path (root, overlayfs)."""
    with tempfile.TemporaryDirectory() as scratch:
        image, pod = Path(scratch, "image"), Path(scratch, "pod")
        image.mkdir()
        pod.mkdir()
        try:
            done = subprocess.run(_in_overlay(image, pod, ["true"]), capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0


_PENDING = "\0pending"  # an env value a pod cannot get: its Secret or key is missing

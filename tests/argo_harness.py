"""A local stand-in for Argo, for tests only: runs a compiled manifest's DAG tasks as subprocesses.

It reads the manifest as Argo would: tasks in ``depends`` order, ``depends`` with Argo's result
semantics (a bare name means Succeeded, Skipped or Daemoned), ``when`` evaluated after substituting
``{{tasks.X.outputs.parameters.Y}}``, each task's container ``command``/``args``/``env`` with
``{{inputs.parameters.*}}`` and ``{{workflow.name}}`` filled in, ``secretKeyRef`` read from a fake Secret
store, the PVC mount path and output-parameter files mapped to local directories. ``lakeplan`` (the
image's entrypoint) runs as ``python -m assets_core``. A task with a ``templateRef`` runs the referenced
WorkflowTemplate's DAG inside the same workflow (same name, the parent's volumes). After the DAG, the
``onExit`` template runs with ``{{workflow.status}}`` (Failed if any task failed, else Succeeded).
Retry strategies are not emulated: a test re-runs a task (or ``run_exit``) itself to play an Argo retry.
Expressions it does not know fail loudly instead of being guessed.
"""

from __future__ import annotations

import graphlib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argo_compiler import depends
from argo_compiler.render import templates_of

_SUBST = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_REGEX_MATCH = re.compile(r"^'(.*)' =~ '(.*)'$", re.S)
_EQUALS = re.compile(r"^(.*?) (==|!=) (.*)$", re.S)
FAILED_PHASES = ("Failed", "Error")


@dataclass
class Cluster:
    """What the cluster would provide: Secrets, PVCs (as local directories), and the image's working dir."""

    secrets: Mapping[str, Mapping[str, str]]
    volumes: Mapping[str, Path]
    workdir: Path
    image_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class TaskRun:
    """One DAG task's outcome, with Argo's node phase names."""

    name: str
    phase: str  # Succeeded, Failed, Skipped (when was false), Omitted (depends was false)
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    children: dict[str, TaskRun] = field(default_factory=dict)  # a templateRef task's own DAG tasks


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
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise NotImplementedError(f"harness cannot resolve {{{{{name}}}}}")
        return values[name]

    return _SUBST.sub(one, text)


def when_true(expression: str) -> bool:
    """The two govaluate forms lakeplan emits: ``'text' =~ 'regex'`` and ``a == b`` / ``a != b``."""
    match = _REGEX_MATCH.match(expression.strip())
    if match:
        return re.search(match.group(2), match.group(1)) is not None
    match = _EQUALS.match(expression.strip())
    if match:
        equal = match.group(1).strip() == match.group(3).strip()
        return equal if match.group(2) == "==" else not equal
    raise NotImplementedError(f"harness cannot evaluate when: {expression!r}")


class Harness:
    """Runs one manifest's tasks against a ``Cluster``; ``library`` holds the WorkflowTemplates that
    ``templateRef`` tasks point to (a split's parts)."""

    def __init__(
        self,
        manifest: Mapping[str, Any],
        cluster: Cluster,
        workflow_name: str = "wf-local-1",
        library: Sequence[Mapping[str, Any]] = (),
        entry: str | None = None,
    ) -> None:
        self.manifest = manifest
        self.cluster = cluster
        self.workflow_name = workflow_name
        self.library = {doc["metadata"]["name"]: doc for doc in library}
        self.templates = {t["name"]: t for t in templates_of(dict(manifest))}
        self.spec = workflow_spec(manifest)
        self.tasks = {t["name"]: t for t in dag_tasks(manifest, entry)}
        self.results: dict[str, TaskRun] = {}
        self.exit: TaskRun | None = None  # the onExit handler's run, once the DAG is done
        self._scratch = Path(tempfile.mkdtemp(prefix="argo-pod-"))

    def order(self) -> list[str]:
        graph = {name: depends.names(task.get("depends", "")) for name, task in self.tasks.items()}
        return list(graphlib.TopologicalSorter(graph).static_order())

    def _paths(self, template: Mapping[str, Any], pod_dir: Path) -> dict[str, str]:
        """Container paths -> local paths: PVC mounts, and output-parameter files in the pod's own dir."""
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in self.spec.get("volumes", [])}
        mapping = {
            mount["mountPath"]: str(self.cluster.volumes[claims[mount["name"]]])
            for mount in template["container"].get("volumeMounts", [])
        }
        for param in template.get("outputs", {}).get("parameters", []):
            path = param["valueFrom"]["path"]
            mapping[path] = str(pod_dir / Path(path).name)
        return mapping

    def command(self, name: str) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """The task's process: argv, environment, and its output parameters' local files."""
        task = self.tasks[name]
        values = {"workflow.name": self.workflow_name}
        for param in task.get("arguments", {}).get("parameters", []):
            values[f"inputs.parameters.{param['name']}"] = param["value"]
        return self._process(self.templates[task["template"]], values, name)

    def _process(
        self, template: Mapping[str, Any], values: Mapping[str, str], name: str
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        container = template["container"]
        pod_dir = self._scratch / f"{name}-{len(self.results)}"
        pod_dir.mkdir(parents=True, exist_ok=True)
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
        env.update(self.cluster.image_env)
        for var in container.get("env", []):
            if "valueFrom" in var:
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = self.cluster.secrets[ref["name"]][ref["key"]]
            else:
                env[var["name"]] = local(var["value"])
        outputs = {p["name"]: paths[p["valueFrom"]["path"]] for p in template.get("outputs", {}).get("parameters", [])}
        return argv, env, outputs

    def start(self, name: str) -> subprocess.Popen[str]:
        """Start a task's pod without waiting (for kill tests)."""
        argv, env, _ = self.command(name)
        return subprocess.Popen(
            argv, cwd=self.cluster.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def _execute(self, name: str, process: tuple[list[str], dict[str, str], dict[str, str]]) -> TaskRun:
        argv, env, outputs = process
        done = subprocess.run(argv, cwd=self.cluster.workdir, env=env, capture_output=True, text=True, timeout=300)
        values = {k: Path(p).read_text() for k, p in outputs.items() if done.returncode == 0}
        phase = "Succeeded" if done.returncode == 0 else "Failed"
        return TaskRun(name, phase, done.returncode, done.stdout, done.stderr, values)

    def run_task(self, name: str) -> TaskRun:
        """Run a task's container to completion (also what an Argo retry of the task does)."""
        ref = self.tasks[name].get("templateRef")
        result = self._run_ref(name, ref) if ref else self._execute(name, self.command(name))
        self.results[name] = result
        return result

    def _run_ref(self, name: str, ref: Mapping[str, str]) -> TaskRun:
        """A WorkflowTemplate's DAG run inside this workflow: same name, this workflow's volumes, no onExit."""
        if ref["name"] not in self.library:
            raise NotImplementedError(f"templateRef to {ref['name']!r}, which is not in the harness library")
        part = Harness(self.library[ref["name"]], self.cluster, self.workflow_name, entry=ref["template"])
        part.spec = {**part.spec, "volumes": self.spec.get("volumes", [])}
        children = part.run(exit_handler=False)
        failed = any(r.phase in FAILED_PHASES for r in children.values())
        return TaskRun(name, "Failed" if failed else "Succeeded", children=children)

    def status(self) -> str:
        """``{{workflow.status}}`` as Argo gives it to the exit handler."""
        return "Failed" if any(r.phase in FAILED_PHASES for r in self.results.values()) else "Succeeded"

    def run_exit(self, status: str | None = None) -> TaskRun | None:
        """Run the ``onExit`` template (again, to play Argo retrying it); None when there is none."""
        handler = self.spec.get("onExit")
        if handler is None:
            return None
        values = {"workflow.name": self.workflow_name, "workflow.status": status or self.status()}
        self.exit = self._execute(handler, self._process(self.templates[handler], values, handler))
        return self.exit

    def run(self, before: Callable[[str], None] | None = None, exit_handler: bool = True) -> dict[str, TaskRun]:
        """Run the whole DAG once, honouring ``depends`` and ``when``, then the exit handler (see ``exit``);
        returns every DAG task's outcome."""
        for name in self.order():
            task = self.tasks[name]
            phases = {k: r.phase for k, r in self.results.items()}
            if not depends.holds(task.get("depends", ""), phases):
                self.results[name] = TaskRun(name, "Omitted")
                continue
            if "when" in task:
                values = {
                    f"tasks.{t}.outputs.parameters.{p}": v
                    for t, r in self.results.items()
                    for p, v in r.outputs.items()
                }
                if not when_true(_substitute(task["when"], values)):
                    self.results[name] = TaskRun(name, "Skipped")
                    continue
            if before is not None:
                before(name)
            self.run_task(name)
        if exit_handler:
            self.run_exit()
        return self.results

"""The compiled manifests under the controller's rules (``argo_harness``): what Argo refuses, Pending pods and
deadlines, retries, parallelism, per-pod file systems, the object size limit, and a generated 5k-asset selection
run end to end in parts. Pods run in-process (``Kubelet``) where only the DAG's behaviour is under test."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from argo_harness import Cluster, Harness, Pod, Refused
from test_argo_compile import CONFIG, layered_graph

from argo_compiler import ArgoConfig, Request, Run, Target, compile_project, workflow
from argo_compiler.contract import stale_tokens
from argo_compiler.size import projected_size
from assets_core.config import Settings
from assets_core.definitions import AssetDef, AssetInput
from assets_core.graph import AssetGraph
from assets_core.workspace import Workspace

SECRETS = {"lakeplan-database": {"url": "postgresql://db/x"}, "lakefs-credentials": {}, "warehouse": {"token": "t"}}
SECRETS["lakefs-credentials"] = {"access_key_id": "k", "secret_access_key": "s"}


class Kubelet:
    """Runs pods in-process: a plan pod lists every key of its slice; a step exits with the next of
    ``codes[key]`` (0 when none is left); ``check(pod)`` may decide a step's code from what the pod sees."""

    def __init__(self, keys: Sequence[str], codes: dict[str, list[int]] | None = None, delay: float = 0.0) -> None:
        self.keys = list(keys)
        self.codes = {k: list(v) for k, v in (codes or {}).items()}
        self.delay = delay
        self.running = 0
        self.most = 0
        self.steps: list[str] = []
        self.finished: list[str] = []  # the --status each exit handler pod got
        self._lock = threading.Lock()

    def __call__(self, pod: Pod) -> int:
        args = pod.argv[3:]
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay)
            if args[0] == "plan-task":
                start, end = (
                    (int(x) for x in args[args.index("--slice") + 1].split(":"))
                    if "--slice" in args
                    else (
                        0,
                        len(self.keys),
                    )
                )
                Path(pod.outputs["stale"]).write_text(stale_tokens(self.keys[start:end]))
                return 0
            if args[0] == "step":
                key = args[args.index("--asset") + 1]
                with self._lock:
                    self.steps.append(key)
                    codes = self.codes.get(key, [])
                    return codes.pop(0) if codes else 0
            if args[0] == "finish-run":
                self.finished.append(args[args.index("--status") + 1])
            return 0
        finally:
            with self._lock:
                self.running -= 1


def _cluster(tmp_path: Path, kubelet: Any, secrets: dict[str, dict[str, str]] = SECRETS, **extra: Any) -> Cluster:
    storage = tmp_path / "pvc"
    storage.mkdir(exist_ok=True)
    image = tmp_path / "image"
    image.mkdir(exist_ok=True)
    return Cluster(secrets, {"lakeplan-storage": storage}, image, pods=kubelet, **extra)


def _noop() -> int:
    return 0


def _graph(spec: dict[str, list[str]], retries: dict[str, int] | None = None) -> AssetGraph:
    return AssetGraph.build(
        [
            AssetDef(
                k,
                _noop,
                tuple(AssetInput(f"p{i}", u, None) for i, u in enumerate(ups)),
                retries=(retries or {}).get(k, 0),
            )
            for k, ups in spec.items()
        ]
    )


def _steps(results: dict[str, Any]) -> dict[str, str]:
    return {n: r.phase for n, r in results.items() if n != "plan"}


# -- what Argo refuses at submit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "breakage, refusal",
    [
        (lambda tasks: tasks.clear(), "templates.main must have at least one task"),
        (lambda tasks: tasks[1].update(depends="in"), "not an identifier in Argo's depends language"),
        (lambda tasks: tasks[1].update(depends="ghost"), "dependency 'ghost' not defined"),
        (lambda tasks: tasks[1].update(name="1st"), "name cannot begin with a digit"),
    ],
)
def test_the_stand_in_refuses_what_the_controller_refuses(tmp_path: Path, breakage: Any, refusal: str) -> None:
    graph = _graph({"a": [], "b": ["a"]})
    doc = workflow(Target(graph, "m", CONFIG), Run.of(graph, graph.assets))
    breakage(doc["spec"]["templates"][0]["dag"]["tasks"])
    with pytest.raises(Refused, match=refusal):
        Harness(doc, _cluster(tmp_path, Kubelet([])))


# -- Pending pods, deadlines, retries --------------------------------------------------------------------------


def test_a_missing_secret_fails_the_run_within_its_deadline_instead_of_waiting_forever(tmp_path: Path) -> None:
    graph = _graph({"a": [], "b": ["a"]})
    config = ArgoConfig(image="img:1", active_deadline_seconds=7200, step_deadline_seconds=1800)
    doc = workflow(Target(graph, "m", config), Run.of(graph, graph.assets, gated=True))
    harness = Harness(doc, _cluster(tmp_path, Kubelet(["a", "b"]), secrets={}))  # the database Secret is missing
    results = harness.run()
    assert (results["plan"].phase, results["plan"].message) == ("Failed", "timeout")  # Pending until its timeout
    assert results["a"].phase == results["b"].phase == "Omitted"
    assert harness.status() == "Failed"
    assert results["plan"].attempts == 4  # retried (no container ran: exit code -1) until the limit
    # bounded by the workflow deadline, one step deadline running past it, and the exit handler's deadline:
    assert harness.clock <= 7200 + 1800 + 1800 + 70  # a later cron fire is not blocked forever
    assert harness.exit is not None and harness.exit.message == "timeout"


def test_retries_follow_the_exit_code(tmp_path: Path) -> None:
    graph = _graph({"infra": [], "user": [], "usage": [], "flaky": []}, retries={"flaky": 2, "usage": 2})
    codes = {"infra": [3, 3, 0], "user": [1, 0], "usage": [2, 0], "flaky": [1, 1, 0]}
    doc = workflow(Target(graph, "m", ArgoConfig(image="img:1", retry_backoff_seconds=5)), Run.of(graph, graph.assets))
    harness = Harness(doc, _cluster(tmp_path, Kubelet(list(graph.assets), codes)))
    results = harness.run()
    outcome = {n: (r.phase, r.attempts) for n, r in results.items()}
    assert outcome.pop("plan") == ("Succeeded", 1)
    assert outcome == {
        "infra": ("Succeeded", 3),  # infrastructure: retried without the asset asking
        "user": ("Failed", 1),  # the user's code: only as often as retries= says (0)
        "usage": ("Failed", 1),  # a usage error: never
        "flaky": ("Succeeded", 3),  # retries=2
    }
    assert harness.status() == "Failed"
    assert harness.clock == 5 + 10 + 5 + 10  # backoff 5s, factor 2, per task


def test_pods_run_in_parallel_up_to_the_workflow_parallelism(tmp_path: Path) -> None:
    graph = layered_graph(200)
    kubelet = Kubelet(graph.order, delay=0.02)
    config = ArgoConfig(image="img:1", parallelism=4)
    doc = workflow(Target(graph, "m", config), Run.of(graph, graph.assets))
    results = Harness(doc, _cluster(tmp_path, kubelet)).run(exit_handler=False)
    assert set(_steps(results).values()) == {"Succeeded"}
    assert kubelet.most == 4


def test_each_pod_has_its_own_file_system_and_only_the_volume_is_shared(tmp_path: Path) -> None:
    graph = _graph({"a": [], "b": ["a"]})
    storage = tmp_path / "pvc"

    def kubelet(pod: Pod) -> int:
        if "plan-task" in pod.argv:
            Path(pod.outputs["stale"]).write_text(stale_tokens(["a", "b"]))
        key = pod.argv[pod.argv.index("--asset") + 1] if "--asset" in pod.argv else ""
        if key == "a":
            (pod.cwd / "local.txt").write_text("a")  # the pod's own disk: gone with the pod
            (storage / "shared.txt").write_text("a")
        if key == "b":
            return 0 if (storage / "shared.txt").exists() and not (pod.cwd / "local.txt").exists() else 1
        return 0

    doc = workflow(Target(graph, "m", CONFIG), Run.of(graph, graph.assets))
    results = Harness(doc, _cluster(tmp_path, kubelet)).run(exit_handler=False)
    assert _steps(results) == {"a": "Succeeded", "b": "Succeeded"}


# -- size: why one object cannot hold a big run, and parts that can ------------------------------------------


@pytest.fixture(scope="module")
def generated() -> AssetGraph:
    return layered_graph(5000, "warehouse/layer_{layer:03d}/table_{index:05d}")


@pytest.mark.slow
def test_one_object_for_5k_assets_passes_the_size_limit_when_it_runs(tmp_path: Path, generated: AssetGraph) -> None:
    doc = workflow(Target(generated, "gen", CONFIG), Run.of(generated, generated.assets, gated=True))
    harness = Harness(doc, _cluster(tmp_path, Kubelet(generated.order), isolated=False))
    harness.run(exit_handler=False)
    assert harness.object_size() > 1024 * 1024  # spec + status: "workflow is longer than maximum allowed size"
    assert harness.status() == "Error"


@pytest.mark.slow
def test_a_generated_5k_selection_runs_in_parts_each_under_the_budget(tmp_path: Path, generated: AssetGraph) -> None:
    ws = Workspace(Settings(project_root=tmp_path), "gen", generated)
    *parts, parent = compile_project(ws, CONFIG, Request()).manifests
    kubelet = Kubelet(generated.order)
    harness = Harness(parent, _cluster(tmp_path, kubelet, isolated=False), "gen-x7k2p", library=parts)
    results = harness.run()
    assert {r.phase for r in results.values()} == {"Succeeded"} and harness.status() == "Succeeded"
    assert sorted(kubelet.steps) == sorted(generated.assets)  # every asset built once
    assert len(harness.children) == len(parts) > 1
    for child, part in zip(harness.children, parts, strict=True):
        assert child.parameters == {"run-id": "gen-x7k2p", "build": "stale"}  # records under its parent's run
        assert child.object_size() <= projected_size(part, 1.0) <= CONFIG.budget_bytes
    assert harness.object_size() <= projected_size(parent, 1.0) <= CONFIG.budget_bytes
    assert harness.exit is not None and harness.exit.phase == "Succeeded"
    assert kubelet.finished == ["Succeeded"]  # the exit handler ran once, after every part, with the run's status

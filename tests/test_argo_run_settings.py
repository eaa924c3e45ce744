"""What a compiled run carries so it runs on a real cluster: storage checks, timeouts, retries, the settings
peers emit, the drift guard, and model checks that need no copy of Argo's JSON schema."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from sample_pipelines import TWO_ASSETS
from test_argo_compile import CONFIG, _entry_tasks, layered_graph, quickstart

from argo_compiler import ArgoConfig, Request, Run, Target, argo_config, compile_project, split_workflow, workflow
from argo_compiler.checks import model_problems
from argo_compiler.contract import graph_digest, ordered_selection
from assets_core.config import Settings, load_settings
from assets_core.errors import ConfigError


def _settings(tmp_path: Path, toml: str) -> Settings:
    (tmp_path / "pyproject.toml").write_text(toml)
    return load_settings(tmp_path, {})


def _pods(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in doc["spec"]["templates"] if "container" in t]


# -- storage -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "toml, env",
    [
        ('[tool.lakeplan.argo]\nstorage_pvc = ""\n', {}),
        ("[tool.lakeplan.argo]\n", {"LAKEPLAN_ARGO_STORAGE_PVC": ""}),  # was ignored: the PVC stayed on
    ],
)
def test_pod_local_storage_is_refused_in_one_line(tmp_path: Path, toml: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="each pod would write to its own disk") as caught:
        argo_config(_settings(tmp_path, toml), env)
    assert "\n" not in str(caught.value)


def test_lakefs_from_the_environment_reaches_the_pods_and_needs_no_pvc(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[tool.lakeplan.argo]\nimage = "img:1"\nlakefs_secret = "lakefs-creds"\n')
    env = {
        "LAKEPLAN_LAKEFS_ENDPOINT": "https://lakefs.internal",
        "LAKEPLAN_LAKEFS_REPOSITORY": "shop",
        "LAKEPLAN_LAKEFS_BRANCH": "main",
    }
    config = argo_config(settings, env)
    assert config.storage_pvc is None
    doc = workflow(Target(quickstart().graph, "m", config), Run.of(quickstart().graph, ["orders"]))
    assert "volumes" not in doc["spec"]
    for template in _pods(doc):
        container = template["container"]
        assert "volumeMounts" not in container
        values = {e["name"]: e.get("value") for e in container["env"]}
        assert {k: values[k] for k in env} == env  # the address, not only the credentials
        assert "LAKEPLAN_STORAGE_ROOT" not in values
        refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
        assert refs["LAKECTL_CREDENTIALS_ACCESS_KEY_ID"] == "lakefs-creds"


@pytest.mark.parametrize(
    "table, env",
    [  # the endpoint only where lakectl keeps it: its file, or its variable
        ('[tool.lakeplan.lakefs]\nrepository = "shop"\nbranch = "main"\n', {}),
        ("", {"LAKEPLAN_LAKEFS_REPOSITORY": "shop", "LAKEPLAN_LAKEFS_BRANCH": "main"}),
        ("", {"LAKEPLAN_LAKEFS_REPOSITORY": "shop", "LAKECTL_SERVER_ENDPOINT_URL": "https://lakefs.internal/"}),
    ],
)
def test_a_lakectl_only_lakefs_endpoint_reaches_the_pods(tmp_path: Path, table: str, env: dict[str, str]) -> None:
    """lakeFS whose endpoint (and keys) lakeplan finds where lakectl does was taken for "no lakeFS" (no table,
    no LAKEPLAN_LAKEFS_ENDPOINT): pods got the PVC and no endpoint, or no endpoint and nowhere to read one."""
    lakectl = tmp_path / "lakectl.yaml"
    lakectl.write_text(
        "server:\n  endpoint_url: https://lakefs.internal/api/v1\n"
        "credentials:\n  access_key_id: AKIAEXAMPLE\n  secret_access_key: hunter2-secret\n"
    )
    settings = _settings(tmp_path, f'[tool.lakeplan.argo]\nimage = "img:1"\nlakefs_secret = "lakefs-creds"\n{table}')
    lakectl_file = tmp_path / ("absent.yaml" if "LAKECTL_SERVER_ENDPOINT_URL" in env else "lakectl.yaml")
    config = argo_config(settings, {"LAKEPLAN_LAKEFS_BRANCH": "main", **env, "LAKECTL_CONFIG_FILE": str(lakectl_file)})
    assert config.storage_pvc is None
    doc = workflow(Target(quickstart().graph, "m", config), Run.of(quickstart().graph, ["orders"]))
    values = {e["name"]: e.get("value") for e in _pods(doc)[0]["container"]["env"]}
    assert values["LAKEPLAN_LAKEFS_ENDPOINT"] == "https://lakefs.internal"
    assert (values["LAKEPLAN_LAKEFS_REPOSITORY"], values["LAKEPLAN_LAKEFS_BRANCH"]) == ("shop", "main")
    assert "AKIAEXAMPLE" not in str(doc) and "hunter2" not in str(doc)  # keys come from lakefs_secret only


def test_lakefs_without_credentials_for_the_pods_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path, '[tool.lakeplan.lakefs]\nendpoint = "http://x"\nrepository = "r"\nbranch = "b"\n')
    with pytest.raises(ConfigError, match="lakefs_secret is not"):
        argo_config(settings, {})


# -- timeouts, retries, what peers emit ---------------------------------------------------------------------


def test_every_run_is_bounded_and_every_pod_has_a_deadline_counting_pending() -> None:
    config = ArgoConfig(image="img:1", active_deadline_seconds=3600, step_deadline_seconds=600)
    graph = quickstart().graph
    doc = workflow(Target(graph, "m", config), Run.of(graph, graph.assets, gated=True))
    assert doc["spec"]["activeDeadlineSeconds"] == 3600
    assert {t["name"]: t["timeout"] for t in _pods(doc)} == {t["name"]: "600s" for t in _pods(doc)}
    assert len(_pods(doc)) >= 3  # plan, steps, exit handler


def test_infrastructure_failures_are_retried_everywhere_and_usage_errors_never() -> None:
    graph = quickstart().graph
    doc = workflow(Target(graph, "m", CONFIG), Run.of(graph, graph.assets, gated=True))
    for template in _pods(doc):
        strategy = template["retryStrategy"]
        assert strategy["limit"] >= 3 and strategy["expression"].startswith("asInt(lastRetry.exitCode) != 2 && ")


def test_runs_carry_parallelism_gc_ttl_labels_and_one_mutex_per_project() -> None:
    graph = layered_graph(40)
    config = ArgoConfig(image="img:1", parallelism=7, image_pull_secrets=("regcred",))
    docs = split_workflow(Target(graph, "gen", config), Run.of(graph, graph.assets, gated=True), 10)
    *parts, parent = docs
    for doc in docs:
        spec = doc["spec"]
        assert spec["parallelism"] == 7 and spec["podGC"] == {"strategy": "OnPodSuccess"}
        assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
        assert spec["workflowMetadata"]["labels"] == {"lakeplan.dev/project": "gen"}
        assert spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert parent["spec"]["synchronization"]["mutexes"][0]["name"].startswith("lakeplan-gen-")
    assert all("synchronization" not in p["spec"] for p in parts)  # a child waiting on its parent's mutex deadlocks
    step = next(t for t in parts[0]["spec"]["templates"] if t["name"] == "step")
    assert step["metadata"]["annotations"] == {
        "lakeplan.dev/asset": "{{inputs.parameters.asset}}",
        "lakeplan.dev/run-id": "{{workflow.parameters.run-id}}",
    }


# -- drift guard -----------------------------------------------------------------------------------------------


def test_plan_task_fails_loudly_when_the_image_graph_differs(sqlite_project: Project, tmp_path: Path) -> None:
    sqlite_project.write("pipeline", TWO_ASSETS)
    ws = sqlite_project.workspace()
    keys = ordered_selection(ws.graph, ws.select(None))
    compiled = graph_digest(ws.graph, keys)
    sqlite_project.write("pipeline", TWO_ASSETS + "\n\n@asset\ndef c(b: int) -> int:\n    return b\n")  # a newer image
    out = tmp_path / "stale.txt"
    args = ["plan-task", "-m", sqlite_project.module(), "--output", str(out), "--graph-digest", compiled]
    env = sqlite_project.env()
    done = subprocess.run(
        [sys.executable, "-m", "assets_core", *args], cwd=sqlite_project.root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stderr  # a usage error: the retry expression never retries it
    assert "the image's graph for '*' differs from the compiled one" in done.stderr
    assert done.stderr.count("\n") == 1 and not out.exists()
    same = subprocess.run(
        [sys.executable, "-m", "assets_core", *args[:-1], graph_digest(sqlite_project.workspace().graph, [*keys, "c"])],
        cwd=sqlite_project.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert same.returncode == 0, same.stderr
    assert out.read_text() == " a b c "


def _plan_pod(
    project: Project, doc: dict[str, Any], out: Path, env: dict[str, str] | None = None, build: str | None = None
) -> Any:
    """Run a compiled manifest's plan task as its pod would (the project's code as the image), with the
    workflow's ``build`` argument (default: the manifest's own)."""
    plan = next(t for t in doc["spec"]["templates"] if t["name"] == "plan")
    [argument] = doc["spec"]["arguments"]["parameters"]
    args = [str(out) if a == "/tmp/lakeplan-stale.txt" else a for a in plan["container"]["args"]]
    args = [a.replace("{{workflow.name}}", "wf-1") for a in args]
    args = [a.replace("{{workflow.parameters.build}}", build or argument["value"]) for a in args]
    return project.cli(*args, env=env)


def test_one_template_builds_what_is_stale_or_everything_by_its_build_argument(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """Workflow arguments make a deployed template reusable: ``-p build=all`` rebuilds everything with the
    template compiled for stale runs; parts take it from their parent."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    ws = sqlite_project.workspace()
    [doc] = compile_project(ws, CONFIG, Request(template=True)).manifests
    assert doc["spec"]["arguments"]["parameters"] == [{"name": "build", "value": "stale", "enum": ["stale", "all"]}]
    [every] = compile_project(ws, CONFIG, Request(all=True)).manifests
    assert every["spec"]["arguments"]["parameters"][0]["value"] == "all"
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    for build, listed in (("stale", " "), ("all", " a b ")):
        done = _plan_pod(sqlite_project, doc, tmp_path / f"{build}.txt", build=build)
        assert done.returncode == 0 and (tmp_path / f"{build}.txt").read_text() == listed, done.stderr
    *parts, parent = split_workflow(Target(ws.graph, "m", CONFIG), Run.of(ws.graph, ["a", "b"], gated=True), 1)
    assert all(p["spec"]["arguments"]["parameters"] == [{"name": "run-id"}, {"name": "build"}] for p in parts)
    run_part = next(t for t in parent["spec"]["templates"] if t["name"] == "run-part")
    assert '{"name": "build", "value": "{{workflow.parameters.build}}"}' in run_part["resource"]["manifest"]


@pytest.mark.parametrize("request_", [Request(all=True), Request(plan_here=True), Request()])
def test_every_kind_of_run_starts_with_the_drift_guard(
    sqlite_project: Project, tmp_path: Path, request_: Request
) -> None:
    """--all and --plan-here had no plan task, so an image with another graph ran what it was given and
    reported Succeeded; now every run's first task checks the image's graph for the selection."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    [doc] = compile_project(sqlite_project.workspace(), CONFIG, request_).manifests
    assert _entry_tasks(doc)[0]["name"] == "plan" and all(
        t["depends"].startswith("plan") for t in _entry_tasks(doc)[1:]
    )
    ok = _plan_pod(sqlite_project, doc, tmp_path / "ok.txt")
    assert ok.returncode == 0 and (tmp_path / "ok.txt").read_text() == " a b ", ok.stderr
    sqlite_project.write("pipeline", TWO_ASSETS + "\n\n@asset\ndef c(b: int) -> int:\n    return b\n")  # a newer image
    drifted = _plan_pod(sqlite_project, doc, tmp_path / "drift.txt")
    assert drifted.returncode == 2 and "the image's graph for '*' differs from the compiled one" in drifted.stderr
    assert not (tmp_path / "drift.txt").exists()


def test_plan_here_fails_when_the_pods_store_finds_stale_assets_without_a_task(
    sqlite_project: Project, tmp_path: Path
) -> None:
    """--plan-here compiles what is stale in this machine's store; pods on another store may find more stale,
    which has no task: the plan task names them and fails (exit 2) instead of a run that skips them."""
    sqlite_project.write("pipeline", TWO_ASSETS)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "a", check=True)
    [doc] = compile_project(sqlite_project.workspace(), CONFIG, Request(plan_here=True)).manifests
    assert [t["arguments"]["parameters"][0]["value"] for t in _entry_tasks(doc)[1:]] == ["b"]
    same = _plan_pod(sqlite_project, doc, tmp_path / "same.txt")
    assert same.returncode == 0 and (tmp_path / "same.txt").read_text() == " b ", same.stderr
    other = {"LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'cluster.db'}"}
    elsewhere = _plan_pod(sqlite_project, doc, tmp_path / "other.txt", other)
    assert elsewhere.returncode == 2, elsewhere.stderr
    assert "1 asset(s) are stale in the store these pods use but have no task in this workflow (a)" in elsewhere.stderr


# -- nothing stale, planning where the data is ---------------------------------------------------------------


def test_default_compile_plans_in_the_cluster_and_plan_here_says_when_nothing_is_stale(
    sqlite_project: Project,
) -> None:
    sqlite_project.write("pipeline", TWO_ASSETS)
    docs = compile_project(sqlite_project.workspace(), CONFIG, Request()).manifests
    tasks = _entry_tasks(docs[0])
    assert tasks[0]["name"] == "plan" and all("when" in t for t in tasks[1:])  # the pods' store decides
    stale = compile_project(sqlite_project.workspace(), CONFIG, Request(plan_here=True)).manifests
    assert [t["arguments"]["parameters"][0]["value"] for t in _entry_tasks(stale[0])[1:]] == ["a", "b"]
    built = subprocess.run(
        [sys.executable, "-m", "assets_core", "materialize", "-m", sqlite_project.module()],
        cwd=sqlite_project.root,
        env=sqlite_project.env(),
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    compiled = compile_project(sqlite_project.workspace(), CONFIG, Request(plan_here=True))
    assert compiled.manifests == []  # not `dag: {tasks: []}`, which Argo refuses
    assert compiled.nothing == "nothing is stale in '*' (planned against this machine's store)"


# -- model checks without the official schema ------------------------------------------------------------------


def test_hera_models_catch_wrong_and_unknown_fields_without_the_schema() -> None:
    graph = quickstart().graph
    doc = workflow(Target(graph, "m", CONFIG), Run.of(graph, graph.assets, gated=True))
    assert model_problems([doc]) == []
    typo = copy.deepcopy(doc)
    typo["spec"]["paralellism"] = 3
    assert model_problems([typo]) == [
        f"Workflow {doc['metadata']['generateName']}: spec.paralellism is not in Argo's model"
    ]
    wrong = copy.deepcopy(doc)
    wrong["spec"]["templates"] = "main"
    assert "not an Argo object" in model_problems([wrong])[0]


def test_security_context_is_configurable_and_checked(tmp_path: Path) -> None:
    table = "[tool.lakeplan.argo.security_context]\nrunAsNonRoot = true\nrunAsUser = 1000\n"
    config = argo_config(_settings(tmp_path, table), {"LAKEPLAN_ARGO_IMAGE": "img:1"})
    graph = quickstart().graph
    doc = workflow(Target(graph, "m", config), Run.of(graph, ["orders"]))
    assert doc["spec"]["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}
    for bad, message in (("runAsUsr = 1000", "'runAsUsr' is not a field"), ('runAsUser = "me"', "runAsUser")):
        with pytest.raises(ConfigError, match=message):
            argo_config(_settings(tmp_path, f"[tool.lakeplan.argo.security_context]\n{bad}\n"), {})

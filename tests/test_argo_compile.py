"""The compiled manifests: valid against Argo's own JSON schema, our semantic checks, golden files, round trips,
names for any asset key, per-asset container settings, secrets by reference only, size limit and splitting.

Regenerate the golden files after an intended change with ``LAKEPLAN_REGEN_GOLDEN=1``.
"""

from __future__ import annotations

import copy
import functools
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Project
from hypothesis import example, given
from hypothesis import strategies as st
from sample_pipelines import WAREHOUSE

from argo_compiler import (
    ArgoConfig,
    ManifestTooLarge,
    Request,
    Run,
    SecretRef,
    Target,
    argo_config,
    compile_project,
    cron_workflow,
    from_yaml,
    problems,
    split_workflow,
    task_name,
    to_model,
    to_yaml,
    workflow,
)
from argo_compiler.compiler import dump, schedule_template_name
from argo_compiler.names import TASK_NAME_RE
from argo_compiler.project import fit
from argo_compiler.render import flow_lines
from argo_compiler.size import projected_size
from assets_core.config import Settings, load_settings
from assets_core.definitions import AssetDef, AssetInput, Resources
from assets_core.errors import ConfigError
from assets_core.graph import AssetGraph
from assets_core.keys import key_problem
from assets_core.schedules import schedule
from assets_core.workspace import Workspace

GOLDEN = REPO / "tests" / "golden" / "argo"
CONFIG = ArgoConfig(
    image="registry.example/lakeplan-quickstart:1",
    namespace="ml",
    service_account="lakeplan",
    lakefs_secret="lakefs-credentials",
    secret_env=(SecretRef("WAREHOUSE_TOKEN", "warehouse", "token"),),
)


@functools.cache
def quickstart() -> Workspace:
    return Workspace.load("examples.quickstart.pipeline", Settings(project_root=REPO))


def _noop(**_: object) -> int:
    return 0


ODD_KEYS = [
    "raw/Orders",
    "_private",
    "_9lives",
    "a__b",
    "a_b",
    "a/b",
    "A_B",
    "x" * 120,
    "report",
    "deep/nested/path/v2",
    "Z9",
]


def odd_graph() -> AssetGraph:
    """Keys that need escaping, that would collide when sanitized, and that declare every container setting."""
    rng = random.Random(7)
    assets = []
    for i, key in enumerate(ODD_KEYS):
        ups = sorted(set(rng.sample(ODD_KEYS[:i], min(i, 2))))
        assets.append(
            AssetDef(
                key,
                _noop,
                tuple(AssetInput(f"p{j}", u, None) for j, u in enumerate(ups)),
                resources=Resources(cpu="500m", memory="1Gi", gpu=1) if i % 3 == 0 else Resources(),
                retries=3 if i % 2 else 0,
                image="registry.example/gpu:2" if i % 3 == 0 else None,
                node_selector={"pool": "gpu"} if i % 3 == 0 else {},
                tolerations=({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},) if i % 3 == 0 else (),
            )
        )
    return AssetGraph.build(assets)


def layered_graph(n: int, key_format: str = "a{layer:03d}_{index:04d}") -> AssetGraph:
    width = max(1, n // 20)
    assets = []
    for layer in range(20):
        for index in range(width):
            ups = [] if layer == 0 else [(layer - 1, index), (layer - 1, (index + 1) % width)]
            inputs = tuple(
                AssetInput(f"p{j}", key_format.format(layer=ul, index=ui), None)
                for j, (ul, ui) in enumerate(dict.fromkeys(ups))
            )
            assets.append(AssetDef(key_format.format(layer=layer, index=index), _noop, inputs))
    return AssetGraph.build(assets)


def _cron(target: Target, sched: Any, keys: list[str]) -> list[dict[str, Any]]:
    """A schedule as deployed: its gated run as a WorkflowTemplate, and the CronWorkflow that starts it."""
    name = schedule_template_name(target, sched)
    run = Run.of(target.graph, keys, sched.select, gated=True)
    return [workflow(target, run, template_name=name), cron_workflow(target, sched, name)]


def all_kinds() -> dict[str, list[dict[str, Any]]]:
    """Every manifest kind the compiler emits, keyed by its golden file name."""
    qs = Target(quickstart().graph, "examples.quickstart.pipeline", CONFIG)
    odd = Target(odd_graph(), "odd/pipeline.py", CONFIG)
    keys = sorted(qs.graph.assets)
    nightly = quickstart().schedules[0]
    generated = Target(layered_graph(400), "gen", CONFIG)
    every = schedule("every", cron="*/15 * * * *", concurrency_policy="Replace")
    return {
        "quickstart-workflow": [workflow(qs, Run.of(qs.graph, keys, gated=True))],
        "quickstart-workflow-all": [workflow(qs, Run.of(qs.graph, keys))],
        "quickstart-template": [workflow(qs, Run.of(qs.graph, keys, gated=True), template_name="quickstart")],
        "quickstart-cron": _cron(qs, nightly, sorted(quickstart().select(nightly.select))),
        "quickstart-cron-all": _cron(qs, every, keys),
        "odd-names-workflow": [workflow(odd, Run.of(odd.graph, ODD_KEYS))],
        "odd-names-split": split_workflow(odd, Run.of(odd.graph, ODD_KEYS), 4),
        "generated-400-split": split_workflow(
            generated, Run.of(generated.graph, generated.graph.assets, gated=True), 150
        ),
    }


@pytest.fixture(scope="module")
def kinds() -> dict[str, list[dict[str, Any]]]:
    return all_kinds()


def test_every_manifest_kind_validates_against_the_argo_schema(kinds: dict[str, Any], validator: Any) -> None:
    for name, docs in kinds.items():
        for doc in docs:
            errors = [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
            assert errors == []


def test_schema_check_catches_a_wrong_field(kinds: dict[str, Any], validator: Any) -> None:
    doc = copy.deepcopy(kinds["quickstart-cron"][-1])
    doc["spec"]["schedules"] = "0 2 * * *"  # Argo 4 wants a list
    assert list(validator.iter_errors(doc))


def test_every_manifest_kind_passes_our_semantic_checks(kinds: dict[str, Any]) -> None:
    for name, docs in kinds.items():
        assert problems(docs) == [], name


def _entry_tasks(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    tasks: list[dict[str, Any]] = next(t for t in spec["templates"] if "dag" in t)["dag"]["tasks"]
    return tasks


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda d: _entry_tasks(d)[1].update(template="nope"), "uses missing template 'nope'"),
        (lambda d: _entry_tasks(d)[1].update(depends="ghost && orders"), "depends on missing task 'ghost'"),
        (lambda d: _entry_tasks(d)[0].update(depends=_entry_tasks(d)[1]["name"]), "dependency cycle"),
        (lambda d: _entry_tasks(d)[1].update(name="Bad_Name"), "invalid task name"),
        (lambda d: d["metadata"].update(generateName="Bad Name-"), "invalid object name"),
        (lambda d: d["spec"].update(onExit="nope"), "onExit 'nope' is not a template"),
        (lambda d: d["spec"].pop("onExit"), "no onExit handler"),
        (
            lambda d: d["spec"]["templates"][1]["container"]["env"].append(
                {"name": "LAKEPLAN_DATABASE_URL", "value": "postgresql://u:hunter2@db/x"}
            ),
            "literal value",
        ),
    ],
)
def test_semantic_checks_catch_broken_manifests(kinds: dict[str, Any], breakage: Any, expected: str) -> None:
    doc = copy.deepcopy(kinds["quickstart-workflow"][0])
    breakage(doc)
    assert any(expected in p for p in problems([doc])), problems([doc])


def test_a_missing_part_or_cron_template_is_caught(kinds: dict[str, Any]) -> None:
    parts = kinds["odd-names-split"]
    assert any("which is not a compiled WorkflowTemplate" in p for p in problems(parts[1:]))
    assert any("workflowTemplateRef to" in p for p in problems(kinds["quickstart-cron"][1:]))


@pytest.mark.parametrize("name", sorted(all_kinds()))
def test_golden_files(kinds: dict[str, Any], name: str) -> None:
    text = to_yaml(kinds[name])
    path = GOLDEN / f"{name}.yaml"
    if os.environ.get("LAKEPLAN_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"{path} missing; run with LAKEPLAN_REGEN_GOLDEN=1 to create it"
    assert text == path.read_text(), f"{name} differs from {path}; if intended, regenerate with LAKEPLAN_REGEN_GOLDEN=1"


def test_round_trip_through_yaml_and_hera_models(kinds: dict[str, Any]) -> None:
    for name, docs in kinds.items():
        text = to_yaml(docs)
        parsed = from_yaml(text)
        assert parsed == docs, name
        assert [dump(to_model(d)) for d in parsed] == docs, name
        assert to_yaml(parsed) == text, name


def test_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "LAKEPLAN_ARGO_IMAGE": "img:1"}
        env["LAKEPLAN_DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite'}"
        command = [sys.executable, "-m", "assets_core", "compile", "-m", "examples.quickstart.pipeline", "--all"]
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and "kind: Workflow" in outputs[0]


@given(st.lists(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}(/[A-Za-z_][A-Za-z0-9_]{0,12}){0,2}", fullmatch=True)))
def test_task_names_are_valid_and_collision_free_for_any_keys(keys: list[str]) -> None:
    keys = [k for k in dict.fromkeys(keys) if key_problem(k) is None]
    names = [task_name(k) for k in keys]
    assert all(TASK_NAME_RE.fullmatch(n) and len(n) <= 63 and n[0].isalpha() for n in names)
    assert len(set(names)) == len(names)


def test_task_names_are_readable_and_stable() -> None:
    assert task_name("daily_revenue") == "daily-revenue"
    assert task_name("raw/orders") == task_name("raw/orders") != task_name("raw_orders") == "raw-orders"
    assert task_name("raw/orders").startswith("raw-orders--")
    assert task_name("x" * 200).startswith("x" * 40) and len(task_name("x" * 200)) <= 63
    assert task_name("a_b") != task_name("A_B") != task_name("a__b")


def test_the_real_key_travels_with_every_task(kinds: dict[str, Any]) -> None:
    plan, *tasks = _entry_tasks(kinds["odd-names-workflow"][0])
    assert plan["name"] == "plan"
    assert sorted(t["arguments"]["parameters"][0]["value"] for t in tasks) == sorted(ODD_KEYS)
    assert all(t["name"] == task_name(t["arguments"]["parameters"][0]["value"]) for t in tasks)


def test_container_settings_follow_each_asset(kinds: dict[str, Any]) -> None:
    [doc] = kinds["odd-names-workflow"]
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    by_key = {t["arguments"]["parameters"][0]["value"]: templates[t["template"]] for t in _entry_tasks(doc)[1:]}
    gpu = by_key[ODD_KEYS[0]]  # index 0: every setting, no retries
    assert gpu["container"]["image"] == "registry.example/gpu:2"
    assert gpu["container"]["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"memory": "1Gi", "nvidia.com/gpu": "1"},
    }
    assert gpu["nodeSelector"] == {"pool": "gpu"}
    assert gpu["tolerations"] == [{"effect": "NoSchedule", "key": "gpu", "operator": "Exists"}]
    retried = by_key[ODD_KEYS[1]]  # index 1: retries only
    assert retried["retryStrategy"]["limit"] == 3 and retried["retryStrategy"]["backoff"] == {
        "duration": "10s",
        "factor": 2,
    }
    plain = by_key[ODD_KEYS[2]]  # index 2: nothing declared
    assert plain["name"] == "step" and "resources" not in plain["container"]
    assert plain["retryStrategy"]["expression"] == "asInt(lastRetry.exitCode) != 2 && asInt(lastRetry.exitCode) != 1"
    assert retried["retryStrategy"]["expression"] == (
        "asInt(lastRetry.exitCode) != 2 && (asInt(lastRetry.exitCode) != 1 || asInt(retries) < 3)"
    )
    assert plain["container"]["image"] == CONFIG.image
    # main, the exit handler, and the step templates: shared, not one per task
    assert len(templates) == 2 + len({t["template"] for t in _entry_tasks(doc)})


def test_credentials_are_secret_references_never_values(tmp_path: Path) -> None:
    settings = Settings(project_root=REPO, database_url="postgresql://lakeplan:s3cr3t-pw@db.internal/lake")
    ws = Workspace(settings, "examples.quickstart.pipeline", quickstart().graph, quickstart().schedules)
    docs = compile_project(ws, CONFIG, Request(all=True)).manifests
    text = to_yaml(docs)
    assert "s3cr3t-pw" not in text and "db.internal" not in text
    env = {e["name"]: e for e in docs[0]["spec"]["templates"][1]["container"]["env"]}
    assert env["LAKEPLAN_DATABASE_URL"] == {
        "name": "LAKEPLAN_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "lakeplan-database", "key": "url"}},
    }
    assert env["LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "lakefs-credentials"
    assert env["WAREHOUSE_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "warehouse", "key": "token"}


def test_cron_workflow_runs_its_template_which_carries_the_gated_run(kinds: dict[str, Any]) -> None:
    run, cron = kinds["quickstart-cron"]
    spec = cron["spec"]
    assert spec["schedules"] == ["0 2 * * *"] and spec["timezone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["workflowSpec"] == {"workflowTemplateRef": {"name": run["metadata"]["name"]}}
    assert run["kind"] == "WorkflowTemplate" and cron["metadata"]["name"] == run["metadata"]["name"]
    tasks = _entry_tasks(run)
    assert tasks[0]["name"] == "plan"
    assert [t["arguments"]["parameters"][0]["value"] for t in tasks[1:]] == ["orders", "daily_revenue"]
    assert tasks[1]["depends"] == "plan"
    assert tasks[1]["when"] == "{{=tasks.plan.outputs.parameters.stale contains ' orders '}}"
    every, _ = kinds["quickstart-cron-all"]
    for task in _entry_tasks(every)[1:]:
        assert task["when"].endswith(f" contains ' {task['arguments']['parameters'][0]['value']} '}}}}")
        assert task["depends"].split(" && ")[0] == "plan"


def test_every_run_ends_with_the_exit_handler_and_split_parts_leave_it_to_the_parent(kinds: dict[str, Any]) -> None:
    for name, docs in kinds.items():
        for doc in docs:
            spec = doc["spec"].get("workflowSpec", doc["spec"])
            if name.endswith("-split") and doc is not docs[-1]:
                assert "onExit" not in spec, name  # a part runs as a child of the parent, which finishes the run
                continue
            if doc["kind"] == "CronWorkflow":
                continue  # it runs the WorkflowTemplate before it
            handler = next(t for t in spec["templates"] if t["name"] == spec["onExit"])
            args = handler["container"]["args"]
            assert args[0] == "finish-run" and args[args.index("--run-id") + 1] == "{{workflow.name}}", name
            assert args[args.index("--status") + 1] == "{{workflow.status}}", name
            assert handler["retryStrategy"]["limit"] == 3, name
    run, _ = kinds["quickstart-cron"]
    steps = [t for t in run["spec"]["templates"] if "container" in t]
    assert all(
        t["container"]["args"][t["container"]["args"].index("--run-id") + 1] == "{{workflow.name}}" for t in steps
    )
    *parts, _ = kinds["generated-400-split"]
    steps = [t for p in parts for t in p["spec"]["templates"] if "container" in t]
    assert {t["container"]["args"][t["container"]["args"].index("--run-id") + 1] for t in steps} == {
        "{{workflow.parameters.run-id}}"  # a part records under its parent's name
    }


def test_split_parts_respect_the_size_and_the_order(kinds: dict[str, Any]) -> None:
    *parts, parent = kinds["generated-400-split"]
    assert [p["kind"] for p in parts] == ["WorkflowTemplate"] * 3 and parent["kind"] == "Workflow"
    assert [len(_entry_tasks(p)) for p in parts] == [151, 151, 101]  # each with its own plan task
    plans = [next(t for t in p["spec"]["templates"] if t["name"] == "plan")["container"]["args"] for p in parts]
    assert [a[a.index("--slice") + 1] for a in plans] == ["0:150", "150:300", "300:400"]
    parent_tasks = _entry_tasks(parent)
    assert [t["arguments"]["parameters"][0]["value"] for t in parent_tasks] == [p["metadata"]["name"] for p in parts]
    assert [t.get("depends") for t in parent_tasks] == [
        None,
        "(part-1.Succeeded || part-1.Failed)",  # a part runs once the parts it waits for finished, as in one DAG
        "(part-2.Succeeded || part-2.Failed)",
    ]
    dag = parent["spec"]["templates"][0]["dag"]
    assert dag["failFast"] is False and dag["target"] == "part-1 part-2 part-3"  # any failed part fails the run


def test_a_large_selection_is_cut_into_parts_that_each_fit_the_budget() -> None:
    graph = layered_graph(8000, "warehouse/layer_{layer:03d}/table_{index:05d}")
    ws = Workspace(Settings(project_root=REPO), "gen", graph)
    docs = compile_project(ws, CONFIG, Request()).manifests
    assert len(docs) > 2 and problems(docs) == []
    assert all(projected_size(d, 1.0) <= CONFIG.budget_bytes for d in docs)
    assert sum(len(_entry_tasks(d)) - 1 for d in docs[:-1]) == 8000  # every asset once, each part with a plan
    one = split_workflow(Target(graph, "gen", CONFIG), Run.of(graph, graph.assets, gated=True), 8000)
    assert projected_size(one[0], 1.0) > 1024 * 1024  # one object would not run: Argo's limit is on spec + status
    with pytest.raises(ManifestTooLarge, match="drop --plan-here"):
        fit(Target(graph, "gen", CONFIG), Run.of(graph, graph.assets), None, None, can_split=False)
    with pytest.raises(ConfigError, match="drop --plan-here to use it"):  # its slices would not match the pods'
        fit(Target(graph, "gen", CONFIG), Run.of(graph, graph.assets), 100, None, can_split=False)


def _settings(tmp_path: Path, table: str) -> Settings:
    (tmp_path / "pyproject.toml").write_text(f"[tool.lakeplan.argo]\n{table}\n")
    return load_settings(tmp_path, {})


@pytest.mark.parametrize(
    "table, message",
    [
        ('imagee = "x"', "unknown key 'imagee' in [tool.lakeplan.argo]; did you mean 'image'?"),
        ('token = "abc"', "do not keep an Argo token in pyproject.toml"),
        ('database_secret = "My_Secret"', "database_secret 'My_Secret' is not a Kubernetes object name"),
        ('storage_mount = "data"', "storage_mount 'data' must be an absolute path"),
        ('workdir = "/p/{{workflow.name}}"', "workdir '/p/{{workflow.name}}' holds '{{', which Argo substitutes"),
        ("verify = 3", "verify must be true or false"),
        ('verify = "yes"', "verify must be true or false, not the string 'yes'; write verify = true"),
        ('parallelism = "8"', "parallelism must be a whole number from 1 to 100000, not the string '8'"),
        ("parallelism = 0", "parallelism must be a whole number from 1 to 100000, got 0"),
        ("retry_backoff_seconds = 1.5", "retry_backoff_seconds must be whole seconds from 0 to 86400, got 1.5"),
        ("budget_bytes = 2000000", "budget_bytes must be bytes from 100000 to 1048576"),
        ('image = "img:1\\nrm -rf /"', "image 'img:1\\nrm -rf /' is not an image reference"),
        ('image = "Img"', "image 'Img' is not an image reference"),
        ('namespace = "ml.prod"', "namespace 'ml.prod' is not a Kubernetes name"),
        ('name = "My Project"', "name 'My Project' is not a Kubernetes name: at most 52"),
        ('service_account = "{{workflow.name}}"', "service_account '{{workflow.name}}' holds '{{'"),
        ('image_pull_policy = "Sometimes"', "image_pull_policy 'Sometimes' is not one of Always, IfNotPresent, Never"),
        ('image_pull_secrets = ["Reg_Cred"]', "image_pull_secrets: 'Reg_Cred' is not a Kubernetes object name"),
        ('secret_env = { X = "nokey" }', 'write ENV_NAME = "secret-name/key"'),
        ('secret_env = { "1X" = "s/k" }', "'1X' is not an environment variable name"),
        ('secret_env = { X = "s/{{k}}" }', "'{{k}}' is not a Secret key"),
        ('[tool.lakeplan.argo.security_context]\nseLinuxOptions = { level = "{{x}}" }', "a value holds '{{'"),
    ],
)
def test_config_mistakes_are_one_clear_line(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        argo_config(_settings(tmp_path, table), {})
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_environment_overrides_the_config(tmp_path: Path) -> None:
    settings = _settings(tmp_path, 'image = "a:1"\nnamespace = "dev"\nparallelism = 8')
    config = argo_config(settings, {"LAKEPLAN_ARGO_IMAGE": "b:2", "LAKEPLAN_ARGO_VERIFY": "false"})
    assert (config.image, config.namespace, config.verify, config.parallelism) == ("b:2", "dev", False, 8)


def test_missing_image_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError, match="LAKEPLAN_ARGO_IMAGE"):
        workflow(Target(quickstart().graph, "m", ArgoConfig()), Run.of(quickstart().graph, ["orders"]))


def test_resource_secrets_arrive_as_secret_key_refs(sqlite_project: Project, validator: Any) -> None:
    """Each @resource secret is an optional secretKeyRef from Secret lakeplan-resource-NAME, key = the config key,
    unless secret_env names another (then required, as any secret_env); no value reaches the manifest and it
    still validates against Argo's schema."""
    sqlite_project.write("pipeline", WAREHOUSE)
    ws = sqlite_project.workspace()
    config = replace(CONFIG, secret_env=(SecretRef("FX_TOKEN", "fx-api", "token"),))
    with_fx_secret = {**ws.resources, "fx": replace(ws.resources["fx"], secrets={"token": "FX_TOKEN"})}
    ws = replace(ws, resources=with_fx_secret)
    docs = compile_project(ws, config, Request(all=True)).manifests
    env = {e["name"]: e for e in docs[0]["spec"]["templates"][1]["container"]["env"]}
    assert env["WAREHOUSE_URL"] == {
        "name": "WAREHOUSE_URL",
        "valueFrom": {"secretKeyRef": {"name": "lakeplan-resource-warehouse", "key": "url", "optional": True}},
    }
    assert env["FX_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "fx-api", "key": "token"}  # secret_env wins
    assert not [e for e in validator.iter_errors(docs[0])]


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["name", "value", "depends", "when"]),
            st.one_of(st.text(max_size=20), st.sampled_from(["yes", "No", "on", "null", "1", "a && b", "x/y_z.1"])),
            min_size=1,
        ),
        min_size=1,
        max_size=4,
    )
)
@example([{"depends": 'a"O', "value": "F"}])  # an escaped quote before a name-like run is not a string's start
def test_task_lines_read_back_as_written(items: list[dict[str, str]]) -> None:
    """DAG tasks are written as JSON with needless quotes taken off: YAML must read back the same strings."""
    assert yaml.safe_load("tasks:\n" + flow_lines(items, "")) == {"tasks": items}

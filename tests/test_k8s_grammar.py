"""Strings copied into Argo manifests are checked against Kubernetes' grammars where they are declared
(``@asset`` options, ``[tool.lakeplan.argo]``, lakeFS settings), and ``{{`` (an Argo template tag) is refused
in each; a bad value is one line naming the setting, the value (masked when secret) and the rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import Project
from hypothesis import given, settings
from hypothesis import strategies as st
from test_argo_compile import quickstart

from argo_compiler import ArgoConfig, Run, Target, workflow
from argo_compiler.checks import structure_problems
from assets_core import asset, k8s_grammar
from assets_core.errors import DefinitionError


@pytest.mark.parametrize(
    "good", ["0", "1", "500m", "0.5", ".5", "1.", "2Gi", "1e3", "1E-3", "+1", "100Ki", "1.5G", "7n", "3u", "1k", "2E"]
)
def test_quantities_kubernetes_accepts(good: str) -> None:
    assert k8s_grammar.quantity_problem(good) is None


@pytest.mark.parametrize(
    "bad", ["", ".", '1Gi"; rm -rf /', "1 Gi", "1GB", "1K", "1e", "1gi", "Gi", "1.2.3", "0x10", "1Gi\n", "{{x}}", "-1"]
)
def test_quantities_kubernetes_refuses(bad: str) -> None:
    assert k8s_grammar.quantity_problem(bad) is not None


@pytest.mark.parametrize(
    "good",
    [
        "ubuntu",
        "library/ubuntu:22.04",
        "registry.example.com/team/project:1.4",
        "localhost:5000/x",
        "[::1]:5000/x:latest",
        "ghcr.io/a/b-c__d.e@sha256:" + "a" * 64,
        "quay.io/a/b:v1.0@sha256:" + "f" * 64,
    ],
)
def test_image_references_the_kubelet_parses(good: str) -> None:
    assert k8s_grammar.image_problem(good) is None


@pytest.mark.parametrize(
    "bad",
    ["", "img:1\nrm", " img:1", "Img", "a//b", "a:b:c", "img:{{workflow.name}}", "a/b:" + "t" * 129, "a@sha256:12"],
)
def test_image_references_refused(bad: str) -> None:
    assert k8s_grammar.image_problem(bad) is not None


def test_label_keys_values_and_names() -> None:
    for good in ("pool", "cloud.google.com/gke-nodepool", "a_b.c-d", "x" * 63, "k8s.io/" + "x" * 63):
        assert k8s_grammar.label_key_problem(good) is None, good
    for bad in ("", "/pool", "a/b/c", "-pool", "pool-", "Bad_Prefix/x", "x" * 64, "a b", "{{x}}"):
        assert k8s_grammar.label_key_problem(bad) is not None, bad
    for good in ("", "gpu-a100", "A_b.1", "v" * 63):
        assert k8s_grammar.label_value_problem(good) is None, good
    for bad in ("v" * 64, "a/b", "-a", "a b", "{{workflow.name}}"):
        assert k8s_grammar.label_value_problem(bad) is not None, bad
    assert k8s_grammar.dns_subdomain_problem("my.secret-1") is None
    assert k8s_grammar.dns_label_problem("my.secret-1") is not None
    assert k8s_grammar.env_name_problem("my.env-NAME_1") is None
    for bad in ("1X", "A=B", "..x", ".", "{{x}}"):
        assert k8s_grammar.env_name_problem(bad) is not None, bad


@pytest.mark.parametrize(
    "toleration, problem",
    [
        ({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}, None),
        ({"key": "spot", "value": "true", "effect": "NoExecute", "tolerationSeconds": 60}, None),
        ({"operator": "Exists"}, None),
        ({"value": "x"}, "so its operator must be 'Exists'"),
        ({"key": "gpu", "operator": "Exists", "value": "x"}, "must have no value"),
        ({"key": "gpu", "operator": "Gte"}, "operator 'Gte' is not one of Equal, Exists"),
        ({"key": "gpu", "effect": "Never"}, "effect 'Never' is not one of"),
        ({"key": "gpu", "tolerationSeconds": 5}, "needs effect 'NoExecute'"),
        ({"key": "gpu", "valeu": "x"}, "unknown field 'valeu'"),
        ({"key": "{{x}}"}, "key '{{x}}' is not a label key"),
        ({"key": "gpu", "value": "{{x}}"}, "value '{{x}}' is not a label value"),
    ],
)
def test_tolerations_by_kubernetes_rules(toleration: dict[str, Any], problem: str | None) -> None:
    found = k8s_grammar.toleration_problem(toleration)
    assert found == problem if problem is None else problem in (found or "")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12))
def test_no_template_tag_or_control_character_passes_any_grammar(before: str, after: str) -> None:
    for text in (f"{before}{{{{{after}", f"{before}\n{after}", f'{before}"; rm -rf /{after}'):
        checks = (k8s_grammar.quantity_problem, k8s_grammar.image_problem, k8s_grammar.label_key_problem)
        checks += (k8s_grammar.label_value_problem, k8s_grammar.dns_subdomain_problem, k8s_grammar.env_name_problem)
        for check in checks:
            assert check(text) is not None, (check.__name__, text)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"resources": {"memory": '1Gi"; rm -rf /'}}, "resources['memory'] '1Gi\"; rm -rf /' is not a number"),
        ({"resources": {"cpu": "-2"}}, "resources['cpu'] '-2' is negative"),
        ({"image": "registry.example/app:1\nrm -rf /"}, "image 'registry.example/app:1\\nrm -rf /' is not an image"),
        (
            {"node_selector": {"pool": "{{workflow.name}}"}},
            "node_selector['pool'] = '{{workflow.name}}' is not a label",
        ),
        ({"node_selector": {"{{x}}": "gpu"}}, "node_selector key '{{x}}' is not a label key"),
        ({"node_selector": {"pool": 3}}, "node_selector['pool'] = 3 must be a string"),
        ({"tolerations": [{"key": "gpu", "operator": "exists"}]}, "operator 'exists' is not one of Equal, Exists"),
    ],
)
def test_bad_kubernetes_values_are_refused_at_declaration(options: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as caught:

        @asset(**options)
        def trained() -> int:
            return 1

    text = str(caught.value)
    assert text.startswith("@asset ") and "trained" in text and message in text and "\n" not in text


def test_a_template_tag_that_reaches_a_manifest_is_caught_by_the_checks() -> None:
    """The backstop: a user string copied into a manifest without a check would show up here."""
    graph = quickstart().graph
    doc = workflow(Target(graph, "m", ArgoConfig(image="img:1")), Run.of(graph, graph.assets))
    assert structure_problems([doc]) == []
    wrong = copy.deepcopy(doc)
    wrong["spec"]["templates"][1]["container"]["env"].append({"name": "X", "value": "{{workflow.uid}}"})
    assert any("a template tag lakeplan did not write: '{{workflow.uid}}" in p for p in structure_problems([wrong]))


PIPELINE = """
    from assets_core import asset

    @asset(resources={"memory": MEMORY})
    def trained() -> int:
        return 1
"""


@pytest.mark.parametrize(
    "memory, table, env, message",
    [
        ("'1Gi\"; rm -rf /'", "", {}, "resources['memory'] '1Gi\"; rm -rf /' is not a number"),
        ('"2Gi"', 'verify = "yes"', {}, "verify must be true or false, not the string 'yes'; write verify = true"),
        ('"2Gi"', "", {"LAKEPLAN_ARGO_PARALLELISM": "99999999"}, "LAKEPLAN_ARGO_PARALLELISM: parallelism must be"),
        (
            '"2Gi"',
            'lakefs_secret = "lakefs"\n[tool.lakeplan.lakefs]\nrepository = "r"\nbranch = "main"',
            {"LAKEPLAN_LAKEFS_ENDPOINT": "http://key:hunter2@lakefs.example/{{workflow.name}}"},
            "lakeFS endpoint 'http://lakefs.example/{{workflow.name}}' holds '{{'",
        ),
    ],
)
def test_compile_refuses_in_one_line(
    sqlite_project: Project, memory: str, table: str, env: dict[str, str], message: str
) -> None:
    sqlite_project.write("pipeline", PIPELINE.replace("MEMORY", memory))
    with (sqlite_project.root / "pyproject.toml").open("a") as handle:
        handle.write(f'\n[tool.lakeplan.argo]\nimage = "img:1"\n{table}\n')
    result = sqlite_project.cli("compile", "-m", sqlite_project.module(), env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr and not result.stdout

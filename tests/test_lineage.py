"""Lineage from recorded provenance: exact input versions upstream, every version built from one downstream,
and version names as unique prefixes or materialization ids."""

from __future__ import annotations

import json

import pytest
from conftest import Project
from sample_pipelines import NUMBERS

from assets_core.lineage import VersionError, downstream_lineage, producer, resolve_version, upstream_lineage
from assets_core.records import Materialization, MaterializationKind

BUILT, RESTORED, FAILED = MaterializationKind.BUILT, MaterializationKind.RESTORED, MaterializationKind.FAILED


def mat(
    id: int, key: str, data: str | None, inputs: dict[str, str], kind: MaterializationKind = BUILT
) -> Materialization:
    return Materialization(key, f"run{id}", kind, "code", inputs, data, f"{key}/{data}", id=id)


# a (from source s) -> b -> c; a was rebuilt once (a1 -> a2), b built from each, c only from b2
HISTORIES = {
    "a": [mat(4, "a", "a2" * 32, {"s": "s2"}), mat(1, "a", "a1" * 32, {"s": "s1"})],
    "b": [
        mat(6, "b", None, {"a": "a2" * 32}, FAILED),
        mat(5, "b", "b2" * 32, {"a": "a2" * 32}),
        mat(2, "b", "b1" * 32, {"a": "a1" * 32}),
    ],
    "c": [mat(7, "c", "c2" * 32, {"b": "b2" * 32})],
}


def test_upstream_resolves_each_input_to_the_record_that_produced_it() -> None:
    tree = upstream_lineage(HISTORIES["c"][0], HISTORIES)
    (b,) = tree.children
    assert (b.key, b.data_version, b.materialization and b.materialization.id) == ("b", "b2" * 32, 5)
    (a,) = b.children
    assert a.materialization is not None and a.materialization.id == 4
    (s,) = a.children
    assert (s.key, s.data_version, s.materialization) == ("s", "s2", None)


def test_downstream_lists_every_version_built_from_it() -> None:
    tree = downstream_lineage("a", "a1" * 32, HISTORIES["a"][1], {"a": ("b",), "b": ("c",)}, HISTORIES)
    assert [(n.key, n.data_version[:2]) for n in tree.children] == [("b", "b1")]
    assert tree.children[0].children == ()  # c was never built from b1
    newer = downstream_lineage("a", "a2" * 32, HISTORIES["a"][0], {"a": ("b",), "b": ("c",)}, HISTORIES)
    assert [n.key for n in newer.children] == ["b"] and [n.key for n in newer.children[0].children] == ["c"]


def test_producer_prefers_the_build_over_later_restores() -> None:
    history = [mat(9, "a", "a1" * 32, {"s": "s1"}, RESTORED), *HISTORIES["a"]]
    found = producer(history, "a1" * 32)
    assert found is not None and found.id == 1


def test_versions_resolve_by_unique_prefix_or_id() -> None:
    history = HISTORIES["a"]
    assert resolve_version("a", history, "a2a2").id == 4
    assert resolve_version("a", history, "1").id == 1
    with pytest.raises(VersionError, match="no recorded version 'ff'"):
        resolve_version("a", history, "ff")
    ambiguous = [mat(3, "a", "ab" + "0" * 62, {}), mat(2, "a", "ac" + "0" * 62, {})]
    with pytest.raises(VersionError, match="ambiguous"):
        resolve_version("a", ambiguous, "a")


PIPELINE = NUMBERS


def test_cli_lineage_answers_from_recorded_versions(project: Project) -> None:
    project.write("pipeline", PIPELINE)
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2]}))
    project.cli("materialize", "-m", project.module(), check=True)
    ws = project.workspace()
    first_numbers = ws.store.heads()["numbers"].data_version
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 3]}))
    project.cli("materialize", "-m", project.module(), check=True)

    def lineage(*args: str) -> dict:
        out = project.cli("lineage", "-m", project.module(), *args, "--json", check=True).stdout
        return json.loads(out)["tree"]

    heads = project.workspace().store.heads()
    up = lineage("total")
    assert up["data_version"] == heads["total"].data_version
    (numbers,) = up["children"]
    assert numbers["data_version"] == heads["numbers"].data_version
    assert numbers["children"][0]["asset"] == "raw" and numbers["children"][0]["materialization"] is None

    down = lineage(f"numbers@{first_numbers[:10]}", "--downstream")
    assert [c["asset"] for c in down["children"]] == ["total"]
    assert down["children"][0]["materialization"]["input_versions"] == {"numbers": first_numbers}

    text = project.cli("lineage", "-m", project.module(), "total", check=True).stdout
    assert text.splitlines()[1].startswith(f"└── numbers {heads['numbers'].data_version[:12]} (built #")
    bad = project.cli("lineage", "-m", project.module(), "total@zz")
    assert bad.returncode == 2 and "no recorded version 'zz'" in bad.stderr

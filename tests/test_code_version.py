"""Part 4: automatic code versions follow the user's own code, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest
from conftest import Project

from assets_core.hashing import mapping_hash, structured_hash

HELPERS = '''
THRESHOLD = 3
NAMES = ("a", "b")


def scale(x):
    return x * 2


def clean(x):
    """Clean a value."""
    return scale(x) + THRESHOLD


def unrelated(x):
    return x - 1


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


class Model:
    def __init__(self, w):
        self.w = w

    def predict(self, x):
        return scale(x) * self.w


class Unused:
    def predict(self, x):
        return x
'''

PIPELINE = """
from assets_core import asset

from . import helpers
from .helpers import Model, NAMES, fact, is_even, scale


@asset
def via_module(raw: int) -> int:
    return helpers.clean(raw)


@asset
def direct(raw: int) -> int:
    return scale(raw)


@asset
def plain(raw: int) -> int:
    return raw + 1


@asset
def recursive(raw: int) -> int:
    return fact(raw) + int(is_even(raw))


@asset
def model(raw: int) -> Model:
    return Model(raw)


@asset
def names(raw: int) -> list:
    return list(NAMES)


@asset(code_version="v1")
def pinned(raw: int) -> int:
    return raw * 100


@asset
def raw() -> int:
    return 4
"""

ASSETS = ("via_module", "direct", "plain", "recursive", "model", "names", "pinned", "raw")


def versions(project: Project, pipeline: str = PIPELINE, helpers: str = HELPERS) -> dict[str, str]:
    project.write("helpers", helpers)
    project.write("pipeline", pipeline)
    ws = project.workspace()
    return {key: ws.code_version(key).version for key in ws.graph.assets}


def changed(project: Project, edit: Callable[[str, str], tuple[str, str]]) -> set[str]:
    """Keys whose code version differs after ``edit(pipeline, helpers)``."""
    before = versions(project)
    after = versions(project, *edit(PIPELINE, HELPERS))
    assert set(before) == set(after) == set(ASSETS)
    return {k for k in before if before[k] != after[k]}


def test_explicit_code_version_wins(sqlite_project: Project) -> None:
    ws_versions = versions(sqlite_project)
    assert ws_versions["pinned"] == "v1"
    assert "pinned" not in changed(sqlite_project, lambda p, h: (p.replace("raw * 100", "raw * 7"), h))
    bumped = changed(sqlite_project, lambda p, h: (p.replace('code_version="v1"', 'code_version="v2"'), h))
    assert bumped == {"pinned"}


def test_versions_are_hex_digests_with_components(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", HELPERS)
    sqlite_project.write("pipeline", PIPELINE)
    ws = sqlite_project.workspace()
    version = ws.code_version("via_module")
    assert len(version.version) == 64 and int(version.version, 16) >= 0
    pkg = sqlite_project.package
    assert set(version.components) == {
        f"{pkg}.pipeline.via_module",
        f"{pkg}.helpers.clean",
        f"{pkg}.helpers.scale",
        f"{pkg}.helpers.THRESHOLD",
    }
    assert ws.code_version("pinned").components == {}
    assert not any("pandas" in name or "assets_core" in name for name in ws.code_version("model").components)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda p, h: (p.replace("return raw + 1", "return raw + 1  # add one"), h), id="comment"),
        pytest.param(
            lambda p, h: (
                p.replace("def plain(raw: int) -> int:\n", 'def plain(raw: int) -> int:\n    """Doc."""\n'),
                h,
            ),
            id="docstring",
        ),
        pytest.param(
            lambda p, h: (p.replace("return raw + 1", "return (\n        raw   +   1\n    )"), h), id="format"
        ),
        pytest.param(
            lambda p, h: (p.replace("@asset\ndef plain", "@asset(group='g', retries=2)\ndef plain"), h), id="decorator"
        ),
        pytest.param(lambda p, h: ("# header\n\n\n" + p, h), id="moved-lines"),
        pytest.param(
            lambda p, h: (p, h.replace('"""Clean a value."""', '"""Clean a value, carefully."""')), id="helper-doc"
        ),
    ],
)
def test_cosmetic_edits_change_nothing(sqlite_project: Project, edit: Callable[[str, str], tuple[str, str]]) -> None:
    assert changed(sqlite_project, edit) == set()


def test_asset_body_change_changes_only_that_asset(sqlite_project: Project) -> None:
    assert changed(sqlite_project, lambda p, h: (p.replace("return raw + 1", "return raw + 2"), h)) == {"plain"}


def test_annotation_change_is_a_code_change(sqlite_project: Project) -> None:
    edit = changed(
        sqlite_project, lambda p, h: (p.replace("def plain(raw: int) -> int", "def plain(raw: float) -> int"), h)
    )
    assert edit == {"plain"}


def test_helper_change_reaches_exactly_its_callers(sqlite_project: Project) -> None:
    # scale is called directly (direct), via helpers.clean (module attribute, then helper->helper) and by
    # a method of Model (a class the model asset instantiates).
    assert changed(sqlite_project, lambda p, h: (p, h.replace("return x * 2", "return x * 3"))) == {
        "via_module",
        "direct",
        "model",
    }


def test_helper_reached_through_module_attribute(sqlite_project: Project) -> None:
    assert changed(sqlite_project, lambda p, h: (p, h.replace("return scale(x) + THRESHOLD", "return scale(x)"))) == {
        "via_module"
    }


def test_unrelated_function_or_class_changes_nothing(sqlite_project: Project) -> None:
    assert changed(sqlite_project, lambda p, h: (p, h.replace("return x - 1", "return x - 2"))) == set()
    assert (
        changed(
            sqlite_project,
            lambda p, h: (
                p,
                h.replace(
                    "    def predict(self, x):\n        return x\n", "    def predict(self, x):\n        return -x\n"
                ),
            ),
        )
        == set()
    )
    added = "\n\ndef brand_new(y):\n    return y\n"
    assert changed(sqlite_project, lambda p, h: (p, h + added)) == set()


def test_constants_are_part_of_the_version(sqlite_project: Project) -> None:
    assert changed(sqlite_project, lambda p, h: (p, h.replace("THRESHOLD = 3", "THRESHOLD = 4"))) == {"via_module"}
    assert changed(sqlite_project, lambda p, h: (p, h.replace('NAMES = ("a", "b")', 'NAMES = ("a", "c")'))) == {"names"}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ('NAMES = ["a", "b"]', 'NAMES = ["a", "c"]'),
        ('NAMES = {"k": 1}', 'NAMES = {"k": 2}'),
        ('NAMES = {"a", "b"}', 'NAMES = {"a", "c"}'),
        ('NAMES = frozenset({"a", "b"})', 'NAMES = frozenset({"a", "c"})'),
    ],
)
def test_container_constants_are_part_of_the_version(sqlite_project: Project, before: str, after: str) -> None:
    # e.g. the quickstart's FEATURES list: editing the feature columns must make the model stale.
    helpers = HELPERS.replace('NAMES = ("a", "b")', before)
    first = versions(sqlite_project, PIPELINE, helpers)
    second = versions(sqlite_project, PIPELINE, helpers.replace(before, after))
    assert {k for k in first if first[k] != second[k]} == {"names"}


def test_class_change_reaches_users_of_the_class(sqlite_project: Project) -> None:
    edit = changed(sqlite_project, lambda p, h: (p, h.replace("return scale(x) * self.w", "return scale(x) + self.w")))
    assert edit == {"model"}


def test_recursion_terminates_and_is_followed(sqlite_project: Project) -> None:
    assert changed(sqlite_project, lambda p, h: (p, h.replace("n * fact(n - 1)", "n * fact(n - 1) * 1"))) == {
        "recursive"
    }
    mutual = changed(sqlite_project, lambda p, h: (p, h.replace("False if n == 0 else", "(n < 0) if n == 0 else")))
    assert mutual == {"recursive"}


def test_parameter_named_like_an_asset_does_not_pull_it_in(sqlite_project: Project) -> None:
    # ``raw`` is both an asset of the module and every asset's parameter: editing raw's body is not a
    # code change of its consumers (its data version tells them instead).
    assert changed(sqlite_project, lambda p, h: (p.replace("return 4", "return 5"), h)) == {"raw"}


def test_local_variable_shadowing_a_helper(sqlite_project: Project) -> None:
    pipeline = PIPELINE + "\n\n@asset\ndef shadow(raw: int) -> int:\n    scale = 3\n    return raw * scale\n"
    first = versions(sqlite_project, pipeline)
    second = versions(sqlite_project, pipeline, HELPERS.replace("return x * 2", "return x * 5"))
    assert first["shadow"] == second["shadow"]


_PROBE = """
import json, sys
from assets_core.config import load_settings
from assets_core.workspace import Workspace
ws = Workspace.load(sys.argv[1], load_settings())
print(json.dumps({k: ws.code_version(k).version for k in ws.graph.assets}))
"""


def versions_in_new_processes(project: Project) -> list[dict[str, str]]:
    """Every asset's code version as a fresh process computes it, under two hash seeds."""
    seen = []
    for seed in ("1", "2"):
        env = {**project.env(), "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, project.module()],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        seen.append(json.loads(out.stdout))
    return seen


def test_versions_are_stable_across_processes(sqlite_project: Project) -> None:
    helpers = HELPERS.replace('NAMES = ("a", "b")', 'NAMES = frozenset({"alpha", "beta", "gamma", "delta"})')
    here = versions(sqlite_project, PIPELINE, helpers)
    assert versions_in_new_processes(sqlite_project) == [here, here]


def test_hash_inputs_are_unambiguous() -> None:
    assert structured_hash(["ab", "c"]) != structured_hash(["a", "bc"])
    assert structured_hash(["a", ""]) != structured_hash(["a"])
    assert structured_hash([b"1:a"]) != structured_hash(["a"])
    assert mapping_hash("t", {"a": "bc"}) != mapping_hash("t", {"ab": "c"})
    assert mapping_hash("t", {"a": "1", "b": "2"}) == mapping_hash("t", {"b": "2", "a": "1"})
    assert mapping_hash("t", {"a": "1"}) != mapping_hash("u", {"a": "1"})

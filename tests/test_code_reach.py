"""Code versions follow every way user code reaches code: imports inside functions, containers of
functions, partials, lambdas, module-level instances, default values, user decorators, class attributes,
and (conservatively, whole modules) references that cannot be resolved statically.

Each test edits the reached code and expects the asset's version to change, and edits something the
asset does not reach and expects it unchanged.
"""

from __future__ import annotations

import json

import pytest
from conftest import Project
from test_code_version import versions_in_new_processes

HELPERS = """
import functools


def zscore(x, k=1):
    return (x - 3) * k


def clip(x):
    return min(x, 10)


def unrelated(x):
    return x - 1


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)

    return wrapper


def retry(times):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            for _ in range(times):
                return fn(*args)

        return wrapper

    return decorate


def make_scaler(k):
    def scale(x, k=k):
        return x * k

    return scale


class Scaler:
    def __init__(self, k):
        self.k = k

    def transform(self, x):
        return x * self.k


class Config:
    steps = (zscore,)


DEFAULT_SCALER = Scaler(range(2))
"""

OTHER = """
def far_away(x):
    return x + 100
"""


def versions(project: Project, pipeline: str, helpers: str = HELPERS) -> dict[str, str]:
    project.write("helpers", helpers)
    project.write("other", OTHER)
    project.write("pipeline", "from assets_core import asset\n" + pipeline.replace("PKG", project.package))
    ws = project.workspace()
    return {key: ws.code_version(key).version for key in ws.graph.assets}


def helper_edit_changes(project: Project, pipeline: str, old: str, new: str, key: str = "a") -> bool:
    """Whether replacing ``old`` by ``new`` in the helpers module changes asset ``key``'s code version."""
    assert old in HELPERS, old
    before = versions(project, pipeline)[key]
    return versions(project, pipeline, HELPERS.replace(old, new))[key] != before


def pipeline_edit_changes(project: Project, pipeline: str, old: str, new: str, key: str = "a") -> bool:
    assert old in pipeline, old
    before = versions(project, pipeline)[key]
    return versions(project, pipeline.replace(old, new))[key] != before


ZSCORE_EDIT = ("return (x - 3) * k", "return (x - 4) * k")
UNRELATED_EDIT = ("return x - 1", "return x - 2")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("from PKG.helpers import zscore\n    return zscore(raw)", id="from-absolute"),
        pytest.param("from .helpers import zscore\n    return zscore(raw)", id="from-relative"),
        pytest.param("from .helpers import zscore as z\n    return z(raw)", id="from-as"),
        pytest.param("import PKG.helpers as h\n    return h.zscore(raw)", id="import-as"),
        pytest.param("import PKG.helpers\n    return PKG.helpers.zscore(raw)", id="import-dotted"),
        pytest.param("from . import helpers\n    return helpers.zscore(raw)", id="from-package-import-module"),
    ],
)
def test_import_inside_the_function_is_followed(sqlite_project: Project, body: str) -> None:
    pipeline = f"\n@asset\ndef raw():\n    return 1\n\n\n@asset\ndef a(raw):\n    {body}\n"
    assert helper_edit_changes(sqlite_project, pipeline, *ZSCORE_EDIT)
    assert not helper_edit_changes(sqlite_project, pipeline, *UNRELATED_EDIT)


CONTAINERS = """
from .helpers import clip, zscore

TRANSFORMS = {"z": zscore, "c": clip}
STEPS = [zscore]
PAIR = (clip, zscore)


@asset
def raw():
    return 1


@asset
def a(raw):
    return TRANSFORMS["z"](raw)


@asset
def b(raw):
    return STEPS[0](raw)


@asset
def c(raw):
    return PAIR[1](raw)
"""


@pytest.mark.parametrize("key", ["a", "b", "c"])
def test_functions_held_in_module_level_containers_are_followed(sqlite_project: Project, key: str) -> None:
    assert helper_edit_changes(sqlite_project, CONTAINERS, *ZSCORE_EDIT, key=key)
    assert not helper_edit_changes(sqlite_project, CONTAINERS, *UNRELATED_EDIT, key=key)


def test_remapping_a_container_entry_is_a_code_change(sqlite_project: Project) -> None:
    remap = ('{"z": zscore, "c": clip}', '{"z": clip, "c": zscore}')
    assert pipeline_edit_changes(sqlite_project, CONTAINERS, *remap, key="a")
    assert not pipeline_edit_changes(sqlite_project, CONTAINERS, *remap, key="b")


def test_entries_added_after_the_assignment_are_followed(sqlite_project: Project) -> None:
    # A registry filled by later statements: the entry's function is reached through the container.
    pipeline = CONTAINERS + '\nTRANSFORMS["u"] = clip\n'
    assert helper_edit_changes(sqlite_project, pipeline, "return min(x, 10)", "return min(x, 11)")


PARTIAL = """
import functools

from .helpers import zscore

scaled = functools.partial(zscore, k=2)


@asset
def raw():
    return 1


@asset
def a(raw):
    return scaled(raw)
"""


def test_functools_partial_is_followed(sqlite_project: Project) -> None:
    assert helper_edit_changes(sqlite_project, PARTIAL, *ZSCORE_EDIT)
    assert pipeline_edit_changes(sqlite_project, PARTIAL, "k=2", "k=3")
    assert not helper_edit_changes(sqlite_project, PARTIAL, *UNRELATED_EDIT)


LAMBDAS = """
from .helpers import zscore

square = lambda x: x * x  # noqa: E731
OPS = [lambda x: zscore(x) + 1, lambda x: x - 1]


@asset
def raw():
    return 1


@asset
def a(raw):
    return square(raw)


@asset
def b(raw):
    return OPS[0](raw)
"""


def test_module_level_lambdas_are_followed(sqlite_project: Project) -> None:
    assert pipeline_edit_changes(sqlite_project, LAMBDAS, "x * x", "x * x * x", key="a")
    assert pipeline_edit_changes(sqlite_project, LAMBDAS, "zscore(x) + 1", "zscore(x) + 2", key="b")
    assert helper_edit_changes(sqlite_project, LAMBDAS, *ZSCORE_EDIT, key="b")
    assert not helper_edit_changes(sqlite_project, LAMBDAS, *ZSCORE_EDIT, key="a")


INSTANCE = """
from .helpers import Scaler

MODEL = Scaler(2)


@asset
def raw():
    return 1


@asset
def a(raw):
    return MODEL.transform(raw)
"""


def test_methods_of_module_level_instances_are_followed(sqlite_project: Project) -> None:
    assert helper_edit_changes(sqlite_project, INSTANCE, "return x * self.k", "return x * self.k + 1")
    assert pipeline_edit_changes(sqlite_project, INSTANCE, "Scaler(2)", "Scaler(3)")
    assert not helper_edit_changes(sqlite_project, INSTANCE, *UNRELATED_EDIT)


DEFAULTS = """
from .helpers import make_scaler, zscore

triple = make_scaler(3)


def apply(x, op=zscore):
    return op(x)


@asset
def raw():
    return 1


@asset
def a(raw):
    return triple(raw)


@asset
def b(raw):
    return apply(raw)
"""


def test_default_argument_values_are_part_of_the_version(sqlite_project: Project) -> None:
    # triple's default k=3 is evaluated inside make_scaler: only its value says what triple does.
    assert pipeline_edit_changes(sqlite_project, DEFAULTS, "make_scaler(3)", "make_scaler(4)")
    assert helper_edit_changes(sqlite_project, DEFAULTS, *ZSCORE_EDIT, key="b")
    assert not helper_edit_changes(sqlite_project, DEFAULTS, *ZSCORE_EDIT, key="a")


DECORATED = """
import functools

from .helpers import retry, timed


@timed
def helper(x):
    return x + 1


@retry(2)
def flaky(x):
    return x * 2


@functools.cache
def cached(x):
    return x * 5


@asset
def raw():
    return 1


@asset
def a(raw):
    return helper(raw)


@asset
def b(raw):
    return flaky(raw)


@asset
@timed
def c(raw):
    return cached(raw)
"""


def test_user_decorators_count(sqlite_project: Project) -> None:
    assert helper_edit_changes(
        sqlite_project,
        DECORATED,
        "return fn(*args)\n\n    return wrapper",
        "return fn(*args) + 0\n\n    return wrapper",
    )
    assert pipeline_edit_changes(sqlite_project, DECORATED, "@retry(2)", "@retry(3)", key="b")
    assert not pipeline_edit_changes(sqlite_project, DECORATED, "@retry(2)", "@retry(3)", key="a")


def test_functions_behind_library_decorators_are_followed(sqlite_project: Project) -> None:
    # functools.cache returns a non-function wrapper: the function it wraps is still the user's code.
    assert pipeline_edit_changes(sqlite_project, DECORATED, "return x * 5", "return x * 6", key="c")
    assert not pipeline_edit_changes(sqlite_project, DECORATED, "return x * 5", "return x * 6", key="a")


def test_asset_decorator_arguments_are_not_code(sqlite_project: Project) -> None:
    edited = DECORATED.replace("@asset\ndef a", "@asset(group='g', metadata={'owner': 'me'})\ndef a")
    assert versions(sqlite_project, DECORATED)["a"] == versions(sqlite_project, edited)["a"]


CLASS_ATTRIBUTES = """
from .helpers import Config


class Rates:
    base = 2


Rates.bonus = 3


@asset
def raw():
    return 1


@asset
def a(raw):
    return Config.steps[0](raw)


@asset
def b(raw):
    return raw * Rates.bonus
"""


def test_class_attributes_are_followed(sqlite_project: Project) -> None:
    assert helper_edit_changes(sqlite_project, CLASS_ATTRIBUTES, *ZSCORE_EDIT)
    assert pipeline_edit_changes(sqlite_project, CLASS_ATTRIBUTES, "Rates.bonus = 3", "Rates.bonus = 4", key="b")
    assert not helper_edit_changes(sqlite_project, CLASS_ATTRIBUTES, *UNRELATED_EDIT)


@pytest.mark.parametrize(
    ("body", "module"),
    [
        pytest.param('from . import helpers\n    return getattr(helpers, "z" + "score")(raw)', "helpers", id="getattr"),
        pytest.param(
            'import importlib\n    return importlib.import_module("PKG.helpers").clip(raw)',
            "helpers",
            id="import_module",
        ),
        pytest.param('return globals()["h" + "elper"](raw)', "pipeline", id="globals"),
    ],
)
def test_unresolvable_references_take_the_whole_module(sqlite_project: Project, body: str, module: str) -> None:
    pipeline = (
        f"\ndef helper(x):\n    return x\n\n\n@asset\ndef raw():\n    return 1\n\n\n@asset\ndef a(raw):\n    {body}\n"
    )
    if module == "helpers":
        assert helper_edit_changes(sqlite_project, pipeline, *UNRELATED_EDIT)
    else:
        assert pipeline_edit_changes(sqlite_project, pipeline, "    return x\n", "    return -x\n")
    # ... but only that module: a comment there, or code in another module, changes nothing.
    before = versions(sqlite_project, pipeline)["a"]
    assert versions(sqlite_project, pipeline, "# a comment\n" + HELPERS)["a"] == before
    sqlite_project.write("other", OTHER.replace("x + 100", "x + 101"))
    assert sqlite_project.workspace().code_version("a").version == before
    conservative = {p.name: p.reason for p in sqlite_project.workspace().code_version("a").parts if p.reason}
    assert list(conservative) == [f"{sqlite_project.package}.{module}"]


def test_getattr_with_a_constant_name_is_an_attribute(sqlite_project: Project) -> None:
    pipeline = (
        "\n@asset\ndef raw():\n    return 1\n\n\n@asset\ndef a(raw):\n"
        '    from . import helpers\n    return getattr(helpers, "zscore")(raw)\n'
    )
    assert helper_edit_changes(sqlite_project, pipeline, *ZSCORE_EDIT)
    assert not helper_edit_changes(sqlite_project, pipeline, *UNRELATED_EDIT)


def test_explain_lists_every_part_with_its_hash(sqlite_project: Project) -> None:
    pipeline = (
        CONTAINERS + "\n@asset\ndef d(raw):\n    from . import helpers\n    return getattr(helpers, str(raw))(raw)\n"
    )
    versions(sqlite_project, pipeline)
    pkg = sqlite_project.package
    out = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "a", "--json", check=True)
    data = json.loads(out.stdout)
    assert data["schema"] == "lakeplan.code-version/v1"
    assert data["asset"] == "a"
    assert data["code_version"] == sqlite_project.workspace().code_version("a").version
    parts = {p["name"]: p for p in data["parts"]}
    assert set(parts) == {
        f"{pkg}.pipeline.a",
        f"{pkg}.pipeline.TRANSFORMS",
        f"{pkg}.helpers.zscore",
        f"{pkg}.helpers.clip",
    }
    assert parts[f"{pkg}.pipeline.TRANSFORMS"]["kind"] == "value"
    assert parts[f"{pkg}.helpers.zscore"]["kind"] == "function"
    assert all(len(p["hash"]) == 64 and p["reason"] is None for p in data["parts"])
    text = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "d", check=True).stdout
    assert f"{pkg}.helpers" in text and "conservative" in text and "getattr(helpers, ...)" in text
    missing = sqlite_project.cli("plan", "-m", sqlite_project.module(), "--explain", "nope")
    assert missing.returncode != 0 and "unknown asset 'nope'" in missing.stderr and "Traceback" not in missing.stderr


def test_a_user_module_passed_as_a_value_is_taken_whole(sqlite_project: Project) -> None:
    pipeline = (
        "\ndef call_first(module, x):\n    return module.zscore(x)\n\n\n@asset\ndef raw():\n    return 1\n\n\n"
        "@asset\ndef a(raw):\n    from . import helpers\n\n    return call_first(helpers, raw)\n"
    )
    assert helper_edit_changes(sqlite_project, pipeline, *UNRELATED_EDIT)
    reasons = [p.reason for p in sqlite_project.workspace().code_version("a").parts if p.reason]
    assert reasons == [
        f"module {sqlite_project.package}.helpers is used as a value in {sqlite_project.package}.pipeline.a"
    ]


STAR = """
from .helpers import *  # noqa: F403


@asset
def raw():
    return 1


@asset
def a(raw):
    return Config.steps[0](raw)  # noqa: F405


@asset
def b(raw):
    return DEFAULT_SCALER.transform(raw)  # noqa: F405
"""


def test_names_from_a_star_import_are_followed_to_their_module(sqlite_project: Project) -> None:
    assert helper_edit_changes(sqlite_project, STAR, *ZSCORE_EDIT)
    assert not helper_edit_changes(sqlite_project, STAR, *UNRELATED_EDIT)
    # range(2) is no plain value: only the statement that binds DEFAULT_SCALER in helpers tells.
    assert helper_edit_changes(sqlite_project, STAR, "Scaler(range(2))", "Scaler(range(3))", key="b")
    assert not any(p.reason for p in sqlite_project.workspace().code_version("b").parts)


CLOSURE = """
from .helpers import clip, zscore


def make(ops):
    def run(x):
        return ops[0](x)

    return run


first = make([zscore, clip])


@asset
def raw():
    return 1


@asset
def a(raw):
    return first(raw)
"""


def test_functions_held_in_a_closure_are_followed(sqlite_project: Project) -> None:
    assert helper_edit_changes(sqlite_project, CLOSURE, *ZSCORE_EDIT)
    assert pipeline_edit_changes(sqlite_project, CLOSURE, "make([zscore, clip])", "make([clip, zscore])")
    assert not helper_edit_changes(sqlite_project, CLOSURE, *UNRELATED_EDIT)


@pytest.mark.parametrize(
    "pipeline", [CONTAINERS, PARTIAL, LAMBDAS, INSTANCE, DEFAULTS, DECORATED, CLASS_ATTRIBUTES, CLOSURE]
)
def test_cached_analysis_gives_the_same_versions(sqlite_project: Project, pipeline: str) -> None:
    cold = versions(sqlite_project, pipeline)
    assert any((sqlite_project.settings().state_dir / "cache" / "code").glob("*.json"))
    warm = sqlite_project.workspace()
    assert {k: warm.code_version(k).version for k in warm.graph.assets} == cold


REGISTRY = """
from .helpers import clip, zscore

STEPS = []


def register(fn):
    STEPS.append(fn)


register(zscore)


@asset
def raw():
    return 1


@asset
def a(raw):
    return [step(raw) for step in STEPS]
"""


def test_containers_filled_at_import_are_followed_by_what_they_hold(sqlite_project: Project) -> None:
    # No statement binds zscore to STEPS: only what the list holds once the module is loaded tells.
    assert helper_edit_changes(sqlite_project, REGISTRY, *ZSCORE_EDIT)
    assert pipeline_edit_changes(sqlite_project, REGISTRY, "register(zscore)", "register(clip)")
    assert not helper_edit_changes(sqlite_project, REGISTRY, *UNRELATED_EDIT)


UNSTABLE = """
import uuid

from .helpers import Scaler, clip, zscore

CLIENT = Scaler(uuid.uuid4().hex)
TRANSFORMS = {"z": zscore, "c": clip, "s": CLIENT.transform}
NAMES = {zscore, clip}


@asset
def raw():
    return 1


@asset
def a(raw):
    return TRANSFORMS["s"](raw) + len(NAMES)
"""


def test_versions_of_values_are_the_same_in_every_process(sqlite_project: Project) -> None:
    # The planner and each step (another process, another pod) must agree: an instance's state (here a
    # random id) and set order are not part of the version.
    here = versions(sqlite_project, UNSTABLE)
    assert versions_in_new_processes(sqlite_project) == [here, here]


def test_a_module_that_fails_to_import_counts_by_its_source(sqlite_project: Project) -> None:
    pipeline = (
        "\n@asset\ndef raw():\n    return 1\n\n\n"
        "@asset\ndef a(raw):\n    from . import broken\n\n    return broken.f(raw)\n"
    )
    broken = "raise RuntimeError('not configured')\n\n\ndef f(x):\n    return x\n"

    def version(source: str) -> str:
        sqlite_project.write("broken", source)
        return versions(sqlite_project, pipeline)["a"]

    assert version(broken) != version(broken.replace("return x", "return x + 1"))
    reasons = [p.reason for p in sqlite_project.workspace().code_version("a").parts if p.reason]
    assert reasons == ["could not be imported while versioning (RuntimeError: not configured)"]


LOCATED = """
from pathlib import Path

from assets_core import asset

ROOT = Path(__file__).resolve().parent


@asset
def located() -> str:
    return str((ROOT / "data.csv").relative_to(ROOT)) + __name__
"""


def test_versions_do_not_depend_on_where_the_project_is_checked_out(sqlite_project: Project, tmp_path) -> None:
    """Every clone, CI checkout and Argo pod computes the same versions: ``__file__`` says where, not what."""
    import shutil

    sqlite_project.write("pipeline", LOCATED)
    here = versions_in_new_processes(sqlite_project)[0]
    elsewhere = tmp_path / "another" / "checkout"
    shutil.copytree(sqlite_project.root, elsewhere)
    moved = Project(elsewhere, sqlite_project.database_url, sqlite_project.package)
    assert versions_in_new_processes(moved)[0] == here

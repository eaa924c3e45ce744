"""Part 4 of the hardening issue: generated malformed input never crashes lakeplan.

Each property feeds thousands of generated inputs to the API (fast, in-process) and checks the outcome
against an independent oracle: valid input is accepted, invalid input raises a ``LakeplanError`` whose
message is one line naming the problem, and nothing else escapes. A representative sample then goes
through the CLI: non-zero exit, one ``error:`` line, no traceback, nothing written.
"""

from __future__ import annotations

import graphlib
import inspect
import os
import re
import string
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import Project
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assets_core import AssetDef, asset, schedule
from assets_core.config import load_settings
from assets_core.errors import ConfigError, DefinitionError, GraphError, LakeplanError, StoreError
from assets_core.graph import AssetGraph
from assets_core.keys import MAX_KEY_LENGTH, validate_key
from assets_core.metadata_store import MetadataStore
from assets_core.step import materialize

MANY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert message.strip(), f"{type(exc).__name__} without a message"
    assert "\n" not in message and "Traceback" not in message, message
    return message


nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=string.ascii_letters + "_/.", max_size=30),
    st.sampled_from(["..", "../etc", "a/../b", "/abs", "a//b", "a/", "nul\x00byte", "naïve", "ключ", "a b", "1abc"]),
    st.builds(lambda n: "a" * n, st.integers(MAX_KEY_LENGTH - 2, MAX_KEY_LENGTH + 300)),
)


# -- keys --------------------------------------------------------------------------------------


@MANY
@given(nasty_text)
@example("x" * (MAX_KEY_LENGTH + 1))
def test_a_key_is_a_safe_relative_path_or_a_one_line_error(key: str) -> None:
    try:
        validate_key(key)
    except DefinitionError as exc:
        one_line(exc)
        return
    segments = key.split("/")
    assert len(key) <= MAX_KEY_LENGTH and key.isascii() and "\x00" not in key
    assert all(_IDENT.fullmatch(s) for s in segments), key  # so no '', '.', '..' and no leading '/'


# -- graphs ------------------------------------------------------------------------------------

names = st.sampled_from(["raw", "clean", "feat", "model", "report", "rawx", "cleen", "modl"])


def _fn() -> None:
    return None


@MANY
@given(st.lists(st.tuples(names, st.lists(names, max_size=3)), min_size=1, max_size=7))
def test_a_graph_builds_exactly_when_valid_else_one_problem_per_line(spec: list[tuple[str, list[str]]]) -> None:
    items = [asset(name=name, deps=deps)(_fn) for name, deps in spec]
    keys = [name for name, _ in spec]
    valid = len(set(keys)) == len(keys) and all(d in keys and d != n for n, deps in spec for d in deps)
    if valid:
        try:
            list(graphlib.TopologicalSorter({n: deps for n, deps in spec}).static_order())
        except graphlib.CycleError:
            valid = False
    try:
        graph = AssetGraph.build(items)
    except GraphError as exc:
        assert not valid, f"valid graph refused: {exc}"
        assert exc.problems and all("\n" not in p for p in exc.problems)
        lines = str(exc).splitlines()
        assert len(lines) == (1 if len(exc.problems) == 1 else len(exc.problems) + 1)
        return
    assert valid, f"invalid graph accepted: {spec}"
    assert set(graph.order) == set(keys)


# -- decorator arguments -----------------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), st.one_of(st.text(max_size=6), st.integers())),
)
ARGUMENTS = [p for p in inspect.signature(asset).parameters if p != "fn"]


@MANY
@given(st.dictionaries(st.sampled_from(ARGUMENTS), anything, max_size=4))
def test_decorator_arguments_declare_an_asset_or_raise_one_line(kwargs: dict[str, Any]) -> None:
    try:
        declared = asset(**kwargs)(_fn)
    except DefinitionError as exc:
        one_line(exc)
        return
    assert isinstance(declared, AssetDef)
    validate_key(declared.key)


# -- schedules ---------------------------------------------------------------------------------

cron_field = st.one_of(
    st.sampled_from(["*", "0", "5", "*/15", "1-5", "MON", "99", "-1", "?", "L", "a"]), st.text(max_size=4)
)
crons = st.one_of(st.lists(cron_field, min_size=0, max_size=7).map(" ".join), st.text(max_size=30))
zones = st.one_of(
    st.sampled_from(["UTC", "Europe/Berlin", "Mars/Olympus", "../../etc/passwd", "", "utc", "Etc/GMT+14"]),
    st.text(max_size=20),
)


@MANY
@given(crons, zones)
def test_invalid_cron_or_timezone_is_one_line(cron: str, timezone: str) -> None:
    try:
        declared = schedule("nightly", cron=cron, timezone=timezone)
    except DefinitionError as exc:
        one_line(exc)
        return
    assert len(cron.split()) == 5
    next(declared.next_fire_times(1))


# -- configuration -----------------------------------------------------------------------------

toml_values = st.one_of(
    st.integers(-3, 10).map(str),
    st.sampled_from(['"x"', '""', "true", "[1]", "{a = 1}", '"sqlite:///x.db"', "1.5", "-0.0", "nan", "inf"]),
)
config_keys = st.sampled_from(
    [
        "module",
        "database_url",
        "storage_root",
        "workers",
        "retry_backoff_seconds",
        "fsync",
        "timeout",
        "wrokers",
        "argo",
        "x",
    ]
)


@MANY
@given(
    st.one_of(
        st.lists(st.tuples(config_keys, toml_values), max_size=4).map(
            lambda pairs: "[tool.lakeplan]\n" + "".join(f"{k} = {v}\n" for k, v in pairs)
        ),
        st.text(max_size=60).map(lambda t: "[tool.lakeplan]\n" + t),
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "LAKEPLAN_WORKERS",
                "LAKEPLAN_FSYNC",
                "LAKEPLAN_RETRY_BACKOFF_SECONDS",
                "LAKEPLAN_MODULE",
                "LAKEPLAN_TIMEOUT",
            ]
        ),
        st.text(alphabet=string.printable, max_size=8),
        max_size=2,
    ),
)
def test_malformed_config_is_a_one_line_config_error(pyproject: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        try:
            (root / "pyproject.toml").write_text(pyproject)
        except UnicodeEncodeError:
            return
        try:
            loaded = load_settings(root, env)
        except ConfigError as exc:
            message = one_line(exc) if "\n" not in pyproject else str(exc)
            assert message
            return
        assert loaded.workers >= 1 and 0 <= loaded.retry_backoff_seconds <= 3600
        assert sorted(p.name for p in root.iterdir()) == ["pyproject.toml"]  # nothing written


# -- database URLs -----------------------------------------------------------------------------


@SOME
@given(
    st.one_of(
        st.text(max_size=30).filter(lambda u: not u.startswith("sqlite")),
        st.sampled_from(
            [
                "postgresql://postgres@127.0.0.1:1/test",
                "postgresql://postgres:hunter2@127.0.0.1:1/test",
                "postgresql://postgres@127.0.0.1:5432/no_such_database_lp",
                "postgresql://postgres@127.0.0.1:notaport/test",
                "mysql://root@127.0.0.1:1/x",
                "oracle://x",
                "http://example",
                "://",
                "postgresql+nodriver://x",
            ]
        ),
    )
)
def test_unreachable_or_wrong_database_url_is_one_line(url: str) -> None:
    with pytest.raises(LakeplanError) as caught:
        MetadataStore.open(url).close()
    message = one_line(caught.value)
    assert "hunter2" not in message


# -- corrupted stored files --------------------------------------------------------------------

CORRUPTIONS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 400)),
    st.tuples(st.just("flip"), st.integers(0, 400)),
    st.tuples(st.just("append"), st.integers(1, 50)),
)


@pytest.fixture
def built_pair(sqlite_project: Project) -> Project:
    sqlite_project.write(
        "pipeline",
        """
        import pandas as pd
        from assets_core import asset

        @asset
        def table() -> pd.DataFrame:
            return pd.DataFrame({"x": range(50)})

        @asset
        def total(table: pd.DataFrame) -> int:
            return int(table["x"].sum())
        """,
    )
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), check=True)
    return sqlite_project


def test_corrupted_or_truncated_stored_file_is_never_loaded(built_pair: Project) -> None:
    ws = built_pair.workspace()
    head = ws.store.heads(["table"])["table"]
    path = ws.settings.resolved_storage_root / head.location
    original = path.read_bytes()
    built = [m.id for m in ws.store.history("total") if m.kind.value == "built"]

    @SOME
    @given(CORRUPTIONS)
    def check(corruption: tuple[str, int]) -> None:
        how, at = corruption
        data = bytearray(original)
        if how == "truncate":
            data = data[: at % len(original)]
        elif how == "flip":
            data[at % len(data)] ^= 0xFF
        else:
            data += os.urandom(at)
        path.write_bytes(bytes(data))
        try:
            result = materialize(ws, "total", "run-corrupt", force=True)
            assert result.outcome.value == "failed" and "corrupted" in result.message
            one_line(StoreError(result.message))
            assert not path.exists(), "the corrupted file is moved aside, never left to be read"
        finally:
            path.write_bytes(original)

    check()
    assert [m.id for m in ws.store.history("total") if m.kind.value == "built"] == built  # refused reads build nothing


# -- a representative sample through the CLI ---------------------------------------------------

HEADER = "from assets_core import asset, resource, schedule\n"
CLI_CASES = {
    "cycle": "@asset(deps=['b'])\ndef a(): return 1\n@asset(deps=['a'])\ndef b(): return 1\n",
    "self-dependency": "@asset(deps=['a'])\ndef a(): return 1\n",
    "near-miss name": "@asset\ndef orders(): return 1\n@asset\ndef revenue(ordrs): return 1\n",
    "duplicate key": "@asset(name='x')\ndef a(): return 1\n@asset(name='x')\ndef b(): return 1\n",
    "dot-dot key": "@asset(name='../escape')\ndef a(): return 1\n",
    "NUL in key": "@asset(name='a\\x00b')\ndef a(): return 1\n",
    "non-ASCII key": "@asset(name='café')\ndef a(): return 1\n",
    "long key": "@asset(name='k' * 500)\ndef a(): return 1\n",
    "wrong decorator argument": "@asset(retries=-1)\ndef a(): return 1\n",
    "unknown io_manager": "@asset(io_manager='csv')\ndef a(): return 1\n",
    "resource named like an asset": "@resource(name='a')\ndef conn(config): return 1\n@asset\ndef a(): return 1\n",
    "invalid cron": "@asset\ndef a(): return 1\nnightly = schedule('n', cron='61 * * * *')\n",
    "invalid timezone": "@asset\ndef a(): return 1\nnightly = schedule('n', cron='0 2 * * *', timezone='Mars/Base')\n",
}
CONFIG_CASES = {
    "malformed pyproject": ("[tool.lakeplan\nmodule = ", {}),
    "unknown config key": ("[tool.lakeplan]\nwrokers = 2\n", {}),
    "config for an undeclared resource": ("[tool.lakeplan.resources.warehouse]\nschema = 'x'\n", {}),
    "bad workers": ("[tool.lakeplan]\n", {"LAKEPLAN_WORKERS": "many"}),
    "too many workers": ("[tool.lakeplan]\n", {"LAKEPLAN_WORKERS": "99999"}),
    "boolean as a string": ('[tool.lakeplan]\nfsync = "yes"\n', {}),
    "password in the URL query": (
        "[tool.lakeplan]\n",
        {"LAKEPLAN_DATABASE_URL": "postgresql://u@127.0.0.1:1/x?sslpassword=pw&password=pw"},
    ),
    "unreachable database": ("[tool.lakeplan]\n", {"LAKEPLAN_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x"}),
    "unsupported database": ("[tool.lakeplan]\n", {"LAKEPLAN_DATABASE_URL": "mysql://u@127.0.0.1:1/x"}),
}


def _cli_fails_cleanly(project: Project, env: dict[str, str], *args: str) -> str:
    before = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if "__pycache__" not in p.parts)
    result = subprocess.run(
        [sys.executable, "-m", "assets_core", *args, "-m", project.module()],
        cwd=project.root,
        env={**project.env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    after = sorted(p.relative_to(project.root) for p in project.root.rglob("*") if "__pycache__" not in p.parts)
    assert result.returncode not in (0, 1), result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    assert after == before, "a failed command wrote files"
    return lines[0]


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_bad_definitions_fail_in_one_line(sqlite_project: Project, case: str) -> None:
    sqlite_project.write("pipeline", HEADER + CLI_CASES[case])
    line = _cli_fails_cleanly(sqlite_project, {}, "materialize")
    if case == "near-miss name":
        assert "did you mean 'orders'" in line


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_cli_bad_configuration_fails_in_one_line(sqlite_project: Project, case: str) -> None:
    pyproject, env = CONFIG_CASES[case]
    sqlite_project.write("pipeline", HEADER + "@asset\ndef a(): return 1\n")
    (sqlite_project.root / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    line = _cli_fails_cleanly(sqlite_project, {"LAKEPLAN_DATABASE_URL": "", **env}, "plan")
    assert "pw@" not in line and "=pw" not in line

"""The command line: plan and materialize output, help texts, and part 3's user errors (one line each)."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import Project

GOOD = """
from assets_core import asset


@asset
def orders() -> list:
    return [1, 2, 3]


@asset
def revenue(orders: list) -> int:
    return sum(orders)
"""


def one_error_line(result: subprocess.CompletedProcess[str], *, code: int = 2) -> str:
    """The single ``error:`` line a user mistake must produce (no traceback), returned for more checks."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_plan_table_and_json(project: Project) -> None:
    project.write("pipeline", GOOD)
    table = project.cli("plan", "-m", project.module(), check=True).stdout
    lines = table.splitlines()
    assert lines[0].split() == ["ASSET", "STATUS", "CODE", "WHY"]
    assert lines[1].split()[:2] == ["orders", "STALE"] and "MISSING: never materialized" in lines[1]
    assert lines[2].split()[:2] == ["revenue", "STALE"]
    assert lines[-1] == "2 assets: 2 stale, 0 fresh"
    data = json.loads(project.cli("plan", "-m", project.module(), "--json", check=True).stdout)
    assert data["schema"] == "lakeplan.plan/v1"
    assert [a["key"] for a in data["assets"]] == ["orders", "revenue"]
    assert data["assets"][0]["causes"] == [
        {"kind": "MISSING", "message": "never materialized", "input": None, "old": None, "new": None}
    ]
    again = project.cli("plan", "-m", project.module(), "--json", check=True).stdout
    assert again == json.dumps(data, indent=2, sort_keys=True) + "\n"  # stable, sorted form


def test_materialize_progress_summary_and_json(project: Project) -> None:
    project.write("pipeline", GOOD)
    result = project.cli("materialize", "-m", project.module(), check=True)
    progress = result.stderr.splitlines()
    assert progress[0] == "2 of 2 selected assets to materialize"
    assert any("built" in line and "orders" in line for line in progress)
    assert any(line.startswith("[2/2]") and "revenue" in line for line in progress)
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("run ") and "2 built" in summary and "0 failed" in summary and summary.endswith("s")
    fresh = project.cli("plan", "-m", project.module(), "--stale", check=True).stdout
    assert fresh.strip().splitlines()[-1] == "2 assets: 0 stale, 2 fresh"
    data = json.loads(project.cli("materialize", "-m", project.module(), "--json", "--force", check=True).stdout)
    assert data["schema"] == "lakeplan.run/v1"
    assert data["counts"]["built"] == 2
    assert [r["key"] for r in data["results"]] == ["orders", "revenue"]
    assert all(len(r["data_version"]) == 64 for r in data["results"])


def test_module_from_pyproject_and_file_path(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", GOOD)
    path = f"{sqlite_project.package}/pipeline.py"
    assert "2 assets: 2 stale" in sqlite_project.cli("plan", "-m", path, check=True).stdout
    pyproject = sqlite_project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'module = "{sqlite_project.module()}"\n')
    assert "2 assets: 2 stale" in sqlite_project.cli("plan", check=True).stdout


@pytest.mark.parametrize("command", [[], ["plan"], ["materialize"]])
def test_help_texts(sqlite_project: Project, command: list[str]) -> None:
    result = sqlite_project.cli(*command, "--help", check=True)
    assert result.stdout.startswith("usage: lakeplan")
    if command == ["plan"]:
        assert "MISSING" in result.stdout and "--json" in result.stdout and "+NAME" in result.stdout
    if command == ["materialize"]:
        assert "--workers" in result.stdout and "--force" in result.stdout and "early cutoff" in result.stdout


# -- part 3: every user error is one line, a non-zero exit, no traceback -----------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "from assets_core import asset\n@asset\ndef a(c): ...\n@asset\ndef b(a): ...\n@asset\ndef c(b): ...\n",
            "error: cycle in the asset graph: a -> b -> c -> a; remove one of these dependencies",
            id="cycle",
        ),
        pytest.param(
            "from assets_core import asset\n\n@asset\ndef orders(): ...\n\n@asset\ndef revenue(order): ...\n",
            "error: asset 'revenue' depends on unknown asset 'order'; did you mean 'orders'?",
            id="unknown-upstream",
        ),
        pytest.param(
            "from assets_core import asset\n\n@asset\ndef a(): ...\n\n@asset(name='a')\ndef b(): ...\n",
            "error: duplicate asset key 'a' (pipeline.py:3 and pipeline.py:6); rename one with name='...'",
            id="duplicate",
        ),
        pytest.param(
            "from assets_core import asset\n\n@asset(name='../../etc/x')\ndef a(): ...\n",
            "invalid asset key '../../etc/x'",
            id="invalid-key",
        ),
        pytest.param(
            "from assets_core import asset\n\n@asset(retries=-2)\ndef a(): ...\n",
            "retries must be a whole number from 0 to 100, got -2",
            id="bad-option",
        ),
        pytest.param(
            "from assets_core import asset\n\nundefined_name + 1\n",
            "pipeline.py:3: NameError: name 'undefined_name' is not defined",
            id="name-error",
        ),
        pytest.param(
            "from assets_core import asset\n\ndef broken(:\n    pass\n",
            "pipeline.py:3: SyntaxError",
            id="syntax-error",
        ),
        pytest.param(
            "import pandas\nimport no_such_package_xyz\n",
            "pipeline.py:2: No module named 'no_such_package_xyz'",
            id="missing-package",
        ),
        pytest.param(
            "x = 1\n",
            "declares no assets; decorate functions with @asset",
            id="no-assets",
        ),
    ],
)
def test_definition_errors(sqlite_project: Project, source: str, expected: str) -> None:
    sqlite_project.write("pipeline", source)
    line = one_error_line(sqlite_project.cli("materialize", "-m", sqlite_project.module()))
    assert expected in line, line


def test_debug_shows_the_traceback(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", "from assets_core import asset\n\nundefined_name + 1\n")
    with_debug = sqlite_project.cli("--debug", "plan", "-m", sqlite_project.module())
    assert with_debug.returncode == 2 and "Traceback" in with_debug.stderr
    assert with_debug.stderr.strip().splitlines()[-1].startswith("error: could not import")


def test_error_in_a_helper_module_points_at_the_helper(sqlite_project: Project) -> None:
    sqlite_project.write("helpers", "def f():\n    return 1\n\nraise RuntimeError('helper broke')\n")
    sqlite_project.write("pipeline", "from . import helpers\n" + GOOD)
    line = one_error_line(sqlite_project.cli("plan", "-m", sqlite_project.module()))
    assert f"{sqlite_project.package}/helpers.py:4: RuntimeError: helper broke" in line


def test_all_graph_problems_are_listed_together(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline", "from assets_core import asset\n\n@asset\ndef a(a): ...\n\n@asset\ndef b(zzz_unknown): ...\n"
    )
    result = sqlite_project.cli("plan", "-m", sqlite_project.module())
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: 2 problems in the asset graph:"
    assert lines[1].startswith("  - asset 'a' depends on itself") and "zzz_unknown" in lines[2]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("nosuchpkg_qq.pipeline", "module 'nosuchpkg_qq.pipeline' not found"),
        ("missing_file.py", "file 'missing_file.py' not found"),
    ],
)
def test_module_not_found(sqlite_project: Project, target: str, expected: str) -> None:
    assert expected in one_error_line(sqlite_project.cli("plan", "-m", target))


def test_no_target_at_all(sqlite_project: Project) -> None:
    assert "pass -m MODULE" in one_error_line(sqlite_project.cli("plan"))


def test_unknown_select_name(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", GOOD)
    line = one_error_line(sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "revenu+"))
    assert line == "error: --select 'revenu+': unknown asset 'revenu'; did you mean 'revenue'?"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            'databse_url = "sqlite:///x.db"\n',
            "unknown key 'databse_url' in [tool.lakeplan]; did you mean 'database_url'?",
        ),
        ("workers = 0\n", "workers must be a whole number from 1 to 256, got 0"),
        ("workers = 99999\n", "workers must be a whole number from 1 to 256, got 99999"),
        ('workers = "4"\n', "workers must be a whole number from 1 to 256, not the string '4'; write workers = 4"),
        ('fsync = "yes"\n', "fsync must be true or false, not the string 'yes'; write fsync = true"),
        ("retry_backoff_seconds = true\n", "retry_backoff_seconds must be seconds from 0 to 3600, got True"),
        ("module = [\n", "not valid TOML"),
        ("argo = 3\n", "[tool.lakeplan.argo] must be a table"),
    ],
)
def test_invalid_config(sqlite_project: Project, table: str, expected: str) -> None:
    sqlite_project.write("pipeline", GOOD)
    pyproject = sqlite_project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + table)
    line = one_error_line(sqlite_project.cli("plan", "-m", sqlite_project.module()))
    assert expected in line and "pyproject.toml" in line


def test_invalid_environment_variable(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", GOOD)
    for value in ("-3", "99999"):
        result = sqlite_project.cli("plan", "-m", sqlite_project.module(), env={"LAKEPLAN_WORKERS": value})
        expected = f"environment variable LAKEPLAN_WORKERS: workers must be a whole number from 1 to 256, got '{value}'"
        assert expected in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "option", "expected"),
    [
        (("materialize", "--workers", "0"), "-w/--workers", "a whole number from 1 to 256, got '0'"),
        (("materialize", "--workers", "-1"), "-w/--workers", "a whole number from 1 to 256, got '-1'"),
        (("materialize", "--workers", "99999"), "-w/--workers", "a whole number from 1 to 256, got '99999'"),
        (("materialize", "--workers", "two"), "-w/--workers", "a whole number from 1 to 256, got 'two'"),
        (("history", "a", "--limit", "-1"), "-n/--limit", "a whole number >= 1, got '-1'"),
        (("runs", "--limit", "0"), "-n/--limit", "a whole number >= 1, got '0'"),
        (("schedules", "--count", "-5"), "-n/--count", "a whole number >= 1, got '-5'"),
        (("compile", "--split", "0"), "--split", "a whole number >= 1, got '0'"),
        (("submit", "--split", "1.5"), "--split", "a whole number >= 1, got '1.5'"),
    ],
)
def test_numeric_options_are_range_checked(
    sqlite_project: Project, args: tuple[str, ...], option: str, expected: str
) -> None:
    """A count out of range is a usage error naming the option and the range, before anything runs (it was a
    'store' error for ``history --limit -1``, and ``--workers 99999`` was accepted)."""
    sqlite_project.write("pipeline", GOOD)
    result = sqlite_project.cli(*args, "-m", sqlite_project.module())
    assert result.returncode == 2 and "Traceback" not in result.stderr and not result.stdout
    assert result.stderr.strip().splitlines()[-1].endswith(f"error: argument {option}: must be {expected}")
    assert not (sqlite_project.root / ".lakeplan").exists(), "nothing may be opened or written"


@pytest.mark.parametrize(
    ("url", "code", "expected"),
    [
        ("postgresql://nobody:hunter2@127.0.0.1:1/x", 3, "postgresql://nobody:***@127.0.0.1:1/x"),
        ("postgresql://nobody@127.0.0.1:1/x", 3, "Connection refused"),
        ("definitely not a url", 2, "is not valid"),
        ("mysql://u@127.0.0.1/db", 2, "driver is not installed"),
    ],
)
def test_unusable_database(sqlite_project: Project, url: str, code: int, expected: str) -> None:
    sqlite_project.write("pipeline", GOOD)
    result = sqlite_project.cli("plan", "-m", sqlite_project.module(), env={"LAKEPLAN_DATABASE_URL": url})
    line = one_error_line(result, code=code)
    assert expected in line and "hunter2" not in line

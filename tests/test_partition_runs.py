"""Partitioned projects run end to end (issue 14): the workspace plans one node per (asset, partition),
source partitions are observed one by one, a step reads one value, a window as one table or every
partition by key, stores under ``ASSET/partition=KEY``, and a backfill after one day's source changed
rebuilds exactly that day's cone."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import REPO, Project
from sample_pipelines import PARTITIONED, PARTITIONED_DAYS
from test_html_view import Browser, _click_node, browser  # noqa: F401 - the fixture
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture
from ui_harness import needs_browser

from assets_core import partition_key
from assets_core.errors import DefinitionError, SelectionError
from assets_core.executor import RunSummary, planned_work, run
from assets_core.partition_scope import PartitionRange
from assets_core.planner import CauseKind
from assets_core.step import Outcome
from assets_core.workspace import Workspace


def write_events(project: Project, day: str, counts: list[int]) -> None:
    rows = "".join(f"{day}-{i},{n}\n" for i, n in enumerate(counts))
    project.write_file(f"{project.package}/data/events/{day}.csv", "event_id,n\n" + rows)


def partitioned(project: Project) -> Workspace:
    project.write("pipeline", PARTITIONED)
    for number, day in enumerate(PARTITIONED_DAYS, start=1):
        write_events(project, day, [number, number, -1])  # the -1 row is cleaned away: each day sums to 2*number
    return project.workspace()


def materialize(ws: Workspace, partitions: PartitionRange | None = None, workers: int = 1) -> RunSummary:
    keys, waiting = planned_work(ws.plan(partitions=partitions))
    return run(ws, keys, workers=workers, waiting=waiting)


def value(ws: Workspace, key: str) -> Any:
    head = ws.store.heads([key])[key]
    path = ws.objects.fetch(head.location, head.data_version)
    return pd.read_parquet(path) if path.suffix == ".parquet" else json.loads(path.read_bytes())


def c(day: str) -> str:
    return f"clean/partition={day}"


def r(day: str) -> str:
    return f"rolling/partition={day}"


def test_a_backfill_after_one_days_source_changed_rebuilds_only_that_days_cone(project: Project) -> None:
    ws = partitioned(project)
    first = materialize(ws)
    assert first.counts()["built"] == 11 and not first.failed  # 5 clean + 5 rolling + model
    assert not ws.plan().stale

    write_events(project, "2026-01-02", [50, -1])
    ws = project.workspace()
    planned = ws.plan(partitions=PartitionRange("2026-01-01", "2026-01-05"))
    cone = {c("2026-01-02"), r("2026-01-02"), r("2026-01-03"), r("2026-01-04"), "model"}
    assert {s.key for s in planned.stale} == cone
    (changed,) = [s for s in planned.stale if s.key == c("2026-01-02")]
    assert [(x.kind, x.input) for x in changed.causes] == [(CauseKind.DATA, "events/partition=2026-01-02")]

    backfill = materialize(ws, PartitionRange("2026-01-01", "2026-01-05"))
    assert {x.key for x in backfill.results if x.outcome is Outcome.BUILT} == cone
    assert len(backfill.results) == len(cone)  # nothing else was even looked at
    assert not ws.plan().stale
    assert value(ws, "model") == {
        "2026-01-01": 2,
        "2026-01-02": 52,
        "2026-01-03": 58,
        "2026-01-04": 64,
        "2026-01-05": 24,
    }


def test_early_cutoff_and_restore_are_per_partition(sqlite_project: Project) -> None:
    ws = partitioned(sqlite_project)
    assert not materialize(ws).failed
    write_events(sqlite_project, "2026-01-03", [3, 3, -1, -5])  # one more row that cleaning drops
    outcomes = {x.key: x.outcome for x in materialize(sqlite_project.workspace()).results}
    assert outcomes == {
        c("2026-01-03"): Outcome.BUILT,  # same output as before
        r("2026-01-03"): Outcome.FRESH,  # early cutoff: its input's data version did not change
        r("2026-01-04"): Outcome.FRESH,
        r("2026-01-05"): Outcome.FRESH,
        "model": Outcome.FRESH,
    }
    write_events(sqlite_project, "2026-01-03", [3, 3, -1])  # the file as it was
    outcomes = {x.key: x.outcome for x in materialize(sqlite_project.workspace()).results}
    downstream = {r("2026-01-03"), r("2026-01-04"), r("2026-01-05"), "model"}
    assert outcomes == {c("2026-01-03"): Outcome.RESTORED, **dict.fromkeys(downstream, Outcome.FRESH)}
    assert not sqlite_project.workspace().plan().stale


def test_inputs_come_as_one_value_a_window_table_or_a_dict_and_outputs_are_stored_per_partition(
    sqlite_project: Project,
) -> None:
    ws = partitioned(sqlite_project)
    assert not materialize(ws).failed
    clean = value(ws, c("2026-01-03"))
    assert list(clean["day"]) == ["2026-01-03"] * 2 and list(clean["n"]) == [3, 3]  # identity: that day only
    rolling = value(ws, r("2026-01-03"))
    assert rolling.to_dict("records") == [{"as_of": "2026-01-03", "days": 3, "n": 12}]  # 2+4+6, one table
    assert value(ws, r("2026-01-01")).to_dict("records") == [{"as_of": "2026-01-01", "days": 1, "n": 2}]
    assert value(ws, "model")["2026-01-05"] == 8 + 10 + 6  # a dict of every day's window
    head = ws.store.heads([r("2026-01-03")])[r("2026-01-03")]
    assert head.location.startswith("rolling/partition=2026-01-03/")
    assert (ws.settings.resolved_storage_root / "rolling" / "partition=2026-01-03").is_dir()


def test_one_partition_builds_it_and_what_reads_it_among_the_selection(sqlite_project: Project) -> None:
    ws = partitioned(sqlite_project)
    summary = materialize(ws, PartitionRange.one("2026-01-04"))
    assert [x.key for x in summary.results] == [c("2026-01-04"), r("2026-01-04"), "model"]
    outcomes = {x.key: x.outcome for x in summary.results}
    assert outcomes[c("2026-01-04")] is Outcome.BUILT
    assert outcomes[r("2026-01-04")] is Outcome.FAILED  # it reads days 2 and 3 too, never built: no data
    assert outcomes["model"] is Outcome.SKIPPED

    assert not materialize(ws).failed
    write_events(sqlite_project, "2026-01-03", [30])
    ws = sqlite_project.workspace()
    (waits,) = [x for x in materialize(ws, PartitionRange.one("2026-01-04")).results if x.key == r("2026-01-04")]
    assert waits.outcome is Outcome.WAITING  # day 3, stale, is outside the range it reads
    assert waits.message == (
        "waiting on stale upstream 'clean/partition=2026-01-03' (not selected); "
        "select +rolling over partitions including it"
    )


def test_a_range_builds_exactly_the_range_and_the_unpartitioned_assets_reading_it(sqlite_project: Project) -> None:
    ws = partitioned(sqlite_project)
    keys = ws.scope("clean+", PartitionRange("2026-01-02", "2026-01-03"))
    assert keys == {c("2026-01-02"), c("2026-01-03"), r("2026-01-02"), r("2026-01-03"), "model"}
    assert ws.scope("rolling", PartitionRange(None, "2026-01-02")) == {r("2026-01-01"), r("2026-01-02")}


@pytest.mark.parametrize(
    ("first", "last", "select", "message"),
    [
        (
            "2026-02-30",
            "2026-02-30",
            None,
            "unknown partition key '2026-02-30' for the selected assets; 'clean' has "
            "2026-01-01..2026-01-05 (5 partitions)",
        ),
        ("2026-01-04", "2026-01-02", None, "--from 2026-01-04 comes after --to 2026-01-02; swap them"),
        ("2026-01-02", "2026-01-02", "model", "--partition/--from/--to given, but no selected asset is partitioned"),
    ],
)
def test_partition_options_that_name_nothing_fail_in_one_line(
    sqlite_project: Project, first: str, last: str, select: str | None, message: str
) -> None:
    ws = partitioned(sqlite_project)
    with pytest.raises(SelectionError) as raised:
        ws.plan(select, partitions=PartitionRange(first, last))
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_partition_key_outside_a_partitioned_step_says_so() -> None:
    with pytest.raises(DefinitionError, match="outside an asset being materialized"):
        partition_key()


@pytest.mark.slow
def test_workers_build_partitions_at_the_runs_now(sqlite_project: Project) -> None:
    """Open-ended days: a worker expanding at its own clock would give the model every day since, unbuilt."""
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import all_partitions, asset, daily_partitions, partition_key

        days = daily_partitions("2026-01-01")

        @asset(partitions=days)
        def day() -> int:
            return int(partition_key()[-2:])

        @asset(partition_mapping={"day": all_partitions()})
        def total(day: dict) -> int:
            return sum(day.values())
        """,
    )
    ws = Workspace.load(sqlite_project.module(), sqlite_project.settings(), now=dt.datetime(2026, 1, 4, tzinfo=dt.UTC))
    summary = materialize(ws, workers=2)
    assert not summary.failed and summary.counts()["built"] == 4
    assert value(ws, "total") == 1 + 2 + 3


@pytest.mark.slow
def test_the_cli_plans_per_asset_and_backfills_a_range(sqlite_project: Project) -> None:
    partitioned(sqlite_project)
    module = sqlite_project.module()
    sqlite_project.cli("materialize", "-m", module, check=True)
    write_events(sqlite_project, "2026-01-05", [9])
    shown = sqlite_project.cli("plan", "-m", module, check=True).stdout.splitlines()
    assert shown[1].split()[:5] == ["clean", "STALE", "1", "of", "5"] and "2026-01-05" in shown[1]
    assert "DATA: 'events' changed (1)" in shown[1]
    assert "UPSTREAM: 'clean' is stale (1)" in shown[2]
    data = json.loads(sqlite_project.cli("plan", "-m", module, "--json", "--stale", check=True).stdout)
    assert [(a["asset"], a["partition"]) for a in data["assets"]] == [
        ("clean", "2026-01-05"),
        ("rolling", "2026-01-05"),
        ("model", None),
    ]
    assert data["summary"][0] == {
        "asset": "clean",
        "partitioned": True,
        "planned": 5,
        "stale": 1,
        "stale_ranges": ["2026-01-05"],
        "waiting": 0,
        "causes": [{"kind": "DATA", "reason": "'events' changed", "partitions": 1}],
    }
    done = sqlite_project.cli("materialize", "-m", module, "--from", "2026-01-05", "--select", "clean+", "--json")
    assert done.returncode == 0, done.stderr
    assert [x["key"] for x in json.loads(done.stdout)["results"]] == [c("2026-01-05"), r("2026-01-05"), "model"]
    wrong = sqlite_project.cli("materialize", "-m", module, "--partition", "2026-01-01", "--to", "2026-01-02")
    assert wrong.returncode == 2 and wrong.stderr == "error: give either --partition KEY or --from/--to, not both\n"


@pytest.fixture
def lakeplan(sqlite_project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``lakeplan ARGS`` in this process, in the project: (exit code, stdout, stderr)."""
    from assets_core.cli.main import main

    monkeypatch.chdir(sqlite_project.root)
    for name, setting in sqlite_project.env().items():
        if name.startswith("LAKEPLAN_"):
            monkeypatch.setenv(name, setting)

    def call(*args: str) -> tuple[int, str, str]:
        code = main([*args[:1], "-m", sqlite_project.module(), *args[1:]])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_history_lineage_and_diff_of_one_partition(sqlite_project: Project, lakeplan: Any) -> None:
    partitioned(sqlite_project)
    assert lakeplan("materialize", "-q")[0] == 0
    write_events(sqlite_project, "2026-01-02", [7])
    assert lakeplan("materialize", "-q", "--partition", "2026-01-02", "--select", "clean")[0] == 0
    assert json.loads(lakeplan("runs", "--json")[1])["runs"][0]["selection"] == "clean --partition 2026-01-02"

    code, out, _ = lakeplan("history", "clean", "--partition", "2026-01-02")
    table = [line for line in out.splitlines() if line and "printed output: lakeplan logs" not in line]
    assert code == 0 and len(table) == 3  # header, the rebuild (current) and the first build
    assert out.count("printed output: lakeplan logs clean/partition=2026-01-02 --run") == 2  # both printed
    assert table[1].startswith("*") and lakeplan("history", c("2026-01-02"))[1] == out

    code, out, _ = lakeplan("logs", "clean", "--partition", "2026-01-02")
    assert code == 0 and "cleaning 2026-01-02" in out

    code, out, _ = lakeplan("lineage", "rolling", "--partition", "2026-01-03")
    assert code == 0
    assert all(f"events/partition=2026-01-0{d}" in out for d in (1, 2, 3)) and "2026-01-04" not in out

    code, out, _ = lakeplan("diff", "latest~1", "latest", "--asset", "clean", "--partition", "2026-01-02")
    assert code == 0 and "rows           2 -> 1 (-1)" in out and "input events/partition=2026-01-02" in out

    first = json.loads(lakeplan("history", "clean", "--partition", "2026-01-02", "--json")[1])["materializations"][-1]
    code, out, _ = lakeplan("rollback", "clean", "--partition", "2026-01-02", "--to", str(first["id"]))
    # the rolled-back version was built from the old file, so it and the days reading it plan stale again
    assert code == 0 and f"now stale: {r('2026-01-02')}, {r('2026-01-03')}, {r('2026-01-04')}, model;" in out

    code, _, err = lakeplan("history", "clean")
    assert code == 2 and err == "error: 'clean' is partitioned; name one partition with --partition 2026-01-01\n"
    code, _, err = lakeplan("history", "model", "--partition", "2026-01-01")
    assert code == 2 and "'model' is not a partitioned asset; drop --partition" in err


def test_assets_lists_which_partitions_exist(sqlite_project: Project, lakeplan: Any) -> None:
    partitioned(sqlite_project)
    rows = json.loads(lakeplan("assets", "--json")[1])["assets"]
    assert {r["key"]: r["partitions"] for r in rows} == {
        "events": "2026-01-01..2026-01-05 (5 partitions)",
        "clean": "2026-01-01..2026-01-05 (5 partitions)",
        "rolling": "2026-01-01..2026-01-05 (5 partitions)",
        "model": None,
    }
    assert "PARTITIONS" in lakeplan("assets")[1].splitlines()[0]


def test_the_graph_view_counts_stale_partitions_per_asset(sqlite_project: Project, lakeplan: Any) -> None:
    partitioned(sqlite_project)
    assert lakeplan("materialize", "-q", "--partition", "2026-01-01", "--select", "clean,rolling")[0] == 0
    out_file = sqlite_project.root / "graph.html"
    code, _, _ = lakeplan("graph", "--html", "-o", str(out_file))
    page = out_file.read_text()
    assert code == 0 and "MISSING: never materialized in 4 of 5 partitions" in page
    assert "4 of 5 partitions stale" in page.split("<svg", 1)[1].split("</svg>", 1)[0]  # drawn under the key
    strip = '"cells": [["2026-01-01", "fresh", "2026-01-01: fresh"], ["2026-01-02", "missing", "2026-01-02: missing"]'
    assert page.count(strip) == 2  # clean and rolling: one cell per partition in the details panel
    assert "clean/partition=" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]  # one node per asset


def test_two_dimensional_sources_and_a_key_of_one_dimension(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import asset, daily_partitions, multi_partitions, source_asset, static_partitions

        days = daily_partitions("2026-01-01", end="2026-01-03")
        grid = multi_partitions(date=days, region=static_partitions(["DE", "FR"]))
        sales = source_asset("sales", path="data/{region}/{date}.json", partitions=grid)

        @asset(partitions=grid)
        def cleaned(sales: list) -> list:
            return sorted(sales)

        @asset(partitions=days)
        def per_day(cleaned: dict) -> dict:
            return {key: len(rows) for key, rows in cleaned.items()}
        """,
    )
    for day in ("2026-01-01", "2026-01-02"):
        for n, region in enumerate(("DE", "FR"), start=1):
            sqlite_project.write_file(f"{sqlite_project.package}/data/{region}/{day}.json", json.dumps([0] * n))
    ws = sqlite_project.workspace()
    fr = {"cleaned/date=2026-01-01/region=FR", "cleaned/date=2026-01-02/region=FR"}
    days_reading_fr = {"per_day/partition=2026-01-01", "per_day/partition=2026-01-02"}  # not partitioned by region
    assert ws.scope(None, PartitionRange.one("FR")) == fr | days_reading_fr
    assert ws.scope("cleaned", PartitionRange.one("FR")) == fr
    assert ws.scope("cleaned", PartitionRange.one("2026-01-02|FR")) == {"cleaned/date=2026-01-02/region=FR"}
    assert not materialize(ws).failed
    assert value(ws, "per_day/partition=2026-01-02") == {"2026-01-02|DE": 1, "2026-01-02|FR": 2}


@pytest.mark.slow
def test_the_example_on_lakefs_stores_per_partition_and_rebuilds_one_changed_days_cone(
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Each source partition is its own object in the repository; outputs land at assets/ASSET/partition=KEY."""
    events = REPO / "examples" / "partitioned" / "data" / "events"
    for file in sorted(events.glob("*.csv")):
        lakefs_target.put(f"examples/partitioned/data/events/{file.name}", file.read_bytes(), file.name)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")},
        "LAKEPLAN_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "LAKEPLAN_STORAGE_ROOT": str(tmp_path / "storage"),
        "LAKEPLAN_LAKEFS_ENDPOINT": lakefs_target.endpoint,
        "LAKEPLAN_LAKEFS_REPOSITORY": lakefs_target.repository,
        "LAKEPLAN_LAKEFS_BRANCH": "main",
    }

    def lakeplan(*args: str) -> Any:
        command = [sys.executable, "-m", "assets_core", *args, "-m", "examples.partitioned.pipeline", "--json"]
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert lakeplan("materialize")["counts"]["built"] == 29
    assert lakefs_target.branch().object("assets/clean_events/partition=2026-01-05.parquet").exists()
    changed = (events / "2026-01-05.csv").read_bytes() + b"20260105-999,7,purchase,120.0\n"
    lakefs_target.put("examples/partitioned/data/events/2026-01-05.csv", changed, "one more purchase")
    stale = [(a["asset"], a["partition"]) for a in lakeplan("plan", "--stale")["assets"]]
    cone = [("clean_events", "2026-01-05"), *(("rolling_7d", f"2026-01-{d:02}") for d in range(5, 12)), ("model", None)]
    assert stale == cone
    rebuilt = lakeplan("materialize")["results"]
    assert {r["key"] for r in rebuilt if r["outcome"] == "built"} == {
        f"{asset}/partition={day}" if day else asset for asset, day in cone
    }


@needs_browser
def test_the_html_view_draws_a_strip_of_partitions(
    sqlite_project: Project,
    lakeplan: Any,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    partitioned(sqlite_project)
    assert lakeplan("materialize", "-q", "--from", "2026-01-01", "--to", "2026-01-02", "--select", "clean")[0] == 0
    page = sqlite_project.root / "graph.html"
    assert lakeplan("graph", "--html", "-o", str(page))[0] == 0
    browser.open(page.as_uri())
    _click_node(browser, "clean")
    assert browser.problems() == []
    cells = browser.evaluate("[...document.querySelectorAll('#lp-strip span')].map((s) => s.title)")
    assert cells == [
        "2026-01-01: fresh",
        "2026-01-02: fresh",
        "2026-01-03: missing",
        "2026-01-04: missing",
        "2026-01-05: missing",
    ]
    assert "Partitions: 3 of 5 stale" in browser.evaluate("document.getElementById('lp-details').innerText")


CHECKED = (
    PARTITIONED
    + """

from assets_core import CheckResult, asset_check


@asset_check(asset="clean", blocking=True, code_version="VERSION")
def small_counts(clean: pd.DataFrame) -> CheckResult:
    big = int((clean["n"] >= 100).sum())
    return CheckResult(passed=big == 0, metadata={"big": big, "day": clean["day"].iloc[0]})
"""
)


def test_a_blocking_check_runs_per_partition_and_stops_only_that_partitions_cone(
    sqlite_project: Project, lakeplan: Any
) -> None:
    """A check on a partitioned asset runs after each partition is built, on that partition's value, and is
    recorded under the partition's key; a blocking failure keeps that partition (and only what reads it)
    from being built, while the other days go on."""
    partitioned(sqlite_project)
    sqlite_project.write("pipeline", CHECKED.replace("VERSION", "1"))
    write_events(sqlite_project, "2026-01-03", [500, 1])
    ws = sqlite_project.workspace()
    summary = materialize(ws)
    outcomes = {x.key: x.outcome for x in summary.results}
    assert outcomes[c("2026-01-03")] is Outcome.FAILED
    (failed,) = [x.message for x in summary.results if x.outcome is Outcome.FAILED]
    assert "blocking check 'small_counts' failed (big=1 day=\"2026-01-03\")" in failed
    skipped = {k for k, o in outcomes.items() if o is Outcome.SKIPPED}
    assert skipped == {r("2026-01-03"), r("2026-01-04"), r("2026-01-05"), "model"}  # the window of 3 reads day 3
    built = {k for k, o in outcomes.items() if o is Outcome.BUILT}
    assert built == {*(c(d) for d in PARTITIONED_DAYS if d != "2026-01-03"), r("2026-01-01"), r("2026-01-02")}
    assert c("2026-01-03") not in ws.store.heads([c("2026-01-03")])

    heads = ws.store.heads([c(d) for d in PARTITIONED_DAYS])
    recorded = ws.store.check_results({k: h.data_version for k, h in heads.items()})
    assert {k: [(x.check_name, x.passed, x.metadata["day"]) for x in v] for k, v in recorded.items()} == {
        c(d): [("small_counts", True, d)] for d in PARTITIONED_DAYS if d != "2026-01-03"
    }

    code, shown, _ = lakeplan("plan")
    assert code == 0
    (row,) = [line for line in shown.splitlines() if line.startswith("clean ")]
    assert "small_counts 4/4 passed" in row  # the partitions that have a current version
    code, out, _ = lakeplan("check", "clean")
    assert code == 0 and "clean: 4 partitions checked, 0 failed" in out and "small_counts  yes       4/4 passed" in out

    write_events(sqlite_project, "2026-01-03", [3, 1])
    again = materialize(sqlite_project.workspace())
    assert not again.failed and {x.key for x in again.results if x.outcome is Outcome.BUILT} == {
        c("2026-01-03"),
        r("2026-01-03"),
        r("2026-01-04"),
        r("2026-01-05"),
        "model",
    }
    code, shown, _ = lakeplan("plan", "--json")
    (clean,) = [a for a in json.loads(shown)["summary"] if a["asset"] == "clean"]
    assert clean["checks"] == [
        {
            "check": "small_counts",
            "blocking": True,
            "partitions": 5,
            "passed": 5,
            "failed": 0,
            "to_run": 0,
            "failed_ranges": [],
        }
    ]
    per_partition = [a for a in json.loads(shown)["assets"] if a["asset"] == "clean"]
    assert [(a["partition"], a["checks"][0]["passed"], a["checks"][0]["current"]) for a in per_partition] == [
        (d, True, True) for d in PARTITIONED_DAYS
    ]


def test_a_changed_check_re_checks_each_partition_without_rebuilding(sqlite_project: Project, lakeplan: Any) -> None:
    partitioned(sqlite_project)
    sqlite_project.write("pipeline", CHECKED.replace("VERSION", "1"))
    assert not materialize(sqlite_project.workspace()).failed
    sqlite_project.write("pipeline", CHECKED.replace("VERSION", "2"))
    ws = sqlite_project.workspace()
    stale = ws.plan().stale
    assert {s.key for s in stale if s.checks_only} == {c(d) for d in PARTITIONED_DAYS}  # a blocking check is owed:
    assert len(stale) == 11  # what reads them waits, as for an unpartitioned asset
    code, shown, _ = lakeplan("plan")
    (row,) = [line for line in shown.splitlines() if line.startswith("clean ")]
    assert "small_counts 0/5 passed, 5 to run" in row and "CHECK: check 'small_counts' changed: 1 -> 2 (5)" in row
    again = materialize(ws)
    outcomes = [x.outcome for x in again.results]
    assert outcomes.count(Outcome.CHECKED) == 5 and outcomes.count(Outcome.FRESH) == 6  # nothing rebuilt
    assert not sqlite_project.workspace().plan().stale

    code, out, _ = lakeplan("check", "clean", "--partition", "2026-01-02")
    assert code == 0 and "clean: 1 partitions checked" in out
    assert sqlite_project.workspace().store.runs(limit=1)[0].selection == "check clean --partition 2026-01-02"
    code, out, _ = lakeplan("check", "clean", "--json")
    data = json.loads(out)
    assert code == 0 and [p["partition"] for p in data["partitions"]] == list(PARTITIONED_DAYS)
    assert {x["asset"] for x in data["checks"]} == {c(d) for d in PARTITIONED_DAYS}


def test_the_example_rebuilds_exactly_the_cone_of_one_changed_day(tmp_path: Path) -> None:
    """The closing note's demonstration, as a user runs it on a copy of examples/partitioned: build it all,
    change one day's source file, plan names that day's cone and why, materialize rebuilds only that cone."""
    root = tmp_path / "demo"
    shutil.copytree(
        REPO / "examples" / "partitioned",
        root / "examples" / "partitioned",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "examples" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text('[tool.lakeplan]\nmodule = "examples.partitioned.pipeline"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}

    def lakeplan(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "assets_core", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = json.loads(lakeplan("materialize", "--json"))
    assert first["counts"]["built"] == 29  # 14 days of clean_events and rolling_7d, and the model
    with (root / "examples/partitioned/data/events/2026-01-05.csv").open("a") as day:
        day.write("20260105-999,7,purchase,120.0\n")

    shown = lakeplan("plan").splitlines()
    assert [line.split()[:6] for line in shown[1:4]] == [
        ["clean_events", "STALE", "1", "of", "14", "stale"],
        ["rolling_7d", "STALE", "7", "of", "14", "stale"],
        ["model", "STALE", "-", "-", "-", "UPSTREAM:"],  # no partitions, no stale keys, no checks
    ]
    assert "2026-01-05 " in shown[1] and "DATA: 'events' changed (1)" in shown[1]
    assert "2026-01-05..2026-01-11" in shown[2] and "UPSTREAM: 'clean_events' is stale (7)" in shown[2]
    assert shown[-1] == "3 assets, 29 asset-partitions: 9 stale, 20 fresh"
    stale = json.loads(lakeplan("plan", "--json", "--stale"))["assets"]
    cone = [
        "clean_events/partition=2026-01-05",
        *(f"rolling_7d/partition=2026-01-{d:02}" for d in range(5, 12)),
        "model",
    ]
    assert [a["key"] for a in stale] == cone
    assert stale[0]["causes"][0]["kind"] == "DATA" and stale[0]["causes"][0]["input"] == "events/partition=2026-01-05"

    rebuilt = json.loads(lakeplan("materialize", "--json"))
    assert [(r["key"], r["outcome"]) for r in rebuilt["results"]] == [(key, "built") for key in cone]
    assert rebuilt["counts"]["built"] == 9
    assert lakeplan("plan").splitlines()[-1] == "3 assets, 29 asset-partitions: 0 stale, 29 fresh"

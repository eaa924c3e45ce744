"""Part 8: materialize runs only stale steps, cuts off early, restores memoized outputs, isolates failures
and records provenance; on SQLite and on PostgreSQL (the ``project`` fixture is parametrized)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import Project

from assets_core.executor import RunSummary, planned_work, run
from assets_core.records import MaterializationKind, RunStatus
from assets_core.step import Outcome
from assets_core.workspace import Workspace

# a -> b -> c ; a -> d (an independent branch) ; every call is logged to CALLS
PIPELINE = """
from pathlib import Path
from assets_core import add_metadata, asset

CALLS = Path({calls!r})


def log(name):
    with CALLS.open("a") as f:
        f.write(name + "\\n")


@asset(code_version={a_version!r})
def a() -> dict:
    log("a")
    return {{"value": {a_value}}}


@asset
def b(a: dict) -> list:
    log("b")
    {b_body}
    return [a["value"], 2]


@asset
def c(b: list) -> int:
    log("c")
    add_metadata(note="from c")
    return sum(b)


@asset
def d(a: dict) -> str:
    log("d")
    return "d" * a["value"]
"""


class Pipeline:
    """Writes PIPELINE with edits and reads back which assets actually ran."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.calls = project.root / "calls.log"

    def write(self, a_version: str = "1", a_value: int = 1, b_body: str = "pass") -> Workspace:
        self.project.write(
            "pipeline", PIPELINE.format(calls=str(self.calls), a_version=a_version, a_value=a_value, b_body=b_body)
        )
        return self.project.workspace()

    def ran(self) -> list[str]:
        """Assets called since the last look."""
        names = self.calls.read_text().split() if self.calls.exists() else []
        self.calls.unlink(missing_ok=True)
        return names


def materialize(ws: Workspace, *, force: bool = False, workers: int = 1, selection: str | None = None) -> RunSummary:
    """What ``lakeplan materialize`` does: plan, then run the stale (or, forced, all selected) steps."""
    keys, waiting = planned_work(ws.plan(selection), force)
    return run(ws, keys, selection=selection or "*", force=force, workers=workers, waiting=waiting)


def outcomes(summary: RunSummary) -> dict[str, str]:
    return {r.key: r.outcome.value for r in summary.results}


def test_first_run_builds_all_then_nothing_is_stale(project: Project) -> None:
    p = Pipeline(project)
    ws = p.write()
    summary = materialize(ws)
    assert outcomes(summary) == {"a": "built", "b": "built", "c": "built", "d": "built"}
    assert sorted(p.ran()) == ["a", "b", "c", "d"]
    assert not summary.failed
    assert ws.plan().counts() == {"assets": 4, "fresh": 4, "stale": 0, "waiting": 0}
    again = materialize(p.write())
    assert again.results == [] and p.ran() == []
    record = ws.store.run(summary.run_id)
    assert record is not None and record.status is RunStatus.SUCCESS and record.counts["built"] == 4


def test_only_stale_assets_run(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write())
    p.ran()
    ws = p.write(b_body="x = 1")  # b's code changes; its output does not
    assert [s.key for s in ws.plan().stale] == ["b", "c"]
    summary = materialize(ws)
    assert p.ran() == ["b"]  # early cutoff: b came out identical, so c was not recomputed
    assert outcomes(summary) == {"b": "built", "c": "fresh"}


def test_early_cutoff_after_an_unchanged_rebuild(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write())
    p.ran()
    ws = p.write(a_version="2")  # new code version, same output
    assert {s.key for s in ws.plan().stale} == {"a", "b", "c", "d"}
    summary = materialize(ws)
    assert p.ran() == ["a"]
    assert outcomes(summary) == {"a": "built", "b": "fresh", "d": "fresh", "c": "fresh"}
    assert ws.plan().counts()["stale"] == 0


def test_changed_output_rebuilds_downstream(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write())
    p.ran()
    ws = p.write(a_version="2", a_value=3)
    summary = materialize(ws)
    assert sorted(p.ran()) == ["a", "b", "c", "d"]
    assert set(outcomes(summary).values()) == {"built"}


def test_memoized_restore_reuses_an_identical_earlier_output(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write(a_version="1", a_value=1))
    first_a = p.write().store.heads()["a"]
    materialize(p.write(a_version="2", a_value=5))
    p.ran()
    ws = p.write(a_version="1", a_value=1)  # back to the first recipe
    summary = materialize(ws)
    assert outcomes(summary)["a"] == "restored"
    assert "a" not in p.ran()
    head = ws.store.heads()["a"]
    assert (head.data_version, head.location) == (first_a.data_version, first_a.location)
    newest = ws.store.history("a")[0]
    assert newest.kind is MaterializationKind.RESTORED and newest.metadata["restored_from"] == first_a.id
    assert ws.plan().counts()["stale"] == 0


def test_force_rebuilds_fresh_assets(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write())
    p.ran()
    ws = p.write()
    summary = materialize(ws, force=True, selection="b+")
    assert outcomes(summary) == {"b": "built", "c": "built"}
    assert p.ran() == ["b", "c"]


def test_an_input_whose_output_is_gone_fails_only_its_reader(project: Project) -> None:
    p = Pipeline(project)
    materialize(p.write())
    p.ran()
    ws = p.write()
    ws.objects.path(ws.store.heads()["a"].location).unlink()  # a's output deleted behind lakeplan's back
    summary = materialize(ws, force=True, selection="b,d")  # a is not selected, so it is not rebuilt
    assert outcomes(summary) == {"b": "failed", "d": "failed"}  # each reader fails; the run is not aborted
    assert "cannot read inputs: stored output a/" in summary.results[0].message
    assert [(s.key, s.causes[0].kind.value) for s in ws.plan("a").stale] == [("a", "MISSING")]


def test_failure_is_recorded_downstream_skipped_and_other_branches_finish(project: Project) -> None:
    p = Pipeline(project)
    ws = p.write(b_body='raise ValueError("bad row")')
    summary = materialize(ws)
    assert outcomes(summary) == {"a": "built", "b": "failed", "d": "built", "c": "skipped"}
    assert summary.failed
    failed = next(r for r in summary.results if r.key == "b")
    assert failed.message.startswith(f"ValueError: bad row ({project.package}/pipeline.py:")
    skipped = next(r for r in summary.results if r.key == "c")
    assert skipped.message == "upstream 'b' failed"
    (record,) = ws.store.history("b")
    assert record.kind is MaterializationKind.FAILED and record.error == failed.message
    assert record.input_versions == {"a": ws.store.heads()["a"].data_version}
    assert set(ws.store.heads()) == {"a", "d"}
    assert ws.store.run(summary.run_id).status is RunStatus.FAILED  # type: ignore[union-attr]
    result = project.cli("materialize", "-m", project.module())
    assert result.returncode == 1
    assert "failed b: ValueError: bad row" in result.stderr


RETRY = """
from pathlib import Path
from assets_core import asset

COUNTER = Path({counter!r})


@asset(retries={retries})
def flaky() -> int:
    n = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(n))
    if n < 3:
        raise ConnectionError(f"attempt {{n}}")
    return n
"""


def test_retries_as_declared(project: Project) -> None:
    counter = project.root / "counter"
    project.write("pipeline", RETRY.format(counter=str(counter), retries=2))
    ws = project.workspace()
    (result,) = materialize(ws).results
    assert (result.outcome, result.attempts) == (Outcome.BUILT, 3)
    assert ws.store.history("flaky")[0].metadata["attempts"] == 3


def test_too_few_retries_fail(project: Project) -> None:
    counter = project.root / "counter"
    project.write("pipeline", RETRY.format(counter=str(counter), retries=1))
    ws = project.workspace()
    (result,) = materialize(ws).results
    assert result.outcome is Outcome.FAILED
    assert result.message.startswith("ConnectionError: attempt 2")
    assert counter.read_text() == "2"


def test_workers_give_the_same_result_as_in_process(project: Project, tmp_path: Path) -> None:
    p = Pipeline(project)
    parallel = materialize(p.write(), workers=2)  # on this test's database (SQLite or PostgreSQL)
    assert sorted(p.ran()) == ["a", "b", "c", "d"]
    heads_parallel = {k: (h.data_version, h.code_version) for k, h in p.write().store.heads().items()}
    in_process_project = Project(project.root, f"sqlite:///{tmp_path / 'in_process.db'}", project.package)
    in_process = materialize(in_process_project.workspace())
    heads_in_process = {
        k: (h.data_version, h.code_version) for k, h in in_process_project.workspace().store.heads().items()
    }
    assert outcomes(parallel) == outcomes(in_process)
    assert heads_parallel == heads_in_process


def test_workers_isolate_failures_too(project: Project) -> None:
    p = Pipeline(project)
    summary = materialize(p.write(b_body='raise ValueError("bad row")'), workers=2)
    assert outcomes(summary) == {"a": "built", "b": "failed", "c": "skipped", "d": "built"}


def test_provenance_is_recorded(project: Project) -> None:
    p = Pipeline(project)
    ws = p.write()
    summary = materialize(ws)
    heads = ws.store.heads()
    (c,) = ws.store.history("c")
    assert c.kind is MaterializationKind.BUILT
    assert c.run_id == summary.run_id
    assert c.code_version == ws.code_version("c").version
    assert c.code_components == ws.code_version("c").components
    assert c.input_versions == {"b": heads["b"].data_version}
    assert c.data_version == heads["c"].data_version
    assert c.location == f"c/{c.data_version}.json"
    stored = ws.settings.resolved_storage_root / c.location
    assert stored.read_text() == "3"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == c.data_version
    assert 0 < c.started_at <= c.finished_at
    assert c.metadata["note"] == "from c"  # add_metadata from user code
    assert c.metadata["bytes"] == 1 and c.metadata["attempts"] == 1
    (b,) = ws.store.history("b")
    assert b.input_versions == {"a": heads["a"].data_version}
    assert b.metadata["length"] == 2
    (a,) = ws.store.history("a")
    assert a.code_version == "1" and a.input_versions == {}


def test_table_provenance_has_rows_and_schema(project: Project) -> None:
    project.write(
        "pipeline",
        """
        import pandas as pd
        from assets_core import asset

        @asset
        def table() -> pd.DataFrame:
            return pd.DataFrame({"id": [1, 2, 3], "amount": [1.0, 2.0, 3.5]})
        """,
    )
    ws = project.workspace()
    materialize(ws)
    (m,) = ws.store.history("table")
    assert m.metadata["rows"] == 3
    assert m.metadata["columns"] == {"id": "int64", "amount": "double"}
    assert m.location.endswith(".parquet")


def test_source_change_rebuilds_from_the_source(project: Project) -> None:
    project.write_file("data/in.csv", "x\n1\n2\n")
    project.write(
        "pipeline",
        """
        import pandas as pd
        from assets_core import asset, source_asset

        raw = source_asset("raw", path="../data/in.csv")

        @asset
        def total(raw: pd.DataFrame) -> int:
            return int(raw["x"].sum())
        """,
    )
    ws = project.workspace()
    materialize(ws)
    assert ws.store.history("total")[0].input_versions.keys() == {"raw"}
    project.write_file("data/in.csv", "x\n1\n5\n")
    ws = project.workspace()
    (status,) = ws.plan().stale
    assert [(c.kind.value, c.input) for c in status.causes] == [("DATA", "raw")]
    materialize(ws)
    path = ws.settings.resolved_storage_root / ws.store.heads()["total"].location
    assert path.read_text() == "6"

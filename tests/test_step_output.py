"""What an asset's code prints is captured into its attempt's log (assets_core/step_log.py): stdout stays
lakeplan's own, so ``materialize --json`` parses, and ``lakeplan logs`` shows the output, failed attempts and
dead workers included, bounded and with secrets masked."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Project
from sample_pipelines import NUMBERS, TWO_ASSETS

from assets_core.cli.progress import Progress
from assets_core.executor import run
from assets_core.step import Outcome, materialize
from assets_core.step_log import MAX_LOG_BYTES, Captured, captured, read_log, to_terminal

SECRET = "hunter2-s3cret"

# Every way an asset writes: Python print to both streams, descriptor writes as C code does them, a
# subprocess, logging, and C's printf (buffered: it comes out when the capture ends); then a failing asset
# that printed first, and a quiet one.
PRINTING = f"""
import ctypes, logging, os, subprocess, sys
from assets_core import asset

@asset
def chatty() -> int:
    print("1 print to stdout")
    print("2 print to stderr", file=sys.stderr)
    os.write(1, b"3 fd 1\\n")
    os.write(2, b"4 fd 2\\n")
    subprocess.run([sys.executable, "-c", "print('5 from a subprocess')"], check=True)
    logging.getLogger("user").warning("6 connecting to postgresql://etl:{SECRET}@db/x?password={SECRET}")
    ctypes.CDLL(None).printf(b"7 C printf\\n")
    return 1

@asset
def broken(chatty: int) -> int:
    print("about to fail")
    raise ValueError("boom")

@asset
def quiet() -> int:
    return 2
"""

IN_ORDER = ["1 print to stdout", "2 print to stderr", "3 fd 1", "4 fd 2", "5 from a subprocess", "6 connecting", "7 C"]
C_BUFFERED = {"PYTHONUNBUFFERED": ""}  # as outside this test environment: C's stdout fully buffered in a file


def _positions(text: str) -> list[int]:
    return [text.index(marker) for marker in IN_ORDER]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_json_stays_parseable_and_logs_show_everything(sqlite_project: Project, workers: str) -> None:
    sqlite_project.write("pipeline", PRINTING)
    module = sqlite_project.module()
    done = sqlite_project.cli("materialize", "-m", module, "--json", "--workers", workers, env=C_BUFFERED)
    summary = json.loads(done.stdout)  # nothing the assets printed is on stdout
    outcomes = {r["key"]: r["outcome"] for r in summary["results"]}
    assert outcomes == {"chatty": "built", "broken": "failed", "quiet": "built"}, done.stderr
    assert "print to" not in done.stderr, "with --json, the output is recorded, not echoed"

    shown = sqlite_project.cli("logs", "-m", module, "chatty", check=True)
    assert sorted(_positions(shown.stdout)) == _positions(shown.stdout), shown.stdout
    assert shown.stderr.startswith("chatty #") and f", built in run {summary['run_id']} at " in shown.stderr
    failed = sqlite_project.cli("logs", "-m", module, "broken", "--run", summary["run_id"], check=True)
    assert failed.stdout == "about to fail\n"
    assert "failed in run" in failed.stderr and "ValueError: boom" in failed.stderr
    nothing = sqlite_project.cli("logs", "-m", module, "quiet", check=True)
    assert (nothing.stdout, nothing.stderr.splitlines()[-1]) == ("", "(it printed nothing)")


def test_secrets_in_printed_output_are_masked_in_every_view(project: Project) -> None:
    """On SQLite and PostgreSQL: the log column holds the masked text, and no view shows the secret."""
    project.write("pipeline", PRINTING)
    module = project.module()
    echoed = project.cli("materialize", "-m", module)
    assert "    | 6 connecting to postgresql://etl:***@db/x?password=***" in echoed.stderr
    views = [echoed, project.cli("logs", "-m", module, "chatty"), project.cli("logs", "-m", module, "chatty", "--json")]
    assert all(SECRET not in v.stdout + v.stderr for v in views)
    stored = project.workspace().store.attempts("chatty")[0].log
    assert stored is not None and SECRET not in stored and "etl:***@db" in stored


def test_materialize_echoes_the_output_and_points_at_the_log_of_a_failure(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PRINTING)
    module = sqlite_project.module()
    done = sqlite_project.cli("materialize", "-m", module)
    assert done.stdout.startswith("run ") and "about to fail" not in done.stdout
    lines = done.stderr.splitlines()
    assert lines[lines.index(next(x for x in lines if "failed    broken" in x)) + 1] == "    | about to fail"
    run_id = done.stdout.split()[1].rstrip(":")
    assert f"    its output: lakeplan logs broken --run {run_id}" in lines
    shown = sqlite_project.cli("runs", "-m", module, run_id, check=True)
    assert f"    its output: lakeplan logs broken --run {run_id}" in shown.stdout.splitlines()
    assert "lakeplan logs chatty" not in shown.stdout, "only failures point at their output"


def test_a_dead_workers_output_is_kept_with_its_failure(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        import os
        from assets_core import asset

        @asset
        def dies() -> int:
            print("last words", flush=True)
            os.write(2, b"fd last words\\n")
            os._exit(7)

        @asset
        def lives() -> int:
            print("alive")
            return 1
        """,
    )
    module = sqlite_project.module()
    done = sqlite_project.cli("materialize", "-m", module, "--workers", "2", "--json")
    results = {r["key"]: r for r in json.loads(done.stdout)["results"]}
    assert results["dies"]["message"] == "worker process died (exit code 7) while materializing it"
    shown = sqlite_project.cli("logs", "-m", module, "dies", check=True)
    assert shown.stdout == "last words\nfd last words\n"
    assert sqlite_project.cli("logs", "-m", module, "lives", check=True).stdout == "alive\n"


def test_long_output_keeps_its_end_and_says_what_was_dropped(sqlite_project: Project) -> None:
    sqlite_project.write(
        "pipeline",
        """
        from assets_core import asset

        @asset
        def loud() -> int:
            for i in range(20_000):
                print(f"line {i:05d} é")
            return 1
        """,
    )
    ws = sqlite_project.workspace()
    result = materialize(ws, "loud", "run-1")
    log = ws.store.attempts("loud")[0].log
    assert result.outcome is Outcome.BUILT and log == result.log and log is not None
    total = sum(len(f"line {i:05d} é\n".encode()) for i in range(20_000))
    first, rest = log.split("\n", 1)
    dropped = int(first.removeprefix("[... ").removesuffix(" bytes earlier dropped]"))
    assert dropped + len(rest.encode()) == total  # cut at a line start: every byte accounted for
    assert rest.startswith("line ") and rest.endswith("line 19999 é\n")
    assert len(rest.encode()) <= MAX_LOG_BYTES


def test_progress_lines_from_another_thread_go_around_the_capture(
    sqlite_project: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    """In-process, the ticker writes to descriptor 2 while the asset's output is captured from it."""
    sqlite_project.write(
        "pipeline",
        """
        import time
        from assets_core import asset

        @asset
        def slow() -> int:
            print("working")
            time.sleep(0.8)
            return 1
        """,
    )
    ws = sqlite_project.workspace()
    # What sys.stderr is in a terminal: a stream on descriptor 2 (pytest's own sys.stderr is not).
    with open(2, "w", closefd=False) as stderr, Progress(out=stderr, interval=0.2) as progress:
        summary = run(ws, ["slow"], on_result=progress.finished, on_start=progress.started)
    assert summary.results[0].log == "working\n", "the ticker's lines are not the asset's output"
    err = capfd.readouterr().err
    assert err.count("... still running: slow") >= 2, err
    assert "    | working" in err


def test_descriptors_and_streams_are_restored_after_ctrl_c(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    streams = sys.stdout, sys.stderr
    output = Captured()
    with pytest.raises(KeyboardInterrupt), captured(output, tmp_path / "step.log"):
        print("before ctrl-c")
        os.write(2, b"fd before ctrl-c\n")
        raise KeyboardInterrupt
    assert (sys.stdout, sys.stderr) == streams
    os.write(1, b"back on stdout\n")
    to_terminal("a line of lakeplan's", sys.stderr)
    out, err = capfd.readouterr()
    assert (out, err) == ("back on stdout\n", "a line of lakeplan's\n")
    assert output.text == "before ctrl-c\nfd before ctrl-c\n" == read_log(tmp_path / "step.log")
    assert read_log(tmp_path / "never-written.log") is None


def test_a_stream_kept_past_the_step_writes_where_the_descriptor_points_then() -> None:
    """A logging handler made inside an asset keeps its sys.stderr: later writes must not hit a closed
    or reused descriptor, and land in the next step's log when one is running."""
    first, second = Captured(), Captured()
    with captured(first):
        kept = sys.stderr
    with captured(second):
        print("from the next step", file=kept)
    assert (first.text, second.text) == ("", "from the next step\n")


def test_logs_errors_are_one_line(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PRINTING)
    module = sqlite_project.module()
    never = sqlite_project.cli("logs", "-m", module, "chatty")
    assert never.returncode == 2 and never.stderr.startswith("error: 'chatty' has no attempt recorded")
    sqlite_project.cli("materialize", "-m", module, "--select", "quiet")
    cases = {
        ("chaty",): "error: unknown asset 'chaty'; did you mean 'chatty'?\n",
        ("quiet", "--run", "nope"): "error: no run 'nope'; run 'lakeplan runs' to list them\n",
        ("chatty", "--run", "latest"): "error: 'chatty' has no attempt in run ",
    }
    for args, expected in cases.items():
        done = sqlite_project.cli("logs", "-m", module, *args)
        assert (done.returncode, done.stdout) == (2, ""), args
        assert done.stderr.startswith(expected) and done.stderr.count("\n") == 1, done.stderr


def test_logs_help_teaches() -> None:
    from assets_core.cli.main import build_parser

    out = io.StringIO()
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command")  # type: ignore[union-attr]
    sub.choices["logs"].print_help(out)  # type: ignore[union-attr]
    text = out.getvalue()
    assert "--run RUN" in text and "lakeplan logs churn_model --run latest" in text and "64 KiB" in text


def test_the_argo_pod_keeps_one_json_line_and_shows_the_output_in_its_log(sqlite_project: Project) -> None:
    """``lakeplan step`` (the pod's command): stdout is the one JSON line Argo's outputs read; the asset's
    output is recorded and written to stderr, which the pod's log (``argo logs``) shows too."""
    sqlite_project.write("pipeline", PRINTING)
    module = sqlite_project.module()
    done = sqlite_project.cli("step", "-m", module, "--asset", "chatty", "--run-id", "wf-1", check=True, env=C_BUFFERED)
    [line] = done.stdout.splitlines()
    assert json.loads(line)["outcome"] == "built"
    assert sorted(_positions(done.stderr)) == _positions(done.stderr), done.stderr
    shown = sqlite_project.cli("logs", "-m", module, "chatty", "--run", "wf-1", "--json", check=True)
    [attempt] = json.loads(shown.stdout)["attempts"]
    assert attempt["run_id"] == "wf-1" and attempt["log"].startswith("1 print to stdout\n2 print to stderr\n")


def test_a_process_started_with_stdout_closed_keeps_it_closed() -> None:
    """A daemon may run lakeplan with descriptor 1 closed: the capture still works, and leaves it closed."""
    code = """if True:
        import os, sys
        from assets_core.step_log import Captured, captured
        os.close(1)
        output = Captured()
        with captured(output):
            print("python")
            os.write(2, b"fd 2\\n")
        try:
            os.write(1, b"x")
            state = "open"
        except OSError:
            state = "closed"
        sys.stderr.write(f"{output.text!r} {state}")
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (0, "'python\\nfd 2\\n' closed")


def test_an_attempt_whose_code_never_ran_has_no_log_to_show(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", NUMBERS)  # its source file raw.json does not exist
    module = sqlite_project.module()
    failed = sqlite_project.cli("materialize", "-m", module, "--select", "numbers")
    assert "source 'raw' has no data" in failed.stderr
    done = sqlite_project.cli("logs", "-m", module, "numbers")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("error: no output was kept for 'numbers' #1 (run ") and done.stderr.count("\n") == 1
    data = json.loads(sqlite_project.cli("logs", "-m", module, "numbers", "--json", check=True).stdout)
    assert [a["log"] for a in data["attempts"]] == [None]


def test_a_module_printing_as_it_is_imported_keeps_json_parseable(sqlite_project: Project) -> None:
    """The user's module is imported by plan, by materialize and by each worker: what it prints then (and
    what C code writes to descriptor 1) goes to stderr."""
    sqlite_project.write("pipeline", 'import os\nprint("importing")\nos.write(1, b"fd importing\\n")\n' + TWO_ASSETS)
    module = sqlite_project.module()
    for args in (("plan", "--json"), ("materialize", "--json", "--workers", "2")):
        done = sqlite_project.cli(*args, "-m", module, check=True)
        assert json.loads(done.stdout)["schema"].startswith("lakeplan."), done.stdout
        assert "importing\nfd importing\n" in done.stderr
    assert done.stderr.count("fd importing") == 3, "the parent and each of the 2 workers import it"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_timed_out_attempt_keeps_what_it_printed(sqlite_project: Project, workers: str) -> None:
    sqlite_project.write(
        "pipeline",
        """
        import time
        from assets_core import asset

        @asset(timeout=1)
        def hangs() -> int:
            print("started, now hanging", flush=True)
            time.sleep(30)
            return 1

        @asset
        def other() -> int:
            return 2
        """,
    )
    module = sqlite_project.module()
    done = sqlite_project.cli("materialize", "-m", module, "--json", "--workers", workers)
    [failed] = [r for r in json.loads(done.stdout)["results"] if r["key"] == "hangs"]
    assert failed["message"].startswith("timed out after 1s"), failed
    shown = sqlite_project.cli("logs", "-m", module, "hangs", check=True)
    assert shown.stdout == "started, now hanging\n"

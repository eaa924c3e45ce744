"""Fault trials: issue 12's eight findings re-run the way its reviewer ran them, the figures behind the
"Issue 12, re-run" table of docs/reliability.md.

Each trial drives real ``lakeplan`` subprocesses in a temporary project (SQLite, and PostgreSQL at
127.0.0.1:5432 in a fresh schema when a server answers), injects the fault and measures the outcome.
Prints a markdown table (fault | how injected | trials | measured outcome | holds) and the machine's
load average at the start and the end; progress goes to stderr. Every process it starts is killed
(by its session) and every schema and directory it makes is removed, pass or fail.

    .venv/bin/python benchmarks/fault_trials.py                   # all eight, 6 kills per backend
    .venv/bin/python benchmarks/fault_trials.py --kills 10 --only orphans timeouts
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the user pipelines the tests share
from sample_pipelines import HUNG, ORPHANS, TWO_ASSETS  # noqa: E402

PG_ADMIN_URL = os.environ.get("LAKEPLAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRETS = {
    "database password": "PLANTED-db-pass-5e1f",
    "lakeFS secret key": "PLANTED-lakefs-secret-c3d4",
    "Argo token": "PLANTED-argo-token-77b1",
    "AWS secret key": "PLANTED-aws-secret-0a77",
}


@dataclass
class Row:
    """One line of the table: a finding of issue 12 and what the trials measured."""

    fault: str
    how: str
    trials: int
    outcome: str
    holds: bool


def note(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- projects, stores, processes ---------------------------------------------------------------


@dataclass
class Project:
    """A throwaway project: ``pipeline.py`` and ``pyproject.toml`` in a directory, one store URL."""

    root: Path
    url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
        env.update(PYTHONPATH=str(REPO), LAKEPLAN_DATABASE_URL=self.url, LAKEPLAN_RETRY_BACKOFF_SECONDS="0")
        env.update(extra)
        return env

    def start(self, *args: str, **extra: str) -> subprocess.Popen[str]:
        """``lakeplan ARGS`` in its own session, so it and every process it starts can be killed at once."""
        return subprocess.Popen(
            [sys.executable, "-m", "assets_core", *args],
            cwd=self.root,
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = self.start(*args, **extra)
        try:
            out, err = proc.communicate(timeout=180)
        finally:
            kill_session(proc)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        engine = sa.create_engine(self.url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


def kill_session(proc: subprocess.Popen[str]) -> None:
    """SIGKILL every process left in ``proc``'s session (it leads its own) and reap ``proc``."""
    for pid in session_members(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def session_members(sid: int) -> set[int]:
    """Live (non-zombie) processes of session ``sid``."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:  # state, ppid, pgrp, session
            members.add(int(entry.name))
    return members


def postgres_available() -> bool:
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@contextlib.contextmanager
def project(workdir: Path, backend: str, source: str, **query: str) -> Iterator[Project]:
    """A project on ``backend`` ("sqlite" or "postgres", then in a fresh schema dropped afterwards);
    ``query`` adds parameters to the PostgreSQL URL (an application name, a planted password)."""
    root = Path(tempfile.mkdtemp(prefix=f"{backend}-", dir=workdir))
    (root / "pyproject.toml").write_text('[project]\nname = "trial"\nversion = "0"\n\n[tool.lakeplan]\n')
    (root / "pipeline.py").write_text(textwrap.dedent(source))
    if backend == "sqlite":
        yield Project(root, f"sqlite:///{root / '.lakeplan' / 'lakeplan.db'}")
        return
    schema = f"lp_fault_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_ADMIN_URL).set(drivername="postgresql")
    url = url.update_query_dict({"options": f"-csearch_path={schema}", **query})
    try:
        yield Project(root, url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def error_lines(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code and how many lines stderr had (argparse's usage lines counted apart from its error line)."""
    lines = result.stderr.strip().splitlines()
    usage = len(lines) - 1 if lines and lines[0].startswith("usage:") else 0
    shown = f"exit {result.returncode}, {len(lines) - usage} line{'s' * (len(lines) - usage != 1)}"
    return shown + (f" after argparse's {usage}-line usage" if usage else "")


def one_error_line(result: subprocess.CompletedProcess[str]) -> bool:
    """One ``error:`` line on stderr (after argparse's usage, if any), no traceback."""
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in result.stderr


# -- 1. secrets --------------------------------------------------------------------------------

SECRETS_PIPELINE = """
import logging
import os

from assets_core import asset


@asset(resources={"cpu": "1", "memory": "1Gi"})
def table() -> list[int]:
    logging.getLogger("etl").warning("connecting to %s", os.environ["LAKEPLAN_DATABASE_URL"])
    print("store is", os.environ["LAKEPLAN_DATABASE_URL"])
    return [1, 2, 3]


@asset
def total(table: list[int]) -> int:
    return sum(table)


@asset
def broken(table: list[int]) -> int:
    raise ValueError(f"cannot reach {os.environ['LAKEPLAN_DATABASE_URL']}")
"""


def secrets(workdir: Path, backends: list[str], kills: int) -> Row:
    forms = {"userinfo": None, "?password=": "password", "?sslpassword=": "sslpassword"}
    leaks: list[str] = []
    artefacts = 0
    commands = 0
    for form, parameter in forms.items():
        backend = "postgres" if "postgres" in backends else "sqlite"
        query = {parameter: SECRETS["database password"]} if parameter else {}
        with project(workdir, backend, SECRETS_PIPELINE, **query) as p:
            if parameter is None and backend == "postgres":
                p.url = p.url.replace("postgres@", f"postgres:{SECRETS['database password']}@", 1)
            note(f"secrets: {form}")
            (p.root / "pyproject.toml").write_text(
                "[tool.lakeplan.argo]\n"
                f'host = "https://ci:{SECRETS["Argo token"]}@argo.example:2746/?token={SECRETS["Argo token"]}"\n'
            )
            env = {
                "LAKEFS_SECRET_ACCESS_KEY": SECRETS["lakeFS secret key"],
                "LAKEPLAN_ARGO_TOKEN": SECRETS["Argo token"],
                "AWS_SECRET_ACCESS_KEY": SECRETS["AWS secret key"],
                "LAKEPLAN_ARGO_IMAGE": "registry.example/trial:1",
                "LAKEPLAN_STORAGE_ROOT": str(p.root / "storage"),
            }
            unreachable = p.url.replace("5432", "1") if backend == "postgres" else f"sqlite:///{p.root}"
            runs = [
                ("materialize", "-m", "pipeline.py"),
                ("materialize", "-m", "pipeline.py", "--json", "--force", "-w", "2"),
                ("plan", "-m", "pipeline.py", "--json"),
                ("runs", "-m", "pipeline.py", "--json"),
                ("history", "total", "-m", "pipeline.py", "--json"),
                ("logs", "table", "-m", "pipeline.py"),
                ("logs", "broken", "-m", "pipeline.py", "--json"),
                ("graph", "--html", "-o", "graph.html", "-m", "pipeline.py"),
                ("compile", "-m", "pipeline.py", "--all"),
                ("compile", "-m", "pipeline.py", "--all", "--template"),
            ]
            texts = {" ".join(args): _output(p.run(*args, **env)) for args in runs}
            texts["--debug plan, store unreachable"] = _output(
                p.run("--debug", "plan", "-m", "pipeline.py", **{**env, "LAKEPLAN_DATABASE_URL": unreachable})
            )
            commands += len(texts)
            if "kind: Workflow" not in texts["compile -m pipeline.py --all"]:
                raise RuntimeError(f"compile failed: {texts['compile -m pipeline.py --all'][-2000:]}")
            for path in p.root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts and path.name != "pyproject.toml":
                    texts[f"file {path.relative_to(p.root)}"] = path.read_bytes().decode("latin-1")
            tables = [r[0] for r in p.query(_TABLES_SQL[backend])]
            for table in tables:
                texts[f"table {table}"] = "\n".join(map(repr, p.query(f'SELECT * FROM "{table}"')))
            if "argo.example" not in texts.get("table lp_runs", ""):
                raise RuntimeError("the run's settings were not recorded: nothing to search")
            artefacts += len(texts)
            leaks += [
                f"{name} in {where} ({form})" for where, t in texts.items() for name, v in SECRETS.items() if v in t
            ]
    outcome = (
        f"{len(forms)} database URL forms x {commands // len(forms)} commands; artefacts searched: {artefacts} "
        f"(stdout+stderr of each command, every file incl. the SQLite db/WAL, storage, logs, graph.html, "
        f"compiled Workflow/WorkflowTemplate YAML, every store table incl. `lp_runs.environment`); "
        f"occurrences of the {len(SECRETS)} secrets: {len(leaks)}" + (f" — {'; '.join(leaks)}" if leaks else "")
    )
    return Row(
        "1. secrets in every form",
        "DB password as userinfo, `?password=`, `?sslpassword=` (PostgreSQL); `LAKEFS_SECRET_ACCESS_KEY`, "
        "`LAKEPLAN_ARGO_TOKEN`, `AWS_SECRET_ACCESS_KEY`; an Argo host with `ci:TOKEN@` and `?token=`; an asset "
        "that logs, prints and raises the database URL",
        commands,
        outcome,
        not leaks,
    )


_TABLES_SQL = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgres": "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
}


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


# -- 2. orphan workers -------------------------------------------------------------------------


def orphans(workdir: Path, backends: list[str], kills: int) -> Row:
    per_backend: list[str] = []
    trials, orphaned, leftover_connections = 0, 0, 0
    for backend in backends:
        alive_at_5, connections_before, connections_at_5, gone_after = [], [], [], []
        for i in range(kills):
            app = f"lp_fault_{uuid.uuid4().hex[:8]}"
            with project(workdir, backend, ORPHANS, application_name=app) as p:
                pids = p.root / "pids"
                pids.mkdir()
                parent = p.start("materialize", "-m", "pipeline.py", "-w", "2", PIDS=str(pids))
                try:
                    wait_for(functools.partial(_holds_files, pids, 2), 90, "both workers to start")
                    children = session_members(parent.pid) - {parent.pid}
                    if backend == "postgres":
                        connections_before.append(_connections(app))
                    parent.kill()
                    parent.wait()
                    killed = time.monotonic()
                    while session_members(parent.pid) and time.monotonic() - killed < 5:
                        time.sleep(0.05)
                    gone_after.append(time.monotonic() - killed)
                    time.sleep(max(0.0, 5 - (time.monotonic() - killed)))
                    alive_at_5.append(len(session_members(parent.pid)))
                    if backend == "postgres":
                        connections_at_5.append(_connections(app))
                finally:
                    kill_session(parent)
            note(f"orphans: {backend} trial {i + 1}: children {len(children)}, alive at 5 s {alive_at_5[-1]}")
        trials += kills
        orphaned += sum(alive_at_5)
        leftover_connections += sum(connections_at_5)
        figure = (
            f"{backend}: processes alive 5 s after the kill: {sum(alive_at_5)} in {kills} trials "
            f"(all gone after {min(gone_after):.1f}-{max(gone_after):.1f} s)"
        )
        if backend == "postgres":
            figure += (
                f"; the run's connections just before the kill {min(connections_before)}-{max(connections_before)}, "
                f"left at 5 s (pg_stat_activity): {sum(connections_at_5)}"
            )
        per_backend.append(figure)
    return Row(
        "2. orphan workers",
        "`materialize -w 2` of two assets that sleep 120 s; SIGKILL of the parent once both workers run; "
        "its session's processes (workers, resource tracker) and the run's PostgreSQL sessions "
        "(by `application_name`) counted 5 s later",
        trials,
        "; ".join(per_backend),
        orphaned == 0 and leftover_connections == 0,
    )


def _holds_files(folder: Path, count: int) -> bool:
    return len(list(folder.iterdir())) >= count


def _connections(application_name: str) -> int:
    engine = sa.create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"
            return int(conn.execute(sa.text(sql), {"a": application_name}).scalar() or 0)
    finally:
        engine.dispose()


# -- 3. timeouts -------------------------------------------------------------------------------


def timeouts(workdir: Path, backends: list[str], kills: int) -> Row:
    figures, failures, second_waits, ok = [], [], [], True
    trials = 0
    for backend in backends:
        for workers in ("1", "2"):
            with project(workdir, backend, HUNG.format(timeout="2s", retries=0)) as p:
                marker = p.root / "attempts"  # written by the asset as it starts, before it sleeps
                first = p.start("materialize", "-m", "pipeline.py", "-w", workers, "--json")
                try:
                    wait_for(marker.exists, 90, "the hung asset to start")
                    entered = time.monotonic()
                    second = p.start("materialize", "-m", "pipeline.py", "--select", "hung", "--json", HANG="no")
                    out, err = first.communicate(timeout=120)
                    failed_after = time.monotonic() - entered
                    out2, _ = second.communicate(timeout=120)
                    second_after = time.monotonic() - entered
                finally:
                    kill_session(first)
                    with contextlib.suppress(NameError):
                        kill_session(second)
                counts = json.loads(out)["counts"]
                built_by_second = json.loads(out2)["counts"]["built"]
                claims = p.query("SELECT count(*) FROM lp_claims")[0][0]
                good = (
                    first.returncode == 1
                    and "timed out after 2s" in out + err
                    and counts["built"] == 1
                    and counts["skipped"] == 1
                    and built_by_second == 1
                    and claims == 0
                )
                ok &= good
                trials += 1
                failures.append(failed_after)
                second_waits.append(second_after)
                note(f"timeouts: {backend} -w {workers}: first ended {failed_after:.1f} s, second {second_after:.1f} s")
                figures.append(
                    f"{backend} -w {workers}: exit {first.returncode}, "
                    f"{'`timed out after 2s`' if 'timed out after 2s' in out + err else 'NO timeout message'}, "
                    f"independent built {counts['built']}, downstream skipped {counts['skipped']}, "
                    f"second run built it: {'yes' if built_by_second == 1 else 'NO'}, claims left {claims}"
                )
    outcome = (
        f"first run ended {min(failures):.1f}-{max(failures):.1f} s after the asset started; the second run, "
        f"started then, finished with the asset built {min(second_waits):.1f}-{max(second_waits):.1f} s after it. "
        + "; ".join(figures)
    )
    return Row(
        "3. hung asset",
        '`@asset(timeout="2s")` that sleeps 600 s, an independent asset and a downstream one; '
        "`materialize --json` in-process and `-w 2`; a second run needing it started while it hangs",
        trials,
        outcome,
        ok,
    )


# -- 4. deterministic versions -----------------------------------------------------------------

SET_PIPELINE = """
from assets_core import asset


@asset
def tags() -> set[str]:
    return {f"tag-{i}" for i in range(300)} | {("pair", str(i)) for i in range(20)}


@asset
def index(tags: set) -> dict:
    return {str(t): len(str(t)) for t in tags}


@asset
def count(index: dict) -> int:
    return len(index)
"""


def versions(workdir: Path, backends: list[str], kills: int) -> Row:
    seeds = ["0", "1", "2", "3", "4"]
    with project(workdir, "sqlite", SET_PIPELINE) as p:
        for i, seed in enumerate(seeds):
            note(f"versions: PYTHONHASHSEED={seed}")
            args = ("materialize", "-m", "pipeline.py", "--force", "-w", "2" if i % 2 else "1")
            result = p.run(*args, PYTHONHASHSEED=seed)
            if result.returncode != 0:
                raise RuntimeError(result.stderr)
        rows = p.query(
            "SELECT asset_key, count(DISTINCT data_version) FROM lp_materializations "
            "WHERE kind = 'built' GROUP BY asset_key"
        )
        distinct = {str(key): int(str(n)) for key, n in rows}
        plan = json.loads(p.run("plan", "-m", "pipeline.py", "--json", PYTHONHASHSEED="5").stdout)
    stale = _stale(plan)
    outcome = (
        f"distinct data versions after {len(seeds)} forced builds: tags {distinct['tags']}, index "
        f"{distinct['index']}, count {distinct['count']}; assets planned stale afterwards "
        f"(PYTHONHASHSEED=5): {stale}"
    )
    return Row(
        "4. values holding sets",
        "a set of 320 strings and tuples, a dict built by iterating it, a count; `materialize --force` in 5 "
        "processes with `PYTHONHASHSEED` 0-4, alternating in-process and `-w 2`",
        len(seeds),
        outcome,
        set(distinct.values()) == {1} and stale == 0,
    )


def _stale(plan: Any) -> int:
    """Assets a ``plan --json`` document does not call fresh."""
    return sum(1 for entry in plan["assets"] if entry["status"] != "FRESH")


# -- 5. captured output ------------------------------------------------------------------------

LOUD_PIPELINE = """
import os
import subprocess
import sys

from assets_core import asset


@asset
def loud() -> int:
    print("LOUD-print-stdout")
    print("LOUD-print-stderr", file=sys.stderr)
    os.write(1, b"LOUD-fd1\\n")
    os.write(2, b"LOUD-fd2\\n")
    subprocess.run(["echo", "LOUD-subprocess"], check=True)
    return 1


@asset
def quiet(loud: int) -> int:
    return loud + 1
"""


def output(workdir: Path, backends: list[str], kills: int) -> Row:
    parsed, shown, trials = 0, [], 0
    for backend in backends:
        for workers in ("1", "2"):
            with project(workdir, backend, LOUD_PIPELINE) as p:
                note(f"output: {backend} -w {workers}")
                result = p.run("materialize", "-m", "pipeline.py", "--json", "-w", workers)
                try:
                    json.loads(result.stdout)
                    parsed += 1
                except json.JSONDecodeError:
                    pass
                logs = p.run("logs", "loud", "-m", "pipeline.py").stdout
                shown.append(
                    sum(f"LOUD-{w}" in logs for w in ("print-stdout", "print-stderr", "fd1", "fd2", "subprocess"))
                )
                trials += 1
    return Row(
        "5. assets that print",
        "an asset writing with `print` (stdout, stderr), `os.write(1/2)` and a subprocess; "
        "`materialize --json` in-process and `-w 2`, then `lakeplan logs loud`",
        trials,
        f"`--json` stdout parses: {parsed} of {trials}; writes shown by `lakeplan logs`: "
        f"{', '.join(f'{n}/5' for n in shown)}",
        parsed == trials and set(shown) == {5},
    )


# -- 6, 7. store integrity ---------------------------------------------------------------------


def newer_schema(workdir: Path, backends: list[str], kills: int) -> Row:
    figures, ok = [], True
    for backend in backends:
        with project(workdir, backend, TWO_ASSETS) as p:
            note(f"newer schema: {backend}")
            p.run("materialize", "-m", "pipeline.py")
            (current,) = p.query("SELECT version_num FROM alembic_version")[0]
            newer = f"{int(str(current)) + 97:04d}"
            _execute(p, f"UPDATE alembic_version SET version_num = '{newer}'")
            result = p.run("materialize", "-m", "pipeline.py")
            kept = p.query("SELECT version_num FROM alembic_version")[0][0] == newer
            line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
            good = result.returncode == 3 and len(result.stderr.strip().splitlines()) == 1 and kept
            good &= f"'{newer}'" in line and f"'{current}'" in line and "Traceback" not in result.stderr
            ok &= good
            figures.append(f"{backend}: {error_lines(result)}, names both revisions: {good}, revision kept: {kept}")
    return Row(
        "6. store from a newer lakeplan",
        "`alembic_version` set 97 revisions past this lakeplan's, then `materialize`",
        len(backends),
        "; ".join(figures),
        ok,
    )


def _execute(p: Project, sql: str) -> None:
    engine = sa.create_engine(p.url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def sqlite_files(workdir: Path, backends: list[str], kills: int) -> Row:
    figures, ok = [], True
    for kind in ("zero-byte", "CSV", "foreign SQLite"):
        with project(workdir, "sqlite", TWO_ASSETS) as p:
            note(f"sqlite file: {kind}")
            db = p.root / ".lakeplan" / "lakeplan.db"
            db.parent.mkdir()
            if kind == "zero-byte":
                db.write_bytes(b"")
            elif kind == "CSV":
                db.write_text("orders,total\n1,2\n" * 500)
            else:
                with contextlib.closing(sqlite3.connect(db)) as conn:
                    conn.executescript("CREATE TABLE customers (id); CREATE TABLE invoices (id);")
            before = db.read_bytes()
            result = p.run("materialize", "-m", "pipeline.py")
            built = len(list((p.root / ".lakeplan" / "storage").glob("*/*")))
            untouched = db.read_bytes() == before
            good = result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1 and untouched and not built
            ok &= good and "Traceback" not in result.stderr
            figures.append(f"{kind}: {error_lines(result)}, file unchanged: {untouched}, built {built}")
    copies = []
    for workers in ("1", "2"):
        with project(workdir, "sqlite", TWO_ASSETS) as p:
            note(f"WAL copy: -w {workers}")
            p.run("materialize", "-m", "pipeline.py", "-w", workers)
            p.run("materialize", "-m", "pipeline.py", "--force", "-w", workers)
            db = p.root / ".lakeplan" / "lakeplan.db"
            copy = p.root / "copy.db"
            shutil.copyfile(db, copy)  # the database file only, as a naive `cp` does
            original = (p.query("SELECT count(*) FROM lp_runs")[0][0], _built(p.url))
            with contextlib.closing(sqlite3.connect(copy)) as conn:
                try:
                    copied = (conn.execute("SELECT count(*) FROM lp_runs").fetchone()[0], _built(f"sqlite:///{copy}"))
                except sqlite3.OperationalError:
                    copied = (0, 0)
            ok &= copied == original == (2, 4)
            copies.append(f"-w {workers}: runs {copied[0]}/{original[0]}, materializations {copied[1]}/{original[1]}")
    with project(workdir, "sqlite", TWO_ASSETS) as p:
        note("plan --verify")
        p.run("materialize", "-m", "pipeline.py")
        target = next((p.root / ".lakeplan" / "storage" / "a").iterdir())
        data = bytearray(target.read_bytes())
        data[0] ^= 1
        target.chmod(0o600)
        target.write_bytes(bytes(data))
        plain = p.run("plan", "-m", "pipeline.py", "--json").stdout
        verified = json.loads(p.run("plan", "-m", "pipeline.py", "--verify", "--json").stdout)
        quarantined = len(list((p.root / ".lakeplan" / "storage" / ".quarantine").glob("a__*")))
        found = _stale(verified) == 2 and quarantined == 1 and not target.exists()
        ok &= found
    return Row(
        "7. empty, foreign and half-copied SQLite; corrupted output",
        "`lakeplan.db` replaced by a zero-byte file, 8 KB of CSV, another program's SQLite database, then "
        "`materialize`; two runs, then only `lakeplan.db` copied (no `-wal`) and read; one bit of a stored "
        "output flipped, then `plan` and `plan --verify`",
        3 + len(copies) + 1,
        "; ".join(figures)
        + f". Copy without `-wal` holds (copy/original) {'; '.join(copies)}. Flipped bit: plain `plan` stale "
        f"{_stale(json.loads(plain))} (documented: it only checks existence), `plan --verify` stale "
        f"{_stale(verified)} (the asset MISSING and its downstream), files moved to `.quarantine/`: {quarantined}",
        ok,
    )


def _built(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(sa.text("SELECT count(*) FROM lp_materializations WHERE kind = 'built'")).scalar() or 0
            )
    except sa.exc.OperationalError:
        return 0
    finally:
        engine.dispose()


# -- 8. validated inputs -----------------------------------------------------------------------

BAD_ARGO = {  # asset option -> (the value, text of it that must not reach the manifest)
    "resources": ("resources={'memory': '1Gi\"; rm -rf /'}", "rm -rf"),
    "image": ("image='registry.example/x:1\\nkind: Pod'", "kind: Pod'"),
    "node_selector": ("node_selector={'pool': '{{workflow.name}}'}", "pool: '{{workflow.name}}'"),
}


def bad_inputs(workdir: Path, backends: list[str], kills: int) -> list[Row]:
    cases = [
        ("history a --limit -1", ("history", "a", "-m", "pipeline.py", "--limit", "-1"), {}, None),
        ("runs --limit 0", ("runs", "-m", "pipeline.py", "--limit", "0"), {}, None),
        ("materialize --workers 0", ("materialize", "-m", "pipeline.py", "--workers", "0"), {}, None),
        ("materialize --workers 99999", ("materialize", "-m", "pipeline.py", "--workers", "99999"), {}, None),
        ("LAKEPLAN_WORKERS=99999", ("materialize", "-m", "pipeline.py"), {"LAKEPLAN_WORKERS": "99999"}, None),
        ('fsync = "yes"', ("materialize", "-m", "pipeline.py"), {}, 'fsync = "yes"'),
        ('workers = "4"', ("materialize", "-m", "pipeline.py"), {}, 'workers = "4"'),
    ]
    figures, ok = [], True
    for name, args, env, setting in cases:
        with project(workdir, "sqlite", TWO_ASSETS) as p:
            note(f"bad input: {name}")
            if setting:
                (p.root / "pyproject.toml").write_text(f"[tool.lakeplan]\n{setting}\n")
            result = p.run(*args, **env)
            built = (p.root / ".lakeplan" / "storage").exists()
            good = result.returncode == 2 and one_error_line(result) and not built
            ok &= good
            figures.append(f"`{name}`: {error_lines(result)}{'' if good else ' — NOT refused as one line'}")
    argo = []
    for option, (value, copied) in BAD_ARGO.items():
        source = f"from assets_core import asset\n\n\n@asset({value})\ndef a() -> int:\n    return 1\n"
        with project(workdir, "sqlite", source) as p:
            note(f"bad Argo input: {option}")
            result = p.run("compile", "-m", "pipeline.py", "--all", LAKEPLAN_ARGO_IMAGE="registry.example/t:1")
            if result.returncode != 0:
                argo.append(f"`{option}`: refused, {error_lines(result)}")
            else:
                argo.append(f"`{option}`: ACCEPTED, exit 0, in the YAML: {copied in result.stdout}")
    return [
        Row(
            "8a. numbers out of range, values of the wrong type",
            "`history --limit -1`, `runs --limit 0`, `--workers 0` / `99999`, `LAKEPLAN_WORKERS=99999`, "
            '`fsync = "yes"`, `workers = "4"` in `[tool.lakeplan]`',
            len(cases),
            "; ".join(figures) + "; nothing opened or built in any",
            ok,
        ),
        Row(
            "8b. unvalidated strings in compiled manifests",
            '`compile --all` of an asset with `resources={"memory": \'1Gi"; rm -rf /\'}`, one with '
            '`image="registry.example/x:1\\nkind: Pod"`, one with `node_selector={"pool": "{{workflow.name}}"}`',
            len(argo),
            "; ".join(argo),
            all("ACCEPTED" not in a for a in argo),
        ),
    ]


TRIALS: dict[str, Callable[[Path, list[str], int], Row | list[Row]]] = {
    "secrets": secrets,
    "orphans": orphans,
    "timeouts": timeouts,
    "versions": versions,
    "output": output,
    "newer-schema": newer_schema,
    "sqlite-files": sqlite_files,
    "inputs": bad_inputs,
}


def markdown(rows: list[Row]) -> str:
    lines = ["| Fault | How it is injected | Trials | Outcome (measured) | Holds |", "|---|---|---|---|---|"]
    lines += [f"| {r.fault} | {r.how} | {r.trials} | {r.outcome} | {'yes' if r.holds else '**NO**'} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(TRIALS), default=list(TRIALS))
    parser.add_argument("--kills", type=int, default=6, help="parent kills per backend for 'orphans' (default 6)")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if postgres_available() else ["sqlite"]
    if backends == ["sqlite"]:
        note(f"no PostgreSQL at {PG_ADMIN_URL}: SQLite only")
    load_start, started = os.getloadavg(), time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-fault-trials-"))
    rows: list[Row] = []
    try:
        for name in args.only:
            found = TRIALS[name](workdir, backends, args.kills)
            rows += found if isinstance(found, list) else [found]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load_end = os.getloadavg()
    print(markdown(rows))
    print(
        f"\n{sum(r.trials for r in rows)} trials in {time.monotonic() - started:.0f} s on "
        f"{os.cpu_count()} cores; load average {' '.join(f'{x:.1f}' for x in load_start)} at the start, "
        f"{' '.join(f'{x:.1f}' for x in load_end)} at the end"
    )
    sys.exit(0 if all(r.holds for r in rows) else 1)


if __name__ == "__main__":
    main()

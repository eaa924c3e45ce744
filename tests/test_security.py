"""Part 6 of the hardening issue: storage confinement, pickle trust, and secrets that never leak.

Secrets are planted where users put them (the password in the database URL, the lakeFS secret key and
Argo token in their environment variables, other ``*_SECRET*`` variables); after a full run, a
failed run and an unreachable-database error, every artefact is searched for them: stdout and stderr,
every file in the project (``.lakeplan/`` and storage included) and every row of the metadata store.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from conftest import REPO, Project, _make_project
from hypothesis import example, given, settings
from hypothesis import strategies as st

from argo_compiler import from_yaml
from assets_core.errors import StoreError
from assets_core.keys import validate_key
from assets_core.masking import mask_text, mask_url
from assets_core.schema import materializations
from assets_core.step import Outcome, materialize
from io_managers import LocalObjectStore

SECRETS = {
    "db_password": "PLANTED-db-pass-5e1f",
    "env": "PLANTED-env-secret-91c2",
    "aws": "PLANTED-aws-secret-0a77",
    "lakefs": "PLANTED-lakefs-secret-c3d4",
    "argo": "PLANTED-argo-token-77b1",
}

PIPELINE = """
import os

import pandas as pd

from assets_core import add_metadata, asset


class Model:
    def __init__(self, weight: float) -> None:
        self.weight = weight


@asset
def table() -> pd.DataFrame:
    return pd.DataFrame({"x": [1, 2, 3]})


@asset
def model(table: pd.DataFrame) -> Model:
    add_metadata(rows=len(table))
    return Model(float(table["x"].mean()))


@asset
def score(model: Model) -> float:
    return model.weight * 2


@asset
def broken(table: pd.DataFrame) -> int:
    # The user's own error quotes the store URL (as client libraries quote theirs): masked wherever shown.
    raise ValueError(f"this asset always fails: cannot reach {os.environ['LAKEPLAN_DATABASE_URL']}")
"""


# -- confinement -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}(/[A-Za-z_][A-Za-z0-9_]{0,8}){0,4}", fullmatch=True))
def test_every_valid_key_is_stored_inside_the_root(key: str) -> None:
    import tempfile

    validate_key(key)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalObjectStore(Path(tmp) / "root")
        stored = store.put(key, "json", lambda out: out.write(b"1"))
        path = store.fetch(stored.location, stored.data_version).resolve()
        assert path.is_relative_to(store.root) and path.parent != store.root


@pytest.mark.parametrize(
    "location", ["../outside.pkl", "/etc/passwd", "a/../../outside.pkl", "a/../../../etc/passwd", "", "."]
)
def test_a_stored_location_outside_the_root_is_refused(tmp_path: Path, location: str) -> None:
    store = LocalObjectStore(tmp_path / "root")
    assert not store.exists(location)
    with pytest.raises(StoreError, match="outside the storage root"):
        store.fetch(location, "0" * 64)


def _planted_pickle(marker: Path) -> bytes:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str, ...]]:
            return (exec, (f"open({str(marker)!r}, 'w').write('pwned')",))

    return pickle.dumps(Exploit())


def test_pickle_is_loaded_only_from_the_stores_own_verified_files(sqlite_project: Project) -> None:
    sqlite_project.write("pipeline", PIPELINE)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "+score")
    ws = sqlite_project.workspace()
    head = ws.store.heads(["model"])["model"]
    assert head.location.endswith(".pkl")
    marker = sqlite_project.root / "pwned"
    # 1. The stored file is swapped for a malicious pickle: its hash no longer matches, it is not loaded.
    path = ws.settings.resolved_storage_root / head.location
    path.write_bytes(_planted_pickle(marker))
    swapped = materialize(ws, "score", "run-swap", force=True)
    assert swapped.outcome is Outcome.FAILED and "corrupted" in swapped.message
    assert not path.exists(), "the swapped file must be moved aside, never left where it could be read"
    # 2. The metadata store is edited to point outside the storage root: refused before reading.
    outside = sqlite_project.root / "outside.pkl"
    outside.write_bytes(_planted_pickle(marker))
    with ws.store.engine.begin() as conn:
        conn.execute(
            materializations.update().where(materializations.c.id == head.id).values(location="../outside.pkl")
        )
    with pytest.raises(StoreError, match="outside the storage root"):
        materialize(ws, "score", "run-escape", force=True)
    assert not marker.exists()


# -- secrets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:p@ss/w?rd@h/db", "postgresql://u:***@h/db"),  # unencoded '@', '/', '?' in the password
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u@h/db?sslpassword=p#w", "postgresql://u@h/db?sslpassword=***"),  # '#' is no fragment here
        (
            "https://h/?access_key=a&Secret=b&api_token=c&page=2",
            "https://h/?access_key=***&Secret=***&api_token=***&page=2",
        ),
        ("postgresql://h:54x2/db", "postgresql://h:54x2/db"),  # unparseable port: nothing to hide, kept
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_mask_url_hides_every_form_of_credential(url: str, shown: str) -> None:
    assert mask_url(url) == shown


@settings(max_examples=300, deadline=None)
@example(secret="password", form="password")  # a secret equal to its parameter's name
@example(secret="postgres", form="userinfo")  # a secret that is part of the scheme
@example(secret="0000000<", form="userinfo")  # characters that once ended a URL inside a message
@example(secret='0000000"', form="userinfo")
@given(
    secret=st.text(st.characters(codec="utf-8", exclude_characters="&%"), min_size=8).filter(str.strip),
    form=st.sampled_from(["userinfo", "password", "sslpassword", "token", "secret_access_key"]),
)
def test_no_generated_secret_survives_masking(secret: str, form: str) -> None:
    """Any secret text, raw or percent-encoded, in userinfo or a secret-named query parameter, is gone from the
    masked URL and from a message quoting it."""
    for value in (secret, quote(secret, safe="")):
        if form == "userinfo":
            url = f"postgresql://user:{value}@db.example:5432/lake?sslmode=require"
        else:
            url = f"postgresql://user@db.example:5432/lake?sslmode=require&{form}={value}"
        shown = _without(mask_url(url), f"&{form}=")
        assert value not in shown
        if " " not in value and "'" not in value:
            assert value not in _without(mask_text(f"error: cannot open {url!r}: refused"), f"&{form}=")


def _without(masked: str, *texts: str) -> str:
    """``masked`` without the test's own non-secret text (a secret 'postgres' is in the scheme, not leaked)."""
    for text in (
        *texts,
        "postgresql://",
        "user",
        "db.example:5432/lake?sslmode=require",
        "error: cannot open",
        ": refused",
    ):
        masked = masked.replace(text, "&")  # no generated secret holds "&": nothing new is joined
    return masked


def _store_dump(url: str) -> str:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            rows = [repr(row) for table in tables for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    finally:
        engine.dispose()
    assert rows, "the store is empty: the run did not record anything"
    return "\n".join(rows)


def _all_files(root: Path) -> str:
    texts = []
    for path in root.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.name != "pyproject.toml":
            texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def _secret_database_url(form: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The store URL for one planting form: SQLite (secrets only elsewhere), or PostgreSQL with the
    password as userinfo, as a ``password`` query parameter, or as an ``sslpassword`` one."""
    if form == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'lakeplan.db'}"
    url = sa.make_url(str(request.getfixturevalue("postgres_url"))).set(drivername="postgresql")
    if form == "postgres-userinfo":
        return url.set(password=SECRETS["db_password"]).render_as_string(hide_password=False)
    name = "password" if form == "postgres-query" else "sslpassword"
    return url.update_query_dict({name: SECRETS["db_password"]}).render_as_string(hide_password=False)


def _unreachable(url: str) -> str:
    """The same URL pointing at a server that does not answer (SQLite: a directory, not a file)."""
    return url.replace("5432", "1") if url.startswith("postgresql") else f"sqlite:///{Path(url[10:]).parent}"


@pytest.mark.parametrize(
    "form",
    [
        "sqlite",
        pytest.param("postgres-userinfo", marks=pytest.mark.postgres),
        pytest.param("postgres-query", marks=pytest.mark.postgres),
        pytest.param("postgres-sslpassword", marks=pytest.mark.postgres),
    ],
)
def test_no_secret_reaches_logs_files_or_the_store(tmp_path: Path, request: pytest.FixtureRequest, form: str) -> None:
    """Every artefact of a full local run (outputs of run, failed run, plans, runs/history JSON, the HTML
    page, files, store rows with lp_runs.environment) is searched for each planted secret."""
    secret_url = _secret_database_url(form, tmp_path, request)
    project = _make_project(tmp_path, secret_url)
    project.write("pipeline", PIPELINE)
    # Settings tables are recorded with each run: a URL with credentials and a secret-named key in one.
    (project.root / "pyproject.toml").write_text(
        "[tool.lakeplan.argo]\n"
        f'host = "https://ci:{SECRETS["argo"]}@argo.example:2746/?token={SECRETS["argo"]}&access_key={SECRETS["env"]}"\n'
        f'service_account_token = "{SECRETS["argo"]}"\n'
    )
    env = {
        **project.env(),
        "LAKEPLAN_SECRET_PROBE": SECRETS["env"],
        "AWS_SECRET_ACCESS_KEY": SECRETS["aws"],
        "LAKEFS_SECRET_ACCESS_KEY": SECRETS["lakefs"],
        "LAKEPLAN_ARGO_TOKEN": SECRETS["argo"],
    }

    def lakeplan(*args: str, extra: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "assets_core", *args],
            cwd=project.root,
            env={**env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return result.stdout + result.stderr

    module = ("-m", project.module())
    output = {
        "materialize": lakeplan("materialize", *module),  # 'broken' fails: a failed run is recorded too
        "materialize --json": lakeplan("materialize", *module, "--json", "--force", "--select", "+score"),
        "plan": lakeplan("plan", *module),
        "plan --json": lakeplan("plan", *module, "--json"),
        "runs --json": lakeplan("runs", *module, "--json"),
        "history --json": lakeplan("history", "score", *module, "--json"),
        "graph --html": lakeplan("graph", "--html", "-o", "graph.html", *module),
        "unreachable store, --debug": lakeplan(
            "--debug", "plan", *module, extra={"LAKEPLAN_DATABASE_URL": _unreachable(secret_url)}
        ),
        "invalid store URL": lakeplan(
            "plan", *module, extra={"LAKEPLAN_DATABASE_URL": secret_url.replace("5432", "54x2")}
        ),
    }
    assert "this asset always fails" in output["materialize"], output["materialize"]
    assert '"run_id"' in output["runs --json"] and '"data_version"' in output["history --json"]
    assert "error:" in output["unreachable store, --debug"] and "Traceback" in output["unreachable store, --debug"]
    assert (project.root / "graph.html").is_file(), output["graph --html"]
    artefacts = {
        **output,
        "files under the project (.lakeplan, storage, graph.html)": _all_files(project.root),
        "metadata store rows": _store_dump(secret_url),
    }
    assert "argo.example" in artefacts["metadata store rows"], "the run's settings must be recorded, masked"
    leaks = [
        f"{name} in {where}" for where, text in artefacts.items() for name, value in SECRETS.items() if value in text
    ]
    assert not leaks, leaks


@pytest.mark.postgres
def test_compiled_argo_manifests_hold_no_secret_value(tmp_path: Path, postgres_url: str) -> None:
    """The quickstart's Workflow, WorkflowTemplate and CronWorkflow, compiled in a shell holding every secret:
    the YAML refers to Secrets by name (``secretKeyRef``) and never holds a value."""
    url = sa.make_url(postgres_url).set(drivername="postgresql", password=SECRETS["db_password"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPLAN_")}
    env.update(
        LAKEPLAN_DATABASE_URL=url.render_as_string(hide_password=False),
        LAKEPLAN_STORAGE_ROOT=str(tmp_path / "pvc"),
        LAKEPLAN_ARGO_IMAGE="registry.example/lakeplan-quickstart:1",
        LAKEPLAN_SECRET_PROBE=SECRETS["env"],
        AWS_SECRET_ACCESS_KEY=SECRETS["aws"],
        LAKEFS_SECRET_ACCESS_KEY=SECRETS["lakefs"],
        LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY=SECRETS["lakefs"],
        LAKEPLAN_ARGO_TOKEN=SECRETS["argo"],
    )
    outputs, kinds = [], set()
    for flags in ((), ("--all",), ("--all", "--template"), ("--schedules",)):
        done = subprocess.run(
            [sys.executable, "-m", "assets_core", "compile", "-m", "examples.quickstart.pipeline", *flags],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "secretKeyRef" in done.stdout, flags  # the database URL reaches the pods by reference
        outputs.append(done.stdout + done.stderr)
        kinds.update(doc["kind"] for doc in from_yaml(done.stdout))
    assert kinds == {"Workflow", "WorkflowTemplate", "CronWorkflow"}, kinds
    leaks = [name for name, value in SECRETS.items() for text in outputs if value in text]
    assert not leaks, leaks

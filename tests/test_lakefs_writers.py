"""Many writers on one run branch: 8 ``lakeplan step`` processes (as Argo pods) share one lakeFS run branch.

A real lakeFS commit takes everything staged on the branch, whoever staged it (graveler ``Commit``), so
one step's commit may hold another's object. Here one step is SIGKILLed between its upload and its
commit while its siblings commit (and so take its object); its retry must record the object it wrote
(not report it fresh), and every record, the commits and ``lakeplan sync`` must agree afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lakefs
import pytest
from conftest import Project, _make_project
from test_faults_kill import WRAPPER
from test_lakefs_store import LakeFS, lakefs_target  # noqa: F401 - the fixture

from io_managers.lakefs_store import parse_uri
from io_managers.lakefs_sync import sync

ASSETS = [f"part{i}" for i in range(8)]
PIPELINE = (
    "from assets_core import asset, source_asset\n\nseed = source_asset('seed', path='../data/seed.json')\n"
    + "".join(
        f"\n\n@asset\ndef {key}(seed: dict) -> dict:\n    return {{'part': {i}, 'n': seed['n']}}\n"
        for i, key in enumerate(ASSETS)
    )
)
KILLED = "part3"


@pytest.fixture
def pg_project(tmp_path: Path, postgres_url: str) -> Iterator[Project]:
    """The metadata store an Argo cluster's pods share."""
    yield _make_project(tmp_path, postgres_url)


def _step(project: Project, key: str, run_id: str, killed: bool = False) -> subprocess.Popen[str]:
    args = ["-m", "assets_core"] if not killed else [str(WRAPPER), "lakefs-commit-before", "1"]
    command = [sys.executable, *args, "step", "--asset", key, "--run-id", run_id, "-m", project.module()]
    return subprocess.Popen(command, cwd=project.root, env=project.env(), stdout=subprocess.PIPE, text=True)


def _outcome(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 0, out
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _wave(project: Project, run_id: str) -> dict[str, dict[str, Any]]:
    """Every step of the run in parallel, then the exit handler; the killed step dies before its commit
    and is retried after its siblings committed (they took its staged object)."""
    killed = _step(project, KILLED, run_id, killed=True)
    killed.communicate(timeout=180)
    assert killed.returncode == -9, "the step was not killed between its upload and its commit"
    others = {key: _step(project, key, run_id) for key in ASSETS if key != KILLED}
    outcomes = {key: _outcome(proc) for key, proc in others.items()}
    outcomes[KILLED] = _outcome(_step(project, KILLED, run_id))  # Argo's retry of the killed pod
    project.cli("finish-run", "--run-id", run_id, "--status", "Succeeded", "-m", project.module(), check=True)
    return outcomes


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_parallel_steps_one_killed_between_upload_and_commit(
    pg_project: Project,
    lakefs_target: LakeFS,  # noqa: F811
    tmp_path: Path,
) -> None:
    project, target = pg_project, lakefs_target
    target.configure(project.root)
    project.write("pipeline", PIPELINE)
    repo = lakefs.Repository(target.repository, client=target.client)
    for n in (1, 2):  # the second wave has an earlier version of every asset recorded: FRESH would be wrong
        target.put("data/seed.json", json.dumps({"n": n}).encode(), f"seed {n}")
        outcomes = _wave(project, f"wave-{n}")
        assert {k: o["outcome"] for k, o in outcomes.items()} == dict.fromkeys(ASSETS, "built"), outcomes

        ws = project.workspace()
        heads = ws.store.heads()
        published = {o.path: o for o in repo.ref("main").objects(prefix="assets/", user_metadata=True)}
        seed = repo.ref("main").object("data/seed.json").stat().checksum
        for key in ASSETS:
            head = heads[key]
            assert (head.run_id, head.input_versions) == (f"wave-{n}", {"seed": seed}), key
            parsed = parse_uri(head.location)
            assert parsed is not None
            at_commit = repo.ref(parsed[1]).object(parsed[2]).stat()
            assert at_commit.checksum == head.data_version == published[f"assets/{key}.json"].checksum, key
            value = json.loads(ws.objects.fetch(head.location, head.data_version).read_text())
            assert value == {"part": int(key[4:]), "n": n}, key
        assert not [b for b in repo.branches() if b.id.startswith("lakeplan-run-")]
        ws.store.close()

    # The history alone rebuilds the same records: provenance travels with the objects, not the commits.
    recorded = {k: (h.data_version, h.run_id, h.input_versions) for k, h in project.workspace().store.heads().items()}
    assert sync(project.workspace()).recorded == 0  # nothing missing from the metadata store
    print(_listing(project, repo))
    project.database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert sync(project.workspace()).recorded == 2 * len(ASSETS)
    rebuilt = project.workspace().store.heads()
    assert {k: (h.data_version, h.run_id, h.input_versions) for k, h in rebuilt.items()} == recorded
    for key, head in rebuilt.items():  # each pinned at a commit that holds it
        parsed = parse_uri(head.location)
        assert parsed is not None and repo.ref(parsed[1]).object(parsed[2]).stat().checksum == head.data_version, key


def _listing(project: Project, repo: Any) -> str:
    """The records and the commits of the target's history, for the reader of ``pytest -s``."""
    ws = project.workspace()
    lines = ["records (asset, run, data version, pinned commit):"]
    for key in ASSETS:
        for mat in ws.store.history(key):
            parsed = parse_uri(mat.location or "")
            lines.append(f"  {key} {mat.run_id} {mat.data_version[:12]} {parsed[1][:12] if parsed else '-'}")
    lines.append("commits on main, newest first (id, parents, writer, objects changed):")
    for commit in repo.ref("main").log():
        meta = commit.metadata or {}
        changed = (
            [d.path for d in repo.ref(commit.parents[0]).diff(commit.id, type="two_dot")] if commit.parents else []
        )
        parents = ",".join(p[:8] for p in commit.parents or [])
        lines.append(
            f"  {commit.id[:12]} [{parents}] {meta.get('lakeplan.writer', commit.message)}: {', '.join(changed)}"
        )
    ws.store.close()
    return "\n".join(lines)

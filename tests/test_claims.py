"""Claims: the lease of a held claim is renewed while the holder works, and dropped when released."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import sqlalchemy as sa
from conftest import Project

from assets_core.claims import claimed
from assets_core.metadata_store import MetadataStore


def test_a_held_claim_is_renewed_past_its_first_lease_and_released_after(tmp_path: Path) -> None:
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'c.db'}")
    with claimed(store, "model", "run-1", lease=0.3) as held:
        assert held.waited_for is None
        first = store.held_claims()[0].expires_at
        time.sleep(0.8)  # well past the first lease: only renewals keep it alive
        (claim,) = store.held_claims()
        assert claim.run_id == "run-1" and claim.expires_at > first + 0.2
        assert claim.expires_at > time.time(), "the lease must still be in force while the holder works"
    assert store.held_claims() == []


def test_two_claims_in_one_process_are_both_renewed_and_a_released_one_is_not(tmp_path: Path) -> None:
    store = MetadataStore.open(f"sqlite:///{tmp_path / 'c.db'}")
    with claimed(store, "a", "run-1", lease=0.3):
        with claimed(store, "b", "run-1", lease=0.3):
            time.sleep(0.7)
            assert {c.asset_key for c in store.held_claims() if c.expires_at > time.time()} == {"a", "b"}
        time.sleep(0.5)
        assert [c.asset_key for c in store.held_claims()] == ["a"]


def test_recording_releases_the_claim_in_the_same_transaction(sqlite_project: Project) -> None:
    from assets_core.step import materialize

    sqlite_project.write("pipeline", "from assets_core import asset\n\n@asset\ndef one() -> int:\n    return 1\n")
    ws = sqlite_project.workspace()
    statements: list[str] = []
    sa.event.listen(ws.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert materialize(ws, "one", "run-1").outcome.value == "built"
    assert ws.store.held_claims() == []
    kinds = [" ".join(s.split()[:3]).upper() for s in statements]
    release = kinds.index("DELETE FROM LP_CLAIMS")
    head = max(i for i, k in enumerate(kinds[:release]) if "LP_HEADS" in k)
    assert kinds.count("DELETE FROM LP_CLAIMS") == 1
    assert not any(k.startswith("BEGIN") for k in kinds[head:release]), "released in the record transaction"


VERSIONED = """
from assets_core import asset


@asset
def a() -> int:
    return 1


@asset(code_version="{version}")
def b(a: int) -> int:
    if {version} == 3:
        raise ValueError("version 3 fails")
    return a + {version}
"""


def test_a_step_takes_two_transactions_whether_it_builds_skips_restores_or_fails(project: Project) -> None:
    """Claim (with the reads the step needs) in one transaction, record or release in the other: counted
    with the engine's own events, so an extra read or write per asset shows up here."""
    from assets_core.step import materialize

    runs = itertools.count(1)

    def step(version: int) -> tuple[str, int, list[str]]:
        project.write("pipeline", VERSIONED.format(version=version))
        ws = project.workspace()
        ws.code_version("b")  # computed before counting, as a run does before its first step
        began: list[str] = []
        statements: list[str] = []
        sa.event.listen(ws.store.engine, "begin", lambda _conn: began.append("begin"))
        sa.event.listen(ws.store.engine, "commit", lambda _conn: began.append("commit"))
        sa.event.listen(ws.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        outcome = materialize(ws, "b", f"run-{next(runs)}").outcome.value
        counted = (outcome, began.count("begin"), [s.split()[0].upper() for s in statements if s.split()[0] != "BEGIN"])
        assert began.count("commit") == counted[1], "every transaction commits"
        assert ws.store.held_claims() == [], "every outcome releases the claim"
        ws.store.close()
        return counted

    project.write("pipeline", VERSIONED.format(version=1))
    materialize(project.workspace(), "a", "run-0")
    insert_claim, heads, reusable = "INSERT", "SELECT", "SELECT"
    record = ["INSERT", "INSERT", "DELETE"]  # the materialization, the head, the claim released
    assert step(1) == ("built", 2, [insert_claim, heads, reusable, *record])  # never built: looked anyway
    assert step(1) == ("fresh", 2, [insert_claim, heads, "DELETE"])
    moved = ["INSERT", "UPDATE", "DELETE"]  # the head moves by compare-and-set
    assert step(2) == ("built", 2, [insert_claim, heads, reusable, *moved])  # new code: looked for an earlier output
    assert step(1) == ("restored", 2, [insert_claim, heads, reusable, *moved])
    assert step(3) == ("failed", 2, [insert_claim, heads, reusable, "INSERT", "DELETE"])  # the attempt, the claim

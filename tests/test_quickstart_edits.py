"""Part 10: in a copy of the quickstart, editing a helper, the source CSV or one asset's code makes exactly
the expected assets stale, for the expected reasons."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest
from conftest import REPO, Project

from assets_core.executor import run

CODE, DATA, UPSTREAM = "CODE", "DATA", "UPSTREAM"
ALL = ("orders", "daily_revenue", "customer_features", "churn_model", "model_report")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A materialized copy of examples/quickstart as its own package (built once for this module)."""
    root = tmp_path_factory.mktemp("quickstart")
    package = f"qs_{uuid.uuid4().hex[:8]}"
    shutil.copytree(REPO / "examples" / "quickstart", root / package, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "pyproject.toml").write_text('[project]\nname = "qs"\nversion = "0"\n\n[tool.lakeplan]\n')
    project = Project(root, f"sqlite:///{root / 'state.db'}", package)
    ws = project.workspace()
    summary = run(ws, [s.key for s in ws.plan().stale])
    assert [r.outcome.value for r in summary.results] == ["built"] * 5, [r.message for r in summary.results]
    yield project


def stale_after(project: Project, path: str, old: str, new: str) -> dict[str, list[str]]:
    """Edit ``path`` (relative to the package), plan, then undo the edit; returns key -> cause kinds."""
    file = project.root / project.package / path
    original = file.read_bytes()
    text = original.decode()
    assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
    try:
        file.write_text(text.replace(old, new))
        if path.endswith(".py"):
            shutil.rmtree(file.parent / "__pycache__", ignore_errors=True)
        plan = project.workspace().plan()
        return {s.key: sorted({c.kind.value for c in s.causes}) for s in plan.stale}
    finally:
        file.write_bytes(original)
        shutil.rmtree(file.parent / "__pycache__", ignore_errors=True)


def test_the_copy_starts_fresh(quickstart: Project) -> None:
    assert quickstart.workspace().plan().counts() == {"assets": 5, "fresh": 5, "stale": 0, "waiting": 0}


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        pytest.param(
            "features.py",
            '.astype("timedelta64[D]").astype(float)',
            '.astype("timedelta64[D]").astype(float) + 0',
            {"customer_features": [CODE], "churn_model": [UPSTREAM], "model_report": [UPSTREAM]},
            id="helper-recency_days",
        ),
        pytest.param(
            "features.py",
            "steps: int = 400",
            "steps: int = 401",
            {"churn_model": [CODE], "model_report": [UPSTREAM]},
            id="helper-train_logistic",
        ),
        pytest.param(
            "features.py",
            "ranks[order] = np.arange(1, len(score) + 1)",
            "ranks[order] = np.arange(1, len(score) + 1) * 1",
            {"model_report": [CODE]},
            id="helper-roc_auc",
        ),
        pytest.param(
            "features.py",
            'CUTOFF = "2026-05-01"',
            'CUTOFF = "2026-05-02"',
            {"customer_features": [CODE], "churn_model": [UPSTREAM], "model_report": [UPSTREAM]},
            id="helper-constant",
        ),
        pytest.param(
            "features.py",
            "return 1.0 / (1.0 + np.exp(-z))",
            "return 1.0 / (1.0 + np.exp(-z * 1.0))",
            {"churn_model": [CODE], "model_report": [CODE, UPSTREAM]},  # both use the LogisticModel class
            id="helper-class-method",
        ),
        pytest.param(
            "features.py",
            "def roc_auc(",
            "def unused_helper(x):\n    return x\n\n\ndef roc_auc(",
            {},
            id="unrelated-new-helper",
        ),
        pytest.param(
            "data/orders.csv",
            "2,188,2026-05-30,9.74,complete,PL",
            "2,188,2026-05-30,9.75,complete,PL",
            {
                "orders": [DATA],
                "daily_revenue": [UPSTREAM],
                "customer_features": [UPSTREAM],
                "churn_model": [UPSTREAM],
                "model_report": [UPSTREAM],
            },
            id="source-csv",
        ),
        pytest.param(
            "pipeline.py",
            'df = df[df["status"] == "complete"].copy()',
            'df = df[df["status"].str.strip() == "complete"].copy()',
            {
                "orders": [CODE],
                "daily_revenue": [UPSTREAM],
                "customer_features": [UPSTREAM],
                "churn_model": [UPSTREAM],
                "model_report": [UPSTREAM],
            },
            id="asset-orders",
        ),
        pytest.param(
            "pipeline.py",
            'pl.len().alias("orders")',
            'pl.len().alias("n_orders")',
            {},  # daily_revenue pins code_version="2": the explicit version wins
            id="asset-with-explicit-version",
        ),
        pytest.param(
            "pipeline.py",
            'code_version="2"',
            'code_version="3"',
            {"daily_revenue": [CODE]},
            id="explicit-version-bumped",
        ),
        pytest.param(
            "pipeline.py",
            'FEATURES = ["n_orders", "total_spend", "avg_order", "recency_days"]',
            'FEATURES = ["n_orders", "total_spend", "recency_days"]',
            {"churn_model": [CODE], "model_report": [CODE, UPSTREAM]},
            id="module-list-constant",
        ),
        pytest.param(
            "pipeline.py",
            '"""Holdout accuracy and AUC of the churn model."""',
            '"""Holdout accuracy and AUC.\n\n    Reported as metadata too.\n    """  # comment',
            {},
            id="docstring-and-comment",
        ),
    ],
)
def test_an_edit_makes_exactly_the_expected_assets_stale(
    quickstart: Project, path: str, old: str, new: str, expected: dict[str, list[str]]
) -> None:
    assert stale_after(quickstart, path, old, new) == expected


def test_causes_name_the_source_and_the_code_change(quickstart: Project) -> None:
    csv = quickstart.root / quickstart.package / "data" / "orders.csv"
    original = csv.read_bytes()
    try:
        csv.write_bytes(original + b"99999,1,2026-03-01,12.50,complete,DE\n")
        orders = quickstart.workspace().plan().stale[0]
        (cause,) = orders.causes
        assert (orders.key, cause.kind.value, cause.input) == ("orders", DATA, "orders_csv")
        assert cause.message.startswith("source 'orders_csv' changed: ")
    finally:
        csv.write_bytes(original)


def test_an_output_neutral_edit_rebuilds_one_asset_and_cuts_off(quickstart: Project) -> None:
    file = quickstart.root / quickstart.package / "pipeline.py"
    original = file.read_text()
    file.write_text(
        original.replace("df = orders_csv.drop_duplicates", "frame = orders_csv\n    df = frame.drop_duplicates")
    )
    shutil.rmtree(file.parent / "__pycache__", ignore_errors=True)
    try:
        ws = quickstart.workspace()
        assert len(ws.plan().stale) == 5
        summary = run(ws, [s.key for s in ws.plan().stale])
        assert {r.key: r.outcome.value for r in summary.results} == {
            "orders": "built",
            "daily_revenue": "fresh",
            "customer_features": "fresh",
            "churn_model": "fresh",
            "model_report": "fresh",
        }
        assert ws.plan().counts()["stale"] == 0
    finally:
        file.write_text(original)
        shutil.rmtree(file.parent / "__pycache__", ignore_errors=True)

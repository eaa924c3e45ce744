"""Initial schema: runs, materializations (append-only provenance) and heads (current version per asset).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lp_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("selection", sa.Text, nullable=False),
        sa.Column("counts", sa.Text, nullable=False),
        sa.Column("environment", sa.Text, nullable=False),
    )
    op.create_table(
        "lp_materializations",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("asset_key", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code_version", sa.String(128), nullable=False),
        sa.Column("recipe", sa.String(64), nullable=False),
        sa.Column("input_versions", sa.Text, nullable=False),
        sa.Column("data_version", sa.String(128)),
        sa.Column("location", sa.Text),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("code_components", sa.Text, nullable=False),
    )
    op.create_index("ix_lp_mat_key_id", "lp_materializations", ["asset_key", "id"])
    op.create_index("ix_lp_mat_key_recipe", "lp_materializations", ["asset_key", "recipe"])
    op.create_index("ix_lp_mat_run", "lp_materializations", ["run_id"])
    op.create_table(
        "lp_heads",
        sa.Column("asset_key", sa.String(200), primary_key=True),
        sa.Column("materialization_id", _ID, sa.ForeignKey("lp_materializations.id"), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lp_heads")
    op.drop_table("lp_materializations")
    op.drop_table("lp_runs")

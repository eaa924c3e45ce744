"""Step logs, asset check results, and room for partition instance keys.

- ``lp_materializations.log``: what the asset's code printed (stdout and stderr) during the attempt.
- ``lp_check_results``: one row per asset check run against one materialization.
- asset keys widened to 512 characters: a partitioned instance is ``ASSET/dim=value/dim=value``.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_KEYED = ("lp_materializations", "lp_heads", "lp_claims")


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("lp_materializations", sa.Column("log", sa.Text))
    op.create_table(
        "lp_check_results",
        sa.Column("id", _id(), primary_key=True, autoincrement=True),
        sa.Column("materialization_id", _id(), sa.ForeignKey("lp_materializations.id"), nullable=False),
        sa.Column("asset_key", sa.String(512), nullable=False),
        sa.Column("check_name", sa.String(200), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(128), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("blocking", sa.Boolean, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
    )
    op.create_index("ix_lp_check_key_name", "lp_check_results", ["asset_key", "check_name", "id"])
    op.create_index("ix_lp_check_mat", "lp_check_results", ["materialization_id"])
    for table in _KEYED:
        with op.batch_alter_table(table) as batch:  # SQLite rebuilds the table; PostgreSQL alters in place
            batch.alter_column("asset_key", type_=sa.String(512), existing_nullable=False)


def downgrade() -> None:
    op.drop_index("ix_lp_check_mat", "lp_check_results")
    op.drop_index("ix_lp_check_key_name", "lp_check_results")
    op.drop_table("lp_check_results")
    with op.batch_alter_table("lp_materializations") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("log")

"""Failure tracebacks: a failed attempt keeps the traceback of the user's code, not only its one-line error.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("lp_materializations", sa.Column("traceback", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("lp_materializations") as batch:  # SQLite cannot drop a column in place
        batch.drop_column("traceback")

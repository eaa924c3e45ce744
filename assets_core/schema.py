"""Tables of the metadata store (SQLAlchemy Core). Changes here need a migration in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

SCHEMA_REVISION = "0004"  # the newest migration; the store upgrades when the database is behind it

metadata = MetaData()
# SQLite only makes INTEGER PRIMARY KEY an auto-increment rowid, PostgreSQL wants BIGINT.
_ID = BigInteger().with_variant(Integer(), "sqlite")
KEY_LENGTH = 512  # an asset key, or a partition instance key ``ASSET/dim=value/dim=value``

runs = Table(
    "lp_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("status", String(16), nullable=False),
    Column("selection", Text, nullable=False),
    Column("counts", Text, nullable=False),
    Column("environment", Text, nullable=False),
)

materializations = Table(
    "lp_materializations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("asset_key", String(KEY_LENGTH), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("code_version", String(128), nullable=False),
    Column("recipe", String(64), nullable=False),
    Column("input_versions", Text, nullable=False),
    Column("data_version", String(128)),
    Column("location", Text),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("error", Text),
    Column("code_components", Text, nullable=False),
    Column("traceback", Text),
    Column("log", Text),  # what the asset's code printed (stdout and stderr) during the attempt
    Index("ix_lp_mat_key_id", "asset_key", "id"),
    Index("ix_lp_mat_key_recipe", "asset_key", "recipe"),
    Index("ix_lp_mat_run", "run_id"),
)

heads = Table(
    "lp_heads",
    metadata,
    Column("asset_key", String(KEY_LENGTH), primary_key=True),
    Column("materialization_id", _ID, ForeignKey("lp_materializations.id"), nullable=False),
    Column("updated_at", Float, nullable=False),
)

claims = Table(
    "lp_claims",
    metadata,
    Column("asset_key", String(KEY_LENGTH), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("holder", String(300), nullable=False),
    Column("claimed_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

check_results = Table(
    "lp_check_results",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("materialization_id", _ID, ForeignKey("lp_materializations.id"), nullable=False),
    Column("asset_key", String(KEY_LENGTH), nullable=False),
    Column("check_name", String(200), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("code_version", String(128), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("error", Text),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
    Index("ix_lp_check_key_name", "asset_key", "check_name", "id"),
    Index("ix_lp_check_mat", "materialization_id"),
)

"""register snapshots by register revision, and the rule files of each rules version

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "register_snapshot" not in existing:
        op.create_table(
            "register_snapshot",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("revision", sa.Integer(), nullable=False),
            sa.Column("as_of", sa.Date(), nullable=False),
            sa.Column("insats", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("revision", "as_of", "insats"),
        )
        op.create_index("ix_register_snapshot_revision", "register_snapshot", ["revision"], unique=False)
    if "rule_set" not in existing:
        op.create_table(
            "rule_set",
            sa.Column("version", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("files", sa.JSON(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("version"),
        )


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

"""the device flow of `placering login` (RFC 8628): device_authorization, the codes a CLI polls
with and a person approves on the server's page /enhet (both kept as sha256 only)

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "device_authorization" in set(sa.inspect(op.get_bind()).get_table_names()):
        return  # idempotent
    op.create_table(
        "device_authorization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("client_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("municipality", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_authorization_device_hash", "device_authorization", ["device_hash"], unique=True)
    op.create_index("ix_device_authorization_user_hash", "device_authorization", ["user_hash"], unique=False)


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

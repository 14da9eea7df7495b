"""placement status and places; review of a chosen held-back unit

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    # Idempotent: a column already there is left as it is; existing placements are active.
    placement = _columns("placement")
    with op.batch_alter_table("placement", schema=None) as batch_op:
        if "status" not in placement:
            batch_op.add_column(sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                          server_default="active"))
            batch_op.create_index(batch_op.f("ix_placement_status"), ["status"], unique=False)
        if "places" not in placement:
            batch_op.add_column(sa.Column("places", sa.Integer(), nullable=False, server_default="1"))
        if "special_reason" not in placement:
            batch_op.add_column(sa.Column("special_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    if "unit_id" not in _columns("review"):
        with op.batch_alter_table("review", schema=None) as batch_op:
            batch_op.add_column(sa.Column("unit_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

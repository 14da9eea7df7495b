"""placement.chosen_on: the day of choosing (a placement agreed but not yet started is agreed
from then; audit affected-placements reads it)

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Idempotent: a column already there is left as it is.
    if "chosen_on" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("placement")}:
        with op.batch_alter_table("placement", schema=None) as batch_op:
            batch_op.add_column(sa.Column("chosen_on", sa.Date(), nullable=True))


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

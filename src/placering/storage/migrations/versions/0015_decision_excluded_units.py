"""issue 22 item 1: decision.excluded_units, the excluded units' ids by reason code stored with
each decision (matching/compact.py encode_grouped), so `request show` lists them without deciding
again; a decision stored before has none and is grouped as before

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("decision")}
    if "excluded_units" not in have:  # idempotent: a column already there is left as it is
        with op.batch_alter_table("decision", schema=None) as batch_op:
            batch_op.add_column(sa.Column("excluded_units", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("excluded_units")

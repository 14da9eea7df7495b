"""unit.status_note: the note (e.g. the overall assessment of a removal) behind the current status

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Additive only: the interchange document carries status_note, and export must give it back.
    with op.batch_alter_table('unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_note', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    raise RuntimeError('placering never downgrades: it would drop register data')

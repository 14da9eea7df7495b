"""issue 20 (second pass over the sources): the whole life of a decision on placement_request
(decided_on: the recorded decision day; decision_ended_on / decision_end_reason: ended without
execution; interrupted_on / resumed_on: execution interrupted and resumed)

Revision ID: 0012
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

REQUEST_COLUMNS = [
    ("decided_on", sa.Date()),
    ("decision_ended_on", sa.Date()),
    ("decision_end_reason", sa.String()),
    ("interrupted_on", sa.Date()),
    ("resumed_on", sa.Date()),
]


def _add(table: str, columns: list) -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
    missing = [(n, t) for n, t in columns if n not in have]
    if missing:  # idempotent: a column already there is left as it is
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, type_ in missing:
                batch_op.add_column(sa.Column(name, type_, nullable=True))


def upgrade() -> None:
    _add("placement_request", REQUEST_COLUMNS)


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

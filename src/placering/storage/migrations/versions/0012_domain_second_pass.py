"""issue 20 (second pass over the sources): the whole life of a decision on placement_request
(decided_on: the recorded decision day; decision_ended_on / decision_end_reason: ended without
execution; interrupted_on / resumed_on: execution interrupted and resumed); case_access_log and case_access_grant: who read a protected
case, and time-limited access to it; complaint.categories / complainant_ref / individual_level: several
categories, the complainant's reference to follow the case, a matter about one person

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


COMPLAINT_COLUMNS = [
    ("categories", sa.JSON()),
    ("complainant_ref", sa.String()),
    ("individual_level", sa.Boolean()),
]


def upgrade() -> None:
    _add("placement_request", REQUEST_COLUMNS)
    _add("complaint", COMPLAINT_COLUMNS)
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    # Who read a protected case, and who may for how long (issue 20 item 11; sources/003 l. 349-351).
    if "case_access_log" not in tables:
        op.create_table(
            "case_access_log",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("request_id", sa.String(), nullable=False, index=True),
            sa.Column("reader", sa.String(), nullable=False, index=True),
            sa.Column("read_at", sa.DateTime(), nullable=False),
            sa.Column("what", sa.String(), nullable=False),
        )
    if "case_access_grant" not in tables:
        op.create_table(
            "case_access_grant",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("request_id", sa.String(), nullable=False, index=True),
            sa.Column("reader", sa.String(), nullable=False),
            sa.Column("valid_from", sa.Date(), nullable=False),
            sa.Column("valid_to", sa.Date(), nullable=False),
            sa.Column("granted_by", sa.String(), nullable=False),
            sa.Column("granted_at", sa.DateTime(), nullable=False),
        )


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

"""case work around the register: complaint cases, placement agreements, deepened controls,
framework follow-ups and HVB surveys (issue 12)

Revision ID: 0007
Revises: 0006

Additive and idempotent: columns and tables are created only when missing; nothing is dropped.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def _add_columns(table: str, columns: list[sa.Column], indexes: tuple[str, ...] = ()) -> None:
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns(table)}
    have_ix = {i["name"] for i in inspector.get_indexes(table)}
    todo = [c for c in columns if c.name not in have]
    ix = [name for name in indexes if f"ix_{table}_{name}" not in have_ix]
    if not todo and not ix:
        return
    with op.batch_alter_table(table, schema=None) as batch_op:
        for c in todo:
            batch_op.add_column(c)
        for name in ix:
            batch_op.create_index(f"ix_{table}_{name}", [name], unique=False)


def _create(name: str, *columns, indexes: tuple[str, ...] = (), unique: tuple[str, ...] = ()) -> None:
    if sa.inspect(op.get_bind()).has_table(name):
        return
    op.create_table(name, *columns)
    for col in indexes:
        op.create_index(f"ix_{name}_{col}", name, [col], unique=col in unique)


def upgrade() -> None:
    _add_columns("complaint", [
        sa.Column("org_nr", _S(), nullable=True),
        sa.Column("received_by", _S(), nullable=True),
        sa.Column("handler", _S(), nullable=True),
        sa.Column("status", _S(), nullable=False, server_default="received"),
        sa.Column("closed_on", sa.Date(), nullable=True),
    ], ("org_nr", "handler", "status"))
    _add_columns("placement", [
        sa.Column("decision_from", sa.Date(), nullable=True),
        sa.Column("decision_to", sa.Date(), nullable=True),
        sa.Column("agreed_price", sa.Float(), nullable=True),
        sa.Column("agreed_by", _S(), nullable=True),
    ])
    _create(
        "placement_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("daily_price", sa.Float(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", _S(), nullable=False),
        sa.Column("recorded_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["placement_id"], ["placement.id"]),
        sa.PrimaryKeyConstraint("id"),
        indexes=("placement_id",), unique=("placement_id",),
    )
    _create(
        "deepened_control",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_nr", _S(), nullable=False),
        sa.Column("unit_id", _S(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("reason", _S(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("opened_by", _S(), nullable=False),
        sa.Column("checked", sa.JSON(), nullable=False),
        sa.Column("status", _S(), nullable=False),
        sa.Column("outcome", _S(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", _S(), nullable=True),
        sa.Column("decision_note", _S(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        indexes=("org_nr", "unit_id", "proposal_id", "opened_on", "status", "decided_on"),
    )
    _create(
        "agreement_followup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", _S(), nullable=False),
        sa.Column("months", sa.Integer(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=False),
        sa.Column("findings", _S(), nullable=False),
        sa.Column("recorded_by", _S(), nullable=False),
        sa.Column("recorded_at", _T(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agreement_id", "months"),
        indexes=("agreement_id",),
    )
    _create(
        "placement_survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("placement_id", sa.Integer(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.Column("positive_change", sa.Boolean(), nullable=False),
        sa.Column("care_quality", _S(), nullable=False),
        sa.Column("child_answered", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", _S(), nullable=False),
        sa.Column("recorded_at", _T(), nullable=False),
        sa.ForeignKeyConstraint(["placement_id"], ["placement.id"]),
        sa.PrimaryKeyConstraint("id"),
        indexes=("placement_id",), unique=("placement_id",),
    )


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

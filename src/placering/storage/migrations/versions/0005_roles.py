"""users and roles on the shared server: user_account; on PostgreSQL the group roles, grants,
row-level security policies and the history actor trigger (access/roles.py)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel



revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("municipality", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("added_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("added_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_account_login"), ["login"], unique=True)
    # The group roles, grants, policies and triggers (PostgreSQL): applied once, after the last
    # migration and in its transaction (migrations/env.py), for every table: the final run replaces
    # whatever a run here made (REVOKE ALL and GRANT, DROP and CREATE), so it ran twice for nothing.


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

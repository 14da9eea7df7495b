"""issue 20 item 4 (rest): unit_route.price_confirmed_on, the day a route's daily price was last
confirmed as current (sources/004 l. 1202-1203 'kontrollera att prisuppgifterna är aktuella')

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("unit_route")}
    if "price_confirmed_on" not in have:  # idempotent: a column already there is left as it is
        with op.batch_alter_table("unit_route", schema=None) as batch_op:
            batch_op.add_column(sa.Column("price_confirmed_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unit_route", schema=None) as batch_op:
        batch_op.drop_column("price_confirmed_on")

"""register snapshots stored by content: snapshot_blob holds each distinct candidate list once

A register snapshot is stored per register revision, day and insats (0006). The candidates'
facts do not depend on the day, and a change to one unit changes the lists of the few insatser
it offers: at 20,000 units every new day or change stored another 1.8 MB, nearly all of it
equal to what was stored already. Now `register_snapshot` rows name their list by sha256
(`digest`) and `snapshot_blob` holds each distinct list once. Rows stored before keep working:
their lists are moved into blobs here.

Revision ID: 0009
Revises: 0008
"""
import hashlib

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "snapshot_blob" not in set(inspector.get_table_names()):
        op.create_table(
            "snapshot_blob",
            sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("digest"),
        )
    if "digest" not in {c["name"] for c in inspector.get_columns("register_snapshot")}:
        with op.batch_alter_table("register_snapshot", schema=None) as batch_op:
            batch_op.add_column(sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
            batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=True)
    # Move what is stored into blobs, one row at a time (a row can be a megabyte).
    snap = sa.table("register_snapshot", sa.column("id", sa.Integer), sa.column("data", sa.LargeBinary),
                    sa.column("digest", sa.String), sa.column("created_at", sa.DateTime))
    blob = sa.table("snapshot_blob", sa.column("digest", sa.String), sa.column("data", sa.LargeBinary),
                    sa.column("created_at", sa.DateTime))
    ids = [r.id for r in bind.execute(sa.select(snap.c.id).where(snap.c.digest.is_(None)).order_by(snap.c.id))]
    known = {r.digest for r in bind.execute(sa.select(blob.c.digest))}
    for row_id in ids:
        data, created = bind.execute(sa.select(snap.c.data, snap.c.created_at).where(snap.c.id == row_id)).one()
        digest = hashlib.sha256(data).hexdigest()
        if digest not in known:
            bind.execute(blob.insert().values(digest=digest, data=data, created_at=created))
            known.add(digest)
        bind.execute(snap.update().where(snap.c.id == row_id).values(digest=digest, data=None))


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

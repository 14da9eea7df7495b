"""the application server: accounts with roles and argon2 passwords, API tokens, sign-in throttle

On the new design people sign in to `placering serve`, which alone writes (issue 17). A person's
roles move from PostgreSQL group-role memberships into `user_account.roles`; on an existing
PostgreSQL installation they are copied from the memberships here, so every person added by the
previous version keeps their roles (and signs in through the identity provider, the proxy, or a
local password an admin sets with `placering admin user add NAME --role R --password-stdin`).

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    tables = set(inspector.get_table_names())
    columns = {c["name"] for c in inspector.get_columns("user_account")}
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        if "roles" not in columns:
            batch_op.add_column(sa.Column("roles", sa.JSON(), nullable=True))
        if "password_hash" not in columns:
            batch_op.add_column(sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        if "password_changed_at" not in columns:
            batch_op.add_column(sa.Column("password_changed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    if "api_token" not in tables:
        op.create_table(
            "api_token",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("account", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
            sa.Column("roles", sa.JSON(), nullable=False),
            sa.Column("municipality", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
            sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
            sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_api_token_token_hash", "api_token", ["token_hash"], unique=True)
        op.create_index("ix_api_token_account", "api_token", ["account"], unique=False)
    if "signin_failure" not in tables:
        op.create_table(
            "signin_failure",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
            sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_signin_failure_key", "signin_failure", ["scope", "key", "at"], unique=False)
    if bind.dialect.name == "postgresql":
        # Today's people: their placering_<role> memberships become the account's roles.
        bind.execute(sa.text("""
            UPDATE user_account a SET roles = to_json(ARRAY(
              SELECT substr(g.rolname, length('placering_') + 1)
              FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
              WHERE u.rolname = a.login AND g.rolname LIKE 'placering\\_%'
              ORDER BY g.rolname))
            WHERE a.roles IS NULL
        """))


def downgrade() -> None:
    raise RuntimeError("placering never downgrades: it would drop register data")

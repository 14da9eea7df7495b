"""Alembic environment: runs on the engine placering hands over (no alembic.ini needed)."""

from alembic import context

from placering.storage import models  # noqa: F401  (registers the tables on the metadata)
from sqlmodel import SQLModel

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    if connection.dialect.name == "postgresql":
        from placering.access.roles import apply_security

        # Grants, policies and triggers for every table, also those later migrations added; and the
        # revocation of what an earlier version granted (idempotent): in the migrations'
        # transaction, so no table is ever committed without them.
        apply_security(connection)

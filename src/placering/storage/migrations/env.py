"""Alembic environment: runs on the engine placering hands over (no alembic.ini needed)."""

from alembic import context

config = context.config
engine = config.attributes["engine"]
# The models' metadata is what autogenerate compares the database with; running the migrations
# never reads it. placering's own upgrade (storage.database._alembic_config) says so and does not
# load the models (SQLModel classes of every table: about a fifth of a plain `init`'s CPU).
target_metadata = None
if not config.attributes.get("migrations_only"):
    from placering.storage import models  # noqa: F401  (registers the tables on the metadata)
    from sqlmodel import SQLModel

    target_metadata = SQLModel.metadata
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
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

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

"""Storage: SQLModel tables, the engine, migrations and the append-only history."""

from .database import (  # noqa: F401
    DatabaseError,
    make_engine,
    open_session,
    require_current,
    transaction,
    upgrade,
)

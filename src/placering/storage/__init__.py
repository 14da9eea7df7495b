"""Storage: SQLModel tables, the engine, migrations and the append-only history.

`storage.reads` reads without SQLAlchemy (the read commands' start-up); the names below come
from `storage.database` on first use, so importing `placering.storage.reads` loads no SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

_DATABASE = ("DatabaseError", "make_engine", "open_session", "require_current", "transaction", "upgrade")
__all__ = list(_DATABASE)


def __getattr__(name: str) -> Any:
    if name in _DATABASE:
        from . import database

        return getattr(database, name)
    raise AttributeError(f"module 'placering.storage' has no attribute {name!r}")

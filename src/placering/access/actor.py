"""Who a command's change is recorded under (`--by`), resolved without SQLAlchemy.

Every command that names a person resolves `--by` before it runs; importing SQLAlchemy and
SQLModel for that alone cost a write about 0.55 s of its start-up (issue 22). The rules are
`access.users.resolve_actor`'s, in one place (`decide`):

- SQLite (the embedded, single-user register): the typed name;
- PostgreSQL: only the service login (the application server's, or an operator's script) and
  the installation superuser write, naming the person with --by; a person's own database login
  reads only: a change is refused (`login.reads_only`), a read is made as that login.

On PostgreSQL the login is asked through the database's own driver (storage.reads), in one
query (access.roles.WRITES_AS).
"""

from __future__ import annotations

from typing import Any

from ..errors import NotPermitted


def decide(login: str, kind: str, typed: str | None, *, reading: bool = False) -> str | None:
    """The actor of a command run as `login` of `kind` (access.roles.writes_as) with --by `typed`."""
    if kind == "person":
        if reading:
            return login
        from .roles import people_read_only

        raise NotPermitted(people_read_only(login))
    return typed


def dialect_of(url: str | None) -> str | None:
    """'sqlite' or 'postgresql' for a database URL (as --db gives it; None: the default), else None."""
    from ..storage.reads import database_url

    url = database_url(url)
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith("postgresql+psycopg://"):
        return "postgresql"
    return None


def resolve_actor(url: str | None, typed: str | None, *, reading: bool = False,
                  engine: Any = None) -> tuple[str | None, str]:
    """Who a command on the database at `url` acts as (see the module docstring), and how its
    login writes: 'local' (SQLite), or access.roles.writes_as's 'superuser', 'service' or
    'person' (which only reads). `reading`: a command that only reads. `engine`: the command's
    SQLAlchemy engine, for a URL the database's own driver does not take (storage.reads.can_read)."""
    from ..storage.reads import can_read, open_reader
    from .roles import writes_as, writes_as_read

    if engine is not None and engine.dialect.name != "postgresql" or engine is None and dialect_of(url) != "postgresql":
        return typed, "local"
    if engine is None and can_read(url):
        with open_reader(url, check_schema=False) as reader:
            login, kind = writes_as_read(reader)
    else:
        with engine.connect() as conn:
            login, kind = writes_as(conn)
    return decide(login, kind, typed, reading=reading), kind

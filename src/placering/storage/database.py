"""One engine, built from a URL: an SQLite file by default, PostgreSQL for shared use.

`--db URL` or PLACERING_DATABASE_URL selects it. Schema is created and upgraded only by the
migrations in storage/migrations (alembic), never by create_all on a live database.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, TypeVar

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, create_engine

from ..errors import PlaceringError

DEFAULT_URL = "sqlite:///placering.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

T = TypeVar("T")


def chunks(items: Iterable[T], size: int = 500) -> Iterator[list[T]]:
    """Batches for IN-lists, so they stay below the parameter limits of both back ends."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class DatabaseError(PlaceringError):
    """The database cannot be reached, or its schema is not the one this version needs."""

    exit_code = 5


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get("PLACERING_DATABASE_URL") or DEFAULT_URL
    # psycopg 3 is the PostgreSQL driver we ship; accept the plain URL forms people write.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"'{url}' is not a database URL (sqlite:///FILE or postgresql://…)") from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
    else:
        raise DatabaseError(f"unsupported database '{parsed.get_backend_name()}': use SQLite or PostgreSQL")
    return engine


def _alembic_config(engine: Engine):
    # alembic is imported only when the schema changes: it costs most of a command's start-up.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([^'\"\s]+)['\"]?", re.M)


def head_revision() -> str:
    """The newest migration: the one no other migration revises (the chain is linear)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(m.groups() for m in _REVISION.finditer(path.read_text(encoding="utf-8")))
        revisions.add(found["revision"])
        parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        raise DatabaseError(f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); expected one")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database: {exc.orig}") from None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migration. Never drops data."""
    from alembic import command

    before = current_revision(engine)
    try:
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise DatabaseError(f"cannot upgrade the database: {exc.orig}") from None
    return before, head_revision()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that `placering init` has not created or upgraded."""
    rev = current_revision(engine)
    if rev is None:
        raise DatabaseError(
            f"the database at {engine.url.render_as_string(hide_password=True)} has no placering "
            "schema: run 'placering init' first"
        )
    if rev != head_revision():
        raise DatabaseError(f"the database schema is at revision {rev}; run 'placering init' to upgrade it")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed as one unit, or not at all if anything raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def open_session(engine: Engine) -> Session:
    """A read session (callers that write use transaction())."""
    return Session(engine, expire_on_commit=False)

"""One engine, built from a URL: an SQLite file by default, PostgreSQL for shared use.

`--db URL` or PLACERING_DATABASE_URL selects it. Schema is created and upgraded only by the
migrations in storage/migrations (alembic), never by create_all on a live database.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
import time
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

# Start-up: SQLModel (and with it the ORM and pydantic) is imported by the commands that open a
# session, not by every command that reaches the database (tests/test_startup.py).
if TYPE_CHECKING:
    from sqlmodel import Session

from .reads import DEFAULT_URL, MIGRATIONS, DatabaseError, database_url, head_revision  # noqa: F401  (one of each)
# What a write transaction on the driver (storage.writes) shares with these: one of each.
from .writes import (BUSY_TIMEOUT_ENV, DEFAULT_BUSY_TIMEOUT, QUEUE_WAITS, RETRYABLE_SQLSTATES, Conflict,  # noqa: F401
                     DatabaseBusy, acting_settings, busy_error, busy_timeout, collided, is_busy, is_retryable,
                     writer_queue)
from ..i18n import msg


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


def _private_sqlite_file(dialect, conn_rec, cargs, cparams) -> None:
    """Create a new SQLite database file 0600 before sqlite3 opens it (issue 21): it holds
    requests with a protected person's home, and sqlite3 would create it 0644 (umask 022). SQLite
    gives its journal, WAL and shared-memory files the database file's permissions, so they are
    0600 too. An existing file keeps the permissions its owner gave it."""
    name = cargs[0] if cargs else cparams.get("database")
    if not name or name == ":memory:" or str(name).startswith("file:"):
        return
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # sqlite3 reports what is wrong with the path (a directory, no such folder) itself
    os.close(fd)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # We issue BEGIN ourselves (below): pysqlite's implicit BEGIN comes only before the first
    # INSERT/UPDATE, so a command's reads ran outside its transaction and two writers could
    # both read the old value and both write (a lost update).
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn) -> None:
    # A write transaction takes SQLite's write lock at its start (BEGIN IMMEDIATE), waiting up
    # to the busy timeout for another writer: what it reads cannot change before it commits.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _pg_acting(conn) -> None:
    # Every transaction opened while a person is signed in (access.acting) names them, for this
    # transaction only (set_config(..., true)): a pooled connection carries nothing over.
    from ..access.acting import current_principal

    principal = current_principal()
    if principal is None:
        return
    conn.exec_driver_sql(
        "SELECT set_config('placering.login', %(login)s, true), set_config('placering.roles', %(roles)s, true), "
        "set_config('placering.municipality', %(municipality)s, true)", acting_settings(principal))


# An INSERT of many rows (`session.execute(insert(table), rows)`: an import's suppliers, units,
# offers, routes, permits, checks and history; the demo's) goes to PostgreSQL as one COPY …
# FROM STDIN in the same transaction, not as psycopg's executemany: one INSERT per row, each
# bound, executed and answered (20,000 units: ~200,000 statements; COPY costs the client a
# sixth of the CPU and the server a fraction of the time). The same rows: the values
# SQLAlchemy's bind processors made for executemany, in the same order, with the columns'
# defaults, constraints and row triggers (COPY FROM fires them too). Only a plain INSERT whose
# values are the rows' own parameters, cast (SQLAlchemy's bind casts) to a type whose text
# input reads what psycopg writes for it as the cast did, or cast to JSON from text (COPY's
# text input of a json column is that cast); anything else, a table whose row-level security
# applies to this login (the service's writes to history and the cases: COPY FROM refuses
# those) and a handful of rows go as before.
COPY_FROM_ROWS = 20
_COPYABLE = re.compile(r'INSERT INTO ("?\w+"?) \(([\w", ]+)\) VALUES \((.+)\)', re.S)
_COPY_CASTS = "VARCHAR|TEXT|INTEGER|BIGINT|SMALLINT|FLOAT|DOUBLE PRECISION|BOOLEAN|DATE|TIMESTAMP WITH TIME ZONE|JSON|JSONB"
_COPY_VALUE = re.compile(rf"%\((\w+)\)s(?:::(?:{_COPY_CASTS}))?|CAST\(%\((\w+)\)s::VARCHAR AS JSON\)")


def _copy_many(cursor, statement: str, parameters, context) -> bool:
    if len(parameters) < COPY_FROM_ROWS or not isinstance(parameters[0], dict):
        return False
    found = _COPYABLE.fullmatch(statement.strip())
    if found is None:
        return False
    table, columns, values = found.groups()
    names = []
    for value in values.split(", "):
        one = _COPY_VALUE.fullmatch(value)
        if one is None:
            return False
        names.append(one.group(1) or one.group(2))
    if len(names) != len(columns.split(", ")):
        return False
    cursor.execute("SELECT row_security_active(%s::regclass)", (table,))
    if cursor.fetchone()[0]:
        return False
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in parameters:
            copy.write_row([row[n] for n in names])
    return True


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a malformed host or port (the URL is input too)
        raise DatabaseError(msg("storage.not_a_url", url=url)) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": busy_timeout()})
        event.listen(engine, "do_connect", _private_sqlite_file)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "begin", _pg_acting)
        event.listen(engine, "do_executemany", _copy_many)
    else:
        raise DatabaseError(msg("storage.unsupported_database", name=parsed.get_backend_name()))
    return engine


def _alembic_config(engine: Engine):
    # alembic is imported only when the schema changes: it costs most of a command's start-up.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    cfg.attributes["migrations_only"] = True  # migrations/env.py: no models' metadata to load
    return cfg


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except OperationalError as exc:
        raise DatabaseError(msg("storage.cannot_open", reason=str(exc.orig))) from None


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest migration. Never drops data."""
    from alembic import command

    before = current_revision(engine)
    if engine.dialect.name == "postgresql":
        from ..access.roles import require_installer

        # Only the installation account changes the schema and the privileges: refused before
        # any migration runs, not halfway through one.
        with engine.connect() as conn:
            require_installer(conn)
    try:
        # On PostgreSQL it ends with access.roles.apply_security (migrations/env.py), also when
        # no migration is due.
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise DatabaseError(msg("storage.cannot_upgrade", reason=str(exc.orig))) from None
    return before, head_revision()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that `placering init` has not created or upgraded."""
    rev = current_revision(engine)
    if rev is None:
        raise DatabaseError(msg("storage.no_schema", where=engine.url.render_as_string(hide_password=True)))
    if rev != head_revision():
        raise DatabaseError(msg("storage.old_schema", revision=rev))


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed as one unit, or not at all if anything raises.

    On SQLite it holds the write lock from its first statement (BEGIN IMMEDIATE), after this
    process's earlier writers (`_writer_queue`); a writer that finds the database busy for longer
    than the busy timeout gets `DatabaseBusy`. On PostgreSQL
    writers lock the rows they change (`lock_row`), so concurrent changes queue up.
    """
    from sqlmodel import Session

    queue = _writer_queue(engine) if engine.dialect.name == "sqlite" else None
    if queue is not None and not queue.acquire(timeout=QUEUE_WAITS * busy_timeout()):
        raise busy_error()
    try:
        with Session(engine, expire_on_commit=False) as session:
            try:
                if engine.dialect.name == "sqlite":
                    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                if is_busy(exc):
                    raise busy_error() from None
                raise
            except BaseException:
                session.rollback()
                raise
    finally:
        if queue is not None:
            queue.release()


def _writer_queue(engine: Engine) -> threading.RLock | None:
    return writer_queue(engine.url.database)


def run_transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 5,
                    on_retry: Callable[[BaseException], None] | None = None) -> T:
    """`work(session)` in one transaction, re-run from the start after a serialization failure
    or deadlock (PostgreSQL), at most `attempts` times; any other error is raised as it is."""
    for attempt in range(1, attempts + 1):
        try:
            with transaction(engine) as session:
                return work(session)
        except DBAPIError as exc:
            if not is_retryable(exc) or attempt == attempts:
                if is_retryable(exc):
                    raise collided(attempts) from None
                raise
            if on_retry is not None:
                on_retry(exc)
            time.sleep(0.005 * attempt * attempt)
    raise AssertionError("unreachable")


def lock_rows(session: Session, stmt) -> list:
    """The rows of `stmt` locked for this transaction (SELECT … FOR UPDATE on PostgreSQL; on
    SQLite the transaction already holds the write lock), loaded fresh from the database even
    if the session had them: a change is decided on the value it will replace."""
    return list(session.scalars(stmt.with_for_update().execution_options(populate_existing=True)))


def lock_row(session: Session, stmt):
    """The first row of `stmt`, locked (see lock_rows), or None."""
    rows = lock_rows(session, stmt.limit(1))
    return rows[0] if rows else None


def open_session(engine: Engine) -> Session:
    """A read session (callers that write use transaction())."""
    from sqlmodel import Session

    return Session(engine, expire_on_commit=False)

"""Writing without the ORM: one write transaction on the database's own driver.

A write command's start-up was mostly importing SQLAlchemy, SQLModel and pydantic and building
the 28 table classes (about 0.6 s of CPU, issue 22). The library functions that need no ORM
object (a choice of unit, first: matching/choice.py) write through a `Tx`, a thin transaction
with `:name` SQL in the subset both databases read alike, which runs either

- on the database's own driver (`Database`, what the CLI passes: sqlite3 or psycopg), with
  `storage.transaction`'s guarantees: on SQLite the process's writer queue and BEGIN IMMEDIATE
  (the write lock from the first statement; busy after the busy timeout), the pragmas of
  `make_engine`; on PostgreSQL the signed-in person named to the database for this transaction
  (access.acting, as storage.database's listener does) and rows locked with FOR UPDATE; or
- inside an SQLAlchemy session (`SessionTx`: the server, the demo, a caller's transaction), on the
  session's own connection, so it is the same transaction as the rest of the caller's work.

One write path: the same function, the same SQL, whichever runs it. A function that finds it
needs the ORM after all (a rare case: rebuilding a compact decision) raises `NeedsSession`
before it has written anything; `run_write` then runs the whole function again inside
`storage.transaction` on an engine, from the start.

Values are stored as SQLAlchemy stores them (`to_db`; tests/test_writes.py compares them with
SQLAlchemy's own bind processors for the models' column types): on SQLite dates as ISO text,
times as 'YYYY-MM-DD HH:MM:SS.ffffff', JSON as json.dumps' text, booleans as 0/1.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from ..errors import PlaceringError
from ..i18n import msg
from .reads import _PARAM, DatabaseError, _postgres_conninfo, _require_current, _sqlite_path, database_url

T = TypeVar("T")


class NeedsSession(Exception):
    """The work needs an ORM session (raised before anything was written): run it again in one."""


class DriverError(Exception):
    """The database driver refused a statement (sqlite3 or psycopg): `orig` is its error, as in
    SQLAlchemy's DBAPIError, so the CLI says it the same way (busy, refused, retried)."""

    def __init__(self, orig: BaseException):
        super().__init__(str(orig))
        self.orig = orig


class Database:
    """A database a write runs on through its own driver: what the CLI passes to a library
    function that takes one (`takes_database`), instead of an SQLAlchemy engine. `engine()`
    builds the engine when the work needs the ORM after all (`NeedsSession`)."""

    def __init__(self, url: str | None, engine_factory: Callable[[], Any] | None = None):
        self.url = database_url(url)
        self.dialect = "sqlite" if _sqlite_path(self.url) is not None else "postgresql"
        self._engine_factory = engine_factory
        self._engine = None

    @staticmethod
    def takes(url: str | None) -> bool:
        url = database_url(url)
        return _sqlite_path(url) is not None or _postgres_conninfo(url) is not None

    def engine(self) -> Any:
        if self._engine is None:
            if self._engine_factory is not None:
                self._engine = self._engine_factory()
            else:
                from .database import make_engine

                self._engine = make_engine(self.url)
        return self._engine



# --- SQLite's busy timeout and writer queue; PostgreSQL's acting person (storage.database's too) ---

class DatabaseBusy(DatabaseError):
    """Another writer held the database for longer than the busy timeout (SQLite)."""


class Conflict(PlaceringError):
    """A concurrent change won: nothing was written; look again and decide again."""

    exit_code = 4


# How long a writer waits for another writer to finish on SQLite before giving up (seconds).
BUSY_TIMEOUT_ENV = "PLACERING_BUSY_TIMEOUT"
DEFAULT_BUSY_TIMEOUT = 30.0


def busy_timeout() -> float:
    raw = os.environ.get(BUSY_TIMEOUT_ENV)
    if not raw:
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise DatabaseError(msg("storage.busy_timeout_not_number", env=BUSY_TIMEOUT_ENV, value=raw)) from None
    if not (0 <= value <= 3600):
        raise DatabaseError(msg("storage.busy_timeout_range", env=BUSY_TIMEOUT_ENV, value=raw))
    return value


def is_busy(exc: BaseException) -> bool:
    """SQLite's 'database is locked/busy': a writer waited out its timeout."""
    orig = getattr(exc, "orig", exc)
    return type(orig).__name__ == "OperationalError" and any(
        s in str(orig) for s in ("database is locked", "database is busy"))


def busy_error() -> DatabaseBusy:
    return DatabaseBusy(msg("storage.busy", seconds=f"{busy_timeout():g}", env=BUSY_TIMEOUT_ENV))


def acting_settings(principal) -> dict[str, str]:
    """What a transaction tells PostgreSQL about the signed-in person it works for: the login
    (the history trigger accepts the service login writing under exactly this name), the roles,
    and the municipality whose cases a social worker sees (row-level security,
    access/roles.py). Staff (any role but social worker) see every municipality: ''."""
    roles = sorted(str(getattr(r, "value", r)) for r in principal.roles)
    staff = any(r != "social_worker" for r in roles)
    return {"login": principal.login, "roles": ",".join(roles),
            "municipality": "" if staff else (principal.municipality or "")}


# SQLite's own wait for its write lock polls (sleeping up to 100 ms between tries): with many
# writers waiting at once, a writer can lose every try for the whole busy timeout while others
# get in, and was refused as busy ("database busy" under the 50-person `bench web`). So a
# process's writers first queue among themselves, one at a time per database file, and only the
# one at the front waits for SQLite's lock (against other processes' fronts). The queue is a
# re-entrant lock: a transaction opened inside another in the same thread waits for SQLite as
# before. Waiting in the queue is bounded too: QUEUE_WAITS times the busy timeout.
QUEUE_WAITS = 10
_QUEUES: dict[str, threading.RLock] = {}
_QUEUES_LOCK = threading.Lock()


def writer_queue(name: str | None) -> threading.RLock | None:
    """The process's queue of writers to the SQLite file `name` (None: an in-memory database)."""
    if not name or name == ":memory:":
        return None
    key = os.path.realpath(name) if not name.startswith("file:") else name
    with _QUEUES_LOCK:
        queue = _QUEUES.get(key)
        if queue is None:
            queue = _QUEUES[key] = threading.RLock()
        return queue


# SQLSTATEs after which re-running the whole transaction is correct: it read nothing that
# stays valid, and wrote nothing (serialization_failure, deadlock_detected).
RETRYABLE_SQLSTATES = ("40001", "40P01")


def is_retryable(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def collided(attempts: int) -> Conflict:
    return Conflict(f"the change collided with concurrent changes {attempts} times; nothing was written, try again")


# --- values as SQLAlchemy stores them ----------------------------------------------------------

def to_db(value: Any, dialect: str) -> Any:
    """A Python value as the column of its type stores it (see the module docstring)."""
    if dialect == "sqlite":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value
    if isinstance(value, (dict, list)):
        from psycopg.types.json import Json

        return Json(value)
    return value


# --- transactions -----------------------------------------------------------------------------

class Tx(ABC):
    """One write transaction: `rows`, `scalar`, `execute` (rowcount) and `insert` (the new id).
    Each database's way in (DriverTx, LibpqTx, SessionTx) gives the first three."""

    dialect: str

    @property
    def for_update(self) -> str:
        """What locks the rows a SELECT reads until the transaction ends (SQLite: the write
        lock the transaction holds already)."""
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    @abstractmethod
    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        """The rows a statement returns (named tuples)."""

    @abstractmethod
    def execute(self, sql: str, params: dict | None = None) -> int:
        """Run a statement; the rows it changed."""

    @abstractmethod
    def session(self) -> Any:
        """An ORM session on this transaction's connection (for work that needs the ORM)."""

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def insert(self, table: str, values: dict[str, Any]) -> int:
        """INSERT one row; its id."""
        names = list(values)
        sql = (f"INSERT INTO {table} ({', '.join(_quoted(n) for n in names)}) "
               f"VALUES ({', '.join(':' + n for n in names)}) RETURNING id")
        return self.rows(sql, values)[0][0]


def _quoted(name: str) -> str:
    return f'"{name}"' if name in ("by",) else name


class DriverTx(Tx):
    def __init__(self, conn: Any, dialect: str):
        self.conn, self.dialect = conn, dialect
        self.wrote = False

    def _run(self, sql: str, params: dict | None) -> Any:
        values = {k: to_db(v, self.dialect) for k, v in (params or {}).items()}
        if self.dialect == "postgresql":
            sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        cur = self.conn.cursor()
        try:
            cur.execute(sql, values)
        except Exception as exc:
            raise DriverError(exc) from None
        return cur

    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        from .reads import row_type

        if not sql.lstrip().upper().startswith("SELECT"):
            self.wrote = True
        cur = self._run(sql, params)
        if cur.description is None:
            return []
        row = row_type(tuple(d[0] for d in cur.description))
        try:
            return [row(*r) for r in cur.fetchall()]
        except Exception as exc:
            raise DriverError(exc) from None

    def execute(self, sql: str, params: dict | None = None) -> int:
        self.wrote = True
        return self._run(sql, params).rowcount

    def session(self) -> Any:
        if self.wrote:
            raise RuntimeError("the ORM is asked for after the driver wrote: the work must ask before it writes")
        raise NeedsSession()


class PgError(Exception):
    """PostgreSQL's refusal of a statement on a write through libpq (`LibpqTx`): its primary
    message and detail as psycopg words them, and its SQLSTATE."""

    def __init__(self, message: str, sqlstate: str | None):
        super().__init__(message)
        self.sqlstate = sqlstate


class IntegrityError(PgError):
    """A constraint refused the statement (SQLSTATE class 23), named as the drivers name it."""


def _pg_error(exc: Any) -> PgError:
    text = str(exc).strip()
    for severity in ("ERROR", "FATAL", "PANIC"):
        if text.startswith(severity + ":  "):
            text = text[len(severity) + 3:]
    state = getattr(exc, "sqlstate", None)
    return (IntegrityError if state and state.startswith("23") else PgError)(text, state)


class LibpqTx(Tx):
    """A write transaction on PostgreSQL through libpq itself (storage.reads._Libpq: importing
    psycopg cost a write command 0.1-0.3 s of CPU, as much as the rest of a choice): the same
    SQL, parameters sent as psycopg sends them (a blob as bytea, JSON untyped for its column)."""

    def __init__(self, conn: Any):
        self.conn, self.dialect = conn, "postgresql"
        self.wrote = False

    def _run(self, sql: str, params: dict | None) -> tuple[list[str], list[tuple], int]:
        from .reads import _QueryError

        try:
            return self.conn.run(sql, params or {})
        except _QueryError as exc:
            raise DriverError(_pg_error(exc)) from None

    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        from .reads import row_type

        if not sql.lstrip().upper().startswith("SELECT"):
            self.wrote = True
        names, values, _count = self._run(sql, params)
        if not names:
            return []
        row = row_type(tuple(names))
        return [row(*r) for r in values]

    def execute(self, sql: str, params: dict | None = None) -> int:
        self.wrote = True
        return self._run(sql, params)[2]

    def session(self) -> Any:
        if self.wrote:
            raise RuntimeError("the ORM is asked for after the driver wrote: the work must ask before it writes")
        raise NeedsSession()


class SessionTx(Tx):
    """A Tx inside an SQLAlchemy session's transaction (its connection, its commit)."""

    def __init__(self, session: Any):
        self._session = session
        self.dialect = session.get_bind().dialect.name

    def _run(self, sql: str, params: dict | None) -> Any:
        from sqlalchemy import text

        self._session.flush()  # what the caller added comes first, as in one ORM flush
        values = {k: to_db(v, self.dialect) for k, v in (params or {}).items()}
        if self.dialect == "sqlite":
            # sqlite3 reads the :name parameters itself (as DriverTx sends them): no statement
            # compiled and no cache key per query (a choice re-reads its unit in seven).
            return self._session.connection().exec_driver_sql(sql, values)
        return self._session.execute(text(sql), values)

    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        from .reads import row_type

        result = self._run(sql, params)
        if not result.returns_rows:
            return []
        row = row_type(tuple(result.keys()))  # as the driver's rows (DriverTx)
        return [row(*r) for r in result]

    def execute(self, sql: str, params: dict | None = None) -> int:
        return self._run(sql, params).rowcount

    def session(self) -> Any:
        return self._session


def as_tx(where: Any) -> Tx:
    """A Tx for a caller's SQLAlchemy session (or a Tx as it is)."""
    return where if isinstance(where, Tx) else SessionTx(where)


def queryable(where: Any) -> Any:
    """What plain SQL is read (and written) through: a Tx or a storage.reads.Reader as it is, an
    SQLAlchemy session as a SessionTx (its connection and transaction)."""
    return where if hasattr(where, "rows") else SessionTx(where)


def run_write(where: Any, work: Callable[[Tx], T], *, repeatable_read: bool = False) -> T:
    """`work(tx)` in one write transaction on `where`: a `Database` (the database's own driver),
    an SQLAlchemy engine (`storage.transaction`) or a caller's session (its transaction). Work
    that needs the ORM (`NeedsSession`) runs again from the start in a session.
    `repeatable_read`: on PostgreSQL the transaction reads one view of the database (a match
    reads the register's revision and its facts); a serialization failure then runs the work
    again from the start on an engine (the CLI runs the whole command again: cli.common)."""
    if isinstance(where, Database):
        try:
            with driver_transaction(where, repeatable_read=repeatable_read) as tx:
                return work(tx)
        except NeedsSession:
            where = where.engine()
    if hasattr(where, "connect"):  # an engine
        from .database import transaction

        for attempt in range(1, 4):
            try:
                with transaction(where) as session:
                    if repeatable_read and where.dialect.name == "postgresql":
                        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                    return work(SessionTx(session))
            except Exception as exc:
                if not (repeatable_read and is_retryable(exc)) or attempt == 3:
                    raise
    return work(as_tx(where))


@contextmanager
def driver_transaction(db: Database, *, repeatable_read: bool = False) -> Iterator[DriverTx]:
    """A write transaction on the database's own driver, committed as one unit or not at all
    (`repeatable_read`: see run_write; SQLite's write transaction reads one view anyway)."""
    if db.dialect == "sqlite":
        with _sqlite_transaction(db) as tx:
            yield tx
    else:
        with _pg_transaction(db, repeatable_read=repeatable_read) as tx:
            yield tx


@contextmanager
def _sqlite_transaction(db: Database) -> Iterator[DriverTx]:
    import sqlite3

    path = _sqlite_path(db.url)
    if not Path(path).exists():
        raise DatabaseError(msg("cli.no_database", path=str(Path(path).resolve())))
    queue = writer_queue(path)
    if queue is not None and not queue.acquire(timeout=QUEUE_WAITS * busy_timeout()):
        raise busy_error()
    try:
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout(), isolation_level=None)
        except sqlite3.Error as exc:
            raise DatabaseError(msg("storage.cannot_open", reason=str(exc))) from None
        try:
            tx = DriverTx(conn, "sqlite")
            try:
                for pragma in ("PRAGMA foreign_keys=ON", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"):
                    conn.execute(pragma)
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    raise busy_error() from None
                raise DriverError(exc) from None
            try:
                from .reads import Reader

                _require_current(Reader(conn, "sqlite", db.url))
                yield tx
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, DriverError) and is_busy(exc.orig):
                    raise busy_error() from None
                if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
                    raise busy_error() from None
                raise
        finally:
            conn.close()
    finally:
        if queue is not None:
            queue.release()


@contextmanager
def _pg_transaction(db: Database, *, repeatable_read: bool = False) -> Iterator[Tx]:
    from .reads import _Libpq

    conninfo = _postgres_conninfo(db.url)
    conn = _Libpq.connect(conninfo, db.url)
    if conn is None:  # no libpq to load: psycopg's
        with _psycopg_transaction(db, repeatable_read=repeatable_read) as tx:
            yield tx
        return
    from .reads import Reader

    try:
        tx = LibpqTx(conn)
        tx._run("BEGIN ISOLATION LEVEL REPEATABLE READ" if repeatable_read else "BEGIN", {})
        try:
            _require_current(Reader(conn, "postgresql", db.url))
            _act_for_signed_in(tx)
            yield tx
            tx._run("COMMIT", {})
        except BaseException:
            try:
                tx._run("ROLLBACK", {})
            except DriverError:
                pass  # the connection is gone: nothing was committed
            raise
    finally:
        conn.close()


def _act_for_signed_in(tx: Tx) -> None:
    """Tell PostgreSQL whom this transaction works for (the signed-in person, if any):
    the history trigger and row-level security read it (acting_settings)."""
    from ..access.acting import current_principal

    principal = current_principal()
    if principal is not None:
        tx.rows("SELECT set_config('placering.login', :login, true), set_config('placering.roles', :roles, true), "
                "set_config('placering.municipality', :municipality, true)", acting_settings(principal))


@contextmanager
def _psycopg_transaction(db: Database, *, repeatable_read: bool = False) -> Iterator[DriverTx]:
    import psycopg

    conninfo = _postgres_conninfo(db.url)
    try:
        conn = psycopg.connect(conninfo)
    except psycopg.Error as exc:
        raise DatabaseError(msg("storage.cannot_open", reason=str(exc).strip().splitlines()[0])) from None
    if repeatable_read:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        tx = DriverTx(conn, "postgresql")
        try:
            from .reads import Reader

            _require_current(Reader(conn, "postgresql", db.url))
            _act_for_signed_in(tx)
            yield tx
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    finally:
        conn.close()


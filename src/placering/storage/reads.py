"""Reading without SQLAlchemy: a read command's connection through the database's own driver.

Importing SQLAlchemy costs about 0.25 s of CPU on the project's machines, and its ORM with
SQLModel another 0.3 s: most of what a read command (`register search`, say) takes as a whole
process. A read that needs no ORM object opens a `Reader` instead: sqlite3 (standard library)
or psycopg (PostgreSQL, where the login's row-level security applies as always), the same database URL, the same schema check (`placering init` first), the same
Swedish errors. It only reads: every change goes through the library's write functions and
`storage.transaction` (one write path).

SQL is written once, with `:name` parameters, in the subset both databases read alike;
values come back as the driver gives them (SQLite: dates as ISO text, booleans as 0/1, JSON as
text), so a caller converts what it uses (`as_date`, `as_json`).
"""

from __future__ import annotations

import json
import os
import re
from collections import namedtuple
from datetime import date
from pathlib import Path
from typing import Any, Iterator

from ..errors import PlaceringError
from ..i18n import msg

DEFAULT_URL = "sqlite:///placering.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get("PLACERING_DATABASE_URL") or DEFAULT_URL
    # psycopg 3 is the PostgreSQL driver we ship; accept the plain URL forms people write.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class DatabaseError(PlaceringError):
    """The database cannot be reached, or its schema is not the one this version needs."""

    exit_code = 5


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
        raise DatabaseError(msg("storage.migration_heads", count=len(heads), heads=", ".join(sorted(heads))))
    return heads.pop()


def _sqlite_path(url: str) -> str | None:
    """The file of an SQLite URL (sqlite:///relative or sqlite:////absolute); None for one this
    reader does not take (memory, URL options): the caller then uses SQLAlchemy."""
    rest = url[len("sqlite:///"):]
    if not url.startswith("sqlite:///") or not rest or "?" in rest or rest == ":memory:":
        return None
    return rest


def _postgres_conninfo(url: str) -> str | None:
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return None


_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class Reader:
    """One read-only connection; `rows(sql, params)` gives named tuples."""

    def __init__(self, conn: Any, dialect: str, where: str):
        self.conn, self.dialect, self.where = conn, dialect, where

    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        if self.dialect == "postgresql":
            sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
        try:
            cur = self.conn.cursor()
            cur.execute(sql, params or {})
            names = [d[0] for d in cur.description]
            row = namedtuple("Row", names, rename=True)
            return [row(*r) for r in cur.fetchall()]
        except Exception as exc:  # the driver's own error, with its message
            if isinstance(exc, PlaceringError):
                raise
            raise DatabaseError(msg("cli.database_error", detail=str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)) from None

    def scalar(self, sql: str, params: dict | None = None) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: closing a read connection that already failed
            pass

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def can_read(url: str | None) -> bool:
    """Whether `open_reader` takes this URL (else the caller reads through SQLAlchemy)."""
    url = database_url(url)
    return _sqlite_path(url) is not None or _postgres_conninfo(url) is not None


def open_reader(url: str | None, *, check_schema: bool = True) -> Reader:
    """A read connection to the database at `url` (as `--db` gives it; None: the default),
    refusing a database `placering init` has not created or upgraded, as every command does."""
    url = database_url(url)
    path = _sqlite_path(url)
    if path is not None:
        import sqlite3

        if not Path(path).exists():
            raise DatabaseError(msg("cli.no_database", path=str(Path(path).resolve())))
        try:
            conn = sqlite3.connect(path, timeout=_busy_timeout())
        except sqlite3.Error as exc:
            raise DatabaseError(msg("storage.cannot_open", reason=str(exc))) from None
        reader = Reader(conn, "sqlite", url)
    else:
        conninfo = _postgres_conninfo(url)
        if conninfo is None:
            raise DatabaseError(msg("storage.not_a_url", url=url))
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            conninfo_to_dict(conninfo)  # a malformed host or port: the URL is input too
        except psycopg.ProgrammingError:
            raise DatabaseError(msg("storage.not_a_url", url=url)) from None
        try:
            conn = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise DatabaseError(msg("storage.cannot_open", reason=str(exc).strip().splitlines()[0])) from None
        reader = Reader(conn, "postgresql", url)
    if check_schema:
        try:
            _require_current(reader)
        except BaseException:
            reader.close()
            raise
    return reader


def _busy_timeout() -> float:
    try:
        return float(os.environ.get("PLACERING_BUSY_TIMEOUT") or 30.0)
    except ValueError:
        return 30.0


def _require_current(reader: Reader) -> None:
    if reader.dialect == "sqlite":
        has = reader.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
    else:
        has = reader.scalar("SELECT 1 FROM information_schema.tables WHERE table_name = 'alembic_version' "
                            "AND table_schema = current_schema()")
    rev = reader.scalar("SELECT version_num FROM alembic_version") if has else None
    shown = re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", reader.where)
    if rev is None:
        raise DatabaseError(msg("storage.no_schema", where=shown))
    if rev != head_revision():
        raise DatabaseError(msg("storage.old_schema", revision=rev))


def as_date(value: Any) -> date | None:
    """A date column's value (SQLite gives ISO text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_json(value: Any) -> Any:
    """A JSON column's value (SQLite gives text)."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def chunks_of(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]

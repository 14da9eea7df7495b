"""Reading without SQLAlchemy: a read command's connection through the database's own driver.

Importing SQLAlchemy costs about 0.25 s of CPU on the project's machines, and its ORM with
SQLModel another 0.3 s: most of what a read command (`register search`, say) takes as a whole
process. A read that needs no ORM object opens a `Reader` instead: sqlite3 (standard library)
or, on PostgreSQL, libpq itself (where the login's row-level security applies as always; see
`_Libpq`: importing psycopg would cost the read as much again), the same database URL, the same
schema check (`placering init` first), the same Swedish errors. It only reads: every change
goes through the library's write functions and `storage.transaction` (one write path).
`Reader.many` sends a read's independent queries together (one round trip on PostgreSQL).

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
from functools import lru_cache
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


@lru_cache(maxsize=1024)
def row_type(names: tuple[str, ...]) -> type:
    """The row class of a result with these columns, made once per column list: making a
    namedtuple costs more than reading a small result (a choice or a match reads dozens)."""
    return namedtuple("Row", names, rename=True)


def _named(names: list[str], values: list) -> list[Any]:
    row = row_type(tuple(names))
    return [row(*r) for r in values]


def _driver_error(exc: Exception) -> Exception:
    """The driver's own error, with its message (a PlaceringError as it is)."""
    if isinstance(exc, PlaceringError):
        return exc
    detail = str(exc).strip()
    return DatabaseError(msg("cli.database_error", detail=detail.splitlines()[0] if detail else type(exc).__name__))


class Reader:
    """One read-only connection; `rows(sql, params)` gives named tuples."""

    def __init__(self, conn: Any, dialect: str, where: str):
        self.conn, self.dialect, self.where = conn, dialect, where

    def rows(self, sql: str, params: dict | None = None) -> list[Any]:
        try:
            if self.dialect == "postgresql" and isinstance(self.conn, _Libpq):
                names, values = self.conn.query(sql, params or {})
            else:
                if self.dialect == "postgresql":  # psycopg's own parameters: %(name)s
                    sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
                cur = self.conn.cursor()
                cur.execute(sql, params or {})
                names = [d[0] for d in cur.description]
                values = cur.fetchall()
            return _named(names, values)
        except Exception as exc:
            raise _driver_error(exc) from None

    def many(self, statements: list[tuple[str, dict | None]]) -> list[list[Any]]:
        """`rows` of each (sql, params), on PostgreSQL in one round trip (a read of a fresh
        connection's many small queries waits on the server once instead of once each)."""
        if not isinstance(self.conn, _Libpq):
            return [self.rows(sql, params) for sql, params in statements]
        try:
            answers = self.conn.batch([(sql, params or {}) for sql, params in statements])
        except Exception as exc:
            raise _driver_error(exc) from None
        return [_named(names, values) for names, values in answers]

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
        conn = _Libpq.connect(conninfo, url)
        if conn is None:  # no libpq to load: psycopg, as the rest of placering connects
            conn = _psycopg_connect(conninfo, url)
        reader = Reader(conn, "postgresql", url)
    if check_schema:
        try:
            _require_current(reader)
        except BaseException:
            reader.close()
            raise
    return reader


def _psycopg_connect(conninfo: str, url: str) -> Any:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(conninfo)  # a malformed host or port: the URL is input too
    except psycopg.ProgrammingError:
        raise DatabaseError(msg("storage.not_a_url", url=url)) from None
    try:
        return psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseError(msg("storage.cannot_open", reason=str(exc).strip().splitlines()[0])) from None


# --- PostgreSQL through libpq itself ------------------------------------------------------------
#
# Importing psycopg costs a read command about as much CPU as everything else it does (0.1-0.2 s:
# psycopg's Python layer brings asyncio, ssl, importlib.metadata, logging, ctypes and 60 modules
# of its own, none of which a read uses). The read connection therefore talks to libpq, the
# library psycopg wraps, through ctypes: the very libpq psycopg-binary ships (else the system's),
# so the URL, .pgpass, PG* variables, TLS and authentication behave exactly as psycopg's. It
# only reads: one statement at a time in libpq's autocommit (no transaction stays open), with
# `$n` parameters, results as text converted by their type (bool, integers, floats, numeric,
# text, json, date, timestamp, bytea in hex; any other type is an error, never a guess).

_TEXT_OIDS = frozenset({18, 19, 25, 1042, 1043, 705})  # char, name, text, bpchar, varchar, unknown


def _libpq_files() -> list[str]:
    """psycopg-binary's own libpq (what psycopg loads when psycopg-c is not installed), then the
    system's, by the names the dynamic loader knows (no ldconfig run)."""
    import sys

    found: list[str] = []
    for base in sys.path:  # where `import psycopg_binary` finds it (the working directory aside)
        if not base or not os.path.isdir(os.path.join(base, "psycopg_binary")):
            continue
        for folder in ("psycopg_binary.libs", os.path.join("psycopg_binary", ".dylibs")):
            try:
                names = os.listdir(os.path.join(base, folder))
            except OSError:
                continue
            found += [os.path.join(base, folder, n) for n in sorted(names) if n.startswith("libpq")]
        break
    return found + ["libpq.so.5", "libpq.5.dylib", "libpq.dylib"]


_LIB: Any = None


def _load_libpq() -> Any:
    global _LIB
    if _LIB is None:
        import ctypes
        from ctypes import POINTER, c_char_p, c_int, c_uint, c_void_p

        _LIB = False
        for name in _libpq_files():
            try:
                lib = ctypes.CDLL(name)
                lib.PQexecParams  # noqa: a library of that name that is not libpq
            except (OSError, AttributeError):
                continue
            for fn, args, res in (
                    ("PQenterPipelineMode", [c_void_p], c_int), ("PQexitPipelineMode", [c_void_p], c_int),
                    ("PQpipelineSync", [c_void_p], c_int), ("PQgetResult", [c_void_p], c_void_p),
                    ("PQsendQueryParams", [c_void_p, c_char_p, c_int, POINTER(c_uint), POINTER(c_char_p),
                                           c_void_p, c_void_p, c_int], c_int)):
                if not hasattr(lib, fn):  # libpq before 14: no pipeline (Reader.many goes one by one)
                    continue
                f = getattr(lib, fn)
                f.argtypes, f.restype = args, res
            for fn, args, res in (
                    ("PQconnectdbParams", [POINTER(c_char_p), POINTER(c_char_p), c_int], c_void_p),
                    ("PQconninfoParse", [c_char_p, POINTER(c_void_p)], c_void_p),
                    ("PQconninfoFree", [c_void_p], None), ("PQfreemem", [c_void_p], None),
                    ("PQstatus", [c_void_p], c_int), ("PQerrorMessage", [c_void_p], c_char_p),
                    ("PQparameterStatus", [c_void_p, c_char_p], c_char_p), ("PQfinish", [c_void_p], None),
                    ("PQexecParams", [c_void_p, c_char_p, c_int, POINTER(c_uint), POINTER(c_char_p), c_void_p,
                                      c_void_p, c_int], c_void_p),
                    ("PQresultStatus", [c_void_p], c_int), ("PQresultErrorMessage", [c_void_p], c_char_p),
                    ("PQresultErrorField", [c_void_p, c_int], c_char_p),
                    ("PQntuples", [c_void_p], c_int), ("PQnfields", [c_void_p], c_int),
                    ("PQfname", [c_void_p, c_int], c_char_p), ("PQftype", [c_void_p, c_int], c_uint),
                    ("PQgetvalue", [c_void_p, c_int, c_int], c_char_p),
                    ("PQgetisnull", [c_void_p, c_int, c_int], c_int), ("PQclear", [c_void_p], None),
                    ("PQcmdTuples", [c_void_p], c_char_p)):
                f = getattr(lib, fn)
                f.argtypes, f.restype = args, res
            _LIB = lib
            break
    return _LIB or None


class _QueryError(Exception):
    def __init__(self, message: str, sqlstate: str | None):
        super().__init__(message)
        self.sqlstate = sqlstate


def _param(value: Any) -> tuple[int, bytes | None]:
    """(type oid, text) of a parameter as psycopg sends it: strings untyped (the server infers),
    the rest typed."""
    from datetime import datetime

    if value is None:
        return 0, None
    if isinstance(value, str):
        return 0, value.encode()
    if isinstance(value, bool):
        return 16, b"t" if value else b"f"
    if isinstance(value, int):  # the smallest type that holds it, as psycopg chooses
        oid = 21 if -2**15 <= value < 2**15 else 23 if -2**31 <= value < 2**31 else 20 if -2**63 <= value < 2**63 else 1700
        return oid, str(value).encode()
    if isinstance(value, float):
        return 701, repr(value).encode()
    if isinstance(value, datetime):
        return (1114 if value.tzinfo is None else 1184), value.isoformat().encode()
    if isinstance(value, date):
        return 1082, value.isoformat().encode()
    if type(value).__name__ == "Decimal":
        return 1700, str(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):  # a write's blob (storage.writes)
        return 17, b"\\x" + bytes(value).hex().encode()
    if isinstance(value, (dict, list)):  # a write's JSON: untyped, the column's type decides
        return 0, json.dumps(value).encode()
    raise TypeError(f"cannot send a {type(value).__name__} as a parameter")


def _loader(oid: int) -> Any:
    """The text of a column of type `oid` as a Python value (None: the text itself)."""
    if oid in _TEXT_OIDS:
        return None
    if oid in (20, 21, 23, 26):
        return int
    if oid == 16:
        return lambda v: v == "t"
    if oid in (700, 701):
        return float
    if oid in (114, 3802):
        return json.loads
    if oid == 1082:
        return date.fromisoformat
    if oid in (1114, 1184):
        from datetime import datetime

        return datetime.fromisoformat
    if oid == 1700:
        from decimal import Decimal

        return Decimal
    if oid == 17:
        return _bytea
    raise _QueryError(f"column type {oid} is not read here", None)


def _bytea(value: str) -> bytes:
    if not value.startswith("\\x"):
        raise _QueryError("bytea_output is not 'hex'", None)
    return bytes.fromhex(value[2:])


class _Libpq:
    """One libpq connection (PGconn) for a Reader: `query(sql, params)` → (names, rows)."""

    def __init__(self, lib: Any, pgconn: int):
        self.lib, self.pgconn = lib, pgconn

    @classmethod
    def connect(cls, conninfo: str, url: str) -> "_Libpq | None":
        lib = _load_libpq()
        if lib is None:
            return None
        import ctypes

        error = ctypes.c_void_p()
        parsed = lib.PQconninfoParse(conninfo.encode(), ctypes.byref(error))
        if not parsed:  # a malformed host or port: the URL is input too
            if error.value:
                lib.PQfreemem(error)
            raise DatabaseError(msg("storage.not_a_url", url=url))
        lib.PQconninfoFree(parsed)
        # The URL's own settings, then what this reader needs to read the text it gets: UTF-8.
        keys = (ctypes.c_char_p * 3)(b"dbname", b"client_encoding", None)
        values = (ctypes.c_char_p * 3)(conninfo.encode(), b"UTF8", None)
        pgconn = lib.PQconnectdbParams(keys, values, 1)
        if not pgconn:
            raise DatabaseError(msg("storage.cannot_open", reason="out of memory"))
        if lib.PQstatus(pgconn) != 0:  # CONNECTION_OK
            reason = (lib.PQerrorMessage(pgconn) or b"").decode("utf-8", "replace").strip()
            lib.PQfinish(pgconn)
            raise DatabaseError(msg("storage.cannot_open", reason=reason.splitlines()[0] if reason else "?"))
        conn = cls(lib, pgconn)
        # Dates and byteas as this reader parses them; a server configured otherwise is set
        # for this session (one more round trip only there).
        settings = []
        if not (lib.PQparameterStatus(pgconn, b"DateStyle") or b"").startswith(b"ISO"):
            settings.append("SET DateStyle TO ISO")
        for sql in settings:
            conn.query(sql, {})
        return conn

    def query(self, sql: str, params: dict) -> tuple[list[str], list[tuple]]:
        text, n, types, values = self._statement(sql, params)
        res = self.lib.PQexecParams(self.pgconn, text, n, types, values, None, None, 0)
        if not res:
            raise _QueryError((self.lib.PQerrorMessage(self.pgconn) or b"").decode("utf-8", "replace"), None)
        try:
            return self._result(res)
        finally:
            self.lib.PQclear(res)

    def run(self, sql: str, params: dict) -> tuple[list[str], list[tuple], int]:
        """`query`, and how many rows the statement changed (a write's: storage.writes)."""
        text, n, types, values = self._statement(sql, params)
        res = self.lib.PQexecParams(self.pgconn, text, n, types, values, None, None, 0)
        if not res:
            raise _QueryError((self.lib.PQerrorMessage(self.pgconn) or b"").decode("utf-8", "replace"), None)
        try:
            names, rows = self._result(res)
            count = self.lib.PQcmdTuples(res)
            return names, rows, int(count) if count else -1
        finally:
            self.lib.PQclear(res)

    def batch(self, statements: list[tuple[str, dict]]) -> list[tuple[list[str], list[tuple]]]:
        """Several statements in one round trip (libpq's pipeline mode, libpq 14 and later;
        one at a time on an older libpq). The statements are small, so sending them all before
        reading a result cannot fill the server's input while it waits on its output."""
        lib = self.lib
        if len(statements) < 2 or not hasattr(lib, "PQenterPipelineMode") or not lib.PQenterPipelineMode(self.pgconn):
            return [self.query(sql, params) for sql, params in statements]
        results: list[Any] = []
        error: _QueryError | None = None
        try:
            for sql, params in statements:
                if not lib.PQsendQueryParams(self.pgconn, *self._statement(sql, params), None, None, 0):
                    raise _QueryError((lib.PQerrorMessage(self.pgconn) or b"").decode("utf-8", "replace"), None)
            if not lib.PQpipelineSync(self.pgconn):
                raise _QueryError((lib.PQerrorMessage(self.pgconn) or b"").decode("utf-8", "replace"), None)
            for want_sync in [False] * len(statements) + [True]:
                res = lib.PQgetResult(self.pgconn)  # a statement's result (then NULL), or the sync's
                if not res:  # the connection is gone
                    raise _QueryError((lib.PQerrorMessage(self.pgconn) or b"").decode("utf-8", "replace"), None)
                try:
                    status = lib.PQresultStatus(res)
                    if want_sync or status == 10:  # PGRES_PIPELINE_SYNC
                        if not want_sync or status != 10:
                            raise _QueryError(f"pipeline out of step (result {status})", None)
                        break
                    if error is None:
                        try:
                            results.append(self._result(res))
                        except _QueryError as exc:  # the later ones are aborted: said once
                            error = exc
                finally:
                    lib.PQclear(res)
                extra = lib.PQgetResult(self.pgconn)  # the statement's end: NULL
                if extra:
                    lib.PQclear(extra)
                    raise _QueryError("a statement gave more than one result", None)
        finally:
            lib.PQexitPipelineMode(self.pgconn)
        if error is not None:
            raise error
        return results

    def _statement(self, sql: str, params: dict) -> tuple[bytes, int, Any, Any]:
        import ctypes

        order: dict[str, int] = {}  # name -> its $n (a batch's multi-row INSERT has thousands)

        def number(m: "re.Match[str]") -> str:
            name = m.group(1)
            n = order.get(name)
            if n is None:
                n = order[name] = len(order) + 1
            return f"${n}"

        text = _PARAM.sub(number, sql)
        typed = [_param(params[name]) for name in order]
        n = len(typed)
        types = (ctypes.c_uint * n)(*(t[0] for t in typed)) if n else None
        values = (ctypes.c_char_p * n)(*(t[1] for t in typed)) if n else None
        return text.encode(), n, types, values

    def _result(self, res: int) -> tuple[list[str], list[tuple]]:
        lib = self.lib
        status = lib.PQresultStatus(res)
        if status not in (1, 2):  # PGRES_COMMAND_OK, PGRES_TUPLES_OK
            state = lib.PQresultErrorField(res, ord("C"))
            raise _QueryError((lib.PQresultErrorMessage(res) or b"").decode("utf-8", "replace"),
                              state.decode() if state else None)
        nf, nt = lib.PQnfields(res), lib.PQntuples(res)
        names = [lib.PQfname(res, c).decode() for c in range(nf)]
        loaders = [_loader(lib.PQftype(res, c)) for c in range(nf)]
        get, isnull = lib.PQgetvalue, lib.PQgetisnull
        rows = []
        for r in range(nt):
            row = []
            for c in range(nf):
                raw = get(res, r, c)
                if not raw and isnull(res, r, c):
                    row.append(None)
                    continue
                value = raw.decode()
                load = loaders[c]
                row.append(value if load is None else load(value))
            rows.append(tuple(row))
        return names, rows

    def close(self) -> None:
        if self.pgconn:
            self.lib.PQfinish(self.pgconn)
            self.pgconn = None


def _busy_timeout() -> float:
    try:
        return float(os.environ.get("PLACERING_BUSY_TIMEOUT") or 30.0)
    except ValueError:
        return 30.0


def _require_current(reader: Reader) -> None:
    if isinstance(reader.conn, _Libpq):
        # One round trip: the version itself, its table missing (or not readable) being no
        # schema (information_schema.tables costs the server ~10 ms to plan on every command).
        try:
            found = reader.conn.query("SELECT version_num FROM alembic_version", {})[1]
        except _QueryError as exc:
            if exc.sqlstate not in ("42P01", "42501"):  # undefined_table, insufficient_privilege
                raise DatabaseError(msg("cli.database_error", detail=str(exc).strip().splitlines()[0])) from None
            found = []
        rev = found[0][0] if found else None
    else:
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


class Where:
    """The WHERE clause of the filters a person gave, with named parameters: a filter not given
    (None or empty) adds no condition."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: dict[str, Any] = {}

    def equal(self, column: str, value: Any) -> None:
        if value:
            name = f"w{len(self.params)}"
            self.conditions.append(f"{column} = :{name}")
            self.params[name] = value

    def add(self, condition: str, **params: Any) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    @property
    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.conditions) if self.conditions else ""


def chunks_of(items: list, size: int = 500) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def connection_reader(connection: Any) -> Reader:
    """A `Reader` on an SQLAlchemy connection's own driver connection, inside its transaction:
    an ORM view that shares a direct read's SQL (matching/reads.py) reads what its session
    sees, as the signed-in person its transaction names on PostgreSQL. Not to be closed: the
    connection is the session's."""
    return Reader(connection.connection.driver_connection, connection.dialect.name, str(connection.engine.url))

"""Many rows in one INSERT statement (an import's suppliers, units, offers, routes, permits,
checks and history): one function for every caller, whichever database.

- PostgreSQL: `session.execute(stmt, rows)`, which storage.database's listener sends as one
  COPY … FROM STDIN (or psycopg's executemany where COPY does not apply).
- SQLite: the driver's own `executemany` with the rows as prepared tuples. SQLAlchemy's
  executemany makes the same call but spends ~1 s of CPU per 200,000 rows building each row's
  parameters (20,000 units: ~0.9 s at the import). The statement is SQLAlchemy's own, compiled
  for the rows' keys, and each value goes through the bind processor SQLAlchemy would use for
  it (the compiled statement's), so the rows stored are the same bytes; a column whose rows all
  hold the same object (the import's time in every history row) is processed once. A statement that needs
  anything more (a column default filled in per row, a row without one of the first row's
  keys) goes through `session.execute` as before, with nothing written yet.
"""

from __future__ import annotations

from typing import Any

# Fewer rows than this go through SQLAlchemy (compiling the statement costs more than it saves).
DRIVER_ROWS = 20


def insert_many(session: Any, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """Execute the INSERT `stmt` once per row of `rows` (dicts with the same keys), in the
    session's transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite" or len(rows) < DRIVER_ROWS or not dialect.positional:
        session.execute(stmt, rows)
        return
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]), for_executemany=True)
    names = compiled.positiontup
    first = rows[0]
    if (names is None or any(n not in first for n in names) or compiled.literal_execute_params
            or compiled.post_compile_params or compiled.insert_prefetch or compiled._insertmanyvalues
            or compiled.implicit_returning or compiled.schema_translate_map):
        session.execute(stmt, rows)
        return
    procs = compiled._bind_processors
    try:
        columns = [[r[n] for r in rows] for n in names]
    except KeyError:  # a row without one of the first row's keys: SQLAlchemy says so
        session.execute(stmt, rows)
        return
    for i, n in enumerate(names):
        proc = procs.get(n)
        if proc is not None:
            values = columns[i]
            if len({id(v) for v in values}) == 1:  # one value for every row (the import's time)
                columns[i] = [proc(values[0])] * len(values)
            else:
                columns[i] = [proc(v) for v in values]
    params = list(zip(*columns))
    sql = compiled.string
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, params)
    except dialect.loaded_dbapi.Error as exc:
        from sqlalchemy.exc import DBAPIError

        raise DBAPIError.instance(sql, params[:10], exc, dialect.loaded_dbapi.Error,
                                  dialect=dialect) from exc
    finally:
        cursor.close()

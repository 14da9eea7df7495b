"""SQLite: an INSERT of many rows (an import's suppliers, units, offers, routes, permits, checks
and history) goes to the driver's own executemany with prepared tuples (storage.bulk) and stores
exactly what SQLAlchemy's executemany stores: the same values of the same storage types, ids and
order; a refused row is SQLAlchemy's error, and nothing of the statement is kept."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, text

from placering.cli import cli
from test_matching_support import load_register, unit

AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)


def _units(n: int) -> list[dict]:
    # More rows than storage.bulk.DRIVER_ROWS in every table the import fills.
    return [unit(f"U-B{i}", free=1 + i % 3, places=6, municipality=("Göteborg", "Mölndal")[i % 2],
                 protected=i % 7 == 0, price=4000 + 12.5 * i) for i in range(n)]


def _stored(engine) -> dict[str, list]:
    """Every row of every table as SQLite stores it: quote() tells text from numbers and blobs."""
    with engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))]
        out = {}
        for t in tables:
            cols = [r[1] for r in conn.execute(text(f'PRAGMA table_info("{t}")'))]
            sql = "SELECT " + ", ".join(f'quote("{c}")' for c in cols) + f' FROM "{t}" ORDER BY rowid'
            out[t] = [tuple(r) for r in conn.execute(text(sql))]
        return out


@pytest.fixture
def inserts():
    """INSERT statements SQLAlchemy sent as executemany (not the driver's own path)."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if executemany and statement.startswith("INSERT"):
            seen.append(statement.split(" (")[0])

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


def test_an_import_on_the_driver_stores_what_sqlalchemys_executemany_stores(db_url, engine, run, tmp_path,
                                                                           monkeypatch, inserts):
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL sends many rows as COPY (test_pg_bulk)")
    from placering.storage import bulk, database

    monkeypatch.setattr("placering.clock.now", lambda: AT)  # the same timestamps in both databases
    other_path = tmp_path / "other.db"
    shutil.copy(db_url.removeprefix("sqlite:///"), other_path)  # the same fresh database
    load_register(run, tmp_path, *_units(30))
    assert inserts == []  # every table's rows went to the driver
    on_driver = _stored(engine)
    assert len(on_driver["unit"]) == 30 and len(on_driver["history"]) > 60

    monkeypatch.setattr(bulk, "DRIVER_ROWS", 10**9)  # SQLAlchemy's executemany, as before
    other = f"sqlite:///{other_path}"
    load_register(lambda *a, **kw: CliRunner().invoke(cli, ["--db", other, *a], catch_exceptions=False), tmp_path,
                  *_units(30))
    assert {"INSERT INTO supplier", "INSERT INTO unit", "INSERT INTO offer", "INSERT INTO unit_route",
            "INSERT INTO permit", "INSERT INTO history"} <= set(inserts)
    other_engine = database.make_engine(other)
    try:
        assert _stored(other_engine) == on_driver
    finally:
        other_engine.dispose()


def test_a_refused_row_is_sqlalchemys_error_and_keeps_nothing(db_url, engine):
    if not db_url.startswith("sqlite"):
        pytest.skip("the driver's path is SQLite's")
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from placering.storage.bulk import insert_many
    from placering.storage.models import Supplier

    rows = [{"org_nr": f"556000-{i:04d}", "name": f"Bolag {i}", "name_key": f"bolag {i}", "legal_form": "AB",
             "created_at": AT} for i in range(25)]
    rows.append(dict(rows[3]))  # org_nr is unique
    with Session(engine) as session:
        with pytest.raises(IntegrityError):
            insert_many(session, Supplier.__table__.insert(), rows)
        session.rollback()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM supplier")).scalar() == 0

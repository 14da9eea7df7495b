"""PostgreSQL: an INSERT of many rows goes as one COPY (storage.database._copy_many) and stores
exactly what one INSERT per row stores; where row-level security applies to the login (the
service login's history) it goes as INSERTs, and the database's guards hold either way."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from conftest import snapshot
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from placering.cli import cli
from test_matching_support import load_register, unit
from test_roles import as_, people  # noqa: F401 (people: a fixture)

AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=timezone.utc)


def _units(n: int) -> list[dict]:
    # More rows than storage.database.COPY_FROM_ROWS in every table the import fills.
    return [unit(f"U-B{i}", free=1 + i % 3, places=6, municipality=("Göteborg", "Mölndal")[i % 2],
                 protected=i % 7 == 0, price=4000 + 12.5 * i) for i in range(n)]


@pytest.fixture
def copies(monkeypatch):
    """The COPY statements psycopg is asked to run: 'COPY unit', 'COPY history', …"""
    import psycopg

    made: list[str] = []
    real = psycopg.Cursor.copy

    def copy(self, statement, *args, **kw):
        made.append(str(statement).split(" (")[0])
        return real(self, statement, *args, **kw)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)
    return made


@pytest.fixture
def other_db(db_url, pg_template):
    """A second fresh database on the same server (PostgreSQL only)."""
    name = f"placering_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(os.environ["PLACERING_TEST_PG_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield make_url(db_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_an_import_sent_as_copy_stores_the_rows_one_insert_per_row_stores(db_url, engine, run, tmp_path, monkeypatch,
                                                                           copies, request):
    if not db_url.startswith("postgresql"):
        pytest.skip("COPY is PostgreSQL's; SQLite inserts in process")
    from placering.storage import database

    monkeypatch.setattr("placering.clock.now", lambda: AT)  # the same timestamps in both databases
    load_register(run, tmp_path, *_units(30))
    assert {"COPY supplier", "COPY unit", "COPY offer", "COPY unit_route", "COPY permit",
            "COPY history"} <= set(copies)
    copied = snapshot(engine)
    assert len(copied["unit"]) == 30 and len(copied["history"]) > 60

    other = request.getfixturevalue("other_db")
    monkeypatch.setattr(database, "COPY_FROM_ROWS", 10**9)  # every row its own INSERT, as before
    copies.clear()
    load_register(lambda *a, **kw: CliRunner().invoke(cli, ["--db", other, *a], catch_exceptions=False), tmp_path,
                  *_units(30))
    assert copies == []
    other_engine = database.make_engine(other)
    try:
        assert snapshot(other_engine) == copied
    finally:
        other_engine.dispose()


def test_the_service_login_imports_history_as_inserts_under_row_level_security(people, db_url, engine, tmp_path,
                                                                                copies):
    """COPY FROM refuses a table whose row-level security applies to the login: the service's
    history goes as INSERTs (each checked by the history trigger and the policies); the register
    tables, without row-level security, as COPY."""
    svc = people["svc"]
    with engine.connect() as conn:
        before = conn.execute(text("SELECT max(id) FROM history")).scalar()
    load_register(lambda *a, **kw: as_(db_url, svc, *a), tmp_path, *_units(25))
    assert "COPY unit" in copies and "COPY history" not in copies
    with engine.connect() as conn:
        created = conn.execute(text("SELECT count(*), min(actor), max(actor) FROM history "
                                    "WHERE entity_kind = 'unit' AND action = 'created' AND id > :n"), {"n": before}).one()
    assert tuple(created) == (25, "registervård", "registervård")

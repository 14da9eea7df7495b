"""Fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

`db_url` is parametrised over both back ends. PostgreSQL tests use the server named by
PLACERING_TEST_PG_URL (scripts/test.sh starts a throwaway cluster and sets it); without it
they are skipped, unless PLACERING_REQUIRE_PG=1 (as in CI), which turns that into a failure.
Each test gets its own database, cloned from a migrated template, so tests cannot see each
other's data and the migrations themselves run on both back ends.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from placering.cli import cli
from placering.storage.database import database_url, make_engine, upgrade

BACKENDS = ["sqlite", "postgresql"]

# The parsed-rules cache (placering/diskcache.py) of the test run, not the user's.
os.environ.setdefault("PLACERING_CACHE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"placering-test-cache-{os.getuid()}"))


def _pg_base() -> str | None:
    url = os.environ.get("PLACERING_TEST_PG_URL")
    if not url:
        if os.environ.get("PLACERING_REQUIRE_PG") == "1":
            pytest.fail("PLACERING_REQUIRE_PG=1 but PLACERING_TEST_PG_URL is not set")
        return None
    return database_url(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template():
    base = _pg_base()
    if base is None:
        return None
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"placering_tmpl_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(base).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path, sqlite_template) -> str:
    """URL of a fresh, migrated, empty database on the parametrised back end."""
    if request.param == "sqlite":
        path = tmp_path / "placering.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    base = _pg_base()
    if base is None:
        pytest.skip("PostgreSQL not configured (set PLACERING_TEST_PG_URL, or run scripts/test.sh)")
    template = request.getfixturevalue("pg_template")
    name = f"placering_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def run(db_url):
    """Run a placering command against the test database, as a user would: run('register', 'show', 'U-1')."""
    runner = CliRunner()

    def _run(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(cli, ["--db", db_url, *args], input=input, env=env, catch_exceptions=False)

    return _run


def table_counts(engine) -> dict[str, int]:
    """Row counts of every table: 'the database is unchanged' is checked by comparing these."""
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        return {
            name: conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in SQLModel.metadata.tables
        }


def snapshot(engine) -> dict[str, list]:
    """Every row of every table, for asserting a rejected command changed nothing at all."""
    from sqlmodel import SQLModel

    with engine.connect() as conn:
        return {
            name: sorted(
                (tuple(str(v) for v in row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))),
            )
            for name in SQLModel.metadata.tables
        }


def said(message: str) -> str:
    """What stderr holds when a command refuses with `message` (a Message from the catalogue, or
    the Swedish written out), after 'Fel: '. tests/test_messages.py pins the Swedish of the
    messages people meet most."""
    from placering.cli.messages import swedish

    return f"Fel: {swedish(message)}\n"

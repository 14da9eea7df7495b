"""Read commands without SQLAlchemy (storage.reads, issue 22): the same answers as the ORM.

`register show UNIT`, `register search` and `register history` read through the database's own driver (sqlite3 or
libpq) for start-up; what they print, as a table, CSV or JSON, is what the ORM path prints,
on both databases, including the refusals the ORM path gives (it answers those).
"""

from __future__ import annotations

import pytest

from placering.cli import common
from test_matching_support import load_register, supplier_of, unit


@pytest.fixture
def register_with_history(run, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1", price=3000, agreement="RA-DELAT"),
                        unit("U-2", price=3100, agreement="RA-DELAT"), unit("U-3", protected=True),
                        unit("U-4", insats="skyddat_boende", route="egen_regi", price=None))
    for args in (("register", "status", "U-2", "watch", "--note", "uppföljning", "--by", "kvalitet"),
                 ("register", "agreement", "RA-DELAT", "order_stop", "--supplier", supplier_of(doc, "U-1"),
                  "--note", "beställningsstopp", "--by", "ink"),
                 ("register", "check", supplier_of(doc, "U-3"), "credit_rating", "--result", "pass", "--value", "40",
                  "--on", "2026-01-15", "--by", "kvalitet"),
                 ("register", "complaint", "U-1", "--category", "treatment", "--on", "2026-02-01", "--by", "spink")):
        r = run(*args)
        assert r.exit_code == 0, r.output
    return doc


def test_history_and_search_read_without_sqlalchemy_as_the_orm_does(run, register_with_history, monkeypatch):
    doc = register_with_history
    questions = [("history", "U-1"), ("history", "u-2"), ("history", supplier_of(doc, "U-1")), ("history", "RA-DELAT"),
                 ("history", "ra-delat"), ("history", "U-3", "--show-protected"), ("history", "--kind", "status"),
                 ("history", "--since", "2026-01-01", "--limit", "2"), ("history", "--unit", "U-1", "--actor", "ink"),
                 ("history", "--supplier", supplier_of(doc, "U-3")), ("history",),
                 ("history", "--kind", "ingen-sådan"), ("history", "U-404"), ("history", "Enhet U-1"),
                 ("show", "U-1"), ("show", "u-2"), ("show", "U-3"), ("show", "U-3", "--show-protected"),
                 ("show", "U-4"), ("show", supplier_of(doc, "U-1")), ("show", "RA-DELAT"), ("show", "Enhet U-2"),
                 ("show", "U-404"), ("show", "ra-delat"), ("show", supplier_of(doc, "U-3"), "--show-protected"),
                 ("show", supplier_of(doc, "U-3").replace("-", "")), ("show", "999999-9999"), ("show", "enhet u-1"),
                 ("search", "enhet"), ("search", "U-2"), ("search", supplier_of(doc, "U-4")),
                 ("search", "enhet", "--insats", "skyddat_boende"), ("search", "enhet", "--route", "ramavtal",
                                                                      "--status", "watch")]
    real = common.AppContext.reader
    for question in questions:
        for output in ((), ("--json",), ("--csv",)):
            args = ("register", *question, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args)
            assert (read.exit_code, read.output) == (orm.exit_code, orm.output), args
    assert run("register", "history", "U-1", "--json").output.count('"entity_id"') >= 3  # not empty answers


@pytest.mark.parametrize("args", [("register", "show", "U-1"), ("register", "history", "U-1"), ("audit", "paused")])
def test_reads_load_neither_sqlalchemy_nor_psycopg(register_with_history, db_url, tmp_path, monkeypatch, args):
    """A read answers without SQLAlchemy, and on PostgreSQL without psycopg: its read connection
    talks to libpq itself (storage.reads; psycopg's import was half a read command's CPU)."""
    import test_startup

    monkeypatch.setattr(test_startup, "HEAVY", (*test_startup.HEAVY, "psycopg"))
    loaded = test_startup.loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not {"sqlalchemy", "sqlmodel", "pydantic", "psycopg"} & set(loaded), args


def test_register_proposals_read_without_sqlalchemy_as_the_orm_does(run, register_with_history, monkeypatch):
    """`register proposals` reads through the database's own driver (register/reads.py): the
    same table, CSV and JSON as the ORM view for every filter, and its refusals (what it
    imports: tests/test_startup.py)."""
    import json

    doc = register_with_history
    for day in ("2026-02-02", "2026-02-03", "2026-02-04"):
        assert run("complaint", "add", "U-2", "--category", "documentation", "--on", day, "--by", "spink").exit_code == 0
    found = json.loads(run("register", "proposals", "--json").output)
    assert found, "the complaints raise a proposal"
    assert run("register", "proposals", "accept", str(found[0]["id"]), "--note", "granskas", "--by", "kvalitet").exit_code == 0
    questions = [(), ("--status", "accepted"), ("--status", "open"), ("--status", "nonsense"),
                 ("--kind", "deepened_control"), ("--supplier", supplier_of(doc, "U-2")), ("--supplier", "999999-9999"),
                 ("--unit", "u-2"), ("--unit", "U-404"), ("--since", "2020-01-01", "--until", "2099-12-31"),
                 ("--until", "2020-01-01")]
    real = common.AppContext.reader
    for question in questions:
        for output in ((), ("--json",), ("--csv",)):
            args = ("register", "proposals", *question, *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args)
            assert (read.exit_code, read.output) == (orm.exit_code, orm.output), args
    monkeypatch.setattr(common.AppContext, "reader", real)
    assert json.loads(run("register", "proposals", "--json").output)[0]["decided_at"]


PG_ONLY = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@PG_ONLY
def test_a_postgresql_read_gives_the_values_psycopg_gives(db_url):
    """Every type the reads use, and parameters of every kind they send, come back through
    libpq as psycopg gives them (the ORM path's driver)."""
    from datetime import date, datetime, timezone

    from placering.storage.reads import Reader, _Libpq, _postgres_conninfo, _psycopg_connect, database_url, open_reader

    sql = ("SELECT :s AS s, :s = :s AS same, :i AS i, :b AS b, :f AS f, :d AS d, :t AS t, :none AS nothing, "
           ":i + 1 AS plus, :small * 1000 AS product, '{\"a\": [1, \"å\"], \"b\": null}'::json AS j, "
           "CAST('{\"c\": 2}' AS jsonb) AS jb, CAST(NULL AS text) AS n, '' AS empty, 'a%b' AS percent, "
           "CAST(2.50 AS numeric) AS num, CAST(1.5 AS double precision) AS dbl, CAST('\\x00ff' AS bytea) AS raw, "
           "CAST('2026-03-01 12:00' AS timestamp) AS naive, COUNT(*) AS c, version_num FROM alembic_version "
           "GROUP BY version_num")
    params = {"s": "Åsa's vård: 50 %", "i": 2 ** 40, "small": 7, "b": True, "f": 0.1, "d": date(2024, 2, 29),
              "t": datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc), "none": None}
    with open_reader(db_url) as reader:
        assert isinstance(reader.conn, _Libpq)
        direct = reader.rows(sql, params)
        # several statements in one round trip (libpq's pipeline): each its own answer
        assert reader.many([(sql, params), ("SELECT :x AS x WHERE :x > 1", {"x": 1}), ("SELECT 2 AS two", None)]) == [
            direct, [], [(2,)]]
    conninfo = _postgres_conninfo(database_url(db_url))
    with Reader(_psycopg_connect(conninfo, db_url), "postgresql", db_url) as reader:
        through_psycopg = reader.rows(sql, params)
    assert direct == through_psycopg
    assert [type(v) for v in direct[0]] == [type(v) for v in through_psycopg[0]]  # True is not 1 here
    row = direct[0]
    assert (row.s, row.same, row.i, row.plus, row.product, row.b, row.d, row.t.isoformat()) == (
        params["s"], True, 2 ** 40, 2 ** 40 + 1, 7000, True, date(2024, 2, 29), "2026-01-02T03:04:05.600000+00:00")
    assert (row.j, row.jb, row.n, row.empty) == ({"a": [1, "å"], "b": None}, {"c": 2}, None, "")
    assert (row.percent, str(row.num), row.dbl, row.raw, row.naive, row.c) == (
        "a%b", "2.50", 1.5, b"\x00\xff", datetime(2026, 3, 1, 12), 1)


@PG_ONLY
def test_a_postgresql_read_says_what_is_wrong_in_swedish(db_url):
    """A database that cannot be reached, one without placering's schema and a failing query:
    the same Swedish errors as before, exit 5, no traceback."""
    from click.testing import CliRunner
    from sqlalchemy.engine import make_url

    from placering.cli import cli
    from placering.storage.reads import DatabaseError, open_reader

    closed = make_url(db_url).set(port=1).render_as_string(hide_password=False)
    empty = make_url(db_url).set(database="postgres").render_as_string(hide_password=False)
    for url, said in ((closed, "kan inte öppna databasen: "), (empty, "har inget placering-schema"),
                      ("postgresql://u@[::1/x", "är ingen databas-URL")):
        result = CliRunner().invoke(cli, ["--db", url, "register", "search", "vård"])
        assert result.exit_code == 5 and said in result.stderr and "Traceback" not in result.output, (url, result.output)
    with open_reader(db_url) as reader:
        with pytest.raises(DatabaseError, match="no_such_table"):
            reader.rows("SELECT * FROM no_such_table")
        with pytest.raises(DatabaseError, match="no_such_table"):
            reader.many([("SELECT 1 AS one", None), ("SELECT * FROM no_such_table", None), ("SELECT 2 AS two", None)])
        assert reader.scalar("SELECT COUNT(*) FROM unit WHERE unit_id = :u", {"u": "U-1"}) == 0  # still usable
        assert reader.many([("SELECT 1 AS one", None), ("SELECT 2 AS two", None)]) == [[(1,)], [(2,)]]

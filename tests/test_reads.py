"""Read commands without SQLAlchemy (storage.reads, issue 22): the same answers as the ORM.

`register show UNIT`, `register search` and `register history` read through the database's own driver (sqlite3 or
psycopg) for start-up; what they print, as a table, CSV or JSON, is what the ORM path prints,
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
                 ("show", "U-404"),
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


def test_show_of_a_unit_loads_no_sqlalchemy(register_with_history, db_url, tmp_path):
    from test_startup import loaded_by

    assert not {"sqlalchemy", "sqlmodel", "pydantic"} & set(loaded_by(tmp_path, "register", "show", "U-1", db_url=db_url))

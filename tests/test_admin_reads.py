"""`admin user list` and `admin token list` read without SQLAlchemy (access/reads.py, issue 22
item 1): the same rows as the ORM view (access.users.list_users, access.tokens.list_tokens), the
same authority decision (access.roles.admin_login) and the same refusals, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.engine import make_url

from placering.cli import cli

PASSWORD = "hemligt-lösen-1"


def orm_lists(engine):
    from placering.access.policy import local_principal
    from placering.access.tokens import list_tokens
    from placering.access.users import list_users, require_admin
    from placering.storage import transaction

    with transaction(engine) as session:
        return list_users(session), list_tokens(session, local_principal(require_admin(session)))


def direct_lists(db_url):
    from placering.access.reads import open_admin_reader, tokens, users

    reader, info = open_admin_reader(db_url)
    with reader:
        return users(reader, info), tokens(reader, info)


@pytest.fixture
def accounts(db_url, run, engine):
    """Two accounts (one with a local password), four tokens: active, revoked, expired and a
    person's own; yields the logins, then drops the PostgreSQL logins `user add` made."""
    tag = uuid.uuid4().hex[:6]
    anna, bo = f"anna_{tag}", f"bo_{tag}"
    assert run("admin", "user", "add", anna, "--role", "admin", "--role", "auditor").exit_code == 0
    r = run("admin", "user", "add", bo, "--role", "social_worker", "--municipality", "Mölndal", "--password-stdin",
            input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    for name, roles in (("kase", ["handler"]), ("revisor", ["auditor"]), ("=gammal", ["auditor"])):
        r = run("admin", "token", "create", name, *[a for role in roles for a in ("--role", role)], "--json")
        assert r.exit_code == 0, r.output
    assert run("admin", "token", "revoke", "2").exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_token SET expires_at = :t WHERE id = 3"),
                     {"t": __import__("datetime").datetime(2020, 1, 1, 12, 0)})
        conn.execute(text("UPDATE api_token SET account = :a WHERE id = 1"), {"a": anna})
    yield anna, bo
    if db_url.startswith("postgresql"):
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            for login in (anna, bo):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')


def test_admin_lists_read_directly_are_the_orm_views(accounts, db_url, engine, run):
    users, tokens = direct_lists(db_url)
    assert (users, tokens) == orm_lists(engine)
    anna, bo = accounts
    assert [(u["user"], u["roles"], u["municipality"], u["local_password"]) for u in users] == [
        (anna, ["auditor", "admin"], None, False), (bo, ["social_worker"], "Mölndal", True)]
    assert [(t["id"], t["account"], t["state"]) for t in tokens] == [(1, anna, "active"), (2, None, "revoked"),
                                                                      (3, None, "expired")]
    # what the commands print is these documents
    from placering.jsondata import to_jsonable

    for args, document in ((["admin", "user", "list", "--json"], users), (["admin", "token", "list", "--json"], tokens)):
        printed = run(*args)
        assert printed.exit_code == 0 and json.loads(printed.stdout) == json.loads(json.dumps(to_jsonable(document)))


def _login_url(db_url: str, login: str) -> str:
    return make_url(db_url).set(username=login, password=PASSWORD).render_as_string(hide_password=False)


def test_the_admin_lists_refuse_whom_the_orm_view_refuses(db_url, engine, run):
    """On PostgreSQL: a service login without the admin role is refused by roles.admin_login, one
    with it lists; a person's own login meets the CLI's refusal for a person's login (the ORM
    view's), whatever its roles."""
    if not db_url.startswith("postgresql"):
        pytest.skip("database logins exist on PostgreSQL only")
    tag = uuid.uuid4().hex[:6]
    svc, svcadm, person = f"svc_{tag}", f"svcadm_{tag}", f"adm_{tag}"
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{svc}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE placering_service, "
                             "placering_handler")
        conn.exec_driver_sql(f"CREATE ROLE \"{svcadm}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE placering_service, "
                             "placering_admin")
        conn.exec_driver_sql(f"CREATE ROLE \"{person}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE placering_admin")
    try:
        def as_(login, *args):
            return CliRunner().invoke(cli, ["--db", _login_url(db_url, login), *args], catch_exceptions=False)

        for args in (["admin", "user", "list"], ["admin", "token", "list", "--json"]):
            refused = as_(svc, *args)
            assert refused.exit_code != 0 and refused.stdout == ""
            assert refused.stderr == (f"Fel: bara en administratör hanterar användare: inloggningen '{svc}' har "
                                      "rollerna handläggare\n")
            assert as_(svcadm, *args).exit_code == 0
            mine = as_(person, *args)
            assert mine.exit_code == 6 and mine.stderr.startswith(f"Fel: databasinloggningen '{person}' kan bara läsa")
        assert json.loads(as_(svcadm, "admin", "token", "list", "--json").stdout) == []
    finally:
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            for login in (svc, svcadm, person):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')


def test_register_history_table_page_is_the_orm_views(tmp_path, db_url, engine, run):
    """`register history` as a table reads only the rows shown and counts in SQL
    (register.reads.history_tail): the same page as the ORM view's whole list cut."""
    from placering.register import views
    from placering.register.reads import history_tail
    from placering.storage.reads import open_reader
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1", free=3, protected=True), unit("U-2", agreement="RA-9"))
    for filters in ({}, {"limit": 2}, {"limit": 500}, {"unit_id": "U-2"}, {"show_protected": True}):
        with open_reader(db_url) as reader:
            page = history_tail(reader, rows=3, **filters)
        assert page == views.history_tail(engine, rows=3, **filters), filters
        assert 0 < len(page["entries"]) <= 3 and page["total"] >= len(page["entries"])

"""Roles on the shared PostgreSQL server: each person connects as their own login (SCRAM
password), PostgreSQL enforces what each role may do, also when the CLI is bypassed with plain
SQL, and history records the authenticated login. On SQLite (single-user) users do not exist."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from conftest import snapshot
from placering.cli import cli
from test_matching_support import load_register, request, unit, write_request

PASSWORD = "hemligt-lösen-1"
ROLES = {  # short name -> roles (and municipality)
    "adm": (["admin"], None),
    "hand": (["handler"], None),
    "swm": (["social_worker"], "Mölndal"),
    "swg": (["social_worker"], "Göteborg"),
    "maint": (["maintainer"], None),
    "ink": (["procurement"], None),
    "gransk": (["reviewer"], None),
    "hgr": (["handler", "reviewer"], None),
    "revisor": (["auditor"], None),
}


def as_login(db_url: str, login: str) -> str:
    url = make_url(db_url).set(username=login, password=PASSWORD)
    return url.render_as_string(hide_password=False)


@pytest.fixture
def people(db_url, run, tmp_path):
    """A register, an admin added by the installation account, and everyone else added by the
    admin; yields {short name: login}, then drops the logins (roles are cluster-wide)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("roles exist on the shared PostgreSQL server only (the SQLite case is tested below)")
    load_register(run, tmp_path, unit("U-1", free=1, municipality="Göteborg"),
                  unit("U-2", "egen_regi", None, municipality="Mölndal", buyers=("Mölndal",)),
                  unit("U-D", "direktupphandling", 1900, insats="socialt_boende", age=(18, 65)))
    tag = uuid.uuid4().hex[:6]
    logins = {short: f"{short}_{tag}" for short in ROLES}
    first = run("admin", "user", "add", logins["adm"], "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    assert first.exit_code == 0, first.output
    for short, (roles, municipality) in ROLES.items():
        if short == "adm":
            continue
        args = ["admin", "user", "add", logins[short], *[a for r in roles for a in ("--role", r)], "--password-stdin"]
        if municipality:
            args += ["--municipality", municipality]
        r = as_(db_url, logins["adm"], *args, input=PASSWORD + "\n")
        assert r.exit_code == 0, r.output
    yield logins
    admin = create_engine(make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for login in logins.values():
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
    admin.dispose()


def as_(db_url: str, login: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", as_login(db_url, login), *args], input=input, catch_exceptions=False)


def sql(db_url: str, login: str, statement: str, **params):
    """Plain SQL as the login, bypassing the CLI: returns the rows, or the database's refusal."""
    engine = create_engine(as_login(db_url, login).replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else result.rowcount
    except DBAPIError as exc:
        return exc.orig.sqlstate, str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()


def match(db_url, login, tmp_path, rid, municipality="Göteborg"):
    path = write_request(tmp_path, request(rid, municipality=municipality, home_municipality=municipality))
    return as_(db_url, login, "match", str(path), "--engine", "reference", "--json")


def register(engine):
    """Every table but the caches a command may fill before it is refused (matching/snapshots.py)."""
    return {t: rows for t, rows in snapshot(engine).items() if t not in ("register_snapshot", "snapshot_blob", "rule_set")}


def refused(result, engine, before, *, code=6, says=""):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert says in result.stderr, result.stderr
    assert register(engine) == before


def test_what_each_role_may_and_may_not_do_through_the_cli(people, db_url, engine, tmp_path):
    p = people
    # handler: matches for every municipality; history names the login, whatever is typed
    r = match(db_url, p["hand"], tmp_path, "R-G1")
    assert r.exit_code == 0, r.output
    before = register(engine)
    r = as_(db_url, p["hand"], "match", str(write_request(tmp_path, request("R-G2"))), "--by", "någon-annan")
    refused(r, engine, before, code=2, says=f"registreras en ändring under din databasinloggning '{p['hand']}'")
    # ... but may not change a unit's status
    refused(as_(db_url, p["hand"], "register", "status", "U-1", "watch", "--note", "x"), engine, before,
            says=f"inte tillåtet för inloggningen '{p['hand']}' (roller: handler)")

    # maintainer: unit status yes (recorded under the login), matching no
    r = as_(db_url, p["maint"], "register", "status", "U-1", "watch", "--note", "kreditbetyg")
    assert r.exit_code == 0, r.output
    hist = json.loads(as_(db_url, p["revisor"], "register", "history", "U-1", "--json").stdout)
    assert [(h["action"], h["actor"]) for h in hist][-1] == ("status", p["maint"])
    before = register(engine)
    refused(match(db_url, p["maint"], tmp_path, "R-G3"), engine, before, says="permission denied")

    # procurement: framework agreements yes, unit status no
    r = as_(db_url, p["ink"], "register", "agreement", "RA-U-1", "order_stop", "--note", "avtalsbrott")
    assert r.exit_code == 0, r.output
    before = register(engine)
    refused(as_(db_url, p["ink"], "register", "status", "U-1", "published", "--note", "x"), engine, before)

    # social workers: their own municipality only
    refused(match(db_url, p["swm"], tmp_path, "R-G4"), engine, before, says="row-level security")
    r = match(db_url, p["swm"], tmp_path, "R-M1", "Mölndal")
    assert r.exit_code == 0, r.output
    r = as_(db_url, p["swm"], "request", "show", "R-G1", "--json")
    assert r.exit_code == 3 and "R-G1" in r.stderr
    assert as_(db_url, p["swg"], "request", "show", "R-G1", "--json").exit_code == 0
    r = as_(db_url, p["swg"], "request", "show", "R-M1", "--json")
    assert r.exit_code == 3

    # auditor: reads everything, history included; writes nothing
    log = json.loads(as_(db_url, p["revisor"], "audit", "log", "--json").stdout)
    actors = {e["actor"] for e in log["entries"]}
    assert {p["hand"], p["maint"], p["ink"], p["swm"]} <= actors
    before = register(engine)
    refused(as_(db_url, p["revisor"], "register", "status", "U-1", "published", "--note", "x"), engine, before)

    # admin user add/list/remove: an admin only
    refused(as_(db_url, p["hand"], "admin", "user", "add", "x_" + p["hand"], "--role", "auditor"), engine, before,
            says="bara en administratör hanterar användare")
    listed = {u["user"]: u for u in json.loads(as_(db_url, p["adm"], "admin", "user", "list", "--json").stdout)}
    assert listed[p["swm"]]["roles"] == ["social_worker"] and listed[p["swm"]]["municipality"] == "Mölndal"
    assert listed[p["hgr"]]["roles"] == ["handler", "reviewer"]
    r = as_(db_url, p["adm"], "admin", "user", "remove", p["maint"])
    assert r.exit_code == 0, r.output
    before = register(engine)
    refused(as_(db_url, p["maint"], "register", "status", "U-1", "published", "--note", "x"), engine, before,
            says="ingen placering-roll")


def test_reviewer_never_reviews_a_case_they_matched(people, db_url, engine, tmp_path):
    p = people
    dp = request("R-DP", "socialt_boende", "akutboende", age=30)
    r = as_(db_url, p["hgr"], "match", str(write_request(tmp_path, dp)), "--engine", "reference", "--json")
    assert r.exit_code == 0, r.output
    review_id = json.loads(r.stdout)["review_id"]
    before = register(engine)
    refused(as_(db_url, p["hgr"], "review", "approve", str(review_id), "--note", "ok"), engine, before, code=4,
            says=f"{p['hgr']} har själv handlagt förfrågan 'R-DP'; granskning {review_id} avgörs av en annan granskare")
    # bypassing the CLI: the row policy hides the case from its own handler's update
    assert sql(db_url, p["hgr"], "UPDATE review SET status = 'approved' WHERE id = :id", id=review_id) == 0
    # a handler is no reviewer at all
    code, _ = sql(db_url, p["hand"], "UPDATE review SET status = 'approved' WHERE id = :id", id=review_id)
    assert code == "42501"
    assert register(engine) == before
    r = as_(db_url, p["gransk"], "review", "approve", str(review_id), "--note", "rimligt pris")
    assert r.exit_code == 0, r.output
    shown = json.loads(as_(db_url, p["revisor"], "review", "show", str(review_id), "--json").stdout)
    assert (shown["status"], shown["reviewer"]) == ("approved", p["gransk"])


def test_plain_sql_is_refused_by_the_database(people, db_url, tmp_path):
    p = people
    assert match(db_url, p["hand"], tmp_path, "R-G1").exit_code == 0
    assert match(db_url, p["swm"], tmp_path, "R-M1", "Mölndal").exit_code == 0
    # a Mölndal social worker selecting Göteborg's requests gets no rows
    assert sql(db_url, p["swm"], "SELECT request_id FROM placement_request WHERE municipality = 'Göteborg'") == []
    assert sql(db_url, p["swm"], "SELECT request_id FROM placement_request") == [("R-M1",)]
    assert sql(db_url, p["swm"], "SELECT count(*) FROM decision") == [(1,)]
    assert sql(db_url, p["swg"], "SELECT request_id FROM placement_request") == [("R-G1",)]
    # ... while the register revision that keys the stored register snapshots is everyone's
    revision = sql(db_url, p["hand"], "SELECT revision FROM placering_register_revision")
    assert sql(db_url, p["swm"], "SELECT revision FROM placering_register_revision") == revision
    assert sql(db_url, p["swm"], "SELECT max(id) FROM history") != revision  # its own view of history is narrower
    # ... nor inserts one for Göteborg
    code, message = sql(db_url, p["swm"], "INSERT INTO placement_request (request_id, submitted_on, municipality, "
                        "requester, insats, payload, created_by, created_at) VALUES ('R-X', '2024-09-01', 'Göteborg', "
                        "'x', 'hvb_barn_unga', '{}', :me, now())", me=p["swm"])
    assert code == "42501" and "row-level security" in message
    # a handler updating a unit's status is refused (it may only take and free places)
    assert sql(db_url, p["hand"], "UPDATE unit SET status = 'watch' WHERE unit_id = 'U-1'") == (
        "42501", "permission denied for table unit")
    assert sql(db_url, p["hand"], "UPDATE unit SET free_places = free_places WHERE unit_id = 'U-1'") == 1
    # an auditor's insert is refused
    code, message = sql(db_url, p["revisor"], "INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, "
                        "action, changes) VALUES (now(), '2024-01-01', :me, 'unit', 'U-1', 'status', '{}')",
                        me=p["revisor"])
    assert (code, message) == ("42501", "permission denied for table history")
    # history is recorded under the login that writes it, not a name someone types
    code, message = sql(db_url, p["maint"], "INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, "
                        "action, changes) VALUES (now(), '2024-01-01', 'ink', 'unit', 'U-1', 'status', '{}')")
    assert code == "42501" and f"history actor ink is not the login {p['maint']}" in message
    # and nobody rewrites it
    assert sql(db_url, p["adm"], "DELETE FROM history")[0] in ("42501", "P0001")


def test_admin_user_on_sqlite_makes_an_account_of_the_server(run, db_url):
    # The embedded SQLite register has accounts too now: the people who sign in to
    # `placering serve` on it (tests/test_server.py signs in with them).
    if not db_url.startswith("sqlite"):
        return
    r = run("admin", "user", "add", "anna", "--role", "handler", "--password-stdin", input="hemligt-lösen-1\n")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Användare anna: roller Handläggare; lokalt lösenord satt.\n"
    listed = json.loads(run("admin", "user", "list", "--json").stdout)
    assert [(u["user"], u["roles"], u["local_password"]) for u in listed] == [("anna", ["handler"], True)]
    r = run("admin", "user", "add", "bo", "--role", "handler", "--password-stdin", input="kort\n")
    assert r.exit_code == 2 and r.stderr == "Fel: lösenordet är för kort: använd minst 10 tecken\n"


def test_an_admin_upgrades_with_init_and_a_handler_cannot(people, db_url, engine):
    p = people
    r = as_(db_url, p["adm"], "init", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["from"] == json.loads(r.stdout)["to"]  # already current; grants re-applied
    before = register(engine)
    r = as_(db_url, p["hand"], "init")
    assert r.exit_code in (5, 6) and "Traceback" not in r.output, r.output
    assert register(engine) == before

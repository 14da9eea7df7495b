"""Roles on the shared PostgreSQL server, now that only the service writes (issue 17).

People's own database logins (members of `placering_<role>`, SCRAM password) read only, through
row-level security; the CLI tells them to use the application server. The service login (a
member of `placering_service`) writes through the library, acting as the person --by names (the
CLI) or the signed-in person (`acting_as`, the server): history records that person, the social
worker's municipality scope and the four eyes hold for it too, also in plain SQL. `init` revokes
what the previous version granted. On SQLite (single-user) none of this exists."""

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
ROLES = {  # short name -> roles (and municipality), as the previous version's `admin user add` made them
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


def superuser(db_url: str):
    return create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")


def principal(login: str, roles, municipality: str | None = None):
    from placering.access.policy import Principal

    return Principal(login=login, roles=frozenset(roles), municipality=municipality, via="local")


@pytest.fixture
def people(db_url, run, tmp_path):
    """A register, a service login (member of placering_service) and people's own logins made
    as the previous version made them (a login, its placering_<role> memberships, a user_account
    row); yields {short name: login} with "svc" the service login, then drops the logins (roles
    are cluster-wide)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("roles exist on the shared PostgreSQL server only (the SQLite case is tested below)")
    load_register(run, tmp_path, unit("U-1", free=1, municipality="Göteborg"),
                  unit("U-2", "egen_regi", None, municipality="Mölndal", buyers=("Mölndal",)),
                  unit("U-D", "direktupphandling", 1900, insats="socialt_boende", age=(18, 65)))
    tag = uuid.uuid4().hex[:6]
    logins = {short: f"{short}_{tag}" for short in [*ROLES, "svc"]}
    su = superuser(db_url)
    with su.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{logins['svc']}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE placering_service")
        for short, (roles, municipality) in ROLES.items():
            conn.exec_driver_sql(f"CREATE ROLE \"{logins[short]}\" LOGIN PASSWORD '{PASSWORD}' "
                                 f"IN ROLE {', '.join('placering_' + r for r in roles)}")
            conn.execute(text("INSERT INTO user_account (login, municipality, added_by, added_at) "
                              "VALUES (:l, :m, 'installation', now())"), {"l": logins[short], "m": municipality})
    yield logins
    with su.connect() as conn:
        for login in logins.values():
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
    su.dispose()


def as_(db_url: str, login: str, *args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["--db", as_login(db_url, login), *args], input=input, catch_exceptions=False)


def sql(db_url: str, login: str, statement: str, *, acting=None, **params):
    """Plain SQL as the login, bypassing the CLI: the rows (or row count), or the database's
    refusal (SQLSTATE, first line). `acting`: the person the transaction names (access.acting),
    through the same engine listener the server uses."""
    from placering.access.acting import acting_as
    from placering.storage import make_engine

    engine = make_engine(as_login(db_url, login))
    try:
        with acting_as(acting), engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.all() if result.returns_rows else result.rowcount
    except DBAPIError as exc:
        return exc.orig.sqlstate, str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()


def match(db_url, login, tmp_path, rid, municipality="Göteborg", by=None):
    path = write_request(tmp_path, request(rid, municipality=municipality, home_municipality=municipality))
    return as_(db_url, login, "match", str(path), "--engine", "reference", "--json", *(["--by", by] if by else []))


def register(engine):
    """Every table but the caches a command may fill before it is refused (matching/snapshots.py)."""
    return {t: rows for t, rows in snapshot(engine).items() if t not in ("register_snapshot", "snapshot_blob", "rule_set")}


def read_only(login: str) -> str:
    return (f"Fel: databasinloggningen '{login}' kan bara läsa: på den delade servern går varje ändring genom "
            "applikationsservern; logga in med 'placering login --server URL' och kör kommandot igen\n")


def test_people_read_and_the_cli_sends_their_writes_to_the_application_server(people, db_url, engine, tmp_path, run):
    p = people
    assert match(db_url, p["svc"], tmp_path, "R-G1", by="anna").exit_code == 0
    before = register(engine)
    for short, args in [("hand", ["match", str(write_request(tmp_path, request("R-G2"))), "--engine", "reference"]),
                        ("maint", ["register", "status", "U-1", "watch", "--note", "kreditbetyg"]),
                        ("ink", ["register", "agreement", "RA-U-1", "order_stop", "--note", "avtalsbrott"]),
                        ("adm", ["register", "status", "U-1", "watch", "--note", "x", "--by", "adm"]),
                        ("gransk", ["request", "end", "R-G1", "--on", "2024-10-01"])]:
        r = as_(db_url, p[short], *args)
        assert (r.exit_code, r.stderr) == (6, read_only(p[short])), (short, r.output)
        assert "Traceback" not in r.output
    assert register(engine) == before
    # a write without --by that reaches the database is refused the same way
    r = as_(db_url, p["adm"], "admin", "user", "add", "x_" + p["adm"], "--role", "auditor")
    assert r.exit_code == 6 and "Traceback" not in r.output
    assert register(engine) == before
    # reads keep working, each in its own scope
    shown = json.loads(as_(db_url, p["hand"], "register", "show", "U-1", "--json").stdout)
    assert shown["unit_id"] == "U-1"
    assert as_(db_url, p["swg"], "request", "show", "R-G1", "--json").exit_code == 0
    r = as_(db_url, p["swm"], "request", "show", "R-G1", "--json")
    assert r.exit_code == 3 and "R-G1" in r.stderr  # another municipality's case: not there for them
    # the table reads directly (matching/reads.py) on the person's own login: the same scope
    shown = as_(db_url, p["swg"], "request", "show", "R-G1")
    assert shown.exit_code == 0 and "R-G1" in shown.stdout and shown.stdout == run("request", "show", "R-G1").stdout
    r = as_(db_url, p["swm"], "request", "show", "R-G1")
    assert r.exit_code == 3 and "R-G1" in r.stderr
    log = json.loads(as_(db_url, p["revisor"], "audit", "log", "--json").stdout)
    assert ("matched", "anna") in {(e["action"], e["actor"]) for e in log["entries"]}


def test_the_service_login_writes_for_the_person_it_names(people, db_url, engine, tmp_path):
    p = people
    before = register(engine)
    r = as_(db_url, p["svc"], "register", "status", "U-1", "watch", "--note", "kreditbetyg")
    assert r.exit_code == 2 and "--by" in r.stderr  # every change names its person
    assert register(engine) == before
    r = as_(db_url, p["svc"], "register", "status", "U-1", "watch", "--note", "kreditbetyg", "--by", "märta")
    assert r.exit_code == 0, r.output
    hist = json.loads(as_(db_url, p["revisor"], "register", "history", "U-1", "--json").stdout)
    assert [(h["action"], h["actor"]) for h in hist][-1] == ("status", "märta")
    # the history trigger: the service writes under the signed-in person's name only
    insert = ("INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, action, changes) "
              "VALUES (now(), '2024-01-01', :actor, 'unit', 'U-1', 'status', '{}')")
    code, message = sql(db_url, p["svc"], insert, actor="märta")
    assert code == "42501" and "no person is signed in" in message
    code, message = sql(db_url, p["svc"], insert, actor="någon-annan", acting=principal("märta", ["maintainer"]))
    assert (code, message) == ("42501", "history actor någon-annan is not the signed-in person märta")
    assert sql(db_url, p["svc"], insert, actor="märta", acting=principal("märta", ["maintainer"])) == 1


def test_a_social_worker_sees_and_writes_only_its_municipality_also_through_the_service(people, db_url, tmp_path):
    from placering.access.acting import acting_as
    from placering.errors import NotFound
    from placering.matching.decisions import decline
    from placering.storage import make_engine, transaction

    p = people
    assert match(db_url, p["svc"], tmp_path, "R-G1", by="göran").exit_code == 0
    assert match(db_url, p["svc"], tmp_path, "R-M1", "Mölndal", by="maria").exit_code == 0
    mölndal = principal("maria", ["social_worker"], "Mölndal")
    # their own logins: own municipality's cases only
    assert sql(db_url, p["swm"], "SELECT request_id FROM placement_request") == [("R-M1",)]
    assert sql(db_url, p["swg"], "SELECT request_id FROM placement_request") == [("R-G1",)]
    assert sql(db_url, p["swm"], "SELECT count(*) FROM decision") == [(1,)]
    # the service acting for a Mölndal social worker sees what she sees, and writes no Göteborg case
    assert sql(db_url, p["svc"], "SELECT request_id FROM placement_request", acting=mölndal) == [("R-M1",)]
    assert sql(db_url, p["svc"], "SELECT request_id FROM placement_request ORDER BY 1",
               acting=principal("hans", ["handler"])) == [("R-G1",), ("R-M1",)]
    code, message = sql(db_url, p["svc"], "INSERT INTO placement_request (request_id, submitted_on, municipality, "
                        "requester, insats, payload, created_by, created_at) VALUES ('R-X', '2024-09-01', 'Göteborg', "
                        "'x', 'hvb_barn_unga', '{}', 'maria', now())", acting=mölndal)
    assert code == "42501" and "row-level security" in message
    # the library, through the service login, acting as her: Göteborg's request is not there
    engine = make_engine(as_login(db_url, p["svc"]))
    try:
        with acting_as(mölndal), pytest.raises(NotFound):
            with transaction(engine) as s:
                decline(s, "R-G1", "U-1", reason="fullt", actor="maria")
    finally:
        engine.dispose()
    # ... while the register revision that keys the stored register snapshots is everyone's
    revision = sql(db_url, p["hand"], "SELECT revision FROM placering_register_revision")
    assert sql(db_url, p["swm"], "SELECT revision FROM placering_register_revision") == revision
    assert sql(db_url, p["svc"], "SELECT revision FROM placering_register_revision", acting=mölndal) == revision


def test_reviewer_never_reviews_a_case_they_matched(people, db_url, engine, tmp_path):
    p = people
    dp = request("R-DP", "socialt_boende", "akutboende", age=30)
    r = as_(db_url, p["svc"], "match", str(write_request(tmp_path, dp)), "--engine", "reference", "--json",
            "--by", "hugo")
    assert r.exit_code == 0, r.output
    review_id = json.loads(r.stdout)["review_id"]
    before = register(engine)
    r = as_(db_url, p["svc"], "review", "approve", str(review_id), "--note", "ok", "--by", "hugo")
    assert r.exit_code == 4, r.output
    assert f"hugo har själv handlagt förfrågan 'R-DP'; granskning {review_id} avgörs av en annan granskare" in r.stderr
    # bypassing the library: the row policy hides the case from its own handler's update
    approve = "UPDATE review SET status = 'approved' WHERE id = :id"
    assert sql(db_url, p["svc"], approve, id=review_id, acting=principal("hugo", ["handler", "reviewer"])) == 0
    # a person's own login updates nothing at all
    assert sql(db_url, p["gransk"], approve, id=review_id)[0] == "42501"
    assert register(engine) == before
    r = as_(db_url, p["svc"], "review", "approve", str(review_id), "--note", "rimligt pris", "--by", "greta")
    assert r.exit_code == 0, r.output
    shown = json.loads(as_(db_url, p["revisor"], "review", "show", str(review_id), "--json").stdout)
    assert (shown["status"], shown["reviewer"]) == ("approved", "greta")


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


# What the previous version (before the application server) granted, as its apply_security did.
OLD_GRANTS = {
    "supplier": {"maintainer": "INSERT, UPDATE"},
    "unit": {"maintainer": "INSERT, UPDATE", "handler": "UPDATE (free_places)", "social_worker": "UPDATE (free_places)",
             "reviewer": "UPDATE (free_places)"},
    "offer": {"maintainer": "INSERT, UPDATE, DELETE"},
    "unit_route": {"maintainer": "INSERT, UPDATE, DELETE", "procurement": "UPDATE (status)"},
    "permit": {"maintainer": "INSERT, UPDATE, DELETE"},
    "supplier_check": {"maintainer": "INSERT", "procurement": "INSERT"},
    "complaint": {"maintainer": "INSERT, UPDATE", "procurement": "INSERT, UPDATE"},
    "placement_request": {"handler": "INSERT, UPDATE", "social_worker": "INSERT, UPDATE"},
    "decision": {"handler": "INSERT, UPDATE", "social_worker": "INSERT, UPDATE"},
    "placement": {"handler": "INSERT, UPDATE", "social_worker": "INSERT, UPDATE", "reviewer": "UPDATE (status), DELETE"},
    "review": {"handler": "INSERT", "social_worker": "INSERT", "reviewer": "UPDATE (status, reviewer, note, decided_at)"},
    **{t: {r: "INSERT" for r in ("handler", "social_worker", "maintainer", "procurement", "reviewer", "admin")}
       for t in ("history", "register_snapshot", "snapshot_blob", "rule_set")},
}
TABLES = ("supplier", "unit", "offer", "unit_route", "permit", "supplier_check", "complaint", "placement_request",
          "decision", "decline", "placement", "review", "history", "register_snapshot", "snapshot_blob", "rule_set",
          "user_account", "placement_agreement", "placement_survey", "deepened_control", "agreement_followup", "visit",
          "proposal")


def test_init_revokes_what_the_previous_version_granted(people, db_url):
    p = people
    su = superuser(db_url)
    with su.connect() as conn:  # the previous version's installation, as it stood
        for table in TABLES:
            conn.exec_driver_sql(f'GRANT ALL ON "{table}" TO placering_admin')
            conn.exec_driver_sql(f'ALTER TABLE "{table}" OWNER TO placering_admin')
            for role, privileges in OLD_GRANTS.get(table, {}).items():
                conn.exec_driver_sql(f'GRANT {privileges} ON "{table}" TO placering_{role}')
        conn.exec_driver_sql("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO placering_handler")
        conn.exec_driver_sql("GRANT CREATE ON SCHEMA public TO placering_admin")
        conn.exec_driver_sql(f'ALTER ROLE "{p["adm"]}" CREATEROLE')
    # what that let people do: a handler's login wrote free places
    assert sql(db_url, p["hand"], "UPDATE unit SET free_places = free_places WHERE unit_id = 'U-1'") == 1

    # a person's admin login does not run init any more
    r = as_(db_url, p["adm"], "init")
    assert r.exit_code == 6 and "Traceback" not in r.output
    assert ("kör det som installationskontot (en superanvändare, eller medlem i placering_owner), inte som "
            f"inloggningen '{p['adm']}'") in r.stderr
    r = CliRunner().invoke(cli, ["--db", db_url, "init", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output

    with su.connect() as conn:
        granted = conn.execute(text(
            "SELECT r.role, t.table, p.privilege FROM unnest(CAST(:roles AS text[])) r(role), "
            "unnest(CAST(:tables AS text[])) t(\"table\"), unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(privilege) "
            "WHERE has_table_privilege(r.role, t.table, p.privilege) OR (p.privilege = 'UPDATE' AND "
            "has_any_column_privilege(r.role, t.table, 'UPDATE'))"),
            {"roles": [f"placering_{r}" for r in ("handler", "social_worker", "maintainer", "procurement", "reviewer",
                                                  "auditor", "admin")] + list(p.values())[:-1],
             "tables": list(TABLES)}).all()
        assert granted == []
        owners = set(conn.execute(text("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relkind IN "
                                       "('r', 'v') AND relnamespace = 'public'::regnamespace")).scalars())
        assert owners == {"placering_owner"}
        assert not conn.execute(text("SELECT rolcreaterole FROM pg_roles WHERE rolname = :n"), {"n": p["adm"]}).scalar()
        assert not conn.execute(text("SELECT has_schema_privilege('placering_admin', 'public', 'CREATE')")).scalar()
        assert not conn.execute(text("SELECT has_sequence_privilege('placering_handler', 'unit_id_seq', 'USAGE')")).scalar()
        # the service login writes; the people's logins still read
        assert conn.execute(text("SELECT has_table_privilege(:s, 'unit', 'UPDATE')"), {"s": p["svc"]}).scalar()
    su.dispose()
    code, message = sql(db_url, p["hand"], "UPDATE unit SET free_places = free_places WHERE unit_id = 'U-1'")
    assert (code, message) == ("42501", "permission denied for table unit")
    assert sql(db_url, p["hand"], "SELECT unit_id FROM unit WHERE unit_id = 'U-1'") == [("U-1",)]


def test_two_people_choosing_the_last_place_through_the_service_login(people, db_url, tmp_path):
    """Concurrency keeps its meaning through the one service login: two handlers, each signed
    in (acting_as) on their own connection, choose U-1's last free place at the same moment:
    exactly one placement, recorded under its chooser's name; the other a clear refusal."""
    import threading

    from placering.access.acting import acting_as
    from placering.errors import InvariantViolation
    from placering.matching.decisions import choose
    from placering.rules.ruleset import load_ruleset
    from placering.storage import make_engine, transaction

    p = people
    r = as_(db_url, p["svc"], "match", str(write_request(tmp_path, [request("R-a"), request("R-b")])),
            "--engine", "reference", "--by", "hanna")
    assert r.exit_code == 0, r.output
    ruleset = load_ruleset(None)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def pick(who: str, rid: str) -> None:
        engine = make_engine(as_login(db_url, p["svc"]))
        try:
            with acting_as(principal(who, ["handler"])):
                barrier.wait()
                with transaction(engine) as s:
                    choose(s, rid, "U-1", actor=who, ruleset=ruleset)
            outcomes[who] = "placed"
        except InvariantViolation as exc:
            outcomes[who] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=pick, args=args) for args in (("hanna", "R-a"), ("henrik", "R-b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    [winner] = [who for who, o in outcomes.items() if o == "placed"]
    [loser] = [o for o in outcomes.values() if o != "placed"]
    assert "U-1" in str(loser)
    log = json.loads(as_(db_url, p["revisor"], "audit", "log", "--kind", "request", "--action", "chosen",
                         "--json").stdout)
    assert [e["actor"] for e in log["entries"]] == [winner]
    assert json.loads(as_(db_url, p["revisor"], "register", "show", "U-1", "--json").stdout)["free_places"] == 0

"""Audit tests on a history built for them: status changes on known dates, an agreement order
stop, a permit revocation, placements and requests over two years. Each audit is asked as of
dates before, on and after each change, through the CLI, on SQLite and PostgreSQL.

`build_history` is shared by the other tests/test_audit_*.py files.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from contextlib import contextmanager
from datetime import date, timedelta

import pytest

from placering.storage import transaction
from placering.storage.models import Placement, PlacementRequest, Unit

from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from placering.cli import cli
from placering.storage.database import make_engine

from conftest import _pg_base, snapshot

ORG_ANGEN = "556677-8899"  # Vårdbolaget Ängen AB: HVB on a framework agreement
ORG_OST = "556036-0793"  # Omsorg Öst AB: direct procurement
ORG_SYD = "556703-7485"  # Stödboende Syd AB: stödboende on a framework agreement
ORG_KOMMUN = "212000-1355"  # Göteborgs kommun: egen regi

LOADED_ON = date(2023, 1, 2)
WIDE = {"COLUMNS": "400"}  # tables for people: wide enough that no cell is folded in the assertions


def _unit(unit_id, name, municipality, insats, routes, *, age=(0, 99), sub=None, permits=None,
          status="published", **extra):
    u = {
        "unit_id": unit_id, "name": name, "municipality": municipality,
        "location": {"lat": 57.7, "lon": 11.97}, "protected_address": False,
        "places": 10, "free_places": 2, "age_min": age[0], "age_max": age[1],
        "genders": ["female", "male"], "target_groups": ["missbruk", "psykisk_ohalsa"],
        "offers": [{"insats": insats, "subcategories": sub or []}],
        "routes": routes, "status": status, **extra,
    }
    if permits is not None:
        u["permits"] = permits
    return u


def _ramavtal(insats, agreement_id, price, valid_from, valid_to):
    return {"route": "ramavtal", "insats": insats, "agreement_id": agreement_id, "daily_price": price,
            "valid_from": valid_from, "valid_to": valid_to, "buyers": ["Göteborg"], "status": "active"}


def _direct(insats, price):
    return {"route": "direktupphandling", "insats": insats, "daily_price": price, "buyers": ["Göteborg"],
            "status": "active"}


def register_document() -> dict:
    return {
        "format": "placering-register/1",
        "suppliers": [
            {"org_nr": ORG_ANGEN, "name": "Vårdbolaget Ängen AB", "legal_form": "aktiebolag",
             "checks": [{"kind": "credit_rating", "result": "pass", "value": 62, "performed_on": "2022-12-01",
                         "source": "kreditupplysning"}],
             "units": [_unit("U-1", "HVB Ängen", "Göteborg", "hvb_barn_unga",
                             [_ramavtal("hvb_barn_unga", "RA-HVB-1", 4200, "2022-05-01", "2026-04-30")],
                             age=(13, 17), sub=["akut"],
                             permits=[{"dnr": "8.1-100/2019", "insats": "hvb_barn_unga", "status": "active",
                                       "target_groups": ["missbruk"], "decided_on": "2019-06-01"}])]},
            {"org_nr": ORG_OST, "name": "Omsorg Öst AB", "legal_form": "aktiebolag",
             "units": [
                 _unit("U-2", "Boende Östra", "Mölndal", "socialt_boende",
                       [_direct("socialt_boende", 1500)], age=(18, 99), sub=["akutboende"]),
                 _unit("U-5", "HVB Österlen", "Göteborg", "hvb_barn_unga",
                       [_direct("hvb_barn_unga", 5200)], age=(12, 17), sub=["akut"],
                       permits=[{"dnr": "8.1-500/2020", "insats": "hvb_barn_unga", "status": "active",
                                 "target_groups": ["missbruk"], "decided_on": "2020-02-01"}]),
             ]},
            {"org_nr": ORG_SYD, "name": "Stödboende Syd AB", "legal_form": "aktiebolag",
             "units": [_unit("U-3", "Stödboende Söder", "Göteborg", "stodboende",
                             [_ramavtal("stodboende", "RA-STOD-1", 1900, "2023-01-01", "2027-12-31")],
                             age=(16, 20),
                             permits=[{"dnr": "8.1-300/2021", "insats": "stodboende", "status": "active",
                                       "target_groups": ["missbruk"], "decided_on": "2021-03-01"}])]},
            {"org_nr": ORG_KOMMUN, "name": "Göteborgs kommun", "legal_form": "kommun",
             "units": [_unit("U-4", "Korttidsboende Hisingen", "Göteborg", "korttidsboende",
                             [{"route": "egen_regi", "insats": "korttidsboende", "buyers": ["Göteborg"],
                               "status": "active"}], sub=["fysisk"])]},
        ],
    }


# The changes, on known dates (through `placering register … --on DATE`).
STATUS_CHANGES = [
    # (unit, status, effective_on, actor, reason, note)
    ("U-2", "watch", date(2023, 3, 1), "anna.kvalitet", None, "Kreditbetyg under bevakningsnivån"),
    ("U-2", "unpublished", date(2023, 6, 1), "anna.kvalitet", None, "Kreditbetyg 22"),
    ("U-5", "recommendation_stop", date(2023, 9, 15), "bertil.kontroll", None, "Flera synpunkter på bemötande"),
    ("U-5", "removed", date(2024, 2, 1), "bertil.kontroll", "rekommendationsstopp", "Samlad bedömning: borttagen"),
    ("U-3", "removed", date(2024, 4, 1), "bertil.kontroll", "ivo", "IVO återkallade tillståndet"),
    ("U-2", "watch", date(2024, 5, 1), "anna.kvalitet", None, "Kreditbetyg återhämtat till 41"),
]
PERMIT_REVOKED = ("U-3", "8.1-300/2021", "revoked", date(2024, 3, 1), "ivo.bevakning")
ORDER_STOP = ("RA-HVB-1", "order_stop", date(2024, 3, 10), "ink.upphandlare", "IVO-tillsyn: allvarliga brister")
# The permit loss raised a proposal to INK (rule STATUS-PERMIT-LOST-ORDER-STOP); INK stopped the
# supplier's participation in RA-STOD-1 the same day.
SUPPLIER_ORDER_STOP = ("RA-STOD-1", ORG_SYD, date(2024, 3, 1), "ink.upphandlare", "IVO återkallade tillståndet")


def add_placement(engine, request_id, *, submitted_on, insats, unit_id, org_nr, route, start_on, age,
                  requester="Nordost", subcategory=None, agreement_id=None, daily_price=None, end_on=None,
                  recommended=True, reason=None, municipality="Göteborg"):
    """Fixture helper (ORM): a request, and a placement if a unit is given, written directly;
    for the yearly request counts and extra placements, where matching's rules are not the point."""
    with transaction(engine) as s:
        req = PlacementRequest(request_id=request_id, submitted_on=submitted_on, municipality=municipality,
                               requester=requester, insats=insats, subcategory=subcategory,
                               payload={"request_id": request_id}, created_by="test")
        s.add(req)
        s.flush()
        if unit_id is not None:
            # the placement takes its place at the unit, as choosing does: free places change only
            # through placements (a constraint trigger on PostgreSQL checks it at commit)
            unit = s.query(Unit).filter(Unit.unit_id == unit_id).one()
            unit.free_places -= 1
            s.add(Placement(request_id=req.id, unit_id=unit_id, org_nr=org_nr, insats=insats, route=route,
                            agreement_id=agreement_id, daily_price=daily_price, start_on=start_on,
                            end_on=end_on, person_age=age, municipality=municipality, recommended=recommended,
                            reason=reason, by="handläggare"))


def add_request(engine, request_id, *, submitted_on, insats, requester="Nordost", subcategory=None,
                municipality="Göteborg"):
    add_placement(engine, request_id, submitted_on=submitted_on, insats=insats, unit_id=None, org_nr=None,
                  route=None, start_on=None, age=None, requester=requester, subcategory=subcategory,
                  municipality=municipality)


# Placements go through `placering match` and `placering request choose`, as a handler makes
# them: the 2023 ones right after the register is loaded (all units published then), the 2024 one
# after U-2 is back on watch. (request_id, insats, subcategory, age, needs, start_on, unit, reason)
PLACEMENTS_2023 = [
    ("R-2023-0001", "hvb_barn_unga", "akut", 15, ["missbruk"], date(2023, 10, 1), "U-1", None),
    ("R-2023-0002", "stodboende", None, 17, ["missbruk"], date(2023, 5, 1), "U-3", None),
    ("R-2023-0003", "socialt_boende", "akutboende", 34, ["missbruk"], date(2023, 2, 1), "U-2", None),
    ("R-2023-0004", "korttidsboende", "fysisk", 12, ["psykisk_ohalsa"], date(2023, 4, 1), "U-4", None),
    # U-1 (framework) was recommended; U-5 (direct procurement, held back) was chosen with a reason.
    ("R-2023-0005", "hvb_barn_unga", "akut", 16, ["missbruk"], date(2023, 8, 1), "U-5",
     "Personen hade bott där tidigare"),
]
PLACEMENTS_2024 = [
    ("R-2024-0001", "socialt_boende", "akutboende", 45, ["missbruk"], date(2024, 6, 1), "U-2", None),
]
# The matching CLI has no command to end a placement; this one ended on 2023-12-31.
PLACEMENT_ENDS = {"R-2023-0005": date(2023, 12, 31)}


def request_document(request_id, insats, subcategory, age, needs, start_on, requester="Nordost") -> dict:
    return {
        "request_id": request_id, "submitted_on": (start_on - timedelta(days=1)).isoformat(),
        "municipality": "Göteborg", "requester": requester, "insats": insats, "subcategory": subcategory,
        "person": {"age": age, "gender": "female", "needs": needs, "protected_identity": False},
        "legal_basis": "SoL", "urgency": "akut", "start_on": start_on.isoformat(), "places": 1,
        "home_municipality": "Göteborg", "home_location": {"lat": 57.71, "lon": 11.97},
        "max_distance_km": 150, "avoid_municipalities": [], "max_daily_price": None,
    }


def place(run, tmp_path, placements) -> None:
    """Match each request and choose its unit through the matching CLI."""
    for request_id, insats, sub, age, needs, start_on, unit_id, reason in placements:
        path = tmp_path / f"{request_id}.json"
        path.write_text(json.dumps(request_document(request_id, insats, sub, age, needs, start_on)),
                        encoding="utf-8")
        cli_ok(run, "match", str(path), "--by", "handläggare")
        # Chosen on the day the request was decided: the unit is checked again on that day.
        args = ["request", "choose", request_id, unit_id, "--by", "handläggare",
                "--on", (start_on - timedelta(days=1)).isoformat()]
        if reason:
            args += ["--reason", reason]
        if insats == "stodboende" and age < 18:
            args += ["--special-reason", "Särskilda skäl: eget boende med stöd bedömt som bäst för personen"]
        out = cli_ok(run, *args, "--json")
        if json.loads(out)["status"] == "pending_review":
            # A direct-procurement placement waits for its review; the reviewer approves it.
            [review] = [r for r in json.loads(cli_ok(run, "review", "list", "--status", "pending", "--json"))
                        if r["request_id"] == request_id]
            cli_ok(run, "review", "approve", str(review["id"]), "--by", "granskare",
                   "--note", "Ingen ramavtalsenhet kunde ta emot personen")


def cli_ok(run, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, f"{' '.join(args)}: {result.output}"
    return result.stdout


def build_history(run, engine, tmp_path) -> None:
    """The register loaded on 2023-01-02, placements, and the changes above, through the CLI."""
    doc = tmp_path / "register.json"
    doc.write_text(json.dumps(register_document(), ensure_ascii=False), encoding="utf-8")
    cli_ok(run, "register", "import", str(doc), "--on", LOADED_ON.isoformat(), "--apply-status", "--by", "registrator")
    place(run, tmp_path, PLACEMENTS_2023)
    for request_id, end_on in PLACEMENT_ENDS.items():
        cli_ok(run, "request", "end", request_id, "--on", end_on.isoformat(), "--reason", "utskrivning",
               "--by", "handläggare")
    for unit_id, status, on, actor, reason, note in STATUS_CHANGES:
        args = ["register", "status", unit_id, status, "--on", on.isoformat(), "--by", actor, "--note", note]
        if reason:
            args += ["--reason", reason]
        cli_ok(run, *args)
    unit_id, dnr, status, on, actor = PERMIT_REVOKED
    cli_ok(run, "register", "permit", unit_id, "--dnr", dnr, "--status", status, "--on", on.isoformat(),
           "--by", actor)
    aid, org, on, actor, note = SUPPLIER_ORDER_STOP
    cli_ok(run, "register", "agreement", aid, "order_stop", "--supplier", org, "--on", on.isoformat(), "--by", actor,
           "--note", note)
    aid, status, on, actor, note = ORDER_STOP
    cli_ok(run, "register", "agreement", aid, status, "--on", on.isoformat(), "--by", actor, "--note", note)
    place(run, tmp_path, PLACEMENTS_2024)


@pytest.fixture(scope="session")
def built_history(tmp_path_factory, sqlite_template):
    """The history above, built once per back end (through the CLI) and copied into each
    test's own database: building it takes many commands, reading it is what the tests do."""
    built: dict[str, str] = {}
    created_pg: list[str] = []

    def get(backend: str, template: str | None = None) -> str:
        if backend in built:
            return built[backend]
        work = tmp_path_factory.mktemp(f"audit_history_{backend}")
        if backend == "sqlite":
            path = work / "history.db"
            shutil.copy(sqlite_template, path)
            url = f"sqlite:///{path}"
        else:
            name = f"placering_audit_{uuid.uuid4().hex[:10]}"
            with _pg_admin() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            created_pg.append(name)
            url = make_url(_pg_base()).set(database=name).render_as_string(hide_password=False)
        runner = CliRunner()

        def run(*args, input=None, env=None):
            return runner.invoke(cli, ["--db", url, *args], input=input, env=env, catch_exceptions=False)

        eng = make_engine(url)
        build_history(run, eng, work)
        if backend == "sqlite":
            with eng.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            eng.dispose()
            built[backend] = str(path)
        else:
            eng.dispose()
            built[backend] = name
        return built[backend]

    yield get
    for name in created_pg:
        with _pg_admin() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def _pg_admin():
    admin = create_engine(_pg_base(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


@pytest.fixture
def audit_history(request, db_url, built_history, engine):
    """This test's database, holding the history above (a copy of the one built per back end)."""
    if db_url.startswith("sqlite"):
        shutil.copy(built_history("sqlite"), make_url(db_url).database)
        return engine
    source = built_history("postgresql", request.getfixturevalue("pg_template"))
    target = make_url(db_url).database
    with _pg_admin() as conn:
        # The CLI's engines may still hold idle connections to the built database.
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname IN (:a, :b) AND pid <> pg_backend_pid()"), {"a": source, "b": target})
        conn.execute(text(f'DROP DATABASE "{target}"'))
        conn.execute(text(f'CREATE DATABASE "{target}" TEMPLATE "{source}"'))
    return engine


@pytest.fixture
def history(audit_history):
    return audit_history


def as_json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def paused_ids(doc) -> dict[str, str]:
    return {r["id"]: r["status"] for r in doc["paused"]}


# --- audit paused ------------------------------------------------------------------------------


def test_paused_answers_as_of_each_date_from_history(history, run):
    # Before anything happened: nothing paused, nothing on watch.
    doc = as_json(run("audit", "paused", "--as-of", "2023-02-28", "--json"))
    assert doc["paused"] == [] and doc["watch"] == []

    # On the day U-2 went on watch, it is on watch, not paused.
    doc = as_json(run("audit", "paused", "--as-of", "2023-03-01", "--json"))
    assert doc["paused"] == []
    [w] = doc["watch"]
    assert (w["id"], w["since"], w["actor"], w["note"]) == ("U-2", "2023-03-01", "anna.kvalitet",
                                                            "Kreditbetyg under bevakningsnivån")

    # The day before it was unpublished it is still on watch; from that day it is paused.
    assert paused_ids(as_json(run("audit", "paused", "--as-of", "2023-05-31", "--json"))) == {}
    doc = as_json(run("audit", "paused", "--as-of", "2023-06-01", "--json"))
    assert paused_ids(doc) == {"U-2": "unpublished"} and doc["watch"] == []

    # Mid-March 2024: U-2 unpublished, U-5 removed (after its recommendation stop), INK's order
    # stop on RA-HVB-1; U-3 lost its permit on 1 March, and INK (on the rule's proposal) put its
    # supplier's part of RA-STOD-1 on order stop the same day (U-3 itself is removed in April).
    doc = as_json(run("audit", "paused", "--as-of", "2024-03-15", "--json"))
    assert paused_ids(doc) == {"U-2": "unpublished", "U-5": "removed", "RA-HVB-1": "order_stop",
                               "RA-STOD-1": "order_stop"}
    by_id = {r["id"]: r for r in doc["paused"]}
    assert (by_id["RA-STOD-1"]["since"], by_id["RA-STOD-1"]["rule_id"], by_id["RA-STOD-1"]["actor"]) == (
        "2024-03-01", None, "ink.upphandlare")
    assert by_id["RA-HVB-1"]["rule_id"] is None  # a person decided that one
    assert by_id["U-5"]["since"] == "2024-02-01"
    assert by_id["U-5"]["reason"] == "rekommendationsstopp"
    assert by_id["U-5"]["actor"] == "bertil.kontroll"
    assert by_id["RA-HVB-1"]["kind"] == "agreement"
    assert by_id["RA-HVB-1"]["units"] == ["U-1"] and by_id["RA-HVB-1"]["actor"] == "ink.upphandlare"
    assert by_id["RA-HVB-1"]["since"] == "2024-03-10"

    # After U-2 recovered to watch (2024-05-01): it leaves the paused list for the watch list.
    doc = as_json(run("audit", "paused", "--as-of", "2024-05-01", "--json"))
    assert paused_ids(doc) == {"U-5": "removed", "U-3": "removed", "RA-HVB-1": "order_stop",
                               "RA-STOD-1": "order_stop"}
    assert [(w["id"], w["since"]) for w in doc["watch"]] == [("U-2", "2024-05-01")]


def test_paused_rebuilds_the_past_even_when_the_present_differs(history, run):
    # Today U-2 is on watch; as of 2023-07-01 it was unpublished, with the note of that decision.
    doc = as_json(run("audit", "paused", "--as-of", "2023-07-01", "--json"))
    [row] = doc["paused"]
    assert (row["id"], row["status"], row["since"], row["note"]) == ("U-2", "unpublished", "2023-06-01", "Kreditbetyg 22")
    # Before the register was loaded, nothing existed.
    assert as_json(run("audit", "paused", "--as-of", "2022-12-31", "--json"))["paused"] == []
    # The status columns are not read at all: scribbling over them changes no answer.
    today = as_json(run("audit", "paused", "--json"))
    with history.begin() as conn:
        conn.execute(text("UPDATE unit SET status = 'removed'"))
        conn.execute(text("UPDATE unit_route SET status = 'terminated'"))
    assert as_json(run("audit", "paused", "--as-of", "2023-07-01", "--json")) == doc
    assert as_json(run("audit", "paused", "--json")) == today


def test_paused_filters(history, run):
    on = ("audit", "paused", "--as-of", "2024-06-01", "--json")
    assert paused_ids(as_json(run(*on, "--insats", "hvb_barn_unga"))) == {"U-5": "removed", "RA-HVB-1": "order_stop"}
    assert paused_ids(as_json(run(*on, "--route", "ramavtal"))) == {
        "U-3": "removed", "RA-HVB-1": "order_stop", "RA-STOD-1": "order_stop"}
    assert paused_ids(as_json(run(*on, "--route", "direktupphandling"))) == {"U-5": "removed"}
    assert paused_ids(as_json(run(*on, "--status", "order_stop"))) == {"RA-HVB-1": "order_stop",
                                                                         "RA-STOD-1": "order_stop"}
    doc = as_json(run(*on, "--municipality", "mölndal"))
    assert doc["paused"] == [] and [w["id"] for w in doc["watch"]] == ["U-2"]


def test_paused_read_directly_is_the_orm_views_document(history, db_url, run):
    """`audit paused` reads through the database's own driver (audit/reads.py); the document
    equals the ORM view's (what the server returns) on every date and filter, whole agreements
    and single suppliers' order stops included, and a filter that ends in an error gets the
    ORM view's message."""
    from placering.audit import views
    from placering.audit.reads import paused
    from placering.storage.reads import open_reader

    questions = [{"as_of": day} for day in (date(2022, 12, 31), date(2023, 3, 1), date(2023, 7, 1),
                                            date(2024, 3, 15), date(2024, 6, 1), date(2026, 1, 1))]
    on = date(2024, 6, 1)
    questions += [{"as_of": on, "insats": "hvb_barn_unga"}, {"as_of": on, "route": "ramavtal"},
                  {"as_of": on, "route": "direktupphandling"}, {"as_of": on, "status": "order_stop"},
                  {"as_of": on, "status": "watch"}, {"as_of": on, "municipality": "mölndal"},
                  {"as_of": date(2024, 3, 15), "route": "ramavtal", "insats": "hvb_barn_unga"}]
    with open_reader(db_url) as reader:
        for q in questions:
            assert paused(reader, **q) == views.paused(history, **q), q
        for bad in ({"insats": "nonsense"}, {"route": "nonsense"}, {"status": "nonsense"},
                    {"municipality": "Atlantis"}):
            assert paused(reader, as_of=on, **bad) is None, bad
    result = run("audit", "paused", "--municipality", "Atlantis")
    assert result.exit_code != 0 and "Atlantis" in result.output


def test_paused_table_and_csv(history, run):
    table = run("audit", "paused", "--as-of", "2024-03-15", env=WIDE)
    assert table.exit_code == 0
    assert "U-5" in table.stdout and "Borttagen" in table.stdout and "RA-HVB-1" in table.stdout
    result = run("audit", "paused", "--as-of", "2024-03-15", "--csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {(r["section"], r["id"], r["status"]) for r in rows} == {
        ("paused", "U-2", "unpublished"), ("paused", "U-5", "removed"), ("paused", "RA-HVB-1", "order_stop"),
        ("paused", "RA-STOD-1", "order_stop")}


PAUSED_BAD_INPUT = [
    (("--as-of", "2024-13-01"), "--as-of: '2024-13-01' är inte ett datum"),
    (("--insats", "hvb"), "--insats: okänd insats 'hvb'"),
    (("--route", "ram"), "--route: okänd regiform 'ram'"),
    (("--status", "paused"), "--status: okänd status 'paused'"),
    (("--municipality", "Atlantis"), "--municipality: okänd kommun 'Atlantis'"),
]


def test_paused_bad_input_is_a_clear_error(history, run, engine):
    before = snapshot(engine)
    for args, message in PAUSED_BAD_INPUT:
        result = run("audit", "paused", *args)
        assert result.exit_code != 0, args
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    assert snapshot(engine) == before


# --- audit affected-placements -----------------------------------------------------------------


def affected(run, on):
    doc = as_json(run("audit", "affected-placements", "--as-of", on, "--json"))
    return [(p["request_id"], p["cause"]) for p in doc["placements"]]


def test_affected_placements_over_time(history, run):
    # Before any pause: nobody to move.
    assert affected(run, "2023-05-31") == []
    # U-2 unpublished: the adult placed there since February.
    assert affected(run, "2023-06-01") == [("R-2023-0003", "unit avpublicerad (unpublished)")]
    # U-5's recommendation stop: the 16-year-old comes first (a child), then the adult.
    assert affected(run, "2023-10-01") == [
        ("R-2023-0005", "unit rekommendationsstopp (recommendation_stop)"),
        ("R-2023-0003", "unit avpublicerad (unpublished)"),
    ]
    # The U-5 placement ended on 2023-12-31: on that day it no longer runs.
    assert [r for r, _ in affected(run, "2023-12-31")] == ["R-2023-0003"]
    # U-3's permit revoked on 2024-03-01 (the day before: not yet; INK stopped its supplier's part
    # of the agreement the same day), RA-HVB-1's order stop on 03-10.
    assert [r for r, _ in affected(run, "2024-02-29")] == ["R-2023-0003"]
    assert affected(run, "2024-03-01") == [
        ("R-2023-0002", "agreement RA-STOD-1 order_stop; permit 8.1-300/2021 revoked"),
        ("R-2023-0003", "unit avpublicerad (unpublished)"),
    ]
    doc = as_json(run("audit", "affected-placements", "--as-of", "2024-04-15", "--json"))
    rows = [(p["request_id"], p["child"], p["since"], p["cause"]) for p in doc["placements"]]
    assert rows == [
        ("R-2023-0002", True, "2024-03-01",
         "agreement RA-STOD-1 order_stop; permit 8.1-300/2021 revoked; unit borttagen (removed)"),
        ("R-2023-0001", True, "2024-03-10", "agreement RA-HVB-1 order_stop"),
        ("R-2023-0003", False, "2023-06-01", "unit avpublicerad (unpublished)"),
    ]
    assert doc["counts"] == {"placements": 3, "children": 2, "not_started": 0}
    # A person reads the causes in Swedish (issue 19): the table's Orsak, from the catalogue.
    assert [p["cause_said"] for p in doc["placements"]][:2] == [
        "avtalet RA-STOD-1: beställningsstopp; tillståndet 8.1-300/2021: återkallat; enheten: borttagen",
        "avtalet RA-HVB-1: beställningsstopp"]
    table = run("audit", "affected-placements", "--as-of", "2024-04-15", env={"COLUMNS": "250"}).stdout
    assert "avtalet RA-HVB-1: beställningsstopp" in table and "order_stop" not in table
    # U-2 back on watch: watch does not stop a placement; the egen regi placement never appears.
    assert [r for r, _ in affected(run, "2024-06-15")] == ["R-2023-0002", "R-2023-0001"]


def test_affected_placements_table_and_csv(history, run):
    table = run("audit", "affected-placements", "--as-of", "2024-04-15", env=WIDE)
    assert table.exit_code == 0 and "R-2023-0002" in table.stdout and "barn" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("audit", "affected-placements", "--as-of", "2024-04-15",
                                               "--csv").stdout)))
    assert [r["request_id"] for r in rows] == ["R-2023-0002", "R-2023-0001", "R-2023-0003"]
    bad = run("audit", "affected-placements", "--as-of", "yesterday")
    assert bad.exit_code != 0 and "--as-of: 'yesterday' är inte ett datum" in bad.stderr


# --- audit log -----------------------------------------------------------------------------------


def test_log_filters_and_reads(history, run):
    doc = as_json(run("audit", "log", "--unit", "U-2", "--action", "status", "--json"))
    assert [(e["effective_on"], e["what"], e["actor"]) for e in doc["entries"]] == [
        ("2023-03-01", "status: published → watch", "anna.kvalitet"),
        ("2023-06-01", "status: watch → unpublished", "anna.kvalitet"),
        ("2024-05-01", "status: unpublished → watch", "anna.kvalitet"),
    ]
    # A unit id as typed (padded, or in another Unicode form) finds the same entries.
    padded = as_json(run("audit", "log", "--unit", " U-2 ", "--action", "status", "--json"))
    assert padded["entries"] == doc["entries"]
    doc = as_json(run("audit", "log", "--actor", "bertil.kontroll", "--since", "2024-01-01", "--json"))
    assert [(e["entity_id"], e["reason"]) for e in doc["entries"]] == [("U-5", "rekommendationsstopp"), ("U-3", "ivo")]
    doc = as_json(run("audit", "log", "--supplier", "5567037485", "--kind", "permit", "--json"))
    assert [(e["entity_id"], e["what"]) for e in doc["entries"]][-1][1].startswith("status: active → revoked")
    doc = as_json(run("audit", "log", "--kind", "agreement", "--until", "2024-12-31", "--json"))
    assert any(e["what"] == "status: active → order_stop" and e["note"] == ORDER_STOP[4] for e in doc["entries"])
    table = run("audit", "log", "--unit", "U-5", env=WIDE)
    assert table.exit_code == 0 and "status: Publicerad → Rekommendationsstopp" in table.stdout  # labels, not codes


def test_log_summary_counts_per_actor_kind_action(history, run):
    doc = as_json(run("audit", "log", "--summary", "--action", "status", "--json"))
    got = {(g["actor"], g["kind"], g["action"]): (g["changes"], g["entities"]) for g in doc["summary"]}
    assert got == {("anna.kvalitet", "unit", "status"): (3, 1), ("bertil.kontroll", "unit", "status"): (3, 2)}
    assert doc["total"] == 6


LOG_BAD_INPUT = [
    (("--supplier", "556677-8898"), "--supplier: organisationsnumret '556677-8898' har fel kontrollsiffra"),
    (("--kind", "ufo"), "--kind: okänt värde 'ufo'"),
    (("--action", "deleted"), "--action: okänt värde 'deleted'"),
    (("--since", "2024-05-01", "--until", "2024-01-01"), "--since 2024-05-01 är efter --until 2024-01-01"),
    (("--until", "31/12/2024"), "--until: '31/12/2024' är inte ett datum"),
    (("--limit", "0"), "--limit ska vara minst 1"),
]


def test_log_bad_input(history, run, engine):
    before = snapshot(engine)
    for args, message in LOG_BAD_INPUT:
        result = run("audit", "log", *args)
        assert result.exit_code != 0 and message in result.stderr, (args, result.stderr)
    assert snapshot(engine) == before


def test_log_hides_a_protected_location_and_follows_a_units_agreements(history, run, tmp_path):
    doc = {"format": "placering-register/1", "suppliers": [
        {"org_nr": ORG_ANGEN, "name": "Vårdbolaget Ängen AB", "legal_form": "aktiebolag",
         "units": [_unit("U-9", "Skyddat boende Fristaden", "Göteborg", "skyddat_boende",
                         [_direct("skyddat_boende", 2100)], age=(18, 99), sub=["vinr_heder"],
                         protected_address=True)]}]}
    path = tmp_path / "protected.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    cli_ok(run, "register", "import", str(path), "--on", "2024-01-15", "--apply-status", "--by", "registrator")

    [entry] = as_json(run("audit", "log", "--unit", "U-9", "--json"))["entries"]
    assert entry["changes"]["location"] == [None, "hidden (protected address)"]
    assert "57.7" not in json.dumps(entry) and "11.97" not in json.dumps(entry)
    table = run("audit", "log", "--unit", "U-9", env=WIDE)
    assert table.exit_code == 0 and "57.7" not in table.stdout
    shown = as_json(run("audit", "log", "--unit", "U-9", "--show-protected", "--json"))["entries"][0]
    assert shown["changes"]["location"] == [None, {"lat": 57.7, "lon": 11.97}]
    # An unprotected unit's location is printed as it is.
    created = as_json(run("audit", "log", "--unit", "U-1", "--action", "created", "--json"))["entries"][0]
    assert created["changes"]["location"] == [None, {"lat": 57.7, "lon": 11.97}]
    # --unit takes in the unit's framework agreement: its order stop is about the unit too.
    about_u1 = as_json(run("audit", "log", "--unit", "U-1", "--kind", "agreement", "--json"))["entries"]
    assert [(e["entity_id"], e["what"]) for e in about_u1][-1] == ("RA-HVB-1", "status: active → order_stop")


def test_a_permit_that_becomes_required_is_reported_missing(run, engine, tmp_path):
    """Skyddat boende became permit-bound on 2024-04-01 (rules/parameters/permits.yaml): a
    private unit without a permit leaves its placed person to be moved from that day."""
    doc = {"format": "placering-register/1", "suppliers": [
        {"org_nr": ORG_OST, "name": "Omsorg Öst AB", "legal_form": "aktiebolag",
         "units": [_unit("U-7", "Skyddat boende Lyktan", "Mölndal", "skyddat_boende",
                         [_direct("skyddat_boende", 2100)], age=(18, 99), sub=["vinr_heder"],
                         target_groups=["vald", "heder"], protected_address=True)]}]}
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    cli_ok(run, "register", "import", str(path), "--on", "2023-01-02", "--apply-status", "--by", "registrator")
    place(run, tmp_path, [("R-2023-0100", "skyddat_boende", "vinr_heder", 29, ["vald"], date(2023, 7, 1), "U-7",
                           None)])
    assert affected(run, "2024-03-31") == []
    doc = as_json(run("audit", "affected-placements", "--as-of", "2024-04-01", "--json"))
    [p] = doc["placements"]
    assert (p["request_id"], p["since"], p["cause"]) == (
        "R-2023-0100", "2024-04-01", "no IVO permit for skyddat_boende (required)")
    # IVO grants the permit: nobody to move any more.
    cli_ok(run, "register", "permit", "U-7", "--dnr", "8.1-700/2024", "--status", "active", "--on", "2024-05-02",
           "--insats", "skyddat_boende", "--by", "ivo.bevakning")
    assert affected(run, "2024-05-01") != [] and affected(run, "2024-05-02") == []

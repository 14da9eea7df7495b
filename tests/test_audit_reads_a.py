"""Audit reports read without SQLAlchemy (audit/reads.py, issue 22 item 1): `audit checks-due`,
`audit prices-due`, `audit affected-placements`, `audit visits`, `audit entries`, `audit removals` and `audit placement-agreements` give the ORM view's document (what the server returns) and print what
the ORM path prints, as a table, CSV or JSON, on both databases; a question that ends in an
error (an unknown --kind, a malformed or unknown --supplier) gets the ORM view's message.
What they import is checked in tests/test_startup.py."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from placering.cli import common
from test_matching_support import load_register, register_doc, request, supplier_of, unit, write_request


def _ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


# the placements' requests, a month ago: in the visits' usage period, whatever the day
RECENT = {"submitted_on": _ago(36), "start_on": _ago(35)}


def _priced(uid: str, confirmed: str | None, **kw):
    u = unit(uid, **kw)
    if confirmed:
        u["routes"][0]["price_confirmed_on"] = confirmed
    return u


@pytest.fixture
def register(run, tmp_path):
    # imported as of 2026-01-01: the register's history is dated, and the questions' dates with it
    doc = register_doc(_priced("U-1", "2023-08-31", valid=("2026-02-20", "2029-12-31")),
                       _priced("U-2", "2024-06-01", agreement="RA-DELAT", valid=("2026-03-01", "2029-01-31")),
                       _priced("U-3", None, agreement="RA-DELAT", valid=("2026-03-01", "2029-01-31")),
                       _priced("U-4", None, route="direktupphandling", price=2500),
                       _priced("U-5", "2022-01-01", route="egen_regi", price=1800),
                       _priced("U-6", "2020-01-01", route="direktupphandling", price=2000))
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = run("register", "import", str(path), "--apply-status", "--on", "2026-01-01", "--by", "registervård")
    assert r.exit_code == 0, r.output
    for args in (("register", "check", supplier_of(doc, "U-1"), "credit_rating", "--result", "pass", "--value", "40",
                  "--on", "2024-01-15", "--by", "kvalitet"),
                 ("register", "check", supplier_of(doc, "U-2"), "credit_rating", "--result", "fail", "--value", "5",
                  "--on", "2025-11-01", "--by", "kvalitet"),
                 ("register", "check", supplier_of(doc, "U-3"), "tax_registration", "--result", "unavailable",
                  "--on", "2025-12-01", "--by", "kvalitet"),
                 ("register", "status", "U-6", "removed", "--reason", "avvecklad", "--note", "slutar",
                  "--by", "registervård"),
                 ("followup", "agreement", "RA-DELAT", "--at", "12", "--on", "2026-11-03", "--findings", "inga brister",
                  "--by", "ink")):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
    return doc


def _same_as_orm(run, monkeypatch, *args):
    real = common.AppContext.reader
    answers = []
    for output in ((), ("--json",), ("--csv",)):
        monkeypatch.setattr(common.AppContext, "reader", real)
        read = run(*args, *output)
        monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
        orm = run(*args, *output)
        assert (read.exit_code, read.output) == (orm.exit_code, orm.output), (args, output)
        answers.append(read)
    return answers


def test_checks_and_prices_due_read_directly_as_the_orm_does(run, register, monkeypatch):
    doc = register
    for args in (("checks-due",), ("checks-due", "--as-of", "2027-03-01"), ("checks-due", "--as-of", "2028-08-15"),
                 ("checks-due", "--as-of", "2024-06-01", "--kind", "credit_rating"),
                 ("checks-due", "--as-of", "2027-03-01", "--supplier", supplier_of(doc, "U-2")),
                 ("checks-due", "--kind", "ingen-sådan"), ("checks-due", "--supplier", "12"),
                 ("prices-due",), ("prices-due", "--as-of", "2024-09-01"),
                 ("prices-due", "--as-of", "2027-03-01", "--supplier", supplier_of(doc, "U-2")),
                 ("prices-due", "--supplier", "12"), ("prices-due", "--supplier", "999999-9999"),
                 ("removals",), ("removals", "--year", "2025"), ("removals", "--year", "1990")):
        _same_as_orm(run, monkeypatch, "audit", *args)
    # not empty answers: every state of the report is in the comparison
    removed = json.loads(run("audit", "removals", "--json").output)
    assert (removed["total"], [r["unit_id"] for r in removed["removals"]]) == (1, ["U-6"])
    due = json.loads(run("audit", "checks-due", "--as-of", "2027-03-01", "--json").output)
    assert {c["state"] for c in due["checks"]} == {"never", "not_passed", "expired"}
    # RA-DELAT's 12-month follow-up is recorded as done
    assert {(f["agreement_id"], f["followup"]) for f in due["agreement_followups"]} == {("RA-U-1", "12 months")}
    later = json.loads(run("audit", "checks-due", "--as-of", "2028-08-15", "--json").output)
    assert {(f["agreement_id"], f["followup"]) for f in later["agreement_followups"]} == {
        ("RA-U-1", "30 months"), ("RA-DELAT", "30 months")}
    prices = json.loads(run("audit", "prices-due", "--as-of", "2027-03-01", "--json").output)
    assert {(p["unit_id"], p["state"]) for p in prices["prices"]} == {
        ("U-1", "expired"), ("U-2", "expired"), ("U-3", "never"), ("U-4", "never"), ("U-5", "expired")}


def test_checks_and_prices_due_documents_are_the_orm_views(register, db_url, run):
    from placering.audit import reads, views
    from placering.storage import make_engine
    from placering.storage.reads import open_reader

    engine = make_engine(db_url)
    for read, view, filters in (
            (reads.checks_due, views.checks_due, {"as_of": date(2027, 3, 1)}),
            (reads.checks_due, views.checks_due, {"as_of": date(2027, 3, 1), "kind": "tax_registration"}),
            (reads.checks_due, views.checks_due, {"as_of": date(2027, 3, 1),
                                                  "supplier": supplier_of(register, "U-1")}),
            (reads.prices_due, views.prices_due, {"as_of": date(2027, 3, 1)}),
            (reads.prices_due, views.prices_due, {"as_of": date(2027, 3, 1), "supplier": supplier_of(register, "U-5")}),
            (reads.removals, views.removals, {}), (reads.removals, views.removals, {"year": 2025}),
):
        with open_reader(db_url) as reader:
            direct = read(reader, **filters)
        assert direct is not None and direct == view(engine, **filters), (read.__name__, filters)
    engine.dispose()
    with open_reader(db_url) as reader:
        assert reads.checks_due(reader, kind="nonsense") is None
        assert reads.prices_due(reader, supplier="999999-9999") is None
    bad = run("audit", "checks-due", "--kind", "nonsense")
    assert bad.exit_code != 0 and "nonsense" in bad.output


@pytest.fixture
def placed(run, tmp_path):
    """Two agreed placements, one at an agreement whose supplier is on order stop, one at a
    directly procured unit on recommendation stop; and one at a unit still published."""
    doc = load_register(run, tmp_path, unit("U-1", agreement="RA-DELAT"), unit("U-2", agreement="RA-DELAT"),
                        unit("U-4", route="direktupphandling", price=2500, age=(16, 20)))
    for args in (("match", str(write_request(tmp_path, request("R-1", **RECENT))), "--by", "h"),
                 ("request", "choose", "R-1", "U-1", "--by", "h"),
                 ("match", str(write_request(tmp_path, request("R-2", age=18, **RECENT))), "--by", "h"),
                 ("request", "choose", "R-2", "U-4", "--by", "h"),
                 ("match", str(write_request(tmp_path, request("R-3", **RECENT))), "--by", "h"),
                 ("request", "choose", "R-3", "U-2", "--by", "h"),
                 ("register", "agreement", "RA-DELAT", "order_stop", "--supplier", supplier_of(doc, "U-1"),
                  "--note", "beställningsstopp", "--by", "ink"),
                 ("register", "status", "U-4", "recommendation_stop", "--note", "stopp", "--by", "spink"),
                 ("match", str(write_request(tmp_path, request("R-9", age=25, **RECENT))), "--by", "h"),  # no eligible unit
                 ("register", "complaint", "U-2", "--category", "treatment", "--on", _ago(60), "--by", "spink"),
                 ("register", "check", supplier_of(doc, "U-2"), "credit_rating", "--result", "fail", "--value", "5",
                  "--on", _ago(50), "--by", "kvalitet"),
                 ("register", "visit", "U-1", "--on", _ago(40), "--note", "besök", "--by", "k")):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
    return doc


def test_affected_placements_visits_and_agreements_read_directly_as_the_orm_does(run, placed, db_url, monkeypatch):
    from placering.audit import reads, views
    from placering.storage import make_engine
    from placering.storage.reads import open_reader

    start = RECENT["start_on"]
    for args in (("placement", "decision", "R-1", "--from", start, "--to", _ago(-300), "--price", "4000",
                  "--agreed-by", "Spink placeringsstöd", "--by", "anna"),
                 ("placement", "agreement", "R-1", "--from", start, "--to", _ago(-300), "--price", "4000",
                  "--signed-on", start, "--by", "anna"),
                 ("placement", "decision", "R-3", "--from", start, "--price", "4000", "--agreed-by", "Spink",
                  "--by", "anna"),
                 ("placement", "agreement", "R-3", "--from", start, "--price", "4400,5", "--signed-on", start,
                  "--by", "anna")):
        assert run(*args).exit_code == 0, args
    for args in (("affected-placements",), ("affected-placements", "--as-of", "2024-01-01"), ("visits",),
                 ("visits", "--level", "1"), ("visits", "--as-of", "2026-06-01"), ("visits", "--level", "9"),
                 ("placement-agreements",), ("placement-agreements", "--every"),
                 ("placement-agreements", "--every", "--as-of", "2024-01-01")):
        _same_as_orm(run, monkeypatch, "audit", *args)
    affected = json.loads(run("audit", "affected-placements", "--json").output)
    # the failed credit check unpublishes U-2 (a rule): its placement is affected too; children first
    assert [(p["request_id"], p["unit_id"], p["child"]) for p in affected["placements"]][2:] == [("R-2", "U-4", False)]
    assert {p["request_id"]: p["cause"] for p in affected["placements"]} == {
        "R-1": "agreement RA-DELAT order_stop", "R-3": "unit avpublicerad (unpublished)",
        "R-2": "unit rekommendationsstopp (recommendation_stop)"}
    shown = json.loads(run("audit", "visits", "--json").output)
    assert shown["high_demand_insatser"] and {u["unit_id"]: u["signals"] for u in shown["units"]}["U-2"] >= 2
    assert {u["unit_id"]: u["last_visited"] for u in shown["units"]}["U-1"] == _ago(40)
    problems = json.loads(run("audit", "placement-agreements", "--every", "--json").output)["placements"]
    # R-2's direct procurement awaits review: not an executed placement yet
    assert {p["request_id"]: p["problems"] for p in problems} == {"R-1": [], "R-3": ["price_differs"]}
    engine = make_engine(db_url)
    for read, view, filters in ((reads.affected_placements, views.affected_placements, {}),
                                (reads.affected_placements, views.affected_placements, {"as_of": date(2024, 1, 1)}),
                                (reads.visits, views.visits, {}), (reads.visits, views.visits, {"level": 3})):
        with open_reader(db_url) as reader:
            direct = read(reader, **filters)
        assert direct == view(engine, **filters), (read.__name__, filters)
    from placering.casework import views as casework_views

    for filters in ({"as_of": date.today()}, {"as_of": date.today(), "all_rows": True}):
        with open_reader(db_url) as reader:
            direct = reads.placement_agreements(reader, **filters)
        assert direct == casework_views.placement_agreements(engine, **filters), filters
    engine.dispose()


def test_entries_read_directly_as_the_orm_does(run, tmp_path, db_url, monkeypatch):
    from placering.audit import reads, views
    from placering.storage import make_engine
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, unit("U-E1", status="pending_entry"), unit("U-E2", status="pending_entry"),
                  unit("U-E3", status="pending_entry"))
    for args in (("register", "entry", "reject", "U-E1", "--reason", "kreditupplysning saknas", "--on", "2026-02-02",
                  "--by", "spink"),
                 ("register", "entry", "reject", "U-E2", "--reason", "tillstånd saknas", "--on", "2026-08-03",
                  "--by", "spink"),
                 ("register", "entry", "reject", "U-E3", "--reason", "ofullständig ansökan", "--on", "2026-08-04",
                  "--by", "spink")):
        r = run(*args)
        assert r.exit_code == 0, (args, r.output)
    for args in (("entries",), ("entries", "--period", "month"), ("entries", "--since", "2026-03-01"),
                 ("entries", "--until", "2026-06-30", "--period", "year"), ("entries", "--period", "vecka"),
                 ("entries", "--since", "2026-05-01", "--until", "2026-01-01")):
        _same_as_orm(run, monkeypatch, "audit", *args)
    shown = json.loads(run("audit", "entries", "--json").output)
    assert [(p["period"], p["units_rejected"], p["units_approved"]) for p in shown["periods"]] == [
        ("2026-H1", 1, 0), ("2026-H2", 2, 0)]
    engine = make_engine(db_url)
    for filters in ({}, {"period": "quarter", "since": date(2026, 8, 1)}):
        with open_reader(db_url) as reader:
            direct = reads.entries(reader, **filters)
        assert direct == views.entries(engine, **filters), filters
    engine.dispose()

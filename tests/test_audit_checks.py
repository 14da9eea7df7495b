"""`audit checks-due` and `audit visits` on a built history, through the CLI, on SQLite and
PostgreSQL: checks past validity, never made or not passed (unavailable is not a pass),
framework follow-ups after 12 and 30 months, and the four visit priority levels."""

from __future__ import annotations

import json
from datetime import date

import pytest

from conftest import snapshot
from test_audit_history import (  # noqa: F401 (fixtures)
    audit_history,
    built_history,
    WIDE,
    ORG_ANGEN,
    ORG_KOMMUN,
    ORG_OST,
    ORG_SYD,
    add_placement,
    add_request,
    as_json,
    cli_ok,
    request_document,
)


@pytest.fixture
def history(audit_history, run):
    cli_ok(run, "register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", "58",
           "--on", "2024-05-15", "--by", "anna.kvalitet")
    cli_ok(run, "register", "check", ORG_OST, "credit_rating", "--result", "unavailable",
           "--on", "2024-05-20", "--by", "anna.kvalitet")
    cli_ok(run, "register", "check", ORG_OST, "court_records", "--result", "fail",
           "--on", "2024-01-10", "--by", "anna.kvalitet")
    return audit_history


def check_states(doc) -> dict[tuple[str, str], str]:
    return {(r["org_nr"], r["kind"]): r["state"] for r in doc["checks"]}


def test_checks_due_as_of_several_dates(history, run):
    doc = as_json(run("audit", "checks-due", "--as-of", "2024-05-10", "--json"))
    states = check_states(doc)
    # The 2022 credit check (valid 31 days by the dated parameter) has long expired; the
    # municipality's own units are not vetted as suppliers.
    assert states[(ORG_ANGEN, "credit_rating")] == "expired"
    assert states[(ORG_OST, "credit_rating")] == "never"
    assert states[(ORG_OST, "court_records")] == "not_passed"
    assert not any(org == ORG_KOMMUN for org, _ in states)
    assert sum(1 for org, _ in states if org == ORG_SYD) == 0  # its only unit was removed on 2024-04-01
    assert doc["validity_days"]["credit_rating"] == 31

    states = check_states(as_json(run("audit", "checks-due", "--as-of", "2024-06-01", "--json")))
    assert (ORG_ANGEN, "credit_rating") not in states  # passed on 15 May, valid to 15 June
    row = [r for r in as_json(run("audit", "checks-due", "--as-of", "2024-06-01", "--json"))["checks"]
           if (r["org_nr"], r["kind"]) == (ORG_OST, "credit_rating")][0]
    assert (row["state"], row["last_result"], row["why"]) == ("not_passed", "unavailable",
                                                              "source unavailable: not a pass")
    # a person reads why in Swedish (issue 19): the table's Varför from the catalogue
    assert row["why_said"] == "källan gick inte att nå: inte godkänd"
    table = " ".join(run("audit", "checks-due", "--as-of", "2024-06-01", env={"COLUMNS": "250"}).stdout.split())
    assert "källan gick inte att nå: inte godkänd" in table and "aldrig gjord" in table
    assert "not a pass" not in table and "never made" not in table
    states = check_states(as_json(run("audit", "checks-due", "--as-of", "2024-06-15", "--json")))
    assert (ORG_ANGEN, "credit_rating") not in states
    doc = as_json(run("audit", "checks-due", "--as-of", "2024-06-16", "--json"))
    row = [r for r in doc["checks"] if (r["org_nr"], r["kind"]) == (ORG_ANGEN, "credit_rating")][0]
    assert (row["state"], row["valid_until"]) == ("expired", "2024-06-15")
    # Before its unit was removed, Stödboende Syd had every check to make.
    states = check_states(as_json(run("audit", "checks-due", "--as-of", "2024-03-01", "--json")))
    assert sum(1 for org, _ in states if org == ORG_SYD) == 9


def followups(run, on):
    doc = as_json(run("audit", "checks-due", "--as-of", on, "--json"))
    return [(f["agreement_id"], f["followup"], f["due_on"], f["state"]) for f in doc["agreement_followups"]]


def test_framework_followups_after_12_and_30_months(history, run):
    # RA-HVB-1 started 2022-05-01: follow-ups due 2023-05-01 and 2024-11-01.
    # RA-STOD-1 started 2023-01-01: due 2024-01-01 and 2025-07-01.
    assert followups(run, "2023-04-15") == [("RA-HVB-1", "12 months", "2023-05-01", "upcoming")]
    assert followups(run, "2023-05-01") == [("RA-HVB-1", "12 months", "2023-05-01", "due")]
    assert followups(run, "2024-06-01") == [("RA-STOD-1", "12 months", "2024-01-01", "due")]
    assert followups(run, "2024-08-15") == [("RA-HVB-1", "30 months", "2024-11-01", "upcoming")]
    doc = as_json(run("audit", "checks-due", "--as-of", "2024-08-15", "--json"))
    assert doc["agreement_followups"][0]["agreement_status"] == "order_stop"
    table = run("audit", "checks-due", "--as-of", "2024-08-15", env=WIDE)
    assert table.exit_code == 0 and "RA-HVB-1" in table.stdout and "2024-11-01" in table.stdout


def test_checks_due_filters_and_bad_input(history, run, engine):
    doc = as_json(run("audit", "checks-due", "--as-of", "2024-06-01", "--supplier", "5560360793",
                      "--kind", "credit_rating", "--json"))
    assert [(r["org_nr"], r["kind"], r["state"]) for r in doc["checks"]] == [
        (ORG_OST, "credit_rating", "not_passed")]
    before = snapshot(engine)
    for args, message in [
        (("--as-of", "2024-02-30"), "--as-of: '2024-02-30' är inte ett datum"),
        (("--kind", "horoscope"), "--kind: okänd kontrolltyp 'horoscope'"),
        (("--supplier", "123"), "--supplier: '123' är inget organisationsnummer"),
    ]:
        result = run("audit", "checks-due", *args)
        assert result.exit_code != 0 and message in result.stderr, (args, result.stderr)
    bad = run("audit", "visits", "--level", "5")
    assert bad.exit_code != 0 and "--level: 5 är ingen prioritetsnivå" in bad.stderr
    assert snapshot(engine) == before


def levels(run, on) -> dict[str, int]:
    doc = as_json(run("audit", "visits", "--as-of", on, "--json"))
    return {u["unit_id"]: u["level"] for u in doc["units"]}


def test_visit_priority_levels(history, run, engine, tmp_path):
    # Korttidsboende requests grew 2 → 3 (50 % ≥ 10 %) in the year before 2023-03-15.
    for i, on in enumerate([date(2021, 6, 1), date(2021, 9, 1), date(2022, 6, 1), date(2022, 8, 1),
                            date(2022, 11, 1)]):
        add_request(engine, f"R-K-{i}", submitted_on=on, insats="korttidsboende", requester="Funktionsstöd")
    doc = as_json(run("audit", "visits", "--as-of", "2023-03-15", "--json"))
    by_unit = {u["unit_id"]: u for u in doc["units"]}
    assert [h["insats"] for h in doc["high_demand_insatser"]] == ["korttidsboende"]
    # U-4 is new (loaded 2023-01-02) in a high-demand insats; U-2 went on watch on 2023-03-01.
    assert by_unit["U-4"]["level"] == 1 and "high demand" in by_unit["U-4"]["why"]
    assert by_unit["U-2"]["level"] == 1 and "on watch since 2023-03-01" in by_unit["U-2"]["why"]
    # Nothing placed yet at U-1, U-3, U-5, and no demand signal; but they are new and never
    # visited ("nytillkomna eller okända"), so not left at the lowest level.
    assert {k: by_unit[k]["level"] for k in ("U-1", "U-3", "U-5")} == {"U-1": 3, "U-3": 3, "U-5": 3}
    assert "never visited" in by_unit["U-3"]["why"]
    # what a person reads (issue 19): the same reasons in Swedish, in the table too
    assert by_unit["U-2"]["why_said"].startswith("signaler: bevakning sedan 2023-03-01")
    assert "stor efterfrågan eller brist: Korttidsboende förfrågningar 2 → 3" in by_unit["U-4"]["why_said"]
    assert doc["high_demand_insatser"][0]["why_said"] == "förfrågningar 2 → 3"
    table = " ".join(run("audit", "visits", "--as-of", "2023-03-15", env={"COLUMNS": "300"}).stdout.split())
    assert "bevakning sedan 2023-03-01" in table and "on watch" not in table and "never visited" not in table

    # A 19-year-old asked for HVB on 2023-03-01 and no unit could take them: a shortage, so the
    # new HVB units move up to the first level.
    path = tmp_path / "short.json"
    path.write_text(json.dumps(request_document("R-SHORT", "hvb_barn_unga", "akut", 19, ["missbruk"],
                                                date(2023, 3, 2))), encoding="utf-8")
    decision = as_json(run("match", str(path), "--by", "handläggare", "--json"))
    assert "NO_ELIGIBLE_UNIT" in {f["code"] for f in decision["flags"]}
    doc = as_json(run("audit", "visits", "--as-of", "2023-03-15", "--json"))
    by_unit = {u["unit_id"]: u for u in doc["units"]}
    assert {k: by_unit[k]["level"] for k in ("U-1", "U-3", "U-5")} == {"U-1": 1, "U-3": 3, "U-5": 1}
    assert "shortage" in by_unit["U-1"]["why"]
    assert levels(run, "2022-12-31") == {}  # nothing was in the register yet

    # By mid-2024: U-5 and U-3 are removed (not visited); U-1's agreement is on order stop.
    assert levels(run, "2024-06-01") == {"U-2": 1, "U-1": 1, "U-4": 3}
    only = as_json(run("audit", "visits", "--as-of", "2024-06-01", "--level", "1", "--json"))["units"]
    assert [u["unit_id"] for u in only] == ["U-2", "U-1"]
    # Four more placements at U-4 make five in a year: heavily used.
    for i in range(4):
        add_placement(engine, f"R-2024-1{i}", submitted_on=date(2024, 2, 1), insats="korttidsboende",
                      unit_id="U-4", org_nr=ORG_KOMMUN, route="egen_regi", start_on=date(2024, 2, 1 + i), age=40)
    doc = as_json(run("audit", "visits", "--as-of", "2024-06-01", "--json"))
    u4 = [u for u in doc["units"] if u["unit_id"] == "U-4"][0]
    assert (u4["level"], u4["placements"]) == (2, 5) and "heavily used" in u4["why"]
    # A complaint is a signal: U-4 moves to the top level.
    cli_ok(run, "register", "complaint", "U-4", "--category", "treatment", "--on", "2024-05-01", "--by", "spink")
    assert levels(run, "2024-06-01")["U-4"] == 1
    table = run("audit", "visits", "--as-of", "2024-06-01", env=WIDE)
    assert table.exit_code == 0 and "Högt prioriterat" in table.stdout


def test_a_recorded_visit_lowers_priority_unless_there_are_signals(history, run, engine):
    # U-4 becomes heavily used (five placements in a year): second level.
    add_placement(engine, "R-V-0", submitted_on=date(2024, 1, 20), insats="korttidsboende",
                  unit_id="U-4", org_nr=ORG_KOMMUN, route="egen_regi", start_on=date(2024, 1, 20), age=40)
    for i in range(4):
        add_placement(engine, f"R-V-{i + 1}", submitted_on=date(2024, 2, 1), insats="korttidsboende",
                      unit_id="U-4", org_nr=ORG_KOMMUN, route="egen_regi", start_on=date(2024, 2, 1 + i), age=40)
    assert levels(run, "2024-06-01")["U-4"] == 2

    before = snapshot(engine)
    for args, message in [
        (("U-4", "--on", "2024-13-01", "--by", "spink"), "--on: '2024-13-01' är inte ett datum"),
        (("U-404", "--on", "2024-05-15", "--by", "spink"), "U-404"),
        (("U-4", "--on", "2024-05-15"), "--by"),
        (("U-4", "--on", "2999-01-01", "--by", "spink"), "ligger i framtiden"),
    ]:
        bad = run("register", "visit", *args)
        assert bad.exit_code != 0 and message in bad.stderr, (args, bad.stderr)
    assert snapshot(engine) == before

    cli_ok(run, "register", "visit", "U-4", "--on", "2024-05-15", "--note", "Besök utan anmärkning", "--by", "spink")
    doc = as_json(run("audit", "visits", "--as-of", "2024-06-01", "--json"))
    u4 = [u for u in doc["units"] if u["unit_id"] == "U-4"][0]
    assert (u4["level"], u4["last_visited"]) == (3, "2024-05-15")
    assert "recently visited (2024-05-15" in u4["why"]
    # Before the visit it was not yet known; a year and more later the visit is no longer recent.
    assert levels(run, "2024-05-14")["U-4"] == 2
    later = as_json(run("audit", "visits", "--as-of", "2025-06-01", "--json"))
    u4_later = [u for u in later["units"] if u["unit_id"] == "U-4"][0]
    assert u4_later["last_visited"] == "2024-05-15" and "recently visited" not in u4_later["why"]
    # A complaint is a signal of shortcomings: back to the first level despite the visit.
    cli_ok(run, "register", "complaint", "U-4", "--category", "treatment", "--on", "2024-05-20", "--by", "spink")
    assert levels(run, "2024-06-01")["U-4"] == 1
    log = as_json(run("register", "history", "U-4", "--json"))
    assert any(e["action"] == "visit" and e["actor"] == "spink" for e in (log if isinstance(log, list) else log["entries"]))

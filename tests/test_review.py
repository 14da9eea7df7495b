"""The direct-procurement review queue: every DIRECT_PROCUREMENT decision enters it; show gives
the reviewer the case, checks and this year's direct purchases against the threshold."""

from __future__ import annotations

import json

from conftest import snapshot
from sqlalchemy import text

from test_matching_support import (  # noqa: F401 (rules_engine is a fixture)
    load_register,
    match_json,
    request,
    rules_engine,
    supplier_of,
    unit,
)

CHECKS = {"U-D": [
    {"kind": "credit_rating", "result": "pass", "value": 62, "performed_on": "2024-03-01", "source": "kreditupplysning"},
    {"kind": "credit_rating", "result": "fail", "value": 30, "performed_on": "2023-03-01", "source": "kreditupplysning"},
    {"kind": "tax_registration", "result": "unavailable", "performed_on": "2024-08-01", "source": "Skatteverket"},
]}


def _setup(run, tmp_path, engine_name):
    doc = load_register(run, tmp_path, unit("U-R", price=4000, free=0), unit("U-D", "direktupphandling", 4600),
                        unit("U-E", "egen_regi", None, age=(18, 20)), checks=CHECKS)
    d0 = match_json(run, tmp_path, request("R-0"), engine_name)
    assert d0["review_required"]
    r = run("request", "choose", "R-0", "U-D", "--by", "anna")
    assert r.exit_code == 0, r.output
    d1 = match_json(run, tmp_path, request("R-1"), engine_name)
    return doc, d0, d1


def test_review_list_and_show(run, tmp_path, rules_engine):
    doc, d0, d1 = _setup(run, tmp_path, rules_engine)
    listed = json.loads(run("review", "list", "--json").stdout)
    assert [(x["id"], x["request_id"], x["status"], x["reason"]) for x in listed] == [
        (d0["review_id"], "R-0", "pending", "no_eligible_framework_unit"),
        (d1["review_id"], "R-1", "pending", "no_eligible_framework_unit"),
    ]
    show = json.loads(run("review", "show", str(d1["review_id"]), "--json").stdout)
    assert show["request"]["request_id"] == "R-1" and show["status"] == "pending"
    assert show["direct_procurement"]["reason"] == "no_eligible_framework_unit"
    assert show["why_no_preferred_unit"] == {"ramavtal": {"CAPACITY": 1}, "egen_regi": {"AGE": 1}}
    [rec] = show["recommendations"]
    assert rec["unit_id"] == "U-D" and rec["org_nr"] == supplier_of(doc, "U-D")
    # R-0 is pending review: its price is not yet a final price, so the reference is the framework's.
    assert rec["daily_price"] == 4600 and rec["reference_price"] == 4000 and rec["price_ratio"] == 1.15
    dp = show["direct_purchases_insats"]
    assert (dp["municipality"], dp["insats"], dp["total"], dp["with_this_case"]) == (
        "Göteborg", "hvb_barn_unga", 121 * 4600, 2 * 121 * 4600)
    checks = {c["kind"]: c for c in rec["checks"]}
    assert checks["credit_rating"]["result"] == "pass" and checks["credit_rating"]["value"] == 62  # the latest
    assert checks["tax_registration"]["result"] == "unavailable" and checks["tax_registration"]["passed"] is False
    assert checks["court_records"]["result"] is None and checks["court_records"]["passed"] is False
    # R-0 placed at the supplier from 2024-09-02: 121 days to the end of the year at 4600 a day.
    purchases = rec["direct_purchases"]
    assert purchases["year"] == 2024 and purchases["total"] == 121 * 4600
    assert [p["request_id"] for p in purchases["placements"]] == ["R-0"]
    assert purchases["by_insats"] == {"hvb_barn_unga": 121 * 4600}
    assert rec["this_case_in_year"] == 121 * 4600 and rec["total_with_this_case"] == 2 * 121 * 4600
    assert show["threshold"]["value"] == 758000 and show["threshold"]["parameter"] == "direct_procurement_threshold_sek"
    assert rec["over_threshold"] is True
    human = run("review", "show", str(d1["review_id"]))
    assert human.exit_code == 0, human.output
    out = human.stdout
    assert "Ingen ramavtalsenhet kunde ta emot personen" in out and "Ramavtal: Lediga platser 1" in out
    assert "Kunde inte göras" in out and "NEJ" in out and "ÖVER" in out and "758\u00a0000\u00a0kr" in out


def test_approve_and_reject(run, engine, tmp_path):
    _doc, d0, d1 = _setup(run, tmp_path, "reference")
    ok = run("review", "approve", str(d0["review_id"]), "--by", "granskare", "--note", "inget ramavtal hade plats")
    assert ok.exit_code == 0, ok.output
    before = snapshot(engine)
    for args, code, message in [
        (("review", "approve", str(d0["review_id"]), "--by", "g", "--note", "igen"), 4, "är redan godkänd"),
        (("review", "reject", str(d0["review_id"]), "--by", "g", "--note", "nej"), 4, "är redan godkänd"),
        (("review", "reject", str(d1["review_id"]), "--by", "g", "--note", " "), 2, "--note"),
        (("review", "reject", str(d1["review_id"]), "--by", "g"), 2, "--note"),
        (("review", "reject", "999", "--by", "g", "--note", "x"), 3, "ingen granskning 999"),
        (("review", "reject", "abc", "--by", "g", "--note", "x"), 2, "är inget gransknings-id"),
    ]:
        r = run(*args)
        assert r.exit_code == code, (args, r.output)
        assert message in r.stderr
    assert snapshot(engine) == before
    rej = run("review", "reject", str(d1["review_id"]), "--by", "granskare", "--note", "pris för högt", "--json")
    assert json.loads(rej.stdout)["status"] == "rejected"
    assert [x["request_id"] for x in json.loads(run("review", "list", "--status", "approved", "--json").stdout)] == ["R-0"]
    assert [x["request_id"] for x in json.loads(run("review", "list", "--status", "pending", "--json").stdout)] == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT action, actor, note FROM history WHERE entity_kind = 'review' ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("review_approved", "granskare", "inget ramavtal hade plats"),
                                       ("review_rejected", "granskare", "pris för högt")]
    # A rejected direct procurement cannot be chosen.
    r = run("request", "choose", "R-1", "U-D", "--by", "anna")
    assert r.exit_code == 4 and "avslogs" in r.stderr
    human = run("review", "list", env={"COLUMNS": "250"})
    assert "Godkänd" in human.stdout and "Avslagen" in human.stdout


def test_no_review_without_direct_procurement(run, tmp_path):
    load_register(run, tmp_path, unit("U-R", price=4000))
    d = match_json(run, tmp_path, request(), "reference")
    assert d["review_required"] is False and "review_id" not in d
    assert json.loads(run("review", "list", "--json").stdout) == []
    assert "(inga granskningar)" in run("review", "list").stdout

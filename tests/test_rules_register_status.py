"""Register-status rules through the CLI: a recorded check, permit decision or complaint
changes statuses (history with rule id and rules version) or raises proposals, on SQLite and
PostgreSQL; the proposals worklist is decided with a note."""

from __future__ import annotations

import json

import pytest

from placering.rules.ruleset import load_ruleset
from conftest import snapshot

VERSION = load_ruleset().version


def _unit(unit_id: str, insats: str, agreement: str, **over) -> dict:
    u = {"unit_id": unit_id, "name": f"Enhet {unit_id}", "municipality": "Göteborg",
         "location": {"lat": 57.71, "lon": 11.97}, "protected_address": False, "places": 8, "free_places": 2,
         "age_min": 13, "age_max": 17, "genders": ["female", "male"], "target_groups": ["missbruk"],
         "offers": [{"insats": insats, "subcategories": []}],
         "routes": [{"route": "ramavtal", "insats": insats, "agreement_id": agreement, "daily_price": 4200,
                     "valid_from": "2022-05-01", "valid_to": "2026-04-30", "buyers": ["Göteborg"],
                     "status": "active"}],
         "permits": [{"dnr": f"dnr-{unit_id}", "insats": insats, "status": "active", "target_groups": ["missbruk"],
                      "decided_on": "2019-06-01"}],
         "status": "published"}
    u.update(over)
    return u


REGISTER = {"format": "placering-register/1", "suppliers": [
    {"org_nr": "556677-8899", "name": "Vårdbolaget Ängen AB", "legal_form": "aktiebolag",
     "checks": [{"kind": "credit_rating", "result": "pass", "value": 62, "performed_on": "2023-12-01",
                 "source": "kreditupplysning"}],
     "units": [_unit("U-HVB", "hvb_barn_unga", "RA-HVB-1"),
               _unit("U-SKB", "skyddat_boende", "RA-SKB-1", age_min=18, age_max=99, target_groups=["vald"])]},
]}


@pytest.fixture
def reg(run, tmp_path):
    path = tmp_path / "register.json"
    path.write_text(json.dumps(REGISTER, ensure_ascii=False), encoding="utf-8")
    r = run("register", "import", str(path), "--on", "2024-01-01", "--apply-status", "--by", "import")
    assert r.exit_code == 0, r.output
    return run


def history(run, ident: str) -> list[dict]:
    r = run("register", "history", ident, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def unit_status(run, unit_id: str) -> str:
    return [h for h in history(run, unit_id)
            if h["kind"] == "unit" and "status" in (h["changes"] or {})][-1]["changes"]["status"][-1]


def test_revoked_permit_removes_unit_and_proposes_order_stop_to_ink(reg):
    r = reg("register", "permit", "U-HVB", "--dnr", "dnr-U-HVB", "--status", "revoked", "--on", "2024-05-02",
            "--by", "spink")
    assert r.exit_code == 0, r.output
    assert "regel STATUS-PERMIT-LOST: enhet U-HVB: Publicerad → Borttagen" in r.output
    assert "regel STATUS-PERMIT-LOST-ORDER-STOP: förslag" in r.output
    [status] = [h for h in history(reg, "U-HVB") if h["action"] == "status"]
    assert (status["reason"], status["rule_id"], status["rules_version"], status["actor"], status["effective_on"]) == (
        "ivo", "STATUS-PERMIT-LOST", VERSION, "spink", "2024-05-02")
    assert status["changes"] == {"status": ["published", "removed"]}
    # The agreement is not stopped by the rule: INK decides (a proposal on the worklist).
    assert [h for h in history(reg, "RA-HVB-1") if h["rule_id"]] == []
    [proposal] = json.loads(reg("register", "proposals", "--json").output)
    assert (proposal["kind"], proposal["org_nr"], proposal["unit_id"]) == ("order_stop", "556677-8899", "U-HVB")
    assert proposal["details"]["agreements"] == ["RA-HVB-1"]
    # The other unit of the supplier (another insats) is untouched.
    assert unit_status(reg, "U-SKB") == "published"


def test_skyddat_boende_permit_loss_counts_only_from_2024_04_01(reg):
    r = reg("register", "permit", "U-SKB", "--dnr", "dnr-U-SKB", "--status", "revoked", "--on", "2024-03-31",
            "--by", "spink", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["rules"] == []
    assert unit_status(reg, "U-SKB") == "published"
    r = reg("register", "permit", "U-SKB", "--dnr", "dnr-U-SKB", "--status", "banned", "--on", "2024-04-01",
            "--by", "spink", "--json")
    doc = json.loads(r.output)
    assert [(a["action"], a["rule"]) for a in doc["rules"]] == [
        ("unit_status", "STATUS-PERMIT-LOST"), ("proposal", "STATUS-PERMIT-LOST-ORDER-STOP")]
    assert unit_status(reg, "U-SKB") == "removed"


def test_credit_rating_watch_then_unpublish_then_republish_proposal(reg):
    r = reg("register", "check", "556677-8899", "credit_rating", "--result", "fail", "--value", "35",
            "--on", "2024-06-01", "--by", "spink")
    assert r.exit_code == 0, r.output
    assert r.output.count("STATUS-CREDIT-WATCH") == 2
    assert unit_status(reg, "U-HVB") == unit_status(reg, "U-SKB") == "watch"
    reg("register", "check", "556677-8899", "credit_rating", "--result", "fail", "--value", "12",
        "--on", "2024-07-01", "--by", "spink")
    assert unit_status(reg, "U-HVB") == "unpublished"
    [h] = [h for h in history(reg, "U-HVB") if h["rule_id"] == "STATUS-CREDIT-UNPUBLISH"]
    assert h["note"] == "Kreditbetyget 12 är under avpubliceringsnivån 20"
    r = reg("register", "check", "556677-8899", "credit_rating", "--result", "pass", "--value", "55",
            "--on", "2024-09-01", "--by", "spink", "--json")
    [a] = json.loads(r.output)["rules"]
    assert (a["action"], a["rule"]) == ("proposal", "STATUS-CREDIT-REPUBLISH")
    assert unit_status(reg, "U-HVB") == "unpublished"  # a proposal, not a transition
    props = json.loads(reg("register", "proposals", "--json").output)
    assert [(p["kind"], p["org_nr"], p["unit_id"], p["status"]) for p in props] == [
        ("republish", "556677-8899", None, "open")]


def test_unavailable_check_is_never_a_pass(reg, engine):
    r = reg("register", "check", "556677-8899", "credit_rating", "--result", "unavailable", "--on", "2024-06-01",
            "--by", "spink")
    assert r.exit_code == 0
    assert "STATUS-CHECK-UNAVAILABLE: förslag" in r.output and "räknas inte som godkänd" in r.output
    assert unit_status(reg, "U-HVB") == "published"
    [p] = json.loads(reg("register", "proposals", "--status", "open", "--json").output)
    assert p["kind"] == "check_unavailable" and p["rules_version"] == VERSION


def test_failed_checks_raise_one_deepened_control_proposal_never_a_removal(reg, engine):
    for day in ("2024-06-01", "2024-06-02"):
        r = reg("register", "check", "556677-8899", "tax_registration", "--result", "fail", "--on", day,
                "--by", "spink")
        assert r.exit_code == 0
    assert "förslag 1 är redan öppet" in r.output
    props = json.loads(reg("register", "proposals", "--json").output)
    assert [(p["id"], p["kind"], p["rule_id"]) for p in props] == [(1, "deepened_control", "STATUS-CHECK-FAILED")]
    assert unit_status(reg, "U-HVB") == unit_status(reg, "U-SKB") == "published"
    [created] = [h for h in history(reg, "556677-8899") if h["action"] == "proposal_created"]
    assert (created["entity_id"], created["rule_id"], created["rules_version"]) == ("1", "STATUS-CHECK-FAILED", VERSION)

    r = reg("register", "proposals", "accept", "1", "--note", "Fördjupad kontroll inledd", "--by", "kvalitet")
    assert r.exit_code == 0 and "godtaget av kvalitet" in r.output
    [acc] = [h for h in history(reg, "556677-8899") if h["action"] == "proposal_accepted"]
    assert (acc["actor"], acc["note"], acc["changes"]["status"]) == ("kvalitet", "Fördjupad kontroll inledd",
                                                                      ["open", "accepted"])
    before = snapshot(engine)
    r = reg("register", "proposals", "dismiss", "1", "--note", "igen", "--by", "kvalitet")
    assert r.exit_code == 4 and "är redan godtaget" in r.output
    r = reg("register", "proposals", "dismiss", "99", "--note", "x", "--by", "kvalitet")
    assert r.exit_code == 3 and "inget förslag 99" in r.output
    r = reg("register", "proposals", "dismiss", "1", "--note", "  ", "--by", "kvalitet")
    assert r.exit_code == 2 and "behöver en anteckning" in r.output
    assert snapshot(engine) == before


def test_dismiss_with_note(reg):
    reg("register", "check", "556677-8899", "court_records", "--result", "fail", "--on", "2024-06-01", "--by", "s")
    r = reg("register", "proposals", "dismiss", "1", "--note", "Domen gäller en tidigare ägare", "--by", "jurist",
            "--json")
    doc = json.loads(r.output)
    assert (doc["status"], doc["decided_by"], doc["decision_note"]) == ("dismissed", "jurist",
                                                                       "Domen gäller en tidigare ägare")
    assert json.loads(reg("register", "proposals", "--status", "open", "--json").output) == []


def test_similar_complaints_within_twelve_months_raise_a_supplier_proposal(reg):
    for day in ("2023-05-01", "2024-02-01"):
        r = reg("register", "complaint", "U-HVB", "--category", "treatment", "--on", day, "--by", "spink")
        assert r.exit_code == 0 and "regel" not in r.output  # the 2023 one is older than 12 months
    # Three complaints on the unit within twelve months, but not three similar ones: no proposal.
    r = reg("register", "complaint", "U-HVB", "--category", "documentation", "--on", "2024-06-01", "--by", "spink")
    assert r.exit_code == 0 and "regel" not in r.output
    r = reg("register", "complaint", "U-HVB", "--category", "treatment", "--on", "2024-09-01", "--by", "spink")
    assert r.exit_code == 0 and "regel" not in r.output
    r = reg("register", "complaint", "U-HVB", "--category", "treatment", "--on", "2024-10-01", "--by", "spink")
    assert "regel STATUS-COMPLAINTS-DEEPENED: förslag 1 (Fördjupad kontroll) skapat" in r.output
    [p] = json.loads(reg("register", "proposals", "--json").output)
    values = p["details"]["values"]
    assert (p["unit_id"], values["complaint.similar_on_supplier"], values["complaint.category"]) == (
        None, 3, "treatment")


def test_rejected_event_leaves_the_database_unchanged(reg, engine):
    before = snapshot(engine)
    r = reg("register", "check", "556677-8899", "credit_rating", "--result", "maybe", "--on", "2024-06-01",
            "--by", "spink")
    assert r.exit_code != 0
    assert snapshot(engine) == before


def test_a_check_is_judged_by_the_rules_directory_given_with_rules(reg, tmp_path):
    """`register check --rules DIR` (and `register permit`) run that directory's register-status
    rules: with the notification level raised to 70 a rating of 55 puts the units on watch; the
    current rules (level 40) leave them published."""
    import shutil

    from placering.paths import rules_dir

    candidate = tmp_path / "candidate-rules"
    shutil.copytree(rules_dir(), candidate)
    params = candidate / "parameters" / "credit_rating.yaml"
    text = params.read_text(encoding="utf-8")
    params.write_text(text.replace("        value: 40\n", "        value: 70\n", 1), encoding="utf-8")
    check = ("register", "check", "556677-8899", "credit_rating", "--result", "pass", "--value", "55",
             "--on", "2024-06-01", "--by", "spink", "--json")
    before = history(reg, "556677-8899")
    refused = reg(*check[:-1], "--rules", str(tmp_path / "no-such-rules"))
    assert refused.exit_code == 2 and "no-such-rules" in refused.stderr and "Traceback" not in refused.output
    assert history(reg, "556677-8899") == before  # refused before anything was written
    assert json.loads(reg(*check).output)["rules"] == []
    assert unit_status(reg, "U-HVB") == "published"
    doc = json.loads(reg(*check[:-1], "--rules", str(candidate), "--json").output)
    assert {(a["action"], a["unit_id"], a["status_to"]) for a in doc["rules"]} >= {("unit_status", "U-HVB", "watch")}
    assert unit_status(reg, "U-HVB") == "watch"
    [entry] = [h for h in history(reg, "U-HVB") if h["action"] == "status" and h["rule_id"]]
    assert entry["rules_version"] != VERSION  # recorded with the rules that decided it

"""The register's decisions bind (issue 8): every side door the issue lists, tried through the
CLI on SQLite and PostgreSQL, shows the refusal or the kept decision, and a refusal leaves the
database as it was.

Side doors: an older file re-importing statuses, order stops and removals; an imported revoked
permit or low credit rating not firing the register-status rules; a new supplier published and
recommended without entry checks; an IVO revocation stopping every supplier on an agreement.
(`request choose` is in test_choose_binding.py.)"""

from __future__ import annotations

import json

from conftest import snapshot

from test_matching_support import match_json, org_nr, register_doc, request, unit

ON = "2024-09-01"
LOADED_ON = "2024-01-02"


def load_register(run, tmp_path, *units, checks=None) -> dict:
    """The register first loaded from an earlier system on LOADED_ON (its statuses taken)."""
    doc = register_doc(*units, checks=checks)
    result = run("register", "import", write(tmp_path, doc, "first.json"), "--on", LOADED_ON, "--apply-status",
                 "--by", "registervård")
    assert result.exit_code == 0, result.output
    return doc


def write(tmp_path, doc, name):
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def status(run, unit_id: str) -> str:
    return json.loads(run("register", "show", unit_id, "--json").stdout)["status"]


def routes_status(run, unit_id: str) -> list[str]:
    return [r["status"] for r in json.loads(run("register", "show", unit_id, "--json").stdout)["routes"]]


def paused_ids(run, as_of: str = "2099-01-01") -> list[tuple[str, str, str]]:
    doc = json.loads(run("audit", "paused", "--as-of", as_of, "--json").stdout)
    return sorted((r["kind"], r["id"], r["org_nr"]) for r in doc["paused"])


def recommended(run, tmp_path, rid: str) -> list[str]:
    return [r["unit_id"] for r in match_json(run, tmp_path, request(rid), "reference")["recommendations"]]


def test_an_older_file_does_not_undo_decisions(run, engine, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1", agreement="RA-1"), unit("U-2", "direktupphandling", 4500),
                        unit("U-3", agreement="RA-3"))
    older = write(tmp_path, doc, "older.json")  # the file the register was loaded from: no revision
    s1, s3 = org_nr(1), org_nr(3)
    # Spink unpublishes U-2 (credit rating 15), INK stops RA-1, IVO revokes U-3's permit.
    assert run("register", "check", org_nr(2), "credit_rating", "--result", "fail", "--value", "15", "--on", ON,
               "--by", "spink").exit_code == 0
    assert run("register", "agreement", "RA-1", "order_stop", "--supplier", s1, "--on", ON, "--by", "ink",
               "--note", "Utredning").exit_code == 0
    assert run("register", "permit", "U-3", "--dnr", "8.1-U-3/2020", "--status", "revoked", "--on", ON,
               "--by", "ivo").exit_code == 0
    assert (status(run, "U-2"), routes_status(run, "U-1"), status(run, "U-3")) == (
        "unpublished", ["order_stop"], "removed")
    # The older file again, now with fresh entry checks for U-3's supplier: every decision is kept.
    doc["suppliers"][2]["checks"] = [{"kind": k, "result": "pass", "performed_on": ON} for k in (
        "credit_rating", "tax_registration", "employer_registration", "enforcement_debt", "court_records")]
    again = write(tmp_path, doc, "older-again.json")
    result = run("register", "import", again, "--by", "registervård", "--json")
    assert result.exit_code == 0, result.output
    kept = {(k["kind"], k["id"], k["register"], k["file"]) for k in json.loads(result.stdout)["kept"]}
    assert kept == {("unit", "U-2", "unpublished", "published"), ("agreement", "RA-1", "order_stop", "active"),
                    ("unit", "U-3", "removed", "published"), ("permit", "8.1-U-3/2020", "revoked", "active")}
    assert (status(run, "U-2"), routes_status(run, "U-1"), status(run, "U-3")) == (
        "unpublished", ["order_stop"], "removed")
    permits = json.loads(run("register", "show", "U-3", "--json").stdout)["permits"]
    assert [p["status"] for p in permits] == ["revoked"]
    # --apply-status takes the file's statuses through the same invariants: a unit removed after IVO
    # revoked its permit does not come back, and nothing is written.
    before = snapshot(engine)
    applied = run("register", "import", again, "--by", "registervård", "--apply-status")
    assert applied.exit_code == 2
    assert "enheten U-3 är borttagen; det är slutgiltigt om inte enheten tas in igen genom en ny inträdeskontroll" \
        in applied.stderr
    assert snapshot(engine) == before
    assert s3  # (the supplier whose checks were fresh)


def test_a_stale_export_is_refused_with_its_conflicts(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"), unit("U-2", "direktupphandling", 4500))
    export = json.loads(run("register", "export", "--json").stdout)
    assert run("register", "status", "U-2", "unpublished", "--on", ON, "--by", "spink",
               "--note", "Kreditbetyg 15").exit_code == 0
    newest = max(e["id"] for e in json.loads(run("register", "history", "U-2", "--json").stdout))
    # Someone edits the old export (more places at U-1) and imports it.
    export["suppliers"][0]["units"][0]["places"] = 7
    path = write(tmp_path, export, "stale.json")
    before = snapshot(engine)
    result = run("register", "import", path, "--by", "registervård", "--apply-status")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Fel: {path}, suppliers[1].units[0], fält 'status': enhet U-2 status: ändrad i registret efter "
        f"filens revision {export['revision']} (historik #{newest}, {ON}, av spink): registret har "
        "avpublicerad, filen publicerad. Exportera igen, eller importera med --skip-conflicts för att behålla "
        "registrets värde\n")
    assert snapshot(engine) == before
    # Without --apply-status the same conflict is refused too: the file is older than the decision.
    assert run("register", "import", path, "--by", "registervård").exit_code == 2
    assert snapshot(engine) == before
    # --skip-conflicts applies what does not conflict and keeps the decision.
    ok = run("register", "import", path, "--by", "registervård", "--apply-status", "--skip-conflicts", "--json")
    assert ok.exit_code == 0, ok.output
    summary = json.loads(ok.stdout)
    assert [(c["id"], c["field"], c["register"], c["file"]) for c in summary["conflicts"]] == [
        ("U-2", "status", "unpublished", "published")]
    assert status(run, "U-2") == "unpublished"
    assert json.loads(run("register", "show", "U-1", "--json").stdout)["places"] == 7


def test_imported_revoked_permit_and_low_credit_rating_fire_the_rules(run, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1"), unit("U-2", "direktupphandling", 4500))
    doc["suppliers"][0]["units"][0]["permits"][0].update(status="revoked", decided_on=ON)
    doc["suppliers"][1]["checks"] = [{"kind": "credit_rating", "result": "fail", "value": 10, "performed_on": ON}]
    result = run("register", "import", write(tmp_path, doc, "ivo.json"), "--by", "registervård", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {(c["id"], c["to"], c["why"]) for c in summary["status_changes"] if c["why"].startswith("rule")} == {
        ("U-1", "removed", "rule STATUS-PERMIT-LOST"), ("U-2", "unpublished", "rule STATUS-CREDIT-UNPUBLISH")}
    assert (status(run, "U-1"), status(run, "U-2")) == ("removed", "unpublished")
    # audit paused now agrees with matching.
    assert [(k, i) for k, i, _ in paused_ids(run)] == [("unit", "U-1"), ("unit", "U-2")]
    history = json.loads(run("register", "history", "U-1", "--json").stdout)
    [removal] = [h for h in history if h["action"] == "status"]
    assert removal["rule_id"] == "STATUS-PERMIT-LOST" and removal["reason"] == "ivo"
    [permit] = [h for h in history if h["action"] == "permit" and h["changes"]["status"][1] == "revoked"]
    assert permit["note"].startswith("import ") and permit["note"].endswith("ivo.json")


def test_expired_permit_counts_as_lost_where_the_insats_requires_one(run, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    r = run("register", "permit", "U-1", "--dnr", "8.1-U-1/2020", "--status", "expired", "--on", ON, "--by", "ivo")
    assert r.exit_code == 0 and "STATUS-PERMIT-LOST" in r.output
    assert status(run, "U-1") == "removed"


def test_new_supplier_waits_for_its_entry_check(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1", price=4100))
    new = register_doc(unit("U-1", price=4100), unit("U-NEW", "direktupphandling", 3000),
                       checks={"U-NEW": [{"kind": "tax_registration", "result": "fail", "performed_on": ON}]})
    new["suppliers"] = new["suppliers"][1:]
    path = write(tmp_path, new, "new.json")
    dry = run("register", "import", path, "--by", "registervård", "--dry-run", "--json")
    assert dry.exit_code == 0
    assert [(c["id"], c["to"]) for c in json.loads(dry.stdout)["status_changes"] if c["kind"] == "unit"] == [
        ("U-NEW", "pending_entry")]
    result = run("register", "import", path, "--by", "registervård", "--on", LOADED_ON, "--json")
    assert result.exit_code == 0, result.output
    assert status(run, "U-NEW") == "pending_entry"
    # Never asked or recommended: a request that only it could take finds nothing.
    d = match_json(run, tmp_path, request("R-1", max_daily_price=3500), "reference")
    assert d["recommendations"] == [] and [e["unit_id"] for e in d["excluded"] if any(
        r["code"] == "STATUS" for r in e["reasons"])] == ["U-NEW"]
    listed = json.loads(run("register", "entry", "list", "--on", ON, "--json").stdout)
    # A company's checks for direct procurement (004 l. 1255-1257), and for its permit-bound HVB
    # the supervision reports (l. 1259-1260); its permit is active.
    assert [(e["unit_id"], e["missing"]) for e in listed] == [("U-NEW", [
        "credit_rating", "employer_registration", "tax_registration", "court_records", "ivo_supervision",
        "manager_competence"])]
    # Approval is refused while the checks have not passed; a status change cannot publish it either.
    before = snapshot(engine)
    refused = run("register", "entry", "approve", "U-NEW", "--note", "ok", "--on", ON, "--by", "spink")
    assert refused.exit_code == 4 and "F-skatt (senaste resultat underkänd" in refused.stderr
    side = run("register", "status", "U-NEW", "published", "--by", "spink")
    assert side.exit_code == 4 and "register entry approve" in side.stderr
    assert snapshot(engine) == before
    # Rejected, with its reason; later checks pass and a maintainer approves.
    sup = org_nr(2)
    assert run("register", "entry", "reject", sup, "--reason", "Skatteregistrering saknas", "--on", ON,
               "--by", "spink").exit_code == 0
    for kind in ("credit_rating", "tax_registration", "employer_registration", "ivo_supervision", "court_records",
                 "manager_competence"):
        args = ["--value", "70"] if kind == "credit_rating" else []
        assert run("register", "check", sup, kind, "--result", "pass", "--on", "2024-10-01", *args,
                   "--by", "spink").exit_code == 0
    ok = run("register", "entry", "approve", "U-NEW", "--note", "Kontroller utan anmärkning", "--on", "2024-10-02",
             "--by", "spink")
    assert ok.exit_code == 0, ok.output
    assert status(run, "U-NEW") == "published"
    history = json.loads(run("register", "history", "U-NEW", "--json").stdout)
    assert [h["action"] for h in history if h["kind"] == "entry"] == ["entry_rejected", "entry_approved"]
    assert [h["note"] for h in history if h["kind"] == "entry"] == [
        "Skatteregistrering saknas", "Kontroller utan anmärkning"]
    report = json.loads(run("audit", "entries", "--period", "half", "--json").stdout)
    assert [(p["period"], p["suppliers_checked"], p["suppliers_rejected"], p["units_approved"])
            for p in report["periods"]] == [("2024-H2", 1, 1, 1)]


def test_apply_status_is_recorded_and_lists_units_published_without_entry_checks(run, tmp_path):
    doc = register_doc(unit("U-1"), unit("U-E", "egen_regi", None))
    result = run("register", "import", write(tmp_path, doc, "initial.json"), "--by", "registervård",
                 "--apply-status", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)["published_without_entry_checks"]
    # INK's framework checks include court records (000 l. 10002 'Relevanta domar avseende
    # företaget och dess företrädare') and, for a permit-bound HVB, the supervision reports.
    assert [(p["unit_id"], p["missing"]) for p in listed] == [("U-1", [
        "tax_registration", "enforcement_debt", "employer_registration", "warning_list", "annual_report",
        "court_records", "ivo_supervision", "manager_competence"])]
    [created] = [h for h in json.loads(run("register", "history", "U-1", "--json").stdout)
                 if h["kind"] == "unit" and h["action"] == "created"]
    assert created["changes"]["status"] == [None, "published"] and created["note"].endswith("(--apply-status)")
    # The municipality's own unit never waits for an entry check.
    plain = register_doc(unit("U-1"), unit("U-E", "egen_regi", None), unit("U-E2", "egen_regi", None))
    plain["suppliers"] = plain["suppliers"][2:]
    plain["suppliers"][0]["org_nr"] = org_nr(9, municipal=True)
    assert run("register", "import", write(tmp_path, plain, "kommun.json"), "--by", "r").exit_code == 0
    assert status(run, "U-E2") == "published"


def test_ivo_revocation_removes_the_unit_and_proposes_an_order_stop_for_that_supplier_only(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-A", agreement="RA-SHARED", price=4000),
                  unit("U-B", agreement="RA-SHARED", price=4000))
    sup_a, sup_b = org_nr(1), org_nr(2)
    r = run("register", "permit", "U-A", "--dnr", "8.1-U-A/2020", "--status", "revoked", "--on", ON, "--by", "ivo")
    assert r.exit_code == 0, r.output
    assert status(run, "U-A") == "removed" and routes_status(run, "U-B") == ["active"]
    [proposal] = json.loads(run("register", "proposals", "--json").stdout)
    assert (proposal["kind"], proposal["org_nr"], proposal["details"]["agreements"]) == (
        "order_stop", sup_a, ["RA-SHARED"])
    assert recommended(run, tmp_path, "R-1") == ["U-B"]
    # INK decides: order stop for supplier A's participation only.
    before = snapshot(engine)
    bad = run("register", "agreement", "RA-SHARED", "order_stop", "--supplier", org_nr(7), "--by", "ink")
    assert bad.exit_code == 4 and "är inte med i avtalet RA-SHARED" in bad.stderr
    assert snapshot(engine) == before
    ok = run("register", "agreement", "RA-SHARED", "order_stop", "--supplier", sup_a, "--on", ON, "--by", "ink",
             "--note", "IVO återkallade tillståndet", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["changes"] == {"status": ["active", "order_stop"], "supplier": sup_a,
                                                "scope": "supplier"}
    assert routes_status(run, "U-A") == ["order_stop"] and routes_status(run, "U-B") == ["active"]
    assert ("agreement", "RA-SHARED", sup_a) in paused_ids(run)
    assert ("agreement", "RA-SHARED", sup_b) not in paused_ids(run)
    assert recommended(run, tmp_path, "R-2") == ["U-B"]
    # When INK says so, the whole agreement: both suppliers, one entry each.
    assert run("register", "agreement", "RA-SHARED", "order_stop", "--on", ON, "--by", "ink").exit_code == 0
    assert routes_status(run, "U-B") == ["order_stop"]
    assert [(k, i) for k, i, _ in paused_ids(run) if k == "agreement"] == [("agreement", "RA-SHARED")]


def test_affected_placements_lists_a_placement_agreed_but_not_started(run, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    match_json(run, tmp_path, request("R-1", start_on="2024-10-15"), "reference")
    assert run("request", "choose", "R-1", "U-1", "--by", "h", "--on", ON).exit_code == 0
    assert run("register", "permit", "U-1", "--dnr", "8.1-U-1/2020", "--status", "revoked", "--on", "2024-09-10",
               "--by", "ivo").exit_code == 0
    doc = json.loads(run("audit", "affected-placements", "--as-of", "2024-09-20", "--json").stdout)
    assert [(p["request_id"], p["started"], p["child"]) for p in doc["placements"]] == [("R-1", False, True)]
    assert doc["counts"]["not_started"] == 1

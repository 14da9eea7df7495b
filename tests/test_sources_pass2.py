"""Issue 20: a second pass over the source documents (../shared/sources). Each test is written
from the quoted source lines named in its docstring, through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest


def out(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- item 15: the demo at 2024-12-31 ------------------------------------------------------------


def test_init_demo_as_of_2024_12_31_has_parameters_for_its_whole_history(run):
    """`placering init --demo --as-of 2024-12-31` failed: its six years of history start on
    2018-01-01 and entry_checks_required had no value before 2020-01-01. Values whose source
    gives no start date (004 l. 1249-1260 entry checks; 000 l. 10431-10448 Creditsafe) now hold
    from before any history, so the demo loads and audits of its early years answer."""
    first = out(run("init", "--demo", "--as-of", "2024-12-31", "--json"))
    assert first["demo"]["units_created"] == 900 and first["demo"]["as_of"] == "2024-12-31"
    due = out(run("audit", "checks-due", "--as-of", "2018-06-30", "--json"))
    assert due["checks"] and due["validity_days"]["credit_rating"] == 31
    paused = out(run("audit", "paused", "--as-of", "2018-06-30", "--json"))
    assert all(p["since"] <= "2018-06-30" for p in paused["paused"])


def test_every_parameter_the_demo_history_reads_covers_its_first_day():
    from placering.demo.generator import DEMO_AS_OF
    from placering.demo.history import YEARS
    from placering.rules import load_ruleset

    first_day = date(DEMO_AS_OF.year - YEARS, 1, 1)
    rs = load_ruleset()
    for name in ("entry_checks_required", "check_validity_days", "credit_rating_notification_level",
                 "credit_rating_unpublish_level", "complaints_deepened_control_count",
                 "complaints_similar_window_months", "permit_required_insatser", "ivo_unexecuted_months",
                 "placement_agreement_price_tolerance_sek", "protected_distance_band_km"):
        assert rs.param(name, first_day) is not None, name


# --- shared: a rule test file's register, imported through the CLI ----------------------------


def case_register(file: str, request: dict | None = None) -> tuple[dict, dict | None]:
    """The register of rules/tests/FILE (unit defaults merged) as an interchange document, and
    the file's request defaults merged with `request`."""
    from placering.rules.testing import load_cases
    from placering.paths import rules_dir

    case = next(c for c in load_cases(rules_dir() / "tests") if c.file.endswith(f"/{file}"))
    doc = {"format": "placering-register/1", "suppliers": []}
    for s in case.register["suppliers"]:
        s = dict(s, name=s.get("name") or f"Leverantör {s['org_nr']}")
        s["units"] = [dict(u, name=u.get("name") or f"Enhet {u['unit_id']}") for u in s["units"]]
        doc["suppliers"].append(s)
    req = None
    if request is not None:
        base = {"legal_basis": "SoL", "urgency": "planerad", **(case.request or {})}
        base.update(request)
        req = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in base.items()}
    return doc, req


def import_register(run, tmp_path, doc, on="2020-01-02"):
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    out(run("register", "import", str(path), "--by", "anna", "--on", on, "--apply-status", "--json"))


def match(run, tmp_path, request: dict, *args):
    path = tmp_path / f"{request['request_id']}.json"
    path.write_text(json.dumps(request, ensure_ascii=False), encoding="utf-8")
    return out(run("match", str(path), "--by", "handläggare", "--json", *args))


def excluded_by(decision: dict) -> dict[str, set[str]]:
    return {e["unit_id"]: {r["rule"] for r in e["reasons"]} for e in decision["excluded"]}


# --- item 1: the IVO permit duty for every permit-bound insats --------------------------------


def test_adult_treatment_home_needs_a_permit_and_loses_its_place_with_it(run, tmp_path):
    """000 l. 10083-10085: 'För samtliga tillståndspliktiga verksamheter inom ovan avtalsområden
    hämtade ... INK ut tillstånd från IVO' (the areas include 'Heldygnsvård i Behandlingshem',
    l. 10035); 000 l. 10488: 'En leverantör som blir av med sitt IVO tillstånd tas alltid bort
    från utförarregistret'. A private adult treatment home without a permit is not recommended,
    the municipality's notified unit is; IVO revoking the permit removes the unit (reason ivo)."""
    doc, req = case_register("permits.yaml", {"request_id": "R-BV-CLI"})
    import_register(run, tmp_path, doc)
    decision = match(run, tmp_path, req)
    recommended = {r["unit_id"] for r in decision["recommendations"]}
    assert recommended == {"U-BV-MED", "U-BV-KOMMUN"}
    assert excluded_by(decision)["U-BV-UTAN"] == {"ELIG-PERMIT-MISSING"}
    out(run("register", "permit", "U-BV-MED", "--dnr", "8.1-20/2020", "--status", "revoked",
            "--on", "2024-06-20", "--by", "ivo-handläggare", "--json"))
    shown = out(run("register", "show", "U-BV-MED", "--json"))
    assert (shown["status"], shown.get("removal_reason")) == ("removed", "ivo")


# --- item 12: date-effective rules on the placement's start day -------------------------------


def test_a_rule_taking_effect_before_the_start_applies_at_match_time(run, tmp_path):
    """004 l. 425-427: 'den nya lagen om placering av barn i skyddat boende, som trädde i kraft
    1 april 2024'; skyddat boende had 'ramavtal och tillståndsplikt' lacking before (000 l. 10830).
    A request decided on 2024-03-20 for a placement starting 2024-04-02 is matched with the rules
    of the start day: the unit without a permit is not recommended. One starting 2024-03-25 is
    matched before the law, and choosing checks the unit with the start day's rules too."""
    doc, _ = case_register("skyddat_boende.yaml")
    import_register(run, tmp_path, doc)
    _, late = case_register("skyddat_boende.yaml", {"request_id": "R-SKB-LATE", "submitted_on": "2024-03-20",
                                                     "start_on": "2024-04-02"})
    decision = match(run, tmp_path, late)
    assert {r["unit_id"] for r in decision["recommendations"]} == {"U-SKB-MED"}
    assert excluded_by(decision)["U-SKB-UTAN"] == {"ELIG-PERMIT-MISSING"}
    assert (decision["evaluated_on"], decision["decided_on"]) == ("2024-04-02", "2024-03-20")
    _, early = case_register("skyddat_boende.yaml", {"request_id": "R-SKB-EARLY", "submitted_on": "2024-03-20",
                                                      "start_on": "2024-03-25"})
    decision = match(run, tmp_path, early)
    assert {r["unit_id"] for r in decision["recommendations"]} == {"U-SKB-MED", "U-SKB-UTAN"}
    chosen = run("request", "choose", "R-SKB-LATE", "U-SKB-MED", "--on", "2024-03-21", "--by", "handläggare")
    assert chosen.exit_code == 0, chosen.output
    history = out(run("register", "history", "--json"))
    matched = [e for e in history if e["action"] == "matched" and e["entity_id"] == "R-SKB-LATE"]
    assert [e["effective_on"] for e in matched] == ["2024-03-20"]


# --- item 3: Spink's recommendation stop, per route -------------------------------------------


def test_recommendation_stop_leaves_the_framework_route_available(run, tmp_path):
    """004 l. 1327-1330: 'Rekommendationsstopp innebär att Spink inte längre tillfrågar och
    rekommenderar utföraren. Spink kan endast besluta om rekommendationsstopp för utförare som
    rekommenderas genom direktupphandling.' A stopped unit is still recommended through its
    framework agreement, not through direct procurement; a placement through the framework
    route is not among the affected placements."""
    doc, req = case_register("recommendation_stop.yaml", {"request_id": "R-RS-CLI"})
    import_register(run, tmp_path, doc)
    out(run("register", "status", "U-PUBL", "recommendation_stop", "--by", "kvalitet", "--on", "2024-05-01",
            "--note", "Synpunkt inom direktupphandling", "--json"))
    decision = match(run, tmp_path, req, "--limit", "5")
    routes = {(r["unit_id"], r["route"]) for r in decision["recommendations"]}
    assert ("U-STOPP", "ramavtal") in routes and ("U-PUBL", "ramavtal") in routes
    assert not any(route == "direktupphandling" for _, route in routes)
    assert "U-AVPUBL" in excluded_by(decision)
    chosen = run("request", "choose", "R-RS-CLI", "U-STOPP", "--on", "2024-06-02", "--by", "handläggare")
    assert chosen.exit_code == 0, chosen.output
    affected = out(run("audit", "affected-placements", "--as-of", "2024-06-15", "--json"))
    assert affected["placements"] == []
    paused = out(run("audit", "paused", "--as-of", "2024-06-15", "--route", "ramavtal", "--json"))
    assert {p["id"] for p in paused["paused"]} == {"U-AVPUBL"}


# --- item 2: the entry check includes the permit ----------------------------------------------


ENTRY_ON = "2024-10-02"


def test_entry_check_needs_the_permit_and_differs_for_companies_and_associations(run, tmp_path):
    """004 l. 1255-1260: 'För bolag kontrolleras exempelvis kreditvärdighet/ekonomi, att bolaget
    är registrerat för arbetsgivaravgifter och för F-skatt samt kontroll i rättsdatabas av bolaget
    och styrelsemedlemmar. För förening/stiftelse kontrolleras exempelvis skatteregistrering och
    skulder hos Kronofogden samt kontroll i rättsdatabas av styrelsemedlemmar och firmatecknare.
    För tillståndspliktig verksamhet kontrolleras tillstånd från IVO samt eventuella
    tillsynsrapporter.' A new adult treatment home of a company needs its IVO permit and the
    supervision reports; a foundation's skyddat boende before the 2024 law is not permit-bound
    and is checked as an association."""
    doc, _ = case_register("permits.yaml")
    [company] = [s for s in doc["suppliers"] if s["org_nr"] == "556677-8899"]
    company["units"] = [u for u in company["units"] if u["unit_id"] == "U-BV-UTAN"]
    skb, _ = case_register("skyddat_boende.yaml")
    [found] = skb["suppliers"]
    found["legal_form"] = "stiftelse"
    found["units"] = [dict(u, routes=[{"route": "direktupphandling", "insats": "skyddat_boende", "daily_price": 1900}])
                      for u in found["units"] if u["unit_id"] == "U-SKB-UTAN"]
    doc["suppliers"] = [company, found]
    path = tmp_path / "new.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, default=str), encoding="utf-8")
    out(run("register", "import", str(path), "--by", "registervård", "--on", "2024-03-01", "--json"))
    listed = {e["unit_id"]: e for e in out(run("register", "entry", "list", "--on", "2024-03-02", "--json"))}
    assert listed["U-BV-UTAN"]["missing"] == ["credit_rating", "employer_registration", "tax_registration",
                                              "court_records", "ivo_supervision", "manager_competence",
                                              "ivo_permit:behandling_vuxen"]
    assert listed["U-SKB-UTAN"]["missing"] == ["tax_registration", "enforcement_debt", "court_records"]
    for kind in ("credit_rating", "employer_registration", "tax_registration", "court_records", "ivo_supervision",
                 "manager_competence"):
        args = ["--value", "70"] if kind == "credit_rating" else []
        assert run("register", "check", "556677-8899", kind, "--result", "pass", "--on", "2024-03-02", *args,
                   "--by", "spink").exit_code == 0
    refused = run("register", "entry", "approve", "U-BV-UTAN", "--note", "ok", "--on", "2024-03-02", "--by", "spink")
    assert refused.exit_code == 4 and "behandling_vuxen" not in refused.stderr
    assert "IVO-tillstånd för behandlingsinsatser vuxna (inget tillstånd registrerat)" in refused.stderr
    out(run("register", "permit", "U-BV-UTAN", "--dnr", "8.1-99/2024", "--status", "active", "--insats",
            "behandling_vuxen", "--target-group", "missbruk", "--on", "2024-03-02", "--by", "ivo", "--json"))
    ok = run("register", "entry", "approve", "U-BV-UTAN", "--note", "Tillstånd och tillsyn utan anmärkning",
             "--on", "2024-03-02", "--by", "spink")
    assert ok.exit_code == 0, ok.output
    assert out(run("register", "show", "U-BV-UTAN", "--json"))["status"] == "published"


# --- item 5: the whole life of a decision -----------------------------------------------------


def test_decisions_interrupted_ended_and_their_decision_day(run, tmp_path):
    """000 l. 2901-2908 and 001 l. 740-747: 'Antal beslut som inte verkställts inom tre månader
    från beslutsdag' and 'Antal beslut där verkställigheten avbrutits och inte återupptagits inom
    tre månader från avbrottet'; 001 l. 753-755: 'Ett av dessa har avslutats utan verkställighet
    på begäran av den enskilde'. The decision day is the recorded one; an interruption not
    resumed in three months is reported; a resumed one and an ended decision are not."""
    doc, _ = case_register("recommendation_stop.yaml")
    import_register(run, tmp_path, doc)
    for rid in ("R-A", "R-B", "R-C", "R-D"):
        _, req = case_register("recommendation_stop.yaml", {"request_id": rid, "submitted_on": "2024-01-10",
                                                             "start_on": "2024-01-15"})
        match(run, tmp_path, req)
    for rid, unit in (("R-C", "U-PUBL"), ("R-D", "U-STOPP")):
        assert run("request", "choose", rid, unit, "--on", "2024-01-12", "--by", "anna").exit_code == 0
    out(run("followup", "decision", "R-A", "decided", "--on", "2024-01-05", "--by", "anna", "--json"))
    out(run("followup", "decision", "R-B", "ended", "--on", "2024-03-01", "--reason", "person_request",
            "--note", "Förbättrade personliga förhållanden", "--by", "anna", "--json"))
    for rid in ("R-C", "R-D"):
        out(run("followup", "decision", rid, "interrupted", "--on", "2024-02-01", "--by", "anna", "--json"))
    out(run("followup", "decision", "R-D", "resumed", "--on", "2024-03-01", "--by", "anna", "--json"))
    listed = {d["request_id"]: d for d in out(run("audit", "not-executed", "--as-of", "2024-04-10", "--json"))["decisions"]}
    assert set(listed) == {"R-A"} and (listed["R-A"]["decided_on"], listed["R-A"]["deadline"]) == ("2024-01-05", "2024-04-05")
    listed = {d["request_id"]: d for d in out(run("audit", "not-executed", "--as-of", "2024-05-10", "--json"))["decisions"]}
    assert set(listed) == {"R-A", "R-C"} and (listed["R-C"]["state"], listed["R-C"]["deadline"]) == ("interrupted", "2024-05-01")
    refused = run("followup", "decision", "R-B", "ended", "--on", "2024-03-02", "--reason", "needs_changed", "--by", "anna")
    assert refused.exit_code == 4 and "beslutet bakom 'R-B' avslutades redan 2024-03-01" in refused.stderr
    shown = run("audit", "not-executed", "--as-of", "2024-05-10", env={"COLUMNS": "200"})
    assert "Avbrutet, inte återupptaget inom tre månader" in shown.output
    history = out(run("register", "history", "--json"))
    assert {e["action"] for e in history if e["entity_id"] in ("R-A", "R-B", "R-C", "R-D")} >= {
        "decision_recorded", "decision_ended", "execution_interrupted", "execution_resumed"}


# --- item 4: the price model as a first step --------------------------------------------------


def test_a_price_above_the_not_recommended_level_can_be_chosen_with_reason_and_negotiated_price(run, tmp_path):
    """004 l. 1477-1482: the model says which prices 'inte ska rekommenderas vidare i ett första
    steg'; 000 l. 656-657: 'Förhandling av priser med leverantörer i de fall placeringar sker via
    direktupphandling'. A unit above the level is not recommended, but the handler can choose it
    with a reason and the negotiated price; the placement waits for review."""
    doc, req = case_register("recommendation_stop.yaml", {"request_id": "R-PRIS"})
    [sup] = doc["suppliers"]
    dear = dict(next(u for u in sup["units"] if u["unit_id"] == "U-PUBL"), unit_id="U-DYR", name="Enhet U-DYR",
                routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga", "daily_price": 7500}],
                permits=[{"dnr": "8.1-31/2020", "insats": "hvb_barn_unga", "status": "active",
                          "target_groups": ["missbruk"], "decided_on": "2020-02-01"}])
    sup["units"].append(dear)
    import_register(run, tmp_path, doc)
    decision = match(run, tmp_path, req)
    assert "U-DYR" not in {r["unit_id"] for r in decision["recommendations"]}
    assert excluded_by(decision)["U-DYR"] == {"ELIG-PRICE-NOT-RECOMMENDED"}
    refused = run("request", "choose", "R-PRIS", "U-DYR", "--on", "2024-06-02", "--by", "anna")
    assert refused.exit_code == 2 and "förhandlats med leverantören" in refused.stderr
    chosen = out(run("request", "choose", "R-PRIS", "U-DYR", "--on", "2024-06-02", "--by", "anna", "--reason",
                     "Enda enheten med plats för syskon", "--negotiated-price", "6100", "--json"))
    assert (chosen["status"], chosen["recommended"], chosen["route"]) == ("pending_review", False, "direktupphandling")
    shown = out(run("placement", "show", "R-PRIS", "--json"))
    assert shown["agreed_price"] == 6100
    reviews = out(run("review", "list", "--json"))
    rows = reviews if isinstance(reviews, list) else reviews["reviews"]
    assert [r["units"] for r in rows if r["request_id"] == "R-PRIS"] == [["U-DYR"]]


# --- item 6: signals raise proposals ----------------------------------------------------------


def test_media_signal_and_ivo_criticism_raise_a_deepened_control_proposal(run, tmp_path):
    """000 l. 10405-10407: 'Mediabevakning - Retriever. Syfte: Fånga upp nyheter/avvikelser';
    000 l. 10450-10454: tillsynsrapporter, 'verksamheter där det framkommit allvarlig kritik';
    004 l. 1294-1296: 'Information som Spink erhåller via basuppföljningen kan resultera i att
    Spink genomför en fördjupad kontroll av verksamheten'."""
    doc, _ = case_register("permits.yaml")
    import_register(run, tmp_path, doc)
    for kind in ("media", "ivo_supervision"):
        r = run("register", "check", "556677-8899", kind, "--result", "fail", "--on", "2024-06-01", "--by", "spink")
        assert r.exit_code == 0, r.output
    proposals = out(run("register", "proposals", "--json"))
    rows = proposals if isinstance(proposals, list) else proposals["proposals"]
    assert [(p["kind"], p["rule_id"]) for p in rows] == [("deepened_control", "STATUS-SIGNAL-DEEPENED")]
    units = out(run("register", "show", "U-BV-MED", "--json"))
    assert units["status"] == "published"  # a signal never removes by itself


# --- item 14: citations that hold -------------------------------------------------------------


def test_rules_cite_sources_that_hold_and_local_settings_say_so(run):
    """The stödboende 16–17 flag cited sources/003, which says nothing about age; the insats ages
    cited the 004 route table, which has no ages (000 l. 3044 has 'HVB och stödboende 16–20 år');
    the permit target-group rule told a closure story no source has (004 l. 1360-1369: the
    closures were for the staff's suitability). CONTRACT.md is not a source. Figures no source
    states are marked as local settings."""
    hvb = "3.4.6 Uppföljning av kvaliteten i hem för vård eller boende (HVB)"  # l. 3044, cited by section
    shown = out(run("rules", "show", "REVIEW-STODBOENDE-UNDER-18", "--json"))["versions"][0]["source"]
    assert hvb in shown and "16–20" in shown
    for rid in ("ELIG-INSATS-AGE-MIN", "ELIG-INSATS-AGE-MAX"):
        source = out(run("rules", "show", rid, "--json"))["versions"][0]["source"]
        assert hvb in source and "regiformstabellen" not in source.replace("hänvisningen till regiformstabellen", "")
    target = out(run("rules", "show", "ELIG-PERMIT-TARGET-GROUP", "--json"))["versions"][0]
    assert "stängde boenden" not in target["description"] and "3.2 Avtalsförvaltning, IVO:s e-tjänst" in target["source"]
    from placering.rules import load_ruleset

    documents = [r.source.document or "" for r in load_ruleset().rules]
    assert not [d for d in documents if "CONTRACT.md" in d]
    params = {p["name"]: p["source"] for p in out(run("rules", "params", "--on", "2024-06-01", "--json"))["parameters"]}
    for name in ("credit_rating_notification_level", "audit_direct_procurement_signal_count",
                 "audit_direct_procurement_signal_share", "audit_visit_new_unit_months", "audit_visit_recent_months",
                 "audit_visit_heavy_use_placements", "audit_visit_high_demand_growth"):
        assert "local setting" in params[name] or "lokal inställning" in params[name], name


# --- item 9: the HVB survey covers every HVB barn och unga placement --------------------------


def test_hvb_survey_covers_18_to_20_year_olds(run, tmp_path):
    """000 l. 10855-10857: 'en enkät för att löpande följa upp alla HVB placeringar inom barn och
    unga efter tre månader'; l. 10869-10871: 'infördes enkäten fullt ut för alla HVB placeringar
    barn och unga i Göteborgs stad'. A 19-year-old placed in HVB barn och unga gets the survey."""
    doc, req = case_register("recommendation_stop.yaml", {"request_id": "R-19", "person": {
        "age": 19, "gender": "female", "needs": ["missbruk"], "protected_identity": False}})
    for u in doc["suppliers"][0]["units"]:
        u["age_max"] = 20
    import_register(run, tmp_path, doc)
    match(run, tmp_path, req)
    assert run("request", "choose", "R-19", "U-PUBL", "--on", "2024-06-02", "--by", "anna").exit_code == 0
    rows = out(run("audit", "surveys", "--as-of", "2024-09-20", "--json"))["surveys"]
    assert [(r["request_id"], r["due_on"], r["state"]) for r in rows] == [("R-19", "2024-09-10", "overdue")]
    r = run("followup", "survey", "R-19", "--on", "2024-09-15", "--positive-change", "yes", "--care-quality", "bra",
            "--child-answered", "yes", "--by", "anna")
    assert r.exit_code == 0, r.output


# --- item 7: the person's network first -------------------------------------------------------


def test_the_priority_order_starts_with_the_persons_network(run, tmp_path):
    """000 l. 432-436: 'där först den enskildes nätverk, sedan interna insatser, följt av
    upphandlade externa resurser används samt att direktupphandling enbart används när alla andra
    alternativ är uttömda'. A request records whether the network was considered; the decision
    shows it as the first step and flags a request whose network was not considered."""
    doc, req = case_register("recommendation_stop.yaml", {"request_id": "R-NET-NO", "network_considered": False})
    import_register(run, tmp_path, doc)
    decision = match(run, tmp_path, req)
    assert decision["ranking"]["network"] == "not_considered"
    assert "NETWORK_NOT_CONSIDERED" in {f["code"] for f in decision["flags"]}
    _, req = case_register("recommendation_stop.yaml", {"request_id": "R-NET-YES", "network_considered": True})
    path = tmp_path / "yes.json"
    path.write_text(json.dumps(req), encoding="utf-8")
    shown = run("match", str(path), "--by", "handläggare", env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "Prioritetsordning: 1. personens eget nätverk (prövat först), 2. egen regi, 3. ramavtal" in shown.output
    assert "NETWORK_NOT_CONSIDERED" not in shown.output


# --- item 13: direct purchases per contracting authority --------------------------------------


def test_direct_purchases_add_up_per_buyer_namnd(run, tmp_path):
    """LOU counts the direct-procurement threshold per upphandlande myndighet; in Göteborg each
    nämnd is one (the annual reports are the nämnder's own: 000 'Socialnämnden Nordost',
    001 'Socialnämnden Hisingen'). Placements bought by Nordost and Hisingen add up apart."""
    doc, _ = case_register("recommendation_stop.yaml")
    [sup] = doc["suppliers"]
    base = next(u for u in sup["units"] if u["unit_id"] == "U-PUBL")
    sup["units"] = [dict(base, unit_id=uid, name=f"Enhet {uid}", free_places=3, routes=[
        {"route": "direktupphandling", "insats": "hvb_barn_unga", "daily_price": 4300}]) for uid in ("U-DP1", "U-DP2")]
    import_register(run, tmp_path, doc)
    for rid, requester, unit in (("R-NO-1", "Nordost", "U-DP1"), ("R-NO-2", "Nordost", "U-DP2"),
                                 ("R-HI-1", "Hisingen", "U-DP1")):
        _, req = case_register("recommendation_stop.yaml", {"request_id": rid, "requester": requester})
        match(run, tmp_path, req)
        assert run("request", "choose", rid, unit, "--on", "2024-06-02", "--by", "anna").exit_code == 0
    sums = out(run("audit", "direct-purchases", "--year", "2024", "--json"))["sums"]
    days = (date(2024, 12, 31) - date(2024, 6, 10)).days + 1
    assert [(s["buyer"], s["placements"], s["total"]) for s in sums] == [
        ("Hisingen", 1, 4300 * days), ("Nordost", 2, 2 * 4300 * days)]
    only = out(run("audit", "direct-purchases", "--year", "2024", "--buyer", "nordost", "--json"))["sums"]
    assert [s["buyer"] for s in only] == ["Nordost"]


# --- item 10: checks on people ----------------------------------------------------------------


def test_checks_on_people_manager_competence_and_court_records_after_signals(run, tmp_path):
    """000 l. 10026-10030: 'krav på kompetens kontrolleras … genom begäran till leverantören att
    inkomma med utbildningsbevis och CV för berörda personer, så som verksamhetsansvarig'; 004 l.
    1267-1271: not approved when it 'saknar godkänd föreståndare i verksamheten'; 000 l.
    10006-10010: 'Dessutom kan följande kontroll ske efter varningssignaler. Kontroll om det finns
    domar avseende andra personer runt företaget'. The entry of a permit-bound unit needs the
    manager's competence checked; a failed check on people proposes a deepened control; the
    court records about people are a check kind of their own."""
    doc, _ = case_register("permits.yaml")
    import_register(run, tmp_path, doc)
    r = run("register", "check", "556677-8899", "manager_competence", "--result", "fail", "--on", "2024-06-01",
            "--by", "spink")
    assert r.exit_code == 0, r.output
    proposals = out(run("register", "proposals", "--json"))
    rows = proposals if isinstance(proposals, list) else proposals["proposals"]
    assert [(p["kind"], p["rule_id"]) for p in rows] == [("deepened_control", "STATUS-PEOPLE-CHECK-FAILED")]
    r = run("register", "check", "556677-8899", "people_court_records", "--result", "pass", "--on", "2024-06-02",
            "--by", "spink")
    assert r.exit_code == 0, r.output


# --- item 8 (part): complaints about SiS and the outcome 'Platsbrist SiS' ---------------------


def test_a_complaint_about_sis_closes_with_platsbrist_sis(run, tmp_path):
    """000 l. 10584-10586: 'Spink har därför sedan 1 november 2022 tagit över ansvaret för
    synpunktshanteringen gällande placeringar på Statens Institutionsstyrelse (SiS)'; l.
    10614-10616: 'Det har totalt inkommit 4 synpunkter avseende SiS placeringar. Samtliga handlar
    om platsbrist i SiS verksamheter'; l. 10728: the outcome 'Platsbrist SiS'. A complaint on a
    SiS home is Spink's and closes with that outcome."""
    doc, _ = case_register("recommendation_stop.yaml")
    [sup] = doc["suppliers"]
    sis = {"org_nr": "202100-4003", "name": "Statens institutionsstyrelse", "legal_form": "stat", "checks": [],
           "units": [dict(next(u for u in sup["units"] if u["unit_id"] == "U-PUBL"), unit_id="U-SIS",
                          name="SiS ungdomshem", routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                          "daily_price": 5200}])]}
    doc["suppliers"].append(sis)
    import_register(run, tmp_path, doc)
    added = out(run("complaint", "add", "U-SIS", "--category", "delivery", "--on", "2024-03-01",
                    "--received-by", "Nordost", "--by", "anna", "--json"))
    assert added["handler"] == "spink"
    closed = out(run("complaint", "update", str(added["id"]), "--status", "closed", "--outcome", "platsbrist_sis",
                     "--by", "spinks-jurist", "--json"))
    assert (closed["status"], closed["outcome"]) == ("closed", "platsbrist_sis")
    listed = run("complaint", "list", env={"COLUMNS": "200"})
    assert "Platsbrist SiS" in listed.output


# --- item 11: who read a protected case -------------------------------------------------------


def test_reading_a_protected_case_is_logged_and_access_is_time_limited(run, tmp_path):
    """003 l. 349-351: 'Avseende hantering av behörighet till skyddade ärenden får den
    handläggare som tilldelas ett sådant ärende behörighet under en begränsad tid'; l. 343-347:
    log reviews that produced 'en lista på 48 sidor' (the log must be a filterable list). Every
    reading of a protected person's request is logged; once access is granted for a period,
    others (and the handler after it) are refused."""
    doc, req = case_register("skyddat_boende.yaml", {"request_id": "R-SKYDD", "submitted_on": "2024-05-01",
                                                      "start_on": "2024-05-02"})
    import_register(run, tmp_path, doc)
    match(run, tmp_path, req)
    assert run("request", "show", "R-SKYDD", "--by", "anna").exit_code == 0
    out(run("request", "show", "R-SKYDD", "--by", "bertil", "--json"))
    reads = out(run("audit", "protected-reads", "--json"))["reads"]
    assert [(r["request_id"], r["reader"], r["what"]) for r in reads] == [("R-SKYDD", "anna", "show"),
                                                                          ("R-SKYDD", "bertil", "show")]
    assert out(run("audit", "protected-reads", "--reader", "anna", "--json"))["reads"][0]["reader"] == "anna"
    from placering.display import today

    day = today()
    out(run("request", "grant", "R-SKYDD", "--to", "anna", "--from", day.isoformat(), "--until",
            day.isoformat(), "--by", "enhetschef", "--json"))
    assert run("request", "show", "R-SKYDD", "--by", "anna").exit_code == 0
    refused = run("request", "show", "R-SKYDD", "--by", "bertil")
    assert refused.exit_code == 4 and "öppet bara för de handläggare som fått behörighet" in refused.stderr
    assert len(out(run("audit", "protected-reads", "--request", "R-SKYDD", "--json"))["reads"]) == 3
    history = out(run("register", "history", "--json"))
    assert any(e["action"] == "access_granted" and e["entity_id"] == "R-SKYDD" for e in history)


def test_complaints_with_several_categories_followed_by_the_complainant_and_about_one_person(run, tmp_path):
    """000 l. 10706-10708: '(En synpunkt kan ingå i flera kategorier, då flera brister
    påtalats.)'; l. 10570-10572: 'möjligt för synpunktslämnaren att följa hanteringen löpande
    samt vilka åtgärder som vidtas'; l. 10176-10180: 'Ärenden som är föremål för uppföljning på
    individnivå … förmedlas till ansvarig handläggare på socialtjänsten'."""
    doc, _ = case_register("recommendation_stop.yaml")
    import_register(run, tmp_path, doc)
    first = out(run("complaint", "add", "U-PUBL", "--category", "documentation", "--category", "communication",
                    "--on", "2024-03-01", "--complainant-ref", "SYN-2024-17", "--by", "anna", "--json"))
    assert first["categories"] == ["documentation", "communication"] and first["handler"] == "ink"  # framework
    person = out(run("complaint", "add", "U-PUBL", "--category", "treatment", "--individual", "--on", "2024-03-02",
                     "--by", "anna", "--json"))
    assert person["handler"] == "social_worker" and person["individual_level"] is True and person["rules"] == []
    by_category = out(run("complaint", "list", "--category", "communication", "--json"))
    rows = by_category if isinstance(by_category, list) else by_category["rows"]
    assert [r["id"] for r in rows] == [first["id"]]
    mine = out(run("complaint", "list", "--complainant-ref", "SYN-2024-17", "--json"))
    rows = mine if isinstance(mine, list) else mine["rows"]
    assert [(r["id"], r["status"]) for r in rows] == [(first["id"], "received")]
    shown = run("complaint", "list", env={"COLUMNS": "250"})
    assert "Ansvarig handläggare på socialtjänsten" in shown.output


# --- item 8 (rest): every category counts; SiS refusals per period ------------------------------


def test_similar_complaints_count_every_category_and_sis_refusals_per_period(run, tmp_path):
    """000 l. 10706-10708: '(En synpunkt kan ingå i flera kategorier, då flera brister
    påtalats.)': a complaint whose second category is documentation is a similar complaint
    about documentation (004 l. 1322-1324: 'om flera liknande synpunkter inkommer avseende samma
    utförare kan det exempelvis leda till en fördjupad kontroll'). 001 l. 1049-1058: 'Antal
    tillfällen SIS ej tillhandahållit plats efter ansökan 7 … Synpunkter ska i de fallen lämnas
    till … (SPINK)'; 000 l. 10614-10616: the complaints on SiS placements 'handlar om platsbrist i
    SiS verksamheter': the audit counts them per period."""
    doc, _ = case_register("recommendation_stop.yaml")
    [sup] = doc["suppliers"]
    sis = {"org_nr": "202100-4003", "name": "Statens institutionsstyrelse", "legal_form": "stat", "checks": [],
           "units": [dict(next(u for u in sup["units"] if u["unit_id"] == "U-PUBL"), unit_id="U-SIS",
                          name="SiS ungdomshem", routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                          "daily_price": 5200}])]}
    doc["suppliers"].append(sis)
    import_register(run, tmp_path, doc)
    add = lambda *a: out(run("complaint", "add", "U-PUBL", *a, "--by", "anna", "--json"))  # noqa: E731
    add("--category", "documentation", "--on", "2024-02-01")
    add("--category", "treatment", "--category", "documentation", "--on", "2024-03-01")
    third = add("--category", "communication", "--category", "documentation", "--on", "2024-04-01")
    assert [r["rule"] for r in third["rules"]] == ["STATUS-COMPLAINTS-DEEPENED"]
    assert "3 liknande synpunkter (Dokumentation)" in json.dumps(third["rules"], ensure_ascii=False)
    other = add("--category", "delivery", "--on", "2024-04-02")  # a category no other complaint names
    assert other["rules"] == []
    for on in ("2024-02-10", "2024-05-10", "2024-08-10"):
        c = out(run("complaint", "add", "U-SIS", "--category", "delivery", "--on", on, "--by", "anna", "--json"))
        out(run("complaint", "update", str(c["id"]), "--status", "closed", "--outcome", "platsbrist_sis",
                "--by", "spinks-jurist", "--json"))
    sis_only = out(run("audit", "complaints", "--outcome", "platsbrist_sis", "--period", "half", "--json"))
    assert [(p["period"], p["complaints"]) for p in sis_only["periods"]] == [("2024-H1", 2), ("2024-H2", 1)]
    assert sis_only["total"] == 3 and {c["unit_id"] for c in sis_only["complaints"]} == {"U-SIS"}
    yearly = out(run("audit", "complaints", "--json"))
    assert [(p["period"], p["complaints"], p["platsbrist_sis"]) for p in yearly["periods"]] == [("2024", 7, 3)]
    shown = run("audit", "complaints", "--outcome", "platsbrist_sis", "--period", "half", env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "SiS ej tillhandahållit plats" in shown.output and "Platsbrist SiS" in shown.output
    assert run("audit", "complaints", "--outcome", "okänt").exit_code != 0


# --- item 4 (rest): each price carries the day it was last confirmed ---------------------------


def test_a_price_carries_its_confirmation_day_and_a_stale_one_is_flagged_and_listed(run, tmp_path):
    """004 l. 1200-1203: complaints 'har bland annat lett till … en ökad noggrannhet med att
    kontrollera att prisuppgifterna är aktuella'. A route's price carries the day it was last
    confirmed (interchange, register show, history); a recommended unit whose price was last
    confirmed more than twelve months (a local setting) before the decision is flagged for the
    handler, and `audit prices-due` lists the prices to confirm, those never confirmed too."""
    doc, req = case_register("price_confirmed.yaml", {"request_id": "R-PC"})
    import_register(run, tmp_path, doc)
    shown = out(run("register", "show", "U-OLD", "--json"))
    assert shown["routes"][0]["price_confirmed_on"] == "2023-08-31"
    assert "price_confirmed_on" not in out(run("register", "show", "U-NONE", "--json"))["routes"][0]
    text = run("register", "show", "U-OLD", env={"COLUMNS": "250"})
    assert "Pris bekräftat" in text.output and "2023-08-31" in text.output
    decision = match(run, tmp_path, req)
    flags = {r["unit_id"]: {f["code"] if isinstance(f, dict) else f for f in r.get("flags") or []}
             for r in decision["recommendations"]}
    assert "PRICE_NOT_CONFIRMED" in flags["U-OLD"]
    assert "PRICE_NOT_CONFIRMED" not in flags["U-EDGE"] | flags["U-NONE"]
    due = out(run("audit", "prices-due", "--as-of", "2024-09-01", "--json"))
    assert [(p["unit_id"], p["state"]) for p in due["prices"]] == [("U-NONE", "never"), ("U-OLD", "expired")]
    assert due["months"] == 12 and due["confirmed_since"] == "2023-09-01"
    listed = run("audit", "prices-due", "--as-of", "2024-09-01", env={"COLUMNS": "250"})
    assert listed.exit_code == 0 and "Aldrig gjord" in listed.output and "Pris bekräftat" in listed.output
    # The price is confirmed again: a new import with the day; history records the change.
    old = next(u for s in doc["suppliers"] for u in s["units"] if u["unit_id"] == "U-OLD")
    old["routes"][0]["price_confirmed_on"] = "2024-09-01"
    import_register(run, tmp_path, doc, on="2024-09-01")
    history = out(run("register", "history", "--json"))
    assert any(e["entity_id"] == "U-OLD" and "confirmed 2024-09-01" in json.dumps(e["changes"]) for e in history)
    due = out(run("audit", "prices-due", "--as-of", "2024-09-01", "--json"))
    assert [(p["unit_id"], p["state"]) for p in due["prices"]] == [("U-NONE", "never")]
    # The interchange carries it both ways: JSON and CSV export, and a CSV import of the export.
    exported = out(run("register", "export", "--json"))
    assert {r.get("price_confirmed_on") for s in exported["suppliers"] for u in s["units"] for r in u["routes"]} == {
        "2024-09-01", "2023-09-01", None}
    csv_path = tmp_path / "register.csv"
    assert run("register", "export", "--csv", "--out", str(csv_path)).exit_code == 0
    header, *rows = csv_path.read_text(encoding="utf-8").splitlines()
    assert "price_confirmed_on" in header.split(",") and any("2024-09-01" in r for r in rows)
    again = out(run("register", "import", str(csv_path), "--by", "anna", "--json"))
    assert again["units"]["updated"] == 0

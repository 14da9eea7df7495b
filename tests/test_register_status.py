"""The authority invariants through the CLI (unit status, agreement status), and recording
checks, permit decisions and complaints; every rejected command leaves the database unchanged."""

from __future__ import annotations

import json

import pytest

from conftest import said, snapshot
from test_register_import import ORG_ANGEN, ORG_KOMMUN, load


@pytest.fixture
def loaded(run, tmp_path):
    load(run, tmp_path)
    return run


def rejected(run, engine, *args, code: int, message: str) -> None:
    """The command fails with exactly this message and changes nothing."""
    before = snapshot(engine)
    result = run(*args)
    assert result.exit_code == code, result.output
    assert result.stderr == said(message)  # the message as a person reads it
    assert "Traceback" not in result.output
    assert snapshot(engine) == before


def unit_status(run, unit_id: str) -> str:
    return json.loads(run("register", "show", unit_id, "--json").stdout)["status"]


# --- unit status -----------------------------------------------------------------------------


def test_status_change_is_recorded_with_who_when_why(loaded, engine):
    result = loaded("register", "status", "U-1001", "watch", "--by", "kvalitet", "--note", "Kreditbetyg 35",
                    "--on", "2025-01-15", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["action"], entry["changes"], entry["actor"], entry["effective_on"], entry["note"]) == (
        "status", {"status": ["published", "watch"]}, "kvalitet", "2025-01-15", "Kreditbetyg 35")
    shown = json.loads(loaded("register", "show", "U-1001", "--json").stdout)
    assert (shown["status"], shown["status_since"], shown["status_changed_by"]) == ("watch", "2025-01-15", "kvalitet")


def test_recommendation_stop_only_for_direct_procurement(loaded, engine):
    rejected(loaded, engine, "register", "status", "U-2001", "recommendation_stop", "--by", "kvalitet", code=4,
             message="rekommendationsstopp gäller bara enheter som används genom direktupphandling: enheten U-2001 "
                     "har ingen direktupphandling (dess regiformer: egen regi)")
    result = loaded("register", "status", "U-1001", "recommendation_stop", "--by", "kvalitet", "--note", "Synpunkter")
    assert result.exit_code == 0, result.output
    assert unit_status(loaded, "U-1001") == "recommendation_stop"


def test_same_status_is_refused(loaded, engine):
    rejected(loaded, engine, "register", "status", "U-1001", "published", "--by", "kvalitet", code=4,
             message="enheten U-1001 har redan status publicerad")


@pytest.mark.parametrize("args, missing", [
    ((), "en orsakskod (--reason) och en anteckning med den samlade bedömningen (--note)"),
    (("--reason", "ivo"), "en anteckning med den samlade bedömningen (--note)"),
    (("--note", "Samlad bedömning: brister"), "en orsakskod (--reason)"),
])
def test_removal_needs_reason_and_note(loaded, engine, args, missing):
    # A missing option is invalid input: exit 2, as the README says (it was 4, "refused").
    rejected(loaded, engine, "register", "status", "U-1001", "removed", "--by", "kvalitet", *args, code=2,
             message=f"för att ta bort enheten U-1001 krävs {missing}; orsakskoder: osannolik_anvandning, avvecklad, "
                     "ekonomiska_brister, ivo, rekommendationsstopp, fortida_upphorande, avradan_annan_myndighet")


def test_bad_codes_are_rejected(loaded, engine):
    rejected(loaded, engine, "register", "status", "U-1001", "paused", "--by", "k", code=2,
             message="okänd enhetsstatus 'paused' (kända: inträdeskontroll pågår, publicerad, bevakning, avpublicerad, "
                     "rekommendationsstopp eller borttagen)")
    rejected(loaded, engine, "register", "status", "U-1001", "removed", "--reason", "konkurs", "--note", "x",
             "--by", "k", code=2,
             message="okänd orsak till borttagning 'konkurs' (kända: osannolik användning, avvecklad, ekonomiska brister, "
                     "IVO, rekommendationsstopp, förtida upphörande eller avrådan från annan myndighet)")
    rejected(loaded, engine, "register", "status", "U-1001", "watch", "--reason", "ivo", "--by", "k", code=2,
             message="--reason: en orsak till borttagning anges bara när en enhet tas bort (inte för 'bevakning')")
    rejected(loaded, engine, "register", "status", "U-1001", "watch", "--on", "2025-13-01", "--by", "k", code=2,
             message="--on: '2025-13-01' är inte ett datum (ÅÅÅÅ-MM-DD)")
    rejected(loaded, engine, "register", "status", "U-9999", "watch", "--by", "k", code=3,
             message="ingen enhet med id 'U-9999' i registret (sök med 'placering register search')")


def test_status_needs_an_actor(loaded, engine):
    before = snapshot(engine)
    result = loaded("register", "status", "U-1001", "watch", env={"PLACERING_ACTOR": ""})
    assert result.exit_code == 2
    assert result.stderr == "Fel: varje ändring ska säga vem som gör den: ange --by NAMN eller sätt PLACERING_ACTOR\n"
    assert snapshot(engine) == before
    result = loaded("register", "status", "U-1001", "watch", env={"PLACERING_ACTOR": "miljö-actor"})
    assert result.exit_code == 0
    assert json.loads(loaded("register", "history", "U-1001", "--kind", "status", "--json").stdout)[-1]["actor"] == \
        "miljö-actor"


def test_change_cannot_take_effect_before_the_current_status(loaded, engine):
    assert loaded("register", "status", "U-1001", "watch", "--on", "2025-01-01", "--by", "k").exit_code == 0
    rejected(loaded, engine, "register", "status", "U-1001", "unpublished", "--on", "2024-12-31", "--by", "k",
             code=4, message="ändringen skulle gälla från 2024-12-31, innan enheten U-1001 fick status bevakning "
                             "(2025-01-01); historiken hålls i datumordning")


def test_removed_is_final_until_a_new_entry_check(loaded, engine):
    ok = loaded("register", "status", "U-1001", "removed", "--reason", "ekonomiska_brister", "--note",
                "Samlad bedömning: kreditbetyg under 40 i sex månader", "--on", "2025-03-01", "--by", "kvalitet")
    assert ok.exit_code == 0, ok.output
    final = ("enheten U-1001 är borttagen; det är slutgiltigt om inte enheten tas in igen genom en ny inträdeskontroll: "
             "sätt den till status inträdeskontroll pågår (pending_entry), registrera kontrollerna och kör sedan "
             "'placering register entry approve'")
    for status in ("published", "watch", "unpublished"):
        rejected(loaded, engine, "register", "status", "U-1001", status, "--on", "2025-06-01", "--by", "k", code=4,
                 message=final)
    # Re-admission goes through the entry check, as for a new supplier.
    assert loaded("register", "status", "U-1001", "pending_entry", "--on", "2025-06-01", "--by", "kvalitet",
                  "--note", "Ansökan om återinträde").exit_code == 0
    rejected(loaded, engine, "register", "status", "U-1001", "published", "--on", "2025-06-01", "--by", "k", code=4,
             message="enheten U-1001 väntar på inträdeskontroll: den publiceras med 'placering "
                     "register entry approve U-1001 --note …' när de kontroller som krävs är godkända")
    # A check before the removal, a failed one and an unavailable one do not count.
    for kind, result, on in [("credit_rating", "pass", "2025-02-28"), ("tax_registration", "fail", "2025-04-01"),
                             ("enforcement_debt", "unavailable", "2025-04-01")]:
        assert loaded("register", "check", ORG_ANGEN, kind, "--result", result, "--on", on, "--by", "k").exit_code == 0
    before = snapshot(engine)
    refused = loaded("register", "entry", "approve", "U-1001", "--note", "ok", "--on", "2025-06-01", "--by", "k")
    assert refused.exit_code == 4 and snapshot(engine) == before
    for expected in ("kreditupplysning (utförd 2025-02-28, före borttagningen 2025-03-01)",
                     "F-skatt (senaste resultat underkänd (2025-04-01))",
                     "skulder hos Kronofogden (senaste resultat kunde inte göras (2025-04-01))",
                     "arbetsgivarregistrering (aldrig kontrollerad)"):
        assert expected in refused.stderr, refused.stderr
    # U-1001 has a direct-procurement and a framework route: both lists of entry checks apply, and
    # its HVB is permit-bound: the supervision reports too (004 l. 1259-1260).
    for kind in ("credit_rating", "tax_registration", "enforcement_debt", "employer_registration", "court_records",
                 "warning_list", "annual_report", "ivo_supervision", "manager_competence"):
        assert loaded("register", "check", ORG_ANGEN, kind, "--result", "pass", "--on", "2025-05-01",
                      "--by", "k").exit_code == 0
    result = loaded("register", "entry", "approve", "U-1001", "--on", "2025-06-01", "--by", "kvalitet",
                    "--note", "Återinträde efter ny inträdeskontroll")
    assert result.exit_code == 0, result.output
    shown = json.loads(loaded("register", "show", "U-1001", "--json").stdout)
    assert shown["status"] == "published" and "removal_reason" not in shown


# --- agreements -----------------------------------------------------------------------------


def test_order_stop_applies_to_every_route_of_the_agreement_with_one_entry(loaded, engine):
    result = loaded("register", "agreement", "RA-HVB-22-07", "order_stop", "--by", "ink", "--note",
                    "IVO-beslut", "--on", "2025-02-01", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["kind"], entry["entity_id"], entry["changes"], entry["org_nr"], entry["unit_id"]) == (
        "agreement", "RA-HVB-22-07", {"status": ["active", "order_stop"], "supplier": ORG_ANGEN, "scope": "all"},
        ORG_ANGEN, None)
    for unit_id in ("U-1001", "U-1002"):
        routes = json.loads(loaded("register", "show", unit_id, "--json").stdout)["routes"]
        assert [r["status"] for r in routes if r.get("agreement_id") == "RA-HVB-22-07"] == ["order_stop"]
    entries = json.loads(loaded("register", "history", "RA-HVB-22-07", "--kind", "agreement_status",
                                "--actor", "ink", "--json").stdout)
    assert len(entries) == 1


def test_order_stop_only_on_framework_agreements(loaded, engine):
    rejected(loaded, engine, "register", "agreement", "IOP-2023-1", "order_stop", "--by", "ink", code=4,
             message="avtalet IOP-2023-1 är inget ramavtal (dess regiformer är IOP (idéburet offentligt partnerskap)): "
                     "beställningsstopp och förtida upphörande gäller bara ramavtal")
    rejected(loaded, engine, "register", "agreement", "IOP-2023-1", "terminated", "--by", "ink", code=4,
             message="avtalet IOP-2023-1 är inget ramavtal (dess regiformer är IOP (idéburet offentligt partnerskap)): "
                     "beställningsstopp och förtida upphörande gäller bara ramavtal")
    rejected(loaded, engine, "register", "agreement", "RA-NOPE", "order_stop", "--by", "ink", code=3,
             message="inget avtal 'RA-NOPE' i registret")
    rejected(loaded, engine, "register", "agreement", "RA-HVB-22-07", "paused", "--by", "ink", code=2,
             message="okänd avtalsstatus 'paused' (kända: aktivt, beställningsstopp eller förtida upphörande)")
    rejected(loaded, engine, "register", "agreement", "RA-HVB-22-07", "active", "--by", "ink", code=4,
             message="avtalet RA-HVB-22-07 har redan status aktivt")


def test_terminated_is_final(loaded, engine):
    assert loaded("register", "agreement", "RA-HVB-22-07", "terminated", "--by", "ink").exit_code == 0
    rejected(loaded, engine, "register", "agreement", "RA-HVB-22-07", "active", "--by", "ink", code=4,
             message="avtalet RA-HVB-22-07 har upphört, vilket är slutgiltigt; det kan inte få status 'aktivt'")


def test_agreement_change_cannot_take_effect_before_the_current_status(loaded, engine):
    assert loaded("register", "agreement", "RA-HVB-22-07", "order_stop", "--on", "2025-01-01",
                  "--by", "ink").exit_code == 0
    rejected(loaded, engine, "register", "agreement", "RA-HVB-22-07", "active", "--on", "2024-12-31", "--by", "ink",
             code=4, message="ändringen skulle gälla från 2024-12-31, innan avtalet RA-HVB-22-07 fick status "
                             "beställningsstopp (2025-01-01); historiken hålls i datumordning")


# --- checks, permits, complaints ---------------------------------------------------------------


def test_check_is_recorded(loaded, engine):
    result = loaded("register", "check", "5566778899", "credit_rating", "--result", "pass", "--value", "35",
                    "--on", "2025-03-01", "--source", "kreditupplysning", "--by", "kvalitet", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["entity_id"], entry["changes"]) == (
        "556677-8899:credit_rating",
        {"kind": "credit_rating", "result": "pass", "value": 35.0, "performed_on": "2025-03-01"})
    checks = json.loads(loaded("register", "show", ORG_ANGEN, "--json").stdout)["checks"]
    assert checks[-1] == {"kind": "credit_rating", "result": "pass", "value": 35, "performed_on": "2025-03-01",
                          "source": "kreditupplysning"}
    # each unit shown with the supplier carries the same checks
    shown = json.loads(loaded("register", "show", ORG_ANGEN, "--json").stdout)
    assert [u["checks"] for u in shown["units"]] == [checks] * 2
    assert json.loads(loaded("register", "show", "U-1001", "--json").stdout)["checks"] == checks


def test_bad_checks_are_rejected(loaded, engine):
    rejected(loaded, engine, "register", "check", ORG_ANGEN, "credit", "--result", "pass", "--on", "2025-01-01",
             "--by", "k", code=2,
             message="okänd kontrolltyp 'credit' (kända: kreditupplysning, F-skatt, arbetsgivarregistrering, skulder hos "
                     "Kronofogden, domstolsregister, årsredovisning, varningslista, IVO-tillsyn, mediebevakning, "
                     "föreståndarens kompetens (utbildningsbevis och CV) eller domar om personer runt företaget)")
    rejected(loaded, engine, "register", "check", ORG_ANGEN, "media", "--result", "ok", "--on", "2025-01-01",
             "--by", "k", code=2, message="okänt kontrollresultat 'ok' (kända: godkänd, underkänd eller kunde inte göras)")
    rejected(loaded, engine, "register", "check", "556677-8898", "media", "--result", "pass", "--on", "2025-01-01",
             "--by", "k", code=2, message="organisationsnumret '556677-8898' har fel kontrollsiffra (Luhn)")
    rejected(loaded, engine, "register", "check", "556036-0793", "media", "--result", "pass", "--on", "2025-01-01",
             "--by", "k", code=3, message="ingen leverantör med organisationsnummer 556036-0793 i registret "
                                          "(sök med 'placering register search')")
    for bad in ("nan", "inf", "-inf"):
        rejected(loaded, engine, "register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", bad,
                 "--on", "2025-01-01", "--by", "k", code=2, message=f"kontrollens värde '{float(bad)}' är inget tal")
    for bad, said in (("-1", "-1"), ("100.5", "100,5")):  # Swedish decimal comma
        rejected(loaded, engine, "register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", bad,
                 "--on", "2025-01-01", "--by", "k", code=2,
                 message=f"ett kreditbetyg är ett värde från 0 till 100, inte {said}")


def test_permit_decisions(loaded, engine):
    rejected(loaded, engine, "register", "permit", "U-1001", "--dnr", "8.1-1/2025", "--status", "active",
             "--on", "2025-01-01", "--by", "k", code=2,
             message="enheten U-1001 har inget tillstånd 8.1-1/2025: ett nytt tillstånd behöver sin insats (--insats)")
    rejected(loaded, engine, "register", "permit", "U-1001", "--dnr", "8.1-12345/2019", "--status", "gone",
             "--on", "2025-01-01", "--by", "k", code=2,
             message="okänd tillståndsstatus 'gone' (kända: gällande, anmäld, återkallat, förbud eller upphört)")
    rejected(loaded, engine, "register", "permit", "U-1001", "--dnr", "8.1-12345/2019", "--status", "active",
             "--on", "2019-06-01", "--by", "k", code=4,
             message="tillståndet 8.1-12345/2019 för enheten U-1001 har redan status gällande (beslutat 2019-06-01)")
    result = loaded("register", "permit", "U-1001", "--dnr", "8.1-12345/2019", "--status", "revoked",
                    "--on", "2025-02-01", "--by", "ivo-handläggare", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert (entry["action"], entry["unit_id"], entry["org_nr"], entry["changes"]["status"]) == (
        "permit", "U-1001", ORG_ANGEN, ["active", "revoked"])
    result = loaded("register", "permit", "U-1001", "--dnr", "8.1-2/2025", "--status", "active", "--on",
                    "2025-03-01", "--insats", "hvb_barn_unga", "--target-group", "npf", "--target-group", "missbruk",
                    "--by", "k")
    assert result.exit_code == 0, result.output
    permits = json.loads(loaded("register", "show", "U-1001", "--json").stdout)["permits"]
    assert [(p["dnr"], p["status"], p["target_groups"]) for p in permits] == [
        ("8.1-12345/2019", "revoked", ["missbruk", "kriminalitet"]),
        ("8.1-2/2025", "active", ["npf", "missbruk"])]


def test_complaints(loaded, engine):
    rejected(loaded, engine, "register", "complaint", "U-1001", "--category", "rude", "--on", "2025-01-01",
             "--by", "k", code=2,
             message="okänd synpunktskategori 'rude' (kända: dokumentation, leverans, kommunikation, professionalitet, avtal, bemötande, pris och "
                     "fakturering, oanmäld placering, boendets skick, påtryckning om plats, mottagning eller övrigt)")
    result = loaded("register", "complaint", "U-1001", "--category", "treatment", "--on", "2025-01-10",
                    "--note", "Bemötande vid inskrivning", "--by", "spink")
    assert result.exit_code == 0, result.output
    complaints = json.loads(loaded("register", "show", "U-1001", "--json").stdout)["complaints"]
    assert [(c["category"], c["outcome"], c["received_on"], c["recorded_by"]) for c in complaints] == [
        ("treatment", "pending", "2025-01-10", "spink")]
    entries = json.loads(loaded("register", "history", "--unit", "U-1001", "--kind", "complaint", "--json").stdout)
    assert entries[0]["changes"] == {"category": "treatment", "outcome": "pending", "received_on": "2025-01-10",
                                     "received_by": "Spink", "handler": entries[0]["changes"]["handler"],
                                     "status": "received"}
    assert entries[0]["changes"]["handler"] in ("ink", "spink")


def test_org_nr_in_either_form_names_the_same_supplier(loaded):
    a = json.loads(loaded("register", "show", "2120001355", "--json").stdout)
    b = json.loads(loaded("register", "show", ORG_KOMMUN, "--json").stdout)
    assert a == b and a["org_nr"] == ORG_KOMMUN


def test_many_permit_decisions_at_once_store_what_one_at_a_time_stores(loaded, engine):
    """record_permits (the demo's past) makes each decision as record_permit alone does: the same
    permit rows and history entries, in the same order; a refused decision in it raises its error."""
    from datetime import date

    from sqlalchemy import select, text

    from placering.errors import InvariantViolation, NotFound
    from placering.register import service
    from placering.storage.database import transaction
    from placering.storage.models import History

    decisions = [
        dict(unit_id="U-1001", dnr="8.1-12345/2019", status="revoked", decided_on=date.fromisoformat("2025-02-01")),
        dict(unit_id="u-2001", dnr="8.1-7/2025", status="active", decided_on=date.fromisoformat("2025-02-03"), insats="hvb_barn_unga",
             target_groups=["npf", "npf", "missbruk"]),
        dict(unit_id="U-1001", dnr="8.1-2/2025", status="active", decided_on=date.fromisoformat("2025-03-01"), insats="hvb_barn_unga"),
        dict(unit_id="U-1001", dnr="8.1-2/2025", status="revoked", decided_on=date.fromisoformat("2025-04-01"), target_groups=["npf"]),
        dict(unit_id="U-2001", dnr="8.1-7/2025", status="expired", decided_on=date.fromisoformat("2025-05-01")),
    ]

    def made(write) -> tuple[list, list]:
        """The permit rows and the new history entries `write` makes (ids and times left out), rolled back."""
        with engine.connect() as conn:
            last = conn.execute(text("SELECT max(id) FROM history")).scalar()
        with transaction(engine) as session:
            write(session)
            session.flush()
            permits = [tuple(str(v) for v in row[1:]) for row in session.execute(
                text("SELECT * FROM permit ORDER BY unit_id, position"))]
            history = [(h.actor, h.entity_kind, h.entity_id, h.action, str(h.effective_on), h.changes, h.org_nr,
                        h.unit_id, h.note) for h in session.scalars(
                select(History).where(History.id > last).order_by(History.id))]
            session.rollback()
        return permits, history

    def one_at_a_time(session) -> None:
        for d in decisions:
            service.record_permit(session, **d, actor="ivo")

    alone = made(one_at_a_time)
    together = made(lambda session: service.record_permits(session, decisions, actor="ivo"))
    assert together == alone
    assert [h[5]["status"] for h in alone[1]] == [["active", "revoked"], [None, "active"], [None, "active"],
                                                  ["active", "revoked"], ["active", "expired"]]
    assert alone[1][1][5]["target_groups"] == ["npf", "missbruk"] and alone[1][1][7] == "U-2001"
    before = snapshot(engine)
    for bad, error in ((dict(decisions[0], unit_id="U-9999"), NotFound),
                       (dict(decisions[0], status="active", decided_on=date.fromisoformat("2019-06-01")), InvariantViolation)):
        with pytest.raises(error):
            with transaction(engine) as session:
                service.record_permits(session, [decisions[2], bad], actor="ivo")
    assert snapshot(engine) == before

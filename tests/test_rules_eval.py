"""The reference evaluator: effective dating, explanations with values and sources,
unevaluable rules, the distance decision and facts built from the register."""

from __future__ import annotations

import json
import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from placering.rules import geo
from placering.rules.facts import RegisterSnapshot, request_fact
from placering.rules.reference import ReferenceEvaluator
from placering.rules.ruleset import load_ruleset
from placering.taxonomy import load_taxonomy

TAX = load_taxonomy()


def unit(unit_id: str, **over) -> dict:
    u = {
        "unit_id": unit_id, "name": f"Enhet {unit_id}", "municipality": "Göteborg",
        "location": {"lat": 57.71, "lon": 11.97}, "protected_address": False, "places": 8, "free_places": 2,
        "age_min": 13, "age_max": 17, "genders": ["female", "male"], "target_groups": ["missbruk", "kriminalitet"],
        "offers": [{"insats": "hvb_barn_unga", "subcategories": ["akut"]}],
        "routes": [{"route": "ramavtal", "insats": "hvb_barn_unga", "agreement_id": "RA-1", "daily_price": 4200,
                    "valid_from": "2022-05-01", "valid_to": "2026-04-30", "buyers": ["Göteborg"], "status": "active"}],
        "permits": [{"dnr": "8.1-1/2019", "insats": "hvb_barn_unga", "status": "active",
                     "target_groups": ["missbruk", "kriminalitet"], "decided_on": "2019-06-01"}],
        "status": "published",
    }
    u.update(over)
    return u


def register(*units: dict) -> dict:
    return {"format": "placering-register/1", "suppliers": [
        {"org_nr": "556677-8899", "name": "Vårdbolaget Ängen AB", "legal_form": "aktiebolag", "checks": [],
         "units": list(units)}]}


def request(**over) -> dict:
    r = {"request_id": "R-2024-0001", "submitted_on": "2024-09-01", "municipality": "Göteborg",
         "requester": "Nordost", "insats": "hvb_barn_unga", "subcategory": "akut",
         "person": {"age": 15, "gender": "female", "needs": ["missbruk"], "protected_identity": False},
         "legal_basis": "SoL", "urgency": "akut", "start_on": "2024-09-02", "places": 1,
         "home_municipality": "Göteborg", "home_location": {"lat": 57.71, "lon": 11.97}, "max_distance_km": 150,
         "avoid_municipalities": [], "max_daily_price": None}
    r.update(over)
    return r


def evaluate(doc: dict, req: dict, on: date | None = None, declined=()):
    on = on or date.fromisoformat(req["submitted_on"])
    snap = RegisterSnapshot.from_document(doc, on=on)
    ev = ReferenceEvaluator(load_ruleset())
    ev.load(snap)
    return ev.evaluate(request_fact(req, snap, TAX, declined=declined), on=on)


def test_skyddat_boende_permit_requirement_starts_2024_04_01():
    sb = unit("U-SB", age_min=18, age_max=99, target_groups=["vald"], permits=[],
              offers=[{"insats": "skyddat_boende", "subcategories": []}],
              routes=[{"route": "iop", "insats": "skyddat_boende", "buyers": ["Göteborg"]}])
    base = dict(insats="skyddat_boende", subcategory=None,
                person={"age": 30, "gender": "female", "needs": ["vald"], "protected_identity": True})
    before = evaluate(register(sb), request(submitted_on="2024-03-31", start_on="2024-03-31", **base))
    after = evaluate(register(sb), request(submitted_on="2024-04-01", start_on="2024-04-01", **base))
    assert before.candidates[0].eligible
    [reason] = after.candidates[0].exclusions
    assert (reason.code, reason.rule) == ("PERMIT", "ELIG-PERMIT-MISSING")
    assert reason.values["param.permit_required_insatser"] == ("hvb_barn_unga", "stodboende", "behandling_vuxen",
                                                               "skyddat_boende")
    assert "2024" in reason.source and "skyddat boende" in reason.source


def test_exclusion_explains_values_and_source():
    result = evaluate(register(unit("U-1", age_min=16)), request())
    [c] = result.candidates
    [reason] = c.exclusions
    assert reason.code == "AGE" and reason.rule == "ELIG-AGE"
    assert reason.message == "Personens ålder 15 ligger utanför 16–17"
    assert reason.values == {"request.person.age": 15, "unit.age_min": 16, "unit.age_max": 17}
    assert reason.source.startswith("Socialnämnden Nordost, Årsrapport 2022, bilaga Uppföljning av externa leverantörer 2022, 3.1 Upphandling")
    assert (c.unit_id, c.org_nr, c.route, c.agreement_id, c.daily_price) == (
        "U-1", "556677-8899", "ramavtal", "RA-1", 4200.0)


def test_distance_explained_with_display_distance():
    result = evaluate(register(unit("U-BORAS", municipality="Borås", location={"lat": 57.721, "lon": 12.94})),
                      request(max_distance_km=50))
    [reason] = result.candidates[0].exclusions
    assert reason.rule == "ELIG-DISTANCE"
    assert reason.values["distance_km"] == result.candidates[0].distance_km == 57.6
    # Positions are never part of an explanation (protected units and people).
    assert reason.values == {"request.max_distance_km": 50.0, "distance_km": 57.6}
    assert reason.message == "Avståndet 57,6 km är längre än högst 50 km"


def test_missing_location_is_unevaluable_never_a_pass_or_exclusion():
    result = evaluate(register(unit("U-NOLOC", location=None)), request())
    [c] = result.candidates
    assert c.exclusions == []
    [u] = c.unevaluable
    assert u.rule == "ELIG-DISTANCE"
    assert u.values["missing"] == ["unit.lat", "unit.lon"]
    assert "unit.lat" not in u.values and "request.home_lat" not in u.values
    assert "kan inte bedömas" in u.message and "unit.lat, unit.lon" in u.message
    assert not c.eligible
    # Without a maximum distance the rule does not apply at all.
    assert evaluate(register(unit("U-NOLOC", location=None)), request(max_distance_km=None)).candidates[0].eligible


def test_home_from_the_municipality_seat():
    req = request(home_location=None, home_municipality="Borås", max_distance_km=50)
    snap = RegisterSnapshot.from_document(register(unit("U-1")), on=date(2024, 9, 1))
    fact = request_fact(req, snap, TAX)
    assert (fact["home_lat"], fact["home_lon"]) == (TAX.municipality("Borås").lat, TAX.municipality("Borås").lon)
    [c] = evaluate(register(unit("U-1")), req).candidates
    assert [r.rule for r in c.exclusions] == ["ELIG-DISTANCE"]


def test_request_fact_folds_and_normalises():
    snap = RegisterSnapshot.from_document(register(unit("U-1")), on=date(2024, 9, 1))
    fact = request_fact(request(municipality="GÖTEBORG", avoid_municipalities=["Mo\u0308lndal"]), snap, TAX,
                        declined=["U-9"])
    assert fact["municipality_key"] == "göteborg"
    assert fact["avoid_municipality_keys"] == ["mölndal"]  # NFD input, NFC folded key
    assert fact["declined_units"] == ["U-9"]
    assert (fact["insats_age_min"], fact["insats_age_max"]) == (0, 20)


def test_reference_price_is_the_median_of_active_valid_framework_prices():
    units = [unit(f"U-{p}", routes=[{"route": "ramavtal", "insats": "hvb_barn_unga", "agreement_id": f"RA-{p}",
                                     "daily_price": p, "valid_from": "2023-01-01", "valid_to": "2025-12-31",
                                     "buyers": ["Göteborg"], "status": status}])
             for p, status in ((3000, "active"), (4000, "active"), (5000, "active"), (9000, "order_stop"))]
    units.append(unit("U-DU", routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga", "daily_price": 7000}]))
    snap = RegisterSnapshot.from_document(register(*units), on=date(2024, 9, 1))
    assert snap.reference_price("hvb_barn_unga", date(2024, 9, 1)) == 4000
    assert snap.reference_price("hvb_barn_unga", date(2022, 9, 1)) is None
    result = evaluate(register(*units), request())
    [du] = [c for c in result.candidates if c.route == "direktupphandling"]
    [flag] = du.flags
    assert flag.code == "PRICE_ABOVE_REFERENCE"
    assert flag.values["request.reference_price"] == 4000 and flag.values["param.direct_procurement_price_factor"] == 1.25
    assert flag.message == "Dygnspriset 7\u00a0000 kr överstiger referenspriset 4\u00a0000 kr × 1,25"


def test_only_candidates_of_the_requested_insats():
    other = unit("U-KORT", offers=[{"insats": "korttidsboende", "subcategories": []}],
                 routes=[{"route": "egen_regi", "insats": "korttidsboende"}], permits=[])
    result = evaluate(register(unit("U-1"), other), request())
    assert [c.unit_id for c in result.candidates] == ["U-1"]
    assert result.rules_version == load_ruleset().version and result.evaluated_on == date(2024, 9, 1)


def test_request_flag_for_stodboende_under_18():
    sb = unit("U-SB", age_min=16, age_max=20, target_groups=["psykisk_ohalsa"],
              offers=[{"insats": "stodboende", "subcategories": []}],
              routes=[{"route": "egen_regi", "insats": "stodboende"}],
              permits=[{"dnr": "x", "insats": "stodboende", "status": "active", "target_groups": ["psykisk_ohalsa"],
                        "decided_on": "2020-01-01"}])
    req = request(insats="stodboende", subcategory=None,
                  person={"age": 17, "gender": "male", "needs": ["psykisk_ohalsa"]})
    result = evaluate(register(sb), req)
    [flag] = result.request_flags
    assert (flag.code, flag.rule, flag.values) == ("STODBOENDE_UNDER_18", "REVIEW-STODBOENDE-UNDER-18",
                                                   {"request.insats": "stodboende", "request.person.age": 17})
    assert result.candidates[0].eligible


def test_parameter_without_value_on_the_date_is_unevaluable(tmp_path):
    import shutil

    from placering.paths import rules_dir

    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d, ignore=shutil.ignore_patterns("tests", "audit*"))
    p = d / "parameters" / "procurement.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace(
        "      - valid_from: 2020-01-01\n        valid_to: null\n        value: 1.25",
        "      - valid_from: 2025-01-01\n        valid_to: null\n        value: 1.25"), encoding="utf-8")
    units = [unit("U-RA"), unit("U-DU", routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                 "daily_price": 9000}])]
    on = date(2024, 9, 1)
    snap = RegisterSnapshot.from_document(register(*units), on=on)
    ev = ReferenceEvaluator(load_ruleset(d))
    ev.load(snap)
    result = ev.evaluate(request_fact(request(), snap, TAX), on=on)
    [du] = [c for c in result.candidates if c.unit_id == "U-DU"]
    [u] = du.unevaluable
    assert u.rule == "REVIEW-PRICE-ABOVE-REFERENCE" and u.values["missing"] == ["param.direct_procurement_price_factor"]
    assert du.flags == []


# The distance decision: dot product against cos(D/R) agrees with haversine away from the boundary.
coords = st.tuples(st.floats(55.0, 69.0), st.floats(10.0, 24.0))


@settings(max_examples=300, deadline=None)
@given(coords, coords, st.floats(0.0, 1500.0))
def test_distance_decision_agrees_with_haversine(a, b, d):
    km = geo.haversine_km(a[0], a[1], b[0], b[1])
    if abs(km - d) < 1e-3:
        return  # at the boundary the decision is authoritative
    ua, ub = geo.unit_vector(*a), geo.unit_vector(*b)
    assert geo.beyond(ua, ub, d) == (km > d)
    assert geo.compare_distance("le", ua, ub, d) == (km <= d)


def test_distance_decision_is_symmetric_and_exact_on_precomputed_numbers():
    u, h = geo.unit_vector(57.71, 11.97), geo.unit_vector(57.721, 12.94)
    dot = (u[0] * h[0] + u[1] * h[1]) + u[2] * h[2]
    assert dot == geo.dot(u, h) == geo.dot(h, u)
    assert geo.compare_dot("gt", dot, geo.cos_threshold(57.0)) and not geo.compare_dot("gt", dot, geo.cos_threshold(58.0))
    assert geo.cos_threshold(-5) == 1.0 and geo.cos_threshold(1e9) == math.cos(math.pi)


def test_snapshot_from_the_database(run, engine, tmp_path):
    doc = register(unit("U-1"), unit("U-2", location=None, status="watch"))
    doc["suppliers"][0]["checks"] = [{"kind": "credit_rating", "result": "pass", "value": 62,
                                      "performed_on": "2024-01-02", "source": "kreditupplysning"}]
    path = tmp_path / "reg.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("register", "import", str(path), "--apply-status", "--by", "test").exit_code == 0
    from placering.storage import open_session

    with open_session(engine) as session:
        from_db = RegisterSnapshot.from_session(session, on=date(2024, 9, 1))
    from_doc = RegisterSnapshot.from_document(doc, on=date(2024, 9, 1))
    assert from_db.candidates("hvb_barn_unga") == from_doc.candidates("hvb_barn_unga")
    [c1, c2] = from_db.candidates("hvb_barn_unga")
    assert c1["supplier"]["credit_rating"] == 62.0 and c1["permit"]["status"] == "active"
    assert c2["unit"]["geo_x"] is None and c2["unit"]["status"] == "watch"


def test_a_resident_snapshot_follows_register_events(run, engine, tmp_path):
    doc = register(unit("U-1"), unit("U-2"))
    path = tmp_path / "reg.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("register", "import", str(path), "--on", "2024-01-01", "--apply-status", "--by", "test").exit_code == 0
    from placering.storage import open_session

    with open_session(engine) as session:
        snap = RegisterSnapshot.from_session(session, on=date(2024, 9, 1))
    ev = ReferenceEvaluator(load_ruleset())
    ev.load(snap)
    on = date(2024, 9, 1)
    assert all(c.eligible for c in ev.evaluate(request_fact(request(), snap, TAX), on=on).candidates)
    r = run("register", "permit", "U-2", "--dnr", "8.1-1/2019", "--status", "revoked", "--on", "2024-08-01",
            "--by", "test")
    assert r.exit_code == 0 and "STATUS-PERMIT-LOST" in r.output
    with open_session(engine) as session:
        assert snap.refresh(session, org_nrs=["556677-8899"]) == 2
    result = ev.evaluate(request_fact(request(), snap, TAX), on=on)
    by_unit = {c.unit_id: sorted(x.rule for x in c.exclusions) for c in result.candidates}
    # U-2 lost its permit: removed. The shared framework agreement is not stopped by the rule
    # (INK decides, on the rule's proposal), so U-1 stays eligible.
    assert by_unit == {"U-1": [], "U-2": ["ELIG-PERMIT-STATUS", "ELIG-STATUS"]}
    r = run("register", "agreement", "RA-1", "order_stop", "--supplier", "556677-8899", "--on", "2024-08-02",
            "--by", "ink")
    assert r.exit_code == 0, r.output
    with open_session(engine) as session:
        snap.refresh(session, org_nrs=["556677-8899"])
    result = ev.evaluate(request_fact(request(), snap, TAX), on=on)
    by_unit = {c.unit_id: sorted(x.rule for x in c.exclusions) for c in result.candidates}
    assert by_unit == {"U-1": ["ELIG-AGREEMENT-STATUS"],
                       "U-2": ["ELIG-AGREEMENT-STATUS", "ELIG-PERMIT-STATUS", "ELIG-STATUS"]}
    with open_session(engine) as session:
        fresh = RegisterSnapshot.from_session(session, on=on)
    assert fresh.candidates("hvb_barn_unga") == snap.candidates("hvb_barn_unga")


def test_an_agreement_for_other_municipalities_names_them_as_people_write_them():
    u = unit("U-1")
    u["routes"][0]["buyers"] = ["Västervik", "Oskarshamn"]
    [reason] = evaluate(register(u), request()).candidates[0].exclusions
    assert reason.rule == "ELIG-AGREEMENT-BUYER"
    assert reason.message == "Avtalet RA-1 är inte upphandlat för Göteborg (köpare: Västervik, Oskarshamn)"
    assert reason.values["request.municipality_key"] == "göteborg"  # the values keep the comparison keys

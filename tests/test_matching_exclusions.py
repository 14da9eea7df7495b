"""Every exclusion reason appears with its values and source; unevaluable rules are reported,
never silent; protected people: avoided municipalities and hidden addresses; --explain."""

from __future__ import annotations

import re

import json

from test_matching_support import (  # noqa: F401 (rules_engine is a fixture)
    codes,
    excluded,
    load_register,
    match_json,
    ranked,
    request,
    rules_engine,
    unit,
    write_request,
)

# One unit per exclusion reason, each differing from the eligible U-OK in one respect.
REASON_UNITS = {
    "STATUS": unit("U-STATUS", status="unpublished"),
    "AGREEMENT": unit("U-AGREEMENT", agreement_status="order_stop"),
    # (a revoked permit would remove the unit as it is imported: STATUS-PERMIT-LOST; a private unit
    # with only a notification lacks the permit)
    "PERMIT": unit("U-PERMIT", permit="notified"),
    "AGE": unit("U-AGE", age=(16, 20)),
    "GENDER": unit("U-GENDER", genders=("male",)),
    "TARGET_GROUP": unit("U-TARGET", groups=("kriminalitet",), permit_groups=("missbruk", "kriminalitet")),
    "CAPACITY": unit("U-CAPACITY", free=0),
    "DISTANCE": unit("U-DISTANCE", municipality="Jönköping", loc=(57.78, 14.16)),
    "PRICE": unit("U-PRICE", price=9000),
    "MUNICIPALITY": unit("U-MUNI", municipality="Mölndal", loc=(57.655, 12.014)),
    "SUBCATEGORY": unit("U-SUB", subs=["behandling"]),
}

EXPECTED_VALUES = {
    "STATUS": ("unit.status", "unpublished"),
    "AGREEMENT": ("route.status", "order_stop"),
    "PERMIT": ("permit.status", "notified"),
    "AGE": ("unit.age_min", 16),
    "GENDER": ("unit.genders", ["male"]),
    "TARGET_GROUP": ("unit.target_groups", ["kriminalitet"]),
    "CAPACITY": ("unit.free_places", 0),
    "PRICE": ("route.daily_price", 9000),
    "MUNICIPALITY": ("request.avoid_municipality_keys", ["mölndal"]),
    "SUBCATEGORY": ("unit.subcategories", ["behandling"]),
}


def test_every_exclusion_reason_with_values_and_source(run, tmp_path, rules_engine):
    load_register(run, tmp_path, unit("U-OK"), *REASON_UNITS.values())
    req = request(max_daily_price=8000, avoid_municipalities=["Mölndal"], max_distance_km=100)
    d = match_json(run, tmp_path, req, rules_engine)
    assert ranked(d) == [("U-OK", "ramavtal")]
    ex = excluded(d)
    assert set(ex) == {u["unit_id"] for u in REASON_UNITS.values()}
    for code, u in REASON_UNITS.items():
        entry = ex[u["unit_id"]]
        assert codes(entry) == {code}, (code, entry)
        reason = entry["reasons"][0]
        assert reason["rule"].startswith("ELIG-") and reason["source"] and reason["message"]
        assert reason["route"] == "ramavtal"
        if code in EXPECTED_VALUES:
            field, value = EXPECTED_VALUES[code]
            assert reason["values"][field] == value, (code, reason["values"])
    dist = ex["U-DISTANCE"]["reasons"][0]["values"]
    assert dist["distance_km"] > 100 and dist["request.max_distance_km"] == 100
    # The human output counts exclusions by reason and names the units (issue 19).
    human = run("match", str(write_request(tmp_path, dict(req, request_id="R-2"))), "--engine", rules_engine, "--by", "h")
    assert human.exit_code == 0, human.output
    from placering.labels import label

    for code, u in REASON_UNITS.items():  # people read the Swedish label
        assert re.search(rf"^{re.escape(label(code, 'exclusion'))}\s+1\s+{u['unit_id']}\s*$", human.stdout, re.M), code


def test_reasons_of_several_routes_are_merged_per_unit(run, tmp_path, rules_engine):
    two = unit("U-TWO", "ramavtal", 4000, free=0, agreement_status="order_stop",
               extra_routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga", "daily_price": 3000}])
    load_register(run, tmp_path, unit("U-OK"), two)
    d = match_json(run, tmp_path, request(), rules_engine)
    entry = excluded(d)["U-TWO"]
    by_route = {(r["route"], r["code"]) for r in entry["reasons"]}
    assert ("ramavtal", "AGREEMENT") in by_route
    assert ("ramavtal", "CAPACITY") in by_route and ("direktupphandling", "CAPACITY") in by_route


def test_unevaluable_unit_is_listed_and_not_recommended(run, tmp_path, rules_engine):
    load_register(run, tmp_path, unit("U-OK"), unit("U-NOWHERE", price=1000, loc=None))
    d = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d) == [("U-OK", "ramavtal")]
    entry = excluded(d)["U-NOWHERE"]
    assert entry["reasons"] == []
    assert [r["rule"] for r in entry["unevaluable"]] == ["ELIG-DISTANCE"]
    assert "unit.lat" in entry["unevaluable"][0]["values"]["missing"]
    r = run("match", str(write_request(tmp_path, request())), "--engine", rules_engine, "--by", "h",
            "--explain", "U-NOWHERE")
    assert r.exit_code == 0, r.output
    assert "kunde inte bedömas" in r.stdout and "ELIG-DISTANCE" in r.stdout  # Swedish output (labels)


def test_protected_person_avoided_municipality_and_hidden_addresses(run, tmp_path, rules_engine):
    kw = dict(insats="skyddat_boende", age=(18, 99), groups=("vald", "heder"), protected=True)
    load_register(
        run, tmp_path,
        unit("U-SB-MOLNDAL", "ramavtal", 2500, municipality="Mölndal", loc=(57.6611, 12.0222), **kw),
        unit("U-SB-KUNGALV", "ramavtal", 2900, municipality="Kungälv", loc=(57.8733, 11.9844), **kw),
        unit("U-SB-UMEA", "ramavtal", 2000, municipality="Umeå", loc=(63.8258, 20.2630), **kw),
    )
    req = request(insats="skyddat_boende", subcategory="vinr_heder", age=31, needs=("vald",),
                  person={"age": 31, "gender": "female", "needs": ["vald"], "protected_identity": True},
                  avoid_municipalities=["Mölndal"])
    d = match_json(run, tmp_path, req, rules_engine)
    assert ranked(d) == [("U-SB-KUNGALV", "ramavtal")]
    assert codes(excluded(d)["U-SB-MOLNDAL"]) == {"MUNICIPALITY"}
    far = excluded(d)["U-SB-UMEA"]["reasons"][0]
    # a protected pair: the distance is shown as a band (README "Data protection")
    assert far["code"] == "DISTANCE" and float(far["values"]["distance_km"].split("–")[0]) >= 150
    assert d["recommendations"][0]["municipality"] == "Kungälv"
    path = write_request(tmp_path, req)
    outputs = [json.dumps(d), run("match", str(path), "--engine", rules_engine, "--by", "h").stdout,
               run("match", str(path), "--engine", rules_engine, "--by", "h", "--explain", "U-SB-UMEA").stdout,
               run("request", "show", "R-1", "--json").stdout, run("request", "show", "R-1").stdout]
    for output in outputs:
        # Neither the protected units' positions nor the protected person's home.
        for coordinate in ("57.6611", "12.0222", "57.8733", "11.9844", "63.8258", "20.263", "57.7089", "11.9746"):
            assert coordinate not in output
    assert "DISTANCE" in outputs[2]
    shown = json.loads(run("request", "show", "R-1", "--json", "--show-protected").stdout)
    assert shown["request"]["home_location"] == {"lat": 57.7089, "lon": 11.9746}
    # Even when the cheaper unit elsewhere is the only one, an avoided one is never recommended.
    req2 = dict(req, request_id="R-2", avoid_municipalities=["Mölndal", "Kungälv"])
    d2 = match_json(run, tmp_path, req2, rules_engine)
    assert d2["recommendations"] == []
    ex2 = excluded(d2)
    assert codes(ex2["U-SB-MOLNDAL"]) == codes(ex2["U-SB-KUNGALV"]) == {"MUNICIPALITY"}


def test_explain_recommended_below_cut_excluded_and_held_back(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200), unit("U-4", price=3300),
        unit("U-AGE", age=(16, 20)),
        unit("U-D", "direktupphandling", 2000),
    )
    path = write_request(tmp_path, request())

    def explain(uid: str) -> tuple[dict, str]:
        j = run("match", str(path), "--engine", rules_engine, "--by", "h", "--explain", uid, "--json")
        h = run("match", str(path), "--engine", rules_engine, "--by", "h", "--explain", uid)
        assert j.exit_code == 0 and h.exit_code == 0, j.output + h.output
        return json.loads(j.stdout), h.stdout

    ex, text = explain("U-2")
    assert ex["status"] == "recommended" and ex["rank"] == 2 and ex["keys"]["daily_price"] == 3100
    assert "rekommenderad, rang 2" in text
    ex, text = explain("U-4")
    assert ex["status"] == "below_cut" and ex["rank"] == 4 and ex["cut"] == 3
    assert "under gränsen 3" in text
    ex, text = explain("U-AGE")
    assert ex["status"] == "excluded"
    assert ex["reasons"][0]["code"] == "AGE" and ex["reasons"][0]["values"]["unit.age_min"] == 16
    assert "AGE" in text and "ELIG-AGE" in text and "källa:" in text
    ex, text = explain("U-D")
    assert ex["status"] == "held_back" and ex["reasons"][0]["code"] == "LAST_RESORT"
    assert "sista utvägen" in text
    # A unit that is not in the register is an error (exit 3, with suggestions), and stores nothing.
    missing = run("match", str(path), "--engine", rules_engine, "--by", "h", "--explain", "U-NONE")
    assert missing.exit_code == 3 and "ingen enhet med id 'U-NONE' i registret" in missing.stderr
    assert run("request", "show", "R-1").exit_code == 3  # --explain stored nothing
    run("match", str(path), "--engine", rules_engine, "--by", "h")
    # The stored decision can be explained without deciding again.
    before = run("request", "show", "R-1", "--json").stdout
    stored = run("request", "show", "R-1", "--explain", "U-4", "--json")
    assert stored.exit_code == 0, stored.output
    assert json.loads(stored.stdout)["status"] == "below_cut"
    # A unit id as typed (surrounding blanks) is the same unit.
    assert json.loads(run("request", "show", "R-1", "--explain", " U-4 ", "--json").stdout)["unit_id"] == "U-4"
    assert run("request", "show", "R-1", "--json").stdout == before

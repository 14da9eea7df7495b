"""The priority order, step by step, and every flag: each with a register built for it, through
`placering match` on both rules engines and both databases."""

from __future__ import annotations

import re

import json

from test_matching_support import (  # noqa: F401 (rules_engine is a fixture)
    codes,
    excluded,
    flag,
    load_register,
    match_json,
    ranked,
    drop_rule,
    request,
    rules_copy,
    rules_engine,
    unit,
    write_request,
)


def test_egen_regi_wins_over_ramavtal_and_direct_is_held_back(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-E1", "egen_regi", None, loc=(57.80, 12.05)),
        unit("U-R1", "ramavtal", 4000),
        unit("U-R2", "ramavtal", 3500),
        unit("U-D1", "direktupphandling", 3000),
    )
    d = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d) == [("U-E1", "egen_regi"), ("U-R2", "ramavtal"), ("U-R1", "ramavtal")]
    assert d["review_required"] is False
    assert flag(d, "DIRECT_PROCUREMENT") is None
    # The keys each recommendation was ranked on are shown, not a score.
    r2 = d["recommendations"][1]
    assert r2["keys"]["daily_price"] == 3500 and r2["keys"]["route"] == "ramavtal"
    assert set(r2["keys"]) >= {"needs_fit", "daily_price", "distance_km", "unit_id"}
    assert d["ranking"]["rule"] == "RANK-PRIORITY-ORDER" and "needs_fit" in d["ranking"]
    # Direct procurement is the last resort: eligible, but held back and said so.
    held = excluded(d)["U-D1"]
    assert codes(held) == {"LAST_RESORT"}
    assert held["eligible"]["route"] == "direktupphandling"
    # Decided on the day submitted, with the rules of the placement's start day (issue 20 item 12).
    assert d["rules_version"] and (d["decided_on"], d["evaluated_on"]) == ("2024-09-01", "2024-09-02")


def test_ramavtal_before_iop(run, tmp_path, rules_engine):
    # skyddat boende: the only insats with IOP; before 2024-04-01 it needed no IVO permit.
    load_register(
        run, tmp_path,
        unit("U-I1", "iop", None, insats="skyddat_boende", permit=None, age=(18, 99)),
        unit("U-R1", "ramavtal", 2600, insats="skyddat_boende", permit=None, age=(18, 99)),
    )
    req = request(insats="skyddat_boende", subcategory="vinr_heder", age=30, needs=("psykisk_ohalsa",),
                  submitted_on="2024-02-01", start_on="2024-02-02")
    d = match_json(run, tmp_path, req, rules_engine)
    assert ranked(d) == [("U-R1", "ramavtal"), ("U-I1", "iop")]


def test_within_a_route_price_then_distance_then_unit_id(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-A", "ramavtal", 5000),
        unit("U-B", "ramavtal", 5000, loc=(57.90, 12.10)),  # same price, farther away
        unit("U-0", "ramavtal", 5000),  # same price and place as U-A: the unit id breaks the tie
        unit("U-C", "ramavtal", 3000),  # cheapest
    )
    d = match_json(run, tmp_path, request(), rules_engine, "--limit", "4")
    assert [u for u, _ in ranked(d)] == ["U-C", "U-0", "U-A", "U-B"]
    keys = {r["unit_id"]: r["keys"] for r in d["recommendations"]}
    assert keys["U-0"]["distance_km"] == keys["U-A"]["distance_km"] < keys["U-B"]["distance_km"]
    assert {k["needs_fit"] for k in keys.values()} == {2}  # the need (permit covers it) + the sub-category
    assert [r["rank"] for r in d["recommendations"]] == [1, 2, 3, 4]


def test_needs_fit_comes_before_price(run, tmp_path, rules_engine):
    # With the sub-category rule taken out of a copy of the rules, a unit that does not offer
    # the requested sub-category is eligible but fits less: it ranks after a dearer full fit.
    rules = rules_copy(tmp_path, lambda name, text: drop_rule(text, "ELIG-SUBCATEGORY")
                       if name == "eligibility.yaml" else text)
    load_register(
        run, tmp_path,
        unit("U-CHEAP", "ramavtal", 3000, subs=["behandling"]),
        unit("U-FIT", "ramavtal", 4500),
    )
    path = write_request(tmp_path, request())
    r = run("match", str(path), "--engine", rules_engine, "--by", "h", "--json", env={"PLACERING_RULES_DIR": str(rules)})
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert [u for u, _ in ranked(d)] == ["U-FIT", "U-CHEAP"]
    assert [x["keys"]["needs_fit"] for x in d["recommendations"]] == [2, 1]


def test_direct_procurement_when_no_framework_unit_is_eligible(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-R1", "ramavtal", 4000, free=0),  # full
        unit("U-D1", "direktupphandling", 6000),  # above 4000 × 1.25
        unit("U-D2", "direktupphandling", 4500),
    )
    d = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d) == [("U-D2", "direktupphandling"), ("U-D1", "direktupphandling")]
    dp = flag(d, "DIRECT_PROCUREMENT")
    assert dp["reason"] == "no_eligible_framework_unit"
    assert dp["rule"] == "RANK-PRIORITY-ORDER" and dp["source"]
    assert d["review_required"] is True and d["review_id"]
    assert codes(excluded(d)["U-R1"]) == {"CAPACITY"}
    price = [f for f in d["flags"] if f["code"] == "PRICE_ABOVE_REFERENCE"]
    assert [f["unit_id"] for f in price] == ["U-D1"]
    assert price[0]["values"]["request.reference_price"] == 4000
    assert d["reference_price"] == 4000
    rec = {r["unit_id"]: r for r in d["recommendations"]}
    assert [f["code"] for f in rec["U-D1"]["flags"]] == ["PRICE_ABOVE_REFERENCE"]
    assert rec["U-D2"]["flags"] == []


def test_no_framework_for_nodbistand_goes_to_direct_procurement(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-N1", "direktupphandling", 1300, insats="nodbistand", permit=None, age=(0, 99),
             groups=("foralder_med_barn", "hemloshet")),
    )
    req = request(insats="nodbistand", subcategory=None, age=34, needs=("foralder_med_barn",), places=1)
    d = match_json(run, tmp_path, req, rules_engine)
    assert ranked(d) == [("U-N1", "direktupphandling")]
    assert flag(d, "DIRECT_PROCUREMENT")["reason"] == "no_framework_for_insats"
    assert flag(d, "PRICE_ABOVE_REFERENCE") is None  # no framework price, no reference
    assert d["reference_price"] is None
    assert d["review_required"] is True


def test_egen_regi_nodbistand_unit_avoids_direct_procurement(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-N0", "egen_regi", None, insats="nodbistand", permit=None, age=(0, 99), groups=("foralder_med_barn",)),
        unit("U-N1", "direktupphandling", 1300, insats="nodbistand", permit=None, age=(0, 99),
             groups=("foralder_med_barn",)),
    )
    req = request(insats="nodbistand", subcategory=None, age=34, needs=("foralder_med_barn",))
    d = match_json(run, tmp_path, req, rules_engine)
    assert ranked(d) == [("U-N0", "egen_regi")]
    assert d["review_required"] is False


def test_all_declined_goes_to_direct_procurement(run, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-E1", "egen_regi", None),
        unit("U-R1", "ramavtal", 4000),
        unit("U-D1", "direktupphandling", 4200),
    )
    d1 = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d1) == [("U-E1", "egen_regi"), ("U-R1", "ramavtal")]
    for uid in ("U-E1", "U-R1"):
        r = run("request", "decline", "R-1", uid, "--reason", "ingen plats ändå", "--by", "handläggare")
        assert r.exit_code == 0, r.output
    r = run("request", "rematch", "R-1", "--engine", rules_engine, "--by", "handläggare", "--json")
    assert r.exit_code == 0, r.output
    d2 = json.loads(r.stdout)
    assert d2["seq"] == 2
    assert ranked(d2) == [("U-D1", "direktupphandling")]
    assert flag(d2, "DIRECT_PROCUREMENT")["reason"] == "all_declined"
    assert codes(excluded(d2)["U-E1"]) == {"DECLINED"}
    assert d2["declined_units"] == ["U-E1", "U-R1"]
    # The first decision is unchanged.
    show = json.loads(run("request", "show", "R-1", "--json").stdout)
    assert [ranked(x) for x in show["decisions"]] == [ranked(d1), ranked(d2)]
    assert [d["unit_id"] for d in show["declines"]] == ["U-E1", "U-R1"]


def test_no_eligible_unit(run, tmp_path, rules_engine):
    load_register(run, tmp_path, unit("U-R1", "ramavtal", 4000, age=(18, 20)))
    d = match_json(run, tmp_path, request(age=15), rules_engine)
    assert d["recommendations"] == []
    assert flag(d, "NO_ELIGIBLE_UNIT")["rule"] == "RANK-PRIORITY-ORDER"
    assert d["review_required"] is False
    assert codes(excluded(d)["U-R1"]) == {"AGE"}
    human = run("match", str(write_request(tmp_path, request())), "--engine", rules_engine, "--by", "h")
    assert human.exit_code == 0
    # People read the labels (locale/sv/LC_MESSAGES/labels.po); --json keeps the codes (above).
    from placering.labels import label

    # the excluded units by reason: a table row "Ålder  1  U-R1" (issue 19)
    assert label("NO_ELIGIBLE_UNIT") in human.stdout and re.search(rf"{label('AGE')}\s+1\s+U-R1", human.stdout)


def test_watch_listed_unit_is_recommended_with_flag(run, tmp_path, rules_engine):
    load_register(run, tmp_path, unit("U-W", "ramavtal", 4000, status="watch"), unit("U-R", "ramavtal", 4100))
    d = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d) == [("U-W", "ramavtal"), ("U-R", "ramavtal")]
    w = flag(d, "WATCH_LISTED")
    assert w["unit_id"] == "U-W" and w["rule"] and w["source"]
    assert [f["code"] for f in d["recommendations"][0]["flags"]] == ["WATCH_LISTED"]


def test_stodboende_under_18_flags_the_request(run, tmp_path, rules_engine):
    load_register(run, tmp_path, unit("U-S", "ramavtal", 1800, insats="stodboende", age=(16, 20)))
    d = match_json(run, tmp_path, request(insats="stodboende", subcategory=None, age=17), rules_engine)
    assert ranked(d) == [("U-S", "ramavtal")]
    f = flag(d, "STODBOENDE_UNDER_18")
    assert f is not None and "unit_id" not in f and f["values"]["request.person.age"] == 17


def test_a_unit_appears_once_under_its_best_route(run, tmp_path, rules_engine):
    both = unit("U-X", "ramavtal", 4000, extra_routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                         "daily_price": 3000}])
    load_register(run, tmp_path, both)
    d = match_json(run, tmp_path, request(), rules_engine)
    assert ranked(d) == [("U-X", "ramavtal")]
    assert d["recommendations"][0]["other_routes"][0]["route"] == "direktupphandling"
    assert d["excluded"] == []

"""Ranking rules of matching.matcher.decide on hand-made evaluations (no database): edge cases
that are awkward to build as registers."""

from __future__ import annotations

from datetime import date

from placering.matching.matcher import Policy, decide
from placering.matching.request import validate_request
from placering.rules import load_ruleset
from placering.rules.reference import CandidateOutcome, Reason, RequestEvaluation

from test_matching_support import request

ON = date(2024, 9, 1)


def _reason(code: str, **values) -> Reason:
    return Reason(code, f"ELIG-{code}", f"{code} message", values, "a source")


def cand(uid: str, route: str, price: float | None = 4000, distance: float | None = 10.0, *, exclusions=(),
         unevaluable=(), flags=(), permit_groups=("missbruk",), subs=("akut",)) -> CandidateOutcome:
    fact = {"unit": {"unit_id": uid, "target_groups": ["missbruk"], "subcategories": list(subs), "free_places": 2},
            "permit": {"exists": True, "target_groups": list(permit_groups)}}
    return CandidateOutcome(uid, "556600-0013", route, f"A-{uid}" if route == "ramavtal" else None, price, distance,
                            list(exclusions), list(flags), list(unevaluable), fact)


def run_decide(cands, limit=None, insats="hvb_barn_unga", sub="akut"):
    req = validate_request(request(insats=insats, subcategory=sub))
    policy = Policy.of(load_ruleset().policy("ranking", ON))
    return decide(req, RequestEvaluation(list(cands), [], []), policy, rules_version="v", limit=limit)


def test_missing_price_and_distance_sort_last_and_unit_id_breaks_ties():
    d = run_decide([
        cand("U-3", "ramavtal", None), cand("U-2", "ramavtal", 4000, None), cand("U-1", "ramavtal", 4000, 10.0),
        cand("U-0", "ramavtal", 4000, 10.0),
    ], limit=10)
    assert [r["unit_id"] for r in d["recommendations"]] == ["U-0", "U-1", "U-2", "U-3"]


def test_declined_framework_unit_with_direct_route_counts_as_all_declined():
    declined = _reason("DECLINED")
    d = run_decide([
        cand("U-R", "ramavtal", exclusions=[declined]),
        cand("U-R", "direktupphandling", 4500),  # (the rules exclude a declined unit on every route)
        cand("U-D", "direktupphandling", 5000),
        cand("U-X", "ramavtal", exclusions=[_reason("AGE")]),
    ])
    dp = next(f for f in d["flags"] if f["code"] == "DIRECT_PROCUREMENT")
    assert dp["reason"] == "all_declined" and dp["values"]["declined_eligible_units"] == 1
    assert dp["values"]["excluded_by_route"] == {"ramavtal": {"DECLINED": 1, "AGE": 1}}
    assert [(r["unit_id"], r["route"]) for r in d["recommendations"]] == [("U-R", "direktupphandling"),
                                                                         ("U-D", "direktupphandling")]


def test_unevaluable_only_is_listed_not_recommended_and_counted():
    d = run_decide([cand("U-1", "ramavtal", unevaluable=[_reason("DISTANCE", missing=["unit.lat"])]),
                    cand("U-2", "ramavtal")])
    assert [r["unit_id"] for r in d["recommendations"]] == ["U-2"]
    [entry] = d["excluded"]
    assert entry["unit_id"] == "U-1" and entry["reasons"] == [] and entry["unevaluable"][0]["route"] == "ramavtal"


def test_positions_never_reach_the_decision():
    r = _reason("DISTANCE", **{"unit.lat": 63.8, "unit.lon": 20.2, "request.home_lat": 57.7, "distance_km": 700.0,
                               "request.max_distance_km": 150})
    d = run_decide([cand("U-1", "ramavtal", exclusions=[r]), cand("U-2", "ramavtal")])
    values = d["excluded"][0]["reasons"][0]["values"]
    assert values == {"distance_km": 700.0, "request.max_distance_km": 150}


def test_without_excluded_list_the_counts_remain():
    req = validate_request(request())
    policy = Policy.of(load_ruleset().policy("ranking", ON))
    ev = RequestEvaluation([cand("U-1", "ramavtal", exclusions=[_reason("AGE")]), cand("U-2", "ramavtal")], [], [])
    d = decide(req, ev, policy, rules_version="v", with_excluded=False)
    assert "excluded" not in d and d["counts"]["excluded"] == 1 and d["counts"]["recommended"] == 1

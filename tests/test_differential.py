"""Differential test: the durable-rules adapter and the reference evaluator must agree on every
candidate of random small registers and requests (outcomes, reason codes, rule ids, values,
flags, unevaluable rules). Any disagreement is a bug in one of them.

The search is derandomised (deterministic in CI). `test_search_finds_a_deliberately_broken_rule`
breaks one rule in the durable compilation only and shows the same search finds it.
"""

from __future__ import annotations

import math
import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from placering.rules import load_ruleset
from placering.rules.durable_compile import Lit
from placering.rules.durable_engine import DurableEvaluator
from placering.rules.facts import RegisterSnapshot, request_fact
from placering.rules.geo import EARTH_RADIUS_KM
from placering.rules.reference import ReferenceEvaluator
from placering.taxonomy import load_taxonomy

RULESET = load_ruleset()
TAXONOMY = load_taxonomy()
SETTINGS = settings(max_examples=250, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))

INSATSER = ["hvb_barn_unga", "skyddat_boende", "stodboende", "socialt_boende"]
SUBCATEGORIES = {"hvb_barn_unga": ["akut", "behandling", "utredning"], "skyddat_boende": ["vinr_heder", "avhoppare"],
                 "stodboende": ["x"], "socialt_boende": ["akutboende", "lagenhetsboende"]}
TARGET_GROUPS = ["missbruk", "kriminalitet", "vald", "heder", "npf"]
# Municipality names as people type them: NFC, NFD, other case (facts fold them).
PLACES = ["Göteborg", unicodedata.normalize("NFD", "Göteborg"), "GÖTEBORG", "Malmö",
          unicodedata.normalize("NFD", "Malmö"), "Åre", "Ängelholm", "Lund"]
DAYS = [date(2023, 6, 1), date(2024, 3, 31), date(2024, 4, 1), date(2024, 4, 2), date(2024, 9, 1)]
PRICES = [1000, 1250, 1250.5, 1562.5, 1563, 2000.25, 4200]
HOME = (57.71, 11.97)


def _north(km: float) -> dict:
    return {"lat": HOME[0] + math.degrees(km / EARTH_RADIUS_KM), "lon": HOME[1]}


def opt(strategy):
    return st.one_of(st.none(), strategy)


def mostly(common, *others):
    """`common` three times in four, else one of `others` (boundary and failure cases)."""
    return st.one_of(st.just(common), st.just(common), st.just(common), st.sampled_from(others))


@st.composite
def worlds(draw):
    """(register document, request, evaluation date): most candidates pass most rules, so
    every rule is exercised both ways and at its boundaries."""
    on = draw(st.sampled_from(DAYS))
    start = on + timedelta(days=draw(st.sampled_from([0, 1, 30])))
    age = draw(st.integers(0, 25))
    max_km = draw(opt(st.sampled_from([10, 50, 150.5])))
    insats = draw(st.sampled_from(INSATSER))
    buyer = draw(st.sampled_from(PLACES))
    needs = draw(st.lists(st.sampled_from(TARGET_GROUPS), max_size=2, unique=True))
    units = []
    for n in range(draw(st.integers(1, 6))):
        offers = [insats] if draw(mostly(True, False)) else []
        offers += draw(st.lists(st.sampled_from(INSATSER), max_size=1))
        offers = list(dict.fromkeys(offers)) or [insats]
        routes = []
        for ins in offers:
            for _ in range(draw(st.integers(1, 2))):
                route = draw(st.sampled_from(["egen_regi", "ramavtal", "ramavtal", "iop", "direktupphandling"]))
                routes.append({
                    "route": route, "insats": ins, "agreement_id": f"A-{n}-{len(routes)}",
                    "daily_price": draw(mostly(1250, None, *PRICES)),
                    "valid_from": draw(mostly("2020-01-01", None, *[d.isoformat() for d in DAYS])),
                    "valid_to": draw(mostly(None, *[(d + timedelta(days=k)).isoformat() for d in DAYS for k in (0, 30)])),
                    "buyers": [buyer] if draw(mostly(True, False)) else draw(st.lists(st.sampled_from(PLACES), max_size=3)),
                    "status": draw(mostly("active", "order_stop", "terminated")),
                })
        permits = []
        for ins in offers:
            if draw(mostly(True, False)):
                permits.append({"dnr": f"8.1-{n}-{ins}", "insats": ins,
                                "status": draw(mostly("active", "notified", "revoked", "banned", "expired")),
                                "target_groups": needs if draw(mostly(True, False))
                                else draw(st.lists(st.sampled_from(TARGET_GROUPS), max_size=4, unique=True)),
                                "decided_on": draw(st.sampled_from(["2019-06-01", "2024-04-01"]))})
        if max_km is not None and draw(st.booleans()):
            location = _north(max_km + draw(st.sampled_from([-0.001, 0.0, 0.001])))  # at the limit
        else:
            location = draw(mostly({"lat": HOME[0], "lon": HOME[1]}, None,
                                   {"lat": HOME[0] + 0.5, "lon": HOME[1] - 0.5}, _north(200)))
        age_min = draw(mostly(0, age - 1, age, age + 1))
        units.append({
            "unit_id": draw(st.sampled_from([f"U-{n}", f"U-Å{n}", f"U-ö{n}"])),
            "name": f"Enhet {n}", "municipality": draw(st.sampled_from(PLACES)),
            "location": location, "protected_address": draw(st.booleans()),
            "places": 4, "free_places": draw(mostly(3, 0, 1, 2)),
            "age_min": age_min, "age_max": draw(mostly(99, age - 1, age, age + 1)),
            "genders": draw(mostly(["female", "male"], [], ["female"], ["male"])),
            "target_groups": needs + ["npf"] if draw(mostly(True, False))
            else draw(st.lists(st.sampled_from(TARGET_GROUPS), max_size=4, unique=True)),
            "offers": [{"insats": i, "subcategories": draw(st.lists(st.sampled_from(SUBCATEGORIES[i]), unique=True))}
                       for i in offers],
            "routes": routes, "permits": permits,
            "status": draw(mostly("published", "watch", "unpublished", "recommendation_stop", "removed")),
        })
    # Unit ids must be unique in a register.
    seen: set[str] = set()
    for u in units:
        while u["unit_id"] in seen:
            u["unit_id"] += "x"
        seen.add(u["unit_id"])
    suppliers = [{"org_nr": "556677-8899", "name": "Vårdbolaget Ängen AB",
                  "legal_form": draw(st.sampled_from(["aktiebolag", "kommun", "ideell_forening"])),
                  "checks": [], "units": units}]
    request = {
        "request_id": "R-1", "submitted_on": on.isoformat(), "municipality": buyer,
        "requester": "Nordost", "insats": insats,
        "subcategory": draw(opt(st.sampled_from(SUBCATEGORIES[insats]))),
        "person": {"age": age, "gender": draw(opt(st.sampled_from(["female", "male"]))),
                   "needs": needs, "protected_identity": False},
        "legal_basis": "SoL", "urgency": "akut", "start_on": start.isoformat(),
        "places": draw(st.integers(1, 2)),
        "home_municipality": "Göteborg",
        "home_location": {"lat": HOME[0], "lon": HOME[1]} if draw(st.booleans()) else None,
        "max_distance_km": max_km,
        "avoid_municipalities": draw(st.lists(st.sampled_from(PLACES), max_size=2)),
        "max_daily_price": draw(opt(st.sampled_from(PRICES))),
        "declined_units": draw(st.lists(st.sampled_from(sorted(seen) + ["U-none"]), max_size=2)),
    }
    return {"format": "placering-register/1", "suppliers": suppliers}, request, on


def outcome_key(ev) -> tuple:
    return (
        [(c.unit_id, c.route, c.agreement_id, c.daily_price, c.distance_km,
          c.exclusions, c.flags, c.unevaluable) for c in ev.candidates],
        ev.request_flags,
        ev.unevaluable,
    )


class Pair:
    """The reference and a durable evaluator, loaded with the same register."""

    def __init__(self, tamper=None):
        self.reference = ReferenceEvaluator(RULESET)
        self.durable = DurableEvaluator(RULESET, tamper=tamper)

    def run(self, world) -> tuple:
        doc, request, on = world
        snap = RegisterSnapshot.from_document(doc, on=on)
        rf = request_fact(request, snap, TAXONOMY)
        self.reference.load(snap)
        self.durable.load(snap)
        return self.reference.evaluate(rf, on=on), self.durable.evaluate(rf, on=on)

    def disagree(self, world) -> bool:
        a, b = self.run(world)
        return outcome_key(a) != outcome_key(b)


@pytest.fixture(scope="module")
def pair():
    p = Pair()
    yield p
    p.durable.close()


@SETTINGS
@given(world=worlds())
def test_durable_and_reference_agree(pair, world):
    a, b = pair.run(world)
    assert outcome_key(b) == outcome_key(a)


def _flip(rule_id: str, old: str, new: str):
    """Break one rule in the durable compilation only: its `old` comparisons become `new`."""
    def tamper(rule, dnf):
        if rule.id != rule_id:
            return dnf
        return [[Lit(l.kind, new if l.op == old else l.op, l.left, l.right) for l in conj] for conj in dnf]  # noqa: E741
    return tamper


@pytest.mark.parametrize("rule_id, old, new", [
    ("ELIG-CAPACITY", "lt", "le"),    # free places == places would wrongly exclude
    ("ELIG-AGE", "gt", "ge"),         # age == age_max would wrongly exclude
    ("ELIG-AGREEMENT-BUYER", "ne", "eq"),  # the buyer test inverted
    ("ELIG-PRICE", "gt", "ge"),       # a price equal to the ceiling would wrongly exclude
    ("REVIEW-PRICE-ABOVE-REFERENCE", "gt", "ge"),  # reference × factor exactly: wrongly flagged
])
def test_search_finds_a_deliberately_broken_rule(rule_id, old, new):
    broken = Pair(tamper=_flip(rule_id, old, new))
    try:
        # The same derandomised search, without shrinking: the first disagreement is enough.
        example = find(worlds(), broken.disagree,
                       settings=settings(SETTINGS, phases=[Phase.explicit, Phase.generate]))
        a, b = broken.run(example)
        differing = {r.rule for ca, cb in zip(a.candidates, b.candidates)
                     for r in (set(ca.exclusions + ca.flags + ca.unevaluable)
                               ^ set(cb.exclusions + cb.flags + cb.unevaluable))}
        assert differing == {rule_id}
    finally:
        broken.durable.close()

"""Differential test: the columnar (numpy) evaluator and the reference evaluator must agree on
every candidate of random small registers and requests (outcomes, reason codes, rule ids,
messages, values, flags, unevaluable rules), using the strategies of test_differential.py.

`test_search_finds_a_deliberately_broken_vectorised_rule` breaks one rule in the vectorised
compilation only and shows the same derandomised search finds exactly that rule.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import Phase, find, given, settings

from placering.rules.facts import RegisterSnapshot, request_fact
from placering.rules.model import Compare, Condition
from placering.rules.reference import ReferenceEvaluator
from placering.rules.vectorized import VectorEvaluation, VectorizedEvaluator, VectorizeError
from test_differential import RULESET, SETTINGS, TAXONOMY, outcome_key, worlds


class Pair:
    """The reference and a vectorised evaluator, loaded with the same register."""

    def __init__(self, tamper=None):
        self.reference = ReferenceEvaluator(RULESET)
        self.vectorized = VectorizedEvaluator(RULESET, tamper=tamper)

    def run(self, world) -> tuple:
        doc, request, on = world
        snap = RegisterSnapshot.from_document(doc, on=on)
        rf = request_fact(request, snap, TAXONOMY)
        self.reference.load(snap)
        self.vectorized.load(snap)
        return self.reference.evaluate(rf, on=on), self.vectorized.evaluate(rf, on=on)

    def disagree(self, world) -> bool:
        a, b = self.run(world)
        return outcome_key(a) != outcome_key(b)


PAIR = Pair()


def _messages(ev) -> list:
    return [[(r.message, r.values) for r in c.exclusions + c.flags + c.unevaluable] for c in ev.candidates]


@SETTINGS
@given(world=worlds())
def test_vectorized_and_reference_agree(world):
    a, b = PAIR.run(world)
    assert isinstance(b, VectorEvaluation)
    assert outcome_key(b) == outcome_key(a)
    assert _messages(b) == _messages(a)
    # The fast path agrees with the materialised outcomes.
    assert [bool(x) for x in b.eligible] == [c.eligible for c in a.candidates]
    for i, c in enumerate(a.candidates):
        fired = [b.rules[r].cr.rule.id for r in range(len(b.rules)) if int(b.fired_bits[i]) >> r & 1]
        assert fired == [r.rule for r in c.exclusions + c.flags if r.rule in fired] and \
            len(fired) == len(c.exclusions) + len(c.flags)


def _flip(rule_id: str, old: str, new: str):
    """Break one rule in the vectorised compilation only: its `old` comparisons become `new`."""
    def swap(c: Condition) -> Condition:
        if isinstance(c, Compare):
            return Compare(new if c.op == old else c.op, c.left, c.right)
        for attr in ("items", "item"):
            if hasattr(c, attr):
                v = getattr(c, attr)
                return type(c)(tuple(swap(x) for x in v) if attr == "items" else swap(v))
        return c

    def tamper(rule, when):
        return swap(when) if rule.id == rule_id else when
    return tamper


@pytest.mark.parametrize("rule_id, old, new", [
    ("ELIG-CAPACITY", "lt", "le"),
    ("ELIG-AGE", "gt", "ge"),
    ("ELIG-PRICE", "gt", "ge"),
])
def test_search_finds_a_deliberately_broken_vectorised_rule(rule_id, old, new):
    broken = Pair(tamper=_flip(rule_id, old, new))
    example = find(worlds(), broken.disagree, settings=settings(SETTINGS, phases=[Phase.explicit, Phase.generate]))
    a, b = broken.run(example)
    differing = {r.rule for ca, cb in zip(a.candidates, b.candidates)
                 for r in (set(ca.exclusions + ca.flags + ca.unevaluable)
                           ^ set(cb.exclusions + cb.flags + cb.unevaluable))}
    assert differing == {rule_id}


def test_unvectorisable_construct_is_refused_naming_the_rule():
    from placering.rules.model import Distance, Field

    def tamper(rule, when):
        if rule.id == "ELIG-AGE":
            return Compare("gt", Distance(), Field("unit.age_max"))  # a threshold per candidate
        return when
    ev = VectorizedEvaluator(RULESET, tamper=tamper)
    with pytest.raises(VectorizeError, match="ELIG-AGE"):
        ev.program(date(2024, 9, 1))


def test_decisions_identical_to_the_reference_on_a_demo_register():
    """Whole decision documents (recommendations, flags, review, the full `excluded` list with
    every message and value) are the same with either evaluator, also when a unit declined."""
    import json

    from placering.matching.matcher import MatchContext, load_evaluator
    from placering.matching.request import validate_request
    from placering.demo import generate_register, generate_requests

    snapshot = RegisterSnapshot.from_document(generate_register(300, seed=11))
    contexts = [MatchContext(RULESET, load_evaluator(kind, RULESET, snapshot), snapshot, TAXONOMY)
                for kind in ("reference", "vectorized")]
    requests = [validate_request(r) for r in generate_requests(60, year=2024, seed=3)]
    kinds = set()
    for n, req in enumerate(requests):
        declined: list[str] = []
        if n % 3 == 0:  # decline the first recommendation: DECLINED exclusions, sometimes all_declined
            first = contexts[0].decide(req, with_excluded=False)["recommendations"]
            declined = [first[0]["unit_id"]] if first else []
        ref, vec = (json.dumps(c.decide(req, declined=declined), sort_keys=True, default=str) for c in contexts)
        assert vec == ref, req.request_id
        doc = json.loads(ref)
        kinds |= {f["code"] for f in doc["flags"]} | {"recommended" if doc["recommendations"] else "none"} | \
            ({"excluded"} if doc["excluded"] else set())
    assert {"recommended", "excluded", "DIRECT_PROCUREMENT", "NO_ELIGIBLE_UNIT"} <= kinds


# Rules exercising what today's rule files do not: division by zero under short-circuit,
# column-to-column lists and text, regular expressions, presence tests, nullable fields in
# applies_when. Both evaluators must still agree on every candidate.
EXTRA_RULES = """
stage: review
description: "Extra rules for the differential test of the vectorised evaluator."
rules:
""" + "".join(f"""
  - id: X-{i}
    title: "Extra {i}"
    description: "differential test"
    source: {{document: "tests/test_vectorized.py"}}
    valid_from: 2020-01-01
    valid_to: null
{body}
    outcome:
      flag: WATCH_LISTED  # a vocabulary code (lint refuses others); the rule id tells them apart
      message: "extra {i} {{unit.unit_id}}"
""" for i, body in enumerate([
    # division reached only where free_places == 0 (all) or never (any): short-circuit order
    "    when:\n      all:\n        - eq: [unit.free_places, 0]\n        - gt: [{div: [unit.places, unit.free_places]}, 1]",
    "    when:\n      any:\n        - eq: [unit.free_places, 0]\n        - gt: [{div: [unit.places, unit.free_places]}, 1]",
    "    applies_when: {gt: [{div: [unit.places, {sub: [unit.free_places, 2]}]}, 1]}\n    when: {exists: unit.unit_id}",
    "    when:\n      not: {lt: [{add: [route.daily_price, {mul: [unit.age_min, 2.5]}]}, {param: direct_procurement_price_factor}]}",
    "    when: {matches: [unit.unit_id, 'U-[0-9]+x?']}",
    "    when: {overlaps: [permit.target_groups, unit.target_groups]}",
    "    when: {subset: [request.person.needs, unit.target_groups]}",
    "    when: {subset: [unit.genders, [female]]}",
    "    when: {in: [unit.municipality_key, route.buyers]}",
    "    when: {in: [unit.municipality_key, request.avoid_municipality_keys]}",
    "    when: {in: [request.municipality_key, route.buyers]}",
    "    applies_when: {missing: permit.dnr}\n    when: {ne: [route.insats, request.insats]}",
    "    applies_when: {gt: [route.daily_price, 1250]}\n    when: {eq: [permit.insats, route.insats]}",
    "    when:\n      any:\n        - le: [distance_km, 50]\n        - ge: [route.valid_to, request.start_on]",
    "    when: {eq: [unit.protected_address, true]}",
    "    when: {subset: [unit.target_groups, permit.target_groups]}",
]))


@pytest.fixture(scope="module")
def extra_ruleset(tmp_path_factory):
    import shutil

    from placering.paths import rules_dir
    from placering.rules import load_ruleset

    d = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(rules_dir(), d, ignore=shutil.ignore_patterns("tests"))
    (d / "review_extra.yaml").write_text(EXTRA_RULES, encoding="utf-8")
    return load_ruleset(d)


@settings(SETTINGS, max_examples=150)
@given(world=worlds())
def test_extra_constructs_agree_with_the_reference(extra_ruleset, world):
    doc, request, on = world
    snap = RegisterSnapshot.from_document(doc, on=on)
    rf = request_fact(request, snap, TAXONOMY)
    ref, vec = ReferenceEvaluator(extra_ruleset), VectorizedEvaluator(extra_ruleset)
    ref.load(snap)
    vec.load(snap)
    a, b = ref.evaluate(rf, on=on), vec.evaluate(rf, on=on)
    assert outcome_key(b) == outcome_key(a)
    assert _messages(b) == _messages(a)


def test_a_refreshed_register_is_evaluated_afresh():
    """A resident register whose candidates are replaced in place (as RegisterSnapshot.refresh
    does) is not evaluated from the stale columns."""
    from placering.demo import generate_register, generate_requests

    snap = RegisterSnapshot.from_document(generate_register(40, seed=5))
    req = next(r for r in generate_requests(20, year=2024, seed=1) if len(snap.candidates(r["insats"])) > 2)
    rf = request_fact(req, snap, TAXONOMY)
    on = rf["submitted_on"]
    ref, vec = ReferenceEvaluator(RULESET), VectorizedEvaluator(RULESET)
    ref.load(snap)
    vec.load(snap)
    assert outcome_key(vec.evaluate(rf, on=on)) == outcome_key(ref.evaluate(rf, on=on))
    cands = snap.by_insats[rf["insats"]]
    middle = len(cands) // 2
    old = cands[middle]
    cands[middle] = dict(old, unit=dict(old["unit"], status="removed"))  # same list, same length
    a, b = ref.evaluate(rf, on=on), vec.evaluate(rf, on=on)
    assert "STATUS" in [r.code for r in a.candidates[middle].exclusions]
    assert outcome_key(b) == outcome_key(a)


def test_rule_states_shared_between_requests_are_those_of_each_request_alone():
    """A rule's states are shared by the requests that give its request fields the same values
    (issue 22: a batch's requests of one insats repeat ages, genders, sub-categories ...): one
    evaluator deciding many requests in a row (and in a batch, `unchanged`) gives each request
    what a fresh evaluator gives it, also for two requests that differ only in a value one rule
    reads (the age) or in what only the distance rule reads (the distance, the home)."""
    from placering.demo import generate_register, generate_requests

    snap = RegisterSnapshot.from_document(generate_register(200, seed=7))
    raw = generate_requests(60, year=2024, seed=9)
    base = next(r for r in raw if len(snap.candidates(r["insats"])) > 5)
    older = dict(base, request_id="older", person=dict(base["person"], age=base["person"]["age"] + 1))
    farther = dict(base, request_id="farther", max_distance_km=(base.get("max_distance_km") or 100) + 150)
    moved = dict(base, request_id="moved", home_municipality="Kiruna")
    requests = raw + [base, older, base, farther, moved]
    shared = VectorizedEvaluator(RULESET)
    shared.load(snap)
    for n, req in enumerate(requests):
        rf = request_fact(req, snap, TAXONOMY)
        on = rf["submitted_on"]
        alone = VectorizedEvaluator(RULESET)
        alone.load(snap)
        expected = alone.evaluate(rf, on=on)
        if n % 2:
            with shared.unchanged():
                got = shared.evaluate(rf, on=on)
        else:
            got = shared.evaluate(rf, on=on)
        assert (got.states == expected.states).all(), req["request_id"]
        assert outcome_key(got) == outcome_key(expected)
        assert _messages(got) == _messages(expected)
    assert any(t.shared for t in shared._tables.values())  # states were shared

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
    from placering.register.demo import generate_register, generate_requests

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

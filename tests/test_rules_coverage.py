"""Every rule has a test case that fails when the rule is removed or inverted.

Coverage: each rule id appears in some case's expectations as firing (positive) and in some
case as expected not to fire (negative). Mutation: dropping each rule, and inverting its
condition (`when` → `not when`), in turn makes at least one case fail. A rule a mutant survives
is a rule nothing tests.
"""

from __future__ import annotations

import dataclasses

import pytest

from placering.paths import rules_dir
from placering.rules.model import Not
from placering.rules.ruleset import load_ruleset
from placering.rules.testing import load_cases, run_rule_tests

RULESET = load_ruleset()
CASES = load_cases(rules_dir() / "tests")
RULE_IDS = sorted({r.id for r in RULESET.rules})


@pytest.fixture(scope="module")
def baseline():
    results = run_rule_tests(rules_dir(), ruleset=RULESET, cases=CASES)
    assert all(r.passed for r in results), [r.as_dict() for r in results if not r.passed]
    return results


def test_every_rule_has_a_positive_and_a_negative_case(baseline):
    positive = set().union(*(r.positive for r in baseline))
    negative = set().union(*(r.negative for r in baseline))
    assert [rid for rid in RULE_IDS if rid not in positive] == []
    assert [rid for rid in RULE_IDS if rid not in negative] == []


def _mutant(rule_id: str, mode: str):
    if mode == "drop":
        rules = tuple(r for r in RULESET.rules if r.id != rule_id)
    else:
        rules = tuple(dataclasses.replace(r, when=Not(r.when)) if r.id == rule_id else r for r in RULESET.rules)
    return dataclasses.replace(RULESET, rules=rules)


@pytest.mark.parametrize("mode", ["drop", "invert"])
@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_mutant_is_caught(rule_id, mode, baseline):
    results = run_rule_tests(rules_dir(), ruleset=_mutant(rule_id, mode), cases=CASES)
    assert any(not r.passed for r in results), f"no rule test fails when {rule_id} is {mode}ped"


def test_a_case_fails_when_its_expectation_is_wrong(tmp_path):
    # The runner itself can fail: flip one expectation and it must report it.
    src = (rules_dir() / "tests" / "skyddat_boende.yaml").read_text(encoding="utf-8")
    (tmp_path / "case.yaml").write_text(src.replace("excluded: {U-SKB-UTAN: [ELIG-PERMIT-MISSING]}",
                                                    "excluded: {U-SKB-UTAN: []}"), encoding="utf-8")
    results = run_rule_tests(rules_dir(), ruleset=RULESET, cases=load_cases(tmp_path))
    failed = [r for r in results if not r.passed]
    assert len(failed) == 1
    assert [str(f) for f in failed[0].failures] == ["U-SKB-UTAN: excluded by ELIG-PERMIT-MISSING, expected none"]

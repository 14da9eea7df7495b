"""Every rule test case in rules/tests/*.yaml, collected as one pytest test each."""

from __future__ import annotations

import pytest

from placering.paths import rules_dir
from placering.rules.ruleset import load_ruleset
from placering.rules.testing import load_cases, run_case

CASES = load_cases(rules_dir() / "tests")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_case(case):
    result = run_case(case, load_ruleset())
    assert result.passed, f"{case.file}:{case.line}: " + "; ".join(str(f) for f in result.failures)

"""`placering rules lint`: every problem of every kind in a rules directory, in one run.

The rule files, the parameters and the rule test cases are all read and checked even when some
of them have errors: a YAML error in one file, a type error in a rule and an unknown rule id in
a test case are reported together, each with its file and line (issue 19)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem, ValidationError
from .loader import collect_directory, declared_rule_ids, rules_directory
from .ruleset import RuleSet, load_ruleset
from .testing import collect_cases, unknown_rule_ids


@dataclass
class LintResult:
    directory: Path
    problems: list[Problem] = field(default_factory=list)
    ruleset: RuleSet | None = None
    test_cases: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def lint_directory(directory: Path) -> LintResult:
    """Check the rules directory, its parameters and its rule tests; never stops at the first
    problem. A directory that cannot be read at all raises ValidationError."""
    base = rules_directory(Path(directory))
    result = LintResult(Path(directory))
    rules, policies, _params, docs, problems = collect_directory(base)
    result.problems.extend(problems)
    known = declared_rule_ids(docs) | {r.id for r in (*rules, *policies)}
    if (base / "tests").is_dir():
        cases, case_problems = collect_cases(base / "tests")
        result.problems.extend(case_problems)
        result.problems.extend(unknown_rule_ids(cases, known))
        result.test_cases = len(cases)
    if not result.problems:
        try:
            result.ruleset = load_ruleset(base)
        except ValidationError as exc:  # not expected after a clean collect; reported all the same
            result.problems.extend(exc.problems)
    result.problems.sort(key=lambda p: (str(p.file or ""), p.line or 0))
    return result

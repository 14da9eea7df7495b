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


class _NotClean(Exception):
    """A lint with problems: reported, never kept in the cache (diskcache: a successful build only)."""

    def __init__(self, result: LintResult):
        self.result = result


def lint_directory(directory: Path) -> LintResult:
    """Check the rules directory, its parameters and its rule tests; never stops at the first
    problem. A directory that cannot be read at all raises ValidationError.

    A clean lint is kept in the per-user cache (diskcache.py) under the bytes of every file it
    read (rule files, parameters, rule tests, the taxonomy they are checked against) and
    placering's code, so linting unchanged files again parses no YAML (ruamel's parse of the
    test cases was most of a `rules lint`); a lint with problems is done again every time and
    reports them with file and line."""
    base = rules_directory(Path(directory))
    from ..diskcache import cached
    from ..paths import registry_dir
    from .loader import parameter_files, rule_files

    tests = sorted((base / "tests").glob("*.yaml")) if (base / "tests").is_dir() else []
    files = [*parameter_files(base), *rule_files(base), *tests,
             registry_dir() / "taxonomy.yaml", registry_dir() / "municipalities.yaml"]
    try:
        clean = cached("lint", files, lambda: _clean(_lint(base, Path(directory))),
                       extra="\0".join([str(base), str((base / "tests").is_dir()), *map(str, files)]))
    except _NotClean as not_clean:
        return not_clean.result
    return LintResult(Path(directory), [], load_ruleset(base), clean["test_cases"])


def _clean(result: LintResult) -> dict:
    if result.problems:
        raise _NotClean(result)
    return {"test_cases": result.test_cases}


def _lint(base: Path, directory: Path) -> LintResult:
    result = LintResult(directory)
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

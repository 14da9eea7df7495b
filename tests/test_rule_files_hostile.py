"""Rule authors' mistakes and hostile rule files, through the CLI (issue 11 item 8, issue 13 item 5).

Each is a finding that once passed lint, crashed with a traceback, exhausted memory or hung:
an outcome code or status outside the vocabulary, an impossible date, a parameter file of
nested YAML aliases, nesting without end, and a regular expression with catastrophic
backtracking. Now: a lint error naming file, rule and line; every command that loads the rules
says the same; patterns run in linear time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from placering.cli import cli
from placering.demo import generate_register
from placering.paths import rules_dir


def cli_run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env={"COLUMNS": "250"})


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    return d


def edit(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace the first `count` occurrences of `old`; returns the 1-based line of the first."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    line = text[:text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return line


def assert_clean_error(r, *needles: str) -> None:
    out = r.output
    assert r.exit_code == 2, out
    assert "Traceback" not in out and "Fel: " in out
    for n in needles:
        assert n in out, out


# --- the vocabulary -------------------------------------------------------------------------


def test_exclusion_code_outside_the_vocabulary_fails_lint_and_rule_tests(rules_copy):
    line = edit(rules_copy / "eligibility.yaml", "exclude: AGE\n", "exclude: AGES\n")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, f"eligibility.yaml:{line}", "regel ELIG-AGE", "okänd uteslutningskod 'AGES'")
    doc = json.loads(cli_run("rules", "lint", "--rules", str(rules_copy), "--json").output)
    [p] = doc["problems"]
    assert (p["line"], p["record"], p["field"]) == (line, "rule ELIG-AGE", "outcome")
    # The rule tests load the same rules, so they cannot pass with the typo either.
    t = cli_run("rules", "test", "--rules", str(rules_copy))
    assert t.exit_code != 0 and "AGES" in t.output and "Traceback" not in t.output


def test_flag_and_status_outside_the_vocabulary_fail_lint(rules_copy):
    flag_line = edit(rules_copy / "review.yaml", "flag: WATCH_LISTED", "flag: WATCHLISTED")
    status_line = edit(rules_copy / "review.yaml", "eq: [unit.status, watch]", "eq: [unit.status, wacth]")
    edit(rules_copy / "register_status.yaml", "unit_status: unpublished", "unit_status: unpublish")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, f"review.yaml:{flag_line}", "okänd flaggkod 'WATCHLISTED'",
                       f"review.yaml:{status_line}", "okänd enhetsstatus 'wacth' jämförd med unit.status",
                       "okänd enhetsstatus 'unpublish'")


def test_codes_in_lists_are_checked_too(rules_copy):
    # `in: [route.route, [...]]` style literals and list comparisons name codes of their field.
    edit(rules_copy / "review.yaml", "eq: [route.route, direktupphandling]", "in: [route.route, [direkt, iop]]")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, "okänd regiform 'direkt' jämförd med route.route")


def test_the_shipped_rules_use_only_known_codes():
    r = cli_run("rules", "lint")
    assert r.exit_code == 0 and r.output.startswith("OK:")


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad,why", [("2020-13-01", "månaden ska vara 1–12"),
                                     ("2020-02-30", "dagen finns inte i månaden")])
def test_an_impossible_date_is_a_lint_error_not_a_traceback(rules_copy, bad, why):
    line = edit(rules_copy / "eligibility.yaml", "valid_from: 2020-01-01", f"valid_from: {bad}")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, f"eligibility.yaml:{line}", "regel ELIG-STATUS", f"ogiltigt datum {bad}: {why}")
    # Every command that loads the rules says the same, with no traceback.
    for args in (["rules", "list"], ["rules", "version"], ["rules", "test"], ["rules", "params"]):
        r = cli_run(*args, "--rules", str(rules_copy))
        assert r.exit_code == 2 and f"ogiltigt datum {bad}" in r.output and "Traceback" not in r.output, args


def test_an_impossible_date_in_a_parameter_file(rules_copy):
    path = next((rules_copy / "parameters").glob("*.yaml"))
    line = edit(path, "valid_from: 20", "valid_from: 2021-04-31\n        # was: 20")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, f"{path.name}:{line}", "ogiltigt datum 2021-04-31")


def test_match_with_an_impossible_date_in_the_rules_is_refused_cleanly(run, rules_copy, tmp_path):
    edit(rules_copy / "review.yaml", "valid_from: 2020-01-01", "valid_from: 2020-02-30")
    r = run("match", "examples/request-hvb.json", "--rules", str(rules_copy), "--by", "h")
    assert r.exit_code == 2 and "ogiltigt datum 2020-02-30" in r.output and "Traceback" not in r.output


# --- YAML bombs -----------------------------------------------------------------------------


def _alias_bomb(levels: int = 9) -> str:
    """A 'billion laughs' parameter file: 9 lists of 9 aliases of the level below (9**9 leaves)."""
    lines = ["parameters:", "  bomb:", "    description: laughs", "    unit: x", "    values:",
             "      - valid_from: 2020-01-01", "        source: {document: x, section: y}",
             "        value:", "          l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha]"]
    for i in range(1, levels):
        lines.append(f"          l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_nested_yaml_aliases_are_refused_before_they_expand(rules_copy):
    bomb = _alias_bomb()
    assert len(bomb.encode()) < 1200  # the finding: about a kilobyte exhausted memory
    (rules_copy / "parameters" / "bomb.yaml").write_text(bomb, encoding="utf-8")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, "bomb.yaml:9", "YAML-ankare (&namn) och alias (*namn) är inte tillåtna")


def test_an_alias_in_a_rule_file_is_refused_too(rules_copy):
    edit(rules_copy / "review.yaml", "source:\n      document: \"Socialnämnden Nordost", "source: &src\n      document: \"Socialnämnden Nordost")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, "review.yaml", "ankare (&namn) och alias (*namn) är inte tillåtna")


def test_deep_nesting_is_bounded(rules_copy):
    depth = 500  # the finding used 100,000 brackets; anything past the limit is refused the same way
    (rules_copy / "parameters" / "deep.yaml").write_text(
        "parameters:\n  deep:\n    description: x\n    unit: x\n    values:\n      - valid_from: 2020-01-01\n"
        "        source: {document: x, section: y}\n        value: " + "[" * depth + "]" * depth + "\n",
        encoding="utf-8")
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, "deep.yaml:8", "nästlad mer än")


# --- regular expressions --------------------------------------------------------------------

CATASTROPHIC = """
  - id: REVIEW-REQUESTER-PATTERN
    title: "Förvaltningen matchar ett mönster"
    description: "A test rule whose pattern backtracks exponentially in a backtracking engine."
    source: {document: "test", section: "catastrophic backtracking"}
    valid_from: 2020-01-01
    scope: request
    when:
      matches: [request.requester, "(a|a)*b"]
    outcome:
      flag: WATCH_LISTED
      message: "Förvaltningen {request.requester} matchar"
"""


# Runs the three evaluators' `match` in one child interpreter (start-up is seconds on a busy
# machine), so the timeout can stop a backtracking engine.
_CHILD = """
import json, sys
from click.testing import CliRunner
from placering.cli import cli
db, rules, path = sys.argv[1:4]
out = {}
for engine in ("reference", "vectorized", "durable"):
    r = CliRunner().invoke(cli, ["--db", db, "match", path, "--json", "--engine", engine, "--rules", rules,
                                 "--by", "h"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    # Request-level flags (no unit): the test rule's WATCH_LISTED has no unit.
    out[engine] = {d["request_id"]: [f["code"] for f in d["flags"] if not f.get("unit_id")]
                   for d in json.loads(r.output)}
print(json.dumps(out))
"""


def test_a_catastrophic_pattern_runs_in_linear_time(db_url, tmp_path, rules_copy):
    with (rules_copy / "review.yaml").open("a", encoding="utf-8") as f:
        f.write(CATASTROPHIC)
    assert cli_run("rules", "lint", "--rules", str(rules_copy)).exit_code == 0
    reg = tmp_path / "register.json"
    reg.write_text(json.dumps(generate_register(30, seed=5)), encoding="utf-8")
    assert cli_run("--db", db_url, "register", "import", str(reg), "--by", "test").exit_code == 0
    request = json.loads(Path("examples/request-hvb.json").read_text(encoding="utf-8"))
    lines = [json.dumps({**request, "request_id": f"R-RX-{name}", "requester": requester})
             for name, requester in (("slow", "a" * 60 + "c"), ("hit", "aaab"))]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # A backtracking engine would take ~2**60 steps on the slow requester: the timeout fails it.
    p = subprocess.run([sys.executable, "-c", _CHILD, db_url, str(rules_copy), str(path)],
                       capture_output=True, text=True, timeout=240, env={**os.environ, "COLUMNS": "200"})
    assert p.returncode == 0, p.stderr
    for engine, flagged in json.loads(p.stdout).items():
        assert "WATCH_LISTED" not in flagged["R-RX-slow"], engine
        assert "WATCH_LISTED" in flagged["R-RX-hit"], engine


def test_patterns_outside_the_subset_are_refused(rules_copy):
    with (rules_copy / "review.yaml").open("a", encoding="utf-8") as f:
        f.write(CATASTROPHIC.replace('"(a|a)*b"', '"(a+)+\\\\1"'))
    r = cli_run("rules", "lint", "--rules", str(rules_copy))
    assert_clean_error(r, "regel REVIEW-REQUESTER-PATTERN", "mönster som inte stöds")

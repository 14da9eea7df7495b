"""Strict loading of rule files: every error names the file, the rule id and the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from placering.errors import ValidationError
from placering.rules.loader import check_pattern
from placering.rules.ruleset import load_ruleset

PARAMS = """\
parameters:
  factor:
    description: "A factor"
    values:
      - {valid_from: 2020-01-01, valid_to: null, value: 1.25, source: {document: "Doc", section: "1"}}
"""

GOOD_RULE = """\
  - id: ELIG-AGE
    title: "Åldern ryms"
    description: "D"
    source: {document: "Doc", section: "2"}
    valid_from: 2020-01-01
    when: {lt: [request.person.age, unit.age_min]}
    outcome: {exclude: AGE, message: "m"}
"""


def make_dir(tmp_path: Path, rules: str, *, params: str = PARAMS, stage: str = "eligibility") -> Path:
    d = tmp_path / "rules"
    (d / "parameters").mkdir(parents=True)
    (d / "parameters" / "p.yaml").write_text(params, encoding="utf-8")
    (d / "r.yaml").write_text(f"stage: {stage}\nrules:\n" + textwrap.dedent(rules), encoding="utf-8")
    return d


def problems(tmp_path: Path, rules: str, **kw) -> list[str]:
    d = make_dir(tmp_path, rules, **kw)
    with pytest.raises(ValidationError) as exc:
        load_ruleset(d)
    return [str(p).replace(str(d) + "/", "") for p in exc.value.problems]


def rule(when: str, *, extra: str = "", outcome: str = '{exclude: AGE, message: "m"}', rid: str = "ELIG-X",
         valid: str = "valid_from: 2020-01-01") -> str:
    return f"""\
  - id: {rid}
    title: "T"
    description: "D"
    source: {{document: "Doc", section: "2"}}
    {valid}
{extra}    when: {when}
    outcome: {outcome}
"""


def test_a_valid_directory_loads(tmp_path):
    rs = load_ruleset(make_dir(tmp_path, GOOD_RULE))
    assert [r.id for r in rs.rules] == ["ELIG-AGE"]
    assert len(rs.version) == 16


def test_duplicate_key(tmp_path):
    text = GOOD_RULE.replace('    title: "Åldern ryms"\n', '    title: "Åldern ryms"\n    title: "igen"\n')
    assert problems(tmp_path, text) == ["r.yaml:5, rule ELIG-AGE: duplicate key: title"]


def test_unknown_key(tmp_path):
    assert problems(tmp_path, rule("{eq: [unit.status, published]}", extra="    colour: red\n")) == [
        "r.yaml:8, rule ELIG-X, field 'colour': unknown key 'colour' (allowed: id, title, description, stage, "
        "scope, event, source, valid_from, valid_to, applies_when, when, outcome)"]


def test_unknown_operator(tmp_path):
    assert problems(tmp_path, rule("{equals: [unit.status, published]}")) == [
        "r.yaml:8, rule ELIG-X: unknown operator 'equals' (known: all, any, not, eq, ne, lt, le, gt, ge, in, "
        "subset, overlaps, exists, missing, matches)"]


def test_unknown_field_path(tmp_path):
    [p] = problems(tmp_path, rule("{eq: [unit.colour, red]}"))
    assert p.startswith("r.yaml:8, rule ELIG-X: unknown field path 'unit.colour' (fields of unit: unit.unit_id,")


def test_field_outside_scope(tmp_path):
    [p] = problems(tmp_path, rule("{eq: [check.kind, media]}"))
    assert p.startswith("r.yaml:8, rule ELIG-X: field 'check.kind' is not available to a candidate rule")


def test_date_compared_with_number(tmp_path):
    assert problems(tmp_path, rule("{lt: [request.start_on, 5]}")) == [
        "r.yaml:8, rule ELIG-X: type mismatch: 'lt' compares date (\"request.start_on\") with whole number (5)"]


def test_ordering_on_text_is_refused(tmp_path):
    assert problems(tmp_path, rule("{gt: [unit.status, published]}")) == [
        "r.yaml:8, rule ELIG-X: 'gt' orders numbers and dates only, not text (\"unit.status\")"]


def test_in_needs_a_list(tmp_path):
    assert problems(tmp_path, rule("{in: [unit.status, published]}")) == [
        "r.yaml:8, rule ELIG-X: type mismatch: 'in' needs a list as its second operand, got text (\"published\")"]


def test_arithmetic_needs_numbers(tmp_path):
    assert problems(tmp_path, rule("{gt: [route.daily_price, {mul: [unit.status, 2]}]}")) == [
        "r.yaml:8, rule ELIG-X: type mismatch: 'mul' needs numbers, got text (\"unit.status\")"]


def test_invalid_pattern(tmp_path):
    assert problems(tmp_path, rule('{matches: [unit.unit_id, "U-(1"]}')) == [
        "r.yaml:8, rule ELIG-X: unsupported pattern 'U-(1': unbalanced '(' (missing ')')"]


def test_unsupported_pattern(tmp_path):
    assert problems(tmp_path, rule('{matches: [unit.unit_id, "U-\\\\d+"]}')) == [
        "r.yaml:8, rule ELIG-X: unsupported pattern 'U-\\d+': backslash escape at position 3 is not supported "
        "(durable-rules reads escapes differently): put the character in a class, e.g. [-] or [+]"]


@pytest.mark.parametrize("pattern,ok", [
    ("U-[0-9]+", True), ("(akut|planerad)", True), ("Molndal[a-z]*", True), ("(a|a)*b", True),
    # what durable-rules reads differently: '.', escapes, non-ASCII
    ("Mölndal", False), ("a.*", False), ("a\\.b", False), ("a[-]b", True),
    ("^U", False), ("U{2}", False), ("[^a]", False), ("(?i)u", False), ("*a", False), ("a)", False),
    ("[a-", False), ("", False),
])
def test_pattern_subset(pattern, ok):
    assert (check_pattern(pattern) is None) is ok


def test_missing_parameter(tmp_path):
    assert problems(tmp_path, rule("{gt: [route.daily_price, {param: price_cap}]}")) == [
        "r.yaml:8, rule ELIG-X: reference to missing parameter 'price_cap'"]


def test_missing_source_and_valid_from(tmp_path):
    text = """\
  - id: ELIG-X
    title: "T"
    description: "D"
    when: {eq: [unit.status, published]}
    outcome: {exclude: STATUS, message: "m"}
"""
    assert problems(tmp_path, text) == [
        "r.yaml:3, rule ELIG-X, field 'source': missing source (document and section, or law)",
        "r.yaml:3, rule ELIG-X, field 'valid_from': missing or invalid valid_from (YYYY-MM-DD)",
    ]


def test_duplicate_rule_id_across_files(tmp_path):
    d = make_dir(tmp_path, GOOD_RULE)
    (d / "other.yaml").write_text("stage: eligibility\nrules:\n" + GOOD_RULE, encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        load_ruleset(d)
    [p] = [str(p).replace(str(d) + "/", "") for p in exc.value.problems]
    assert p == ("r.yaml:3, rule ELIG-AGE, field 'id': duplicate rule id ELIG-AGE (also "
                 "other.yaml:3); versions of one rule belong in one file")


def test_overlapping_versions(tmp_path):
    text = rule("{eq: [unit.status, removed]}", valid="valid_from: 2020-01-01\n    valid_to: 2024-06-30") + \
        rule("{eq: [unit.status, removed]}", valid="valid_from: 2024-06-01")
    assert problems(tmp_path, text) == [
        "r.yaml:11, rule ELIG-X, field 'valid_from': overlapping validity: 2020-01-01–2024-06-30 (line 3) and "
        "2024-06-01–open (line 11) of rule ELIG-X"]


def test_consecutive_versions_are_fine_and_dated(tmp_path):
    from datetime import date

    text = rule("{eq: [unit.status, removed]}", valid="valid_from: 2020-01-01\n    valid_to: 2024-03-31") + \
        rule("{eq: [unit.status, watch]}", valid="valid_from: 2024-04-01")
    rs = load_ruleset(make_dir(tmp_path, text))
    assert [r.line for r in rs.rules_for("eligibility", date(2024, 3, 31))] == [3]
    assert [r.line for r in rs.rules_for("eligibility", date(2024, 4, 1))] == [11]


def test_outcome_not_allowed_in_stage(tmp_path):
    assert problems(tmp_path, rule("{eq: [unit.status, watch]}", outcome='{flag: WATCH, message: "m"}')) == [
        "r.yaml:9, rule ELIG-X, field 'outcome': a eligibility rule cannot have outcome 'flag' (allowed: exclude)"]


def test_message_placeholder_must_be_a_field(tmp_path):
    assert problems(tmp_path, rule("{eq: [unit.status, watch]}",
                                   outcome='{exclude: STATUS, message: "status {unit.colour}"}')) == [
        "r.yaml:9, rule ELIG-X, field 'outcome.message': message refers to unknown field path 'unit.colour'"]


def test_every_problem_is_collected(tmp_path):
    text = rule("{lt: [request.start_on, 5]}", rid="ELIG-A") + rule("{nope: 1}", rid="ELIG-B")
    got = problems(tmp_path, text)
    assert len(got) == 2 and "ELIG-A" in got[0] and "ELIG-B" in got[1]


def test_parameter_problems(tmp_path):
    params = """\
parameters:
  factor:
    description: "A factor"
    values:
      - {valid_from: 2020-01-01, valid_to: null, value: 1.25, source: {document: "Doc"}}
      - {valid_from: 2023-01-01, valid_to: null, value: 1.5}
"""
    got = problems(tmp_path, GOOD_RULE, params=params)
    assert got == [
        "parameters/p.yaml:6, parameter factor, field 'source': missing source (document and section, or law)"]


def test_overlapping_parameter_values(tmp_path):
    params = """\
parameters:
  factor:
    description: "A factor"
    values:
      - {valid_from: 2020-01-01, valid_to: null, value: 1.25, source: {document: "Doc"}}
      - {valid_from: 2023-01-01, valid_to: null, value: 1.5, source: {document: "Doc"}}
"""
    assert problems(tmp_path, GOOD_RULE, params=params) == [
        "parameters/p.yaml:5, parameter factor, field 'values': validity 2020-01-01–open overlaps "
        "2023-01-01–open (line 6)"]


def test_ranking_policy_is_validated(tmp_path):
    text = """\
  - id: RANK-X
    title: "T"
    description: "D"
    source: {document: "Doc"}
    valid_from: 2020-01-01
    route_order: [egen_regi, ramavtal, helicopter]
    last_resort: [direktupphandling]
    sort_keys: [{key: shoe_size, order: asc}]
    recommendations: 0
    colour: red
"""
    got = problems(tmp_path, text, stage="ranking")
    assert got == [
        "r.yaml:12, rule RANK-X, field 'colour': unknown key 'colour' (allowed: id, title, description, source, "
        "valid_from, valid_to, route_order, last_resort, sort_keys, recommendations)",
        "r.yaml:8, rule RANK-X, field 'route_order': route_order must list distinct routes from egen_regi, "
        "ramavtal, iop, direktupphandling",
        "r.yaml:9, rule RANK-X, field 'last_resort': last_resort must list routes that are in route_order",
        "r.yaml:10, rule RANK-X, field 'sort_keys': sort key must be {key: one of needs_fit, daily_price, "
        "distance_km, unit_id, org_nr, free_places, agreement_id, order: asc|desc}, got {\"key\": \"shoe_size\", \"order\": \"asc\"}",
        "r.yaml:11, rule RANK-X, field 'recommendations': recommendations must be a positive whole number, got 0",
    ]


def test_the_project_rules_load_and_policy_is_exposed():
    from datetime import date

    rs = load_ruleset()
    pol = rs.policy("ranking", date(2024, 9, 1))
    assert pol.route_order == ("egen_regi", "ramavtal", "iop", "direktupphandling")
    assert pol.last_resort == ("direktupphandling",)
    assert [k.key for k in pol.sort_keys] == ["needs_fit", "daily_price", "distance_km", "unit_id"]
    assert pol.recommendations == 3
    for r in rs.rules:
        assert str(r.source) and r.valid_from and r.title


def test_version_ignores_layout_but_not_content(tmp_path):
    d1 = make_dir(tmp_path / "a", GOOD_RULE)
    d2 = make_dir(tmp_path / "b", "# a comment\n" + GOOD_RULE.replace("{lt: [", "{lt:  ["))
    d3 = make_dir(tmp_path / "c", GOOD_RULE.replace("unit.age_min", "unit.age_max"))
    v1, v2, v3 = (load_ruleset(d).version for d in (d1, d2, d3))
    assert v1 == v2 != v3

"""`placering rules list | show | lint | test | version | params` (no database needed)."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from placering.cli import cli
from placering.paths import rules_dir
from placering.rules.ruleset import load_ruleset


def rules(*args: str):
    return CliRunner().invoke(cli, ["rules", *args], catch_exceptions=False, env={"COLUMNS": "250"})


def test_every_rules_command_has_help():
    for cmd in ("list", "show", "lint", "test", "version", "params"):
        r = rules(cmd, "--help")
        assert r.exit_code == 0 and "Användning:" in r.output


def test_list_json_is_one_document_with_every_rule():
    r = rules("list", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.output)
    ids = {x["id"] for x in doc["rules"]}
    assert {"ELIG-PERMIT-MISSING", "REVIEW-PRICE-ABOVE-REFERENCE", "STATUS-PERMIT-LOST", "RANK-PRIORITY-ORDER"} <= ids
    assert doc["rules_version"] == load_ruleset().version
    assert all(x["source"] and x["valid_from"] for x in doc["rules"])


def test_list_filters_by_stage_and_date():
    doc = json.loads(rules("list", "--stage", "register_status", "--json").output)
    assert {x["stage"] for x in doc["rules"]} == {"register_status"}
    assert json.loads(rules("list", "--on", "2019-12-31", "--json").output)["rules"] == []
    r = rules("list", "--on", "31/12/2019")
    assert r.exit_code == 2 and "--on: '31/12/2019' är inte ett datum" in r.output


def test_list_table_for_people():
    r = rules("list", "--stage", "eligibility")
    assert r.exit_code == 0 and "ELIG-AGE" in r.output and "Åldern ryms" in r.output


def test_show_gives_versions_source_and_dated_parameters():
    doc = json.loads(rules("show", "ELIG-PERMIT-MISSING", "--json").output)
    [v] = doc["versions"]
    assert v["when"] == "permit.exists = false"
    assert v["applies_when"] == "request.insats in param:permit_required_insatser"
    assert v["outcome"]["exclude"] == "PERMIT" and "SoL" in v["source"]
    [p] = doc["parameters"]
    assert p["name"] == "permit_required_insatser"
    assert [(x["valid_from"], x["value"]) for x in p["values"]] == [
        ("2000-01-01", ["hvb_barn_unga", "stodboende", "behandling_vuxen"]),
        ("2024-04-01", ["hvb_barn_unga", "stodboende", "behandling_vuxen", "skyddat_boende"])]
    assert {"file": "skyddat_boende.yaml", "line": 38,
            "name": "2024-04-01: skyddat boende utan tillstånd utesluts (PERMIT)"} in doc["tested_by"]
    text = rules("show", "STATUS-PERMIT-LOST").output
    # what the rule does in words: the status and removal reason it sets (issue 19: not 'transition {…removal_reason…}')
    assert "sätter Borttagen, IVO" in text and "removal_reason" not in text and "händelse tillstånd" in text


def test_show_reads_the_rule_tests_again_when_a_case_file_changes(tmp_path):
    """`rules show` keeps its index of the rule tests in the per-user cache: a changed or
    removed case file is read again, and a case file with a problem is still reported."""
    copy = tmp_path / "rules"
    shutil.copytree(rules_dir(), copy)

    def files() -> set[str]:
        return {t["file"] for t in json.loads(rules("show", "ELIG-PERMIT-MISSING", "--rules", str(copy), "--json").output)["tested_by"]}

    assert "skyddat_boende.yaml" in files()
    (copy / "tests" / "skyddat_boende.yaml").unlink()
    assert "skyddat_boende.yaml" not in files() and files()
    (copy / "tests" / "broken.yaml").write_text("cases: [\n", encoding="utf-8")
    broken = CliRunner().invoke(cli, ["rules", "show", "ELIG-PERMIT-MISSING", "--rules", str(copy)])
    assert broken.exit_code != 0 and "broken.yaml" in broken.output


def test_show_unknown_rule():
    r = rules("show", "ELIG-NOPE")
    assert r.exit_code == 3 and "ingen regel 'ELIG-NOPE'" in r.output


def test_lint_ok_summary():
    r = rules("lint")
    assert r.exit_code == 0
    assert r.output.startswith("OK: ") and load_ruleset().version in r.output
    doc = json.loads(rules("lint", "--json").output)
    assert doc["ok"] and doc["test_cases"] > 30


def test_lint_lists_every_problem_and_fails(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    p = d / "eligibility.yaml"
    text = p.read_text(encoding="utf-8")
    text = text.replace("lt: [unit.free_places, request.places]", "lt: [unit.free_places, request.start_on]")
    text = text.replace("in: [unit.unit_id, request.declined_units]", "inside: [unit.unit_id, request.declined_units]")
    p.write_text(text, encoding="utf-8")
    r = rules("lint", "--rules", str(d))
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert lines[0] == f"Fel: 2 fel i {d}:"
    assert any(line.startswith(f"{p}:") and "regel ELIG-CAPACITY: typerna stämmer inte: 'lt' jämför heltal "
               '("unit.free_places") med datum ("request.start_on")' in line for line in lines)
    assert any("regel ELIG-DECLINED: okänd operator 'inside'" in line for line in lines)
    doc = json.loads(rules("lint", "--rules", str(d), "--json").output)
    assert not doc["ok"] and len(doc["problems"]) == 2 and all(x["line"] for x in doc["problems"])


def test_lint_checks_the_test_cases_too(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    (d / "tests" / "bad.yaml").write_text("cases:\n  - name: x\n    request: {}\n    expect: {eligble: [U-1]}\n",
                                          encoding="utf-8")
    r = rules("lint", "--rules", str(d))
    assert r.exit_code == 2 and "bad.yaml:4, fall 'x', fält 'eligble': okänd förväntan 'eligble'" in r.output


def test_a_clean_lint_kept_in_the_cache_never_hides_a_later_problem(tmp_path, monkeypatch):
    """A clean lint is kept in the per-user cache (rules/lint.py): linting the same files again
    says the same, and any change afterwards (a case file broken, a file added) is linted again."""
    monkeypatch.setenv("PLACERING_CACHE_DIR", str(tmp_path / "cache"))
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    first = rules("lint", "--rules", str(d), "--json").output
    assert json.loads(first)["ok"] and any((tmp_path / "cache").glob("lint-*"))
    again = rules("lint", "--rules", str(d))
    assert again.exit_code == 0 and again.output == rules("lint", "--rules", str(d)).output
    assert rules("lint", "--rules", str(d), "--json").output == first
    case_file = d / "tests" / "permits.yaml"
    case_file.write_text(case_file.read_text(encoding="utf-8").replace("expect:", "expekt:", 1), encoding="utf-8")
    r = rules("lint", "--rules", str(d))
    assert r.exit_code == 2 and f"{case_file}:" in r.output
    case_file.unlink()
    (d / "tests" / "extra.yaml").write_text("cases:\n  - name: x\n    request: {}\n    expect: {eligble: [U-1]}\n",
                                            encoding="utf-8")
    r = rules("lint", "--rules", str(d))
    assert r.exit_code == 2 and "okänd förväntan 'eligble'" in r.output


def test_test_runs_the_cases():
    r = rules("test")
    assert r.exit_code == 0
    assert "skyddat_boende: 2024-04-01: skyddat boende utan tillstånd utesluts (PERMIT)" in r.output
    assert r.output.strip().endswith("0 underkända")
    doc = json.loads(rules("test", "--json").output)
    assert doc["failed"] == 0 and doc["passed"] == len(doc["cases"])


def test_test_fails_when_a_rule_changes(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    p = d / "parameters" / "permits.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("valid_from: 2024-04-01", "valid_from: 2024-04-02")
                 .replace("valid_to: 2024-03-31", "valid_to: 2024-04-01"), encoding="utf-8")
    r = rules("test", "--rules", str(d))
    assert r.exit_code == 1
    assert "FEL  skyddat_boende: 2024-04-01: skyddat boende utan tillstånd utesluts (PERMIT)" in r.output
    assert "expected eligible" not in r.output or "U-SKB" in r.output


@pytest.mark.parametrize("args", [("version",), ("version", "--json")])
def test_version(args):
    r = rules(*args)
    assert r.exit_code == 0 and load_ruleset().version in r.output


def test_params_on_a_date():
    doc = json.loads(rules("params", "--on", "2024-04-01", "--json").output)
    by_name = {p["name"]: p for p in doc["parameters"]}
    assert by_name["permit_required_insatser"]["value"] == ["hvb_barn_unga", "stodboende", "behandling_vuxen", "skyddat_boende"]
    assert by_name["credit_rating_notification_level"]["value"] == 40
    assert "LOU" in by_name["direct_procurement_threshold_sek"]["source"]


def test_bench_rules_prints_its_figures():
    r = CliRunner().invoke(cli, ["bench", "rules", "--units", "60", "--requests", "5", "--event-units", "30",
                                 "--events", "8", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["rule_tests"]["failed"] == 0
    assert doc["reference_evaluate"]["n"] == 5 and doc["reference_evaluate"]["median_ms"] > 0
    assert set(doc["register_event"]["per_kind"]) == {"check", "permit", "complaint"}


def test_test_without_cases_is_an_error(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d, ignore=shutil.ignore_patterns("tests"))
    r = rules("test", "--rules", str(d))
    assert r.exit_code == 1 and f"inga regeltestfall i {d / 'tests'}" in r.output


def test_show_ranking_policy():
    doc = json.loads(rules("show", "RANK-PRIORITY-ORDER", "--json").output)
    [v] = doc["versions"]
    assert v["route_order"] == ["egen_regi", "ramavtal", "iop", "direktupphandling"]
    assert v["last_resort"] == ["direktupphandling"] and v["recommendations"] == 3
    assert v["sort_keys"][0] == {"key": "needs_fit", "order": "desc"}
    text = rules("show", "RANK-PRIORITY-ORDER").output
    assert "regiformsordning: egen_regi, ramavtal, iop, direktupphandling (sista utväg: direktupphandling)" in text


def test_lint_finds_unknown_rule_ids_in_cases(tmp_path):
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    p = d / "tests" / "skyddat_boende.yaml"
    p.write_text(p.read_text(encoding="utf-8").replace("U-SKB-UTAN: [ELIG-PERMIT-MISSING]}",
                                                       "U-SKB-UTAN: [ELIG-PERMIT-MISING]}"), encoding="utf-8")
    r = rules("lint", "--rules", str(d))
    assert r.exit_code == 2
    assert (f"{p}:38, fall '2024-04-01: skyddat boende utan tillstånd utesluts (PERMIT)', fält 'expect': "
            "okänt regel-id ELIG-PERMIT-MISING i förväntningarna") in r.output

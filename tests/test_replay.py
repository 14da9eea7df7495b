"""`placering request replay --rules DIR`: what a rule change does, and nothing else.

Both rule sets decide every stored request on the same register state, so a register change
since the requests were decided shows as no difference, an unchanged copy of the rules shows
none, and a rule that excludes one unit shows exactly the requests that unit was recommended
in, attributed to that rule, with ranks before and after.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections import Counter

import pytest

from placering.demo import generate_register, generate_requests
from placering.paths import rules_dir

NEW_RULE = """
  - id: ELIG-TEST-ONE-UNIT
    title: "Enheten tas inte emot i prövningen"
    description: "A candidate rule for the test: one unit is left out."
    source: {{document: "test", section: "replay"}}
    valid_from: 2020-01-01
    when:
      eq: [unit.unit_id, "{unit}"]
    outcome:
      exclude: STATUS
      message: "Enheten {{unit.unit_id}} är utesluten i kandidatreglerna"
"""


def ok_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def decided(run, tmp_path):
    """A register of 150 units and 60 stored, decided requests; returns their decisions."""
    reg = tmp_path / "register.json"
    reg.write_text(json.dumps(generate_register(150, seed=3)), encoding="utf-8")
    assert run("register", "import", str(reg), "--by", "test").exit_code == 0
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps(r) for r in generate_requests(60, seed=2)) + "\n", encoding="utf-8")
    return ok_json(run("match", str(requests), "--engine", "reference", "--json", "--by", "handläggare"))


@pytest.fixture
def candidate(tmp_path):
    d = tmp_path / "candidate"
    shutil.copytree(rules_dir(), d)
    return d


def replay(run, candidate, *extra):
    return run("request", "replay", "--rules", str(candidate), "--engine", "reference", *extra)


def test_no_rule_change_and_a_register_change_report_nothing(run, decided, candidate):
    # The register changes after the requests were decided: a recommended unit is unpublished.
    unit = next(r["unit_id"] for d in decided for r in d["recommendations"])
    assert run("register", "status", unit, "unpublished", "--note", "paus", "--by", "anna").exit_code == 0
    doc = ok_json(replay(run, candidate, "--json"))
    assert doc["requests"] == 60 and doc["changed"] == 0 and doc["unchanged"] == 60
    assert doc["differences"] == [] and doc["summary"] == []
    assert doc["current"]["rules_version"] == doc["candidate"]["rules_version"]
    table = replay(run, candidate)
    assert table.exit_code == 0 and "Regeländringen ändrar inget beslut." in table.output


def test_a_rule_change_reports_exactly_its_effect(run, decided, candidate):
    recommended = Counter(r["unit_id"] for d in decided for r in d["recommendations"])
    unit, times = recommended.most_common(1)[0]
    # The batch summary lists each decision's recommendations in rank order.
    expected = {d["request_id"]: [r["unit_id"] for r in d["recommendations"]].index(unit) + 1
                for d in decided if any(r["unit_id"] == unit for r in d["recommendations"])}
    assert len(expected) == times >= 2
    with (candidate / "eligibility.yaml").open("a", encoding="utf-8") as f:
        f.write(NEW_RULE.format(unit=unit))

    doc = ok_json(replay(run, candidate, "--json"))
    assert doc["changed"] == len(expected) and doc["unchanged"] == 60 - len(expected)
    assert doc["current"]["rules_version"] != doc["candidate"]["rules_version"]
    left = [d for d in doc["differences"] if d["unit_id"] == unit]
    assert {d["request_id"]: d["old_rank"] for d in left} == expected
    for d in left:
        assert (d["change"], d["new_rank"], d["rules"]) == ("left", None, ["ELIG-TEST-ONE-UNIT"])
        [reason] = d["reasons"]
        assert reason["code"] == "STATUS" and unit in reason["message"] and reason["side"] == "candidate"
    # Everything else moved only because that unit left: ranks shift, the next one comes in.
    others = [d for d in doc["differences"] if d["unit_id"] != unit]
    assert {d["request_id"] for d in others} <= set(expected)
    assert all(d["rules"] == ["(rangordning)"] and d["change"] in ("rank", "entered") for d in others
               if d["change"] in ("rank", "entered", "left"))
    summary = {s["rule"]: s for s in doc["summary"]}
    assert summary["ELIG-TEST-ONE-UNIT"]["requests"] == len(expected)
    assert summary["ELIG-TEST-ONE-UNIT"]["left"] == len(expected)

    rows = list(csv.DictReader(io.StringIO(replay(run, candidate, "--csv").stdout)))
    diff_rows = [r for r in rows if r["section"] == "differences" and r["unit_id"] == unit]
    assert {r["request_id"] for r in diff_rows} == set(expected)
    assert all(r["change"] == "left" and r["rules"] == "ELIG-TEST-ONE-UNIT" and r["codes"] == "STATUS"
               for r in diff_rows)
    table = replay(run, candidate)
    assert table.exit_code == 0 and "ELIG-TEST-ONE-UNIT" in table.output and unit in table.output


def test_replay_needs_a_candidate_and_a_valid_one(run, decided, candidate):
    r = run("request", "replay")
    assert r.exit_code == 2 and "--rules" in r.output
    (candidate / "eligibility.yaml").write_text(
        (candidate / "eligibility.yaml").read_text(encoding="utf-8").replace("exclude: AGE\n", "exclude: AGES\n", 1),
        encoding="utf-8")
    r = replay(run, candidate)
    assert r.exit_code == 2 and "AGES" in r.output and "Traceback" not in r.output

"""Decisions are records: re-submission, declines, the handler's choice, replay, history."""

from __future__ import annotations

import json

from conftest import snapshot
from sqlalchemy import text

from placering.paths import rules_dir

from test_matching_support import (  # noqa: F401 (rules_engine is a fixture)
    load_register,
    match_json,
    ranked,
    request,
    rules_copy,
    rules_engine,
    unit,
    write_request,
)


def _history(engine, entity_id: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT action, actor, unit_id, note FROM history WHERE entity_kind = 'request' AND entity_id = :e "
            "ORDER BY id"), {"e": entity_id})]


def _four_units(run, tmp_path):
    return load_register(
        run, tmp_path,
        unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200), unit("U-4", price=3300),
        unit("U-AGE", age=(16, 20)), unit("U-D", "direktupphandling", 2000),
    )


def test_resubmitting_a_request(run, engine, tmp_path):
    _four_units(run, tmp_path)
    d1 = match_json(run, tmp_path, request(), "reference")
    # The same request again: its stored decision, nothing new (rematch decides it again).
    d2 = match_json(run, tmp_path, request(), "reference")
    assert d2 == d1 and d1["seq"] == 1
    r = run("request", "rematch", "R-1", "--engine", "reference", "--by", "h", "--json")
    assert r.exit_code == 0, r.output
    d3 = json.loads(r.stdout)
    assert d3["seq"] == 2 and ranked(d3) == ranked(d1)
    before = snapshot(engine)
    changed = write_request(tmp_path, request(age=16), name="changed.json")
    r = run("match", str(changed), "--engine", "reference", "--by", "h")
    assert r.exit_code == 2
    assert "är redan inlämnad med annat innehåll" in r.stderr and "person.age" in r.stderr
    assert snapshot(engine) == before
    assert [h[0] for h in _history(engine, "R-1")] == ["matched", "matched"]
    # The excluded list is stored compact, and comes back exactly as decided.
    from sqlmodel import Session, select

    from placering.matching.decisions import full_document, get_request, stored_document
    from placering.storage.models import Decision

    with Session(engine) as session:
        first = session.scalars(select(Decision).order_by(Decision.id)).first()
        assert first.document["excluded"]["encoding"] == "placering-compact/2"
        assert first.document["flags"] == d1["flags"]  # plain JSON, readable by SQL
        assert full_document(session, get_request(session, "R-1"), stored_document(first)) == d1
    shown = json.loads(run("request", "show", "R-1", "--json").stdout)["decisions"][0]
    assert shown["excluded"] == d1["excluded"] and len(d1["excluded"]) == 2


def test_decline_errors_leave_the_database_unchanged(run, engine, tmp_path):
    _four_units(run, tmp_path)
    match_json(run, tmp_path, request(), "reference")
    ok = run("request", "decline", "R-1", "U-1", "--reason", "inget rum", "--by", "h")
    assert ok.exit_code == 0, ok.output
    before = snapshot(engine)
    cases = [
        (("request", "decline", "R-404", "U-1", "--reason", "x", "--by", "h"), 3, "ingen placeringsförfrågan 'R-404'"),
        (("request", "decline", "R-1", "U-404", "--reason", "x", "--by", "h"), 3, "ingen enhet 'U-404'"),
        (("request", "decline", "R-1", "U-1", "--reason", "x", "--by", "h"), 4, "har redan tackat nej"),
        (("request", "decline", "R-1", "U-2", "--reason", "  ", "--by", "h"), 2, "--reason"),
        (("request", "decline", "R-1", "U-2", "--reason", "x"), 2, "--by"),
        (("request", "show", "R-404", "--explain", "U-1"), 3, "ingen placeringsförfrågan 'R-404'"),
    ]
    for args, code, message in cases:
        r = run(*args)
        assert r.exit_code == code, (args, r.output)
        assert message in r.stderr and "Traceback" not in r.output
    assert snapshot(engine) == before
    history = _history(engine, "R-1")
    assert history[-1] == ("declined", "h", "U-1", "inget rum")


def test_choose_a_recommended_unit(run, engine, tmp_path, rules_engine):
    doc = _four_units(run, tmp_path)
    match_json(run, tmp_path, request(), rules_engine)
    r = run("request", "choose", "R-1", "U-2", "--by", "anna", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert p["unit_id"] == "U-2" and p["route"] == "ramavtal" and p["agreement_id"] == "RA-U-2"
    assert p["daily_price"] == 3100 and p["start_on"] == "2024-09-02" and p["recommended"] is True
    assert p["org_nr"] == next(s["org_nr"] for s in doc["suppliers"] if s["units"][0]["unit_id"] == "U-2")
    show = json.loads(run("request", "show", "R-1", "--json").stdout)
    assert show["placement"]["unit_id"] == "U-2"
    human = run("request", "show", "R-1")
    assert "Placering: U-2 via Ramavtal" in human.stdout
    assert _history(engine, "R-1")[-1] == ("chosen", "anna", "U-2", None)
    before = snapshot(engine)
    again = run("request", "choose", "R-1", "U-1", "--by", "anna")
    assert again.exit_code == 4 and "har redan en placering" in again.stderr
    assert snapshot(engine) == before


def test_choose_a_unit_that_was_not_recommended(run, engine, tmp_path):
    _four_units(run, tmp_path)
    match_json(run, tmp_path, request(), "reference")
    run("request", "decline", "R-1", "U-1", "--reason", "nej", "--by", "h")
    before = snapshot(engine)
    refused = [
        (("U-4",), 2, "rekommenderades inte"),  # below the cut: needs a reason
        (("U-D",), 2, "rekommenderades inte"),  # held back (direct procurement): needs a reason
        (("U-AGE", "--reason", "x"), 4, "uteslöts"),
        (("U-1", "--reason", "x"), 4, "tackade nej"),
        (("U-404", "--reason", "x"), 4, "är ingen kandidat"),
    ]
    for args, code, message in refused:
        r = run("request", "choose", "R-1", *args, "--by", "anna")
        assert r.exit_code == code, (args, r.output)
        assert message in r.stderr
    assert snapshot(engine) == before
    r = run("request", "choose", "R-1", "U-4", "--by", "anna", "--reason", "syskon placerade där", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)
    assert p["recommended"] is False and p["reason"] == "syskon placerade där" and p["daily_price"] == 3300
    assert _history(engine, "R-1")[-1] == ("chosen", "anna", "U-4", "syskon placerade där")


def test_choose_before_any_decision(run, tmp_path):
    _four_units(run, tmp_path)
    r = run("request", "choose", "R-9", "U-1", "--by", "anna")
    assert r.exit_code == 3 and "ingen placeringsförfrågan 'R-9'" in r.stderr


def test_replay_lists_differences_after_a_rule_change(run, engine, tmp_path, rules_engine):
    load_register(
        run, tmp_path,
        unit("U-E", "egen_regi", None), unit("U-R1", price=3000), unit("U-R2", price=3500),
        unit("U-OLD", price=2000, age=(15, 15)),
    )
    match_json(run, tmp_path, request("R-1"), rules_engine)
    match_json(run, tmp_path, request("R-2", submitted_on="2024-10-01", start_on="2024-10-02", age=16), rules_engine)
    before = snapshot(engine)
    same = run("request", "replay", "--rules", str(rules_dir()), "--engine", rules_engine, "--json")
    assert same.exit_code == 0, same.output
    result = json.loads(same.stdout)
    assert result["requests"] == 2 and result["differences"] == [] and result["unchanged"] == 2

    # Proposed rules: framework agreements before egen regi, and the price order reversed.
    rules = rules_copy(tmp_path, lambda rel, t: t.replace(
        "route_order: [egen_regi, ramavtal, iop, direktupphandling]",
        "route_order: [ramavtal, egen_regi, iop, direktupphandling]") if rel == "ranking.yaml" else t)
    r = run("request", "replay", "--rules", str(rules), "--engine", rules_engine, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["candidate"]["rules_version"] != result["current"]["rules_version"]
    assert result["changed"] == 2
    r1 = {d["unit_id"]: (d["change"], d["old_rank"], d["new_rank"], d["rules"])
          for d in result["differences"] if d["request_id"] == "R-1"}
    policy = ["RANK-PRIORITY-ORDER"]
    assert r1 == {"U-E": ("left", 1, None, policy), "U-OLD": ("rank", 2, 1, policy),
                  "U-R1": ("rank", 3, 2, policy), "U-R2": ("entered", None, 3, policy)}
    assert [s["rule"] for s in result["summary"]] == policy
    since = json.loads(run("request", "replay", "--rules", str(rules), "--since", "2024-09-15",
                           "--engine", rules_engine, "--json").stdout)
    assert since["requests"] == 1 and {d["request_id"] for d in since["differences"]} == {"R-2"}
    human = run("request", "replay", "--rules", str(rules), "--engine", rules_engine)
    assert "2 ändras, 0 oförändrade" in human.stdout and "RANK-PRIORITY-ORDER" in human.stdout
    assert snapshot(engine) == before  # replay stores nothing


def test_replay_shows_a_new_flag(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-R", price=4000, free=0), unit("U-D", "direktupphandling", 4600))
    d = match_json(run, tmp_path, request(), "reference")
    assert [f["code"] for f in d["flags"]] == ["DIRECT_PROCUREMENT"]
    rules = rules_copy(tmp_path, lambda rel, t: t.replace("value: 1.25", "value: 1.1")
                       if rel == "parameters/procurement.yaml" else t)
    result = json.loads(run("request", "replay", "--rules", str(rules), "--engine", "reference", "--json").stdout)
    [diff] = result["differences"]
    assert (diff["unit_id"], diff["change"], diff["old_rank"], diff["new_rank"], diff["rules"]) == (
        "U-D", "flag_added", 1, 1, ["REVIEW-PRICE-ABOVE-REFERENCE"])
    assert diff["reasons"][0]["code"] == "PRICE_ABOVE_REFERENCE"


def test_replay_of_bad_rules_directory_is_an_error(run, tmp_path):
    _four_units(run, tmp_path)
    match_json(run, tmp_path, request(), "reference")
    rules = rules_copy(tmp_path, lambda rel, t: t.replace("recommendations: 3", "recommendations: [3]")
                       if rel == "ranking.yaml" else t)
    r = run("request", "replay", "--rules", str(rules), "--engine", "reference")
    assert r.exit_code == 2 and "ranking.yaml" in r.stderr and "Traceback" not in r.output


def test_ending_a_placement(run, engine, tmp_path, rules_engine):
    """`request end` closes a placement once, not before it started, and records who and why."""
    _four_units(run, tmp_path)
    match_json(run, tmp_path, request("R-END"), rules_engine)
    assert run("request", "choose", "R-END", "U-1", "--by", "anna").exit_code == 0
    before = snapshot(engine)
    for args, message in [
        (("R-END", "--on", "2024-02-30", "--by", "anna"), "--on: '2024-02-30' är inte ett datum"),
        (("R-END", "--on", "2020-01-01", "--by", "anna"), "är före placeringens start"),
        (("R-NONE", "--on", "2024-12-01", "--by", "anna"), "R-NONE"),
        (("R-END", "--on", "2024-12-01"), "--by"),
    ]:
        bad = run("request", "end", *args)
        assert bad.exit_code != 0 and message in bad.stderr, (args, bad.stderr)
    assert snapshot(engine) == before
    ok = run("request", "end", "R-END", "--on", "2024-12-01", "--reason", "omplacering", "--by", "anna", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["end_on"] == "2024-12-01"
    again = run("request", "end", "R-END", "--on", "2024-12-02", "--by", "anna")
    assert again.exit_code != 0 and "avslutades redan 2024-12-01" in again.stderr
    shown = json.loads(run("request", "show", "R-END", "--json").stdout)
    assert shown["placement"]["end_on"] == "2024-12-01"
    assert _history(engine, "R-END")[-1] == ("ended", "anna", "U-1", "omplacering")

"""`request choose` binds to the register and rules of the day of choosing (issue 8, item 4):
the unit is checked again, a placement takes a place (and gives it back), a direct-procurement
placement waits for an approved review, and refusals leave the database as it was."""

from __future__ import annotations

import json

from conftest import snapshot

from test_matching_support import load_register, match_json, request, unit

ON = "2024-09-01"


def free(run, unit_id: str) -> int:
    doc = json.loads(run("register", "export", "--json").stdout)
    return next(u["free_places"] for s in doc["suppliers"] for u in s["units"] if u["unit_id"] == unit_id)


def choose(run, rid: str, uid: str, *args: str):
    return run("request", "choose", rid, uid, "--by", "handläggare", "--on", ON, *args)


def test_a_placement_takes_a_place_and_the_last_place_goes_once(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1", free=1, places=4))
    for rid in ("R-1", "R-2"):
        assert [r["unit_id"] for r in match_json(run, tmp_path, request(rid), "reference")["recommendations"]] == ["U-1"]
    ok = choose(run, "R-1", "U-1", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["status"] == "active" and free(run, "U-1") == 0
    # R-2 was decided when U-1 still had its place: choosing it now is refused, nothing written.
    before = snapshot(engine)
    late = choose(run, "R-2", "U-1")
    assert late.exit_code == 4 and "är inte längre möjlig" in late.stderr and "lediga platser: " in late.stderr
    assert snapshot(engine) == before
    # A second choice for the same request: a clear message, not a database error.
    again = choose(run, "R-1", "U-1")
    assert again.exit_code == 4 and "har redan en placering" in again.stderr and "UNIQUE" not in again.stderr
    assert snapshot(engine) == before
    # Ending the placement gives the place back; now R-2 can be placed there.
    assert run("request", "end", "R-1", "--on", "2024-10-01", "--by", "handläggare").exit_code == 0
    assert free(run, "U-1") == 1
    assert choose(run, "R-2", "U-1").exit_code == 0 and free(run, "U-1") == 0


def test_unit_removed_after_the_decision_cannot_be_chosen(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"), unit("U-2", price=4100))
    match_json(run, tmp_path, request("R-1"), "reference")
    # IVO revokes U-1's permit after the decision: the rule removes the unit.
    r = run("register", "permit", "U-1", "--dnr", "8.1-U-1/2020", "--status", "revoked", "--on", ON, "--by", "ivo")
    assert r.exit_code == 0, r.output
    before = snapshot(engine)
    refused = choose(run, "R-1", "U-1")
    assert refused.exit_code == 4, refused.output
    assert "är inte längre möjlig" in refused.stderr and "registerstatus: " in refused.stderr and "IVO-tillstånd: " in refused.stderr
    assert snapshot(engine) == before
    assert choose(run, "R-1", "U-2").exit_code == 0


def test_direct_procurement_waits_for_review_and_rejection_frees_the_place(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-R", free=0), unit("U-D", "direktupphandling", 4600, free=1))
    d = match_json(run, tmp_path, request("R-1"), "reference")
    assert d["review_required"] and [r["unit_id"] for r in d["recommendations"]] == ["U-D"]
    out = choose(run, "R-1", "U-D", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["status"] == "pending_review" and free(run, "U-D") == 0
    shown = json.loads(run("request", "show", "R-1", "--json").stdout)
    assert shown["placement"]["status"] == "pending_review"
    # A placement waiting for review is not ended; it is decided in the review.
    assert run("request", "end", "R-1", "--on", "2024-10-01", "--by", "h").exit_code == 4
    rej = run("review", "reject", str(d["review_id"]), "--by", "granskare", "--note", "pris för högt")
    assert rej.exit_code == 0, rej.output
    assert json.loads(run("request", "show", "R-1", "--json").stdout)["placement"] is None
    assert free(run, "U-D") == 1
    before = snapshot(engine)
    assert choose(run, "R-1", "U-D").exit_code == 4 and snapshot(engine) == before


def test_approved_review_makes_the_placement_active(run, tmp_path):
    load_register(run, tmp_path, unit("U-R", free=0), unit("U-D", "direktupphandling", 4600))
    d = match_json(run, tmp_path, request("R-1"), "reference")
    assert choose(run, "R-1", "U-D").exit_code == 0
    assert run("review", "approve", str(d["review_id"]), "--by", "granskare", "--note", "ok").exit_code == 0
    assert json.loads(run("request", "show", "R-1", "--json").stdout)["placement"]["status"] == "active"
    # Approved before choosing: the placement is active at once.
    d2 = match_json(run, tmp_path, request("R-2"), "reference")
    assert run("review", "approve", str(d2["review_id"]), "--by", "granskare", "--note", "ok").exit_code == 0
    out = choose(run, "R-2", "U-D", "--json")
    assert json.loads(out.stdout)["status"] == "active"


def test_held_back_direct_procurement_needs_a_reason_and_goes_to_review(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-R"), unit("U-D", "direktupphandling", 4600))
    d = match_json(run, tmp_path, request("R-1"), "reference")
    assert not d["review_required"] and [r["unit_id"] for r in d["recommendations"]] == ["U-R"]
    before = snapshot(engine)
    no_reason = choose(run, "R-1", "U-D")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr and "valet går till granskning" in no_reason.stderr
    assert snapshot(engine) == before
    out = choose(run, "R-1", "U-D", "--reason", "Personen har bott där tidigare", "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["status"] == "pending_review"
    [review] = json.loads(run("review", "list", "--json").stdout)
    assert review["request_id"] == "R-1" and review["units"] == ["U-D"] and review["status"] == "pending"
    shown = json.loads(run("review", "show", str(review["id"]), "--json").stdout)
    assert shown["chosen_unit"] == "U-D" and [r["unit_id"] for r in shown["recommendations"]] == ["U-D"]
    assert shown["placement"]["status"] == "pending_review"


def test_stodboende_for_a_17_year_old_needs_the_special_reason(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-S", insats="stodboende", age=(16, 20)))
    match_json(run, tmp_path, request("R-1", "stodboende", None, age=17), "reference")
    before = snapshot(engine)
    r = choose(run, "R-1", "U-S")
    assert r.exit_code == 2 and "--special-reason" in r.stderr and snapshot(engine) == before
    ok = choose(run, "R-1", "U-S", "--special-reason", "Bedömt bäst efter utredning", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["special_reason"] == "Bedömt bäst efter utredning"

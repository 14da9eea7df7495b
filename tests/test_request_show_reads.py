"""`request show` from what was stored at decision time (issue 22 item 1).

- The latest decision's excluded units by reason (the "Uteslutna: N enheter, per skäl" table)
  are stored with the decision: `request show` prints the groups `match` printed, also after
  the register changed (they are the decision's, not today's register's), without deciding
  again (no numpy, no rules engine: tests/test_startup.py checks what it imports).
- A decision stored before that (no stored groups) is grouped as before, decided again on its
  stored snapshot: the same table.
- The direct read (matching/reads.py, no SQLAlchemy) and the ORM view (what the server returns)
  give one document (`request show`, `review list`); a protected person's request is read by
  the ORM view, which logs it.
"""

from __future__ import annotations

import json
import zlib

import pytest
from sqlalchemy import text

from test_matching_support import load_register, request, unit, write_request

UNITS = [unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200), unit("U-4", price=3300),
         unit("U-AGE", age=(16, 20)), unit("U-FULL", free=0), unit("U-D", "direktupphandling", 2000),
         unit("U-P", protected=True, age=(16, 20)), unit("U-D12", "direktupphandling", 2500, age=(11, 12))]


def _excluded_table(output: str) -> list[str]:
    """The lines of the excluded units by reason: heading and table."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Uteslutna:"))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith(("Möjliga", "Tackat nej", "Nästa steg", "Beslut "))), len(lines))
    return [line.rstrip() for line in lines[start:end]]


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def _forget_this_process():
    """Another process: nothing this one decided is remembered (compact._DECIDED) or decided
    again already (rebuild._REDECIDED)."""
    from placering.matching import compact, rebuild

    compact._DECIDED.clear()
    compact._INDEXES.clear()
    rebuild._REDECIDED.clear()


def _no_deciding_again(monkeypatch):
    from placering.matching import rebuild

    def refuse(*args, **kwargs):
        raise AssertionError("decided again")

    monkeypatch.setattr(rebuild, "redecide", refuse)
    monkeypatch.setattr(rebuild, "expand", refuse)


def test_request_show_prints_the_groups_match_printed_also_after_the_register_changed(run, engine, tmp_path,
                                                                                        monkeypatch):
    from placering.matching import compact, views

    load_register(run, tmp_path, *UNITS)
    printed = _ok(run("match", str(write_request(tmp_path, request())), "--by", "h")).output
    table = _excluded_table(printed)
    assert table[0].startswith("Uteslutna: 5 enheter, per skäl") and any("U-AGE" in line and "U-P" in line for line in table)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT excluded_units FROM decision")).scalar_one()
    assert stored is not None and len(bytes(stored)) < 200  # a few ids, compressed
    _forget_this_process()
    with monkeypatch.context() as m:
        _no_deciding_again(m)
        assert _excluded_table(_ok(run("request", "show", "R-1")).output) == table
        # The register changes: U-AGE takes 15-year-olds now, and U-FULL has a free place.
        load_register(run, tmp_path, *UNITS[:4], unit("U-AGE", age=(13, 17)), unit("U-FULL", free=1, places=7), *UNITS[6:])
        _forget_this_process()
        assert _excluded_table(_ok(run("request", "show", "R-1")).output) == table  # as decided
    # Deciding again sees the changed register: U-AGE and U-FULL are no longer excluded; the
    # groups shown are those of the whole decision (every excluded unit's reasons, --json).
    _ok(run("request", "rematch", "R-1", "--by", "h"))
    _forget_this_process()
    shown = _ok(run("request", "show", "R-1")).output
    assert "Beslut 2:" in shown and not {"U-AGE", "U-FULL"} & set(" ".join(_excluded_table(shown)).split())
    whole = json.loads(_ok(run("request", "show", "R-1", "--json")).stdout)["decisions"][-1]
    grouped = views.request_show(engine, "R-1", full="grouped")["decisions"][-1]
    assert compact.excluded_by_reason(grouped) == compact.excluded_by_reason(whole)
    assert compact.excluded_count(grouped) == len(whole["excluded"])


def test_a_decision_stored_before_the_groups_is_grouped_as_before(run, engine, db_url, tmp_path):
    from placering.matching.reads import request_show
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, *UNITS)
    printed = _ok(run("match", str(write_request(tmp_path, request())), "--by", "h")).output
    # The register changes after the decision, and the decision loses its stored groups (as
    # one stored before migration 0015): it is decided again on its own stored snapshot.
    load_register(run, tmp_path, *UNITS[:4], unit("U-AGE", age=(13, 17)), *UNITS[5:])
    with engine.begin() as conn:
        conn.execute(text("UPDATE decision SET excluded_units = NULL"))
    _forget_this_process()
    with open_reader(db_url) as db:
        assert request_show(db, "R-1", full="grouped") is None  # the direct read leaves it to the ORM view
    shown = _ok(run("request", "show", "R-1")).output
    assert _excluded_table(shown) == _excluded_table(printed)


def test_groups_whose_unit_index_is_lost_are_grouped_as_before(run, engine, db_url, tmp_path):
    """The stored groups are bit sets over the unit index of the decision's candidate list,
    stored once beside them (snapshot_blob, by its sha256). Without it (or with other content)
    the decision is grouped as one stored before its groups: decided again, the same table."""
    from placering.matching.compact import grouped_units
    from placering.matching.reads import request_show
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, *UNITS)
    printed = _ok(run("match", str(write_request(tmp_path, [request("R-1"), request("R-2", age=16)])), "--by", "h"))
    tables = {}
    for r in ("R-1", "R-2"):
        _forget_this_process()
        tables[r] = _excluded_table(_ok(run("request", "show", r)).output)
    with engine.begin() as conn:
        digests = {grouped_units(g) for g in conn.execute(text("SELECT excluded_units FROM decision")).scalars()}
        assert len(digests) == 1 and None not in digests  # one candidate list: one index, named by both
        conn.execute(text("DELETE FROM snapshot_blob WHERE digest = :d"), {"d": digests.pop()})
    _forget_this_process()
    with open_reader(db_url) as db:
        assert request_show(db, "R-1", full="grouped") is None  # the direct read leaves it to the ORM view
    for r in ("R-1", "R-2"):
        _forget_this_process()
        assert _excluded_table(_ok(run("request", "show", r)).output) == tables[r]
    assert printed.exit_code == 0


def test_the_direct_read_is_the_orm_views_document(run, engine, db_url, tmp_path, monkeypatch):
    """Decisions, a rematch after a decline, a review, a placement and a protected unit: the
    direct read and the ORM view (the server's) give one document, grouped and as stored; a
    decision stored before the groups gets the same groups decided again."""
    from placering.matching import views
    from placering.matching.reads import request_show, review_list
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, *UNITS)
    batch = write_request(tmp_path, [request("R-1"), request("R-2", age=16), request("R-3", age=12),
                                     request("R-4", age=19)])
    _ok(run("match", str(batch), "--by", "h"))
    _ok(run("request", "choose", "R-1", "U-1", "--by", "h"))
    _ok(run("request", "decline", "R-2", "U-1", "--reason", "Ingen plats", "--by", "h"))
    _ok(run("request", "rematch", "R-2", "--by", "h"))
    _forget_this_process()
    ids = ["R-1", "R-2", "R-3", "R-4"]
    orm = {(r, full): views.request_show(engine, r, full=full) for r in ids for full in ("grouped", False)}
    assert orm["R-3", "grouped"]["decisions"][0]["review"]["status"] == "pending"  # direct procurement
    assert orm["R-1", "grouped"]["placement"]["unit_id"] == "U-1"
    assert len(orm["R-2", "grouped"]["decisions"]) == 2 and orm["R-2", "grouped"]["declines"][0]["unit_id"] == "U-1"
    with monkeypatch.context() as m:
        _no_deciding_again(m)
        with open_reader(db_url) as db:
            for (r, full), expected in orm.items():
                got = request_show(db, r, full=full)
                assert json.dumps(got) == json.dumps(expected), (r, full)  # the same keys in the same order
                if full == "grouped" and r == "R-1":  # U-P: a protected unit
                    assert "U-P" in {u for g in got["decisions"][-1]["excluded"]["by_reason"] for u in g["units"]}
        # `review list` too (R-3's review of its direct procurement), every status.
        with open_reader(db_url) as db:
            for status in (None, "pending", "approved"):
                expected = views.review_list(engine, status=status)
                assert json.dumps(review_list(db, status=status)) == json.dumps(expected), status
            assert [r["request_id"] for r in review_list(db, status="pending")] == ["R-3"]
    # As decided again (no stored groups): the same document.
    with engine.begin() as conn:
        conn.execute(text("UPDATE decision SET excluded_units = NULL"))
    for r in ids:
        assert views.request_show(engine, r, full="grouped") == orm[r, "grouped"], r


def test_a_protected_persons_request_is_read_by_the_orm_view_and_logged(run, engine, db_url, tmp_path):
    from placering.matching.reads import request_show
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, *UNITS)
    person = dict(request("R-S")["person"], protected_identity=True)
    _ok(run("match", str(write_request(tmp_path, request("R-S", person=person))), "--by", "h"))
    with open_reader(db_url) as db:
        assert request_show(db, "R-S", full="grouped") is None
    shown = _ok(run("request", "show", "R-S", "--by", "läsaren")).output
    assert "Uteslutna:" in shown
    reads = json.loads(_ok(run("audit", "protected-reads", "--json")).stdout)["reads"]
    assert [(r["request_id"], r["reader"]) for r in reads] == [("R-S", "läsaren")]
    # `audit protected-reads` reads the log directly: the ORM view's list, filtered the same way
    from datetime import timedelta

    from placering.access.protected_cases import reads_view
    from placering.audit.reads import protected_reads
    from placering.display import today

    _ok(run("request", "show", "R-S", "--by", "någon"))
    day = today()
    with open_reader(db_url) as db:
        for filters in ({}, {"reader": "läsaren"}, {"request_id": "R-S"}, {"request_id": "R-1"},
                        {"since": day, "until": day}, {"since": day + timedelta(days=1)},
                        {"until": day - timedelta(days=1)}):
            assert protected_reads(db, **filters) == reads_view(engine, **filters), filters
        assert len(protected_reads(db, since=day, until=day)) == 2


@pytest.mark.parametrize("ids", [["U-1101", "U-1102", "U-1109", "U-0999", "X", "U-10000", "U-9999", "Å-01", "Å-02"]])
def test_stored_groups_read_back_as_grouped(ids):
    from placering.matching.compact import decode_grouped, encode_grouped

    groups = [{"code": "AGE", "units": sorted(ids)}, {"code": "CAPACITY", "units": sorted(ids[::2])},
              {"code": "AGREEMENT", "units": sorted(ids[1:3])}]
    groups = [dict(g, count=len(g["units"])) for g in sorted(groups, key=lambda g: (-len(g["units"]), g["code"]))]
    assert decode_grouped(encode_grouped(groups)) == groups
    assert decode_grouped(encode_grouped([])) == []


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_the_groups_stored_with_a_decision_are_those_of_its_excluded_units(monkeypatch, seed):
    """What a decision stores (grouped_of, numpy over the units in id order) is byte for byte
    the grouping of its excluded units by reason (units_by_reason): ids in runs and out of runs,
    ids without digits, a unit with several candidates, held-back and unevaluable units."""
    import random

    from placering.matching import compact

    rng = random.Random(seed)
    ids = [f"U-{n}" for n in range(1000, 1400)] + ["X", "Å-01", "Å-02", "U-0999", "U-10000"]
    cands = [{"unit": {"unit_id": u}} for u in ids] + [{"unit": {"unit_id": u}} for u in ids[:50]]
    n = len(cands)
    sets = {"exclude:AGE:r1": sorted(rng.sample(range(n), 200)), "exclude:CAPACITY:r2": sorted(rng.sample(range(n), 120)),
            "unevaluable:r3": sorted(rng.sample(range(n), 5)), "exclude:AGE:r4": sorted(rng.sample(range(n), 30))}
    held_back = [{"unit_id": "U-1003", "reasons": [{"code": "PRICE_NOT_RECOMMENDED"}]},
                 {"unit_id": "X", "reasons": [], "unevaluable": True}]
    monkeypatch.setattr(compact, "is_compact", lambda document: True)
    monkeypatch.setattr(compact, "decided_here", lambda document: (sets, cands, held_back))
    stored = compact.grouped_of({})
    digest, index = compact.grouped_index({})
    assert compact.grouped_units(stored) == digest
    blobs = {digest: index}
    groups = compact.decode_grouped(stored, blobs.get)
    assert groups == compact.units_by_reason(sets, cands, held_back)
    # The unit index lost, or not what its sha256 says: not read (the decision is decided again).
    for lost in ({}, {digest: zlib.compress(b'{"format":"placering-units/1","units":[]}')}):
        compact._INDEXES.clear()
        with pytest.raises(compact.GroupsLost):
            compact.decode_grouped(stored, lost.get)
    assert {g["code"] for g in groups} == {"AGE", "CAPACITY", "UNEVALUABLE", "PRICE_NOT_RECOMMENDED"}
    assert "U-1003" in next(g for g in groups if g["code"] == "PRICE_NOT_RECOMMENDED")["units"]


def test_explain_reads_the_stored_decision_where_it_answers_and_says_what_the_orm_view_says(run, db_url, tmp_path,
                                                                                           monkeypatch):
    """`request show R --explain UNIT`: a recommended unit (or one in a list stored in full) is
    explained from the stored decision without SQLAlchemy or a rules engine (matching/reads.py);
    an excluded unit by evaluating that unit again (the reference evaluator, no SQLAlchemy).
    Every answer, refusal and exit code is the ORM view's, as text and JSON (what it imports:
    tests/test_startup.py)."""
    from placering.cli import common
    from placering.matching.reads import request_explain
    from placering.storage.reads import open_reader

    load_register(run, tmp_path, *UNITS)
    person = dict(request("R-S")["person"], protected_identity=True)
    _ok(run("match", str(write_request(tmp_path, [request("R-1"), request("R-S", person=person)])), "--by", "h"))
    shown = json.loads(_ok(run("request", "show", "R-1", "--json")).stdout)["decisions"][-1]
    recommended = shown["recommendations"][0]["unit_id"]
    _forget_this_process()
    with open_reader(db_url) as db:
        assert request_explain(db, "R-1", recommended)["status"] == "recommended"
        assert request_explain(db, "R-1", recommended.lower())["unit_id"] == recommended
        # excluded: that unit evaluated again by the rules engine on the stored snapshot, checked
        # against the reason codes stored with the decision (tests/test_request_reads_more.py)
        assert request_explain(db, "R-1", "U-AGE")["status"] == "excluded"
        assert request_explain(db, "R-S", recommended) is None  # a protected person's: read and logged
    real = common.AppContext.reader
    questions = [("R-1", u["unit_id"]) for u in UNITS] + [("R-1", recommended.lower()), ("R-1", "U-404"),
                                                          ("R-1", "Enhet U-2"), ("R-404", recommended),
                                                          ("R-S", recommended)]
    for request_id, unit_id in questions:
        for output in ((), ("--json",)):
            args = ("request", "show", request_id, "--explain", unit_id, "--by", "läsaren", *output)
            monkeypatch.setattr(common.AppContext, "reader", real)
            read = run(*args)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            orm = run(*args)
            assert (read.exit_code, read.output) == (orm.exit_code, orm.output), args

"""Compact, exact, idempotent decisions (issue 10) and batches that keep what they finished.

- A stored decision keeps a digest of its per-rule sets of excluded candidates over the stored register
  snapshot; the explanation rebuilt from storage equals the one given at decision time, also
  after the unit has changed.
- `--explain` and `request show` store nothing; a request already decided is not decided
  again by `match` (a batch file run twice adds nothing); a batch commits in chunks and a run
  killed midway keeps its finished chunks, and running it again completes it.
- Every evaluator gives the same per-rule sets (differential).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date

import pytest
from sqlalchemy import text

from conftest import snapshot, table_counts
from test_matching_support import load_register, request, unit, write_request

UNITS = [unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200), unit("U-4", price=3300),
         unit("U-AGE", age=(16, 20)), unit("U-FULL", free=0), unit("U-D", "direktupphandling", 2000)]


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _decisions(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM decision")).scalar_one()


def test_explanation_from_storage_equals_the_one_at_decision_time_after_the_unit_changed(run, engine, tmp_path):
    load_register(run, tmp_path, *UNITS)
    path = write_request(tmp_path, request())
    # At decision time: the explanation (computed, not stored) and the whole decision.
    live = {u: _json(run("match", str(path), "--explain", u, "--json", "--engine", "vectorized"))
            for u in ("U-AGE", "U-FULL", "U-D", "U-4")}
    assert _decisions(engine) == 0
    decided = _json(run("match", str(path), "--json", "--by", "h", "--engine", "vectorized"))
    assert {e["unit_id"] for e in decided["excluded"]} == {"U-AGE", "U-FULL", "U-D"}
    # The register changes: the excluded units get other ages and places.
    load_register(run, tmp_path, *UNITS[:4], unit("U-AGE", age=(18, 25)), unit("U-FULL", free=1, places=7),  # one more place, and it is free
                  UNITS[6])
    for u, before in live.items():
        after = _json(run("request", "show", "R-1", "--explain", u, "--json"))
        assert after == dict(before, seq=1)
    assert live["U-AGE"]["reasons"][0]["values"]["unit.age_min"] == 16  # as decided, not 18
    shown = _json(run("request", "show", "R-1", "--json"))["decisions"][0]
    assert shown["excluded"] == decided["excluded"]
    # Deciding again now sees the changed register.
    again = _json(run("request", "rematch", "R-1", "--by", "h", "--json"))
    age = next(e for e in again["excluded"] if e["unit_id"] == "U-AGE")
    assert age["reasons"][0]["values"]["unit.age_min"] == 18


def test_stored_decision_is_small_and_names_its_snapshot(run, engine, tmp_path):
    load_register(run, tmp_path, *UNITS)
    run("match", str(write_request(tmp_path, request())), "--by", "h")
    with engine.connect() as conn:
        doc = conn.execute(text("SELECT document FROM decision")).scalar_one()
        revision = conn.execute(text("SELECT MAX(id) FROM history WHERE NOT (entity_kind = 'request' AND action = 'matched')")).scalar_one()
        snaps = conn.execute(text("SELECT COUNT(*) FROM register_snapshot WHERE revision = :r"), {"r": revision}).scalar_one()
    doc = json.loads(doc) if isinstance(doc, str) else doc
    ex = doc["excluded"]
    assert ex["encoding"] == "placering-compact/2" and ex["register_revision"] == revision and snaps >= 2
    assert ex["count"] == 3 and dict(ex["summary"])["LAST_RESORT"] == 1


def test_explain_and_request_show_store_nothing_and_a_batch_run_twice_adds_nothing(run, engine, tmp_path):
    load_register(run, tmp_path, *UNITS)
    batch = write_request(tmp_path, [request("R-1"), request("R-2", age=16), request("R-3", age=19)])
    single = write_request(tmp_path, request("R-9"))
    before = snapshot(engine)
    assert run("match", str(single), "--explain", "U-AGE").exit_code == 0
    assert snapshot(engine) == before
    first = _json(run("match", str(batch), "--by", "h", "--json"))
    assert [s["decided_now"] for s in first] == [True, True, True]
    counts = table_counts(engine)
    before = snapshot(engine)
    second = _json(run("match", str(batch), "--by", "h", "--json"))
    assert [s["decided_now"] for s in second] == [False, False, False]
    assert [s["seq"] for s in second] == [1, 1, 1]
    assert run("match", str(batch), "--by", "h", "--json", "--full").exit_code == 0
    assert run("request", "show", "R-2", "--json").exit_code == 0
    assert run("request", "show", "R-2", "--explain", "U-AGE").exit_code == 0
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--explain", "U-AGE").exit_code == 0
    assert snapshot(engine) == before and table_counts(engine) == counts


def test_a_killed_batch_keeps_its_finished_chunks_and_a_rerun_completes_it(engine, db_url, tmp_path, run):
    load_register(run, tmp_path, *UNITS)
    n = 400
    batch = write_request(tmp_path, [request(f"R-{i}", age=13 + i % 6) for i in range(n)])
    cmd = [sys.executable, "-c", "from placering.cli import main; main()", "--db", db_url, "match", str(batch),
           "--by", "h", "--commit-every", "5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        done = _decisions(engine)
        if done >= 10:
            break
        time.sleep(0.02)
    proc.kill()  # SIGKILL: no clean-up runs
    proc.wait()
    kept = _decisions(engine)
    assert 10 <= kept < n, (kept, proc.stderr.read().decode())
    assert kept % 5 == 0  # whole chunks only
    rerun = subprocess.run(cmd[:-2] + ["--json"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summaries = json.loads(rerun.stdout)
    assert sum(1 for s in summaries if not s["decided_now"]) >= kept
    assert sum(1 for s in summaries if s["decided_now"]) == n - sum(1 for s in summaries if not s["decided_now"])
    with engine.connect() as conn:
        per_request = conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT request_id), MAX(seq) FROM decision")).one()
    assert tuple(per_request) == (n, n, 1)  # every request decided exactly once


def test_every_evaluator_stores_the_same_sets():
    from placering.demo import generate_register, generate_requests
    from placering.matching.compact import candidate_sets
    from placering.matching.matcher import load_evaluator
    from placering.matching.request import validate_request
    from placering.rules import RegisterSnapshot, load_ruleset, request_fact
    from placering.taxonomy import load_taxonomy

    ruleset, tax = load_ruleset(), load_taxonomy()
    snap = RegisterSnapshot.from_document(generate_register(units=150), on=date(2024, 9, 1))
    evaluators = [load_evaluator(kind, ruleset, snap) for kind in ("reference", "durable", "vectorized")]
    seen = 0
    for raw in generate_requests(25):
        req = validate_request(raw)
        fact = request_fact(req.payload(), snap, tax)
        cands = snap.candidates(req.insats)
        sets = [candidate_sets(ev.evaluate(fact, on=req.submitted_on), cands) for ev in evaluators]
        assert sets[0] == sets[1] == sets[2], req.request_id
        seen += sum(len(v) for v in sets[0].values())
    assert seen > 0


def test_snapshot_read_back_equals_the_one_written():
    from placering.demo import generate_register
    from placering.matching.snapshots import decode_candidates, encode_candidates
    from placering.rules import RegisterSnapshot

    snap = RegisterSnapshot.from_document(generate_register(units=120), on=date(2024, 9, 1))
    for insats, cands in snap.by_insats.items():
        assert decode_candidates(encode_candidates(cands)) == cands, insats


def test_a_long_batch_prints_its_first_rows_and_the_totals_and_all_prints_every_row(run, engine, tmp_path):
    load_register(run, tmp_path, *UNITS)
    n = 45
    batch = write_request(tmp_path, [request(f"R-{i:02d}", age=13 + i % 6) for i in range(n)])
    short = run("match", str(batch), "--by", "h")
    assert short.exit_code == 0, short.output
    shown = [i for i in range(n) if f"R-{i:02d} " in short.stdout]
    assert shown == list(range(40))
    assert "Visar 40 av 45 rader" in short.stdout and "--all" in short.stdout
    every = run("match", str(batch), "--by", "h", "--all")
    assert every.exit_code == 0 and all(f"R-{i:02d} " in every.stdout for i in range(n))
    assert "Visar" not in every.stdout
    assert len(_json(run("match", str(batch), "--by", "h", "--json"))) == n


def _stored(engine):
    from sqlalchemy.orm import Session

    from placering.matching.decisions import get_request, latest_decision, stored_document

    session = Session(engine)
    row = get_request(session, "R-1")
    return session, row, stored_document(latest_decision(session, row))


def test_the_stored_block_holds_nothing_per_candidate_and_a_wrong_digest_is_refused(run, engine, tmp_path):
    from placering.matching.rebuild import expand
    from placering.matching.decisions import request_model
    from placering.matching.snapshots import SnapshotError

    load_register(run, tmp_path, *UNITS)
    run("match", str(write_request(tmp_path, request())), "--by", "h")
    session, row, doc = _stored(engine)
    with session:
        block = doc["excluded"]
        assert set(block) == {"encoding", "register_revision", "as_of", "candidates", "count", "summary", "held_back",
                              "rules", "digest"}
        # U-D is held back (last resort), U-4 below the cut: eligible, so in no rule's set; both
        # lists are stored as count and digest and decided again when asked for.
        assert block["rules"] == {"exclude:AGE:ELIG-AGE": 1, "exclude:CAPACITY:ELIG-CAPACITY": 1}
        assert set(block["held_back"]) == {"encoding", "count", "digest"} and block["held_back"]["count"] == 1
        assert set(doc["below_cut"]) == {"encoding", "count", "digest"} and doc["below_cut"]["count"] == 1
        req = request_model(row)
        assert {e["unit_id"] for e in expand(session, doc, req)} == {"U-AGE", "U-FULL", "U-D"}
        for tampered in (dict(doc, excluded=dict(block, digest="sha256:" + "0" * 64)),
                         dict(doc, excluded=dict(block, held_back=dict(block["held_back"], digest="sha256:0"))),
                         dict(doc, below_cut=dict(doc["below_cut"], digest="sha256:0"))):
            with pytest.raises(SnapshotError, match="cannot be reproduced"):
                expand(session, tampered, req, unit_ids=["U-AGE"])


def _first_encoding_sets(sets: dict[str, list[int]], n: int) -> str:
    """How the first encoding (placering-compact/1) stored the sets: one code per candidate: the index of its combination of rules (few distinct
    combinations, so one byte each, compressed: a few KB for thousands of candidates)."""
    import base64
    import zlib

    import numpy as np

    keys = sorted(sets)
    if len(keys) > 64:
        raise ValueError("at most 64 rules per decision can be stored compact")
    mask = np.zeros(n, dtype=np.uint64)
    for k, key in enumerate(keys):
        mask[np.asarray(sets[key], dtype=np.int64)] |= np.uint64(1 << k)
    combos, codes = np.unique(mask, return_inverse=True)
    width = 1 if len(combos) <= 256 else 4
    raw = codes.astype(np.uint8 if width == 1 else np.uint32).tobytes()
    doc = {"keys": keys, "combinations": [[k for k in range(len(keys)) if int(c) >> k & 1] for c in combos.tolist()],
           "width": width, "codes": base64.b64encode(zlib.compress(raw, 6)).decode("ascii")}
    return json.dumps(doc, separators=(",", ":"))


def test_a_decision_stored_in_the_first_encoding_still_explains_itself(run, engine, tmp_path):
    """Decisions stored before the digest encoding kept the sets and the lists themselves: read
    as they were stored."""
    from placering.matching.rebuild import expand, full_document, redecide
    from placering.matching.decisions import request_model

    load_register(run, tmp_path, *UNITS)
    run("match", str(write_request(tmp_path, request())), "--by", "h")
    session, row, doc = _stored(engine)
    with session:
        block, req = doc["excluded"], request_model(row)
        again = redecide(session, doc, req)
        old = {k: v for k, v in block.items() if k not in ("rules", "digest")}
        old.update(encoding="placering-compact/1", sets=_first_encoding_sets(again.sets, len(again.inputs.cands)),
                   held_back=again.held_back)
        first = dict(doc, excluded=old, below_cut=again.below_cut)
        assert expand(session, first, req) == expand(session, doc, req)
        assert full_document(session, first, req) == full_document(session, doc, req)


def test_snapshots_share_stored_candidate_lists_by_content(run, engine, tmp_path):
    """Two days of the same register revision: each distinct candidate list is stored
    once (snapshot_blob, by sha256); every snapshot reads back its own lists."""
    import hashlib

    from placering.matching.snapshots import load_snapshot

    load_register(run, tmp_path, *UNITS, unit("U-SB", insats="skyddat_boende"))
    first, revision, _ = load_snapshot(engine, on=date(2026, 3, 2))
    second, _, _ = load_snapshot(engine, on=date(2026, 3, 3))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT revision, as_of, insats, digest, data FROM register_snapshot")).all()
        blobs = conn.execute(text("SELECT digest, data FROM snapshot_blob")).all()
    assert len(rows) == 2 * len({r.insats for r in rows}) and all(r.data is None for r in rows)
    assert len(blobs) == len({r.digest for r in rows}) == len(rows) // 2  # the second day added no list
    assert all(hashlib.sha256(bytes(b.data)).hexdigest() == b.digest for b in blobs)
    assert second.by_insats == first.by_insats and second.digests == first.digests


def test_the_migration_moves_stored_snapshots_into_blobs(tmp_path):
    """A database whose snapshots were stored before 0009 (the list in the row) reads the same after it."""
    import hashlib
    import zlib

    from alembic import command

    from placering.matching.snapshots import COMPLETE, _read, encode_candidates
    from placering.storage.database import _alembic_config, make_engine
    from sqlalchemy.orm import Session

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(_alembic_config(engine), "0008")
    cands = [{"unit": {"unit_id": "U-1", "protected_address": False}, "route": {"route": "ramavtal"},
              "permit": {}, "supplier": {}}]
    data = encode_candidates(cands)
    marker = zlib.compress(json.dumps(["hvb_barn_unga"]).encode("utf-8"))
    with engine.begin() as conn:
        for insats, blob in (("hvb_barn_unga", data), (COMPLETE, marker)):
            conn.execute(text("INSERT INTO register_snapshot (revision, as_of, insats, data, created_at) "
                              "VALUES (7, '2026-03-02', :i, :d, '2026-03-02 10:00:00')"), {"i": insats, "d": blob})
    command.upgrade(_alembic_config(engine), "head")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT insats, digest, data FROM register_snapshot ORDER BY insats")).all()
        blobs = dict(conn.execute(text("SELECT digest, data FROM snapshot_blob")).all())
    assert all(r.data is None and blobs[r.digest] for r in rows)
    assert hashlib.sha256(data).hexdigest() in blobs
    with Session(engine) as session:
        snap = _read(session, 7, date(2026, 3, 2), ["hvb_barn_unga"])
    assert snap.candidates("hvb_barn_unga") == cands


def test_the_digest_of_the_sets_is_the_same_whatever_their_order_and_differs_when_one_candidate_moves():
    from placering.matching.compact import sets_digest

    sets = {"exclude:AGE:ELIG-AGE": [1, 5, 9], "unevaluable:ELIG-DIST": [2]}
    assert sets_digest(sets) == sets_digest({"unevaluable:ELIG-DIST": [2], "exclude:AGE:ELIG-AGE": [9, 1, 5, 5]})
    assert sets_digest(sets) == sets_digest(dict(sets, **{"exclude:CAPACITY:ELIG-CAPACITY": []}))
    assert sets_digest(sets) != sets_digest({"exclude:AGE:ELIG-AGE": [1, 5, 8], "unevaluable:ELIG-DIST": [2]})
    assert sets_digest(sets) != sets_digest({"exclude:AGE:ELIG-AGE": [1, 5], "unevaluable:ELIG-DIST": [2, 9]})


def _full(engine, on):
    """The snapshot read from the register tables, each insats' list as stored (sha256)."""
    import hashlib

    from sqlalchemy.orm import Session

    from placering.matching.snapshots import encode_candidates
    from placering.rules import RegisterSnapshot

    with Session(engine) as session:
        snap = RegisterSnapshot.from_session(session, on=on)
    return {i: hashlib.sha256(encode_candidates(c)).hexdigest() for i, c in snap.by_insats.items()}


def test_the_snapshot_after_register_changes_is_read_again_for_the_changed_suppliers_only_and_equals_a_full_read(
        run, engine, tmp_path, monkeypatch):
    """After each kind of register change, the next snapshot starts from the stored one and
    re-reads the suppliers the change touched; its lists equal reading the whole register,
    byte for byte. A change that cannot be tied to suppliers reads everything."""
    from placering.matching import snapshots
    from placering.matching.snapshots import load_snapshot
    from test_matching_support import supplier_of

    from placering.display import today

    on = today()
    doc = load_register(run, tmp_path, *UNITS, unit("U-SB", insats="skyddat_boende", route="egen_regi", price=None),
                        unit("U-5", price=3400, agreement="RA-SHARED"), unit("U-6", price=3500, agreement="RA-SHARED"))
    used: list[str] = []
    real = snapshots._updated

    def spy(session, revision, day, *wanted):
        result = real(session, revision, day, *wanted)
        used.append("updated" if result is not None else "whole register")
        return result

    monkeypatch.setattr(snapshots, "_updated", spy)

    def check(*args, expect="updated"):
        if args:
            r = run(*args)
            assert r.exit_code == 0, r.output
        used.clear()
        snap, _revision, _on = load_snapshot(engine, on=on)
        assert used == [expect], args
        assert snap.digests == _full(engine, on), args
        again, _r, _o = load_snapshot(engine, on=on)  # and as stored
        assert again.digests == snap.digests and again.by_insats == snap.by_insats

    used.clear()
    load_snapshot(engine, on=on)
    assert used == ["whole register"]  # nothing stored to start from
    by = ("--by", "kvalitet")
    check("register", "status", "U-2", "watch", "--note", "uppföljning", *by)
    check("register", "check", supplier_of(doc, "U-3"), "credit_rating", "--result", "pass", "--value", "12,5",
          "--on", on.isoformat(), *by)
    check("register", "permit", "U-4", "--dnr", "8.1-U-4/2020", "--status", "revoked",
          "--on", on.isoformat(), "--by", "ivo")
    check("register", "complaint", "U-1", "--category", "treatment", "--on", on.isoformat(), "--by", "spink")
    check("register", "agreement", "RA-SHARED", "order_stop", "--supplier", supplier_of(doc, "U-5"),
          "--on", on.isoformat(), "--note", "beställningsstopp", *by)
    path = write_request(tmp_path, request("R-INC"))
    assert run("match", str(path), "--by", "h").exit_code == 0
    check("request", "decline", "R-INC", "U-1", "--reason", "inget rum", "--by", "h")
    check("request", "choose", "R-INC", "U-6", "--by", "h")
    check("register", "agreement", "RA-SHARED", "terminated", "--on", on.isoformat(), "--note", "avtalet sades upp", *by)
    # A change recorded with neither supplier nor unit (as an agreement-wide entry might be):
    # it cannot be tied to suppliers, so the whole register is read.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, action, changes) "
                          "VALUES (CURRENT_TIMESTAMP, :on, 'postgres', 'agreement', 'RA-SHARED', 'updated', '{}')"),
                     {"on": on})
    check(expect="whole register")


def test_a_change_to_one_unit_reads_that_unit_again_alone_and_equals_a_full_read(run, engine, tmp_path, monkeypatch):
    """A choice, a status, a permit, a complaint or an import's new price or free places names
    one unit: the next snapshot reads that unit again alone, not its supplier's other units,
    and its lists (the unit in two insatser, the supplier's facts shared with its other units)
    equal reading the whole register, byte for byte. A check re-reads the whole supplier."""
    import copy

    from placering.matching import snapshots
    from placering.matching.snapshots import load_snapshot
    from placering.rules.facts import RegisterSnapshot
    from test_matching_support import register_doc

    from placering.display import today

    on = today()
    both = unit("U-M1", price=3800, extra_routes=[{"route": "ramavtal", "insats": "skyddat_boende", "daily_price": 4100,
                                                   "agreement_id": "RA-M1-SB", "valid_from": "2022-01-01",
                                                   "valid_to": "2026-12-31", "buyers": ["Göteborg"],
                                                   "status": "active"}])
    both["offers"].append({"insats": "skyddat_boende", "subcategories": ["avhoppare"]})
    doc = register_doc(*UNITS, unit("U-SB", insats="skyddat_boende", route="egen_regi", price=None))
    many = {"org_nr": "556677-8899", "name": "Leverantör med flera enheter", "legal_form": "aktiebolag",
            "checks": [{"kind": "credit_rating", "result": "pass", "value": 60, "performed_on": "2024-01-10"}],
            "units": [both, unit("U-M2", price=3900), unit("U-M3", insats="skyddat_boende", price=4200)]}
    doc["suppliers"].append(many)
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = run("register", "import", str(path), "--apply-status", "--by", "registervård")
    assert r.exit_code == 0, r.output
    read_again: list[tuple[set, set]] = []
    real = RegisterSnapshot.refresh_insatser

    def spy(self, session, *, org_nrs, doc=None, unit_ids=()):
        read_again.append((set(org_nrs), set(unit_ids)))
        return real(self, session, org_nrs=org_nrs, doc=doc, unit_ids=unit_ids)

    monkeypatch.setattr(RegisterSnapshot, "refresh_insatser", spy)

    def check(*args, units=(), orgs=()):
        if args:
            r = run(*args)
            assert r.exit_code == 0, r.output
        read_again.clear()
        snap, _revision, _on = load_snapshot(engine, on=on)
        assert read_again == [(set(orgs), set(units))], args
        assert snap.digests == _full(engine, on), args
        again, _r, _o = load_snapshot(engine, on=on)  # and as stored
        assert again.digests == snap.digests and again.by_insats == snap.by_insats

    load_snapshot(engine, on=on)
    by = ("--by", "kvalitet")
    check("register", "status", "U-M1", "watch", "--note", "uppföljning", *by, units={"U-M1"})
    check("register", "permit", "U-M1", "--dnr", "8.1-U-M1/2020", "--status", "revoked", "--on", on.isoformat(),
          "--by", "ivo", units={"U-M1"})
    check("register", "complaint", "U-M2", "--category", "treatment", "--on", on.isoformat(), "--by", "spink",
          units={"U-M2"})
    path_r = write_request(tmp_path, request("R-M"))
    assert run("match", str(path_r), "--by", "h").exit_code == 0
    check("request", "choose", "R-M", "U-M2", "--reason", "närmast hemmet", "--by", "h", units={"U-M2"})
    changed = copy.deepcopy(doc)
    m1, m2, m3 = changed["suppliers"][-1]["units"]
    m1["routes"][1]["daily_price"] = 4300  # a new price in one of U-M1's two insatser
    m3["age_max"] = 18
    path.write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
    check("register", "import", str(path), "--by", "registervård", units={"U-M1", "U-M3"})
    check("register", "check", "556677-8899", "credit_rating", "--result", "pass", "--value", "12,5",
          "--on", on.isoformat(), *by, orgs={"556677-8899"})
    check("register", "status", "U-M3", "removed", "--reason", "avvecklad", "--note", "samlad bedömning", *by,
          units={"U-M3"})
    # A supplier's facts changed under an entry that names only a unit: the unit read again alone
    # does not agree with its supplier's other candidates, and the whole register is read.
    with engine.begin() as conn:
        conn.execute(text("UPDATE supplier SET legal_form = 'ekonomisk_forening' WHERE org_nr = '556677-8899'"))
        conn.execute(text("INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, action, org_nr, "
                          "unit_id, changes) VALUES (CURRENT_TIMESTAMP, :on, 'postgres', 'unit', 'U-M1', "
                          "'updated', '556677-8899', 'U-M1', '{}')"), {"on": on})
    read_again.clear()
    snap, _revision, _on = load_snapshot(engine, on=on)
    assert read_again == [(set(), {"U-M1"})]  # tried, and found the supplier changed
    assert snap.digests == _full(engine, on)


def test_the_first_snapshot_of_a_day_starts_from_the_day_before_and_equals_a_full_read(
        run, engine, tmp_path, monkeypatch):
    """A new day's snapshot is the day before's with only the suppliers re-read whose dated
    facts changed overnight: a complaint entering the 12 months, one leaving them, a credit
    rating becoming the latest; an agreement starting and one ending that day are in the
    register too. Its lists equal reading every table, byte for byte, on each day (also with
    a register change on the same day), and a list no changed supplier is in is not decoded."""
    from datetime import timedelta

    from placering.matching import snapshots
    from placering.matching.snapshots import load_snapshot
    from placering.rules.facts import year_before
    from test_matching_support import supplier_of

    from placering.display import today

    d0 = today() - timedelta(days=20)
    d1 = d0 + timedelta(days=1)
    doc = load_register(
        run, tmp_path, *UNITS, unit("U-SB", insats="skyddat_boende", route="egen_regi", price=None),
        unit("U-START", price=3600, valid=(d1.isoformat(), None)),
        unit("U-END", price=3700, valid=("2022-01-01", d0.isoformat())))
    by = ("--by", "spink")
    for args in (("register", "complaint", "U-1", "--category", "treatment", "--on", d1.isoformat()),  # enters on d1
                 ("register", "complaint", "U-2", "--category", "treatment", "--on", year_before(d1).isoformat()),
                 ("register", "check", supplier_of(doc, "U-3"), "credit_rating", "--result", "pass",
                  "--value", "80", "--on", d1.isoformat())):  # the latest rating from d1
        r = run(*args, *by)
        assert r.exit_code == 0, r.output
    # A permit revoked from d1 (the newest decision dated after midnight): a permit's facts are
    # its newest decision whatever the date, so both days' lists equal a full read with it.
    r = run("register", "permit", "U-END", "--dnr", "8.1-U-END/2020", "--status", "revoked", "--on", d1.isoformat(),
            "--by", "ivo")
    assert r.exit_code == 0, r.output
    used: list[str] = []
    real = snapshots._updated

    def spy(*args):
        result = real(*args)
        used.append("updated" if result is not None else "whole register")
        return result

    monkeypatch.setattr(snapshots, "_updated", spy)
    first, _revision, _on = load_snapshot(engine, on=d0)
    assert used == ["whole register"] and first.digests == _full(engine, d0)
    decoded: list[int] = []
    real_decode = snapshots.decode_candidates
    monkeypatch.setattr(snapshots, "decode_candidates", lambda data: decoded.append(1) or real_decode(data))
    used.clear()
    second, _revision, _on = load_snapshot(engine, on=d1, insatser=["hvb_barn_unga"])
    assert used == ["updated"] and decoded == [1]  # skyddat_boende: not decoded, no changed supplier in it
    whole = _full(engine, d1)
    assert whole["hvb_barn_unga"] != first.digests["hvb_barn_unga"]  # the day did change facts
    assert second.digests == {"hvb_barn_unga": whole["hvb_barn_unga"]}
    cands = {c["unit"]["unit_id"]: c for c in second.candidates("hvb_barn_unga")}
    assert (cands["U-1"]["unit"]["complaints_12m"], cands["U-2"]["unit"]["complaints_12m"]) == (1, 0)
    assert cands["U-3"]["supplier"]["credit_rating"] == 80
    used.clear()
    assert load_snapshot(engine, on=d1)[0].digests == whole and used == []  # stored: every list named
    # A register change and a new day together.
    r = run("register", "status", "U-4", "watch", "--note", "uppföljning", "--by", "kvalitet")
    assert r.exit_code == 0, r.output
    d2 = d1 + timedelta(days=400)  # U-1's complaint leaves the 12 months too
    third, _revision, _on = load_snapshot(engine, on=d2)
    assert used == ["updated"] and third.digests == _full(engine, d2)
    assert {c["unit"]["unit_id"]: c["unit"]["complaints_12m"] for c in third.candidates("hvb_barn_unga")}["U-1"] == 0


def test_every_candidate_fact_that_reads_the_date_is_in_the_day_change_list(run, engine, tmp_path):
    """A new day's snapshot re-reads only the suppliers `facts.day_changes` names: every
    supplier whose candidate facts differ between two days must be among them, or the day's
    lists would be silently stale. Read from every table on each day around each dated fact of
    a register with all of them (complaints entering and leaving the 12 months, credit ratings
    and other checks, permits decided, agreements starting and ending, a price confirmed), each
    pair of consecutive days: a fact that starts reading the date without day_changes knowing
    fails here."""
    from datetime import timedelta

    from sqlalchemy.orm import Session

    from placering.display import today
    from placering.rules import RegisterSnapshot
    from placering.rules.facts import day_changes, year_before
    from test_matching_support import supplier_of

    d = today() - timedelta(days=30)
    later = (d + timedelta(days=3)).isoformat()
    doc = load_register(
        run, tmp_path, *UNITS[:4], unit("U-START", price=3600, valid=(later, None)),
        unit("U-END", price=3700, valid=("2022-01-01", later)),
        unit("U-CONF", price=3800, extra_routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                  "daily_price": 3900, "price_confirmed_on": later}]))
    by = ("--by", "spink")
    for args in (("register", "complaint", "U-1", "--category", "treatment", "--on", later),
                 ("register", "complaint", "U-2", "--category", "treatment",
                  "--on", year_before(d + timedelta(days=2)).isoformat()),
                 ("register", "check", supplier_of(doc, "U-3"), "credit_rating", "--result", "pass", "--value", "70",
                  "--on", later),
                 ("register", "check", supplier_of(doc, "U-START"), "tax_registration", "--result", "pass", "--on", later),
                 ("register", "permit", "U-4", "--dnr", "8.1-U-4/2020", "--status", "revoked", "--on", later)):
        r = run(*args, *by)
        assert r.exit_code == 0, r.output
    days = [d + timedelta(days=i) for i in range(6)]
    with Session(engine) as session:
        facts = {}
        for day in days:
            snap = RegisterSnapshot.from_session(session, on=day)
            facts[day] = {(c["unit"]["unit_id"], c["route"]["route"]): c for cands in snap.by_insats.values()
                          for c in cands}
        changed_any = set()
        for before, after in zip(days, days[1:]):
            differ = {facts[after][k]["supplier"]["org_nr"] for k in facts[after]
                      if facts[before].get(k) != facts[after][k]}
            differ |= {facts[before][k]["supplier"]["org_nr"] for k in set(facts[before]) ^ set(facts[after])}
            assert differ <= day_changes(session, before, after), (before, after)
            changed_any |= differ
    # the register's dated facts did change between these days (the check is not empty)
    assert {supplier_of(doc, "U-1"), supplier_of(doc, "U-2"), supplier_of(doc, "U-3")} <= changed_any


def test_the_excluded_units_by_reason_equal_the_full_documents_without_building_its_explanations(
        run, engine, tmp_path, monkeypatch):
    """What `match` prints for a person (each reason's excluded units) comes from the per-rule
    sets of the decision just made, or of the stored one decided again: the same groups as the
    whole document's `excluded` list, whose explanations it does not build."""
    from placering.matching import compact, rebuild
    from placering.matching.decisions import request_model

    load_register(run, tmp_path, *UNITS)
    screen = run("match", str(write_request(tmp_path, request())), "--by", "h")
    assert screen.exit_code == 0, screen.output
    assert "Uteslutna: 3 enheter, per skäl" in screen.output and "U-AGE" in screen.output
    session, row, doc = _stored(engine)
    with session:
        req = request_model(row)
        full = rebuild.full_document(session, doc, req)
        expected = compact.excluded_by_reason(full)
        assert {u for g in expected for u in g["units"]} == {"U-AGE", "U-FULL", "U-D"}  # U-D held back
        assert compact.decided_here(doc) is not None  # the decision this process made

        def no_explanations(*args, **kwargs):
            raise AssertionError("explanations built")

        monkeypatch.setattr(rebuild, "expand", no_explanations)
        monkeypatch.setattr("placering.matching.matcher.excluded_entry", no_explanations)
        here = rebuild.grouped_document(session, doc, req)
        assert compact.excluded_by_reason(here) == expected
        assert compact.excluded_count(here) == compact.excluded_count(full) == 3
        compact._DECIDED.clear()  # another process: decided again from storage
        rebuild._REDECIDED.clear()
        assert compact.decided_here(doc) is None
        again = rebuild.grouped_document(session, doc, req)
        assert compact.excluded_by_reason(again) == expected and again["excluded"]["count"] == 3
        assert {k: v for k, v in again.items() if k != "excluded"} == {k: v for k, v in doc.items() if k != "excluded"}


def _columns(table) -> dict:
    """What a columnar table holds, by value (text codes and list bits read back)."""
    import numpy as np

    from placering.rules.vectorized import _kind

    items = sorted(table.list_bit, key=table.list_bit.get)
    out = {"unit_ids": table.unit_ids, "routes": table.routes, "members": table.unit_members,
           "geo": [g.tolist() for g in table.geo]}
    for path, values in table.values.items():
        null = table.null[path].tolist()
        if _kind(path) == "str":
            col = [None if c < 0 else table.str_vocab[c] for c in values.tolist()]
        elif _kind(path) == "list":
            col = [sorted(x for b, x in enumerate(items) if int(row[b // 64]) >> (b % 64) & 1)
                   for row in values.astype(np.uint64)]
        else:
            col = values.tolist()
        out[path] = (null, [None if n else v for n, v in zip(null, col)])
    return out


def test_a_list_changed_by_a_choice_or_a_new_day_has_its_columns_patched_from_the_stored_lists_table(
        run, engine, tmp_path, monkeypatch):
    """The next match after a choice (one unit's free places) and the first of a new day (a
    complaint leaving the 12 months) patch the stored list's columnar table (its disk cache)
    with the changed units' rows instead of building the whole table; what it holds equals the
    table built from the candidates, column by column."""
    from datetime import timedelta

    from placering.display import today
    from placering.matching.snapshots import load_snapshot
    from placering.rules import load_ruleset
    from placering.rules.facts import year_before
    from placering.rules.vectorized import Table, VectorizedEvaluator
    from test_matching_support import supplier_of

    # A disk cache of this test's own: the same lists on another database are cached already.
    monkeypatch.setenv("PLACERING_CACHE_DIR", str(tmp_path / "cache"))
    d0 = today()
    d1 = d0 + timedelta(days=1)
    doc = load_register(run, tmp_path, *UNITS, unit("U-6", price=3500, groups=("missbruk", "npf")))
    for args in (("register", "complaint", "U-2", "--category", "treatment", "--on", year_before(d1).isoformat()),
                 ("register", "check", supplier_of(doc, "U-3"), "credit_rating", "--result", "pass",
                  "--value", "80", "--on", d0.isoformat())):
        r = run(*args, "--by", "spink")
        assert r.exit_code == 0, r.output
    r = run("match", str(write_request(tmp_path, request("R-P"))), "--by", "h")  # stores d0's list and table
    assert r.exit_code == 0, r.output
    r = run("request", "choose", "R-P", "U-1", "--by", "h")
    assert r.exit_code == 0, r.output
    patched: list[bool] = []
    real = Table.patched

    def spy(self, *args):
        result = real(self, *args)
        patched.append(result is not None)
        return result

    monkeypatch.setattr(Table, "patched", spy)
    ruleset = load_ruleset()
    seen = []
    for on in (d0, d1):  # after the choice; the next day
        snap, _revision, _on = load_snapshot(engine, on=on, insatser=["hvb_barn_unga"])
        evaluator = VectorizedEvaluator(ruleset)
        evaluator.load(snap)
        patched.clear()
        table = evaluator.table("hvb_barn_unga")
        assert patched == [True], on
        cands = snap.candidates("hvb_barn_unga")
        assert _columns(table) == _columns(Table(cands, evaluator._paths)), on
        seen.append({c["unit"]["unit_id"]: c for c in cands})
    assert seen[0]["U-1"]["unit"]["free_places"] == seen[1]["U-1"]["unit"]["free_places"] == 1
    assert (seen[0]["U-2"]["unit"]["complaints_12m"], seen[1]["U-2"]["unit"]["complaints_12m"]) == (1, 0)
    assert seen[0]["U-3"]["supplier"]["credit_rating"] == seen[1]["U-3"]["supplier"]["credit_rating"] == 80


def test_a_decision_to_store_digests_its_held_back_units_as_the_whole_list_would(run, engine, tmp_path):
    """A batch's decision keeps its held-back units only as their count and digest, taken of
    each entry's JSON without building the list (matcher.decide's `protected`): the stored
    form is byte for byte the one of the whole document (protected pairs in bands, a unit with
    another route, one a rule excluded on that route), for a person protected or not."""
    from placering.matching.matcher import MatchContext, evaluate_and_decide
    from placering.matching.request import PlacementRequestIn
    from placering.matching.storing import stored_form

    load_register(run, tmp_path, *UNITS[:4], unit("U-D2", "direktupphandling", 2100),
                  unit("U-D3", "direktupphandling", 1900, protected=True, loc=(57.72, 11.95)),
                  unit("U-D4", "direktupphandling", 2500, loc=None),
                  unit("U-D5", "direktupphandling", 2200, agreement="DU-5", extra_routes=[
                      {"route": "ramavtal", "insats": "hvb_barn_unga", "daily_price": 2600, "agreement_id": "RA-X",
                       "valid_from": "2022-01-01", "valid_to": "2026-12-31", "buyers": ["Stockholm"],
                       "status": "active"}]),
                  UNITS[6])
    requests = [PlacementRequestIn.model_validate(request("R-1")),
                PlacementRequestIn.model_validate(request("R-2", person={
                    "age": 15, "gender": "female", "needs": ["missbruk"], "protected_identity": True}))]
    ctx = MatchContext.load(engine, engine="vectorized", insatser={"hvb_barn_unga"})
    for req in requests:
        lean = ctx.decide(req, compact=True)
        spec = {"candidates": ctx.snapshot.candidates(req.insats), "revision": ctx.revision, "as_of": ctx.as_of}
        whole = evaluate_and_decide(req, evaluator=ctx.evaluator, ruleset=ctx.ruleset, snapshot=ctx.snapshot,
                                    taxonomy=ctx.taxonomy, policy=ctx.policy(req.rules_day), compact=spec)
        held = whole["excluded"]["held_back"]
        assert {e["unit_id"] for e in held} == {"U-D", "U-D2", "U-D3", "U-D5"}  # U-D4: no position
        assert len(next(e for e in held if e["unit_id"] == "U-D5")["reasons"]) == 2  # and its ramavtal's reason
        assert json.dumps(stored_form(lean), ensure_ascii=False) == json.dumps(stored_form(whole), ensure_ascii=False)
    # The protected person's distances are bands in what was digested (else the digests above would differ).
    assert any("–" in str(e["eligible"]["distance_km"]) for e in held if e["eligible"]["distance_km"] is not None)

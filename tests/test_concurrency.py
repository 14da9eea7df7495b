"""Concurrent writers on SQLite and PostgreSQL: a change of a unit, an agreement or a review waits
for a concurrent change of the same thing and is then decided on the value that change left (no
lost update, history in the order the changes took effect); a writer that finds SQLite busy past
its timeout gets a clear message and writes nothing."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import date

import pytest
from conftest import snapshot
from sqlalchemy.engine import make_url

from placering.errors import InvariantViolation, PlaceringError
from placering.matching.review import decide_review
from placering.register.service import change_unit_status
from placering.storage import make_engine, transaction
from test_register_import import load
from test_review import _setup


class Second(threading.Thread):
    """`work(session)` in its own transaction on its own engine, started while the first holds
    its transaction open; remembers what it returned or raised."""

    def __init__(self, db_url: str, work):
        super().__init__(daemon=True)
        self.db_url, self.work = db_url, work
        self.result = self.error = None

    def run(self) -> None:
        engine = make_engine(self.db_url)
        try:
            with transaction(engine) as session:
                self.result = self.work(session)
        except PlaceringError as exc:
            self.error = exc
        finally:
            engine.dispose()


def while_held(engine, db_url, first, second) -> Second:
    """Run `first` in an open transaction, start `second` meanwhile, check it waits, commit."""
    with transaction(engine) as session:
        first(session)
        other = Second(db_url, second)
        other.start()
        time.sleep(0.4)
        assert other.is_alive(), "the second writer did not wait for the first"
    other.join(30)
    assert not other.is_alive()
    return other


def status_history(run, unit_id):
    result = run("register", "history", unit_id, "--json")
    assert result.exit_code == 0, result.output
    return [(h["changes"]["status"], h["actor"]) for h in json.loads(result.stdout) if h["action"] == "status"]


def test_two_maintainers_changing_one_unit_lose_no_update(run, tmp_path, engine, db_url):
    load(run, tmp_path)
    second = while_held(
        engine, db_url,
        lambda s: change_unit_status(s, "U-1001", "watch", actor="anna", note="kreditbetyg"),
        lambda s: change_unit_status(s, "U-1001", "recommendation_stop", actor="bertil", note="synpunkter"),
    )
    assert second.error is None
    # the second change was decided on the first's result, and history has both, in order
    assert status_history(run, "U-1001") == [(["published", "watch"], "anna"),
                                              (["watch", "recommendation_stop"], "bertil")]
    assert json.loads(run("register", "show", "U-1001", "--json").stdout)["status"] == "recommendation_stop"


def test_removed_racing_watch_leaves_no_removal_reason_on_a_live_unit(run, tmp_path, engine, db_url):
    load(run, tmp_path)
    second = while_held(
        engine, db_url,
        lambda s: change_unit_status(s, "U-1001", "removed", actor="anna", reason="ekonomiska_brister",
                                     note="samlad bedömning"),
        lambda s: change_unit_status(s, "U-1001", "watch", actor="bertil", note="bevakas"),
    )
    # the watch change saw the removal: a removed unit is re-admitted only after a new entry check
    assert isinstance(second.error, InvariantViolation)
    assert "removal is final" in str(second.error)
    shown = json.loads(run("register", "show", "U-1001", "--json").stdout)
    assert (shown["status"], shown.get("removal_reason")) == ("removed", "ekonomiska_brister")
    assert status_history(run, "U-1001") == [(["published", "removed"], "anna")]


def test_approve_and_reject_of_one_review_exactly_one_wins(run, tmp_path, engine, db_url):
    _doc, _d0, d1 = _setup(run, tmp_path, "reference")
    rid = d1["review_id"]
    second = while_held(
        engine, db_url,
        lambda s: decide_review(s, rid, approve=True, actor="granskare1", note="ok"),
        lambda s: decide_review(s, rid, approve=False, actor="granskare2", note="nej"),
    )
    assert isinstance(second.error, InvariantViolation)
    assert str(second.error) == f"review {rid} was already approved by granskare1; a decided review is not decided again"
    shown = json.loads(run("review", "show", str(rid), "--json").stdout)
    assert (shown["status"], shown["reviewer"]) == ("approved", "granskare1")
    log = json.loads(run("audit", "log", "--kind", "review", "--json").stdout)
    assert [(e["action"], e["actor"]) for e in log["entries"]] == [("review_approved", "granskare1")]


def test_racing_approve_and_reject_ten_times(run, tmp_path, db_url):
    """Free-running races (no ordering imposed): every round exactly one decision stands."""
    _doc, d0, d1 = _setup(run, tmp_path, "reference")
    ids = [d0["review_id"], d1["review_id"]]
    from test_matching_support import match_json, request

    for i in range(8):
        ids.append(match_json(run, tmp_path, request(f"R-X{i}"), "reference")["review_id"])
    for rid in ids:
        barrier = threading.Barrier(2)
        outcomes = []

        def decide(approve, who):
            engine = make_engine(db_url)
            try:
                barrier.wait()
                with transaction(engine) as s:
                    decide_review(s, rid, approve=approve, actor=who, note="n")
                outcomes.append(("ok", who))
            except InvariantViolation:
                outcomes.append(("refused", who))
            finally:
                engine.dispose()

        threads = [threading.Thread(target=decide, args=(True, "g1")), threading.Thread(target=decide, args=(False, "g2"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(o for o, _ in outcomes) == ["ok", "refused"], (rid, outcomes)
        winner = next(w for o, w in outcomes if o == "ok")
        shown = json.loads(run("review", "show", str(rid), "--json").stdout)
        assert (shown["status"], shown["reviewer"]) == ({"g1": "approved", "g2": "rejected"}[winner], winner)


def test_busy_sqlite_gives_a_clear_message_and_writes_nothing(run, tmp_path, engine, db_url, monkeypatch):
    if not db_url.startswith("sqlite"):
        return  # PostgreSQL writers wait on row locks, not on a database-wide lock
    load(run, tmp_path)
    before = snapshot(engine)
    holder = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        monkeypatch.setenv("PLACERING_BUSY_TIMEOUT", "0.3")
        result = run("register", "status", "U-1001", "watch", "--by", "kvalitet", "--note", "x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 5, result.output
    assert result.stderr == ("Fel: databasen är upptagen: en annan skrivare höll den längre än 0.3 s; inget skrevs, "
                             "försök igen (väntetiden sätts med PLACERING_BUSY_TIMEOUT)\n")
    assert "Traceback" not in result.output
    assert snapshot(engine) == before


def test_two_handlers_choosing_the_last_place_twenty_times(run, tmp_path, db_url):
    """Each round two handlers choose the unit's last free place for two requests at the same
    moment: exactly one placement, the other a clear conflict, nothing written for it, never
    fewer than zero free places. The winner's placement then ends, freeing the place again."""
    from placering.matching.decisions import choose, end_placement
    from placering.rules.ruleset import load_ruleset
    from test_matching_support import load_register, request, unit, write_request

    rounds = 20
    load_register(run, tmp_path, unit("U-L", places=1, free=1))
    reqs = [request(f"R-{i}-{side}") for i in range(rounds) for side in "ab"]
    result = run("match", str(write_request(tmp_path, reqs)), "--engine", "reference", "--by", "handläggare")
    assert result.exit_code == 0, result.output
    ruleset = load_ruleset(None)
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        for i in range(rounds):
            barrier = threading.Barrier(2)
            outcomes: dict[str, object] = {}

            def pick(side: str, engine) -> None:
                barrier.wait()
                try:
                    with transaction(engine) as s:
                        choose(s, f"R-{i}-{side}", "U-L", actor=f"handläggare-{side}", ruleset=ruleset)
                    outcomes[side] = "placed"
                except InvariantViolation as exc:
                    outcomes[side] = exc

            threads = [threading.Thread(target=pick, args=(side, eng)) for side, eng in zip("ab", engines)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            placed = [side for side, o in outcomes.items() if o == "placed"]
            assert len(placed) == 1, (i, outcomes)
            [loser] = [o for o in outcomes.values() if o != "placed"]
            assert "U-L" in str(loser) and ("free place" in str(loser) or "CAPACITY" in str(loser)), str(loser)
            shown = json.loads(run("register", "show", "U-L", "--json").stdout)
            assert shown["free_places"] == 0
            with transaction(engines[0]) as s:
                end_placement(s, f"R-{i}-{placed[0]}", end_on=date(2030, 1, 1), actor="handläggare")
    finally:
        for eng in engines:
            eng.dispose()
    log = json.loads(run("audit", "log", "--kind", "request", "--action", "chosen", "--json").stdout)
    assert len(log["entries"]) == rounds  # the losers wrote nothing
    assert json.loads(run("register", "show", "U-L", "--json").stdout)["free_places"] == 1


def test_bench_load_runs_mixed_writers_and_finds_the_register_consistent(run, db_url):
    """`bench load` itself: a small run on both back ends (the figures are printed, not asserted;
    what is asserted is that every operation was accounted for and the consistency checks ran)."""
    result = run("bench", "load", "--processes", "2", "--ops", "6", "--units", "30", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["processes"] == 2 and out["ops_per_process"] == 6
    assert sum(r["done"] + r["skipped"] for r in out["operations"]) == 12
    assert sum(r["errors"] for r in out["operations"]) == 0
    assert [c["ok"] for c in out["consistency"]] == [True] * 5
    assert json.loads(run("register", "history", "--json").stdout)  # the register was loaded and written


def test_two_declines_of_one_unit_for_one_request_one_clear_refusal(run, tmp_path, engine, db_url):
    from placering.matching.decisions import decline
    from test_matching_support import load_register, match_json, request, unit

    load_register(run, tmp_path, unit("U-1"), unit("U-2"))
    match_json(run, tmp_path, request("R-1"), "reference")
    second = while_held(
        engine, db_url,
        lambda s: decline(s, "R-1", "U-1", reason="fullt", actor="anna"),
        lambda s: decline(s, "R-1", "U-1", reason="fullt", actor="bertil"),
    )
    assert isinstance(second.error, InvariantViolation)
    assert str(second.error) == "unit U-1 has already declined request 'R-1'"


def test_a_deadlock_is_run_again_never_lost(run, tmp_path, db_url):
    """Two writers lock two units in opposite order: PostgreSQL breaks the deadlock by failing
    one, which run_transaction runs again from the start; both changes are in the register."""
    from sqlalchemy import select

    from placering.register.service import get_unit
    from placering.storage.database import run_transaction
    from placering.storage.models import Unit
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1"), unit("U-2"))
    barrier = threading.Barrier(2, timeout=10)
    retries, done = [], []

    def writer(first, second, who):
        engine = make_engine(db_url)
        state = {"attempt": 0}

        def work(s):
            state["attempt"] += 1
            get_unit(s, first, lock=True)
            if state["attempt"] == 1:
                try:
                    barrier.wait()  # both hold their first unit: the second lock closes the cycle
                except threading.BrokenBarrierError:
                    pass
            for uid in (first, second):
                u = s.scalars(select(Unit).where(Unit.unit_id == uid)).one()
                u.name = f"{u.name} {who}"
            get_unit(s, second, lock=True)

        try:
            run_transaction(engine, work, on_retry=lambda exc: retries.append(who))
            done.append(who)
        finally:
            engine.dispose()

    if db_url.startswith("sqlite"):
        barrier = threading.Barrier(1)  # SQLite's writer lock serialises them: no cycle to wait for
    threads = [threading.Thread(target=writer, args=("U-1", "U-2", "a")),
               threading.Thread(target=writer, args=("U-2", "U-1", "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(done) == ["a", "b"]
    if db_url.startswith("postgresql"):
        assert len(retries) == 1
    names = {json.loads(run("register", "show", u, "--json").stdout)["name"] for u in ("U-1", "U-2")}
    assert all(n.count(" a") == 1 and n.count(" b") == 1 for n in names), names


def test_a_servers_writers_queue_for_sqlite_instead_of_being_refused_as_busy(db_url, monkeypatch):
    """Many writer threads of one process (a server's thread pool) at once, each holding the
    write lock a while: each waits its turn and succeeds, although together they wait far
    longer than the busy timeout (SQLite's own polling wait refused the unlucky ones)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    import time

    from sqlalchemy import text as sql

    from placering.storage import make_engine, transaction

    monkeypatch.setenv("PLACERING_BUSY_TIMEOUT", "0.2")
    engine = make_engine(db_url)
    outcomes: list[str] = []

    def write(i: int) -> None:
        try:
            with transaction(engine) as session:
                session.execute(sql("UPDATE alembic_version SET version_num = version_num"))
                time.sleep(0.1)  # holds SQLite's write lock
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - what the writer met is the outcome
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    assert outcomes == ["ok"] * 8

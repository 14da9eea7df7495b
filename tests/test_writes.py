"""Writes on the database's own driver (storage/writes.py; `request choose`: matching/choice.py).

The CLI's choice runs in a transaction on sqlite3 or psycopg, the server's and the demo's in an
SQLAlchemy session: one function, so what they store must be the same, value for value, and
the guarantees of `storage.transaction` must hold on the driver too (the last free place is
taken once; a busy SQLite database is said clearly and nothing is written)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date, datetime, timezone

import pytest
from conftest import snapshot
from sqlalchemy.engine import make_url

from placering.errors import InvariantViolation
from test_matching_support import load_register, request, unit, write_request


def test_values_are_stored_as_sqlalchemy_stores_them():
    """`to_db` gives what SQLAlchemy's bind processors give for the models' column types (SQLite
    keeps them as text: a second, drifting spelling would read back wrong)."""
    from sqlalchemy.dialects import sqlite

    from placering.storage.models import History, Placement
    from placering.storage.writes import to_db

    dialect = sqlite.dialect()
    at = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc)
    samples = {History.__table__.c.at: at, History.__table__.c.effective_on: date(2026, 1, 31),
               History.__table__.c.changes: {"a": "åäö", "b": [1, 2.5, None], "c": {"d": True}},
               Placement.__table__.c.recommended: True, Placement.__table__.c.daily_price: 920.0,
               Placement.__table__.c.chosen_on: date(2025, 12, 1)}
    for column, value in samples.items():
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        assert to_db(value, "sqlite") == (process(value) if process else value), column


def test_the_register_read_for_a_recheck_is_the_orm_reads(run, tmp_path, engine, db_url):
    """The choice re-checks its unit against `register_document_of` (plain SQL on the driver);
    the match against `register_document` (SQLAlchemy Core): the same document, value for value."""
    from placering.rules.facts import register_document, register_document_of
    from placering.storage import open_session
    from placering.storage.writes import Database, driver_transaction
    from test_matching_support import supplier_of

    doc = load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", "egen_regi", None, protected=True),
                        unit("U-3", "direktupphandling", 1900, insats="socialt_boende", age=(18, 65), loc=None))
    assert run("register", "check", supplier_of(doc, "U-1"), "credit_rating", "--result", "pass", "--value", "80",
               "--on", "2026-01-02", "--by", "registervård").exit_code == 0
    assert run("complaint", "add", "U-1", "--category", "documentation", "--on", "2026-01-02",
               "--by", "registervård").exit_code == 0
    from sqlalchemy import text

    with open_session(engine) as session:
        ids = [r[0] for r in session.execute(text("SELECT id FROM supplier"))]
        orm = register_document(session, supplier_ids=ids)
    with driver_transaction(Database(db_url)) as tx:
        driver = register_document_of(tx, ids)
    assert driver == orm
    assert any(u["complaints"] for s in driver["suppliers"] for u in s["units"])


def _matched(run, tmp_path, n: int, *, free: int = 1) -> None:
    load_register(run, tmp_path, unit("U-L", places=free, free=free))
    result = run("match", str(write_request(tmp_path, [request(f"R-{i}") for i in range(n)])),
                 "--engine", "reference", "--by", "handläggare")
    assert result.exit_code == 0, result.output


def test_the_cli_and_a_session_store_the_same_choice(run, tmp_path, engine, db_url):
    """A choice through the CLI (the driver) and one in a session (the server, the demo) store
    the same placement and history entry, but for the request, the time and the actor."""
    from placering.matching.decisions import choose
    from placering.storage import transaction

    _matched(run, tmp_path, 2, free=2)
    assert run("request", "choose", "R-0", "U-L", "--by", "anna").exit_code == 0
    with transaction(engine) as session:
        choose(session, "R-1", "U-L", actor="anna")
    from sqlalchemy import select

    from placering.storage.models import History, Placement

    with engine.connect() as conn:  # as the ORM reads them back: typed
        placements = [dict(r._mapping) for r in conn.execute(select(Placement.__table__).order_by("id"))]
        chosen = [dict(r._mapping) for r in conn.execute(
            select(History.__table__).where(History.__table__.c.action == "chosen").order_by("id"))]
    assert isinstance(placements[0]["at"], datetime) and isinstance(placements[0]["start_on"], date)
    assert placements[0]["recommended"] is True
    for p in placements:
        for key in ("id", "request_id", "at"):
            p.pop(key)
    assert placements[0] == placements[1]
    assert [h["entity_id"] for h in chosen] == ["R-0", "R-1"]
    for h in chosen:
        assert isinstance(h["at"], datetime) and isinstance(h["effective_on"], date)
        for key in ("id", "at", "entity_id"):
            h.pop(key)
        h["changes"] = dict(h["changes"], free_places=None)
    assert chosen[0] == chosen[1]
    shown = json.loads(run("--json", "request", "show", "R-0").output)
    assert shown["placement"]["unit_id"] == "U-L" and shown["placement"]["by"] == "anna"


def test_the_last_place_is_taken_once_through_the_driver(run, tmp_path, db_url):
    """Four handlers choose the unit's last free place at the same moment, each in its own
    transaction on the driver (as four CLI processes would): one placement, three clear
    refusals, no negative free places, one history entry."""
    from placering.matching.choice import choose
    from placering.storage.writes import Database

    _matched(run, tmp_path, 4)
    barrier = threading.Barrier(4)
    outcomes: dict[int, object] = {}

    def pick(i: int) -> None:
        barrier.wait()
        try:
            choose(Database(db_url), f"R-{i}", "U-L", actor=f"handläggare-{i}")
            outcomes[i] = "placed"
        except InvariantViolation as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=pick, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(map(str, outcomes.values())).count("placed") == 1, outcomes
    assert all(o == "placed" or "U-L" in str(o) for o in outcomes.values()), outcomes
    assert json.loads(run("register", "show", "U-L", "--json").stdout)["free_places"] == 0
    log = json.loads(run("audit", "log", "--kind", "request", "--action", "chosen", "--json").stdout)
    assert len(log["entries"]) == 1


def test_a_busy_sqlite_database_refuses_a_choice_clearly_and_writes_nothing(run, tmp_path, engine, db_url, monkeypatch):
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    _matched(run, tmp_path, 1)
    before = snapshot(engine)
    holder = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the database
    try:
        monkeypatch.setenv("PLACERING_BUSY_TIMEOUT", "0.3")
        result = run("request", "choose", "R-0", "U-L", "--by", "anna")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 5, result.output
    assert result.stderr == ("Fel: databasen är upptagen: en annan skrivare höll den längre än 0.3 s; inget skrevs, "
                             "försök igen (väntetiden sätts med PLACERING_BUSY_TIMEOUT)\n")
    assert snapshot(engine) == before


def test_a_choice_in_a_session_rechecks_the_chosen_unit_not_its_neighbours(run, tmp_path, engine):
    """A session's choice (the server, the demo) re-checks the chosen unit alone under its
    supplier: another unit of the same supplier removed since the decision does not stop it, the
    chosen unit removed since is refused as on the CLI, and nothing is written then."""
    from placering.matching.decisions import choose
    from placering.storage import transaction

    from test_matching_support import register_doc

    doc = register_doc(unit("U-A", free=2), unit("U-B", free=2))
    first, second = doc["suppliers"]
    first["units"].append(second["units"][0])  # one supplier, two units
    doc["suppliers"] = [first]
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("register", "import", str(path), "--apply-status", "--by", "registervård").exit_code == 0
    result = run("match", str(write_request(tmp_path, [request("R-0"), request("R-1"), request("R-2")])),
                 "--engine", "reference", "--by", "handläggare")
    assert result.exit_code == 0, result.output
    # IVO revokes U-B's permit after the decisions: the rule removes U-B.
    r = run("register", "permit", "U-B", "--dnr", "8.1-U-B/2020", "--status", "revoked", "--on", "2024-09-01",
            "--by", "ivo")
    assert r.exit_code == 0, r.output
    with transaction(engine) as session:
        placed = choose(session, "R-0", "U-A", actor="anna", reason="närmast")
    assert placed.unit_id == "U-A" and placed.status == "active"
    before = snapshot(engine)
    with pytest.raises(InvariantViolation) as refused, transaction(engine) as session:
        choose(session, "R-1", "U-B", actor="anna", reason="närmast")
    said = str(refused.value)
    assert "U-B is no longer eligible" in said and "registerstatus är Borttagen" in said and "8.1-U-B/2020" in said
    assert snapshot(engine) == before
    cli = run("request", "choose", "R-2", "U-B", "--reason", "närmast", "--by", "anna")
    assert cli.exit_code == 4 and "är inte längre möjlig" in cli.stderr and "registerstatus: " in cli.stderr
    assert snapshot(engine) == before

"""Every bypass of issue 17, reproduced as the attacker did it, now refused by the database.

With a person's own login (plain SQL, as anyone with a login and psql would): a Mölndal social
worker inserting a register snapshot; `update unit set free_places=99`; an approved review of
one's own case; a reviewer deleting an active placement; a handler changing a decision's
review_required and a placement's price; a maintainer publishing a removed unit; a social worker
inserting register history under their own name; every role reading user_account. With the
service login (and the superuser where a trigger is the guard): history rewritten, a blob that
does not match its sha256, free places changed without a placement. And on both databases: a
tampered stored snapshot or rule set is not used; the next match recommends as before."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from test_matching_support import load_register, match_json, request, unit, write_request
from test_roles import as_, people, principal, register, sql  # noqa: F401 (people: a fixture)


@pytest.fixture
def scene(people, db_url, engine, tmp_path):
    """Cases the attackers go for, written through the service login: Göteborg's R-G1 chosen at
    U-1 (its one free place; an active placement) by handler hanna; a direct-procurement case
    R-DP of hanna's waiting for review; a removed unit U-R (besides the people fixture's U-1, U-2
    and U-D)."""
    p = people
    load_register(as_login_run(db_url, p["svc"]), tmp_path, unit("U-3", free=2),
                  unit("U-R", status="removed", removal_reason="ekonomiska_brister"))
    r = as_(db_url, p["svc"], "match", str(write_request(tmp_path, request("R-G1"))), "--engine", "reference",
            "--by", "hanna")
    assert r.exit_code == 0, r.output
    r = as_(db_url, p["svc"], "request", "choose", "R-G1", "U-1", "--by", "hanna")
    assert r.exit_code == 0, r.output
    r = as_(db_url, p["svc"], "match", str(write_request(tmp_path, request("R-DP", "socialt_boende", "akutboende", age=30))),
            "--engine", "reference", "--json", "--by", "hanna")
    assert r.exit_code == 0, r.output
    return {**p, "review_id": json.loads(r.stdout)["review_id"]}


def as_login_run(db_url, login):
    def _run(*args, input=None):
        return as_(db_url, login, *args, "--by", "registervård", input=input)
    return _run


def denied(result) -> bool:
    return isinstance(result, tuple) and result[0] == "42501"


def test_every_bypass_with_a_persons_own_login_is_refused(scene, db_url, engine):
    p = scene
    before = register(engine)
    stored = sql(db_url, "postgres", "SELECT count(*) FROM register_snapshot")
    # A Mölndal social worker inserts a register snapshot in which every HVB unit is removed
    # (and the blob, and a rule set, and history for it).
    attempts = {
        "register snapshot": (p["swm"], "INSERT INTO register_snapshot (revision, as_of, insats, digest, created_at) "
                              "VALUES (999999, CURRENT_DATE, 'hvb_barn_unga', 'ab', now())"),
        "snapshot blob": (p["swm"], "INSERT INTO snapshot_blob (digest, data, created_at) VALUES ('ab', 'x', now())"),
        "rule set": (p["swm"], "INSERT INTO rule_set (version, files, created_at) VALUES ('v', '{}', now())"),
        # a handler: free places by hand, and an approved review of their own case
        "free places": (p["hand"], "UPDATE unit SET free_places = 99 WHERE unit_id = 'U-1'"),
        "own review": (p["hgr"], "INSERT INTO review (request_id, decision_id, status, created_at, reviewer) "
                       "SELECT request_id, id, 'approved', now(), 'hanna' FROM decision LIMIT 1"),
        # a reviewer deletes an active placement
        "delete placement": (p["gransk"], "DELETE FROM placement"),
        # a handler changes a decision's review_required and a placement's price
        "review_required": (p["hand"], "UPDATE decision SET review_required = false"),
        "price": (p["hand"], "UPDATE placement SET daily_price = 1, agreed_price = 1"),
        # a maintainer publishes a removed unit
        "publish removed": (p["maint"], "UPDATE unit SET status = 'published', removal_reason = NULL "
                            "WHERE unit_id = 'U-R'"),
        # a social worker writes register history under their own name
        "history": (p["swg"], "INSERT INTO history (at, effective_on, actor, entity_kind, entity_id, action, unit_id, "
                    f"changes) VALUES (now(), CURRENT_DATE, '{p['swg']}', 'unit', 'U-1', 'status', 'U-1', "
                    "'{\"status\": [\"published\", \"removed\"]}')"),
        "history update": (p["adm"], "UPDATE history SET actor = 'x'"),
        "history delete": (p["adm"], "DELETE FROM history"),
    }
    for what, (login, statement) in attempts.items():
        assert denied(sql(db_url, login, statement)), what
    # every role: nobody's login reads the accounts (an admin reads the columns that hold no secret)
    for short in ("hand", "swm", "swg", "maint", "ink", "gransk", "revisor"):
        assert denied(sql(db_url, p[short], "SELECT login FROM user_account")), short
    assert denied(sql(db_url, p["adm"], "SELECT * FROM user_account"))  # password hashes are among them
    assert (p["adm"], None) in sql(db_url, p["adm"], "SELECT login, municipality FROM user_account")
    for column in ("password_hash",):
        assert denied(sql(db_url, p["adm"], f"SELECT {column} FROM user_account")), column
    for short in ("adm", "revisor"):
        assert denied(sql(db_url, p[short], "SELECT token_hash FROM api_token")), short
    assert register(engine) == before
    assert sql(db_url, "postgres", "SELECT count(*) FROM register_snapshot") == stored
    # what `audit paused` reads was not changed: U-1 is published
    shown = json.loads(as_(db_url, p["revisor"], "register", "show", "U-1", "--json").stdout)
    assert (shown["status"], shown["free_places"]) == ("published", 0)


def test_the_service_login_cannot_rewrite_history_store_a_false_blob_or_make_free_places(scene, db_url, engine):
    p = scene
    hanna = principal("hanna", ["handler"])
    before = register(engine)
    for statement in ("UPDATE history SET actor = 'x'", "DELETE FROM history", "TRUNCATE history"):
        assert denied(sql(db_url, p["svc"], statement, acting=hanna)), statement  # no privilege
        # nor the installation superuser, whose privileges a trigger does not care about
        assert sql(db_url, "postgres", statement) == ("P0001", "history is append-only"), statement
    # a blob is stored under its content's sha256 only
    code, message = sql(db_url, p["svc"], "INSERT INTO snapshot_blob (digest, data, created_at) VALUES "
                        "(:d, 'x', now())", d=hashlib.sha256(b"y").hexdigest(), acting=hanna)
    assert code == "23514" and "does not match its content" in message
    assert denied(sql(db_url, p["svc"], "UPDATE snapshot_blob SET data = 'x'", acting=hanna))
    # a unit is never deleted (to come back with other free places)
    assert denied(sql(db_url, p["svc"], "DELETE FROM unit WHERE unit_id = 'U-3'", acting=hanna))
    # free places change only with placements, for the service and the superuser alike
    for login in (p["svc"], "postgres"):
        code, message = sql(db_url, login, "UPDATE unit SET free_places = 99 WHERE unit_id = 'U-1'", acting=hanna)
        assert code == "23514", (login, code, message)
        assert "the free places of unit U-1 changed by 99 without placements taking or freeing them" in message
        # a placement that takes another place with the unit's free places left as they were
        code, message = sql(db_url, login, "UPDATE placement SET places = 2", acting=hanna)
        assert code == "23514" and "unit U-1 changed by 0" in message, (login, message)
    assert register(engine) == before


def test_free_places_follow_placements_and_nothing_else(scene, db_url, engine):
    p = scene
    hanna = principal("hanna", ["handler"])
    # the placement ends: its place is free again, in the same transaction (allowed)
    r = as_(db_url, p["svc"], "request", "end", "R-G1", "--on", "2024-12-01", "--by", "hanna")
    assert r.exit_code == 0, r.output
    assert sql(db_url, "postgres", "SELECT free_places FROM unit WHERE unit_id = 'U-1'") == [(1,)]
    before = register(engine)
    # a placement deleted, or its places changed, with free places made up to match: refused
    code, message = sql(db_url, p["svc"], "UPDATE unit SET free_places = 0 WHERE unit_id = 'U-3'", acting=hanna)
    assert code == "23514" and "unit U-3 changed by -2" in message
    # taking places by hand and a placement that takes none: refused too
    code, _ = sql(db_url, "postgres", "UPDATE unit SET free_places = free_places - 1 WHERE unit_id = 'U-1'")
    assert code == "23514"
    assert register(engine) == before


# --- stored snapshots and rule sets: checked when read, on both databases ------------------------


def tamper(engine, statement: str, **params) -> None:
    """Plain SQL past every guard: on PostgreSQL as the superuser with triggers off (as someone
    holding the server's files could), on SQLite as anyone with the file."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text(statement), params)


def test_a_tampered_snapshot_blob_is_not_used_but_built_again(run, engine, tmp_path):
    from placering.matching.snapshots import encode_candidates

    load_register(run, tmp_path, unit("U-1"), unit("U-2"), unit("U-3"))
    first = match_json(run, tmp_path, request("R-1"), "reference", "--by", "anna")
    recommended = [r["unit_id"] for r in first["recommendations"]]
    assert recommended
    with engine.connect() as conn:
        digest = conn.execute(text("SELECT digest FROM register_snapshot WHERE insats = 'hvb_barn_unga'")).scalar_one()
    # the attack of issue 17: the stored candidate list says there are no HVB units
    tamper(engine, "UPDATE snapshot_blob SET data = :d WHERE digest = :k", d=encode_candidates([]), k=digest)
    r = run("match", str(write_request(tmp_path, request("R-2"))), "--engine", "reference", "--json", "--by", "anna")
    assert r.exit_code == 0, r.output
    assert [x["unit_id"] for x in json.loads(r.stdout)["recommendations"]] == recommended
    assert r.stderr.startswith("Varning: det sparade registerutdraget för revision "), r.stderr
    assert f"kandidatlistan {digest} stämmer inte med sin sha256; den används inte; det byggs om från registret" in r.stderr
    with engine.connect() as conn:  # discarded and stored again, true to its digest
        data = conn.execute(text("SELECT data FROM snapshot_blob WHERE digest = :k"), {"k": digest}).scalar_one()
    assert hashlib.sha256(data).hexdigest() == digest
    r = run("match", str(write_request(tmp_path, request("R-3"))), "--engine", "reference", "--json", "--by", "anna")
    assert (r.exit_code, r.stderr) == (0, "")


def test_tampered_rule_files_are_refused_or_replaced(run, engine, tmp_path):
    from placering.matching.snapshots import SnapshotError, ruleset_of_version
    from placering.rules import load_ruleset
    from placering.storage import open_session

    load_register(run, tmp_path, unit("U-1"))
    match_json(run, tmp_path, request("R-1"), "reference", "--by", "anna")
    version = load_ruleset().version
    tamper(engine, "UPDATE rule_set SET files = :f WHERE version = :v", f='{"rules.yaml": "rules: []"}', v=version)
    r = run("match", str(write_request(tmp_path, request("R-2"))), "--engine", "reference", "--by", "anna")
    assert r.exit_code == 0, r.output
    assert f"Varning: de sparade regelfilerna för regelversion {version} är inte den versionens filer" in r.stderr
    with engine.connect() as conn:
        files = json.loads(conn.execute(text("SELECT CAST(files AS TEXT) FROM rule_set WHERE version = :v"),
                                        {"v": version}).scalar_one())
    from placering.matching.snapshots import ruleset_files

    assert files == ruleset_files(load_ruleset())
    # files stored under a version they are not: refused when read
    tamper(engine, "INSERT INTO rule_set (version, files, created_at) VALUES ('0123abcd', :f, CURRENT_TIMESTAMP)",
           f=json.dumps(files))
    with open_session(engine) as s, pytest.raises(SnapshotError, match="load as version"):
        ruleset_of_version(s, "0123abcd")


def test_an_import_does_not_change_free_places_but_moves_them_with_capacity(run, engine, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1", places=6, free=2), unit("U-2", places=6, free=2))
    units = {u["unit_id"]: u for s in doc["suppliers"] for u in s["units"]}
    units["U-1"]["free_places"] = 5  # the file says more free places: kept as the register has them
    units["U-2"]["places"] = 8  # two more places: two more free
    path = tmp_path / "again.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = run("register", "import", str(path), "--by", "registervård", "--json")
    assert r.exit_code == 0, r.output
    assert {"kind": "unit", "id": "U-1", "field": "free_places", "register": 2, "file": 5,
            "why": "free places change only through placements (choose, end, review)"} in json.loads(r.stdout)["kept"]
    shown = {u: json.loads(run("register", "show", u, "--json").stdout) for u in ("U-1", "U-2")}
    assert [(s["places"], s["free_places"]) for s in shown.values()] == [(6, 2), (8, 4)]
    units["U-2"]["places"] = 3  # fewer places than the four taken
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    r = run("register", "import", str(path), "--by", "registervård")
    assert r.exit_code == 2 and "platser 3 är färre än de 4 platser som är tagna vid enheten" in r.stderr, r.output

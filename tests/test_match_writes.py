"""A short file's match stored on a write transaction (matching/storing.py): the CLI's on the
database's own driver, the server's in a session, and a batch's chunk (decisions.BatchWriter)
store the same rows: the request, its decision (with its excluded units by reason), the
history entry `matched` and the review of a decision that goes to direct procurement. And the
fast check of a request (request.plain_request) accepts only what the model accepts, with the
very same stored form."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from test_matching_support import load_register, request, unit, write_request

TABLES = {
    "placement_request": "SELECT * FROM placement_request WHERE request_id LIKE :p ORDER BY id",
    "decision": "SELECT d.* FROM decision d JOIN placement_request r ON r.id = d.request_id "
                "WHERE r.request_id LIKE :p ORDER BY d.id",
    "history": "SELECT * FROM history WHERE entity_id LIKE :p ORDER BY id",
    "review": "SELECT v.* FROM review v JOIN placement_request r ON r.id = v.request_id "
              "WHERE r.request_id LIKE :p ORDER BY v.id",
}
# Row ids, the times rows are written and the ids naming other rows differ; every other value
# must be the same.
VARYING = {"id", "created_at", "at", "request_id", "decision_id"}


def _rows(engine, prefix: str) -> dict[str, list[dict]]:
    out = {}
    with engine.connect() as conn:
        for table, sql in TABLES.items():
            rows = []
            for r in conn.execute(text(sql), {"p": prefix + "-%"}):
                row = {k: v for k, v in r._mapping.items() if k not in VARYING}
                raw = json.dumps(row, default=lambda v: v.hex() if isinstance(v, (bytes, memoryview)) else str(v),
                                 ensure_ascii=False, sort_keys=True)
                raw = re.sub(r'(\\?"review_id\\?": )\d+', r"\g<1>0", raw)  # the review's row id (VARYING)
                rows.append(json.loads(raw.replace(f'"{prefix}-', '"X-')))
            out[table] = rows
    return out


def _requests(prefix: str) -> list[dict]:
    return [request(f"{prefix}-1"), request(f"{prefix}-2", "skyddat_boende", "vinr_heder", age=30, needs=()),
            request(f"{prefix}-3", "socialt_boende", None, age=40, needs=())]


def test_a_short_file_stores_the_rows_a_batch_stores(run, tmp_path, engine, db_url):
    """`placering match` of a short file (the driver), the server's match of it (views.match on
    an engine: a session) and a batch's chunk store the same rows, value for value."""
    from placering.matching.request import validate_request
    from placering.matching.views import decide_all, match

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", "egen_regi", None),
                  unit("U-S", "ramavtal", 1800, insats="skyddat_boende", age=(18, 65), subs=["vinr_heder"]),
                  unit("U-D", "direktupphandling", 2100, insats="socialt_boende", age=(18, 65), subs=[]))
    done = run("match", str(write_request(tmp_path, _requests("T"), "t.jsonl")), "--by", "handläggare")
    assert done.exit_code == 0, done.output
    data = write_request(tmp_path, _requests("S"), "s.jsonl").read_bytes()
    answer = match(engine, data, "s.jsonl", actor="handläggare", documents_as="stored")
    assert [r["decided_now"] for r in answer["results"]] == [True, True, True]
    decide_all(engine, [validate_request(r) for r in _requests("B")], actor="handläggare")
    driver, session, batch = _rows(engine, "T"), _rows(engine, "S"), _rows(engine, "B")
    assert [len(driver[t]) for t in TABLES] == [3, 3, 3, 1]  # the direct procurement's review
    assert driver == batch
    assert session == batch
    # Run again: nothing is added, and the same summaries come back (decided before).
    again = match(engine, data, "s.jsonl", actor="handläggare", documents_as="stored")
    assert [r["decided_now"] for r in again["results"]] == [False, False, False]
    assert [dict(r, decided_now=True) for r in again["results"]] == answer["results"]
    assert _rows(engine, "S") == session


def _long(prefix: str) -> list[dict]:
    """A file long enough to be a batch (views.LARGE_BATCH): the three kinds, with other ages."""
    kinds = _requests(prefix)
    out = []
    for i in range(21):
        doc = json.loads(json.dumps(kinds[i % 3]))
        doc["request_id"] = f"{prefix}-{i + 1:02d}"
        doc["person"]["age"] += i // 3
        out.append(doc)
    return out


def test_a_batch_stores_in_committed_chunks_the_rows_one_request_at_a_time_stores(run, tmp_path, engine):
    """A batch file (matching/storing.match_batch: the CLI's on the driver, the server's in
    sessions) writes each chunk's rows together, and stores what a session's batch
    (views.decide_all) stores; a batch stopped after some chunks is finished by running it again."""
    from placering.matching.request import validate_request
    from placering.matching.views import LARGE_BATCH, decide_all, match

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", "egen_regi", None, age=(13, 19)),
                  unit("U-S", "ramavtal", 1800, insats="skyddat_boende", age=(18, 65), subs=["vinr_heder"]),
                  unit("U-D", "direktupphandling", 2100, insats="socialt_boende", age=(18, 65), subs=[]))
    assert len(_long("T")) >= LARGE_BATCH
    # The first seven as a file of their own (as if the batch had stopped after them) ...
    first = run("match", str(write_request(tmp_path, _long("T")[:7], "t7.jsonl")), "--by", "handläggare")
    assert first.exit_code == 0, first.output
    # ... then the whole file, in chunks of five: the seven are not decided again.
    done = run("--json", "match", str(write_request(tmp_path, _long("T"), "t.jsonl")), "--by", "handläggare",
               "--commit-every", "5")
    assert done.exit_code == 0, done.output
    assert [r["decided_now"] for r in json.loads(done.output)] == [False] * 7 + [True] * 14
    data = write_request(tmp_path, _long("S"), "s.jsonl").read_bytes()
    answer = match(engine, data, "s.jsonl", actor="handläggare", documents_as="stored", commit_every=4)
    assert [r["decided_now"] for r in answer["results"]] == [True] * 21
    decide_all(engine, [validate_request(r) for r in _long("B")], actor="handläggare", commit_every=6)
    driver, session, batch = _rows(engine, "T"), _rows(engine, "S"), _rows(engine, "B")
    assert [len(driver[t]) for t in TABLES] == [21, 21, 21, 7]  # the direct procurements' reviews
    assert driver == batch
    assert session == batch
    with engine.connect() as conn:  # each request's rows written together, in the file's order
        ids = conn.execute(text("SELECT r.request_id, d.id FROM decision d JOIN placement_request r "
                                "ON r.id = d.request_id WHERE r.request_id LIKE 'S-%' ORDER BY r.id")).all()
    assert [r for r, _ in ids] == [f"S-{i:02d}" for i in range(1, 22)]
    assert [d for _, d in ids] == sorted(d for _, d in ids)


def test_a_request_stored_with_other_content_is_refused_and_nothing_is_stored(run, tmp_path, engine):
    load_register(run, tmp_path, unit("U-1", free=3))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    before = _rows(engine, "R")
    changed = write_request(tmp_path, [request("R-2"), request("R-1", age=16)], "c.jsonl")
    refused = run("match", str(changed), "--by", "h")
    assert refused.exit_code != 0 and "R-1" in refused.output and "person.age" in refused.output
    assert _rows(engine, "R") == before


# --- the fast check ---------------------------------------------------------------------------

def _variants() -> list:
    base = request("R-1", home_location={"lat": 57.7, "lon": 11.9}, max_distance_km=50, max_daily_price=5000,
                   avoid_municipalities=["göteborg", "Göteborg", "Mölndal"], network_considered=False, places=2)
    out = [base, request("R-2"), request("R-3", "skyddat_boende", "vinr_heder", age=30, needs=())]
    changes = [("request_id", " R-4 "), ("request_id", "R 4"), ("request_id", "x" * 65), ("submitted_on", "2024-9-01"),
               ("submitted_on", "2024-02-30"), ("submitted_on", 20240901), ("municipality", "göteborg"),
               ("municipality", "Atlantis"), ("requester", ""), ("insats", "okänd"), ("subcategory", "behandling"),
               ("subcategory", "vinr_heder"), ("legal_basis", "LVU "), ("urgency", "nu"), ("places", 0), ("places", 21),
               ("places", True), ("places", 2.0), ("home_municipality", "mölndal"), ("home_location", {"lat": 10, "lon": 10}),
               ("home_location", {"lat": 57.7}), ("max_distance_km", 0), ("max_distance_km", "5"),
               ("max_daily_price", float("inf")), ("max_daily_price", -1), ("avoid_municipalities", "Göteborg"),
               ("network_considered", "ja"), ("unknown", 1), ("requester", "19121212-1212")]
    for key, value in changes:
        out.append(dict(base, **{key: value}))
    for key, value in [("age", 121), ("age", -1), ("age", 15.0), ("age", True), ("gender", "kvinna"),
                       ("needs", ["missbruk", "missbruk"]), ("needs", ["okänt"]), ("protected_identity", 1),
                       ("name", "Anna")]:
        out.append(dict(base, person=dict(base["person"], **{key: value})))
    out.append({k: v for k, v in base.items() if k != "urgency"})
    out.append(dict(base, max_distance_km=10, home_location=None, home_municipality=None))
    return out


def test_the_fast_check_accepts_only_what_the_model_accepts_with_the_same_payload():
    from placering.demo import generate_requests
    from placering.errors import ValidationError
    from placering.matching.request import plain_request, validate_request

    accepted = refused = 0
    for doc in _variants() + generate_requests(60):
        fast = plain_request(doc)
        try:
            model = validate_request(doc)
        except ValidationError:
            assert fast is None, doc
            refused += 1
            continue
        if fast is not None:
            assert json.dumps(fast.payload()) == json.dumps(model.payload()), doc
            for name in ("request_id", "insats", "subcategory", "submitted_on", "start_on", "rules_day", "places",
                         "municipality", "home_municipality", "max_distance_km", "avoid_municipalities"):
                assert getattr(fast, name) == getattr(model, name), name
            assert fast.home_point() == model.home_point()
            assert [n.value for n in fast.person.needs] == [n.value for n in model.person.needs]
            accepted += 1
    assert accepted >= 60 and refused >= 25


@pytest.mark.parametrize("doc", [{"request_id": "R-1"}, request("R-1", places=0)])
def test_a_request_the_fast_check_doubts_is_refused_by_the_model_with_its_messages(tmp_path, doc):
    """What the model says of a refused request is what the file gets (file, field, Swedish)."""
    from placering.errors import ValidationError
    from placering.matching.request import parse_requests, validate_request

    with pytest.raises(ValidationError) as model:
        validate_request(doc, file="f.json")
    with pytest.raises(ValidationError) as parsed:
        parse_requests(json.dumps(doc).encode(), "f.json")
    assert [str(p) for p in parsed.value.problems] == [str(p) for p in model.value.problems]


def test_match_json_gives_the_whole_document_the_orm_rebuilds(run, tmp_path, engine):
    """`match --json` of one request rebuilds the whole document (every excluded unit with its
    reasons) on the write transaction: the document the ORM's read of the stored decision
    gives (views.documents), when decided now and when decided before."""
    from placering.matching.views import documents

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", age=(16, 20)), unit("U-3", free=0),
                  unit("U-D", "direktupphandling", 2100))
    path = write_request(tmp_path, request("R-1"))
    for _ in range(2):
        done = run("--json", "match", str(path), "--by", "handläggare")
        assert done.exit_code == 0, done.output
        shown = json.loads(done.output)
        assert shown == next(iter(documents(engine, ["R-1"], full=True)))
        assert {e["unit_id"] for e in shown["excluded"]} >= {"U-2", "U-3"}

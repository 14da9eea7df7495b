"""A batch stores what one request at a time stores (issue 22 item 3).

`placering match FILE.jsonl` writes a chunk's requests, decisions, history and reviews
together (`BatchWriter`); `match_request` without a batch (the demo's history, the mixed-load
bench) writes each as it is decided. Both go through the same library functions, and what they
store must be the same: every decision's document (its `review_id` aside, a row id), the review
opened for a direct procurement, the `matched` history entry, the stored request, and the
excluded units by reason (`request show`'s groups: bit sets over a unit index stored beside them).
"""

from __future__ import annotations

import json

from sqlalchemy import text

from test_matching_support import load_register, request, unit, write_request

UNITS = [unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200),
         unit("U-AGE", age=(16, 19)), unit("U-FULL", free=0), unit("U-D", "direktupphandling", 2000),
         unit("U-DX", "direktupphandling", 2500, age=(18, 20), loc=(57.75, 12.05), protected=True),
         unit("U-E", "egen_regi", None, loc=(57.65, 11.90), age=(14, 15))]


def _requests(prefix: str) -> list[dict]:
    return [request(f"{prefix}-1"), request(f"{prefix}-2", age=16), request(f"{prefix}-3", age=20),
            request(f"{prefix}-4", age=17, gender="male", needs=("kriminalitet", "missbruk")),
            request(f"{prefix}-5", age=15, subcategory="behandling"),
            dict(request(f"{prefix}-6", age=14), person={"age": 14, "gender": "female", "needs": ["missbruk"],
                                                          "protected_identity": True}),
            # As -2 but for one value: a batch shares the other rules' states between them (issue 22).
            request(f"{prefix}-7", age=16, home_location={"lat": 59.33, "lon": 18.06}), request(f"{prefix}-8", age=16, max_daily_price=3050)]


def _stored(engine, prefix: str) -> list[dict]:
    """Every stored row of the prefix's requests, ids of rows (and the prefix) left out."""
    def plain(value):
        if isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        return json.loads(json.dumps(value, default=str).replace(f'"{prefix}-', '"X-'))

    from placering.matching.compact import _INDEXES, decode_grouped, grouped_units

    out = []
    with engine.connect() as conn:
        def blob(digest):
            return conn.execute(text("SELECT data FROM snapshot_blob WHERE digest = :d"), {"d": digest}).scalar()

        for rid, payload, created_by, insats in conn.execute(text(
                "SELECT request_id, payload, created_by, insats FROM placement_request WHERE request_id LIKE :p "
                "ORDER BY request_id"), {"p": f"{prefix}-%"}):
            decisions = conn.execute(text(
                "SELECT d.seq, d.rules_version, d.evaluated_on, d.review_required, d.document, d.created_by, "
                "r.status, r.unit_id, r.id, d.excluded_units FROM decision d JOIN placement_request p ON p.id = d.request_id "
                "LEFT JOIN review r ON r.decision_id = d.id WHERE p.request_id = :r ORDER BY d.seq"),
                {"r": rid}).all()
            history = conn.execute(text(
                "SELECT actor, entity_kind, action, effective_on, changes, unit_id, org_nr, note, rules_version "
                "FROM history WHERE entity_id = :r ORDER BY id"), {"r": rid}).all()
            rows = []
            for seq, version, evaluated_on, review, doc, by, status, review_unit, review_id, groups in decisions:
                doc = plain(doc)
                assert doc.get("review_id") == review_id  # the document names its review's row
                doc.pop("review_id", None)
                # The excluded units by reason: bit sets over the unit index they name, stored beside them.
                index = grouped_units(groups)
                assert index is not None and blob(index) is not None
                _INDEXES.clear()
                rows.append([seq, version, str(evaluated_on), bool(review), doc, by, status, review_unit,
                             decode_grouped(groups, blob)])
            out.append({"request": [plain(payload), created_by, insats], "decisions": rows,
                        "history": [[plain(v) for v in h] for h in history]})
    return out


def test_a_batch_stores_what_one_request_at_a_time_stores(run, engine, tmp_path):
    from placering.matching.decisions import match_request
    from placering.matching.matcher import MatchContext
    from placering.matching.request import validate_request
    from placering.storage import transaction

    load_register(run, tmp_path, *UNITS)
    # One at a time: each request decided and stored in its own transaction, nothing batched.
    context = MatchContext.load(engine, engine="vectorized")
    for raw in _requests("A"):
        with transaction(engine) as session:
            match_request(session, validate_request(raw), context=context, actor="h")
    # The same requests as one batch file (chunks of 4).
    path = write_request(tmp_path, _requests("B"), name="batch.jsonl")
    result = run("match", str(path), "--by", "h", "--commit-every", "4")
    assert result.exit_code == 0, result.output

    one, batch = _stored(engine, "A"), _stored(engine, "B")
    assert len(one) == 8 and all(r["decisions"] and r["history"] for r in one)
    # The requests differing in one value are decided differently: the values are not mixed up.
    recommended = {r["request"][0]["request_id"]: [x["unit_id"] for x in r["decisions"][0][4]["recommendations"]]
                   for r in one}
    assert recommended["X-2"] != recommended["X-7"] and recommended["X-2"] != recommended["X-8"]
    assert any(d[3] and d[6] == "pending" for r in one for d in r["decisions"])  # a direct procurement's review
    assert batch == one

"""Compare the stored decisions of two databases that decided the same requests (issue 22 item 3).

    .venv/bin/python scripts/compare_decisions.py URL_A URL_B

For example a batch run before and after a change to the evaluator or the matcher, each on a
copy of one prepared register (`placering match requests.jsonl --by bench`). Compared per
request and decision seq: rules version, evaluation day, review required, the document (as
stored), who decided, the excluded units by reason (their stored bytes), the review's status and
unit, and the request's `matched` history entries (action, day, changes, rules version). Row ids
and times are not compared. Exit 0 when everything is the same, 1 when anything differs (the
first differences named)."""

from __future__ import annotations

import hashlib
import json
import sys

from sqlalchemy import create_engine, text


def _plain(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, str) and value[:1] in "{[":
        value = json.loads(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def stored(url: str) -> tuple[dict, dict]:
    engine = create_engine(url)
    decisions, history = {}, {}
    with engine.connect() as conn:
        for row in conn.execute(text(
                "SELECT p.request_id, d.seq, d.rules_version, d.evaluated_on, d.review_required, d.document, "
                "d.created_by, d.excluded_units, r.status, r.unit_id FROM decision d "
                "JOIN placement_request p ON p.id = d.request_id LEFT JOIN review r ON r.decision_id = d.id")):
            decisions[(row[0], row[1])] = tuple(_plain(v) for v in row[2:])
        for row in conn.execute(text(
                "SELECT entity_id, action, effective_on, changes, rules_version FROM history "
                "WHERE action = 'matched' ORDER BY id")):
            history.setdefault(row[0], []).append(tuple(_plain(v) for v in row[1:]))
    engine.dispose()
    return decisions, history


FIELDS = ("rules_version", "evaluated_on", "review_required", "document", "created_by", "excluded_units",
          "review_status", "review_unit")


def main(a: str, b: str) -> int:
    (da, ha), (db, hb) = stored(a), stored(b)
    differ = sorted(k for k in da.keys() | db.keys() if da.get(k) != db.get(k))
    hdiffer = sorted(k for k in ha.keys() | hb.keys() if ha.get(k) != hb.get(k))
    print(f"decisions: {len(da)} and {len(db)}, {len(differ)} differ; "
          f"requests with matched history: {len(ha)} and {len(hb)}, {len(hdiffer)} differ")
    for key in differ[:5]:
        x, y = da.get(key), db.get(key)
        what = "missing in one" if x is None or y is None else \
            ", ".join(f for f, u, v in zip(FIELDS, x, y) if u != v)
        print(f"  {key[0]} decision {key[1]}: {what}")
    for key in hdiffer[:5]:
        print(f"  {key}: matched history differs")
    return 1 if differ or hdiffer else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

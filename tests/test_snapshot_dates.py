"""A register snapshot read back from the database gives its date facts as dates: a route's
`price_confirmed_on` came back as text, so every match after the first at a register revision
(the stored snapshot) failed with a traceback when some routes had the date and the rule
REVIEW-PRICE-NOT-CONFIRMED compared it with the request's date."""

from __future__ import annotations

import json

from test_matching_support import register_doc, request, unit, write_request


def _priced(uid: str, confirmed: str | None, **kw):
    u = unit(uid, **kw)
    if confirmed:
        u["routes"][0]["price_confirmed_on"] = confirmed
    return u


def test_matches_on_a_stored_snapshot_with_confirmed_prices_decide_as_the_first(run, tmp_path):
    doc = register_doc(_priced("U-1", "2023-08-31", price=3000), _priced("U-2", "2024-06-01", agreement="RA-DELAT"),
                       _priced("U-3", None, agreement="RA-DELAT"),
                       _priced("U-4", None, route="direktupphandling", price=2500),
                       _priced("U-5", "2022-01-01", route="egen_regi", price=1800))
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("register", "import", str(path), "--apply-status", "--by", "registervård").exit_code == 0
    decided = []
    for i, engine in enumerate(["vectorized", "reference", "durable", "vectorized"]):
        result = run("match", str(write_request(tmp_path, request(f"R-{i}"))), "--by", "anna", "--engine", engine,
                     "--json", "--full")
        assert result.exit_code == 0, (engine, result.output)
        doc = json.loads(result.stdout)
        decided.append(doc[0] if isinstance(doc, list) else doc)

    def ranked(d):
        return [(r["unit_id"], sorted(f if isinstance(f, str) else f["code"] for f in r.get("flags", [])))
                for r in d["recommendations"]]

    assert all(ranked(d) == ranked(decided[0]) for d in decided), [ranked(d) for d in decided]
    # U-1's price was last confirmed more than 12 months before the request: flagged for review
    flags = dict(ranked(decided[-1]))
    assert "U-1" in flags and "PRICE_NOT_CONFIRMED" in flags["U-1"], flags
    # a choice (a change: the new revision's snapshot from the stored one) and a match after it
    assert run("request", "choose", "R-0", decided[0]["recommendations"][0]["unit_id"], "--by", "anna").exit_code == 0
    result = run("match", str(write_request(tmp_path, request("R-9"))), "--by", "anna")
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output

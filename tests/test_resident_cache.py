"""The register snapshot kept resident in a server process (matching/resident.py): a warm match
answers exactly what a cold one does, and a register change made through another server
instance on the same database is seen by the next match (never a stale revision). Two app
instances, each with its own engine and so its own cache, as two `placering serve` processes."""

from __future__ import annotations

import pytest

from placering.matching.resident import cache_of
from server_support import add_people, client, signed_in
from test_matching_support import load_register, request, unit


@pytest.fixture
def two_instances(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-1", free=2), unit("U-2", price=4500, free=1),
                  unit("U-3", "direktupphandling", 5200, free=3),
                  # socialt boende: a framework unit for the reference price only (age 18–20),
                  # two direct procurements, one above 1.25 × the reference
                  unit("U-4", insats="socialt_boende", subs=["akutboende"], age=(18, 20)),
                  unit("U-5", "direktupphandling", 1900, insats="socialt_boende", age=(18, 65)),
                  unit("U-6", "direktupphandling", 6000, insats="socialt_boende", age=(18, 65)))
    add_people(db_url, {"hanna": (["handler"], None), "majken": (["maintainer"], None)})
    a, b = client(db_url), client(db_url)
    with a, b:
        yield signed_in(a, "hanna"), signed_in(b, "majken")


def _match(c, rid: str, documents: str = "full") -> dict:
    r = c.post(f"/api/v1/requests/match?documents={documents}", json=request(rid))
    assert r.status_code == 200, r.text
    return r.json()


def _same(doc: dict, rid: str) -> dict:
    """The document as another request of the same content would have it."""
    out = dict(doc, request_id=rid)
    out.pop("created_at", None)  # when it was stored
    return out


def test_a_warm_match_answers_as_a_cold_one_and_sees_another_instances_change(two_instances, monkeypatch):
    hanna, majken = two_instances
    cache = cache_of(hanna.app.state.engine)
    _match(hanna, "R-0")  # the snapshot of this revision decoded and kept
    hits = cache.hits
    warm = _match(hanna, "R-1")
    assert cache.hits > hits, "the second match did not use the kept snapshot"
    warm_doc = warm["documents"][0]
    assert [r["unit_id"] for r in warm_doc["recommendations"]][:2] == ["U-1", "U-2"]

    monkeypatch.setenv("PLACERING_RESIDENT", "0")  # cold: read and decoded from storage
    cold = _match(hanna, "R-2")
    assert _same(cold["documents"][0], "R-1") == _same(warm_doc, "R-1")
    assert cold["results"][0] | {"request_id": "R-1"} == warm["results"][0]
    stored_warm = hanna.get("/api/v1/requests/R-1?compact=true").json()["decisions"][-1]
    stored_cold = hanna.get("/api/v1/requests/R-2?compact=true").json()["decisions"][-1]
    assert _same(stored_cold, "R-1") == _same(stored_warm, "R-1")
    monkeypatch.delenv("PLACERING_RESIDENT")

    # The other instance unpublishes U-1: the next match on the warm instance must see it.
    kept = cache.revisions()
    r = majken.post("/api/v1/register/units/U-1/status", json={"status": "unpublished", "note": "tillsyn"})
    assert r.status_code == 200, r.text
    after = _match(hanna, "R-3")["documents"][0]
    assert "U-1" not in [r["unit_id"] for r in after["recommendations"]]
    assert any(e["unit_id"] == "U-1" for e in after["excluded"])
    assert max(cache.revisions()) > max(kept)
    assert len(cache.revisions()) <= 2

    monkeypatch.setenv("PLACERING_RESIDENT", "0")
    cold_after = _match(hanna, "R-4")["documents"][0]
    assert _same(cold_after, "R-3") == _same(after, "R-3")


def test_a_unit_below_the_cut_flagged_against_a_whole_reference_price_is_shown(two_instances):
    """The reference price (4 000 kr, the framework price) is stored as a whole number: the
    decision read back whole decides it as a price, as at decision time (it was refused as
    'the rules no longer decide the stored register snapshot' under `bench web`)."""
    hanna, _ = two_instances
    r = hanna.post("/api/v1/requests/match?documents=full&limit=1",
                   json=request("R-CUT", "socialt_boende", "akutboende", age=30))
    assert r.status_code == 200, r.text
    doc = r.json()["documents"][0]
    assert doc["reference_price"] == 4000
    assert [u["unit_id"] for u in doc["recommendations"]] == ["U-5"]
    flagged = {b["unit_id"]: [f["code"] for f in b["flags"]] for b in doc["below_cut"]}
    assert "PRICE_ABOVE_REFERENCE" in flagged["U-6"], flagged

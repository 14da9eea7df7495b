"""`request show` without SQLAlchemy (storage.reads): a stored request with its decisions,
declines, reviews and placement, read through the database's own driver (issue 22 item 1).

`overview` is the one read of a request's overview. The CLI's direct read (`request_show`
here) calls it on its own connection; the ORM view (matching.views.request_show: the server,
and whatever this module does not answer) calls it through decisions.request_overview on its
session's connection, inside the transaction that checked the person's scope and logged a
protected case's reading (on PostgreSQL that transaction names the signed-in person to
row-level security). So the CLI, here or through the server, and the API give one document.

The latest decision's excluded units by reason (what a person's table prints, issue 19) are
those stored with the decision at decision time (`decision.excluded_units`,
compact.encode_grouped): nothing is decided again, and no numpy or rules engine is loaded. A
decision stored before that has none; it is grouped as before (rebuild.grouped_document,
deciding it again on its stored snapshot), by the ORM view.

`request_show` returns None, and the CLI asks the ORM view (`orm_view`), for what it does not
answer: a request not found as typed (the ORM view's error: not found, or not in the social
worker's municipality), a protected person's request (its reading is logged, and refused
without a valid grant: a write), a signed-in person (the server's scope checks), every
decision whole (--json: each excluded unit's reasons are rebuilt), and a latest decision stored
without its groups.
"""

from __future__ import annotations

import base64
import json
import sys
import zlib
from datetime import datetime, timezone
from typing import Any, Callable

from ..jsondata import to_jsonable
from ..storage.reads import Reader, as_date, as_json
from ..text import nfc

# Lists a decision stored zlib-compressed (decisions._pack: `below_cut`, the held-back units,
# and the whole `excluded` list of a decision stored before compact decisions).
PACKED = "zlib+base64+json"


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and value.get("encoding") == PACKED:
        return json.loads(zlib.decompress(base64.b64decode(value["data"])).decode("utf-8"))
    return value


def stored_form(document: dict[str, Any]) -> dict[str, Any]:
    """A stored decision's document as decided, except that `excluded` is in its compact stored
    form (decisions.stored_document)."""
    doc = dict(document)
    doc["below_cut"] = _unpack(doc.get("below_cut") or [])  # a derived list stays as stored (compact.py)
    ex = doc.get("excluded")
    if isinstance(ex, dict):
        doc["excluded"] = _unpack(ex) if ex.get("encoding") == PACKED else dict(ex, held_back=_unpack(ex["held_back"]))
    return doc


def shown(document: dict[str, Any], *, person_protected: bool, protected_units: set[str]) -> dict[str, Any]:
    """A stored decision for output (decisions.shown_document): decisions are stored with
    protected distances in bands (privacy.py); one stored before that has its exact protected
    distances left out here."""
    if not person_protected and not protected_units:
        return dict(document)
    import copy

    from .privacy import protect_distances

    return protect_distances(copy.deepcopy(document), person_protected=person_protected,
                             unit_protected=protected_units.__contains__, width=None)


def protected_units(db: Reader) -> set[str]:
    return {r[0] for r in db.rows("SELECT unit_id FROM unit WHERE protected_address = :yes", {"yes": True})}


def shown_payload(payload: dict[str, Any], *, show_protected: bool = False) -> dict[str, Any]:
    """The stored request for output: a protected person's home position is hidden unless asked."""
    if show_protected or not payload.get("person", {}).get("protected_identity") or not payload.get("home_location"):
        return payload
    return dict(payload, home_location=None, home_location_hidden=True)


def utc(value: Any) -> datetime | None:
    """A recorded time in UTC, as the ORM reads it back (SQLite holds UTC as text; PostgreSQL
    gives it in the session's time zone)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=timezone.utc) if value.utcoffset() is None else value.astimezone(timezone.utc)


def placement_dict(p: Any) -> dict[str, Any]:
    """A placement (an ORM row, or a row read here) as the documents give it."""
    end_on = as_date(p.end_on)
    return {
        "unit_id": p.unit_id,
        "org_nr": p.org_nr,
        "insats": p.insats,
        "route": p.route,
        "agreement_id": p.agreement_id,
        "daily_price": p.daily_price,
        "start_on": as_date(p.start_on).isoformat(),
        "end_on": end_on.isoformat() if end_on else None,
        "recommended": bool(p.recommended),
        "status": p.status,
        "places": p.places,
        "reason": p.reason,
        "special_reason": p.special_reason,
        "by": p.by,
        "at": utc(p.at).isoformat(),
    }


_PLACEMENT = ('SELECT unit_id, org_nr, insats, route, agreement_id, daily_price, start_on, end_on, recommended, '
              'status, places, reason, special_reason, "by", at FROM placement WHERE request_id = :r ORDER BY id')


def blob_data(db: Reader, digest: str) -> bytes | None:
    """The data of a `snapshot_blob` (None when not stored)."""
    found = db.rows("SELECT data FROM snapshot_blob WHERE digest = :d", {"d": digest})
    return bytes(found[0].data) if found else None


def stored_groups(stored: bytes | None, blob: Callable[[str], bytes | None]) -> list[dict[str, Any]] | None:
    """The excluded units by reason stored with a decision (compact.decode_grouped; `blob`
    reads the unit index they name); None when none are stored, or their unit index is lost
    (the decision is grouped as one stored before them: decided again)."""
    from .compact import GroupsLost, decode_grouped

    if stored is None:
        return None
    try:
        return decode_grouped(stored, blob)
    except GroupsLost:
        return None


def overview(db: Reader, request: Any, *, show_protected: bool = False, full: bool | str = True,
             grouped: Callable[[dict], dict] | None = None,
             expand: Callable[[dict], dict] | None = None) -> dict[str, Any] | None:
    """The request (its stored row: id, payload, created_by) with every decision, decline,
    review and the placement (decisions.request_overview). `full=False` leaves each decision's
    `excluded` in its stored, compact form; `full=True` gives every excluded unit's reasons
    (`expand`, rebuilt as decided); `full="grouped"` (what a person's table prints) gives the
    latest decision's excluded units' ids by reason, as stored with it (`grouped`, deciding it
    again, for one stored before that) and leaves the earlier ones as stored. None when it
    needs `expand` or `grouped` and has none (the direct read: the ORM view answers)."""
    from .compact import is_compact, with_groups

    key = {"r": request.id}
    decisions = db.rows("SELECT id, document, created_at, excluded_units FROM decision WHERE request_id = :r "
                        "ORDER BY seq", key)
    reviews = {r.decision_id: r for r in db.rows(
        "SELECT id, decision_id, status, reviewer, note FROM review WHERE request_id = :r ORDER BY id", key)}
    payload = request.payload or {}
    person_protected = bool((payload.get("person") or {}).get("protected_identity"))
    protected = protected_units(db) if decisions else set()
    out_decisions = []
    for i, d in enumerate(decisions):
        doc = shown(stored_form(as_json(d.document)), person_protected=person_protected, protected_units=protected)
        if full == "grouped":
            if i == len(decisions) - 1 and is_compact(doc):
                groups = stored_groups(d.excluded_units, lambda digest: blob_data(db, digest))
                if groups is not None:
                    doc = with_groups(doc, groups)
                elif grouped is None:
                    return None
                else:
                    doc = grouped(doc)
        elif full and is_compact(doc):
            if expand is None:
                return None
            doc = expand(doc)
        review = reviews.get(d.id)
        if review is not None:
            doc["review"] = {"id": review.id, "status": review.status, "reviewer": review.reviewer, "note": review.note}
        doc["created_at"] = utc(d.created_at).isoformat()
        out_decisions.append(doc)
    declines = db.rows('SELECT unit_id, reason, "by", at FROM decline WHERE request_id = :r ORDER BY at, id', key)
    placement = db.rows(_PLACEMENT, key)
    return {
        "request": shown_payload(payload, show_protected=show_protected),
        "submitted_by": request.created_by,
        "decisions": out_decisions,
        "declines": [{"unit_id": d.unit_id, "reason": d.reason, "by": d.by, "at": utc(d.at).isoformat()}
                     for d in declines],
        "placement": placement_dict(placement[0]) if placement else None,
    }


class _Request:
    __slots__ = ("id", "payload", "created_by")

    def __init__(self, id: int, payload: dict[str, Any], created_by: str):
        self.id, self.payload, self.created_by = id, payload, created_by


def _signed_in() -> bool:
    """Whether the work is done for a person signed in to the server (access.acting), whose
    scope the ORM view checks. Nobody is unless that module was loaded (it loads the access
    policy, and SQLAlchemy with it); the embedded register's local user ('cli-local', every
    role) is not: the database's own privileges govern its reads, as the ORM view's."""
    acting = sys.modules.get("placering.access.acting")
    principal = acting.current_principal() if acting is not None else None
    return principal is not None and getattr(principal, "via", None) != "cli-local"


def request_show(db: Reader, request_id: str, *, show_protected: bool = False, full: bool | str = True,
                 reader: str | None = None) -> dict[str, Any] | None:
    """`request show R` (matching.views.request_show) read without SQLAlchemy; None when the
    ORM view must answer (see the module). `reader`: who reads (the ORM view logs a protected
    case's reading under it; no other request's reading is logged)."""
    if _signed_in():
        return None
    found = db.rows("SELECT id, payload, created_by FROM placement_request WHERE request_id = :r",
                    {"r": nfc(request_id)})
    if not found:
        return None
    row = found[0]
    payload = as_json(row.payload) or {}
    if (payload.get("person") or {}).get("protected_identity"):
        return None
    data = overview(db, _Request(row.id, payload, row.created_by), show_protected=show_protected, full=full,
                    expand=_expand_on(db, payload) if full is True else None)
    return None if data is None else to_jsonable(data)


def _expand_on(db: Reader, payload: dict[str, Any]) -> Callable[[dict], dict]:
    """`full=True` on the reader: every compact decision's excluded units rebuilt as the ORM
    view rebuilds them (rebuild.full_document, the same function on the same stored snapshot,
    rules and request), the request read as stored without pydantic (request.Request)."""
    def expand(document: dict[str, Any]) -> dict[str, Any]:
        from .rebuild import full_document_by_reference
        from .request import Request

        return full_document_by_reference(db, document, Request(payload))

    return expand


request_show.orm_view = "matching.views:request_show"


# --- request show --explain UNIT ----------------------------------------------------------------


def explanation(document: dict[str, Any], unit_id: str, where: str, entry: dict[str, Any] | None) -> dict[str, Any]:
    """Where a unit stands in a decision (decisions.explain), from where it was found and its
    entry there: one answer for the direct read and the ORM view."""
    out: dict[str, Any] = {"unit_id": unit_id, "request_id": document["request_id"], "seq": document.get("seq"),
                           "status": where}
    if where in ("recommended", "below_cut"):
        out.update({"rank": entry["rank"], "route": entry["route"], "keys": entry["keys"], "flags": entry.get("flags", []),
                    "other_routes": entry.get("other_routes", [])})
        if where == "below_cut":
            out["cut"] = len(document["recommendations"])
    elif where in ("held_back", "excluded"):
        out.update({"reasons": entry.get("reasons", []), "unevaluable": entry.get("unevaluable", [])})
        if where == "held_back":
            out["eligible"] = entry["eligible"]
        elif entry.get("unevaluable"):
            out["status"] = "unevaluable" if not entry.get("reasons") else "excluded"
    return out


def found_as_stored(document: dict[str, Any], unit_id: str) -> tuple[str, dict[str, Any] | None] | None:
    """(where, entry) of the unit in the decision as stored (decisions._find_in_decision), or
    None when only the rules engine can say: a unit of a compact decision that is neither
    recommended nor in a list stored in full (below the cut, held back) is excluded, or below
    a cut stored as its digest, or no candidate; its reasons are explained again from the
    stored register snapshot (rebuild.expand)."""
    from .compact import is_compact, is_derived

    for rec in document.get("recommendations", []):
        if rec["unit_id"] == unit_id:
            return "recommended", rec
    below = document.get("below_cut", [])
    if is_derived(below):
        return None
    for rec in below:
        if rec["unit_id"] == unit_id:
            return "below_cut", rec
    if is_compact(document):
        held = document["excluded"].get("held_back")
        if not isinstance(held, list):
            return None
        for e in held:  # a held-back unit is eligible: the rules engine adds no entry of its own
            if e["unit_id"] == unit_id:
                return ("held_back" if e.get("eligible") else "excluded"), e
        return None
    for ex in document.get("excluded") or []:
        if ex["unit_id"] == unit_id:
            return ("held_back" if ex.get("eligible") else "excluded"), ex
    return "not_a_candidate", None


def request_explain(db: Reader, request_id: str, unit_id: str, *, reader: str | None = None) -> dict[str, Any] | None:
    """`request show R --explain UNIT` (matching.views.request_explain) read without SQLAlchemy
    where the stored decision answers (`found_as_stored`: a recommended unit, one in a list
    stored in full); None for the ORM view, which explains an excluded unit again with the
    rules engine (that unit only) and answers what `request_show` leaves to it: a unit or
    request not found as typed, a protected person's request (logged), a signed-in person, a
    request without a decision."""
    if _signed_in():
        return None
    ident = nfc(unit_id)
    units = db.rows("SELECT unit_id FROM unit WHERE unit_id = :i", {"i": ident})
    if not units and ident:
        units = db.rows("SELECT unit_id FROM unit WHERE lower(unit_id) = :i ORDER BY id", {"i": ident.lower()})
    found = db.rows("SELECT id, payload FROM placement_request WHERE request_id = :r", {"r": nfc(request_id)})
    if not units or not found:
        return None
    payload = as_json(found[0].payload) or {}
    if (payload.get("person") or {}).get("protected_identity"):
        return None
    latest = db.rows("SELECT document, excluded_units FROM decision WHERE request_id = :r ORDER BY seq DESC LIMIT 1",
                     {"r": found[0].id})
    if not latest:
        return None
    document = shown(stored_form(as_json(latest[0].document)), person_protected=False, protected_units=protected_units(db))
    unit_id = nfc(units[0].unit_id.strip())
    where = found_as_stored(document, unit_id)
    if where is None:
        where = excluded_as_stored(db, document, payload, unit_id, latest[0].excluded_units)
    return None if where is None else to_jsonable(explanation(document, unit_id, *where))


def excluded_as_stored(db: Reader, document: dict[str, Any], payload: dict[str, Any], unit_id: str,
                       stored: bytes | None) -> tuple[str, dict[str, Any]] | None:
    """("excluded", its entry) for a unit the decision's stored groups list as excluded,
    explained by the reference evaluator on the stored snapshot (rebuild.excluded_as_stored:
    the rules engine's text, as the ORM view's `expand` gives it); None otherwise."""
    from .compact import is_compact

    if not is_compact(document):
        return None
    groups = stored_groups(stored, lambda digest: blob_data(db, digest))
    if groups is None:
        return None
    from .rebuild import excluded_as_stored as rebuilt
    from .request import Request

    entry = rebuilt(db, document, Request(payload), unit_id, groups)
    return None if entry is None else ("excluded", entry)


request_explain.orm_view = "matching.views:request_explain"


# --- review list -------------------------------------------------------------------------------

REVIEW_STATUSES = ("pending", "approved", "rejected")  # review.REVIEW_STATUSES


def review_list(db: Reader, *, status: str | None = None) -> list[dict[str, Any]] | None:
    """`review list` (matching.views.review_list: review.list_reviews) read without SQLAlchemy;
    None when the ORM view must answer: an unknown status (its error), or a signed-in person
    (a social worker sees its own municipality's reviews only)."""
    if (status is not None and status not in REVIEW_STATUSES) or _signed_in():
        return None
    rows = db.rows(
        "SELECT v.id, v.status, v.unit_id, v.reviewer, v.note, r.request_id, r.insats, r.submitted_on, d.seq, "
        "d.document FROM review v JOIN placement_request r ON r.id = v.request_id "
        "JOIN decision d ON d.id = v.decision_id" + (" WHERE v.status = :status" if status else "") + " ORDER BY v.id",
        {"status": status} if status else {})
    out = []
    for v in rows:
        doc = as_json(v.document)
        flag = next((f for f in doc["flags"] if f["code"] == "DIRECT_PROCUREMENT"), None) or {}
        out.append({
            "id": v.id,
            "status": v.status,
            "request_id": v.request_id,
            "insats": v.insats,
            "submitted_on": as_date(v.submitted_on).isoformat(),
            "seq": v.seq,
            "reason": flag.get("reason"),
            "units": [v.unit_id] if v.unit_id else [r["unit_id"] for r in doc["recommendations"]],
            "flags": sorted({f["code"] for f in doc["flags"]}),
            "reviewer": v.reviewer,
            "note": v.note,
        })
    return to_jsonable(out)


review_list.orm_view = "matching.views:review_list"


# --- review show -------------------------------------------------------------------------------
#
# The review's document is assembled once (`review_document`), from what review.review_detail
# reads through its session (the server, a chosen unit outside the recommendations) or what
# `review_show` here reads through its own connection.


def latest_of_each_kind(rows: Any) -> list[dict[str, Any]]:
    """A supplier's latest check of every kind (review.latest_checks) from its checks by day and
    id (kind, result, value, performed_on, source each); a missing kind is not passed."""
    from ..register.whys import NOTE_NEVER_CHECKED, NOTE_UNAVAILABLE
    from ..vocabulary import CheckKind, CheckResult

    latest: dict[str, Any] = {}
    for c in rows:
        latest[c.kind] = c  # later rows win
    out = []
    for kind in CheckKind:
        c = latest.get(kind.value)
        if c is None:
            out.append({"kind": kind.value, "result": None, "passed": False, "value": None, "performed_on": None,
                        "source": None, "note": NOTE_NEVER_CHECKED})
        else:
            note = NOTE_UNAVAILABLE if c.result == CheckResult.UNAVAILABLE.value else None
            out.append({"kind": kind.value, "result": c.result, "passed": c.result == CheckResult.PASS.value,
                        "value": c.value, "performed_on": as_date(c.performed_on).isoformat(), "source": c.source,
                        "note": note})
    return out


def purchases_in_year(rows: Any, year: int) -> dict[str, Any]:
    """The supplier's direct-procurement placements' cost in the year (review.direct_purchases)
    from its placements by start day and id: (placement, request_id) each, the placement with
    unit_id, insats, daily_price, start_on and end_on."""
    from ..casework.costs import year_cost

    items = []
    total = 0.0
    for p, request_id in rows:
        start_on, end_on = as_date(p.start_on), as_date(p.end_on)
        cost = year_cost(p.daily_price, start_on, end_on, year)
        if cost <= 0:
            continue
        total += cost
        items.append({"request_id": request_id, "unit_id": p.unit_id, "insats": p.insats, "daily_price": p.daily_price,
                      "start_on": start_on.isoformat(), "end_on": end_on.isoformat() if end_on else None,
                      "cost_in_year": round(cost, 2)})
    by_insats: dict[str, float] = {}
    for item in items:
        by_insats[item["insats"]] = round(by_insats.get(item["insats"], 0.0) + item["cost_in_year"], 2)
    return {"year": year, "placements": items, "total": round(total, 2), "by_insats": by_insats}


def review_document(review: Any, request_id: str, payload: dict[str, Any], decision: Any, threshold: dict[str, Any],
                    reviewed: list[dict[str, Any]], *, unit_of: Callable, supplier_of: Callable,
                    purchases_of: Callable, insats_sum_of: Callable, placement: Callable) -> dict[str, Any]:
    """`review show`'s document (review.review_detail): `reviewed` the decision's entries under
    review; `unit_of(unit_id)` a unit's name and municipality (or None), `supplier_of(org_nr)`
    (name, checks()) or None, `purchases_of(org_nr, year)`, `insats_sum_of(year)` (the buyer's
    purchases of the insats, economics.purchases_for) and `placement()` what they read."""
    from datetime import date as _date

    from ..casework.costs import year_cost

    doc = as_json(decision.document)
    start_on = _date.fromisoformat(payload["start_on"])
    year = start_on.year
    flag = next((f for f in doc["flags"] if f["code"] == "DIRECT_PROCUREMENT"), None) or {}
    reference = doc.get("reference_price")
    # Why no unit of the preferred routes could take the person: the decision counted the
    # exclusions of those routes per route and reason when it raised DIRECT_PROCUREMENT.
    why = (flag.get("values") or {}).get("excluded_by_route", {})
    recs = []
    for r in reviewed:
        supplier = supplier_of(r["org_nr"])
        unit = unit_of(r["unit_id"])
        purchases = purchases_of(r["org_nr"], year)
        this_case = year_cost(r.get("daily_price"), start_on, None, year)
        total = purchases["total"] + this_case
        limit = threshold.get("value")
        price = r.get("daily_price")
        recs.append({
            "rank": r["rank"],
            "unit_id": r["unit_id"],
            "unit_name": unit.name if unit else None,
            "municipality": unit.municipality if unit else None,
            "org_nr": r["org_nr"],
            "supplier_name": supplier[0] if supplier else None,
            "route": r["route"],
            "daily_price": price,
            "reference_price": reference,
            "price_ratio": round(price / reference, 3) if price and reference else None,
            "flags": [f["code"] for f in r.get("flags", [])],
            "checks": supplier[1]() if supplier else [],
            "direct_purchases": purchases,
            "this_case_in_year": round(this_case, 2),
            "total_with_this_case": round(total, 2),
            "threshold": limit,
            "over_threshold": None if limit is None else total > float(limit),
        })
    # The municipality's direct purchases of this insats in the year, across suppliers, against
    # the threshold (casework/economics.py), with this case's cost in the year added.
    insats_sum = insats_sum_of(year)
    this_cases = [r["this_case_in_year"] for r in recs]
    insats_sum["with_this_case"] = round(insats_sum["total"] + (max(this_cases) if this_cases else 0.0), 2)
    limit = threshold.get("value")
    insats_sum["over_threshold"] = None if limit is None else insats_sum["with_this_case"] > float(limit)
    decided_at = utc(review.decided_at)  # recorded in UTC, as the ORM reads it back
    return {
        "id": review.id,
        "status": review.status,
        "direct_purchases_insats": insats_sum,
        "reviewer": review.reviewer,
        "note": review.note,
        "decided_at": decided_at.isoformat() if decided_at else None,
        "request": {
            "request_id": request_id,
            "submitted_on": payload["submitted_on"],
            "municipality": payload["municipality"],
            "requester": payload["requester"],
            "insats": payload["insats"],
            "subcategory": payload.get("subcategory"),
            "age": payload["person"]["age"],
            "needs": payload["person"]["needs"],
            "urgency": payload["urgency"],
            "start_on": payload["start_on"],
        },
        "decision": {"seq": decision.seq, "rules_version": decision.rules_version,
                     "evaluated_on": as_date(decision.evaluated_on).isoformat()},
        "direct_procurement": {k: flag.get(k) for k in ("reason", "message", "rule", "source")},
        "chosen_unit": review.unit_id,
        "placement": placement(),
        "why_no_preferred_unit": why,
        "flags": doc["flags"],
        "recommendations": recs,
        "threshold": threshold,
        "year": year,
    }


def review_show(db: Reader, review_id: str) -> dict[str, Any] | None:
    """`review show ID` (matching.views.review_show: review.review_detail) read without
    SQLAlchemy; None when the ORM view must answer: an id it refuses or does not find, a unit
    chosen outside the recommendations (its entry is found in the decision as stored), a
    threshold, insats or municipality it reports on, or a signed-in person (the server's scope
    checks)."""
    from ..audit.params import audit_param
    from ..audit.reads_yearly import purchase_sums_read
    from ..boundary import whole
    from ..casework.costs import purchases_summary
    from ..errors import PlaceringError
    from ..rules.model import source_json
    from ..vocabulary import Route

    if _signed_in():
        return None
    try:
        rid = whole(int(str(review_id).strip()), lo=1)
    except (TypeError, ValueError, PlaceringError):
        return None
    found = db.rows(
        "SELECT v.id, v.status, v.unit_id, v.reviewer, v.note, v.decided_at, v.request_id AS request_pk, "
        "r.request_id, r.payload, d.document, d.evaluated_on, d.seq, d.rules_version FROM review v "
        "JOIN placement_request r ON r.id = v.request_id JOIN decision d ON d.id = v.decision_id WHERE v.id = :id",
        {"id": rid})
    if not found or found[0].unit_id is not None:
        return None
    review = found[0]
    payload = as_json(review.payload)
    doc = as_json(review.document)
    on = as_date(review.evaluated_on)
    try:
        value = audit_param("direct_procurement_threshold_sek", on, required=False)
    except PlaceringError:
        return None
    if value is None:
        return None
    threshold = {"parameter": "direct_procurement_threshold_sek", "value": value.value,
                 "valid_from": value.valid_from.isoformat(),
                 "valid_to": value.valid_to.isoformat() if value.valid_to else None,
                 "source": source_json(value.source)}
    year = as_date(payload["start_on"]).year
    sums = purchase_sums_read(db, year, municipality=payload["municipality"], insats=payload["insats"],
                              buyer=payload.get("requester"), leave_out=review.request_id)
    if sums is None:
        return None
    direct = Route.DIREKTUPPHANDLING.value

    def supplier_of(org_nr: str):
        rows = db.rows("SELECT id, name FROM supplier WHERE org_nr = :o ORDER BY id LIMIT 1", {"o": org_nr})
        if not rows:
            return None
        return rows[0].name, lambda: latest_of_each_kind(db.rows(
            "SELECT kind, result, value, performed_on, source FROM supplier_check WHERE supplier_id = :s "
            "ORDER BY performed_on, id", {"s": rows[0].id}))

    def unit_of(unit_id: str):
        rows = db.rows("SELECT name, municipality FROM unit WHERE unit_id = :u ORDER BY id LIMIT 1", {"u": unit_id})
        return rows[0] if rows else None

    def purchases_of(org_nr: str, year: int):
        rows = db.rows("SELECT p.unit_id, p.insats, p.daily_price, p.start_on, p.end_on, r.request_id "
                       "FROM placement p JOIN placement_request r ON r.id = p.request_id "
                       "WHERE p.org_nr = :o AND p.route = :direct ORDER BY p.start_on, p.id",
                       {"o": org_nr, "direct": direct})
        return purchases_in_year(((r, r.request_id) for r in rows), year)

    def placement():
        # review._reviewed_placement: the placement waiting for this review, if one was chosen
        rows = db.rows('SELECT unit_id, status, places, reason, "by" FROM placement WHERE request_id = :r '
                       "ORDER BY id LIMIT 1", {"r": review.request_pk})
        if not rows or rows[0].status != "pending_review":
            return None
        p = rows[0]
        if p.unit_id not in {r["unit_id"] for r in doc["recommendations"]}:
            return None
        return {"unit_id": p.unit_id, "status": p.status, "places": p.places, "reason": p.reason, "by": p.by}

    data = review_document(review, review.request_id, payload, review, threshold, doc["recommendations"],
                           unit_of=unit_of, supplier_of=supplier_of, purchases_of=purchases_of,
                           insats_sum_of=lambda year: purchases_summary(sums, year, payload["municipality"],
                                                                        payload["insats"], payload.get("requester")),
                           placement=placement)
    return to_jsonable(data)


review_show.orm_view = "matching.views:review_show"

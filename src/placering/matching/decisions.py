"""Decisions are records: stored requests, numbered decisions, declines and the handler's choice.

- A request is stored once, as validated. Re-submitting the same `request_id` with identical
  content re-matches it; with different content it is an error (a request is not edited).
- Each decision is stored with its request, rules version and evaluation date under seq 1, 2, …
  and never changed; history records `matched`.
- `decline` records that a unit said no (history `declined`); the next decision leaves it out.
- `choose` turns the handler's choice into a `Placement` (history `chosen`):
  * a unit recommended in the latest decision: no reason needed;
  * a unit that was eligible but not recommended (below the cut, or held back because direct
    procurement is the last resort): `reason` required;
  * a unit the latest decision excluded, or whose rules could not be evaluated, or that
    declined: refused. The rules said it may not take the person (or could not say that it
    may); fix the register or the request and match again rather than override the rules;
  * a direct-procurement choice whose review was rejected: refused.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..errors import InvariantViolation, NotFound, ValidationError
from ..storage.history import record, require_actor
from ..storage.models import Decision, Decline, Placement, PlacementRequest, Review, Supplier, Unit
from ..text import nfc
from ..vocabulary import Route
from .request import PlacementRequestIn


def _find_request(session: Session, request_id: str) -> PlacementRequest | None:
    return session.scalars(select(PlacementRequest).where(PlacementRequest.request_id == nfc(request_id))).first()


def get_request(session: Session, request_id: str) -> PlacementRequest:
    row = _find_request(session, request_id)
    if row is None:
        raise NotFound(f"no placement request '{request_id}'")
    return row


def request_model(row: PlacementRequest) -> PlacementRequestIn:
    """The stored request as the model (it was validated when stored)."""
    return PlacementRequestIn.model_validate(row.payload)


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_diff(a, b, path + "."))
        elif a != b:
            out.append(path)
    return out


def store_request(session: Session, request: PlacementRequestIn, *, actor: str) -> tuple[PlacementRequest, bool]:
    """Store a new request, or return the stored one if identical. Returns (row, created)."""
    payload = request.payload()
    row = _find_request(session, request.request_id)
    if row is not None:
        changed = _diff(row.payload, payload)
        if changed:
            raise ValidationError(
                f"request '{request.request_id}' was already submitted with different content "
                f"(differs in: {', '.join(changed)}); a request is not edited: submit a new request_id"
            )
        return row, False
    row = PlacementRequest(
        request_id=request.request_id,
        submitted_on=request.submitted_on,
        municipality=request.municipality,
        requester=request.requester,
        insats=request.insats,
        subcategory=request.subcategory,
        payload=payload,
        created_by=require_actor(actor),
    )
    session.add(row)
    session.flush()
    return row, True


def declined_units(session: Session, row: PlacementRequest) -> list[str]:
    return sorted(session.scalars(select(Decline.unit_id).where(Decline.request_id == row.id)))


def decisions_of(session: Session, row: PlacementRequest) -> list[Decision]:
    return list(session.scalars(select(Decision).where(Decision.request_id == row.id).order_by(Decision.seq)))


def latest_decision(session: Session, row: PlacementRequest) -> Decision | None:
    return session.scalars(
        select(Decision).where(Decision.request_id == row.id).order_by(Decision.seq.desc()).limit(1)
    ).first()


# The `excluded` list of a decision names every other unit of the insats with all its reasons:
# hundreds of kilobytes per decision on a register of 900 units (a year's 7,425 requests would
# take over 1.5 GB). It is stored zlib-compressed (base64 text inside the JSON document, about a
# tenth of the size); everything else stays plain JSON that SQL can read (audits read `flags`).
# The content is stored unchanged: `stored_document` gives back exactly what was decided.
PACKED = "zlib+base64+json"


def _pack(excluded: list[dict[str, Any]]) -> dict[str, Any]:
    raw = json.dumps(excluded, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {"encoding": PACKED, "count": len(excluded), "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii")}


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and value.get("encoding") == PACKED:
        return json.loads(zlib.decompress(base64.b64decode(value["data"])).decode("utf-8"))
    return value


def _stored_form(document: dict[str, Any]) -> dict[str, Any]:
    if "excluded" not in document:
        return document
    return dict(document, excluded=_pack(document["excluded"]))


def stored_document(decision: Decision) -> dict[str, Any]:
    """A stored decision's document as it was decided (the excluded list unpacked)."""
    doc = decision.document
    if isinstance(doc.get("excluded"), dict):
        doc = dict(doc, excluded=_unpack(doc["excluded"]))
    return doc


def record_decision(session: Session, row: PlacementRequest, document: dict[str, Any], *,
                    actor: str) -> tuple[Decision, dict[str, Any]]:
    """Store a decision document under the next seq; open a review when it needs one.
    Returns the stored row and the document (with its seq, decided_by and review_id)."""
    actor = require_actor(actor)
    last = session.scalar(select(func.max(Decision.seq)).where(Decision.request_id == row.id)) or 0
    seq = last + 1
    document = dict(document)
    document["seq"] = seq
    document["decided_by"] = actor
    decision = Decision(
        request_id=row.id,
        seq=seq,
        rules_version=document["rules_version"],
        evaluated_on=date.fromisoformat(document["evaluated_on"]),
        review_required=bool(document["review_required"]),
        document=_stored_form(document),
        created_by=actor,
    )
    session.add(decision)
    session.flush()
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="matched",
        effective_on=decision.evaluated_on,
        changes={
            "seq": seq,
            "recommendations": [r["unit_id"] for r in document["recommendations"]],
            "flags": sorted({f["code"] for f in document["flags"]}),
            "review_required": decision.review_required,
        },
        rules_version=decision.rules_version,
    )
    if decision.review_required:
        from .review import open_review

        review = open_review(session, row, decision)
        document["review_id"] = review.id
        decision.document = dict(decision.document, review_id=review.id)
    return decision, document


def decline(session: Session, request_id: str, unit_id: str, *, reason: str, actor: str) -> Decline:
    """The unit said no to this request; the next match leaves it out."""
    actor = require_actor(actor)
    reason = nfc(reason or "")
    if not reason:
        raise ValidationError("--reason: say why the unit declined (e.g. 'no free place after all')")
    row = get_request(session, request_id)
    unit = session.scalars(select(Unit).where(Unit.unit_id == nfc(unit_id))).first()
    if unit is None:
        raise NotFound(f"no unit '{unit_id}' in the register")
    if session.scalars(select(Placement).where(Placement.request_id == row.id)).first() is not None:
        raise InvariantViolation(f"request '{row.request_id}' already has a placement; a decline no longer applies")
    if session.scalars(select(Decline).where(Decline.request_id == row.id, Decline.unit_id == unit.unit_id)).first():
        raise InvariantViolation(f"unit {unit.unit_id} has already declined request '{row.request_id}'")
    entry = Decline(request_id=row.id, unit_id=unit.unit_id, reason=reason, by=actor)
    session.add(entry)
    org_nr = session.scalar(select(Supplier.org_nr).where(Supplier.id == unit.supplier_id))
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="declined",
        effective_on=date.today(),
        changes={"unit_id": unit.unit_id},
        unit_id=unit.unit_id,
        org_nr=org_nr,
        note=reason,
    )
    session.flush()
    return entry


def _find_in_decision(document: dict[str, Any], unit_id: str) -> tuple[str, dict[str, Any] | None]:
    for rec in document.get("recommendations", []):
        if rec["unit_id"] == unit_id:
            return "recommended", rec
    for rec in document.get("below_cut", []):
        if rec["unit_id"] == unit_id:
            return "below_cut", rec
    for ex in document.get("excluded", []):
        if ex["unit_id"] == unit_id:
            return ("held_back" if ex.get("eligible") else "excluded"), ex
    return "not_a_candidate", None


def choose(session: Session, request_id: str, unit_id: str, *, actor: str, reason: str | None = None) -> Placement:
    """The handler's choice: create the placement (see the module docstring for what is allowed)."""
    actor = require_actor(actor)
    reason = nfc(reason) if reason else None
    row = get_request(session, request_id)
    if session.scalars(select(Placement).where(Placement.request_id == row.id)).first() is not None:
        raise InvariantViolation(f"request '{row.request_id}' already has a placement")
    decision = latest_decision(session, row)
    if decision is None:
        raise InvariantViolation(f"request '{row.request_id}' has no decision yet: run 'placering match' first")
    unit_id = nfc(unit_id)
    if unit_id in declined_units(session, row):
        raise InvariantViolation(f"unit {unit_id} declined request '{row.request_id}'; it cannot be chosen")
    doc = stored_document(decision)
    where, entry = _find_in_decision(doc, unit_id)
    if where == "not_a_candidate":
        raise InvariantViolation(
            f"unit {unit_id} is not a candidate for {row.insats} in decision {decision.seq} of '{row.request_id}' "
            "(it does not offer this insats, or is not in the register)"
        )
    if where == "excluded":
        codes = sorted({r["code"] for r in entry.get("reasons", [])} | {f"unevaluable:{r['rule']}" for r in entry.get("unevaluable", [])})
        raise InvariantViolation(
            f"unit {unit_id} was excluded in decision {decision.seq} ({', '.join(codes)}); it cannot be chosen. "
            f"See 'placering match … --explain {unit_id}'"
        )
    if where != "recommended" and not reason:
        raise ValidationError(
            f"--reason: unit {unit_id} was not recommended in decision {decision.seq} "
            f"({'eligible, ranked below the cut' if where == 'below_cut' else 'eligible only through direct procurement, held back as the last resort'}); "
            "say why it is chosen"
        )
    choice = entry if where in ("recommended", "below_cut") else entry["eligible"]
    if choice["route"] == Route.DIREKTUPPHANDLING.value:
        review = session.scalars(select(Review).where(Review.decision_id == decision.id)).first()
        if review is not None and review.status == "rejected":
            raise InvariantViolation(
                f"the direct-procurement review {review.id} of decision {decision.seq} was rejected "
                f"({review.note}); this unit cannot be chosen through direct procurement"
            )
    request = request_model(row)
    placement = Placement(
        request_id=row.id,
        unit_id=unit_id,
        org_nr=choice["org_nr"],
        insats=row.insats,
        route=choice["route"],
        agreement_id=choice.get("agreement_id"),
        daily_price=choice.get("daily_price"),
        start_on=request.start_on,
        person_age=request.person.age,
        municipality=row.municipality,
        recommended=where == "recommended",
        reason=reason,
        by=actor,
    )
    session.add(placement)
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="chosen",
        effective_on=request.start_on,
        changes={
            "seq": decision.seq,
            "unit_id": unit_id,
            "route": placement.route,
            "agreement_id": placement.agreement_id,
            "daily_price": placement.daily_price,
            "recommended": placement.recommended,
            "rank": choice.get("rank"),
        },
        unit_id=unit_id,
        org_nr=placement.org_nr,
        note=reason,
        rules_version=decision.rules_version,
    )
    session.flush()
    return placement


def end_placement(session: Session, request_id: str, *, end_on: date, actor: str, reason: str | None = None) -> Placement:
    """The placement ends (utskrivning, omplacering): it no longer counts as active after
    `end_on`, which audits of affected placements and direct purchases read."""
    actor = require_actor(actor)
    row = get_request(session, request_id)
    placement = session.scalars(select(Placement).where(Placement.request_id == row.id)).first()
    if placement is None:
        raise InvariantViolation(f"request '{row.request_id}' has no placement to end: choose a unit first")
    if placement.end_on is not None:
        raise InvariantViolation(
            f"the placement of '{row.request_id}' at {placement.unit_id} already ended on {placement.end_on.isoformat()}"
        )
    if end_on < placement.start_on:
        raise ValidationError(
            f"--on: {end_on.isoformat()} is before the placement started ({placement.start_on.isoformat()})"
        )
    placement.end_on = end_on
    session.add(placement)
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="ended",
        effective_on=end_on,
        changes={"end_on": [None, end_on.isoformat()]},
        unit_id=placement.unit_id,
        org_nr=placement.org_nr,
        note=nfc(reason) if reason else None,
    )
    session.flush()
    return placement


def placement_dict(p: Placement) -> dict[str, Any]:
    return {
        "unit_id": p.unit_id,
        "org_nr": p.org_nr,
        "insats": p.insats,
        "route": p.route,
        "agreement_id": p.agreement_id,
        "daily_price": p.daily_price,
        "start_on": p.start_on.isoformat(),
        "end_on": p.end_on.isoformat() if p.end_on else None,
        "recommended": p.recommended,
        "reason": p.reason,
        "by": p.by,
        "at": p.at.isoformat(),
    }


def shown_payload(payload: dict[str, Any], *, show_protected: bool = False) -> dict[str, Any]:
    """The stored request for output: a protected person's home position is hidden unless asked."""
    if show_protected or not payload.get("person", {}).get("protected_identity") or not payload.get("home_location"):
        return payload
    return dict(payload, home_location=None, home_location_hidden=True)


def request_overview(session: Session, request_id: str, *, show_protected: bool = False) -> dict[str, Any]:
    """The request with every decision, decline, review and the placement (`request show`)."""
    row = get_request(session, request_id)
    decisions = decisions_of(session, row)
    reviews = {r.decision_id: r for r in session.scalars(select(Review).where(Review.request_id == row.id))}
    declines = session.scalars(select(Decline).where(Decline.request_id == row.id).order_by(Decline.at, Decline.id))
    placement = session.scalars(select(Placement).where(Placement.request_id == row.id)).first()
    out_decisions = []
    for d in decisions:
        doc = dict(stored_document(d))
        review = reviews.get(d.id)
        if review is not None:
            doc["review"] = {"id": review.id, "status": review.status, "reviewer": review.reviewer, "note": review.note}
        doc["created_at"] = d.created_at.isoformat()
        out_decisions.append(doc)
    return {
        "request": shown_payload(row.payload, show_protected=show_protected),
        "submitted_by": row.created_by,
        "decisions": out_decisions,
        "declines": [
            {"unit_id": d.unit_id, "reason": d.reason, "by": d.by, "at": d.at.isoformat()} for d in declines
        ],
        "placement": placement_dict(placement) if placement else None,
    }


def explain(document: dict[str, Any], unit_id: str) -> dict[str, Any]:
    """Where a unit stands in a decision: recommended, below the cut, held back, excluded, or absent."""
    unit_id = nfc(unit_id.strip())  # as typed on a command line, like `choose`
    where, entry = _find_in_decision(document, unit_id)
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

"""The direct-procurement review queue (granskning av direktupphandling).

Every decision that recommends direct procurement (`DIRECT_PROCUREMENT`) enters the queue as a
pending `Review`. A reviewer sees the request in brief, the direct-procurement recommendations,
why no egen regi or framework unit could take the person, each price against the reference
price, each supplier's latest check of every kind (an `unavailable` or missing check is shown
as not passed), and this financial year's direct purchases from the supplier against the dated
direct-procurement threshold (`direct_procurement_threshold_sek` in rules/parameters/procurement.yaml). The review
is then approved or rejected, once, with a note; history records `review_approved` /
`review_rejected`.

Financial year = calendar year (kommunal redovisning). A placement's cost within the year is
its daily price × days from its start (or 1 January) to its end_on (or 31 December), both
days included.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..boundary import field_text, whole
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Label, msg, reason, said
from ..storage.database import lock_row
from ..storage.history import record, require_actor
from ..storage.models import Decision, Placement, PlacementRequest, Review, Supplier, SupplierCheck, Unit, utcnow
from ..vocabulary import CheckKind, CheckResult, Route

REVIEW_STATUSES = ("pending", "approved", "rejected")  # also reads.REVIEW_STATUSES (review list's direct read)
THRESHOLD_PARAMETER = "direct_procurement_threshold_sek"


def get_review(session: Session, review_id: int | str, *, lock: bool = False) -> Review:
    try:
        rid = whole(int(str(review_id).strip()), lo=1)  # within the id column on every database
    except (TypeError, ValueError):
        raise ValidationError(msg("review.bad_id", id=review_id)) from None
    if lock:  # approve and reject of one review queue up: the second sees the first's decision
        review = lock_row(session, select(Review).where(Review.id == rid))
    else:
        review = session.get(Review, rid)
    if review is None:
        raise NotFound(msg("review.not_found", id=rid))
    return review


def _dp_flag(doc: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in doc["flags"] if f["code"] == "DIRECT_PROCUREMENT"), None)


def list_reviews(session: Session, status: str | None = None, *, municipality: str | None = None) -> list[dict[str, Any]]:
    """Reviews, oldest first (`municipality`: of that municipality's requests only)."""
    if status is not None and status not in REVIEW_STATUSES:
        raise ValidationError(msg("option.unknown_value", option="--status", value=status, known=", ".join(REVIEW_STATUSES)))
    stmt = (
        select(Review, PlacementRequest, Decision)
        .join(PlacementRequest, PlacementRequest.id == Review.request_id)
        .join(Decision, Decision.id == Review.decision_id)
        .order_by(Review.id)
    )
    if status:
        stmt = stmt.where(Review.status == status)
    if municipality is not None:
        stmt = stmt.where(PlacementRequest.municipality == municipality)
    out = []
    for review, req, decision in session.execute(stmt):
        doc = decision.document
        flag = _dp_flag(doc) or {}
        out.append({
            "id": review.id,
            "status": review.status,
            "request_id": req.request_id,
            "insats": req.insats,
            "submitted_on": req.submitted_on.isoformat(),
            "seq": decision.seq,
            "reason": flag.get("reason"),
            "units": [review.unit_id] if review.unit_id else [r["unit_id"] for r in doc["recommendations"]],
            "flags": sorted({f["code"] for f in doc["flags"]}),
            "reviewer": review.reviewer,
            "note": review.note,
        })
    return out


from ..register.whys import NOTE_NEVER_CHECKED, NOTE_UNAVAILABLE  # noqa: E402  (the notes' words)


def latest_checks(session: Session, supplier_id: int) -> list[dict[str, Any]]:
    """The latest check of every kind (missing kinds included, as not passed)."""
    rows = session.scalars(
        select(SupplierCheck).where(SupplierCheck.supplier_id == supplier_id)
        .order_by(SupplierCheck.performed_on, SupplierCheck.id)
    )
    from .reads import latest_of_each_kind  # one computation, shared with review show's direct read

    return latest_of_each_kind(rows)


def year_cost(daily_price: float | None, start_on: date, end_on: date | None, year: int) -> float:
    """casework.economics.year_cost (the one place purchases are priced over a year)."""
    from ..casework.economics import year_cost as cost

    return cost(daily_price, start_on, end_on, year)


def direct_purchases(session: Session, org_nr: str, year: int) -> dict[str, Any]:
    """This financial year's direct-procurement placements at the supplier and their cost."""
    rows = session.execute(
        select(Placement, PlacementRequest.request_id)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(Placement.org_nr == org_nr, Placement.route == Route.DIREKTUPPHANDLING.value)
        .order_by(Placement.start_on, Placement.id)
    )
    from .reads import purchases_in_year  # one computation, shared with review show's direct read

    return purchases_in_year(rows, year)


def _threshold(ruleset: Any, on: date) -> dict[str, Any]:
    """The direct-procurement threshold valid on `on`, with its source; reported if missing."""
    from .matcher import source_json

    try:
        value = ruleset.param_value(THRESHOLD_PARAMETER, on)
    except (NotFound, ValidationError) as exc:
        return {"parameter": THRESHOLD_PARAMETER, "value": None, "note": str(exc), "note_said": said(reason(exc))}
    return {"parameter": THRESHOLD_PARAMETER, "value": value.value, "valid_from": value.valid_from.isoformat(),
            "valid_to": value.valid_to.isoformat() if value.valid_to else None, "source": source_json(value.source)}


def review_detail(session: Session, review_id: int | str, ruleset: Any) -> dict[str, Any]:
    """Everything a reviewer needs to decide one case (`review show`)."""
    review = get_review(session, review_id)
    req = session.get(PlacementRequest, review.request_id)
    decision = session.get(Decision, review.decision_id)
    doc = decision.document
    payload = req.payload
    on = decision.evaluated_on
    threshold = _threshold(ruleset, on)
    reviewed = doc["recommendations"]
    if review.unit_id:
        # A unit chosen outside the recommendations: its own entry in the decision.
        from .decisions import _find_in_decision, stored_document

        from .decisions import _price_step_choice

        where, entry = _find_in_decision(stored_document(decision), review.unit_id, session=session, row=req)
        if where == "excluded":  # chosen over the price model's first step (issue 20 item 4)
            entry = dict(entry, **(_price_step_choice(entry) or {}))
        chosen = (entry.get("eligible") if where == "held_back" else entry) or {}
        reviewed = [dict(chosen, unit_id=review.unit_id, rank=chosen.get("rank"), held_back=where == "held_back")]
    from ..casework.economics import purchases_for
    from .reads import review_document  # one assembly, shared with review show's direct read

    def supplier_of(org_nr: str):
        supplier = session.scalars(select(Supplier).where(Supplier.org_nr == org_nr)).first()
        return None if supplier is None else (supplier.name, lambda: latest_checks(session, supplier.id))

    return review_document(
        review, req.request_id, payload, decision, threshold, reviewed,
        unit_of=lambda unit_id: session.scalars(select(Unit).where(Unit.unit_id == unit_id)).first(),
        supplier_of=supplier_of, purchases_of=lambda org_nr, year: direct_purchases(session, org_nr, year),
        insats_sum_of=lambda year: purchases_for(session, year, payload["municipality"], payload["insats"],
                                                 leave_out=req.request_id, buyer=payload.get("requester")),
        placement=lambda: _placement_brief(session, review))


def _placement_brief(session: Session, review: Review) -> dict[str, Any] | None:
    p = _reviewed_placement(session, review)
    return None if p is None else {"unit_id": p.unit_id, "status": p.status, "places": p.places,
                                   "reason": p.reason, "by": p.by}


def _reviewed_placement(session: Session, review: Review) -> Placement | None:
    """The placement waiting for this review, if the handler has already chosen."""
    p = session.scalars(select(Placement).where(Placement.request_id == review.request_id)).first()
    if p is None or p.status != "pending_review":
        return None
    if review.unit_id is not None:
        return p if p.unit_id == review.unit_id else None
    decision = session.get(Decision, review.decision_id)
    return p if p.unit_id in {r["unit_id"] for r in decision.document["recommendations"]} else None


def decide_review(session: Session, review_id: int | str, *, approve: bool, actor: str, note: str) -> Review:
    """Approve or reject a pending review; a decided review is not decided again. A placement
    waiting for it becomes active (approved), or is removed and its places freed (rejected)."""
    from .decisions import free_places

    actor = require_actor(actor)
    note = field_text(note or "", "--note", optional=True) or ""
    if not note:
        raise ValidationError(msg("review.note_needed"))
    review = get_review(session, review_id)
    req = session.get(PlacementRequest, review.request_id)
    # Four eyes: whoever matched or chose the case does not review it (PostgreSQL's row policy
    # not_own_case refuses it too, when the CLI is bypassed). Checked before the row lock,
    # which that policy would hide the row from.
    matched_by = set(session.scalars(select(Decision.created_by).where(Decision.request_id == req.id)))
    chosen_by = set(session.scalars(select(Placement.by).where(Placement.request_id == req.id)))
    if actor in matched_by | chosen_by:
        raise InvariantViolation(msg("review.own_case_chose" if actor in chosen_by else "review.own_case_matched",
                                     who=actor, request=req.request_id, id=review.id))
    review = get_review(session, review.id, lock=True)
    if review.status != "pending":
        raise InvariantViolation(msg("review.already_decided", id=review.id, status=Label(review.status, "review_status"),
                                     by=review.reviewer))
    new = "approved" if approve else "rejected"
    decision = session.get(Decision, review.decision_id)
    placement = _reviewed_placement(session, review)
    review.status = new
    review.reviewer = actor
    review.note = note
    review.decided_at = utcnow()
    session.add(review)
    changes: dict[str, Any] = {
        "status": ["pending", new], "request_id": req.request_id, "seq": decision.seq,
        "units": [review.unit_id] if review.unit_id else [r["unit_id"] for r in decision.document["recommendations"]]}
    if placement is not None:
        changes["placement"] = {"unit_id": placement.unit_id, "status": ["pending_review", "active" if approve else None]}
    record(
        session,
        actor=actor,
        entity_kind="review",
        entity_id=str(review.id),
        action="review_approved" if approve else "review_rejected",
        effective_on=sweden_today(),
        changes=changes,
        note=note,
        rules_version=decision.rules_version,
    )
    if placement is not None:
        if approve:
            placement.status = "active"
            session.add(placement)
            action, extra = "placement_approved", {}
        else:
            freed = free_places(session, placement.unit_id, placement.places)
            session.delete(placement)
            action, extra = "placement_rejected", ({"free_places": list(freed)} if freed else {})
        record(session, actor=actor, entity_kind="request", entity_id=req.request_id, action=action,
               effective_on=sweden_today(), unit_id=placement.unit_id, org_nr=placement.org_nr, note=note,
               changes={"review_id": review.id, "status": ["pending_review", "active" if approve else None], **extra},
               rules_version=decision.rules_version)
    session.flush()
    return review

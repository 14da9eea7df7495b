"""Complaints (synpunkter) as cases: status, outcome, routing to INK or Spink, the queues.

A complaint is recorded by `register.service.record_complaint` (routed there: framework
suppliers to INK, the rest to Spink). Here it is worked on: its status moves received →
investigating → closed; closing needs an outcome; an outcome `recommendation_stop` stops the
unit through the register's status path (only possible for a unit used through direct
procurement, as the register's invariant says).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..boundary import field_text
from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Label, msg
from ..register import service
from ..storage.history import record, require_actor
from ..storage.models import Complaint, Unit
from ..vocabulary import ComplaintCategory, ComplaintHandler, ComplaintOutcome, ComplaintStatus, UnitStatus
from .complaint_periods import check_period_options, complaint_dict, per_period, queue_rows

_NEXT = {"received": {"investigating", "closed"}, "investigating": {"closed"}, "closed": set()}


def get_complaint(session: Session, complaint_id: int) -> Complaint:
    row = session.get(Complaint, complaint_id)
    if row is None:
        raise NotFound(msg("complaint.not_found", id=complaint_id))
    return row


def complaint_row(session: Session, complaint_id: int) -> dict[str, Any]:
    row = get_complaint(session, complaint_id)
    return complaint_dict(row, session.get(Unit, row.unit_id).unit_id)


def receive(session: Session, unit_id: str, *, received_on: date, category: str, actor: str,
           outcome: str = "pending", note: str | None = None, received_by: str | None = None,
           rules_dir: str | None = None, categories: list[str] | None = None,
           complainant_ref: str | None = None, individual_level: bool = False) -> tuple[Complaint, list]:
    """Record a complaint (routed by `register.service.record_complaint`) and run the
    register-status rules for it in the same transaction: `register complaint` and
    `complaint add` both come here. Returns the complaint and what the rules did."""
    from ..rules import load_ruleset
    from ..rules.register_status import apply_register_event

    ruleset = load_ruleset(rules_dir)
    row = service.record_complaint(session, unit_id, received_on=received_on, category=category, actor=actor,
                                   outcome=outcome, note=note, received_by=received_by, ruleset=ruleset,
                                   categories=categories, complainant_ref=complainant_ref,
                                   individual_level=individual_level)
    if individual_level:
        # A matter about one person goes to the responsible social worker; it is not a
        # follow-up of the operation, so it does not add up to a deepened control (000 l. 10176-10180).
        return row, []
    unit = session.get(Unit, row.unit_id)
    applied = apply_register_event(session, {"kind": "complaint", "unit_id": unit.unit_id,
                                             "received_on": row.received_on, "category": row.category,
                                             "categories": row.categories or [row.category]},
                                   actor=actor, ruleset=ruleset)
    return row, applied


def update_complaint(session: Session, complaint_id: int, *, actor: str, status: str | None = None,
                     outcome: str | None = None, note: str | None = None, on: date | None = None) -> Complaint:
    """Move a complaint case on: a new status and/or outcome, with a note; recorded in history."""
    actor = require_actor(actor)
    row = get_complaint(session, complaint_id)
    if status is None and outcome is None:
        raise ValidationError(msg("complaint.nothing_given"))
    on = on or sweden_today()
    changes: dict[str, Any] = {}
    if row.status == ComplaintStatus.CLOSED.value:
        raise InvariantViolation(msg("complaint.closed", id=row.id, on=row.closed_on.isoformat()))
    if outcome is not None:
        outcome = service._code(outcome, ComplaintOutcome, "complaint outcome")
        if outcome != row.outcome:
            changes["outcome"] = [row.outcome, outcome]
            row.outcome = outcome
    if status is not None:
        status = service._code(status, ComplaintStatus, "complaint status")
        if status != row.status:
            if status not in _NEXT[row.status]:
                raise InvariantViolation(msg("complaint.no_going_back", id=row.id,
                                             status=Label(row.status, "complaint_status"),
                                             to=Label(status, "complaint_status")))
            changes["status"] = [row.status, status]
            row.status = status
    if not changes:
        raise InvariantViolation(msg("complaint.unchanged", id=row.id, status=Label(row.status, "complaint_status"),
                                     outcome=Label(row.outcome, "complaint_outcome")))
    if on < row.received_on:
        raise ValidationError(msg("complaint.on_before_received", on=on.isoformat(),
                                  received=row.received_on.isoformat()))
    if row.status == ComplaintStatus.CLOSED.value:
        if row.outcome == ComplaintOutcome.PENDING.value:
            raise InvariantViolation(msg("complaint.close_needs_outcome", id=row.id,
                                         known=", ".join(o.value for o in ComplaintOutcome if o != "pending")))
        row.closed_on = on
    unit = session.get(Unit, row.unit_id)
    note = field_text(note, "--note", optional=True)
    record(session, actor=actor, entity_kind="complaint", entity_id=str(row.id), action="complaint_updated",
           effective_on=on, org_nr=row.org_nr, unit_id=unit.unit_id, changes=changes, note=note)
    if "outcome" in changes and outcome == ComplaintOutcome.RECOMMENDATION_STOP.value \
            and unit.status != UnitStatus.RECOMMENDATION_STOP.value:
        # The register's one path for status changes, with its invariants (direct procurement only).
        service.change_unit_status(session, unit.unit_id, UnitStatus.RECOMMENDATION_STOP.value, actor=actor,
                                   note=note or f"synpunkt {row.id}: rekommendationsstopp", effective_on=on)
    session.flush()
    return row


def list_complaints(session: Session, *, handler: str | None = None, status: str | None = None,
                    org_nr: str | None = None, unit_id: str | None = None, category: str | None = None,
                    open_only: bool = False, complainant_ref: str | None = None) -> list[dict[str, Any]]:
    stmt = select(Complaint, Unit.unit_id).join(Unit, Unit.id == Complaint.unit_id)
    if complainant_ref:  # the complainant follows the handling of its own complaints (000 l. 10570-10572)
        stmt = stmt.where(Complaint.complainant_ref == field_text(complainant_ref, "--complainant-ref"))
    if handler:
        stmt = stmt.where(Complaint.handler == service._code(handler, ComplaintHandler, "complaint handler"))
    if status:
        stmt = stmt.where(Complaint.status == service._code(status, ComplaintStatus, "complaint status"))
    if open_only:
        stmt = stmt.where(Complaint.status != ComplaintStatus.CLOSED.value)
    category = service._code(category, ComplaintCategory, "complaint category") if category else None
    if org_nr:
        stmt = stmt.where(Complaint.org_nr == service.get_supplier(session, org_nr).org_nr)
    if unit_id:
        stmt = stmt.where(Complaint.unit_id == service.get_unit(session, unit_id).id)
    stmt = stmt.order_by(Complaint.received_on, Complaint.id)
    rows = [complaint_dict(c, uid) for c, uid in session.execute(stmt)]
    # A complaint can name several categories (000 l. 10706-10708): it is listed under each.
    return [r for r in rows if category is None or category in r["categories"]]


def queues(session: Session, *, handler: str | None = None) -> list[dict[str, Any]]:
    """Open complaint cases per handler (INK, Spink) and receiving organisation: the queues."""
    return queue_rows(list_complaints(session, handler=handler, open_only=True))


# --- issue 20 item 8: complaints per period (SiS refusals of a place) --------------------------


def complaints_per_period(session: Session, *, since: date | None = None, until: date | None = None,
                          period: str = "year", outcome: str | None = None,
                          org_nr: str | None = None) -> dict[str, Any]:
    """Complaints received per period (month, quarter, half, year), optionally of one outcome or
    supplier; each period also counts those closed as 'Platsbrist SiS': the times SiS did not
    provide a place after an application (001 l. 1049-1058 'Antal tillfällen SIS ej
    tillhandahållit plats efter ansökan 7 … Synpunkter ska i de fallen lämnas till … (SPINK)';
    000 l. 10584-10616: Spink handles complaints on SiS placements, all about place shortage)."""
    check_period_options(since, until, period)
    code = service._code(outcome, ComplaintOutcome, "complaint outcome") if outcome else None
    stmt = select(Complaint, Unit.unit_id).join(Unit, Unit.id == Complaint.unit_id)
    if since:
        stmt = stmt.where(Complaint.received_on >= since)
    if until:
        stmt = stmt.where(Complaint.received_on <= until)
    if org_nr:
        stmt = stmt.where(Complaint.org_nr == service.get_supplier(session, org_nr).org_nr)
    found = session.execute(stmt.order_by(Complaint.received_on, Complaint.id))
    return per_period(found, since=since, until=until, period=period, code=code)

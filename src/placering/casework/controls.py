"""Deepened controls (fördjupade kontroller) as cases.

Opened from a deepened-control proposal on the worklist (which is then accepted) or by hand;
what was checked is recorded item by item (IVO reports, finances, complaints, a visit, court
records); the decision records the outcome with its author. Status outcomes go through the
register's one path for status changes (`register.service.change_unit_status`), with its
authority invariants: watch, pause (unpublish), removal (with a removal reason and the note as
the overall assessment) and recommendation stop (units used through direct procurement only).
An order-stop proposal is for INK, who decide on framework agreements (`register agreement`);
it is listed by `control list --outcome order_stop_proposal`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session

from ..boundary import field_text
from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Label, msg
from ..register import service
from ..storage.history import record, require_actor
from ..storage.models import DeepenedControl, Proposal, Supplier, Unit, UnitRoute
from ..vocabulary import ControlCheck, ControlOutcome, RemovalReason, Route, UnitStatus

# The unit status each outcome leads to, and the statuses it applies to.
_STATUS_OUTCOMES = {
    ControlOutcome.WATCH.value: (UnitStatus.WATCH.value, {UnitStatus.PUBLISHED.value}),
    ControlOutcome.PAUSE.value: (UnitStatus.UNPUBLISHED.value, {UnitStatus.PUBLISHED.value, UnitStatus.WATCH.value}),
    ControlOutcome.REMOVAL.value: (UnitStatus.REMOVED.value, {s.value for s in UnitStatus} - {UnitStatus.REMOVED.value}),
    ControlOutcome.RECOMMENDATION_STOP.value: (UnitStatus.RECOMMENDATION_STOP.value,
                                               {UnitStatus.PUBLISHED.value, UnitStatus.WATCH.value}),
}


def get_control(session: Session, control_id: int) -> DeepenedControl:
    row = session.get(DeepenedControl, control_id)
    if row is None:
        raise NotFound(msg("control.not_found", id=control_id))
    return row


def control_dict(c: DeepenedControl) -> dict[str, Any]:
    return {"id": c.id, "org_nr": c.org_nr, "unit_id": c.unit_id, "proposal_id": c.proposal_id,
            "reason": c.reason, "opened_on": c.opened_on, "opened_by": c.opened_by,
            "checked": sorted(c.checked), "findings": c.checked, "status": c.status, "outcome": c.outcome,
            "decided_on": c.decided_on, "decided_by": c.decided_by, "decision_note": c.decision_note}


def open_control(session: Session, *, actor: str, on: date, org_nr: str | None = None, unit_id: str | None = None,
                 proposal_id: int | None = None, reason: str | None = None) -> DeepenedControl:
    """Open a deepened control of a supplier (or one unit), from a proposal or by hand."""
    from ..rules.register_status import decide_proposal

    actor = require_actor(actor)
    proposal = None
    if proposal_id is not None:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None:
            raise NotFound(msg("proposal.not_found", id=proposal_id))
        if proposal.kind != "deepened_control":
            raise InvariantViolation(msg("control.proposal_other_kind", id=proposal_id,
                                         kind=Label(proposal.kind, "proposal_kind")))
        if proposal.status == "dismissed":
            raise InvariantViolation(msg("control.proposal_dismissed", id=proposal_id, by=proposal.decided_by))
        if org_nr is not None and service.get_supplier(session, org_nr).org_nr != proposal.org_nr:
            raise ValidationError(msg("control.proposal_other_supplier", id=proposal_id, org=proposal.org_nr,
                                      given=org_nr))
        org_nr, unit_id = proposal.org_nr, unit_id or proposal.unit_id
        reason = reason or proposal.message
    if unit_id is not None:
        unit = service.get_unit(session, unit_id)
        supplier = service.supplier_of(session, unit)
        if org_nr is not None and service.get_supplier(session, org_nr).org_nr != supplier.org_nr:
            raise ValidationError(msg("control.unit_other_supplier", unit=unit.unit_id, org=supplier.org_nr,
                                      given=org_nr))
        unit_id = unit.unit_id
    elif org_nr is not None:
        supplier = service.get_supplier(session, org_nr)
    else:
        raise ValidationError(msg("control.nothing_named"))
    reason = field_text(reason, "--reason", optional=True) or ""
    if not reason:
        raise ValidationError(msg("control.reason_needed"))
    if on > sweden_today():
        raise ValidationError(msg("option.on_future", on=on.isoformat()))
    # Lock the supplier row (PostgreSQL) so two people cannot open two controls at once.
    session.execute(select(Supplier.id).where(Supplier.id == supplier.id).with_for_update())
    existing = session.scalars(select(DeepenedControl).where(DeepenedControl.org_nr == supplier.org_nr,
                                                             DeepenedControl.status == "open")).first()
    if existing is not None:
        raise InvariantViolation(msg("control.already_open", org=supplier.org_nr, id=existing.id,
                                     on=existing.opened_on.isoformat(), by=existing.opened_by))
    row = DeepenedControl(org_nr=supplier.org_nr, unit_id=unit_id, proposal_id=proposal_id, reason=reason,
                          opened_on=on, opened_by=actor, checked={}, status="open")
    session.add(row)
    session.flush()
    record(session, actor=actor, entity_kind="control", entity_id=str(row.id), action="control_opened",
           effective_on=on, org_nr=supplier.org_nr, unit_id=unit_id, note=reason,
           changes={"status": [None, "open"], "proposal_id": proposal_id})
    if proposal is not None and proposal.status == "open":
        decide_proposal(session, proposal.id, accept=True, actor=actor,
                        note=f"fördjupad kontroll {row.id} öppnad", effective_on=on)
    session.flush()
    return row


def _still_open(session: Session, control_id: int, on: date) -> DeepenedControl:
    """The control, which must not be decided yet, for a change dated `on` (not before it opened)."""
    row = get_control(session, control_id)
    if row.status != "open":
        raise InvariantViolation(msg("control.already_decided", id=row.id, outcome=Label(row.outcome, "control_outcome"),
                                     on=row.decided_on.isoformat(), by=row.decided_by))
    if on < row.opened_on:
        raise ValidationError(msg("control.on_before_opened", on=on.isoformat(), opened=row.opened_on.isoformat()))
    return row


def record_checked(session: Session, control_id: int, what: str, *, finding: str, actor: str,
                   on: date) -> DeepenedControl:
    """Record what the control looked at and what it found (one item at a time)."""
    actor = require_actor(actor)
    what = service._code(what, ControlCheck, "control check")
    finding = field_text(finding, "--finding", optional=True) or ""
    if not finding:
        raise ValidationError(msg("control.finding_needed"))
    row = _still_open(session, control_id, on)
    old = (row.checked or {}).get(what)
    row.checked = {**(row.checked or {}), what: {"finding": finding, "on": on.isoformat(), "by": actor}}
    record(session, actor=actor, entity_kind="control", entity_id=str(row.id), action="control_checked",
           effective_on=on, org_nr=row.org_nr, unit_id=row.unit_id, note=finding,
           changes={what: [old["finding"] if old else None, finding]})
    session.flush()
    return row


def _target_units(session: Session, row: DeepenedControl) -> list[Unit]:
    if row.unit_id is not None:
        return [service.get_unit(session, row.unit_id)]
    supplier = service.get_supplier(session, row.org_nr)
    return list(session.scalars(select(Unit).where(Unit.supplier_id == supplier.id).order_by(Unit.unit_id)))


def decide_control(session: Session, control_id: int, outcome: str, *, note: str, actor: str, on: date,
                   removal_reason: str | None = None) -> tuple[DeepenedControl, list[dict[str, Any]]]:
    """Decide a control: record the outcome with its author and make the status changes it
    implies through the register's status path. Returns the control and the changes made."""
    actor = require_actor(actor)
    outcome = service._code(outcome, ControlOutcome, "control outcome")
    note = field_text(note, "--note", optional=True) or ""
    if not note:
        raise ValidationError(msg("control.grounds_needed"))
    row = _still_open(session, control_id, on)
    if not row.checked:
        raise InvariantViolation(msg("control.nothing_checked", id=row.id))
    if removal_reason is not None and outcome != ControlOutcome.REMOVAL.value:
        raise ValidationError(msg("control.reason_only_removal"))
    if outcome == ControlOutcome.REMOVAL.value:
        if removal_reason is None:
            raise ValidationError(msg("control.removal_needs_reason", codes=", ".join(r.value for r in RemovalReason)))
        removal_reason = service._code(removal_reason, RemovalReason, "removal reason")
    changes: list[dict[str, Any]] = []
    if outcome in _STATUS_OUTCOMES:
        target, applies_to = _STATUS_OUTCOMES[outcome]
        units = [u for u in _target_units(session, row) if u.status in applies_to]
        if outcome == ControlOutcome.RECOMMENDATION_STOP.value:
            direct = set(session.scalars(select(UnitRoute.unit_id).where(
                UnitRoute.route == Route.DIREKTUPPHANDLING.value, UnitRoute.unit_id.in_([u.id for u in units]))))
            if row.unit_id is None:
                units = [u for u in units if u.id in direct]
        if not units:
            raise InvariantViolation(msg("control.no_unit_can_become", outcome=Label(outcome, "control_outcome"), id=row.id,
                                         status=Label(target, "unit_status")))
        for u in units:
            entry = service.change_unit_status(session, u.unit_id, target, actor=actor,
                                               reason=removal_reason if target == UnitStatus.REMOVED.value else None,
                                               note=f"fördjupad kontroll {row.id}: {note}", effective_on=on)
            changes.append({"unit_id": u.unit_id, "status": entry.changes["status"]})
    row.status, row.outcome, row.decided_on, row.decided_by, row.decision_note = "decided", outcome, on, actor, note
    record(session, actor=actor, entity_kind="control", entity_id=str(row.id), action="control_decided",
           effective_on=on, org_nr=row.org_nr, unit_id=row.unit_id, note=note, reason=removal_reason,
           changes={"status": ["open", "decided"], "outcome": outcome,
                    "units": [c["unit_id"] for c in changes]})
    session.flush()
    return row, changes


def list_controls(session: Session, *, status: str | None = None, outcome: str | None = None,
                  org_nr: str | None = None) -> list[dict[str, Any]]:
    stmt = select(DeepenedControl).order_by(DeepenedControl.opened_on, DeepenedControl.id)
    if status:
        if status not in ("open", "decided"):
            raise ValidationError(msg("option.unknown_value", option="--status", value=status, known="open, decided"))
        stmt = stmt.where(DeepenedControl.status == status)
    if outcome:
        stmt = stmt.where(DeepenedControl.outcome == service._code(outcome, ControlOutcome, "control outcome"))
    if org_nr:
        stmt = stmt.where(DeepenedControl.org_nr == service.get_supplier(session, org_nr).org_nr)
    return [control_dict(c) for c in session.scalars(stmt)]


def controls_year(session: Session, year: int) -> dict[str, Any]:
    """The year's deepened controls the way the annual report gives them: how many were carried
    out (decided in the year), how many ended with pause or removal, per outcome, and what was
    checked (Spink 2024: '24 genomförda kontroller … 15 … pausats eller tagits bort')."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    decided = list(session.scalars(select(DeepenedControl).where(DeepenedControl.decided_on >= first,
                                                                 DeepenedControl.decided_on <= last)))
    opened = session.scalars(select(DeepenedControl.id).where(DeepenedControl.opened_on >= first,
                                                              DeepenedControl.opened_on <= last)).all()
    still_open = session.scalars(select(DeepenedControl.id).where(
        DeepenedControl.opened_on <= last,
        or_(DeepenedControl.decided_on.is_(None), DeepenedControl.decided_on > last))).all()
    from ..audit.figures import controls_report  # one computation, shared with the direct read

    return controls_report(year, [(c.outcome, c.checked, c.proposal_id) for c in decided], len(opened), len(still_open))

"""What a person sees of the register (`register show`, GET /api/v1/units/{unit_id}, the web
page of a unit): one function each, shared by the CLI, the API and the web pages."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlmodel import Session

from ..storage.models import Complaint, Proposal, Unit, Visit
from . import service


def unit_view(session: Session, unit: Unit, show_protected: bool, checks: list[dict] | None = None) -> dict:
    """One unit for `register show`; `checks` are its supplier's when the caller already has them.
    The location of a unit with a protected address is left out unless `show_protected`."""
    data = service.unit_document(session, unit)
    supplier = service.supplier_of(session, unit)
    if unit.protected_address and not show_protected:
        data.pop("location", None)
        data["location_hidden"] = True
    since = service.status_since(session, unit.unit_id)
    data["org_nr"] = supplier.org_nr
    data["supplier_name"] = supplier.name
    data["status_since"] = since.effective_on.isoformat() if since else None
    data["status_changed_by"] = since.actor if since else None
    data["status_rule"] = since.rule_id if since else None
    data["checks"] = service.supplier_checks(session, supplier) if checks is None else checks
    data["complaints"] = [
        {"id": c.id, "received_on": c.received_on.isoformat(), "category": c.category, "outcome": c.outcome,
         "note": c.note, "recorded_by": c.recorded_by}
        for c in session.scalars(select(Complaint).where(Complaint.unit_id == unit.id)
                                 .order_by(Complaint.received_on, Complaint.id))
    ]
    data["visits"] = [
        {"id": v.id, "visited_on": v.visited_on.isoformat(), "note": v.note, "recorded_by": v.recorded_by}
        for v in session.scalars(select(Visit).where(Visit.unit_id == unit.id)
                                 .order_by(Visit.visited_on, Visit.id))
    ]
    data["proposals"] = [
        {"id": p.id, "kind": p.kind, "status": p.status, "created_on": p.created_on, "rule_id": p.rule_id,
         "message": p.message, "decided_by": p.decided_by, "decision_note": p.decision_note}
        for p in session.scalars(select(Proposal).where(
            or_(Proposal.unit_id == unit.unit_id,
                (Proposal.unit_id.is_(None)) & (Proposal.org_nr == supplier.org_nr))).order_by(Proposal.id))
    ]
    return data

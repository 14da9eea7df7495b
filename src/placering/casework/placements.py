"""Placement agreements (placeringsavtal) and decisions not executed in time.

"Ett placeringsavtal ska matcha ett verkställt beslut, med samma placeringstid och
överenskommet pris" (Nordost 2022, 7.3 Egenkontroll). A placement records the decision period
and the agreed daily price (for direct procurement the negotiated price, which may differ from
the register's listed price, with who agreed it); the agreement records its period and price.
Every change is history (entity `placement`, the request id); the audit lists placements whose
agreement does not match, and placements without one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..boundary import field_text, not_future
from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Label, Number, msg, reason
from ..storage.history import record, require_actor
from ..storage.models import Placement, PlacementAgreement, PlacementRequest
from ..text import nfc
from ..vocabulary import Route

from .agreement_check import ACTIVE  # a placement pending review (matching/decisions.py) is not yet executed


def get_placement(session: Session, request_id: str) -> tuple[PlacementRequest, Placement]:
    req = session.scalars(select(PlacementRequest).where(PlacementRequest.request_id == nfc(request_id))).first()
    if req is None:
        raise NotFound(msg("request.not_found_see_show", id=nfc(request_id)))
    placement = session.scalars(select(Placement).where(Placement.request_id == req.id)).first()
    if placement is None:
        raise InvariantViolation(msg("placement.none_yet", id=req.request_id))
    return req, placement


def _log(session: Session, req: PlacementRequest, p: Placement, action: str, on: date, changes: dict,
         actor: str, note: str | None = None) -> None:
    record(session, actor=actor, entity_kind="placement", entity_id=req.request_id, action=action,
           effective_on=on, org_nr=p.org_nr, unit_id=p.unit_id, changes=changes, note=note)


def _period(start: date, end: date | None, what: str) -> None:
    if end is not None and end < start:
        raise ValidationError(msg("period.ends_before_start", option=what, end=end.isoformat(), start=start.isoformat()))


def _price(value: float, option: str) -> float:
    if not (value == value) or value <= 0 or value in (float("inf"),):
        raise ValidationError(msg("price.not_positive", option=option, value=Number(value)))
    return round(float(value), 2)


def set_decision(session: Session, request_id: str, *, actor: str, decision_from: date | None = None,
                 decision_to: date | None = None, agreed_price: float | None = None,
                 agreed_by: str | None = None, note: str | None = None, on: date | None = None) -> Placement:
    """Record or change the decision period and/or the agreed daily price of a placement."""
    actor = require_actor(actor)
    req, p = get_placement(session, request_id)
    if decision_from is None and decision_to is None and agreed_price is None:
        raise ValidationError(msg("placement.decision_nothing_given"))
    changes: dict[str, Any] = {}
    new_from = decision_from or p.decision_from
    new_to = decision_to if decision_to is not None else p.decision_to
    if new_from is None and new_to is not None:
        raise ValidationError(msg("placement.decision_needs_start"))
    if new_from is not None:
        _period(new_from, new_to, "--to")
    for key, new in (("decision_from", new_from), ("decision_to", new_to)):
        if new != getattr(p, key):
            changes[key] = [getattr(p, key), new]
            setattr(p, key, new)
    if agreed_price is not None:
        price = _price(agreed_price, "--price")
        # who agreed the price is stored and printed back: a role, checked like every free text
        agreed_by = field_text(agreed_by, "--agreed-by", kind="actor", optional=True) or ""
        if p.route == Route.DIREKTUPPHANDLING.value:
            if not agreed_by:
                raise ValidationError(msg("placement.agreed_by_needed"))
        elif p.daily_price is not None and price != p.daily_price:
            raise InvariantViolation(msg("placement.price_listed", id=req.request_id, route=Label(p.route, "route"),
                                         price=Number(p.daily_price)))
        agreed_by = agreed_by or actor
        if price != p.agreed_price or agreed_by != p.agreed_by:
            changes["agreed_price"] = [p.agreed_price, price]
            changes["agreed_by"] = [p.agreed_by, agreed_by]
            p.agreed_price, p.agreed_by = price, agreed_by
    if not changes:
        raise InvariantViolation(msg("placement.decision_unchanged", id=req.request_id))
    session.add(p)
    _log(session, req, p, "placement_decision", on or sweden_today(), changes, actor,
         field_text(note, "--note", optional=True))
    session.flush()
    return p


def record_agreement(session: Session, request_id: str, *, actor: str, period_from: date | None = None,
                     period_to: date | None = None, daily_price: float | None = None,
                     signed_on: date | None = None, note: str | None = None) -> PlacementAgreement:
    """Record the placement agreement (placeringsavtal), or change its period or price."""
    actor = require_actor(actor)
    if signed_on is not None:
        try:
            not_future(signed_on, "--signed-on: the signature date")
        except ValueError as exc:
            raise ValidationError(reason(exc)) from None
    req, p = get_placement(session, request_id)
    if p.status != ACTIVE:
        raise InvariantViolation(msg("placement.agreement_waits_review", id=req.request_id,
                                     status=p.status))
    row = session.scalars(select(PlacementAgreement).where(PlacementAgreement.placement_id == p.id)).first()
    changes: dict[str, Any] = {}
    if row is None:
        missing = [o for o, v in (("--from", period_from), ("--price", daily_price), ("--signed-on", signed_on))
                   if v is None]
        if missing:
            raise ValidationError(msg("placement.agreement_needs", options=", ".join(missing)))
        _period(period_from, period_to, "--to")
        row = PlacementAgreement(placement_id=p.id, period_from=period_from, period_to=period_to,
                                 daily_price=_price(daily_price, "--price"), signed_on=signed_on, recorded_by=actor)
        changes = {"period_from": [None, period_from], "period_to": [None, period_to],
                   "daily_price": [None, row.daily_price], "signed_on": [None, signed_on]}
        action = "placement_agreement"
    else:
        new = {"period_from": period_from or row.period_from,
               "period_to": period_to if period_to is not None else row.period_to,
               "daily_price": _price(daily_price, "--price") if daily_price is not None else row.daily_price,
               "signed_on": signed_on or row.signed_on}
        _period(new["period_from"], new["period_to"], "--to")
        for key, value in new.items():
            if value != getattr(row, key):
                changes[key] = [getattr(row, key), value]
                setattr(row, key, value)
        if not changes:
            raise InvariantViolation(msg("placement.agreement_unchanged", id=req.request_id))
        action = "placement_agreement_changed"
    session.add(row)
    _log(session, req, p, action, row.signed_on if action == "placement_agreement" else sweden_today(),
         changes, actor, field_text(note, "--note", optional=True))
    session.flush()
    return row


def placement_view(session: Session, request_id: str) -> dict[str, Any]:
    req, p = get_placement(session, request_id)
    a = session.scalars(select(PlacementAgreement).where(PlacementAgreement.placement_id == p.id)).first()
    return _row(req.request_id, p, a, _tolerance(sweden_today()))


# The check of one placement's agreement, shared with audit/reads.py (without SQLAlchemy).
from .agreement_check import agreement_row as _row, agreement_rows, tolerance as _tolerance  # noqa: E402


def agreement_audit(session: Session, as_of: date, *, all_rows: bool = False) -> list[dict[str, Any]]:
    """Placements started on or before the date whose agreement does not match the decision
    (period or agreed price), or that have no agreement (`all_rows`: every placement)."""
    rows = session.execute(
        select(PlacementRequest.request_id, Placement, PlacementAgreement)
        .join(Placement, Placement.request_id == PlacementRequest.id)
        .outerjoin(PlacementAgreement, PlacementAgreement.placement_id == Placement.id)
        .where(Placement.start_on <= as_of, Placement.status == ACTIVE)
        .order_by(Placement.start_on, PlacementRequest.request_id))
    return agreement_rows(as_of, rows, all_rows=all_rows)

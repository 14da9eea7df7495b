"""`audit prices-due`: route prices due for confirmation (issue 20 item 4).

Spink's report asks for "en ökad noggrannhet med att kontrollera att prisuppgifterna är
aktuella" (sources/004 l. 1202-1203). Each route's daily price carries the day it was last
confirmed (`price_confirmed_on`); a price confirmed more than `price_confirmation_months` (a
dated parameter, a local setting) before the day asked about is due, and a price that was never
given a confirmation day is listed as never confirmed."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Iterable

from .checks import add_months

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by prices_due: price_rows serves audit/reads.py too
# (`audit prices-due` without SQLAlchemy).


def prices_due(session: Session, as_of: date, *, ruleset: Any = None, include_never: bool = True,
               supplier: str | None = None) -> dict[str, Any]:
    from sqlalchemy import select

    from ..register import service
    from ..rules import load_ruleset
    from ..storage.models import Supplier, Unit, UnitRoute
    from ..vocabulary import AgreementStatus, UnitStatus

    ruleset = ruleset or load_ruleset()
    months = int(ruleset.param("price_confirmation_months", as_of))
    stmt = (select(UnitRoute.route, UnitRoute.insats, UnitRoute.agreement_id, UnitRoute.daily_price,
                   UnitRoute.price_confirmed_on, Unit.unit_id, Unit.name, Unit.status, Supplier.org_nr, Supplier.name)
            .join(Unit, Unit.id == UnitRoute.unit_id).join(Supplier, Supplier.id == Unit.supplier_id)
            .where(UnitRoute.daily_price.is_not(None), UnitRoute.status == AgreementStatus.ACTIVE.value,
                   Unit.status != UnitStatus.REMOVED.value))
    if supplier:
        stmt = stmt.where(Supplier.org_nr == service.get_supplier(session, supplier).org_nr)
    return price_rows(as_of, months, session.execute(
        stmt.order_by(Supplier.org_nr, Unit.unit_id, UnitRoute.position, UnitRoute.id)), include_never=include_never)


def price_rows(as_of: date, months: int, routes: Iterable[tuple], *, include_never: bool = True) -> dict[str, Any]:
    """The report from the active priced routes of units not removed, as (route, insats,
    agreement_id, daily_price, price_confirmed_on, unit_id, unit name, unit status, org_nr,
    supplier name) in (org_nr, unit_id, position, id) order."""
    since = add_months(as_of, -months)
    rows = []
    for route, insats, agreement_id, daily_price, confirmed, unit_id, unit_name, unit_status, org_nr, sup_name \
            in routes:
        if confirmed is None:
            if not include_never:
                continue
            state = "never"
        elif confirmed < since:
            state = "expired"
        else:
            continue
        rows.append({"org_nr": org_nr, "supplier": sup_name, "unit_id": unit_id, "unit": unit_name,
                     "unit_status": unit_status, "route": route, "insats": insats,
                     "agreement_id": agreement_id, "daily_price": daily_price, "price_confirmed_on": confirmed,
                     "due_on": add_months(confirmed, months) if confirmed else None, "state": state})
    return {"as_of": as_of, "months": months, "confirmed_since": since, "prices": rows}

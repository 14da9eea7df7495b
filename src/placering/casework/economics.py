"""Direct-procurement economics: direct purchases add up per financial year and per kind of
service (insats), across suppliers, per contracting authority, against the dated threshold
(direktupphandlingsgränsen, LOU 19 kap.; parameter direct_procurement_threshold_sek).

LOU counts the threshold per upphandlande myndighet. In Göteborg that is each nämnd, not the
municipality: the buyer of a placement is its request's requester (the administration of the
nämnd that buys: Centrum, Hisingen, Nordost, Sydväst, Funktionsstöd) within the buying
municipality, and the sums follow it (issue 20 item 13).

The cost of a placement in a year is its agreed daily price (the negotiated final price; the
listed price when none is recorded) times its days in that year.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..audit.common import check_insats, check_municipality
from ..storage.models import Placement, PlacementRequest
from ..vocabulary import Route

from .costs import (  # noqa: E402,F401  (the computation, shared with the direct reads; importable from here)
    THRESHOLD, _threshold_for_year, purchase_sums, purchases_summary, threshold_on, year_cost)


def direct_purchase_sums(session: Session, year: int, *, municipality: str | None = None,
                         insats: str | None = None, leave_out: str | None = None,
                         buyer: str | None = None) -> dict[str, Any]:
    """Per (buying municipality, buyer nämnd, insats): the year's direct-procurement placements (active, or
    chosen and pending review: a rejected one is deleted), suppliers, the sum of their cost in
    the year, and the threshold. `leave_out`: a request id not to count (the case under review)."""
    insats = check_insats(insats)
    muni_key = check_municipality(session, municipality) if municipality else None
    limit = _threshold_for_year(year)
    rows = session.execute(
        select(Placement.municipality, Placement.insats, Placement.org_nr, Placement.unit_id, Placement.agreed_price,
               Placement.daily_price, Placement.start_on, Placement.end_on, PlacementRequest.request_id,
               PlacementRequest.requester)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(Placement.route == Route.DIREKTUPPHANDLING.value, Placement.start_on <= date(year, 12, 31))
        .order_by(Placement.start_on, Placement.id))
    return purchase_sums(year, rows, limit, insats=insats, muni_key=muni_key, leave_out=leave_out, buyer=buyer)


def purchases_for(session: Session, year: int, municipality: str, insats: str,
                  leave_out: str | None = None, buyer: str | None = None) -> dict[str, Any]:
    """The sum the review shows: the buyer nämnd's direct purchases of the insats in the year,
    without the case under review (the review adds its cost itself)."""
    data = direct_purchase_sums(session, year, municipality=municipality, insats=insats, leave_out=leave_out,
                                buyer=buyer)
    return purchases_summary(data, year, municipality, insats, buyer)

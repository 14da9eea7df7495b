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

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..audit.common import check_insats, check_municipality
from ..audit.params import audit_param
from ..storage.models import Placement, PlacementRequest
from ..text import fold
from ..vocabulary import Route

from .costs import year_cost  # noqa: E402,F401  (the one pricing over a year; importable from here)

THRESHOLD = "direct_procurement_threshold_sek"


def threshold_on(on: date) -> dict[str, Any]:
    v = audit_param(THRESHOLD, on)
    return {"parameter": THRESHOLD, "value": v.value, "valid_from": v.valid_from, "valid_to": v.valid_to}


def _threshold_for_year(year: int) -> dict[str, Any]:
    """The threshold of the financial year: the value valid at its end (or today, in the year)."""
    end = min(date(year, 12, 31), max(sweden_today(), date(year, 1, 1)))
    return threshold_on(end)


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
        select(Placement, PlacementRequest.request_id, PlacementRequest.requester)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(Placement.route == Route.DIREKTUPPHANDLING.value, Placement.start_on <= date(year, 12, 31))
        .order_by(Placement.start_on, Placement.id))
    groups: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"placements": [], "suppliers": set(), "total": 0.0})
    buyer_key = fold(buyer) if buyer else None
    for p, request_id, requester in rows:
        if buyer_key and fold(requester or "") != buyer_key:
            continue
        if insats and p.insats != insats:
            continue
        if muni_key and fold(p.municipality) != muni_key:
            continue
        if request_id == leave_out:
            continue
        price = p.agreed_price if p.agreed_price is not None else p.daily_price
        cost = year_cost(price, p.start_on, p.end_on, year)
        if cost <= 0:
            continue
        g = groups[(p.municipality, requester or "", p.insats)]
        g["placements"].append({"request_id": request_id, "unit_id": p.unit_id, "org_nr": p.org_nr,
                                "daily_price": price, "start_on": p.start_on, "end_on": p.end_on,
                                "cost_in_year": round(cost, 2)})
        g["suppliers"].add(p.org_nr)
        g["total"] += cost
    sums = []
    for (muni, who, ins), g in sorted(groups.items()):
        total = round(g["total"], 2)
        sums.append({"municipality": muni, "buyer": who, "insats": ins, "placements": len(g["placements"]),
                     "suppliers": len(g["suppliers"]), "total": total, "threshold": limit["value"],
                     "share_of_threshold": round(total / float(limit["value"]), 3),
                     "over_threshold": total > float(limit["value"]), "items": g["placements"]})
    return {"year": year, "threshold": limit, "sums": sums}


def purchases_for(session: Session, year: int, municipality: str, insats: str,
                  leave_out: str | None = None, buyer: str | None = None) -> dict[str, Any]:
    """The sum the review shows: the buyer nämnd's direct purchases of the insats in the year,
    without the case under review (the review adds its cost itself)."""
    data = direct_purchase_sums(session, year, municipality=municipality, insats=insats, leave_out=leave_out,
                                buyer=buyer)
    found = data["sums"][0] if data["sums"] else {"municipality": municipality, "insats": insats, "placements": 0,
                                                  "suppliers": 0, "total": 0.0, "items": []}
    return {"year": year, "municipality": municipality, "buyer": buyer, "insats": insats,
            "placements": found["placements"],
            "suppliers": found["suppliers"], "total": found["total"], "threshold": data["threshold"]}

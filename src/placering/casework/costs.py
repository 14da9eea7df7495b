"""The one way a placement is priced over a financial year (casework/economics.py, the review
queue, `audit direct-procurement` and `audit direct-purchases`) and the year's direct purchases
against the threshold, without SQLAlchemy: the direct reads use them too."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, Iterable


def year_cost(daily_price: float | None, start_on: date, end_on: date | None, year: int) -> float:
    """Daily price × days of the placement that fall in `year` (both ends included)."""
    if daily_price is None:
        return 0.0
    first = max(start_on, date(year, 1, 1))
    last = min(end_on or date(year, 12, 31), date(year, 12, 31))
    days = (last - first).days + 1
    return float(daily_price) * days if days > 0 else 0.0


THRESHOLD = "direct_procurement_threshold_sek"


def threshold_on(on: date) -> dict[str, Any]:
    from ..audit.params import audit_param

    v = audit_param(THRESHOLD, on)
    return {"parameter": THRESHOLD, "value": v.value, "valid_from": v.valid_from, "valid_to": v.valid_to}


def _threshold_for_year(year: int) -> dict[str, Any]:
    """The threshold of the financial year: the value valid at its end (or today, in the year)."""
    from ..display import today as sweden_today  # Europe/Stockholm

    end = min(date(year, 12, 31), max(sweden_today(), date(year, 1, 1)))
    return threshold_on(end)


def purchase_sums(year: int, rows: Iterable[tuple], limit: dict[str, Any], *, insats: str | None = None,
                  muni_key: str | None = None, leave_out: str | None = None,
                  buyer: str | None = None) -> dict[str, Any]:
    """economics.direct_purchase_sums from the direct-procurement placements started by the
    year's end, by start day and id: (municipality, insats, org_nr, unit_id, agreed_price,
    daily_price, start_on, end_on, request_id, requester) each; `limit` the year's threshold."""
    from ..text import fold

    groups: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"placements": [], "suppliers": set(), "total": 0.0})
    buyer_key = fold(buyer) if buyer else None
    for municipality, p_insats, org_nr, unit_id, agreed_price, daily_price, start_on, end_on, request_id, requester \
            in rows:
        if buyer_key and fold(requester or "") != buyer_key:
            continue
        if insats and p_insats != insats:
            continue
        if muni_key and fold(municipality) != muni_key:
            continue
        if request_id == leave_out:
            continue
        price = agreed_price if agreed_price is not None else daily_price
        cost = year_cost(price, start_on, end_on, year)
        if cost <= 0:
            continue
        g = groups[(municipality, requester or "", p_insats)]
        g["placements"].append({"request_id": request_id, "unit_id": unit_id, "org_nr": org_nr,
                                "daily_price": price, "start_on": start_on, "end_on": end_on,
                                "cost_in_year": round(cost, 2)})
        g["suppliers"].add(org_nr)
        g["total"] += cost
    sums = []
    for (muni, who, ins), g in sorted(groups.items()):
        total = round(g["total"], 2)
        sums.append({"municipality": muni, "buyer": who, "insats": ins, "placements": len(g["placements"]),
                     "suppliers": len(g["suppliers"]), "total": total, "threshold": limit["value"],
                     "share_of_threshold": round(total / float(limit["value"]), 3),
                     "over_threshold": total > float(limit["value"]), "items": g["placements"]})
    return {"year": year, "threshold": limit, "sums": sums}


def purchases_summary(data: dict[str, Any], year: int, municipality: str, insats: str,
                      buyer: str | None) -> dict[str, Any]:
    """economics.purchases_for from the buyer's sums of the insats (purchase_sums)."""
    found = data["sums"][0] if data["sums"] else {"municipality": municipality, "insats": insats, "placements": 0,
                                                  "suppliers": 0, "total": 0.0, "items": []}
    return {"year": year, "municipality": municipality, "buyer": buyer, "insats": insats,
            "placements": found["placements"],
            "suppliers": found["suppliers"], "total": found["total"], "threshold": data["threshold"]}

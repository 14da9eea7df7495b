"""`audit placement-agreements`: does a placement's agreement match its decision (period and
agreed price, Nordost 2022, 7.3)? The check of one placement, without the database:
casework.placements (the ORM) and audit/reads.py (the database's own driver) read the
placements and their agreements, and both check them here."""

from __future__ import annotations

from datetime import date
from typing import Any

ACTIVE = "active"  # a placement pending review (matching/decisions.py) is not yet executed


def tolerance(on: date) -> float:
    """How far (SEK a day) an agreed price may differ from the decision's (a dated parameter)."""
    from ..audit.params import audit_param

    return float(audit_param("placement_agreement_price_tolerance_sek", on).value)


def agreement_row(request_id: str, p: Any, a: Any | None, tolerance: float) -> dict[str, Any]:
    """One placement (a Placement's attributes) and its agreement (a PlacementAgreement's, or
    None), with what does not match."""
    price = p.agreed_price if p.agreed_price is not None else p.daily_price
    problems = []
    if a is None:
        problems.append("no_agreement")
    else:
        if p.decision_from is None:
            problems.append("no_decision_period")
        elif (a.period_from, a.period_to) != (p.decision_from, p.decision_to):
            problems.append("period_differs")
        if price is None or abs(a.daily_price - price) > tolerance + 0.005:
            problems.append("price_differs")
    return {"request_id": request_id, "unit_id": p.unit_id, "org_nr": p.org_nr, "insats": p.insats,
            "route": p.route, "municipality": p.municipality, "start_on": p.start_on, "end_on": p.end_on,
            "listed_price": p.daily_price, "agreed_price": price, "agreed_by": p.agreed_by,
            "decision_from": p.decision_from, "decision_to": p.decision_to,
            "agreement_from": a.period_from if a else None, "agreement_to": a.period_to if a else None,
            "agreement_price": a.daily_price if a else None, "signed_on": a.signed_on if a else None,
            "problems": problems}


def agreement_rows(as_of: date, found: Any, *, all_rows: bool = False) -> list[dict[str, Any]]:
    """The audit's rows from (request_id, placement, agreement or None) of the placements
    started on or before the date, in (start_on, request_id) order: those with a problem, or
    every one (`all_rows`)."""
    allowed = tolerance(as_of)
    out = [agreement_row(rid, p, a, allowed) for rid, p, a in found]
    return out if all_rows else [r for r in out if r["problems"]]

"""Decisions not executed within the dated months (`audit not-executed`), computed apart from how
the requests are read: followups.not_executed (the ORM session) and the direct read in
audit/reads_yearly.py (storage.reads, issue 22 item 1) hand the same rows to `not_executed_rows`,
so the report has one definition. No SQLAlchemy here."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable


def decision_day(row) -> date:
    """The decision day (beslutsdag): the recorded one, else the request's submitted_on."""
    return row.decided_on or row.submitted_on


def months_allowed(as_of: date) -> int:
    """The dated parameter: months within which a decision is to be executed."""
    from ..audit.params import audit_param

    return int(audit_param("ivo_unexecuted_months", as_of).value)


def not_executed_rows(found: Iterable[tuple[Any, date | None]], as_of: date, months: int) -> list[dict[str, Any]]:
    """The report's rows from the requests decided by `as_of`, by submitted_on and request id,
    each with the start day of an active placement (or None): (request, start_on), the request
    with request_id, decided_on, submitted_on, municipality, requester, insats,
    decision_ended_on, interrupted_on and resumed_on."""
    from ..clock import add_months

    prev_quarter_end = date(as_of.year, ((as_of.month - 1) // 3) * 3 + 1, 1) - timedelta(days=1)
    out = []
    for req, started in found:
        decided = decision_day(req)
        # Ended without execution (at the person's request, or the needs changed): off the list
        # from that day (001 l. 753-755).
        if req.decision_ended_on is not None and req.decision_ended_on <= as_of:
            continue
        # Interrupted and not resumed within the months from the interruption: reported like a
        # decision not executed (000 l. 2906-2908; 001 l. 743-747).
        if req.interrupted_on is not None and req.interrupted_on <= as_of and not (
                req.resumed_on is not None and req.resumed_on >= req.interrupted_on and req.resumed_on <= as_of):
            deadline = add_months(req.interrupted_on, months)
            if deadline <= as_of:
                out.append({"request_id": req.request_id, "decided_on": decided, "municipality": req.municipality,
                            "requester": req.requester, "insats": req.insats, "deadline": deadline,
                            "days_over": as_of.toordinal() - deadline.toordinal(), "state": "interrupted",
                            "interrupted_on": req.interrupted_on, "placement_start_on": started,
                            "reported_before": deadline <= prev_quarter_end})
            continue
        if req.interrupted_on is not None and req.interrupted_on <= as_of:
            continue  # executed, interrupted and resumed in time
        deadline = add_months(decided, months)
        if deadline > as_of:
            continue
        if started is not None and started <= deadline and started <= as_of:
            continue
        if started is not None and started <= as_of:
            if started <= prev_quarter_end:
                continue  # executed (late) in an earlier quarter: reported then
            state = "executed_late"
        else:
            state = "not_executed"
        out.append({"request_id": req.request_id, "decided_on": decided, "municipality": req.municipality,
                    "requester": req.requester, "insats": req.insats, "deadline": deadline,
                    "days_over": (min(as_of, started) if started and started <= as_of else as_of).toordinal()
                    - deadline.toordinal(), "state": state, "placement_start_on": started,
                    "reported_before": deadline <= prev_quarter_end and (started is None or started > prev_quarter_end)})
    return out

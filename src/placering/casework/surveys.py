"""The three-month HVB survey's computation (`audit surveys`), apart from how placements are read:
followups.surveys (the ORM session) and the direct read in audit/reads_yearly.py (storage.reads,
issue 22 item 1) hand the same rows to `survey_rows` and `survey_summary`: one definition.
No SQLAlchemy here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any, Iterable


def _survey_terms(on: date) -> tuple[int, list[str]]:
    from ..audit.params import audit_param

    return int(audit_param("hvb_survey_months", on).value), list(audit_param("hvb_survey_insatser", on).value)


def survey_due_on(p: Any) -> date | None:
    """The survey date of a placement (with start_on and insats), or None when it gets no survey
    (not an HVB barn och unga placement, or before the survey began). Every HVB placement within
    barn och unga gets it, the 18–20-year-olds too: 'alla HVB placeringar barn och unga' (000 l.
    10869-10871)."""
    from ..audit.params import audit_param
    from ..clock import add_months

    terms = audit_param("hvb_survey_months", p.start_on, required=False)
    if terms is None:
        return None
    months, insatser = _survey_terms(p.start_on)
    if p.insats not in insatser:
        return None
    return add_months(p.start_on, months)


def survey_rows(found: Iterable[tuple[str, Any, Any]], as_of: date) -> list[dict[str, Any]]:
    """The survey rows from the active placements started by the date, by start day and request
    id: (request_id, placement, survey or None) each, the placement with unit_id, org_nr,
    insats, start_on and end_on, the survey with answered_on, positive_change, care_quality and
    child_answered."""
    out = []
    for rid, p, s in found:
        due = survey_due_on(p)
        if due is None:
            continue
        if s is not None:
            state = "answered"
        elif p.end_on is not None and p.end_on < due:
            state = "ended_before"
        else:
            state = "overdue" if due < as_of else "upcoming"
        out.append({"request_id": rid, "unit_id": p.unit_id, "org_nr": p.org_nr, "start_on": p.start_on,
                    "due_on": due, "state": state, "answered_on": s.answered_on if s else None,
                    "positive_change": s.positive_change if s else None,
                    "care_quality": s.care_quality if s else None,
                    "child_answered": s.child_answered if s else None})
    return out


def survey_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per unit: surveys answered, share with a positive change, share rating the care good or
    very good, share the child answered (as Nordost 2022 reports them)."""
    per: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        per[r["unit_id"]].append(r)
    out = []
    for unit_id, rs in sorted(per.items()):
        answered = [r for r in rs if r["state"] == "answered"]
        n = len(answered)

        def share(pred) -> float | None:
            return round(sum(1 for r in answered if pred(r)) / n, 3) if n else None

        out.append({"unit_id": unit_id, "org_nr": rs[0]["org_nr"], "placements": len(rs), "answered": n,
                    "overdue": sum(1 for r in rs if r["state"] == "overdue"),
                    "positive_change_share": share(lambda r: r["positive_change"]),
                    "good_care_share": share(lambda r: r["care_quality"] in ("bra", "mycket_bra")),
                    "child_answered_share": share(lambda r: r["child_answered"])})
    return out

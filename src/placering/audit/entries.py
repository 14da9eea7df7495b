"""`audit entries`: entry checks decided per period (kontroller inför tillägg i utförarregistret).

Spink's annual report 2024 (sources/004) counts them: "11 av 20 utförare godkändes inte i
kontrollerna". Answered from history alone (`entry_approved` / `entry_rejected` entries, one per
unit, register/entry.py): per period, the units and the distinct suppliers approved and
rejected. A supplier is counted once per period and outcome; one rejected in the period counts
as rejected even if approved later in it (it failed the checks first).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..errors import ValidationError
from ..i18n import msg
from ..storage.models import History

PERIODS = ("month", "quarter", "half", "year")


def _period(on: date, period: str) -> str:
    if period == "month":
        return f"{on.year}-{on.month:02d}"
    if period == "quarter":
        return f"{on.year}-Q{(on.month - 1) // 3 + 1}"
    if period == "half":
        return f"{on.year}-H{1 if on.month <= 6 else 2}"
    return str(on.year)


def entries_report(session: Session, *, since: date | None = None, until: date | None = None,
                   period: str = "half") -> dict[str, Any]:
    if period not in PERIODS:
        raise ValidationError(msg("option.unknown_value", option="--period", value=period, known=", ".join(PERIODS)))
    if since and until and since > until:
        raise ValidationError(msg("option.since_after_until", since=since.isoformat(), until=until.isoformat()))
    stmt = select(History).where(History.entity_kind == "entry",
                                 History.action.in_(("entry_approved", "entry_rejected")))
    if since:
        stmt = stmt.where(History.effective_on >= since)
    if until:
        stmt = stmt.where(History.effective_on <= until)
    units: dict[str, dict[str, int]] = defaultdict(lambda: {"approved": 0, "rejected": 0})
    suppliers: dict[str, dict[str, set]] = defaultdict(lambda: {"approved": set(), "rejected": set()})
    decisions = []
    for h in session.scalars(stmt.order_by(History.effective_on, History.id)):
        key = _period(h.effective_on, period)
        outcome = "approved" if h.action == "entry_approved" else "rejected"
        units[key][outcome] += 1
        suppliers[key][outcome].add(h.org_nr)
        decisions.append({"on": h.effective_on, "period": key, "unit_id": h.unit_id, "org_nr": h.org_nr,
                          "outcome": outcome, "by": h.actor, "note": h.note})
    rows = []
    for key in sorted(units):
        rejected = suppliers[key]["rejected"]
        approved = suppliers[key]["approved"] - rejected
        rows.append({"period": key, "units_approved": units[key]["approved"], "units_rejected": units[key]["rejected"],
                     "suppliers_approved": len(approved), "suppliers_rejected": len(rejected),
                     "suppliers_checked": len(approved | rejected),
                     "rejected_share": round(len(rejected) / len(approved | rejected), 3) if approved | rejected else None})
    return {"since": since, "until": until, "period": period, "periods": rows, "decisions": decisions}

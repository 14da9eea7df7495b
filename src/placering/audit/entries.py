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
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import ValidationError
from ..i18n import msg

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by entries_report: check_entries_options and
# entries_table serve audit/reads.py too (`audit entries` without SQLAlchemy).

PERIODS = ("month", "quarter", "half", "year")


def _period(on: date, period: str) -> str:
    if period == "month":
        return f"{on.year}-{on.month:02d}"
    if period == "quarter":
        return f"{on.year}-Q{(on.month - 1) // 3 + 1}"
    if period == "half":
        return f"{on.year}-H{1 if on.month <= 6 else 2}"
    return str(on.year)


def check_entries_options(since: date | None, until: date | None, period: str) -> None:
    if period not in PERIODS:
        raise ValidationError(msg("option.unknown_value", option="--period", value=period, known=", ".join(PERIODS)))
    if since and until and since > until:
        raise ValidationError(msg("option.since_after_until", since=since.isoformat(), until=until.isoformat()))


def entries_report(session: Session, *, since: date | None = None, until: date | None = None,
                   period: str = "half") -> dict[str, Any]:
    from sqlalchemy import select

    from ..storage.models import History

    check_entries_options(since, until, period)
    stmt = select(History.effective_on, History.action, History.unit_id, History.org_nr, History.actor,
                  History.note).where(History.entity_kind == "entry",
                                      History.action.in_(("entry_approved", "entry_rejected")))
    if since:
        stmt = stmt.where(History.effective_on >= since)
    if until:
        stmt = stmt.where(History.effective_on <= until)
    return entries_table(since, until, period, session.execute(stmt.order_by(History.effective_on, History.id)))


def entries_table(since: date | None, until: date | None, period: str, entries: Iterable[tuple]) -> dict[str, Any]:
    """The report from the entry decisions (effective_on, action, unit_id, org_nr, actor, note)
    in (effective_on, id) order."""
    units: dict[str, dict[str, int]] = defaultdict(lambda: {"approved": 0, "rejected": 0})
    suppliers: dict[str, dict[str, set]] = defaultdict(lambda: {"approved": set(), "rejected": set()})
    decisions = []
    for on, action, unit_id, org_nr, actor, note in entries:
        key = _period(on, period)
        outcome = "approved" if action == "entry_approved" else "rejected"
        units[key][outcome] += 1
        suppliers[key][outcome].add(org_nr)
        decisions.append({"on": on, "period": key, "unit_id": unit_id, "org_nr": org_nr,
                          "outcome": outcome, "by": actor, "note": note})
    rows = []
    for key in sorted(units):
        rejected = suppliers[key]["rejected"]
        approved = suppliers[key]["approved"] - rejected
        rows.append({"period": key, "units_approved": units[key]["approved"], "units_rejected": units[key]["rejected"],
                     "suppliers_approved": len(approved), "suppliers_rejected": len(rejected),
                     "suppliers_checked": len(approved | rejected),
                     "rejected_share": round(len(rejected) / len(approved | rejected), 3) if approved | rejected else None})
    return {"since": since, "until": until, "period": period, "periods": rows, "decisions": decisions}

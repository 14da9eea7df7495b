"""`audit complaints`' computation, pure: complaints received per period, with the times SiS
did not provide a place (issue 20 item 8). The ORM view (casework/complaints.py, the server's)
and the direct read (audit/reads_yearly.py, the CLI's start-up without SQLAlchemy) both call it,
on rows with a complaint's fields as attributes."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable

from ..errors import ValidationError
from ..i18n import msg
from ..vocabulary import ComplaintOutcome


def complaint_dict(row: Any, unit_id: str) -> dict[str, Any]:
    return {"id": row.id, "unit_id": unit_id, "org_nr": row.org_nr, "category": row.category,
            "received_on": row.received_on, "received_by": row.received_by, "handler": row.handler,
            "status": row.status, "outcome": row.outcome, "closed_on": row.closed_on, "note": row.note,
            "recorded_by": row.recorded_by, "categories": row.categories or [row.category],
            "complainant_ref": row.complainant_ref, "individual_level": bool(row.individual_level)}


def queue_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queues of the open complaints `rows` (complaint_dict's, oldest first): one per handler
    (INK, Spink) and receiving organisation, however its name is typed (Nordost = NORDOST)."""
    from ..text import fold

    queues: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["handler"] or "spink", fold(r["received_by"] or ""))
        q = queues.setdefault(key, {"handler": key[0], "received_by": r["received_by"], "open": 0,
                                    "oldest": r["received_on"], "ids": []})
        q["open"] += 1
        q["oldest"] = min(q["oldest"], r["received_on"])
        q["ids"].append(r["id"])
    return [queues[k] for k in sorted(queues)]


def check_period_options(since: date | None, until: date | None, period: str) -> None:
    from ..audit.entries import PERIODS

    if period not in PERIODS:
        raise ValidationError(msg("option.unknown_value", option="--period", value=period, known=", ".join(PERIODS)))
    if since and until and since > until:
        raise ValidationError(msg("option.since_after_until", since=since.isoformat(), until=until.isoformat()))


def per_period(found: Iterable[tuple[Any, str]], *, since: date | None, until: date | None, period: str,
               code: str | None) -> dict[str, Any]:
    """The report of the complaints `found` ((complaint, unit id), in the order received), each
    period also counting those closed as 'Platsbrist SiS' whatever outcome `code` keeps."""
    from ..audit.entries import _period

    periods: dict[str, dict[str, Any]] = {}
    listed: list[dict[str, Any]] = []
    for c, uid in found:
        key = _period(c.received_on, period)
        row = periods.setdefault(key, {"period": key, "complaints": 0, "platsbrist_sis": 0, "units": set(),
                                       "suppliers": set()})
        if c.outcome == ComplaintOutcome.PLATSBRIST_SIS.value:
            row["platsbrist_sis"] += 1
        if code is not None and c.outcome != code:
            continue
        row["complaints"] += 1
        row["units"].add(uid)
        row["suppliers"].add(c.org_nr)
        listed.append(complaint_dict(c, uid))
    rows = [{**r, "units": len(r["units"]), "suppliers": len(r["suppliers"])} for _, r in sorted(periods.items())]
    return {"since": since, "until": until, "period": period, "outcome": code, "periods": rows,
            "total": sum(r["complaints"] for r in rows),
            "platsbrist_sis": sum(r["platsbrist_sis"] for r in rows), "complaints": listed}

"""The case-work lists read without SQLAlchemy (storage.reads, issue 22 item 1): `complaint
list`, `complaint queue`, `control list`, `control show` and `followup list`.

Each reads its rows through the database's own driver (sqlite3, or libpq on PostgreSQL, where
the login's row-level security applies as to the ORM view's session) and builds the document
with the ORM view's own functions (complaint_periods.complaint_dict, complaints.queue_rows,
controls.control_dict is mirrored by `_control`, followups.followup_dict): one document. None,
and the CLI asks the ORM view (`orm_view`, casework/views.py: the server's too), for a person
signed in to the server and for whatever the ORM view would refuse or explain (a code that is
not one, a supplier, unit or agreement that is not in the register: its error says which, with
its suggestions).
"""

from __future__ import annotations

from typing import Any

from ..jsondata import to_jsonable
from ..storage.reads import Reader, Where, as_date, as_json
from ..text import nfc

_COMPLAINT = ("SELECT c.id, c.org_nr, c.category, c.received_on, c.received_by, c.handler, c.status, c.outcome, "
              "c.closed_on, c.note, c.recorded_by, c.categories, c.complainant_ref, c.individual_level, u.unit_id "
              "FROM complaint c JOIN unit u ON u.id = c.unit_id")


def _signed_in() -> bool:
    from ..matching.reads import _signed_in as signed_in

    return signed_in()


def _is_code(value: str | None, enum: Any) -> bool:
    return value is None or value in {e.value for e in enum}


def _complaints(reader: Reader, *, handler: str | None = None, status: str | None = None, org_nr: str | None = None,
                unit_id: str | None = None, category: str | None = None, open_only: bool = False,
                complainant_ref: str | None = None) -> list[dict[str, Any]] | None:
    """complaints.list_complaints' rows (complaint_dict), or None when the ORM view must answer."""
    from ..register.reads import _supplier, _unit
    from ..vocabulary import ComplaintCategory, ComplaintHandler, ComplaintStatus
    from .complaint_periods import complaint_dict

    if _signed_in():
        return None
    if not (_is_code(handler, ComplaintHandler) and _is_code(status, ComplaintStatus)
            and _is_code(category, ComplaintCategory)):
        return None  # a label, or a word that is none: the ORM view reads it or says so
    where = Where()
    if complainant_ref:
        from ..boundary import field_text
        from ..errors import ValidationError

        try:
            where.equal("c.complainant_ref", field_text(complainant_ref, "--complainant-ref"))
        except ValidationError:
            return None  # the ORM view says what is wrong with it
    where.equal("c.handler", handler)
    where.equal("c.status", status)
    if open_only:
        where.add("c.status != 'closed'")
    if org_nr:
        key = _supplier(reader, org_nr)
        if key is None:
            return None
        where.equal("c.org_nr", key)
    if unit_id:
        unit = _unit(reader, unit_id)
        if unit is None:
            return None
        where.equal("c.unit_id", unit.id)
    rows = reader.rows(_COMPLAINT + where.sql + " ORDER BY c.received_on, c.id", where.params)
    found = [complaint_dict(r._replace(received_on=as_date(r.received_on), closed_on=as_date(r.closed_on),
                                       categories=as_json(r.categories)), r.unit_id) for r in rows]
    # A complaint can name several categories: it is listed under each (complaints.list_complaints).
    return [r for r in found if category is None or category in r["categories"]]


def complaint_list(reader: Reader, **filters: Any) -> list[dict[str, Any]] | None:
    """`complaint list` (casework.views.complaint_list) read without SQLAlchemy."""
    rows = _complaints(reader, **filters)
    return None if rows is None else to_jsonable(rows)


complaint_list.orm_view = "casework.views:complaint_list"


def complaint_queue(reader: Reader, *, handler: str | None = None) -> list[dict[str, Any]] | None:
    """`complaint queue` (casework.views.complaint_queue) read without SQLAlchemy."""
    from .complaint_periods import queue_rows

    rows = _complaints(reader, handler=handler, open_only=True)
    return None if rows is None else to_jsonable(queue_rows(rows))


complaint_queue.orm_view = "casework.views:complaint_queue"


_CONTROL = ("SELECT id, org_nr, unit_id, proposal_id, reason, opened_on, opened_by, checked, status, outcome, "
            "decided_on, decided_by, decision_note FROM deepened_control")


def _control(r: Any) -> dict[str, Any]:
    """controls.control_dict of a row read here."""
    checked = as_json(r.checked)
    return {"id": r.id, "org_nr": r.org_nr, "unit_id": r.unit_id, "proposal_id": r.proposal_id,
            "reason": r.reason, "opened_on": as_date(r.opened_on), "opened_by": r.opened_by,
            "checked": sorted(checked), "findings": checked, "status": r.status, "outcome": r.outcome,
            "decided_on": as_date(r.decided_on), "decided_by": r.decided_by, "decision_note": r.decision_note}


def control_list(reader: Reader, *, status: str | None = None, outcome: str | None = None,
                 org_nr: str | None = None) -> list[dict[str, Any]] | None:
    """`control list` (casework.views.control_list) read without SQLAlchemy."""
    from ..register.reads import _supplier
    from ..vocabulary import ControlOutcome

    if _signed_in() or status not in (None, "", "open", "decided") or not _is_code(outcome or None, ControlOutcome):
        return None
    where = Where()
    where.equal("status", status)
    where.equal("outcome", outcome)
    if org_nr:
        key = _supplier(reader, org_nr)
        if key is None:
            return None
        where.equal("org_nr", key)
    rows = reader.rows(_CONTROL + where.sql + " ORDER BY opened_on, id", where.params)
    return to_jsonable([_control(r) for r in rows])


control_list.orm_view = "casework.views:control_list"


def control_show(reader: Reader, control_id: int) -> dict[str, Any] | None:
    """`control show` (casework.views.control_show) read without SQLAlchemy; None (the ORM view
    says it is not there) when there is no such control."""
    if _signed_in():
        return None
    rows = reader.rows(_CONTROL + " WHERE id = :id", {"id": int(control_id)})
    return to_jsonable(_control(rows[0])) if rows else None


control_show.orm_view = "casework.views:control_show"


def followup_list(reader: Reader, *, agreement_id: str | None = None) -> list[dict[str, Any]] | None:
    """`followup list` (casework.views.followup_list) read without SQLAlchemy."""
    if _signed_in():
        return None
    where, params = "", {}
    if agreement_id:
        agreement = reader.scalar("SELECT agreement_id FROM unit_route WHERE agreement_id = :a LIMIT 1",
                                  {"a": nfc(agreement_id)})
        if agreement is None:
            return None  # the ORM view says it is not there
        where, params = " WHERE agreement_id = :a", {"a": agreement}
    rows = reader.rows("SELECT agreement_id, months, done_on, findings, recorded_by FROM agreement_followup"
                       + where + " ORDER BY done_on, id", params)
    return to_jsonable([{"agreement_id": r.agreement_id, "months": r.months, "done_on": as_date(r.done_on),
                         "findings": r.findings, "recorded_by": r.recorded_by} for r in rows])


followup_list.orm_view = "casework.views:followup_list"

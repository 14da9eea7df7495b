"""`placement show R` without SQLAlchemy (storage.reads): the placement of a request and its
agreement, checked as `audit placement-agreements` checks them (casework/agreement_check.py),
read through the database's own driver (issue 22 item 1: a read command's start-up).

It answers what it can; None (the CLI then asks the ORM view, casework.views.placement_show)
for a request not found as typed or without a placement (the ORM view's errors), and for a
signed-in person (the server's scope checks). The document is the ORM view's (compared in
tests/test_request_reads_more.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ..jsondata import to_jsonable
from ..storage.reads import Reader, as_date
from ..text import nfc


def placement_show(reader: Reader, request_id: str) -> dict[str, Any] | None:
    from ..display import today as sweden_today
    from ..matching.reads import _signed_in
    from .agreement_check import agreement_row, tolerance

    if _signed_in():
        return None
    found = reader.rows("SELECT id, request_id FROM placement_request WHERE request_id = :r", {"r": nfc(request_id)})
    if not found:
        return None
    placed = reader.rows(
        "SELECT p.unit_id, p.org_nr, p.insats, p.route, p.municipality, p.start_on, p.end_on, p.daily_price, "
        "p.agreed_price, p.agreed_by, p.decision_from, p.decision_to, a.id AS agreement, a.period_from, "
        "a.period_to, a.daily_price AS agreement_price, a.signed_on "
        "FROM placement p LEFT JOIN placement_agreement a ON a.placement_id = p.id "
        "WHERE p.request_id = :q ORDER BY p.id, a.id LIMIT 1", {"q": found[0].id})
    if not placed:
        return None
    r = placed[0]
    p = SimpleNamespace(unit_id=r.unit_id, org_nr=r.org_nr, insats=r.insats, route=r.route,
                        municipality=r.municipality, start_on=as_date(r.start_on), end_on=as_date(r.end_on),
                        daily_price=r.daily_price, agreed_price=r.agreed_price, agreed_by=r.agreed_by,
                        decision_from=as_date(r.decision_from), decision_to=as_date(r.decision_to))
    a = None if r.agreement is None else SimpleNamespace(
        period_from=as_date(r.period_from), period_to=as_date(r.period_to), daily_price=r.agreement_price,
        signed_on=as_date(r.signed_on))
    return to_jsonable(agreement_row(found[0].request_id, p, a, tolerance(sweden_today())))


placement_show.orm_view = "casework.views:placement_show"

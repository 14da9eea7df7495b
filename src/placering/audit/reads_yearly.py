"""The yearly and case-work audits read without SQLAlchemy (storage.reads, issue 22 item 1):
`audit requests`, `direct-procurement`, `adherence`, `direct-purchases`, `not-executed`,
`controls` and `surveys` (`review show` is in matching/reads.py).

Each reads its rows through the database's own driver (sqlite3, or libpq on PostgreSQL, where
the login's row-level security applies as to the ORM view's session) and hands them to the
report's one computation (audit/figures.py, casework/costs.py, casework/unexecuted.py,
casework/surveys.py), which the ORM functions (yearly.py, casework/economics.py, followups.py,
controls.py, through audit.views and casework.views: the server, and whatever this module does
not answer) call too: one document. None, and the CLI asks the ORM view (`orm_view`), for what
the ORM view refuses (a year out of range, an unknown insats or municipality: its error says
which) and for a person signed in to the server (the server's views answer).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..jsondata import to_jsonable
from ..storage.reads import Reader, as_date


def _year(reader: Reader, year: int | None) -> tuple[int, Any, Any] | None:
    """The year (this one when None) and its first and last day as the database compares
    them; None when the ORM view must answer (see the module)."""
    from ..clock import today
    from ..errors import ValidationError
    from ..matching.reads import _signed_in
    from .common import check_year
    from .figures import year_bounds

    if _signed_in():
        return None
    year = year if year is not None else today().year
    try:
        check_year(year)
    except ValidationError:
        return None
    first, last = year_bounds(year)
    if reader.dialect == "sqlite":  # dates as ISO text
        return year, first.isoformat(), last.isoformat()
    return year, first, last


def requests(reader: Reader, *, year: int | None = None) -> dict[str, Any] | None:
    """`audit requests` (yearly.requests through audit.views.requests) read without SQLAlchemy."""
    from .figures import requests_report, year_bounds

    found = _year(reader, year)
    if found is None:
        return None
    year, _, last = found
    first = year_bounds(year - 1)[0]
    rows = reader.rows("SELECT submitted_on, insats, subcategory, municipality, requester FROM placement_request "
                       "WHERE submitted_on >= :first AND submitted_on <= :last",
                       {"first": first.isoformat() if reader.dialect == "sqlite" else first, "last": last})
    report = requests_report(year, ((as_date(r[0]), r[1], r[2], r[3], r[4]) for r in rows))
    return to_jsonable(report.to_dict())


requests.orm_view = "audit.views:requests"


def direct_procurement(reader: Reader, *, year: int | None = None) -> dict[str, Any] | None:
    """`audit direct-procurement` (yearly.direct_procurement through audit.views) read without
    SQLAlchemy."""
    from .figures import DIRECT, direct_procurement_report
    from .reads import _load_units

    found = _year(reader, year)
    if found is None:
        return None
    year, first, last = found
    days = {"first": first, "last": last}
    started, direct = reader.many([  # one round trip on PostgreSQL
        ("SELECT insats, route FROM placement WHERE start_on >= :first AND start_on <= :last", days),
        ("SELECT org_nr, insats, daily_price, start_on, end_on, unit_id FROM placement WHERE route = :direct "
         "AND start_on <= :last AND (end_on IS NULL OR end_on >= :first)", {**days, "direct": DIRECT})])
    report = direct_procurement_report(
        year, started, [(r[0], r[1], r[2], as_date(r[3]), as_date(r[4]), r[5]) for r in direct],
        lambda ids: _load_units(reader, ids, False))
    return to_jsonable(report.to_dict())


direct_procurement.orm_view = "audit.views:direct_procurement"


def adherence(reader: Reader, *, year: int | None = None) -> dict[str, Any] | None:
    """`audit adherence` (yearly.adherence through audit.views.adherence) read without SQLAlchemy."""
    from .figures import adherence_report

    found = _year(reader, year)
    if found is None:
        return None
    year, first, last = found
    rows = reader.rows(
        'SELECT p.id, r.request_id, p.unit_id, p.insats, p.route, p.start_on, p.recommended, p.reason, p."by" '
        "FROM placement p JOIN placement_request r ON r.id = p.request_id "
        "WHERE p.start_on >= :first AND p.start_on <= :last ORDER BY p.start_on, p.id", {"first": first, "last": last})
    rows = [r._replace(start_on=as_date(r.start_on), recommended=bool(r.recommended)) for r in rows]
    return to_jsonable(adherence_report(year, rows).to_dict())


adherence.orm_view = "audit.views:adherence"


def direct_purchases(reader: Reader, *, year: int, municipality: str | None = None, insats: str | None = None,
                     buyer: str | None = None) -> dict[str, Any] | None:
    """`audit direct-purchases` (economics.direct_purchase_sums through casework.views) read
    without SQLAlchemy; None also for an unknown --insats or --municipality (the ORM view says
    which)."""
    from ..matching.reads import _signed_in

    if _signed_in():
        return None
    found = purchase_sums_read(reader, year, municipality=municipality, insats=insats, buyer=buyer)
    return None if found is None else to_jsonable(found)


def purchase_sums_read(reader: Reader, year: int, *, municipality: str | None = None, insats: str | None = None,
                       buyer: str | None = None, leave_out: str | None = None) -> dict[str, Any] | None:
    """economics.direct_purchase_sums read through `reader` (also for review show's direct read);
    None for an unknown insats or municipality, or a threshold without a value (the ORM says so)."""
    from ..casework.costs import _threshold_for_year, purchase_sums
    from ..errors import ValidationError
    from ..taxonomy import load_taxonomy
    from ..text import fold
    from .common import check_insats
    from .figures import DIRECT

    try:
        insats = check_insats(insats)
        limit = _threshold_for_year(year)
    except ValidationError:
        return None
    muni_key = None
    if municipality:
        muni_key = fold(municipality)
        if load_taxonomy().municipality(municipality) is None and reader.scalar(
                "SELECT 1 FROM unit WHERE municipality_key = :k LIMIT 1", {"k": muni_key}) is None:
            return None
    last = date(year, 12, 31)
    rows = reader.rows(
        "SELECT p.municipality, p.insats, p.org_nr, p.unit_id, p.agreed_price, p.daily_price, p.start_on, p.end_on, "
        "r.request_id, r.requester FROM placement p JOIN placement_request r ON r.id = p.request_id "
        "WHERE p.route = :direct AND p.start_on <= :last ORDER BY p.start_on, p.id",
        {"direct": DIRECT, "last": last.isoformat() if reader.dialect == "sqlite" else last})
    return purchase_sums(year, ((*r[:6], as_date(r[6]), as_date(r[7]), r[8], r[9]) for r in rows), limit,
                         insats=insats, muni_key=muni_key, buyer=buyer, leave_out=leave_out)


direct_purchases.orm_view = "casework.views:direct_purchases"


def not_executed(reader: Reader, *, as_of: date) -> dict[str, Any] | None:
    """`audit not-executed` (followups.not_executed through casework.views) read without
    SQLAlchemy; None for a person signed in to the server."""
    from ..casework.unexecuted import months_allowed, not_executed_rows
    from ..matching.reads import _signed_in

    if _signed_in():
        return None
    months = months_allowed(as_of)
    rows = reader.rows(
        "SELECT r.request_id, r.decided_on, r.submitted_on, r.municipality, r.requester, r.insats, "
        "r.decision_ended_on, r.interrupted_on, r.resumed_on, p.start_on FROM placement_request r "
        "LEFT OUTER JOIN placement p ON p.request_id = r.id AND p.status = :active "
        "WHERE COALESCE(r.decided_on, r.submitted_on) <= :as_of ORDER BY r.submitted_on, r.request_id, p.id",
        {"active": "active", "as_of": as_of.isoformat() if reader.dialect == "sqlite" else as_of})
    found = [(r._replace(decided_on=as_date(r.decided_on), submitted_on=as_date(r.submitted_on),
                         decision_ended_on=as_date(r.decision_ended_on), interrupted_on=as_date(r.interrupted_on),
                         resumed_on=as_date(r.resumed_on)), as_date(r.start_on)) for r in rows]
    return to_jsonable({"as_of": as_of, "decisions": not_executed_rows(found, as_of, months)})


not_executed.orm_view = "casework.views:not_executed"


def controls(reader: Reader, *, year: int) -> dict[str, Any] | None:
    """`audit controls` (controls.controls_year through casework.views.controls_year) read
    without SQLAlchemy; None for a person signed in to the server."""
    from ..matching.reads import _signed_in
    from ..storage.reads import as_json
    from .figures import controls_report, year_bounds

    if _signed_in():
        return None
    first, last = year_bounds(year)
    if reader.dialect == "sqlite":
        first, last = first.isoformat(), last.isoformat()
    days = {"first": first, "last": last}
    decided, opened, still_open = reader.many([  # one round trip on PostgreSQL
        ("SELECT outcome, checked, proposal_id FROM deepened_control WHERE decided_on >= :first AND decided_on <= :last",
         days),
        ("SELECT COUNT(*) FROM deepened_control WHERE opened_on >= :first AND opened_on <= :last", days),
        ("SELECT COUNT(*) FROM deepened_control WHERE opened_on <= :last AND (decided_on IS NULL OR decided_on > :last)",
         {"last": last})])
    return to_jsonable(controls_report(year, [(r[0], as_json(r[1]), r[2]) for r in decided], opened[0][0],
                                       still_open[0][0]))


controls.orm_view = "casework.views:controls_year"


class _Row:
    """A row's named values as attributes (what the shared computations read)."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)


def surveys(reader: Reader, *, as_of: date) -> dict[str, Any] | None:
    """`audit surveys` (followups.surveys and survey_summary through casework.views.surveys)
    read without SQLAlchemy; None for a person signed in to the server."""
    from ..casework.surveys import survey_rows, survey_summary
    from ..matching.reads import _signed_in

    if _signed_in():
        return None
    rows = reader.rows(
        "SELECT r.request_id, p.unit_id, p.org_nr, p.insats, p.start_on, p.end_on, s.id AS survey, s.answered_on, "
        "s.positive_change, s.care_quality, s.child_answered FROM placement_request r "
        "JOIN placement p ON p.request_id = r.id LEFT OUTER JOIN placement_survey s ON s.placement_id = p.id "
        "WHERE p.start_on <= :as_of AND p.status = :active ORDER BY p.start_on, r.request_id, p.id",
        {"active": "active", "as_of": as_of.isoformat() if reader.dialect == "sqlite" else as_of})

    def flag(value: Any) -> bool | None:
        return None if value is None else bool(value)

    found = [(r.request_id,
              _Row(unit_id=r.unit_id, org_nr=r.org_nr, insats=r.insats, start_on=as_date(r.start_on),
                   end_on=as_date(r.end_on)),
              None if r.survey is None else _Row(answered_on=as_date(r.answered_on), positive_change=flag(
                  r.positive_change), care_quality=r.care_quality, child_answered=flag(r.child_answered)))
             for r in rows]
    found_rows = survey_rows(found, as_of)
    return to_jsonable({"as_of": as_of, "surveys": found_rows, "per_unit": survey_summary(found_rows)})


surveys.orm_view = "casework.views:surveys"


def complaints_per_period(reader: Reader, *, since: date | None = None, until: date | None = None,
                          period: str = "year", outcome: str | None = None,
                          org_nr: str | None = None) -> dict[str, Any] | None:
    """`audit complaints` (casework/complaints.complaints_per_period through casework.views)
    read without SQLAlchemy; None, and the ORM view answers, for a person signed in to the
    server and when an outcome or a supplier is named (the ORM view reads the words people type
    for them and says what it does not know)."""
    from ..casework.complaint_periods import check_period_options, per_period
    from ..matching.reads import _signed_in
    from ..storage.reads import as_json

    if _signed_in() or outcome or org_nr:
        return None
    check_period_options(since, until, period)
    where, params = [], {}
    for name, day, op in (("since", since, ">="), ("until", until, "<=")):
        if day is not None:
            where.append(f"c.received_on {op} :{name}")
            params[name] = day.isoformat() if reader.dialect == "sqlite" else day
    rows = reader.rows(
        "SELECT c.id, c.org_nr, c.category, c.received_on, c.received_by, c.handler, c.status, c.outcome, "
        "c.closed_on, c.note, c.recorded_by, c.categories, c.complainant_ref, c.individual_level, u.unit_id "
        "FROM complaint c JOIN unit u ON u.id = c.unit_id"
        + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY c.received_on, c.id", params)
    found = [(r._replace(received_on=as_date(r.received_on), closed_on=as_date(r.closed_on),
                         categories=as_json(r.categories)), r.unit_id) for r in rows]
    return to_jsonable(per_period(found, since=since, until=until, period=period, code=None))


complaints_per_period.orm_view = "casework.views:complaints_per_period"

"""The yearly figures the annual reports print by hand: removals by reason and insats (Nordost
2022), requests per area and category with the previous year (Spink 2024), direct procurement,
and adherence to recommendations (91 % in Nordost 2022)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from ..storage.models import History, Placement, PlacementRequest
from ..taxonomy import load_taxonomy
from .common import check_year, load_units
from .params import audit_param
from ..i18n import msg, said

from .figures import (  # noqa: E402,F401  (the computation; the names stay importable from here)
    DIRECT, NO_REASON, THRESHOLD_PARAM, AdherenceReport, DirectProcurementReport, RequestsReport, _days_in, _diff_row,
    adherence_report, direct_procurement_report, requests_report)


def _year_bounds(year: int) -> tuple[date, date]:
    return date(year, 1, 1), date(year, 12, 31)


# ---------------------------------------------------------------------------------------------
# Removals
# ---------------------------------------------------------------------------------------------


# The report from what was read (shared with audit/reads.py, which reads without SQLAlchemy).
from .removals import NO_REASON, RemovalsReport, is_removal, removal_table  # noqa: E402,F401


def removals(session: Session, year: int) -> RemovalsReport:
    """Removals (status → removed, effective in the year) by reason × insats, with totals.

    A unit offering several insatser counts once in each of their columns and once in the
    total column, as a unit is removed from the register, not from one insats.
    """
    check_year(year)
    first, last = _year_bounds(year)
    stmt = (
        select(History.id, History.effective_on, History.entity_id, History.changes, History.reason,
               History.actor, History.note, History.rule_id)
        .where(History.entity_kind == "unit")
        .where(History.action.in_(("status", "updated")))
        .where(History.effective_on >= first, History.effective_on <= last)
        .order_by(History.effective_on, History.id)
    )
    found = [row for row in session.execute(stmt) if is_removal(row.changes)]
    return removal_table(year, found, load_units(session, {r.entity_id for r in found}) if found else {})


# ---------------------------------------------------------------------------------------------
# Requests, direct procurement, adherence: computed in figures.py (one definition, which the
# direct reads in reads_yearly.py share); here the rows are read through the ORM session.
# ---------------------------------------------------------------------------------------------


def requests(session: Session, year: int) -> RequestsReport:
    """Requests per area, insats and sub-category in `year` against `year - 1`, and per
    requesting administration, with difference and percentage (Spink annual report 2024)."""
    check_year(year)
    first = date(year - 1, 1, 1)
    last = date(year, 12, 31)
    stmt = (
        select(PlacementRequest.submitted_on, PlacementRequest.insats, PlacementRequest.subcategory,
               PlacementRequest.municipality, PlacementRequest.requester)
        .where(PlacementRequest.submitted_on >= first, PlacementRequest.submitted_on <= last)
    )
    return requests_report(year, session.execute(stmt))


def direct_procurement(session: Session, year: int) -> DirectProcurementReport:
    """Placements started in the year per insats and route, the share outside framework
    agreements (direct procurement), insatser where that recurs, and each supplier's direct
    purchases in the financial year (daily price × days in the year) against the threshold."""
    check_year(year)
    first, last = _year_bounds(year)
    started = session.execute(
        select(Placement.insats, Placement.route).where(Placement.start_on >= first, Placement.start_on <= last)
    ).all()
    direct = session.execute(
        select(Placement.org_nr, Placement.insats, Placement.daily_price, Placement.start_on, Placement.end_on,
               Placement.unit_id)
        .where(Placement.route == DIRECT)
        .where(Placement.start_on <= last)
        .where(or_(Placement.end_on.is_(None), Placement.end_on >= first))
    ).all()
    return direct_procurement_report(year, started, direct, lambda ids: load_units(session, ids))


def adherence(session: Session, year: int) -> AdherenceReport:
    """Share of placements started in the year at a recommended unit, with the recorded reason
    for each of the others (a choice outside the recommendations requires one)."""
    check_year(year)
    first, last = _year_bounds(year)
    rows = session.execute(
        select(Placement.id, PlacementRequest.request_id, Placement.unit_id, Placement.insats, Placement.route,
               Placement.start_on, Placement.recommended, Placement.reason, Placement.by)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(and_(Placement.start_on >= first, Placement.start_on <= last))
        .order_by(Placement.start_on, Placement.id)
    ).all()
    return adherence_report(year, rows)

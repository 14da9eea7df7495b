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
from ..labels import label
from ..vocabulary import RemovalReason, Route
from .common import check_year, load_units
from .params import audit_param
from ..i18n import msg, said


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
# Requests
# ---------------------------------------------------------------------------------------------


def _diff_row(prev: int, cur: int) -> dict[str, Any]:
    diff = cur - prev
    pct = None if prev == 0 else round(100 * diff / prev)
    return {"previous": prev, "current": cur, "difference": diff, "percent": pct}


@dataclass
class RequestsReport:
    year: int
    categories: list[dict[str, Any]]  # area, insats (the 2024 table's delkategori), subcategory rows
    requesters: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "previous_year": self.year - 1, "categories": self.categories,
                "requesters": self.requesters}


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
    by_insats: dict[int, Counter] = {year - 1: Counter(), year: Counter()}
    by_sub: dict[int, Counter] = {year - 1: Counter(), year: Counter()}
    by_requester: dict[int, Counter] = {year - 1: Counter(), year: Counter()}
    for submitted_on, insats, sub, municipality, requester in session.execute(stmt):
        y = submitted_on.year
        by_insats[y][insats] += 1
        if sub:
            by_sub[y][(insats, sub)] += 1
        by_requester[y][(municipality, requester)] += 1
    tax = load_taxonomy()
    rows: list[dict[str, Any]] = []
    insats_codes = list(tax.insatser) + sorted((set(by_insats[year]) | set(by_insats[year - 1])) - set(tax.insatser))
    for area, area_label in list(tax.areas.items()) + [("other", "Övrigt")]:
        codes = [c for c in insats_codes if (tax.insatser[c].area if c in tax.insatser else "other") == area]
        if not codes:
            continue
        area_prev = area_cur = 0
        for code in codes:
            prev, cur = by_insats[year - 1][code], by_insats[year][code]
            area_prev += prev
            area_cur += cur
            rows.append({"level": "insats", "area": area, "area_label": area_label, "insats": code,
                         "subcategory": None, "label": tax.label(code), **_diff_row(prev, cur)})
            subs = list(tax.insatser[code].subcategories) if code in tax.insatser else []
            seen = {s for (i, s) in set(by_sub[year]) | set(by_sub[year - 1]) if i == code}
            for sub in subs + sorted(seen - set(subs)):
                sp, sc = by_sub[year - 1][(code, sub)], by_sub[year][(code, sub)]
                if sp or sc:
                    sub_label = tax.insatser[code].subcategories.get(sub, sub) if code in tax.insatser else sub
                    rows.append({"level": "subcategory", "area": area, "area_label": area_label, "insats": code,
                                 "subcategory": sub, "label": "  " + sub_label, **_diff_row(sp, sc)})
        rows.append({"level": "area", "area": area, "area_label": area_label, "insats": None,
                     "subcategory": None, "label": f"Summa {area_label}", **_diff_row(area_prev, area_cur)})
    total_prev = sum(by_insats[year - 1].values())
    total_cur = sum(by_insats[year].values())
    rows.append({"level": "total", "area": None, "area_label": None, "insats": None, "subcategory": None,
                 "label": "Totalsumma", **_diff_row(total_prev, total_cur)})
    requester_rows = []
    keys = sorted(set(by_requester[year]) | set(by_requester[year - 1]), key=lambda k: (k[0], k[1]))
    for municipality, requester in keys:
        requester_rows.append({"municipality": municipality, "requester": requester,
                               **_diff_row(by_requester[year - 1][(municipality, requester)],
                                           by_requester[year][(municipality, requester)])})
    requester_rows.append({"municipality": None, "requester": "Totalsumma", **_diff_row(total_prev, total_cur)})
    return RequestsReport(year, rows, requester_rows)


# ---------------------------------------------------------------------------------------------
# Direct procurement
# ---------------------------------------------------------------------------------------------

DIRECT = Route.DIREKTUPPHANDLING.value
THRESHOLD_PARAM = "direct_procurement_threshold_sek"


def _days_in(start: date, end: date | None, first: date, last: date) -> int:
    """Days of the placement within [first, last]: from its start (or 1 January) to its end_on
    (or 31 December), both included, as the review queue counts them (matching/review.py)."""
    lo, hi = max(start, first), min(end or last, last)
    return max(0, (hi - lo).days + 1)


@dataclass
class DirectProcurementReport:
    year: int
    per_insats: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    suppliers: list[dict[str, Any]]
    threshold: float | None
    signal_min_count: int
    signal_share: float

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "per_insats": self.per_insats, "procurement_signals": self.signals,
                "suppliers": self.suppliers, "threshold": self.threshold,
                "signal_rule": {"min_direct_placements": self.signal_min_count, "min_share": self.signal_share}}


def direct_procurement(session: Session, year: int) -> DirectProcurementReport:
    """Placements started in the year per insats and route, the share outside framework
    agreements (direct procurement), insatser where that recurs, and each supplier's direct
    purchases in the financial year (daily price × days in the year) against the threshold."""
    from ..casework.economics import year_cost  # priced as the review queue prices them

    check_year(year)
    first, last = _year_bounds(year)
    min_count = int(audit_param("audit_direct_procurement_signal_count", last).value)
    min_share = float(audit_param("audit_direct_procurement_signal_share", last).value)
    threshold_param = audit_param(THRESHOLD_PARAM, last, required=False)
    threshold = float(threshold_param.value) if threshold_param is not None else None

    started = session.execute(
        select(Placement.insats, Placement.route).where(Placement.start_on >= first, Placement.start_on <= last)
    ).all()
    per: dict[str, Counter] = defaultdict(Counter)
    for insats, route in started:
        per[insats][route] += 1
        per[insats]["total"] += 1
    tax = load_taxonomy()
    per_rows = []
    signals = []
    codes = [c for c in tax.insatser if c in per] + sorted(set(per) - set(tax.insatser))
    grand: Counter = Counter()
    for code in codes:
        c = per[code]
        grand.update(c)
        share = c[DIRECT] / c["total"] if c["total"] else 0.0
        row = {"insats": code, "label": tax.label(code), "total": c["total"],
               **{r.value: c[r.value] for r in Route}, "direct_share": round(share, 4)}
        per_rows.append(row)
        why, why_said = [], []
        if c[DIRECT] >= min_count:
            why.append(f"{c[DIRECT]} direct placements (≥ {min_count})")
            why_said.append(said(msg("audit.signal.direct_count", n=c[DIRECT], min=min_count)))
        if c[DIRECT] and share >= min_share:
            why.append(f"direct share {share:.0%} (≥ {min_share:.0%})")
            why_said.append(said(msg("audit.signal.direct_share", share=f"{share * 100:.0f}", min=f"{min_share * 100:.0f}")))
        if why:
            signals.append({"insats": code, "label": tax.label(code), "direct": c[DIRECT],
                            "direct_share": round(share, 4), "why": "; ".join(why), "why_said": "; ".join(why_said)})
    if grand["total"]:
        per_rows.append({"insats": "total", "label": "Totalsumma", "total": grand["total"],
                         **{r.value: grand[r.value] for r in Route},
                         "direct_share": round(grand[DIRECT] / grand["total"], 4)})

    direct = session.execute(
        select(Placement.org_nr, Placement.insats, Placement.daily_price, Placement.start_on, Placement.end_on,
               Placement.unit_id)
        .where(Placement.route == DIRECT)
        .where(Placement.start_on <= last)
        .where(or_(Placement.end_on.is_(None), Placement.end_on >= first))
    ).all()
    suppliers: dict[str, dict[str, Any]] = {}
    units_of: dict[str, set[str]] = defaultdict(set)
    for org_nr, insats, price, start, end, unit_id in direct:
        s = suppliers.setdefault(org_nr, {"org_nr": org_nr, "supplier": "", "placements": 0, "days": 0,
                                          "amount": 0.0, "unpriced_placements": 0, "insatser": []})
        days = _days_in(start, end, first, last)
        s["placements"] += 1
        s["days"] += days
        if price is None:
            s["unpriced_placements"] += 1  # shown, never silently counted as zero cost
        else:
            # One way to cost a placement in a year: the review queue's (matching/review.py).
            s["amount"] += year_cost(price, start, end, year)
        if insats not in s["insatser"]:
            s["insatser"].append(insats)
        units_of[org_nr].add(unit_id)
    info = load_units(session, {u for us in units_of.values() for u in us}) if units_of else {}
    for org_nr, s in suppliers.items():
        for uid in units_of[org_nr]:
            if uid in info:
                s["supplier"] = info[uid].supplier_name
                break
        s["amount"] = round(s["amount"], 2)
        s["threshold"] = threshold
        s["share_of_threshold"] = round(s["amount"] / threshold, 4) if threshold else None
        s["over_threshold"] = bool(threshold) and s["amount"] > threshold
    supplier_rows = sorted(suppliers.values(), key=lambda s: (-s["amount"], s["org_nr"]))
    return DirectProcurementReport(year, per_rows, signals, supplier_rows, threshold, min_count, min_share)


# ---------------------------------------------------------------------------------------------
# Adherence
# ---------------------------------------------------------------------------------------------


@dataclass
class AdherenceReport:
    year: int
    placements: int
    recommended: int
    share: float | None
    per_insats: list[dict[str, Any]]
    reasons: list[dict[str, Any]]
    others: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"year": self.year, "placements": self.placements, "recommended": self.recommended,
                "share": self.share, "per_insats": self.per_insats, "reasons": self.reasons,
                "not_recommended": self.others}


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
    total = len(rows)
    rec = sum(1 for r in rows if r.recommended)
    per: dict[str, Counter] = defaultdict(Counter)
    reasons: Counter = Counter()
    others = []
    for r in rows:
        per[r.insats]["total"] += 1
        if r.recommended:
            per[r.insats]["recommended"] += 1
        else:
            reason = (r.reason or "").strip() or NO_REASON
            reasons[reason] += 1
            others.append({"placement_id": r.id, "request_id": r.request_id, "unit_id": r.unit_id,
                           "insats": r.insats, "route": r.route, "start_on": r.start_on, "reason": reason,
                           "by": r.by})
    tax = load_taxonomy()
    per_rows = []
    for code in [c for c in tax.insatser if c in per] + sorted(set(per) - set(tax.insatser)):
        c = per[code]
        per_rows.append({"insats": code, "label": tax.label(code), "placements": c["total"],
                         "recommended": c["recommended"], "share": round(c["recommended"] / c["total"], 4)})
    reason_rows = [{"reason": k, "placements": v} for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    return AdherenceReport(year, total, rec, round(rec / total, 4) if total else None, per_rows, reason_rows, others)

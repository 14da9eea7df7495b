"""`audit visits`: units in the visit priority order of Spink (Nordost 2022, 5.3
Verksamhetsbesök), each with why it is where it is.

1. Högt prioriterat: new or unknown units (in the register for less than
   `audit_visit_new_unit_months`) offering an insats in high demand (requests grew by at least
   `audit_visit_high_demand_growth` over the previous period) or in shortage (a match decision
   in the period found no eligible unit: NO_ELIGIBLE_UNIT), or any unit with signals of
   shortcomings: on watch, a complaint or a failed/unavailable check within
   `audit_visit_signal_months`, or its framework agreement on order stop.
2. Ganska högt prioriterat: heavily used units (at least `audit_visit_heavy_use_placements`
   placements running during the last `audit_visit_usage_months`).
3. Lägre prioritering: units used more rarely, and unused units in an insats in high demand.
4. Ej prioriterat i år: unused units where supply is sufficient.

Visits are recorded with `placering register visit`. A unit visited within
`audit_visit_recent_months` is "recently visited": the source puts it on the third level, unless
it shows signals of shortcomings, which keep it on the first. Skyddat boende gets more visits,
so within a level it comes first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import ValidationError
from ..i18n import Label, msg, said
from ..labels import label
from ..vocabulary import CheckResult, UnitStatus
from .checks import add_months
from .params import audit_param, param_table

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by `visits`, which queries through them: the windows
# (VisitWindows) and the report from what was read (visit_rows) serve audit/reads.py too.

LEVELS = {
    1: "Högt prioriterat",
    2: "Ganska högt prioriterat",
    3: "Lägre prioritering",
    4: "Ej prioriterat i år",
}
MORE_VISITS = "skyddat_boende"


@dataclass
class VisitsReport:
    as_of: date
    units: list[dict[str, Any]]
    high_demand: list[dict[str, Any]]
    thresholds: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        counts = Counter(u["level"] for u in self.units)
        return {"as_of": self.as_of, "units": self.units, "high_demand_insatser": self.high_demand,
                "thresholds": self.thresholds, "counts": {str(k): counts.get(k, 0) for k in LEVELS}}


def _months(name: str, on: date) -> int:
    return int(audit_param(name, on).value)


@dataclass
class VisitWindows:
    """The report's dated parameters on the day and the periods they make."""

    as_of: date
    level: int | None
    new_months: int
    usage_months: int
    heavy: int
    signal_months: int
    growth: float
    recent_months: int
    raised: dict
    period_start: date  # the usage period (placements, decisions, this year's requests) starts after it
    before_start: date  # the previous period's requests start after it
    signal_start: date
    new_since: date
    recent_since: date


def visit_windows(as_of: date, level: int | None) -> VisitWindows:
    """The parameters and periods of `audit visits` on the day, or the error naming --level."""
    if level is not None and level not in LEVELS:
        raise ValidationError(msg("audit.level", level=level))
    new_months = _months("audit_visit_new_unit_months", as_of)
    usage_months = _months("audit_visit_usage_months", as_of)
    signal_months = _months("audit_visit_signal_months", as_of)
    recent_months = _months("audit_visit_recent_months", as_of)
    return VisitWindows(
        as_of, level, new_months, usage_months, _months("audit_visit_heavy_use_placements", as_of), signal_months,
        float(audit_param("audit_visit_high_demand_growth", as_of).value), recent_months,
        param_table("audit_visit_raised_level", as_of), add_months(as_of, -usage_months),
        add_months(as_of, -2 * usage_months), add_months(as_of, -signal_months), add_months(as_of, -new_months),
        add_months(as_of, -recent_months))


def present_units(units: dict) -> dict:
    """The units in the register on the date (their states), by unit_id."""
    return {uid: st for uid, st in units.items() if st.status != UnitStatus.REMOVED.value}


def visits(session: Session, as_of: date, *, level: int | None = None) -> VisitsReport:
    """Every unit in the register on the date (not removed) with its visit priority level and
    why; only one level when `level` is given."""
    from sqlalchemy import func, or_, select

    from ..storage.models import (
        Complaint, Decision, Placement, PlacementRequest, Supplier, SupplierCheck, Unit, Visit,
    )
    from .common import load_units
    from .timeline import register_states

    w = visit_windows(as_of, level)
    units, agreements = register_states(session, as_of)
    present = present_units(units)
    info = load_units(session, present) if present else {}
    requests = session.execute(
        select(PlacementRequest.submitted_on, PlacementRequest.insats)
        .where(PlacementRequest.submitted_on > w.before_start, PlacementRequest.submitted_on <= as_of))
    # Only the flags are read from each stored decision (the documents list every excluded unit).
    decisions = session.execute(
        select(PlacementRequest.insats, Decision.document["flags"])
        .join(PlacementRequest, PlacementRequest.id == Decision.request_id)
        .where(Decision.evaluated_on > w.period_start, Decision.evaluated_on <= as_of))
    placed = session.execute(
        select(Placement.unit_id)
        .where(Placement.start_on <= as_of)
        .where(or_(Placement.end_on.is_(None), Placement.end_on > w.period_start)))
    complaints = session.execute(
        select(Unit.unit_id).join(Complaint, Complaint.unit_id == Unit.id)
        .where(Complaint.received_on > w.signal_start, Complaint.received_on <= as_of))
    checks = session.execute(
        select(Supplier.org_nr, SupplierCheck.kind, SupplierCheck.result)
        .join(Supplier, Supplier.id == SupplierCheck.supplier_id)
        .where(SupplierCheck.performed_on > w.signal_start, SupplierCheck.performed_on <= as_of)
        .order_by(SupplierCheck.performed_on, SupplierCheck.id))
    last_visit: dict[str, date] = dict(session.execute(
        select(Unit.unit_id, func.max(Visit.visited_on)).join(Visit, Visit.unit_id == Unit.id)
        .where(Visit.visited_on <= as_of).group_by(Unit.unit_id)
    ).all())
    return visit_rows(w, present, agreements, info, requests, decisions, (u for u, in placed),
                      (u for u, in complaints), checks, last_visit)


def visit_rows(w: VisitWindows, present: dict, agreements: dict, info: dict, requests: Iterable[tuple],
               decisions: Iterable[tuple], placed: Iterable[str], complained: Iterable[str],
               checks: Iterable[tuple], last_visit: dict[str, date]) -> VisitsReport:
    """The report from what was read for the windows: the units present (present_units) and
    the agreements' states on the date, the units' attributes (common.load_units), the
    requests (submitted_on, insats) of both periods, the decisions' (insats, flags) of the
    usage period, the unit_id of each placement running in it, of each complaint in the signal
    period, the checks (org_nr, kind, result) in it in (performed_on, id) order, and each
    unit's last visit."""
    as_of, level = w.as_of, w.level
    usage_months, heavy, signal_months, recent_months = w.usage_months, w.heavy, w.signal_months, w.recent_months
    raised, period_start, new_since, recent_since = w.raised, w.period_start, w.new_since, w.recent_since
    # Demand: requests in the last year against the year before.
    demand: dict[str, Counter] = defaultdict(Counter)
    for submitted_on, insats in requests:
        demand[insats]["current" if submitted_on > period_start else "previous"] += 1
    high_demand: dict[str, str] = {}
    demand_said: dict[str, list[str]] = defaultdict(list)  # the same in the people's language
    for insats, c in demand.items():
        if c["previous"] and (c["current"] - c["previous"]) / c["previous"] >= w.growth:
            high_demand[insats] = f"requests {c['previous']} → {c['current']}"
            demand_said[insats].append(said(msg("visits.demand_growth", before=c["previous"], now=c["current"])))

    # Shortage: decisions in the period that found no eligible unit for the insats.
    shortage: Counter = Counter()
    for insats, flags in decisions:
        if any(isinstance(f, dict) and f.get("code") == "NO_ELIGIBLE_UNIT" for f in flags or []):
            shortage[insats] += 1
    for insats, n in shortage.items():
        why = f"{n} decision(s) without an eligible unit (shortage)"
        high_demand[insats] = f"{high_demand[insats]}; {why}" if insats in high_demand else why
        demand_said[insats].append(said(msg("visits.shortage", n=n)))

    def in_demand(insatser: list[str]) -> str:
        return "; ".join(f"{said(Label(i, 'insats', capital=True))} {'; '.join(demand_said[i])}" for i in insatser)

    used: Counter = Counter(placed)
    complaints: Counter = Counter(complained)
    failed: dict[str, set[str]] = defaultdict(set)
    for org_nr, kind, result in checks:
        # The latest check of a kind in the period decides: a later pass clears an earlier fail.
        if result == CheckResult.PASS.value:
            failed[org_nr].discard(kind)
        else:
            failed[org_nr].add(kind)

    rows = []
    for uid, st in present.items():
        u = info.get(uid)
        if u is None:
            continue
        signals, signals_said = [], []
        if st.status == UnitStatus.WATCH.value:
            signals.append(f"on watch since {st.since.isoformat()}")
            signals_said.append(said(msg("visits.signal.watch", since=st.since.isoformat())))
        elif st.status != UnitStatus.PUBLISHED.value:
            signals.append(f"{label(st.status).lower()} since {st.since.isoformat()}")
            signals_said.append(said(msg("visits.signal.status", status=Label(st.status, "unit_status"),
                                         since=st.since.isoformat())))
        if complaints[uid]:
            signals.append(f"{complaints[uid]} complaint(s) in {signal_months} months")
            signals_said.append(said(msg("visits.signal.complaints", n=complaints[uid], months=signal_months)))
        if failed.get(u.org_nr):
            signals.append("check not passed: " + ", ".join(sorted(failed[u.org_nr])))
            signals_said.append(said(msg("visits.signal.check_failed", kinds=", ".join(
                said(Label(k, "check_kind")) for k in sorted(failed[u.org_nr])))))
        for aid in u.agreements:
            ast = agreements.get(aid)
            if ast is not None and ast.status == "order_stop":
                signals.append(f"agreement {aid} on order stop")
                signals_said.append(said(msg("visits.signal.order_stop", agreement=aid)))
        new = st.created_on is not None and st.created_on > new_since
        demanded = [i for i in u.insatser if i in high_demand]
        n = used[uid]
        why, why_said = [], []
        if signals:
            lvl = 1
            why.append("signals: " + "; ".join(signals))
            why_said.append(said(msg("visits.why.signals", signals="; ".join(signals_said))))
        elif uid in last_visit and last_visit[uid] > recent_since:
            lvl = 3
            why.append(f"recently visited ({last_visit[uid].isoformat()}, within {recent_months} months)")
            why_said.append(said(msg("visits.why.recent", on=last_visit[uid].isoformat(), months=recent_months)))
        elif new and demanded:
            lvl = 1
            why.append(f"new (in the register since {st.created_on.isoformat()}), "
                       + ("never visited" if uid not in last_visit else f"last visited {last_visit[uid].isoformat()}")
                       + ", high demand or shortage: " + "; ".join(f"{i} {high_demand[i]}" for i in demanded))
            visited = (msg("visits.never_visited") if uid not in last_visit
                       else msg("visits.last_visited", on=last_visit[uid].isoformat()))
            why_said.append(said(msg("visits.why.new_demanded", since=st.created_on.isoformat(), visited=visited,
                                     demand=in_demand(demanded))))
        elif n >= heavy:
            lvl = 2
            why.append(f"heavily used: {n} placements in {usage_months} months (≥ {heavy})")
            why_said.append(said(msg("visits.why.heavy", n=n, months=usage_months, min=heavy)))
        elif n > 0:
            lvl = 3
            why.append(f"rarely used: {n} placement(s) in {usage_months} months (< {heavy})")
            why_said.append(said(msg("visits.why.rare", n=n, months=usage_months, min=heavy)))
        elif demanded:
            lvl = 3
            why.append("unused, but in demand: " + "; ".join(f"{i} {high_demand[i]}" for i in demanded))
            why_said.append(said(msg("visits.why.unused_demanded", demand=in_demand(demanded))))
        else:
            lvl = 4
            why.append(f"unused in {usage_months} months; supply sufficient")
            why_said.append(said(msg("visits.why.unused", months=usage_months)))
        if lvl > 1 and new:
            why.append(f"new since {st.created_on.isoformat()}")
            why_said.append(said(msg("visits.why.new_since", since=st.created_on.isoformat())))
        # Not left at the lowest level: new or never-visited units ("nytillkomna eller okända")
        # and skyddat boende ("behovet av besök högre") unless visited recently.
        recently = uid in last_visit and last_visit[uid] > recent_since
        if (new or uid not in last_visit) and lvl > raised["new_or_unknown"]:
            lvl = int(raised["new_or_unknown"])
            why.append("new or never visited (nytillkomna eller okända): not at the lowest level")
            why_said.append(said(msg("visits.why.new_or_unknown")))
        if MORE_VISITS in u.insatser:
            if not recently and lvl > raised["skyddat_boende"]:
                lvl = int(raised["skyddat_boende"])
            why.append("skyddat boende: visited more often")
            why_said.append(said(msg("visits.why.skyddat")))
        rows.append({
            "level": lvl, "priority": LEVELS[lvl], "unit_id": uid, "name": u.name, "org_nr": u.org_nr,
            "supplier": u.supplier_name, "municipality": u.municipality, "insatser": u.insatser,
            "status": st.status, "placements": n, "in_register_since": st.created_on, "signals": len(signals),
            "last_visited": last_visit.get(uid),
            "why": "; ".join(why), "why_said": "; ".join(why_said),
        })
    if level is not None:
        rows = [r for r in rows if r["level"] == level]
    rows.sort(key=lambda r: (r["level"], MORE_VISITS not in r["insatser"], -r["signals"], -r["placements"],
                             r["unit_id"]))
    hd = [{"insats": k, "why": v, "why_said": "; ".join(demand_said[k])} for k, v in sorted(high_demand.items())]
    thresholds = {"new_unit_months": w.new_months, "usage_months": usage_months, "heavy_use_placements": heavy,
                  "recent_visit_months": recent_months,
                  "signal_months": signal_months, "high_demand_growth": w.growth}
    return VisitsReport(as_of, rows, hd, thresholds)

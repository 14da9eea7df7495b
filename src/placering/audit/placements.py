"""`audit affected-placements`: people placed at a unit or agreement that is paused or removed,
or whose required IVO permit is no longer active, on a date: the omplacering worklist. Placements
agreed but not yet started count too (`started` false): the child who has not yet moved in is
the most urgent case.

A permit is required when the placement's insats is in the dated parameter
`permit_required_insatser` on the date (skyddat boende joined on 2024-04-01) and the unit is
not the municipality's own (a municipal unit only notifies IVO). A permit the unit held for the
insats and that has since been revoked, banned or expired counts too, whatever the parameter
says: IVO's decision is the signal. A required permit never recorded is reported as missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Callable

from ..i18n import Label, msg, said
from ..labels import label
from ..vocabulary import PAUSED_AGREEMENT_STATUSES, PAUSED_UNIT_STATUSES, UnitStatus
from .checks import PUBLIC_LEGAL_FORMS
from .params import audit_param, listed_since
from .timeline import ACTIVE_PERMIT_STATUSES

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by the functions that query through them: `affected`
# (the report from what was read) serves audit/reads.py too (without SQLAlchemy).
PAUSED_STATUSES = frozenset(s.value for s in (*PAUSED_UNIT_STATUSES, *PAUSED_AGREEMENT_STATUSES))

PERMIT_REQUIRED_PARAM = "permit_required_insatser"


@dataclass
class Cause:
    kind: str  # unit_status | agreement_status | permit
    what: str  # e.g. "removed", "order_stop RA-1", "permit 8.1-1/2019 revoked"
    since: date
    reason: str | None = None
    actor: str | None = None
    rule_id: str | None = None
    note: str | None = None
    message: Any = field(default=None, compare=False)  # `what` as a person reads it (a Message)


@dataclass
class AffectedPlacement:
    placement_id: int
    request_id: str
    unit_id: str
    unit_name: str
    org_nr: str
    insats: str
    route: str
    agreement_id: str | None
    start_on: date
    started: bool
    status: str
    person_age: int
    child: bool
    municipality: str
    requester: str | None
    since: date  # the earliest cause
    causes: list[Cause] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for c in d["causes"]:
            c.pop("message", None)
        d["cause"] = "; ".join(c.what for c in self.causes)
        # the causes in the people's language (issue 19), from the catalogue
        d["cause_said"] = "; ".join(said(c.message) if c.message is not None else c.what for c in self.causes)
        return d


@dataclass
class AffectedReport:
    as_of: date
    placements: list[AffectedPlacement]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "placements": [p.to_dict() for p in self.placements],
            "counts": {
                "placements": len(self.placements),
                "children": sum(1 for p in self.placements if p.child),
                "not_started": sum(1 for p in self.placements if not p.started),
            },
        }


def agreed_placements(session: Session, as_of: date) -> list[tuple[Any, str, str]]:
    """Placements running on the date or agreed to start later (end_on null or end_on > D), with
    their request id and requesting administration. A placement is agreed from the day it is
    chosen (`chosen_on`), so one chosen after the date is not one yet."""
    from sqlalchemy import or_, select

    from ..storage.models import Placement, PlacementRequest

    stmt = (
        select(Placement, PlacementRequest.request_id, PlacementRequest.requester)
        .join(PlacementRequest, PlacementRequest.id == Placement.request_id)
        .where(or_(Placement.start_on <= as_of, Placement.chosen_on <= as_of))
        .where(or_(Placement.end_on.is_(None), Placement.end_on > as_of))
        .order_by(Placement.id)
    )
    return [(p, rid, req) for p, rid, req in session.execute(stmt)]


def affected_placements(session: Session, as_of: date) -> AffectedReport:
    from .common import load_units
    from .timeline import permit_states, register_states

    running = agreed_placements(session, as_of)
    if not running:
        return AffectedReport(as_of, [])
    units, agreements = register_states(session, as_of, statuses=PAUSED_STATUSES)
    return affected(as_of, running, units, agreements, permit_states(session, as_of),
                    lambda ids: load_units(session, ids))


def affected(as_of: date, running: list[tuple[Any, str, str]], units: dict, agreements: dict, permits: dict,
             load_units: Callable[[set[str]], dict]) -> AffectedReport:
    """The report from the agreed placements (agreed_placements: each with the Placement's
    attributes), the paused states on the date (timeline.register_states with PAUSED_STATUSES),
    the permits (timeline.permit_states) and the units' attributes (common.load_units)."""
    required_param = audit_param(PERMIT_REQUIRED_PARAM, as_of, required=False)
    required = set(required_param.value) if required_param is not None else set()
    info = load_units({p.unit_id for p, _, _ in running})
    # (unit, insats) -> the permits recorded for it up to the date
    held: dict[tuple[str, str], list] = {}
    for p in permits.values():
        if p.insats:
            held.setdefault((p.unit_id, p.insats), []).append(p)

    out: list[AffectedPlacement] = []
    for placement, request_id, requester in running:
        causes: list[Cause] = []
        st = units.get(placement.unit_id)
        # Spink's recommendation stop is for direct procurement only (004 l. 1327-1330): a placement
        # through the unit's framework agreement is not affected by it.
        stop_only = st is not None and st.status == UnitStatus.RECOMMENDATION_STOP and placement.route != "direktupphandling"
        if st is not None and st.status in PAUSED_UNIT_STATUSES and not stop_only:
            causes.append(Cause("unit_status", f"unit {label(st.status).lower()} ({st.status})", st.since,
                                st.reason, st.actor, st.rule_id, st.note,
                                msg("audit.cause.unit_status", status=Label(st.status, "unit_status"))))
        if placement.agreement_id:
            ast = agreements.get(placement.agreement_id)
            ast = ast.of_supplier(placement.org_nr) if ast is not None else None
            if ast is not None and ast.status in PAUSED_AGREEMENT_STATUSES:
                causes.append(Cause("agreement_status",
                                    f"agreement {placement.agreement_id} {ast.status}",
                                    ast.since, ast.reason, ast.actor, ast.rule_id, ast.note,
                                    msg("audit.cause.agreement_status", agreement=placement.agreement_id,
                                        status=Label(ast.status, "agreement_status"))))
        recorded = held.get((placement.unit_id, placement.insats), [])
        unit = info.get(placement.unit_id)
        public = unit is not None and unit.legal_form in PUBLIC_LEGAL_FORMS
        if not any(p.status in ACTIVE_PERMIT_STATUSES for p in recorded):
            lost = [p for p in recorded if p.ever_active]
            if lost:
                last = max(lost, key=lambda p: p.since)
                causes.append(Cause("permit", f"permit {last.dnr} {last.status}", last.since, last.reason,
                                    last.actor, None, last.note,
                                    msg("audit.cause.permit_lost", dnr=last.dnr, status=Label(last.status, "permit_status"))))
            elif placement.insats in required and not public:
                required_since = listed_since(PERMIT_REQUIRED_PARAM, as_of, placement.insats) or as_of
                since = max(placement.start_on, required_since)
                causes.append(Cause("permit", f"no IVO permit for {placement.insats} (required)", since,
                                    rule_id=None, note=str(required_param.source),
                                    message=msg("audit.cause.permit_missing", insats=Label(placement.insats, "insats"))))
        if not causes:
            continue
        causes.sort(key=lambda c: c.since)
        out.append(AffectedPlacement(
            placement_id=placement.id, request_id=request_id, unit_id=placement.unit_id, unit_name="",
            org_nr=placement.org_nr, insats=placement.insats, route=placement.route,
            agreement_id=placement.agreement_id, start_on=placement.start_on,
            started=placement.start_on <= as_of, status=placement.status,
            person_age=placement.person_age, child=placement.person_age < 18,
            municipality=placement.municipality, requester=requester,
            since=min(c.since for c in causes), causes=causes,
        ))
    for p in out:
        if p.unit_id in info:
            p.unit_name = info[p.unit_id].name
    # Children first (they are moved first), then the longest-standing cause.
    out.sort(key=lambda p: (not p.child, p.since, p.placement_id))
    return AffectedReport(as_of, out)

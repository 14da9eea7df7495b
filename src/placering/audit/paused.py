"""`audit paused`: who could not be recommended or ordered from on a date, since when, why, by whom.

Answered from history alone (timeline.py), so any past date gives the answer as it was then.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any, Callable

from ..labels import label
from ..vocabulary import PAUSED_AGREEMENT_STATUSES, PAUSED_UNIT_STATUSES, UnitStatus
from .common import AgreementInfo, UnitInfo, check_insats, check_route, check_status

if TYPE_CHECKING:
    from sqlmodel import Session

    from .timeline import StatusState

WATCH = UnitStatus.WATCH.value
# The statuses the report reads from history (audit/reads.py reads the same without SQLAlchemy).
STATUSES = frozenset({s.value for s in (*PAUSED_UNIT_STATUSES, *PAUSED_AGREEMENT_STATUSES)} | {WATCH})


@dataclass
class PausedRow:
    kind: str  # unit | agreement
    id: str
    name: str
    org_nr: str
    supplier: str
    status: str
    status_label: str
    since: date
    reason: str | None
    actor: str | None
    rule_id: str | None
    note: str | None
    insatser: list[str]
    municipality: str
    units: list[str]
    history_id: int | None

    def to_dict(self) -> dict[str, Any]:
        # What dataclasses.asdict gives (its deep copy was half of `audit paused` at 20,000 units):
        # every field in order, the lists copied; the values are text, dates and numbers.
        out = {name: getattr(self, name) for name in _ROW_FIELDS}
        out["insatser"], out["units"] = list(self.insatser), list(self.units)
        return out


_ROW_FIELDS = tuple(f.name for f in fields(PausedRow))


@dataclass
class PausedReport:
    as_of: date
    paused: list[PausedRow]
    watch: list[PausedRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "paused": [r.to_dict() for r in self.paused],
            "watch": [r.to_dict() for r in self.watch],
            "counts": {"paused": len(self.paused), "watch": len(self.watch)},
        }


def _sort_key(row: PausedRow) -> tuple:
    return (row.since, row.kind, row.id)


def paused(
    session: Session,
    as_of: date,
    *,
    insats: str | None = None,
    route: str | None = None,
    municipality: str | None = None,
    status: str | None = None,
) -> PausedReport:
    """Units and agreements that may not be recommended or ordered from on `as_of`, and those on watch."""
    from .common import check_municipality, load_agreements, load_units
    from .timeline import register_states

    check_insats(insats)
    check_route(route)
    check_status(status)
    mkey = check_municipality(session, municipality)
    units, agreements = register_states(session, as_of, statuses=STATUSES)
    return report(as_of, units, agreements, lambda ids, routes: load_units(session, ids, routes=routes),
                  lambda ids: load_agreements(session, ids), insats=insats, route=route, mkey=mkey, status=status)


def report(as_of: date, units: dict[str, StatusState], agreements: dict[str, StatusState],
           load_units: Callable[[set[str], bool], dict[str, UnitInfo]],
           load_agreements: Callable[[set[str]], dict[str, AgreementInfo]], *,
           insats: str | None, route: str | None, mkey: str | None, status: str | None) -> PausedReport:
    """The report from the states on `as_of` (timeline.register_states, filtered to STATUSES)
    and the register's attributes of the units and agreements in it (the filters checked)."""
    wanted_units = {
        uid: st for uid, st in units.items()
        if st.status in PAUSED_UNIT_STATUSES or st.status == WATCH
    }
    # An agreement paused as a whole is one row; otherwise each supplier whose participation INK
    # paused is a row of its own (order stop per supplier).
    wanted_agreements: dict[str, StatusState] = {}
    wanted_parts: list[tuple[str, str, StatusState]] = []
    for aid, st in agreements.items():
        if st.status in PAUSED_AGREEMENT_STATUSES:
            wanted_agreements[aid] = st
        elif st.participants:
            wanted_parts += [(aid, org, p) for org, p in st.participants.items()
                             if org is not None and p.status in PAUSED_AGREEMENT_STATUSES]
    if status:
        wanted_units = {k: v for k, v in wanted_units.items() if v.status == status}
        wanted_agreements = {k: v for k, v in wanted_agreements.items() if v.status == status}
        wanted_parts = [x for x in wanted_parts if x[2].status == status]
    if route and route != "ramavtal":
        wanted_agreements, wanted_parts = {}, []

    unit_info = load_units(set(wanted_units), route is not None) if wanted_units else {}
    agreement_info = (load_agreements({*wanted_agreements, *(aid for aid, _, _ in wanted_parts)})
                      if wanted_agreements or wanted_parts else {})

    rows_paused: list[PausedRow] = []
    rows_watch: list[PausedRow] = []
    for uid, st in wanted_units.items():
        info = unit_info.get(uid)
        if info is None:
            # The unit's history exists but the row does not (should not happen: nothing deletes
            # units); still report it rather than hide a paused unit.
            row = _row("unit", uid, "", st.org_nr or "", "", st, [], "", [uid])
        else:
            if insats and insats not in info.insatser:
                continue
            if route and not any(r.startswith(route + ":") for r in info.routes):
                continue
            if route and route != "direktupphandling" and st.status == "recommendation_stop":
                continue  # Spink's stop is for direct procurement only (004 l. 1327-1330)
            if mkey and info.municipality_key != mkey:
                continue
            row = _row("unit", uid, info.name, info.org_nr, info.supplier_name, st, info.insatser,
                       info.municipality, [uid])
        (rows_watch if st.status == WATCH else rows_paused).append(row)
    for aid, st in wanted_agreements.items():
        a = agreement_info.get(aid)
        if a is None:
            row = _row("agreement", aid, "", st.org_nr or "", "", st, [], "", [])
        else:
            if insats and insats not in a.insatser:
                continue
            if mkey and mkey not in a.municipality_keys:
                continue
            row = _row("agreement", aid, aid, ", ".join(a.org_nrs), ", ".join(a.supplier_names), st,
                       a.insatser, "", a.unit_ids)
        rows_paused.append(row)
    for aid, org, st in wanted_parts:
        a = agreement_info.get(aid)
        if a is not None and ((insats and insats not in a.insatser) or (mkey and mkey not in a.municipality_keys)):
            continue
        names = a.names if a is not None else {}
        units = a.units_of(org) if a is not None else []
        rows_paused.append(_row("agreement", aid, f"{aid} ({names.get(org, org)})", org, names.get(org, ""), st,
                                a.insatser if a is not None else [], "", units))
    rows_paused.sort(key=_sort_key)
    rows_watch.sort(key=_sort_key)
    return PausedReport(as_of, rows_paused, rows_watch)


def _row(kind: str, id_: str, name: str, org_nr: str, supplier: str, st: StatusState,
         insatser: list[str], municipality: str, units: list[str]) -> PausedRow:
    return PausedRow(
        kind=kind, id=id_, name=name, org_nr=org_nr, supplier=supplier, status=st.status,
        status_label=label(st.status), since=st.since, reason=st.reason, actor=st.actor,
        rule_id=st.rule_id, note=st.note, insatser=list(insatser), municipality=municipality,
        units=units, history_id=st.history_id,
    )

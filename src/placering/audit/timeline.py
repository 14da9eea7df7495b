"""The register as it was on a date, rebuilt from history alone.

"Status as of D" is the last `status` value among a thing's history entries with
`effective_on <= D` (docs/ARCHITECTURE.md, History vocabulary): a unit's creation records its
initial status, `status` entries change it; agreements have `agreement_status` entries (an
import records one when it brings in a new agreement); permits have `permit` entries. The
current status columns are never consulted: an auditor asking about last March gets last
March's answer even if the unit has been re-published since.

Each reconstruction is one query over the relevant entries, ordered by (effective_on, id) so
that changes on one day apply in the order they were recorded, and it fetches only the
`status` (and for permits `insats`) member of `changes`, not the whole JSON document (a
unit's creation entry carries its full description).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from sqlalchemy import select
from sqlmodel import Session

from ..storage.models import History

# Actions whose `changes` may carry a unit's status: creation records the initial status,
# `status` is a change, and an `updated` entry might carry one too.
_UNIT_ACTIONS = ("created", "updated", "status")
_AGREEMENT_ACTIONS = ("agreement_status",)
_PERMIT_ACTIONS = ("permit",)
ACTIVE_PERMIT_STATUSES = frozenset({"active", "notified"})


@dataclass
class StatusState:
    """Where one unit or agreement stood on the audit date, and the change that put it there."""

    status: str
    since: date
    reason: str | None = None
    note: str | None = None
    actor: str | None = None
    rule_id: str | None = None
    rules_version: str | None = None
    history_id: int | None = None
    org_nr: str | None = None
    unit_id: str | None = None
    created_on: date | None = None  # the date of its first status (a unit's creation)


@dataclass
class PermitState:
    unit_id: str
    dnr: str
    insats: str | None
    status: str
    since: date
    actor: str | None = None
    note: str | None = None
    reason: str | None = None
    ever_active: bool = False  # the permit was active or notified at some point up to the date


def _new_status():
    """The new side of `changes.status` ([old, new]) as text, extracted by the database."""
    return History.changes[("status", 1)].as_string()


def _detail(session: Session, ids: list[int]) -> dict[int, Any]:
    """Who, why and which rule for the given history entries (second, narrow pass)."""
    out: dict[int, Any] = {}
    # Large batches: a few statements rather than dozens (both back ends take 5,000 parameters).
    for i in range(0, len(ids), 5000):
        stmt = select(History.id, History.reason, History.note, History.actor, History.rule_id,
                      History.rules_version, History.org_nr, History.unit_id).where(History.id.in_(ids[i:i + 5000]))
        for row in session.connection().execute(stmt).all():
            out[row.id] = row
    return out


def register_states(
    session: Session,
    as_of: date,
    *,
    details_for: Callable[[str, str], bool] | None = None,
) -> tuple[dict[str, StatusState], dict[str, StatusState]]:
    """(unit states by unit_id, agreement states by agreement_id) as of the date.

    One ordered pass over the status-bearing entries keeps, per unit and agreement, the entry
    that moved it into its latest status; a second pass by primary key fetches who, why and
    which rule for those entries only (for the (kind, status) pairs `details_for` accepts;
    all when None).
    """
    stmt = (
        select(History.id, History.effective_on, History.entity_kind, History.entity_id, _new_status())
        .where(History.effective_on <= as_of)
        .where(History.entity_kind.in_(("unit", "agreement")))
        .where(History.action.in_(_UNIT_ACTIONS + _AGREEMENT_ACTIONS))
        .order_by(History.effective_on, History.id)
    )
    # key -> [status, since, history id]; first seen -> created_on
    current: dict[tuple[str, str], list] = {}
    first: dict[tuple[str, str], date] = {}
    for hid, effective_on, kind, entity_id, status in session.connection().execute(stmt).all():
        if not status:
            continue
        key = (kind, entity_id)
        state = current.get(key)
        if state is None:
            current[key] = [status, effective_on, hid]
            first[key] = effective_on
        elif state[0] != status:
            # Re-recording the same status does not move "since": it was already there.
            state[0], state[1], state[2] = status, effective_on, hid
    details = _detail(session, sorted(
        v[2] for (kind, _), v in current.items() if details_for is None or details_for(kind, v[0])))
    units: dict[str, StatusState] = {}
    agreements: dict[str, StatusState] = {}
    for (kind, entity_id), (status, since, hid) in current.items():
        d = details.get(hid)
        st = StatusState(status=status, since=since, history_id=hid, created_on=first[(kind, entity_id)])
        if d is not None:
            st.reason, st.note, st.actor, st.rule_id = d.reason, d.note, d.actor, d.rule_id
            st.rules_version, st.org_nr, st.unit_id = d.rules_version, d.org_nr, d.unit_id
        (units if kind == "unit" else agreements)[entity_id] = st
    return units, agreements


def unit_states(session: Session, as_of: date) -> dict[str, StatusState]:
    return register_states(session, as_of)[0]


def permit_states(session: Session, as_of: date) -> dict[tuple[str, str], PermitState]:
    """Every permit recorded up to the date, keyed by (unit_id, dnr), with its status then."""
    permits: dict[tuple[str, str], PermitState] = {}
    stmt = (
        select(History.id, History.effective_on, History.entity_id, History.unit_id, History.actor, History.note,
               History.reason, _new_status().label("status"), History.changes["insats"].as_string().label("insats"))
        .where(History.effective_on <= as_of)
        .where(History.entity_kind == "permit")
        .where(History.action.in_(_PERMIT_ACTIONS))
        .order_by(History.effective_on, History.id)
    )
    for row in session.connection().execute(stmt).all():
        new = row.status
        if not new or not row.unit_id:
            continue
        key = (row.unit_id, row.entity_id)
        old = permits.get(key)
        if old is not None and old.status == new:
            continue
        permits[key] = PermitState(
            unit_id=row.unit_id,
            dnr=row.entity_id,
            insats=row.insats or (old.insats if old else None),
            status=str(new),
            since=row.effective_on,
            actor=row.actor,
            note=row.note,
            reason=row.reason,
            ever_active=(old.ever_active if old else False) or new in ACTIVE_PERMIT_STATUSES,
        )
    return permits

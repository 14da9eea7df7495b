"""The register as it was on a date, rebuilt from history alone.

"Status as of D" is the last `status` value among a thing's history entries with
`effective_on <= D` (docs/ARCHITECTURE.md, History vocabulary). The current status columns
are never consulted: an auditor asking about last March gets last March's answer even if the
unit has been re-published since. Each reconstruction is one pass over the relevant entries,
ordered by (effective_on, id), so ties on one day resolve in the order they were recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlmodel import Session

from ..storage.models import History

# Actions whose `changes` may carry a unit's status: creation records the initial status,
# `status` is a change, and an import that updates a unit may carry one too.
_UNIT_ACTIONS = ("created", "updated", "status")
_AGREEMENT_ACTIONS = ("agreement_status",)
# Permits granted through an import arrive inside the unit's created/updated summary.
_PERMIT_ACTIONS = ("permit",)


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
    created_on: date | None = None  # first entry seen for it (a unit's creation)


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


ACTIVE_PERMIT_STATUSES = frozenset({"active", "notified"})


def _new_value(changes: dict[str, Any] | None, key: str) -> tuple[bool, Any]:
    """The new value of `key` in a changes map ({field: [old, new]}); (False, None) if absent."""
    if not changes or key not in changes:
        return False, None
    value = changes[key]
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return True, value[1]
    return True, value


def _rows(session: Session, kinds: tuple[str, ...], actions: tuple[str, ...], as_of: date) -> Iterator[Any]:
    stmt = (
        select(
            History.id,
            History.effective_on,
            History.entity_kind,
            History.entity_id,
            History.action,
            History.changes,
            History.reason,
            History.note,
            History.actor,
            History.rule_id,
            History.rules_version,
            History.org_nr,
            History.unit_id,
        )
        .where(History.effective_on <= as_of)
        .where(History.entity_kind.in_(kinds))
        .where(History.action.in_(actions))
        .order_by(History.effective_on, History.id)
    )
    yield from session.execute(stmt)


def _apply(states: dict[str, StatusState], key: str, new: str, row: Any) -> None:
    state = states.get(key)
    if state is not None and state.status == new:
        # Re-recording the same status does not move "since": it was already there.
        return
    created = state.created_on if state else row.effective_on
    states[key] = StatusState(
        status=new,
        since=row.effective_on,
        reason=row.reason,
        note=row.note,
        actor=row.actor,
        rule_id=row.rule_id,
        rules_version=row.rules_version,
        history_id=row.id,
        org_nr=row.org_nr,
        unit_id=row.unit_id,
        created_on=created,
    )


def _routes_in(value: Any) -> Iterable[dict[str, Any]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def register_states(session: Session, as_of: date) -> tuple[dict[str, StatusState], dict[str, StatusState]]:
    """(unit states by unit_id, agreement states by agreement_id) as of the date, in one pass.

    An agreement's status comes from its `agreement_status` entries; before its first one, the
    status in the route summary of the unit entry that brought it into the register counts.
    """
    units: dict[str, StatusState] = {}
    agreements: dict[str, StatusState] = {}
    for row in _rows(session, ("unit", "agreement"), _UNIT_ACTIONS + _AGREEMENT_ACTIONS, as_of):
        has, new = _new_value(row.changes, "status")
        if row.entity_kind == "unit":
            if row.action == "created" and row.entity_id not in units and not has:
                continue
            if has and new:
                _apply(units, row.entity_id, str(new), row)
            has_routes, routes = _new_value(row.changes, "routes")
            if has_routes:
                for route in _routes_in(routes):
                    agreement_id = route.get("agreement_id")
                    status = route.get("status")
                    if agreement_id and status and agreement_id not in agreements:
                        _apply(agreements, agreement_id, str(status), row)
                        agreements[agreement_id].reason = None
                        agreements[agreement_id].note = None
        elif has and new:
            _apply(agreements, row.entity_id, str(new), row)
    return units, agreements


def unit_states(session: Session, as_of: date) -> dict[str, StatusState]:
    return register_states(session, as_of)[0]


def permit_states(session: Session, as_of: date) -> dict[tuple[str, str], PermitState]:
    """Every permit known on the date, keyed by (unit_id, dnr), with its status then."""
    permits: dict[tuple[str, str], PermitState] = {}

    def put(unit_id: str, dnr: str, insats: str | None, status: str, row: Any) -> None:
        key = (unit_id, dnr)
        old = permits.get(key)
        if old is not None and old.status == status:
            return
        permits[key] = PermitState(
            unit_id=unit_id,
            dnr=dnr,
            insats=insats or (old.insats if old else None),
            status=status,
            since=row.effective_on,
            actor=row.actor,
            note=row.note,
            reason=row.reason,
            ever_active=(old.ever_active if old else False) or status in ACTIVE_PERMIT_STATUSES,
        )

    for row in _rows(session, ("permit", "unit"), _PERMIT_ACTIONS + ("created", "updated"), as_of):
        if row.entity_kind == "permit":
            has, new = _new_value(row.changes, "status")
            if has and new and row.unit_id:
                _, insats = _new_value(row.changes, "insats")
                put(row.unit_id, row.entity_id, insats, str(new), row)
            continue
        has, summary = _new_value(row.changes, "permits")
        if has:
            for p in _routes_in(summary):
                if p.get("dnr") and p.get("status") and (row.entity_id, p["dnr"]) not in permits:
                    put(row.entity_id, p["dnr"], p.get("insats"), str(p["status"]), row)
    return permits

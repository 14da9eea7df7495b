"""A unit's and an agreement's register status, and the lookups every register module shares
(get_unit, get_supplier, agreement_routes, status_since).

The floor below the register's other modules: the import (service.py), the entry check
(entry.py) and the register-status rules (rules/register_status.py) all change statuses through
`change_unit_status` and `change_agreement_status`, within the authority invariants, and none of
them is imported from here (each module imports only the floors below it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session

from ..boundary import field_text, not_future, today
from ..errors import InvariantViolation, NotFound, PlaceringError, Problem, ValidationError
from ..i18n import Joined, Label, label_list as labels, msg, reason
from ..storage.database import chunks, lock_row, lock_rows
from ..storage.history import record, require_actor
from ..storage.models import History, Permit, Supplier, Unit, UnitRoute
from ..text import canonical_org_nr, nfc
from ..vocabulary import AgreementStatus, RemovalReason, Route, UnitStatus
from .schema import check_code

READMISSION_STATUSES = (UnitStatus.PUBLISHED.value, UnitStatus.WATCH.value)


def _code(value: Any, enum, what: str) -> str:
    try:
        return check_code(value, enum, what)
    except ValueError as exc:
        raise ValidationError(reason(exc)) from None


def _today(effective_on: date | None) -> date:
    """The day a change takes effect: today unless given, and never after today (it happened)."""
    if effective_on is None:
        return today()
    try:
        return not_future(effective_on, "the change's date")
    except ValueError as exc:
        raise ValidationError(Problem(reason(exc), field="--on")) from None


# --- lookups --------------------------------------------------------------------------------


def get_supplier(session: Session, org_nr: str) -> Supplier:
    try:
        key = canonical_org_nr(org_nr)
    except ValueError as exc:
        raise ValidationError(reason(exc)) from None
    supplier = session.scalars(select(Supplier).where(Supplier.org_nr == key)).first()
    if supplier is None:
        from ..i18n import msg

        raise NotFound(msg("supplier.not_found", org=key, hint=msg("hint.try_search")))
    return supplier


def unit_by_id(session: Session, unit_id: str) -> Unit | None:
    """The unit with this unit_id, as typed: exact, else ignoring case (`u-1083` is U-1083)."""
    ident = nfc(unit_id)
    unit = session.scalars(select(Unit).where(Unit.unit_id == ident)).first()
    if unit is None and ident:
        unit = session.scalars(select(Unit).where(func.lower(Unit.unit_id) == ident.lower())
                               .order_by(Unit.id)).first()
    return unit


def suggestions(session: Session, text: str, limit: int = 3) -> list[str]:
    """Units whose name is like `text`, as 'U-1083 (HVB Rosstigen, Göteborg)', best first."""
    from .search import search

    try:
        hits = search(session, text, limit=limit)
    except ValidationError:
        return []
    return [f"{h.unit_id} ({h.unit_name}, {h.municipality})" for h in hits if h.unit_id]


def _hint(found: list[str], *, search: bool = True):
    """'; menar du A, B eller C?' (the suggestions as one list), else where to search."""
    from ..i18n import msg

    if found:
        return msg("hint.did_you_mean", units=found)
    return msg("hint.try_search") if search else ""


def _not_found_unit(session: Session, unit_id: str) -> NotFound:
    from ..i18n import msg

    return NotFound(msg("unit.not_found", id=nfc(unit_id), hint=_hint(suggestions(session, unit_id))))


def get_unit(session: Session, unit_id: str, *, lock: bool = False) -> Unit:
    """The unit (its id as typed, ignoring case); with `lock`, its row locked until the
    transaction ends (a change is decided on the current value, and a concurrent change of the
    same unit waits for this one)."""
    if lock:
        # The exact id locked in one query; as typed in another case, found first and then locked.
        unit = lock_row(session, select(Unit).where(Unit.unit_id == nfc(unit_id)))
        if unit is None:
            unit = unit_by_id(session, unit_id)
            if unit is not None:
                unit = lock_row(session, select(Unit).where(Unit.id == unit.id))
    else:
        unit = unit_by_id(session, unit_id)
    if unit is None:
        raise _not_found_unit(session, unit_id)
    return unit


def supplier_of(session: Session, unit: Unit) -> Supplier:
    return session.get(Supplier, unit.supplier_id)


def agreement_routes(session: Session, agreement_id: str, *, lock: bool = False) -> list[UnitRoute]:
    stmt = select(UnitRoute).where(UnitRoute.agreement_id == nfc(agreement_id)).order_by(UnitRoute.id)
    # with `lock`, a status change of the agreement waits for a concurrent one (see get_unit)
    routes = lock_rows(session, stmt) if lock else list(session.scalars(stmt))
    if not routes:
        from ..i18n import msg

        raise NotFound(msg("agreement.not_found", id=nfc(agreement_id)))
    return routes


def status_since(session: Session, unit_id: str) -> History | None:
    """The history entry that gave the unit its current status (a status change or creation)."""
    entries = session.scalars(
        select(History)
        .where(History.entity_kind == "unit", History.entity_id == unit_id,
               History.action.in_(("status", "created")))
        .order_by(History.effective_on.desc(), History.id.desc())
    )
    for h in entries:
        if "status" in (h.changes or {}):
            return h
    return None


def _status_since_on(session: Session, unit_id: str) -> date | None:
    """The day the unit's current status took effect (`status_since(...).effective_on`), read
    as plain rows: every status change asks it."""
    for on, changes in session.execute(
            select(History.effective_on, History.changes)
            .where(History.entity_kind == "unit", History.entity_id == unit_id,
                   History.action.in_(("status", "created")))
            .order_by(History.effective_on.desc(), History.id.desc())):
        if "status" in (changes or {}):
            return on
    return None


def _last_status_dates(session: Session, entity_kind: str, ids: list[str]) -> dict[str, date]:
    """When the current status of each unit or agreement took effect (its latest status entry)."""
    actions = ("status", "created") if entity_kind == "unit" else ("agreement_status",)
    out: dict[str, date] = {}
    for chunk in chunks(ids):
        rows = session.execute(
            select(History.entity_id, func.max(History.effective_on))
            .where(History.entity_kind == entity_kind, History.entity_id.in_(chunk),
                   History.action.in_(actions))
            .group_by(History.entity_id))
        out.update({entity_id: on for entity_id, on in rows})
    return out


# --- status changes -------------------------------------------------------------------------


def _latest_permits(session: Session, unit_pk: int) -> list[Permit]:
    """The latest permit decision per insats of a unit."""
    latest: dict[str, Permit] = {}
    for p in session.scalars(select(Permit).where(Permit.unit_id == unit_pk).order_by(Permit.decided_on, Permit.id)):
        latest[p.insats] = p
    return list(latest.values())


def _status_arguments(status: str, reason: str | None, note: str | None, effective_on: date | None,
                      rule_id: str | None) -> tuple[str, str | None, str | None, date]:
    """A status change's arguments checked and normalised: (status, reason, note, day)."""
    status = _code(status, UnitStatus, "unit status")
    if reason is not None:
        reason = _code(reason, RemovalReason, "removal reason")
    # A rule's note is its message, built from register fields (a permit's diary number such as
    # 8.1-10708/2024 reads to the identity-number check like a date of birth): only a person's
    # note is free text to check.
    note = field_text(note, "--note", optional=True) if rule_id is None else (nfc(note) if note else None)
    return status, reason, note, _today(effective_on)


def _check_status_change(session: Session, unit: Unit, status: str, reason: str | None, note: str | None,
                         on: date, since: date | None, *, entry_approved: bool, not_before_status: bool) -> date:
    """The authority invariants of changing `unit` (its current values) to `status` on `on`, the
    current status having taken effect on `since`; returns the day the change takes effect."""
    if unit.status == status:
        raise InvariantViolation(msg("unit.already_status", unit=unit.unit_id, status=Label(status, "unit_status")))
    if reason is not None and status != UnitStatus.REMOVED:
        raise ValidationError(msg("unit.reason_only_when_removed", status=Label(status, "unit_status")))
    if status == UnitStatus.RECOMMENDATION_STOP:
        unit_routes = list(session.scalars(select(UnitRoute.route).where(UnitRoute.unit_id == unit.id)))
        if not any(r == Route.DIREKTUPPHANDLING for r in unit_routes):
            raise InvariantViolation(msg("unit.recommendation_stop_direct_only", unit=unit.unit_id,
                                         routes=labels(sorted(set(unit_routes)), "route")))
    if status == UnitStatus.REMOVED:
        missing = [what for what, v in (("reason", reason), ("note", note)) if not v]
        if missing:
            # A missing option is invalid input (exit 2, as the README says), not a refused change.
            needs = {("reason",): "unit.removal_needs_reason", ("note",): "unit.removal_needs_note",
                     ("reason", "note"): "unit.removal_needs_reason_and_note"}[tuple(missing)]
            raise ValidationError(msg(needs, unit=unit.unit_id, codes=", ".join(m.value for m in RemovalReason)))
    if unit.status == UnitStatus.REMOVED and status != UnitStatus.PENDING_ENTRY:
        raise InvariantViolation(msg("unit.removal_final", unit=unit.unit_id))
    if unit.status == UnitStatus.REMOVED and unit.removal_reason == RemovalReason.IVO:
        # A lost IVO permit always removes: the unit comes back only with a permit IVO has granted.
        lost = [p for p in _latest_permits(session, unit.id) if p.status not in ("active", "notified")]
        if lost:
            raise InvariantViolation(msg("unit.ivo_revoked", unit=unit.unit_id, permits=Joined(tuple(
                msg("permit.said", dnr=p.dnr, status=Label(p.status, "permit_status")) for p in lost))))
    if (unit.status == UnitStatus.PENDING_ENTRY and status in READMISSION_STATUSES and not entry_approved):
        raise InvariantViolation(msg("unit.waits_for_entry", unit=unit.unit_id))
    if since is not None and on < since:
        if not_before_status:
            return since
        raise InvariantViolation(msg("unit.change_before_status", on=on.isoformat(), unit=unit.unit_id,
                                     status=Label(unit.status, "unit_status"), since=since.isoformat()))
    return on


def _apply_status_change(unit: Unit, org_nr: str, status: str, reason: str | None, note: str | None, on: date, *,
                         actor: str, source: str | None, rule_id: str | None, rules_version: str | None) -> dict:
    """Set the unit's status fields; the history entry's values (storage.history.entry_values)."""
    old = unit.status
    unit.status = status
    unit.removal_reason = reason if status == UnitStatus.REMOVED else None
    unit.status_note = note
    return dict(actor=actor, entity_kind="unit", entity_id=unit.unit_id, action="status",
                effective_on=on, changes={"status": [old, status]}, org_nr=org_nr,
                unit_id=unit.unit_id, reason=reason,
                note=(f"{note} ({source})" if note else source) if source else note,
                rule_id=rule_id, rules_version=rules_version)


def change_unit_status(
    session: Session,
    unit_id: str,
    status: str,
    *,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    effective_on: date | None = None,
    rule_id: str | None = None,
    rules_version: str | None = None,
    entry_approved: bool = False,
    source: str | None = None,
    not_before_status: bool = False,
) -> History:
    """Change a unit's register status, within the authority invariants; returns the history entry.

    `source` names where the change came from (e.g. "import FILE (--apply-status)"): it is added
    to the history note, not to the unit's status note.

    `entry_approved`: the caller is the entry check (register.entry.approve_entry) or a
    maintainer's --apply-status import, which alone publish a pending_entry unit.

    `not_before_status`: a change dated before the unit's current status began takes effect
    when that status began (a rule's change: history is kept in date order) instead of being
    refused. Many changes at once: `change_unit_statuses`, the same checks and history."""
    actor = require_actor(actor)
    status, reason, note, on = _status_arguments(status, reason, note, effective_on, rule_id)
    unit = get_unit(session, unit_id, lock=True)
    supplier = supplier_of(session, unit)
    on = _check_status_change(session, unit, status, reason, note, on, _status_since_on(session, unit.unit_id),
                              entry_approved=entry_approved, not_before_status=not_before_status)
    entry = record(session, **_apply_status_change(unit, supplier.org_nr, status, reason, note, on, actor=actor,
                                                   source=source, rule_id=rule_id, rules_version=rules_version))
    session.flush()
    return entry


def change_unit_statuses(session: Session, changes: list[dict], *, actor: str,
                         write_history: bool = True) -> list[dict | PlaceringError]:
    """Many status changes at once (an import's --apply-status, the demo's past), in order, each
    exactly as `change_unit_status(session, **change, actor=actor)` would make it: the same
    authority invariants, the same history entry, in the same order. The units are read and
    locked in one query and the history written in one statement, not one round trip each.

    Returns, per change, the history entry's values (a dict: entity_id, changes, org_nr, …) or
    the error that refused it (the other changes are made: the caller decides, as it would
    catching the single call's error, whether the transaction goes on). Without `write_history`
    the caller writes the returned entries, in order among its other entries (the import's
    register-status rules write their status changes and proposals in one statement)."""
    from ..storage.history import entry_values

    actor = require_actor(actor)
    out: list[dict | PlaceringError] = []
    if not changes:
        return out
    session.flush()
    wanted = sorted({nfc(c["unit_id"]) for c in changes})
    units: dict[str, Unit] = {}
    for chunk in chunks(wanted):
        for u in lock_rows(session, select(Unit).where(Unit.unit_id.in_(chunk)).order_by(Unit.id)):
            units[u.unit_id] = u
    orgs = {sid: org for sid, org in session.execute(select(Supplier.id, Supplier.org_nr).where(
        Supplier.id.in_(sorted({u.supplier_id for u in units.values()}))))} if units else {}
    since: dict[str, date | None] = {}
    found = sorted(units)
    for chunk in chunks(found):
        for uid, on, ch in session.execute(
                select(History.entity_id, History.effective_on, History.changes)
                .where(History.entity_kind == "unit", History.entity_id.in_(chunk),
                       History.action.in_(("status", "created")))
                .order_by(History.entity_id, History.effective_on.desc(), History.id.desc())):
            if uid not in since and "status" in (ch or {}):
                since[uid] = on
    rows: list[dict] = []
    for c in changes:
        c = dict(c)
        unit_id = c.pop("unit_id")
        try:
            status, reason, note, on = _status_arguments(c.pop("status"), c.pop("reason", None), c.pop("note", None),
                                                         c.pop("effective_on", None), c.get("rule_id"))
            unit = units.get(nfc(unit_id))
            if unit is None:
                unit = get_unit(session, unit_id, lock=True)  # as typed in another case, or NotFound
                units[unit.unit_id] = unit
                orgs.setdefault(unit.supplier_id, supplier_of(session, unit).org_nr)
                if unit.unit_id not in since:
                    since[unit.unit_id] = _status_since_on(session, unit.unit_id)
            on = _check_status_change(session, unit, status, reason, note, on, since.get(unit.unit_id),
                                      entry_approved=c.get("entry_approved", False),
                                      not_before_status=c.get("not_before_status", False))
        except PlaceringError as exc:
            out.append(exc)
            continue
        values = entry_values(**_apply_status_change(
            unit, orgs[unit.supplier_id], status, reason, note, on, actor=actor, source=c.get("source"),
            rule_id=c.get("rule_id"), rules_version=c.get("rules_version")))
        since[unit.unit_id] = on
        rows.append(values)
        out.append(values)
    session.flush()
    if rows and write_history:
        session.execute(insert(History.__table__), rows)
    return out


def change_agreement_status(
    session: Session,
    agreement_id: str,
    status: str,
    *,
    actor: str,
    note: str | None = None,
    effective_on: date | None = None,
    rule_id: str | None = None,
    rules_version: str | None = None,
    org_nr: str | None = None,
) -> History:
    """Change the status of a framework agreement: one supplier's participation (`org_nr`), or
    every supplier's when INK decides so for the whole agreement (org_nr None). One history entry
    per participation changed (changes `supplier`, `scope`: supplier | all); returns the first.
    A terminated participation is final and is left as it is by a change of the whole agreement."""
    actor = require_actor(actor)
    status = _code(status, AgreementStatus, "agreement status")
    on = _today(effective_on)
    routes = agreement_routes(session, agreement_id, lock=True)
    aid = routes[0].agreement_id
    kinds = sorted({r.route for r in routes})
    if kinds != [Route.RAMAVTAL.value]:
        raise InvariantViolation(msg("agreement.not_framework", agreement=aid, routes=labels(kinds, "route")))
    by_org: dict[str, list[UnitRoute]] = defaultdict(list)
    for r, org in session.execute(
            select(UnitRoute, Supplier.org_nr).join(Unit, Unit.id == UnitRoute.unit_id)
            .join(Supplier, Supplier.id == Unit.supplier_id).where(UnitRoute.agreement_id == aid)
            .order_by(Supplier.org_nr, UnitRoute.id)):
        by_org[org].append(r)
    if org_nr is not None:
        try:
            key = canonical_org_nr(org_nr)
        except ValueError as exc:
            raise ValidationError(msg("option.problem", option="--supplier", problem=reason(exc))) from None
        if key not in by_org:
            raise InvariantViolation(msg("agreement.supplier_not_party", org=key, agreement=aid,
                                         suppliers=", ".join(sorted(by_org))))
        targets = {key: by_org[key]}
    else:
        targets = dict(by_org)
    who = (msg("agreement.who_supplier", org=next(iter(targets)), agreement=aid) if org_nr is not None
           else msg("agreement.who", agreement=aid))
    olds = {org: rs[0].status for org, rs in targets.items()}
    if all(o == AgreementStatus.TERMINATED for o in olds.values()):
        raise InvariantViolation(msg("agreement.terminated_final", who=who, status=Label(status, "agreement_status")))
    changing = {org: rs for org, rs in targets.items()
                if olds[org] != status and olds[org] != AgreementStatus.TERMINATED}
    if not changing:
        raise InvariantViolation(msg("agreement.already_status", who=who, status=Label(status, "agreement_status")))
    since = _last_status_dates(session, "agreement", [aid]).get(aid)
    if since is not None and on < since:
        current = sorted({olds[org] for org in changing})
        raise InvariantViolation(msg("agreement.change_before_status", on=on.isoformat(), who=who,
                                     status=labels(current, "agreement_status", "/"), since=since.isoformat()))
    entries = []
    for org, rs in changing.items():
        for r in rs:
            r.status = status
        entries.append(record(session, actor=actor, entity_kind="agreement", entity_id=aid, action="agreement_status",
                              effective_on=on, org_nr=org, note=note, rule_id=rule_id, rules_version=rules_version,
                              changes={"status": [olds[org], status], "supplier": org,
                                       "scope": "supplier" if org_nr is not None else "all"}))
    session.flush()
    return entries[0]

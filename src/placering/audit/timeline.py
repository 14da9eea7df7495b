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
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from sqlmodel import Session

# SQLAlchemy and the models are imported by the functions that query through them, so that
# audit/reads.py (`audit paused` without SQLAlchemy) shares StatusState and the agreements' fold.

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
    # An agreement's participations by supplier org_nr, when INK changed one supplier's part only;
    # the agreement's own status is then the one they share, or "mixed".
    participants: dict[str, "StatusState"] | None = None

    def of_supplier(self, org_nr: str | None) -> "StatusState":
        """The status of one supplier's participation in an agreement."""
        if self.participants:
            return self.participants.get(org_nr) or self.participants.get(None) or self
        return self


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
    from ..storage.models import History

    return History.changes[("status", 1)].as_string()


def register_states(
    session: Session,
    as_of: date,
    *,
    statuses: Iterable[str] | None = None,
) -> tuple[dict[str, StatusState], dict[str, StatusState]]:
    """(unit states by unit_id, agreement states by agreement_id) as of the date; only those
    whose status then is in `statuses` when given.

    The database does the pass, in one statement over the status-bearing entries ordered by
    (effective_on, id) per unit or agreement: LAG finds the entries that changed the status
    (re-recording the same status does not move "since"), ROW_NUMBER keeps the latest of them,
    which is the current status and the change that put it there; MIN gives the first entry
    (a unit's creation). Who, why and which rule come from that entry.
    """
    from sqlalchemy import func, or_, select

    from ..storage.models import History

    h = (
        select(History.id, History.effective_on, History.entity_kind, History.entity_id,
               _new_status().label("status"))
        .where(History.effective_on <= as_of)
        .where(History.entity_kind == "unit")
        .where(History.action.in_(_UNIT_ACTIONS))
        .subquery("h")
    )
    per_entity = (h.c.entity_kind, h.c.entity_id)
    in_order = (h.c.effective_on, h.c.id)
    w = (
        select(h, func.lag(h.c.status).over(partition_by=per_entity, order_by=in_order).label("prev"),
               func.min(h.c.effective_on).over(partition_by=per_entity).label("first_on"))
        .where(h.c.status.is_not(None))
        .subquery("w")
    )
    changes = (
        select(w.c.id, w.c.effective_on, w.c.entity_kind, w.c.entity_id, w.c.status, w.c.first_on,
               func.row_number().over(partition_by=(w.c.entity_kind, w.c.entity_id),
                                      order_by=(w.c.effective_on.desc(), w.c.id.desc())).label("rn"))
        .where(or_(w.c.prev.is_(None), w.c.prev != w.c.status))
        .subquery("c")
    )
    stmt = (
        select(changes.c.effective_on, changes.c.entity_kind, changes.c.entity_id, changes.c.status,
               changes.c.first_on, History.id, History.reason, History.note, History.actor, History.rule_id,
               History.rules_version, History.org_nr, History.unit_id)
        .join(History, History.id == changes.c.id)
        .where(changes.c.rn == 1)
    )
    if statuses is not None:
        stmt = stmt.where(changes.c.status.in_(list(statuses)))
    units: dict[str, StatusState] = {}
    for since, kind, entity_id, status, first_on, hid, reason, note, actor, rule_id, rules_version, org_nr, \
            unit_id in session.connection().execute(stmt).all():
        units[entity_id] = StatusState(
            status=status, since=_as_date(since), reason=reason, note=note, actor=actor, rule_id=rule_id,
            rules_version=rules_version, history_id=hid, org_nr=org_nr, unit_id=unit_id,
            created_on=_as_date(first_on))
    agreements = agreement_states(session, as_of)
    if statuses is not None:
        wanted = set(statuses)
        agreements = {aid: st for aid, st in agreements.items()
                      if st.status in wanted or any(p.status in wanted for p in (st.participants or {}).values())}
    return units, agreements


def agreement_states(session: Session, as_of: date) -> dict[str, StatusState]:
    """Every agreement's status as of the date, with its suppliers' participations.

    An `agreement_status` entry with `changes.supplier` changes that supplier's participation
    (INK's order stop of one supplier, or one entry per supplier when the whole agreement
    changed); an entry without it (recorded before participations existed) changes the whole
    agreement and every participation. Agreements have few entries, so they are folded here in
    date order rather than in SQL."""
    from sqlalchemy import select

    from ..storage.models import History

    stmt = (
        select(History.id, History.effective_on, History.entity_id, History.org_nr, History.actor, History.reason,
               History.note, History.rule_id, History.rules_version, History.changes)
        .where(History.effective_on <= as_of, History.entity_kind == "agreement",
               History.action.in_(_AGREEMENT_ACTIONS))
        .order_by(History.effective_on, History.id)
    )
    return fold_agreement_entries(session.execute(stmt))


def fold_agreement_entries(entries: Iterable[tuple]) -> dict[str, StatusState]:
    """`agreement_states` from its entries (id, effective_on, agreement id, org_nr, actor,
    reason, note, rule_id, rules_version, changes), in (effective_on, id) order."""
    whole: dict[str, StatusState] = {}
    parts: dict[str, dict[str, StatusState]] = {}
    first: dict[str, date] = {}
    for hid, on, aid, org_nr, actor, reason, note, rule_id, rules_version, changes in entries:
        status = ((changes or {}).get("status") or [None, None])[1]
        if not status:
            continue
        first.setdefault(aid, on)

        def state(prev: StatusState | None, org: str | None) -> StatusState:
            if prev is not None and prev.status == status:
                return prev  # re-recording the same status does not move "since"
            return StatusState(status=status, since=on, reason=reason, note=note, actor=actor, rule_id=rule_id,
                               rules_version=rules_version, history_id=hid, org_nr=org, created_on=first[aid])

        supplier = (changes or {}).get("supplier")
        if supplier is None:
            whole[aid] = state(whole.get(aid), org_nr)
            for org, prev in list(parts.get(aid, {}).items()):
                parts[aid][org] = state(prev, org)
        else:
            mine = parts.setdefault(aid, {})
            mine[supplier] = state(mine.get(supplier) or whole.get(aid), supplier)
    out: dict[str, StatusState] = {}
    for aid in first:
        mine = parts.get(aid) or {}
        if not mine:
            out[aid] = whole[aid]
            continue
        # Suppliers without an entry of their own follow the whole agreement's entries (key None).
        members = list(mine.values()) + ([whole[aid]] if aid in whole else [])
        latest = max(members, key=lambda p: (p.since, p.history_id or 0))
        base = StatusState(**{**latest.__dict__, "org_nr": None, "participants": None})
        if len({p.status for p in members}) > 1:
            base.status = "mixed"
        base.participants = {**({None: whole[aid]} if aid in whole else {}), **mine}
        out[aid] = base
    return out


def _as_date(value: Any) -> date:
    # A window over a subquery loses the column type on SQLite: dates come back as ISO text.
    return date.fromisoformat(value) if isinstance(value, str) else value


def permit_states(session: Session, as_of: date) -> dict[tuple[str, str], PermitState]:
    """Every permit recorded up to the date, keyed by (unit_id, dnr), with its status then."""
    from sqlalchemy import select

    from ..storage.models import History

    stmt = (
        select(History.id, History.effective_on, History.entity_id, History.unit_id, History.actor, History.note,
               History.reason, _new_status().label("status"), History.changes["insats"].as_string().label("insats"))
        .where(History.effective_on <= as_of)
        .where(History.entity_kind == "permit")
        .where(History.action.in_(_PERMIT_ACTIONS))
        .order_by(History.effective_on, History.id)
    )
    return fold_permit_entries(session.connection().execute(stmt).all())


def fold_permit_entries(entries: Iterable[Any]) -> dict[tuple[str, str], PermitState]:
    """`permit_states` from its entries (with attributes effective_on, entity_id, unit_id,
    actor, note, reason, status, insats) in (effective_on, id) order."""
    permits: dict[tuple[str, str], PermitState] = {}
    for row in entries:
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

"""The whole life of a decision (biståndsbeslut) behind a placement request (issue 20 item 5).

The quarterly report to IVO counts 'beslut som inte verkställts inom tre månader från
beslutsdag' and 'beslut där verkställigheten avbrutits och inte återupptagits inom tre månader
från avbrottet' (Nordost 2022, sources/000 l. 2901-2908; Hisingen 2024, sources/001 l.
740-747). A decision may also be ended without execution, 'på begäran av den enskilde med
anledning av förbättrade personliga förhållanden' (001 l. 753-755), and then leaves the list.

- `record_decision_day`: the decision day as decided (beslutsdag); until one is recorded the
  request's submitted_on stands for it.
- `end_decision`: ended without execution, with its reason (vocabulary.DecisionEndReason).
- `interrupt` / `resume`: execution interrupted (the placement ended while the decision
  stands) and resumed.
Each is history on the request (actions `decision_recorded`, `decision_ended`,
`execution_interrupted`, `execution_resumed`); `followups.not_executed` reads the columns.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from ..display import today as sweden_today
from ..errors import InvariantViolation, ValidationError
from ..i18n import msg
from ..storage.history import record, require_actor
from ..storage.models import History
from ..text import nfc
from ..vocabulary import DecisionEndReason


def _request(session: Session, request_id: str):
    from ..matching.decisions import get_request

    return get_request(session, request_id, lock=True)


from .unexecuted import decision_day  # noqa: E402,F401  (one definition, without SQLAlchemy; importable here)


def record_decision_day(session: Session, request_id: str, *, decided_on: date, actor: str,
                        note: str | None = None) -> History:
    actor = require_actor(actor)
    row = _request(session, request_id)
    if row.decision_ended_on is not None:
        raise InvariantViolation(msg("decision.ended", id=row.request_id, on=row.decision_ended_on.isoformat()))
    old = row.decided_on
    row.decided_on = decided_on
    session.add(row)
    return record(session, actor=actor, entity_kind="request", entity_id=row.request_id,
                  action="decision_recorded", effective_on=decided_on,
                  changes={"decided_on": [old, decided_on]}, note=nfc(note) if note else None)


def end_decision(session: Session, request_id: str, *, on: date | None = None, reason: str, actor: str,
                 note: str | None = None) -> History:
    """The decision ends without being executed: it leaves the list of decisions not executed."""
    from .placements import ACTIVE
    from ..storage.models import Placement

    actor = require_actor(actor)
    codes = [r.value for r in DecisionEndReason]
    if reason not in codes:
        raise ValidationError(msg("decision.end_reason_unknown", reason=reason, known=", ".join(codes)))
    on = on or sweden_today()
    row = _request(session, request_id)
    if row.decision_ended_on is not None:
        raise InvariantViolation(msg("decision.already_ended", id=row.request_id, on=row.decision_ended_on.isoformat()))
    if on < decision_day(row):
        raise ValidationError(msg("decision.on_before_day", on=on.isoformat(), day=decision_day(row).isoformat()))
    placed = session.scalars(select(Placement).where(Placement.request_id == row.id, Placement.status == ACTIVE,
                                                     Placement.start_on <= on)).first()
    if placed is not None and placed.end_on is None:
        raise InvariantViolation(msg("decision.executed", id=row.request_id, unit=placed.unit_id,
                                     on=placed.start_on.isoformat()))
    row.decision_ended_on, row.decision_end_reason = on, reason
    session.add(row)
    return record(session, actor=actor, entity_kind="request", entity_id=row.request_id,
                  action="decision_ended", effective_on=on,
                  changes={"decision_ended_on": [None, on], "reason": reason}, reason=reason,
                  note=nfc(note) if note else None)


def interrupt(session: Session, request_id: str, *, on: date, actor: str, note: str | None = None) -> History:
    """Execution interrupted: the placement stopped while the decision still stands."""
    actor = require_actor(actor)
    row = _request(session, request_id)
    if row.decision_ended_on is not None:
        raise InvariantViolation(msg("decision.ended", id=row.request_id, on=row.decision_ended_on.isoformat()))
    if row.interrupted_on is not None and (row.resumed_on is None or row.resumed_on < row.interrupted_on):
        raise InvariantViolation(msg("decision.already_interrupted", id=row.request_id, on=row.interrupted_on.isoformat()))
    old = row.interrupted_on
    row.interrupted_on = on
    session.add(row)
    return record(session, actor=actor, entity_kind="request", entity_id=row.request_id,
                  action="execution_interrupted", effective_on=on, changes={"interrupted_on": [old, on]},
                  note=nfc(note) if note else None)


def resume(session: Session, request_id: str, *, on: date, actor: str, note: str | None = None) -> History:
    actor = require_actor(actor)
    row = _request(session, request_id)
    if row.interrupted_on is None or (row.resumed_on is not None and row.resumed_on >= row.interrupted_on):
        raise InvariantViolation(msg("decision.not_interrupted", id=row.request_id))
    if on < row.interrupted_on:
        raise ValidationError(msg("decision.on_before_interruption", on=on.isoformat(), day=row.interrupted_on.isoformat()))
    old = row.resumed_on
    row.resumed_on = on
    session.add(row)
    return record(session, actor=actor, entity_kind="request", entity_id=row.request_id,
                  action="execution_resumed", effective_on=on, changes={"resumed_on": [old, on]},
                  note=nfc(note) if note else None)

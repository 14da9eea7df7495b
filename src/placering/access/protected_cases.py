"""Who read a protected case (issue 20 item 11).

'Avseende hantering av behörighet till skyddade ärenden får den handläggare som tilldelas ett
sådant ärende behörighet under en begränsad tid' (Sydväst kvalitetsrapport, sources/003 l.
349-351); log reviews must be usable (l. 343-347: a raw list of 48 pages was not).

- Every reading of a request whose person has a protected identity is logged (reader, time,
  what was read) in `case_access_log`, in the same transaction as the reading.
- Access can be limited in time: `grant` gives a reader access from one day to another; once a
  request has a grant, only a reader with a grant valid on the day may read it.
- `reads` is the audit list (filter by request, reader, period).
The reader is the signed-in person on the server, else the local actor (--by, PLACERING_ACTOR),
else the operating-system user.
"""

from __future__ import annotations

import getpass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import Session

from ..clock import STOCKHOLM
from ..display import today as sweden_today
from ..errors import InvariantViolation, ValidationError
from ..i18n import msg
from ..storage.history import record, require_actor
from ..storage.models import CaseAccessGrant, CaseAccessLog, PlacementRequest, utcnow
from ..text import nfc


def reader_name(actor: str | None = None) -> str:
    from .acting import current_principal

    principal = current_principal()
    if principal is not None and principal.via != "cli-local":
        return principal.login  # the signed-in person (server)
    if actor:
        return nfc(actor).strip()
    if principal is not None and principal.login != "lokal":
        return principal.login
    if actor:
        return nfc(actor).strip()
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment
        return "okänd"


def is_protected(row: PlacementRequest) -> bool:
    return bool(((row.payload or {}).get("person") or {}).get("protected_identity"))


def check_and_log(session: Session, row: PlacementRequest, *, what: str, actor: str | None = None,
                  on: date | None = None) -> None:
    """Before a protected case is shown: refuse a reader without a valid grant (when the case
    has grants), and log the reading."""
    if not is_protected(row):
        return
    reader = reader_name(actor)
    on = on or sweden_today()
    grants = list(session.scalars(select(CaseAccessGrant).where(CaseAccessGrant.request_id == row.request_id)))
    if grants and not any(g.reader == reader and g.valid_from <= on <= g.valid_to for g in grants):
        mine = [g for g in grants if g.reader == reader]
        if mine:
            last = max(mine, key=lambda g: g.valid_to)
            raise InvariantViolation(msg("protected.grant_expired", id=row.request_id, reader=reader,
                                         start=last.valid_from.isoformat(), end=last.valid_to.isoformat()))
        raise InvariantViolation(msg("protected.no_grant", id=row.request_id, reader=reader))
    # A plain INSERT (no RETURNING): a reader may add to the log without reading it back.
    session.execute(insert(CaseAccessLog.__table__).values(request_id=row.request_id, reader=reader, what=what,
                                                           read_at=utcnow()))


def grant(session: Session, request_id: str, *, reader: str, valid_from: date, valid_to: date,
          actor: str) -> CaseAccessGrant:
    from ..matching.decisions import get_request

    actor = require_actor(actor)
    row = get_request(session, request_id)
    if not is_protected(row):
        raise InvariantViolation(msg("protected.not_protected", id=row.request_id))
    if valid_to < valid_from:
        raise ValidationError(msg("option.before", option="--until", day=valid_to.isoformat(),
                                  start=valid_from.isoformat()))
    reader = nfc(reader).strip()
    g = CaseAccessGrant(request_id=row.request_id, reader=reader, valid_from=valid_from, valid_to=valid_to,
                        granted_by=actor)
    session.add(g)
    record(session, actor=actor, entity_kind="request", entity_id=row.request_id, action="access_granted",
           effective_on=valid_from, changes={"reader": reader, "valid_from": valid_from, "valid_to": valid_to})
    session.flush()
    return g


def reads(session: Session, *, request_id: str | None = None, reader: str | None = None,
          since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """The audit list: who read which protected case, when."""
    stmt = select(CaseAccessLog).order_by(CaseAccessLog.read_at, CaseAccessLog.id)
    if request_id:
        stmt = stmt.where(CaseAccessLog.request_id == nfc(request_id))
    if reader:
        stmt = stmt.where(CaseAccessLog.reader == nfc(reader))
    # Swedish days (read_at is stored in UTC)
    if since:
        stmt = stmt.where(CaseAccessLog.read_at >= datetime.combine(since, time.min, tzinfo=STOCKHOLM))
    if until:
        stmt = stmt.where(CaseAccessLog.read_at <= datetime.combine(until, time.max, tzinfo=STOCKHOLM))
    return [{"request_id": r.request_id, "reader": r.reader, "read_at": r.read_at, "what": r.what}
            for r in session.scalars(stmt)]


def reads_view(engine, **filters: Any) -> list[dict[str, Any]]:
    """`audit protected-reads`: the audit list as JSON data."""
    from ..jsondata import to_jsonable
    from ..storage import open_session

    with open_session(engine) as session:
        return to_jsonable(reads(session, **filters))


def grant_view(engine, request_id: str, *, reader: str, valid_from: date, valid_to: date,
               actor: str | None) -> dict[str, Any]:
    """`placering request grant`: the grant as JSON data. On the server only a person who may
    grant access to the case's municipality's cases (request.grant) gives it."""
    from ..matching.views import _row
    from ..storage import transaction

    with transaction(engine) as session:
        _row(session, request_id, "request.grant")
        g = grant(session, request_id, reader=reader, valid_from=valid_from, valid_to=valid_to, actor=actor)
        return {"request_id": g.request_id, "reader": g.reader, "valid_from": g.valid_from.isoformat(),
                "valid_to": g.valid_to.isoformat(), "granted_by": g.granted_by}

"""Recording and reading the append-only history (who, when, why, which rule)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlmodel import Session

from ..text import nfc
from .entries import _jsonable, entry_values, require_actor  # noqa: F401  (a write on the driver records them too)
from .models import History, utcnow


def record(session: Session, **entry: Any) -> History:
    """Append one history entry in the caller's transaction.

    Every register change passes here: whatever text a change stores is in its `changes`, and no
    identity number is kept in history, whichever library function (or API, or web form) forgot to
    check its field (issue 21). A rule's own entries are built from register fields and skip it."""
    row = History(**entry_values(**entry))  # entry_values' keywords: actor, entity_kind, … rules_version
    session.add(row)
    return row


def _iso(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_text(changes: dict[str, Any]) -> str:
    """The JSON text the column stores for `changes` (what SQLAlchemy's JSON type writes for
    `_jsonable(changes)`: json.dumps; dates as ISO text), made in one pass of the C encoder:
    an import's tens of thousands of entries are encoded once, not checked and then encoded."""
    return _ENCODE(changes)


# json.dumps(changes, default=_iso) builds a new encoder on every call (any keyword does): one
# encoder with the same settings writes the same text.
_ENCODE = json.JSONEncoder(default=_iso).encode


def _history_insert(session: Session):
    """INSERT of history rows whose `changes` is given as JSON text (`changes_json`)."""
    from sqlalchemy import JSON, Text, bindparam, cast

    value = bindparam("changes_json", type_=Text)
    if session.get_bind().dialect.name == "postgresql":
        value = cast(value, JSON)
    return insert(History.__table__).values(changes=value)


def record_many(session: Session, entries: list[dict[str, Any]], *, actor: str) -> int:
    """Append many entries at once (bulk import), as record() would, in one executemany.

    Each entry holds record()'s keyword arguments except actor. Returns how many were written.
    The import's values were checked at the file's boundary (a register file's routes read to
    the identity-number check of free text like dates of birth), so they are not checked again.
    """
    actor = require_actor(actor)
    at = utcnow()
    notes: dict[str, str] = {}  # an import's entries share a few notes ("import FILE")
    rows = [
        {
            "at": at, "actor": actor, "entity_kind": e["entity_kind"], "entity_id": e["entity_id"],
            "action": e["action"], "effective_on": e["effective_on"],
            "changes_json": _json_text(e.get("changes") or {}), "org_nr": e.get("org_nr"),
            "unit_id": e.get("unit_id"), "reason": e.get("reason"),
            "note": (notes.get(e["note"]) or notes.setdefault(e["note"], nfc(e["note"]))) if e.get("note") else None,
            "rule_id": e.get("rule_id"), "rules_version": e.get("rules_version"),
        }
        for e in entries
    ]
    if rows:
        from .bulk import insert_many

        insert_many(session, _history_insert(session), rows)
    return len(rows)


def query(
    session: Session,
    *,
    unit_id: str | None = None,
    org_nr: str | None = None,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int | None = None,
) -> list[History]:
    """History entries matching every filter given, oldest first."""
    stmt = select(History)
    if unit_id:
        stmt = stmt.where(History.unit_id == unit_id)
    if org_nr:
        stmt = stmt.where(History.org_nr == org_nr)
    if entity_kind:
        stmt = stmt.where(History.entity_kind == entity_kind)
    if entity_id:
        stmt = stmt.where(History.entity_id == entity_id)
    if actor:
        stmt = stmt.where(History.actor == nfc(actor))
    if action:
        stmt = stmt.where(History.action == action)
    if since:
        stmt = stmt.where(History.effective_on >= since)
    if until:
        stmt = stmt.where(History.effective_on <= until)
    stmt = stmt.order_by(History.effective_on, History.id)
    if limit:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def current_revision(session: Session) -> int:
    """The register revision: the id of the newest history entry that may have changed the
    register (every register change is history). Only a stored decision (`request` /
    `matched`) is known to change nothing in it; anything else counts, also a choice or an end
    of a placement, which take and free places. 0 for an empty history. A snapshot of the
    register (matching/snapshots.py) is valid exactly as long as this stays the same."""
    from sqlalchemy import and_, not_

    if session.get_bind().dialect.name == "postgresql":
        # The same query through a view that row-level security does not narrow: a social
        # worker sees only its municipality's history, but the revision is everyone's.
        from ..access.roles import REVISION_VIEW

        return session.scalar(text(f"SELECT revision FROM {REVISION_VIEW}")) or 0
    # Newest first by primary key: stops at the first such entry (no scan of all history).
    stmt = (select(History.id).where(not_(and_(History.entity_kind == "request", History.action == "matched")))
            .order_by(History.id.desc()).limit(1))
    return session.scalar(stmt) or 0


def entries_since(session: Session, revision: int) -> list[History]:
    """Every history entry recorded after the given revision, oldest first."""
    return list(session.scalars(select(History).where(History.id > revision).order_by(History.id)))

"""One history entry's values, checked: what `storage.history.record` adds through the ORM and a
write on the database's own driver (storage/writes.py) inserts. No SQLAlchemy here (start-up)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ..boundary import field_text, personnummer_path
from ..errors import Problem, ValidationError
from ..i18n import msg
from ..text import nfc


def utcnow() -> datetime:
    from ..clock import now  # looked up on each call: the one clock (tests pin it)

    return now()


def require_actor(actor: str | None) -> str:
    """Every write names who made it (--by or PLACERING_ACTOR)."""
    found = _ACTORS.get(actor) if type(actor) is str else None
    if found is not None:  # checked already (a batch names its actor three times a request)
        return found
    checked = nfc(actor or "")
    if not checked:
        raise ValidationError(msg("storage.actor_needed"))
    checked = field_text(checked, "--by", kind="actor")
    if type(actor) is str and len(_ACTORS) < 64:
        _ACTORS[actor] = checked
    return checked


_ACTORS: dict[str, str] = {}  # actor as given -> as checked (the check is a function of the text)


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most values (a first import's history holds millions)
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else _jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: v if type(v) in _PLAIN else _jsonable(v) for k, v in value.items()}
    return value


def entry_values(
    *,
    actor: str,
    entity_kind: str,
    entity_id: str,
    action: str,
    effective_on: date,
    changes: dict[str, Any] | None = None,
    org_nr: str | None = None,
    unit_id: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    rule_id: str | None = None,
    rules_version: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one history entry, checked as `record` checks them: `record` adds
    them as one row, a batch (`matching.storing.write_chunk`) writes many in multi-row INSERTs."""
    changes = _jsonable(changes or {})
    if rule_id is None:
        found = personnummer_path(changes)
        if found is not None:
            raise ValidationError(Problem(msg("value.identity_number"), field=found.split(".")[0].split("[")[0]))
    return {
        "at": at or utcnow(),
        "actor": require_actor(actor),
        "entity_kind": entity_kind,
        "entity_id": entity_id,
        "action": action,
        "effective_on": effective_on,
        "changes": changes,
        "org_nr": org_nr,
        "unit_id": unit_id,
        "reason": reason,
        # A rule's note is its message, built from register fields (a permit's diary number such as
        # 8.1-10708/2024 reads to the identity-number check like a date of birth): checked for
        # length and characters, not as a person's free text.
        "note": field_text(note, "note", optional=True, free=rule_id is None) if note else None,
        "rule_id": rule_id,
        "rules_version": rules_version,
    }


def record(tx: Any, **entry: Any) -> int:
    """Append one history entry in the transaction `tx` (storage.writes.Tx), as
    `storage.history.record` does in a session; its id."""
    return tx.insert("history", entry_values(**entry))

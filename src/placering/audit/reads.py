"""Audit reads without SQLAlchemy (storage.reads): `audit log`.

The same document as `audit.views.log` (what the server returns), read through the database's
own driver for start-up, as `register history` is (register/reads.py). What ends in an error
(a period backwards, --limit 0, a malformed organisation number, an unknown --kind or
--action) returns None, and the CLI asks the ORM view (`orm_view`), which says what is wrong.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..jsondata import to_jsonable
from ..register.reads import _datetime
from ..storage.reads import Reader, as_date, as_json
from ..text import canonical_org_nr, nfc
from .log import KNOWN_ACTIONS, KNOWN_KINDS, LogReport, hide_location, what_changed


def _known(reader: Reader, value: str | None, column: str, known: tuple[str, ...]) -> bool:
    return value is None or value in known or reader.scalar(
        f"SELECT 1 FROM history WHERE {column} = :v LIMIT 1", {"v": value}) is not None


def log(reader: Reader, *, actor: str | None = None, unit: str | None = None, supplier: str | None = None,
        kind: str | None = None, action: str | None = None, since: date | None = None, until: date | None = None,
        summary: bool = False, limit: int | None = None, show_protected: bool = False) -> dict[str, Any] | None:
    """`audit log` (audit.log.audit_log through audit.views.log), read without SQLAlchemy; None
    when the ORM view must answer (see the module)."""
    if (since and until and since > until) or (limit is not None and limit < 1):
        return None
    org_nr = None
    if supplier is not None:
        try:
            org_nr = canonical_org_nr(supplier)
        except ValueError:
            return None
    if not _known(reader, kind, "entity_kind", KNOWN_KINDS) or not _known(reader, action, "action", KNOWN_ACTIONS):
        return None
    unit = nfc(unit) if unit else unit
    filters = {"actor": actor, "unit": unit, "supplier": org_nr, "kind": kind, "action": action,
               "since": since, "until": until}
    where: list[str] = []
    params: dict[str, Any] = {}
    if actor:
        where.append("actor = :actor")
        params["actor"] = nfc(actor)
    if unit:
        agreements = [r[0] for r in reader.rows(
            "SELECT DISTINCT r.agreement_id FROM unit_route r JOIN unit u ON u.id = r.unit_id "
            "WHERE u.unit_id = :unit AND r.agreement_id IS NOT NULL", {"unit": unit})] or [""]
        names = []
        for k, a in enumerate(agreements):
            params[f"a{k}"] = a
            names.append(f":a{k}")
        where.append("(unit_id = :unit OR (entity_kind = 'unit' AND entity_id = :unit) OR "
                     f"(entity_kind = 'agreement' AND entity_id IN ({', '.join(names)})))")
        params["unit"] = unit
    if org_nr:
        where.append("org_nr = :org")
        params["org"] = org_nr
    if kind:
        where.append("entity_kind = :kind")
        params["kind"] = kind
    if action:
        where.append("action = :action")
        params["action"] = action
    sqlite = reader.dialect == "sqlite"
    if since:
        where.append("effective_on >= :since")
        params["since"] = since.isoformat() if sqlite else since
    if until:
        where.append("effective_on <= :until")
        params["until"] = until.isoformat() if sqlite else until
    condition = (" WHERE " + " AND ".join(where)) if where else ""

    if summary:
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        total = 0
        for r in reader.rows("SELECT actor, entity_kind, action, effective_on, entity_id FROM history"
                             + condition + " ORDER BY effective_on, id", params):
            total += 1
            day = as_date(r.effective_on)
            g = groups.setdefault((r.actor, r.entity_kind, r.action), {
                "actor": r.actor, "kind": r.entity_kind, "action": r.action, "changes": 0,
                "first": day, "last": day, "entities": set()})
            g["changes"] += 1
            g["last"] = day
            g["entities"].add(r.entity_id)
        rows = []
        for key in sorted(groups):
            g = groups[key]
            g["entities"] = len(g["entities"])
            rows.append(g)
        return to_jsonable(LogReport([], rows, filters, total).to_dict())

    total = reader.scalar("SELECT COUNT(*) FROM history" + condition, params) or 0
    # --limit keeps the latest N (as the ORM path does), still listed oldest first.
    found = reader.rows(
        "SELECT id, at, effective_on, actor, entity_kind, entity_id, action, changes, reason, note, rule_id, "
        "unit_id, org_nr FROM history" + condition
        + (f" ORDER BY effective_on DESC, id DESC LIMIT {int(limit)}" if limit else " ORDER BY effective_on, id"), params)
    if limit:
        found.reverse()
    protected = set() if show_protected else {r[0] for r in reader.rows(
        "SELECT unit_id FROM unit WHERE protected_address = :yes", {"yes": True})}
    entries: list[dict[str, Any]] = []
    for r in found:
        changes = as_json(r.changes)
        changes = changes if show_protected else hide_location(changes, r.unit_id, protected)
        entries.append({
            "id": r.id, "effective_on": as_date(r.effective_on), "recorded_at": _datetime(r.at), "actor": r.actor,
            "kind": r.entity_kind, "entity_id": r.entity_id, "action": r.action,
            "what": what_changed(r.action, changes), "reason": r.reason, "rule_id": r.rule_id,
            "note": r.note, "unit_id": r.unit_id, "org_nr": r.org_nr, "changes": changes,
        })
    return to_jsonable(LogReport(entries, None, filters, total).to_dict())


log.orm_view = "audit.views:log"

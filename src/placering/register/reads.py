"""Register reads without SQLAlchemy (storage.reads): `register search` and `register history`.

The same documents as `register.views.search` and `.history` (what the server returns), read
through the database's own driver for start-up. A question this module does not answer exactly
(an ID not found as typed, a unit's name, an unknown --kind: whatever ends in a suggestion or an
error) returns None, and the CLI asks the ORM view (`orm_view`), which says what is wrong.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from ..jsondata import JsonList, to_jsonable
from ..storage.reads import Reader, Where, as_date, as_json
from ..text import canonical_org_nr, looks_like_org_nr, nfc


def search(reader: Reader, text: str, *, insats: str | None = None, route: str | None = None,
           status: str | None = None, municipality: str | None = None, limit: int = 20) -> list[dict]:
    """`register search TEXT` (register.views.search), read without SQLAlchemy."""
    from .search import search as search_register

    hits = search_register(reader, text, insats=insats, route=route, status=status, municipality=municipality,
                           limit=limit)
    return to_jsonable([h.as_dict() for h in hits])


search.orm_view = "register.views:search"


def hide_location(entry: dict, protected: set[str]) -> None:
    """A protected unit's coordinates stay out of printed history (--show-protected shows them)."""
    changes = entry.get("changes") or {}
    if "location" not in changes:
        return
    flagged = changes.get("protected_address")
    if entry.get("unit_id") in protected or (isinstance(flagged, list) and True in flagged):
        entry["changes"] = {**changes, "location": [None if v is None else "hidden (protected address)"
                                                    for v in changes["location"]]}


def _unit(reader: Reader, ident: str) -> Any:
    ident = nfc(ident)
    found = reader.rows("SELECT id, unit_id FROM unit WHERE unit_id = :i", {"i": ident})
    if not found and ident:
        found = reader.rows("SELECT id, unit_id FROM unit WHERE lower(unit_id) = :i ORDER BY id", {"i": ident.lower()})
    return found[0] if found else None


def _supplier(reader: Reader, org_nr: str) -> str | None:
    try:
        key = canonical_org_nr(org_nr)
    except ValueError:
        return None
    return reader.scalar("SELECT org_nr FROM supplier WHERE org_nr = :o", {"o": key})


def _about_unit(reader: Reader, unit: Any, params: dict, n: int) -> str:
    """The unit's entries and its agreements' (a subquery: no round trip of its own)."""
    params[f"u{n}"] = unit.unit_id
    params[f"pk{n}"] = unit.id
    return (f"(unit_id = :u{n} OR (entity_kind = 'unit' AND entity_id = :u{n}) OR (entity_kind = 'agreement' AND "
            f"entity_id IN (SELECT agreement_id FROM unit_route WHERE unit_id = :pk{n} AND agreement_id IS NOT NULL)))")


def _datetime(value: Any) -> datetime | None:
    """A recorded time: PostgreSQL gives it with its zone; SQLite holds UTC as text (and
    SQLAlchemy reads it back as UTC, which this matches)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def history(reader: Reader, ident: str | None = None, *, unit_id: str | None = None, org_nr: str | None = None,
            actor: str | None = None, kind: str | None = None, since: date | None = None, until: date | None = None,
            limit: int | None = None, show_protected: bool = False, tail: int | None = None) -> list[dict] | None:
    """`register history` (register.views.history), read without SQLAlchemy; None when the ORM
    view must answer (see the module). `tail`: `history_tail`'s page."""
    if limit is not None and limit < 1 or tail is not None and tail < 1:
        return None
    where: list[str] = []
    params: dict[str, Any] = {}
    if ident:
        ident = nfc(ident)
        if looks_like_org_nr(ident):
            org = _supplier(reader, ident)
            if org is None:
                return None
            where.append("org_nr = :ident_org")
            params["ident_org"] = org
        else:
            unit = _unit(reader, ident)
            if unit is not None:
                where.append(_about_unit(reader, unit, params, 0))
            else:
                agreement = reader.scalar("SELECT agreement_id FROM unit_route WHERE agreement_id = :i LIMIT 1",
                                          {"i": ident}) or reader.scalar(
                    "SELECT agreement_id FROM unit_route WHERE lower(agreement_id) = :i LIMIT 1", {"i": ident.lower()})
                if agreement is None:
                    return None
                where.append("entity_kind = 'agreement' AND entity_id = :agreement")
                params["agreement"] = agreement
    if unit_id:
        unit = _unit(reader, unit_id)
        if unit is None:
            return None
        where.append(_about_unit(reader, unit, params, 1))
    if org_nr:
        org = _supplier(reader, org_nr)
        if org is None:
            return None
        where.append("org_nr = :org")
        params["org"] = org
    if actor:
        where.append("actor = :actor")
        params["actor"] = nfc(actor)
    if kind:
        known = reader.scalar("SELECT 1 FROM history WHERE entity_kind = :k OR action = :k LIMIT 1", {"k": kind})
        if known is None:
            return None  # the ORM path names the kinds there are
        where.append("(entity_kind = :kind OR action = :kind)")
        params["kind"] = kind
    if since:
        where.append("effective_on >= :since")
        params["since"] = since.isoformat() if reader.dialect == "sqlite" else since
    if until:
        where.append("effective_on <= :until")
        params["until"] = until.isoformat() if reader.dialect == "sqlite" else until
    # `changes` as JSON text on PostgreSQL too (not parsed value by value on the way): one parse below.
    changes_column = "changes" if reader.dialect == "sqlite" else "changes::text AS changes"
    matching = " WHERE " + " AND ".join(where) if where else ""
    read = limit if tail is None else tail if limit is None else min(limit, tail)
    sql = (f"SELECT id, effective_on, at, actor, entity_kind, entity_id, action, org_nr, unit_id, {changes_column}, "
           "reason, note, rule_id, rules_version FROM history" + matching
           + " ORDER BY effective_on DESC, id DESC" + (f" LIMIT {int(read)}" if read else ""))
    # one round trip: the entries, how many match (a page's total), the protected units
    counted = [] if tail is None else [(f"SELECT count(*) FROM history{matching}", params)]
    found, *more = reader.many([(sql, params)] + counted + ([] if show_protected else [
        ("SELECT unit_id FROM unit WHERE protected_address = :yes", {"yes": True})]))
    total = None if tail is None else more.pop(0)[0][0]
    hidden = more
    # JSON data as built (to_jsonable's walk of 16,000 entries' changes was a third of the read):
    # the dates as ISO text, `changes` as the database's JSON gave it (text, numbers, lists).
    found.reverse()
    changes = _json_texts([h.changes for h in found])  # `changes` as JSON text: one parse of them all
    if reader.dialect == "sqlite":  # dates and times as text
        effective = [_iso_day(h.effective_on) for h in found]
        recorded = [_iso_utc(h.at) for h in found]
    else:
        effective = [_iso(as_date(h.effective_on)) for h in found]
        recorded = [_iso(_datetime(h.at)) for h in found]
    entries = [{"id": h.id, "effective_on": e, "recorded_at": r, "actor": h.actor, "kind": h.entity_kind,
                "entity_id": h.entity_id, "action": h.action, "org_nr": h.org_nr, "unit_id": h.unit_id, "changes": c,
                "reason": h.reason, "note": h.note, "rule_id": h.rule_id, "rules_version": h.rules_version}
               for h, e, r, c in zip(found, effective, recorded, changes)]
    if not show_protected:
        protected = {r[0] for r in hidden[0]}
        for e in entries:
            hide_location(e, protected)
    entries = JsonList(entries)  # JSON data already: print_json does not walk 16,000 entries again
    if tail is None:
        return entries
    return {"total": total if limit is None else min(total, limit), "entries": entries}


def history_tail(reader: Reader, ident: str | None = None, *, rows: int, **filters: Any) -> dict | None:
    """`register history` as a table shows it: {"total": how many entries `history` gives,
    "entries": the latest `rows` of them, oldest first}, counted in SQL and reading only the
    rows shown (the demo register's whole history is 16,000 entries); None when the ORM view
    must answer (register.views.history_tail)."""
    return history(reader, ident, tail=rows, **filters)


history_tail.orm_view = "register.views:history_tail"


def _iso(value: date | datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _json_texts(texts: list) -> list:
    """Each JSON text (or None) decoded, in one json.loads of them all (16,000 calls of it were
    a fifth of `register history`); as_json one by one when they do not make one array."""
    import json

    if all(type(t) is str or t is None for t in texts):
        try:
            found = json.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")
        except ValueError:
            found = None
        if found is not None and len(found) == len(texts):  # each text one value, as the database keeps it
            return found
    return [None if t is None else as_json(t) for t in texts]


def _iso_day(value: Any) -> str | None:
    """_iso(as_date(value)) of SQLite's date text 'YYYY-MM-DD', without making a date of it."""
    if type(value) is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return value
    return _iso(as_date(value))


def _iso_utc(value: Any) -> str | None:
    """_iso(_datetime(value)) of SQLite's UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (as SQLAlchemy
    stores a time), without making a datetime of it: datetime.isoformat's text."""
    if type(value) is str and len(value) == 26 and value[10] == " " and value[19] == "." and value[13] == ":":
        return value[:10] + "T" + value[11:19] + ("" if value[20:] == "000000" else value[19:]) + "+00:00"
    return _iso(_datetime(value))


history.orm_view = "register.views:history"


# --- show ------------------------------------------------------------------------------------

_UNIT = ("SELECT id, supplier_id, unit_id, name, municipality, lat, lon, protected_address, places, free_places, "
         "age_min, age_max, genders, target_groups, status, removal_reason, status_note FROM unit")


def _unit_view(reader: Reader, u: Any, show_protected: bool) -> dict:
    """register.views.unit_view of one unit row, read without SQLAlchemy: the same document."""
    from .canonical import check_dict, offer_dict, permit_dict, route_dict, unit_dict

    key = {"id": u.id}
    # One round trip on PostgreSQL (Reader.many): everything below depends only on the unit row.
    offers, routes, permits, suppliers, statuses, checks, complaints, visits, proposals = reader.many([
        ("SELECT insats, subcategories FROM offer WHERE unit_id = :id ORDER BY position, id", key),
        ("SELECT route, insats, agreement_id, daily_price, valid_from, valid_to, buyers, status, "
         "reserved_nonprofit, price_confirmed_on FROM unit_route WHERE unit_id = :id ORDER BY position, id", key),
        ("SELECT dnr, insats, status, target_groups, decided_on FROM permit WHERE unit_id = :id "
         "ORDER BY position, id", key),
        ("SELECT org_nr, name FROM supplier WHERE id = :s", {"s": u.supplier_id}),
        ("SELECT effective_on, actor, rule_id, changes FROM history WHERE entity_kind = 'unit' AND entity_id = :u "
         "AND action IN ('status', 'created') ORDER BY effective_on DESC, id DESC", {"u": u.unit_id}),
        ("SELECT kind, result, value, performed_on, source FROM supplier_check WHERE supplier_id = :s "
         "ORDER BY performed_on, id", {"s": u.supplier_id}),
        ("SELECT id, received_on, category, outcome, note, recorded_by FROM complaint "
         "WHERE unit_id = :id ORDER BY received_on, id", key),
        ("SELECT id, visited_on, note, recorded_by FROM visit WHERE unit_id = :id ORDER BY visited_on, id", key),
        ("SELECT id, kind, status, created_on, rule_id, message, decided_by, decision_note FROM proposal "
         "WHERE unit_id = :u OR (unit_id IS NULL AND org_nr = (SELECT org_nr FROM supplier WHERE id = :s)) "
         "ORDER BY id", {"u": u.unit_id, "s": u.supplier_id}),
    ])
    data = unit_dict(
        unit_id=u.unit_id, name=u.name, municipality=u.municipality, lat=u.lat, lon=u.lon,
        protected_address=bool(u.protected_address), places=u.places, free_places=u.free_places,
        age_min=u.age_min, age_max=u.age_max, genders=as_json(u.genders), target_groups=as_json(u.target_groups),
        offers=[offer_dict(o.insats, as_json(o.subcategories)) for o in offers],
        routes=[route_dict(r.route, r.insats, r.agreement_id, r.daily_price, as_date(r.valid_from),
                           as_date(r.valid_to), as_json(r.buyers), r.status, bool(r.reserved_nonprofit),
                           as_date(r.price_confirmed_on)) for r in routes],
        permits=[permit_dict(p.dnr, p.insats, p.status, as_json(p.target_groups), as_date(p.decided_on))
                 for p in permits],
        status=u.status, removal_reason=u.removal_reason, status_note=u.status_note)
    supplier = suppliers[0]
    if u.protected_address and not show_protected:
        data.pop("location", None)
        data["location_hidden"] = True
    since = next((h for h in statuses if "status" in (as_json(h.changes) or {})), None)
    data["org_nr"] = supplier.org_nr
    data["supplier_name"] = supplier.name
    data["status_since"] = as_date(since.effective_on).isoformat() if since else None
    data["status_changed_by"] = since.actor if since else None
    data["status_rule"] = since.rule_id if since else None
    data["checks"] = [check_dict(c.kind, c.result, c.value, as_date(c.performed_on), c.source) for c in checks]
    data["complaints"] = [
        {"id": c.id, "received_on": as_date(c.received_on).isoformat(), "category": c.category, "outcome": c.outcome,
         "note": c.note, "recorded_by": c.recorded_by} for c in complaints]
    data["visits"] = [
        {"id": v.id, "visited_on": as_date(v.visited_on).isoformat(), "note": v.note, "recorded_by": v.recorded_by}
        for v in visits]
    data["proposals"] = [
        {"id": p.id, "kind": p.kind, "status": p.status, "created_on": as_date(p.created_on), "rule_id": p.rule_id,
         "message": p.message, "decided_by": p.decided_by, "decision_note": p.decision_note} for p in proposals]
    return data


def show(reader: Reader, ident: str, *, show_protected: bool = False) -> dict | None:
    """`register show ID` (register.views.show: service.resolve_id) read without SQLAlchemy: a
    supplier by its organisation number with its units, a unit by its unit_id, an agreement by
    its agreement_id (ids ignoring case), or the one unit with that exact name. None for what
    it does not find (an org nr in a wrong form, an unknown id or name: the ORM view's error
    with its suggestions)."""
    ident = nfc(ident)
    if looks_like_org_nr(ident):
        return _supplier_view(reader, ident, show_protected)
    found = reader.rows(_UNIT + " WHERE unit_id = :i", {"i": ident})
    if not found and ident:
        found = reader.rows(_UNIT + " WHERE lower(unit_id) = :i ORDER BY id", {"i": ident.lower()})
    if found:
        return to_jsonable(_unit_view(reader, found[0], show_protected))
    agreement = reader.scalar("SELECT agreement_id FROM unit_route WHERE agreement_id = :i ORDER BY id LIMIT 1",
                              {"i": ident})
    if agreement is None:
        agreement = reader.scalar("SELECT agreement_id FROM unit_route WHERE lower(agreement_id) = :i "
                                  "ORDER BY id LIMIT 1", {"i": ident.lower()})
    if agreement is not None:
        return to_jsonable(_agreement_view(reader, agreement))
    if ident:
        from ..text import fold

        named = reader.rows(_UNIT + " WHERE name_key = :k ORDER BY id LIMIT 2", {"k": fold(ident)})
        if len(named) == 1:
            return to_jsonable(_unit_view(reader, named[0], show_protected))
    return None


def _supplier_view(reader: Reader, org_nr: str, show_protected: bool) -> dict | None:
    """register.views.show of a supplier: its checks and every unit as `register show UNIT`."""
    try:
        key = canonical_org_nr(org_nr)
    except ValueError:
        return None
    found = reader.rows("SELECT id, org_nr, name, legal_form FROM supplier WHERE org_nr = :o", {"o": key})
    if not found:
        return None
    supplier = found[0]
    units = [_unit_view(reader, u, show_protected)
             for u in reader.rows(_UNIT + " WHERE supplier_id = :s ORDER BY id", {"s": supplier.id})]
    if units:
        checks = units[0]["checks"]
    else:
        from .canonical import check_dict

        checks = [check_dict(c.kind, c.result, c.value, as_date(c.performed_on), c.source) for c in reader.rows(
            "SELECT kind, result, value, performed_on, source FROM supplier_check WHERE supplier_id = :s "
            "ORDER BY performed_on, id", {"s": supplier.id})]
    return to_jsonable({"org_nr": supplier.org_nr, "name": supplier.name, "legal_form": supplier.legal_form,
                        "checks": checks, "units": units})


def _agreement_view(reader: Reader, agreement_id: str) -> dict:
    """register.views.agreement_view read without SQLAlchemy: the agreement's first route, its
    latest history entry and its units with their suppliers."""
    from .canonical import num

    routes, last, units = reader.many([
        ("SELECT route, insats, agreement_id, valid_from, valid_to, buyers, status FROM unit_route "
         "WHERE agreement_id = :a ORDER BY id", {"a": agreement_id}),
        ("SELECT effective_on, actor FROM history WHERE entity_kind = 'agreement' AND entity_id = :a "
         "ORDER BY effective_on DESC, id DESC LIMIT 1", {"a": agreement_id}),
        ("SELECT u.unit_id, u.name, s.org_nr, r.daily_price, u.status FROM unit_route r "
         "JOIN unit u ON u.id = r.unit_id JOIN supplier s ON s.id = u.supplier_id "
         "WHERE r.agreement_id = :a ORDER BY r.id", {"a": agreement_id}),
    ])
    first = routes[0]
    last = last[0] if last else None
    return {"agreement_id": first.agreement_id, "route": first.route, "insats": first.insats,
            "valid_from": as_date(first.valid_from), "valid_to": as_date(first.valid_to),
            "buyers": as_json(first.buyers), "status": first.status,
            "status_since": as_date(last.effective_on) if last else None,
            "status_changed_by": last.actor if last else None,
            "units": [{"unit_id": u.unit_id, "name": u.name, "org_nr": u.org_nr, "daily_price": num(u.daily_price),
                       "unit_status": u.status} for u in units]}


show.orm_view = "register.views:show"


# --- proposals -------------------------------------------------------------------------------

PROPOSAL_STATUSES = ("open", "accepted", "dismissed")  # rules.register_status.PROPOSAL_STATUSES


def proposals(reader: Reader, *, status: str | None = None, kind: str | None = None, unit_id: str | None = None,
              org_nr: str | None = None, since: date | None = None, until: date | None = None) -> list[dict] | None:
    """`register proposals` (register.views.proposals: rules.register_status.list_proposals)
    read without SQLAlchemy: the proposals, oldest first, filtered the same way; None when the
    ORM view must answer (an unknown status, unit or organisation number: its error)."""
    if status is not None and status not in PROPOSAL_STATUSES:
        return None
    where = Where()
    where.equal("status", status)
    where.equal("kind", kind)
    if unit_id:
        unit = _unit(reader, unit_id)
        if unit is None:
            return None
        where.equal("unit_id", unit.unit_id)
    if org_nr:
        org = _supplier(reader, org_nr)
        if org is None:
            return None
        where.equal("org_nr", org)
    for name, day, op in (("since", since, ">="), ("until", until, "<=")):
        if day:
            where.add(f"created_on {op} :{name}", **{name: day.isoformat() if reader.dialect == "sqlite" else day})
    rows = reader.rows("SELECT id, kind, status, org_nr, unit_id, rule_id, rules_version, message, details, created_on, "
                       "decided_by, decided_at, decision_note FROM proposal" + where.sql + " ORDER BY id", where.params)
    return [{"id": p.id, "kind": p.kind, "status": p.status, "org_nr": p.org_nr, "unit_id": p.unit_id,
             "rule_id": p.rule_id, "rules_version": p.rules_version, "message": p.message,
             "details": to_jsonable(as_json(p.details)), "created_on": _iso(as_date(p.created_on)),
             "decided_by": p.decided_by, "decided_at": _iso(_utc(p.decided_at)), "decision_note": p.decision_note}
            for p in rows]


proposals.orm_view = "register.views:proposals"


def _utc(value: Any) -> datetime | None:
    """A recorded time in UTC, as the ORM reads it back (matching.reads.utc)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value.replace(tzinfo=timezone.utc) if value.utcoffset() is None else value.astimezone(timezone.utc)


# --- export ----------------------------------------------------------------------------------


def _revision(reader: Reader) -> int:
    """storage.history.current_revision read without SQLAlchemy: the newest history entry that
    may have changed the register (on PostgreSQL through the view row-level security does not
    narrow: the revision is everyone's)."""
    if reader.dialect == "postgresql":
        from ..access.roles import REVISION_VIEW

        return reader.scalar(f"SELECT revision FROM {REVISION_VIEW}") or 0
    return reader.scalar("SELECT id FROM history WHERE NOT (entity_kind = 'request' AND action = 'matched') "
                         "ORDER BY id DESC LIMIT 1") or 0


def export(reader: Reader, *, show_protected: bool = False) -> dict | None:
    """`register export` (register.views.export: service.export_document) read without
    SQLAlchemy: the same placering-register/1 document; None for a person signed in to the
    server (the ORM view answers)."""
    from collections import defaultdict

    from ..matching.reads import _signed_in
    from .canonical import FORMAT, check_dict, offer_dict, permit_dict, route_dict, unit_dict

    if _signed_in():
        return None
    # The revision first: a change made while the rows are read leaves it older than the rows, never
    # newer (an import of the file then meets a conflict rather than missing one).
    revision = _revision(reader)
    suppliers, units, offers, routes, permits, checks = reader.many([  # one round trip on PostgreSQL
        ("SELECT id, org_nr, name, legal_form FROM supplier ORDER BY id", None),
        ("SELECT id, supplier_id, unit_id, name, municipality, lat, lon, protected_address, places, free_places, "
         "age_min, age_max, genders, target_groups, status, removal_reason, status_note FROM unit ORDER BY id", None),
        ("SELECT unit_id, insats, subcategories FROM offer ORDER BY unit_id, position, id", None),
        ("SELECT unit_id, route, insats, agreement_id, daily_price, valid_from, valid_to, buyers, status, "
         "reserved_nonprofit, price_confirmed_on FROM unit_route ORDER BY unit_id, position, id", None),
        ("SELECT unit_id, dnr, insats, status, target_groups, decided_on FROM permit ORDER BY unit_id, position, id",
         None),
        ("SELECT supplier_id, kind, result, value, performed_on, source FROM supplier_check "
         "ORDER BY supplier_id, position, id", None)])
    offers_of: dict[int, list] = defaultdict(list)
    for o in offers:
        offers_of[o.unit_id].append(offer_dict(o.insats, as_json(o.subcategories)))
    routes_of: dict[int, list] = defaultdict(list)
    for r in routes:
        routes_of[r.unit_id].append(route_dict(r.route, r.insats, r.agreement_id, r.daily_price, as_date(r.valid_from),
                                               as_date(r.valid_to), as_json(r.buyers), r.status,
                                               bool(r.reserved_nonprofit), as_date(r.price_confirmed_on)))
    permits_of: dict[int, list] = defaultdict(list)
    for p in permits:
        permits_of[p.unit_id].append(permit_dict(p.dnr, p.insats, p.status, as_json(p.target_groups),
                                                 as_date(p.decided_on)))
    checks_of: dict[int, list] = defaultdict(list)
    for c in checks:
        checks_of[c.supplier_id].append(check_dict(c.kind, c.result, c.value, as_date(c.performed_on), c.source))
    units_of: dict[int, list] = defaultdict(list)
    for u in units:
        data = unit_dict(unit_id=u.unit_id, name=u.name, municipality=u.municipality, lat=u.lat, lon=u.lon,
                         protected_address=bool(u.protected_address), places=u.places, free_places=u.free_places,
                         age_min=u.age_min, age_max=u.age_max, genders=as_json(u.genders),
                         target_groups=as_json(u.target_groups), offers=offers_of.get(u.id, []),
                         routes=routes_of.get(u.id, []), permits=permits_of.get(u.id, []), status=u.status,
                         removal_reason=u.removal_reason, status_note=u.status_note)
        if u.protected_address and not show_protected:
            data.pop("location", None)
        units_of[u.supplier_id].append(data)
    return {"format": FORMAT, "revision": revision,
            "suppliers": [{"org_nr": s.org_nr, "name": s.name, "legal_form": s.legal_form,
                           "checks": checks_of.get(s.id, []), "units": units_of.get(s.id, [])} for s in suppliers]}


export.orm_view = "register.views:export"

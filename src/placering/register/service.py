"""The supplier register's writes and lookups, with the authority invariants.

Every function takes the caller's session (its transaction) and never commits: the CLI wraps
each command in `storage.transaction(engine)`, so a rejected change leaves the database as it
was. Every write records who made it and why in the append-only history
(docs/ARCHITECTURE.md, "History vocabulary").

Authority invariants (DOMAIN.md, "Statuses"), enforced here rather than in the CLI:
- `recommendation_stop` only for a unit used through direct procurement;
- `order_stop` and `terminated` only on framework agreements (ramavtal); `terminated` is final;
- `removed` needs a removal reason code and a note (the overall assessment, samlad bedömning)
  and is final, unless the unit is re-admitted: it goes back to `pending_entry` and through the
  entry check (register/entry.py);
- a `pending_entry` unit is published only by the entry check's approval (or a maintainer's
  `--apply-status` import, recorded as such).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlalchemy import delete, func, select
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..boundary import field_text, not_future, today
from ..errors import InvariantViolation, NotFound, PlaceringError, Problem, ValidationError
from ..i18n import Joined, Label, Number, label_list as labels, msg, reason
from ..jsondata import JsonList
from ..storage.database import chunks, lock_row, lock_rows
from ..storage.bulk import insert_many
from ..storage.history import current_revision, entries_since, record, record_many, require_actor
from ..storage.models import utcnow, Complaint, History, Offer, Permit, Supplier, SupplierCheck, Unit, UnitRoute, Visit
from ..text import canonical_org_nr, fold, looks_like_org_nr, nfc
from ..vocabulary import (
    AgreementStatus,
    CheckKind,
    CheckResult,
    ComplaintCategory,
    ComplaintHandler,
    ComplaintOutcome,
    PermitStatus,
    RemovalReason,
    Route,
    TargetGroup,
    UnitStatus,
)
from . import schema
from .whys import (WHY_AGREEMENT_DECIDED, WHY_CREATED, WHY_FREE_PLACES, WHY_NEW_UNIT_PENDING,  # noqa: F401
                   WHY_PERMIT_DECIDED, WHY_STATUS_DECIDED, import_why)
from .status import (  # noqa: F401  (the status changes and lookups: register.service.get_unit etc. as before)
    READMISSION_STATUSES,
    _code,
    _last_status_dates,
    _latest_permits,
    _today,
    agreement_routes,
    change_agreement_status,
    change_unit_status,
    change_unit_statuses,
    get_supplier,
    get_unit,
    status_since,
    suggestions,
    supplier_of,
    unit_by_id,
)
from .schema import FORMAT, ParsedDocument, check_code, num, parse_document

# --- export ---------------------------------------------------------------------------------


def _children(session: Session, unit_pks: Iterable[int] | None = None):
    """Offers, routes and permits by unit primary key, in document order."""
    return _child_rows(session, Offer, unit_pks), _child_rows(session, UnitRoute, unit_pks), \
        _child_rows(session, Permit, unit_pks)


def _child_rows(session: Session, model, unit_pks: Iterable[int] | None = None) -> dict[int, list]:
    """One kind of a unit's children (offers, routes, permits) by unit primary key, in document
    order: of every unit, or of the units `unit_pks` (read in chunks)."""
    grouped: dict[int, list] = defaultdict(list)
    stmt = select(model.__table__).order_by(model.unit_id, model.position, model.id)
    # Plain rows, not ORM objects: a national register has ~100,000 of them.
    for chunk in [None] if unit_pks is None else chunks(sorted(unit_pks)):
        for r in session.execute(stmt if chunk is None else stmt.where(model.unit_id.in_(chunk))):
            grouped[r.unit_id].append(r)
    return grouped


def _unit_canonical(unit: Unit, offers, routes, permits) -> dict:
    return schema.unit_dict(
        unit_id=unit.unit_id, name=unit.name, municipality=unit.municipality, lat=unit.lat,
        lon=unit.lon, protected_address=unit.protected_address, places=unit.places,
        free_places=unit.free_places, age_min=unit.age_min, age_max=unit.age_max,
        genders=unit.genders, target_groups=unit.target_groups,
        offers=[schema.offer_dict(o.insats, o.subcategories) for o in offers],
        routes=[schema.route_dict(r.route, r.insats, r.agreement_id, r.daily_price, r.valid_from,
                                  r.valid_to, r.buyers, r.status, r.reserved_nonprofit, r.price_confirmed_on)
                for r in routes],
        permits=[schema.permit_dict(p.dnr, p.insats, p.status, p.target_groups, p.decided_on)
                 for p in permits],
        status=unit.status, removal_reason=unit.removal_reason, status_note=unit.status_note,
    )


def _check_canonical(checks) -> list[dict]:
    return [schema.check_dict(c.kind, c.result, c.value, c.performed_on, c.source) for c in checks]


def _checks_by_supplier(session: Session) -> dict[int, list[SupplierCheck]]:
    grouped: dict[int, list] = defaultdict(list)
    for c in session.execute(select(SupplierCheck.__table__).order_by(
            SupplierCheck.supplier_id, SupplierCheck.position, SupplierCheck.id)):
        grouped[c.supplier_id].append(c)
    return grouped


def unit_document(session: Session, unit: Unit) -> dict:
    """One unit as in the interchange document (with its permits)."""
    offers, routes, permits = _children(session, [unit.id])
    return _unit_canonical(unit, offers.get(unit.id, []), routes.get(unit.id, []), permits.get(unit.id, []))


def supplier_checks(session: Session, supplier: Supplier) -> list[dict]:
    """A supplier's checks as in the interchange document, oldest first."""
    return _check_canonical(session.scalars(
        select(SupplierCheck).where(SupplierCheck.supplier_id == supplier.id)
        .order_by(SupplierCheck.performed_on, SupplierCheck.id)))


def export_document(session: Session) -> dict:
    """The whole register as a `placering-register/1` document (import of it changes nothing).

    `revision` is the register revision (the newest history id) the export was taken at: an
    import of the file refuses changes to records changed in the register since then.

    Suppliers are ordered by organisation number and units by the order they were created, so
    a document exported, imported into an empty register and exported again is identical.
    """
    offers, routes, permits = _children(session)
    checks = _checks_by_supplier(session)
    units_by_supplier: dict[int, list[Unit]] = defaultdict(list)
    for u in session.scalars(select(Unit).order_by(Unit.id)):
        units_by_supplier[u.supplier_id].append(u)
    suppliers = []
    for s in session.scalars(select(Supplier).order_by(Supplier.id)):
        suppliers.append({
            "org_nr": s.org_nr, "name": s.name, "legal_form": s.legal_form,
            "checks": _check_canonical(checks.get(s.id, [])),
            "units": [_unit_canonical(u, offers.get(u.id, []), routes.get(u.id, []), permits.get(u.id, []))
                      for u in units_by_supplier.get(s.id, [])],
        })
    return {"format": FORMAT, "revision": current_revision(session), "suppliers": suppliers}


# --- import ---------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did (or, with dry_run, would do)."""

    source: str
    dry_run: bool
    apply_status: bool = False
    revision: int | None = None  # the register revision the file was exported at, if it says
    suppliers_created: int = 0
    suppliers_updated: int = 0
    suppliers_unchanged: int = 0
    units_created: int = 0
    units_updated: int = 0
    units_unchanged: int = 0
    agreements_changed: int = 0
    history_entries: int = 0
    # JSON data when made (the file's values are canonical: ISO dates, lists, text keys), not
    # walked again by to_jsonable (one entry per history row: 86,649 at 20,000 units).
    changes: list[dict] = field(default_factory=JsonList)
    status_changes: list[dict] = field(default_factory=list)  # every status the import set or a rule changed
    kept: list[dict] = field(default_factory=list)  # decisions of the register the file would have undone
    published_without_entry_checks: list[dict] = field(default_factory=list)  # --apply-status only
    conflicts: list[dict] = field(default_factory=list)  # changed in the register after the file's revision
    rules: list[dict] = field(default_factory=list)  # what the register-status rules did

    def as_dict(self) -> dict:
        return {
            "source": self.source, "dry_run": self.dry_run, "apply_status": self.apply_status,
            "revision": self.revision,
            "suppliers": {"created": self.suppliers_created, "updated": self.suppliers_updated,
                          "unchanged": self.suppliers_unchanged},
            "units": {"created": self.units_created, "updated": self.units_updated,
                      "unchanged": self.units_unchanged},
            "agreements_changed": self.agreements_changed,
            "history_entries": self.history_entries,
            "status_changes": self.status_changes,
            "kept": self.kept,
            "published_without_entry_checks": self.published_without_entry_checks,
            "conflicts": self.conflicts,
            "rules": self.rules,
            "changes": self.changes,
        }


_STATUS_FIELDS = ("status", "removal_reason", "status_note")


def _diff(old: dict, new: dict, keys: Iterable[str]) -> dict:
    return {k: [_summary(k, old.get(k)), _summary(k, new.get(k))] for k in keys if old.get(k) != new.get(k)}


_VALUE_KINDS = {"status": "unit_status", "genders": "gender", "target_groups": "target_group",
                "legal_form": "legal_form", "removal_reason": "removal_reason"}


def _said_value(key: str, value: Any):
    """A field's value in a message, in words: codes by their labels, numbers the Swedish way,
    lists one after another, nothing as '–' (never a Python repr)."""
    value = _summary(key, value)
    kind = _VALUE_KINDS.get(key)
    if value is None or value == [] or value == "":
        return "–"
    if isinstance(value, list):
        return Joined(tuple(Label(v, kind) if kind else v for v in value))
    if isinstance(value, bool):
        return msg("value.yes") if value else msg("value.no")
    if isinstance(value, (int, float)):
        return Number(value)
    return Label(value, kind) if kind else f"'{value}'"


def _summary(key: str, value: Any) -> Any:
    """History keeps offers, routes, permits and checks as one line each, not whole records."""
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        return value
    if key == "offers":
        return [o["insats"] + (f": {','.join(o['subcategories'])}" if o["subcategories"] else "") for o in value]
    if key == "routes":
        return [" ".join(str(x) for x in (
            r["route"], r["insats"], r.get("agreement_id"), r.get("daily_price"),
            f"confirmed {r['price_confirmed_on']}" if r.get("price_confirmed_on") else None,
            f"{r.get('valid_from') or ''}..{r.get('valid_to') or ''}" if r.get("valid_from") or r.get("valid_to")
            else None, ",".join(r["buyers"]) or None, r["status"], "reserved_nonprofit" if r.get("reserved_nonprofit")
            else None) if x is not None) for r in value]
    if key == "permits":
        return [f"{p['dnr']} {p['insats']} {p['status']} {p['decided_on']}"
                + (f" {','.join(p['target_groups'])}" if p["target_groups"] else "") for p in value]
    if key == "checks":
        return [" ".join(str(x) for x in (c["kind"], c["result"], c.get("value"), c["performed_on"], c.get("source"))
                         if x is not None) for c in value]
    return value


def _unit_row_values(u: dict) -> dict:
    loc = u.get("location") or {}
    return {
        "unit_id": u["unit_id"], "name": u["name"], "name_key": fold(u["name"]),
        "municipality": u["municipality"], "municipality_key": fold(u["municipality"]),
        "lat": loc.get("lat"), "lon": loc.get("lon"), "protected_address": u["protected_address"],
        "places": u["places"], "free_places": u["free_places"], "age_min": u["age_min"],
        "age_max": u["age_max"], "genders": u["genders"], "target_groups": u["target_groups"],
        "status": u["status"], "removal_reason": u.get("removal_reason"),
        "status_note": u.get("status_note"),
    }


def _keys(session: Session, column, values: list[str]) -> dict[str, int]:
    """Primary keys of just-inserted rows by their natural key (org_nr, unit_id)."""
    out: dict[str, int] = {}
    for chunk in chunks(values):
        out.update({key: pk for pk, key in session.execute(
            select(column.table.c.id, column).where(column.in_(chunk)))})
    return out


def _same_items(a: list[dict], b: list[dict]) -> bool:
    key = lambda d: json.dumps(d, sort_keys=True, ensure_ascii=False)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _offer_rows(unit_pk: int, offers: list[dict]) -> list[dict]:
    return [dict(unit_id=unit_pk, insats=o["insats"], subcategories=o["subcategories"], position=i)
            for i, o in enumerate(offers)]


def _route_rows(unit_pk: int, routes: list[dict]) -> list[dict]:
    return [dict(unit_id=unit_pk, route=r["route"], insats=r["insats"], agreement_id=r.get("agreement_id"),
                      daily_price=r.get("daily_price"), valid_from=_d(r.get("valid_from")),
                      valid_to=_d(r.get("valid_to")), buyers=r["buyers"], status=r["status"],
                      reserved_nonprofit=r.get("reserved_nonprofit", False), position=i,
                      price_confirmed_on=_d(r.get("price_confirmed_on")))
            for i, r in enumerate(routes)]


def _permit_rows(unit_pk: int, permits: list[dict]) -> list[dict]:
    return [dict(unit_id=unit_pk, dnr=p["dnr"], insats=p["insats"], status=p["status"],
                   target_groups=p["target_groups"], decided_on=_d(p["decided_on"]), position=i)
            for i, p in enumerate(permits)]


def _check_rows(supplier_pk: int, checks: list[dict]) -> list[dict]:
    return [dict(supplier_id=supplier_pk, kind=c["kind"], result=c["result"], value=c.get("value"),
                          performed_on=_d(c["performed_on"]), source=c.get("source"), position=i)
            for i, c in enumerate(checks)]


LOST_PERMIT_STATUSES = (PermitStatus.REVOKED.value, PermitStatus.BANNED.value)  # IVO's decision: final


def _unit_fields_changed(h: History) -> set[str]:
    """Which fields of a unit a history entry changed (for the conflict check of an import)."""
    changes = h.changes or {}
    if h.entity_kind == "unit":
        if h.action == "created":
            return {"*"}
        if h.action == "status":
            return set(_STATUS_FIELDS)
        return set(changes)
    if h.entity_kind == "permit":
        return {"permits"}
    if h.entity_kind == "request" and "free_places" in changes:
        return {"free_places"}
    return set()


def _changed_since(session: Session, revision: int) -> dict[tuple, dict[str, History]]:
    """Records changed in the register after `revision`: (kind, id) → {field: latest entry}.
    Kinds: ("supplier", org_nr), ("unit", unit_id), ("agreement", agreement_id, org_nr or None)."""
    out: dict[tuple, dict[str, History]] = defaultdict(dict)
    for h in entries_since(session, revision):
        if h.entity_kind == "supplier":
            for f in (h.changes or {}) if h.action != "created" else ("*",):
                out[("supplier", h.entity_id)][f] = h
        elif h.entity_kind == "check" and h.org_nr:
            out[("supplier", h.org_nr)]["checks"] = h
        elif h.entity_kind == "agreement":
            out[("agreement", h.entity_id, (h.changes or {}).get("supplier"))]["status"] = h
        elif h.unit_id and h.entity_kind in ("unit", "permit", "request"):
            for f in _unit_fields_changed(h):
                out[("unit", h.unit_id)][f] = h
    return out


def _conflict(kind: str, ident: str, fld: str, h: History, register: Any, file: Any) -> dict:
    return {"kind": kind, "id": ident, "field": fld, "history_id": h.id, "changed_on": h.effective_on.isoformat(),
            "by": h.actor, "register": _summary(fld, register), "file": _summary(fld, file)}


def _latest_passed(checks: Iterable[dict]) -> set[str]:
    latest: dict[str, dict] = {}
    for c in sorted(checks, key=lambda c: c["performed_on"]):
        latest[c["kind"]] = c
    return {k for k, c in latest.items() if c["result"] == CheckResult.PASS}


def _written_documents(new_suppliers: list, unit_rows: list[dict], written: dict[int, tuple[list, list, list]],
                       check_rows: list[dict], supplier_pk: dict[str, int], unit_pk: dict[str, int],
                       agreement_plan: dict) -> dict[str, tuple[int, dict, list]]:
    """What `rules.facts.register_document` and the register-status rules' reader would read back
    of the suppliers this import created, built from the rows it just wrote: org_nr → (supplier
    id, its register document, its check rows in (performed_on, id) order). Only a supplier whose
    every unit is new is here (a unit moved to it, or a status the import changed afterwards,
    is read from the database as before); the values are the ones the database gives back
    (float columns as floats), in its orders: units by unit_id (the reader sorts them again),
    offers and routes by position, permits by decision date then id, checks by date then id."""
    from ..rules.register_status import WrittenCheck

    planned = {org for _, org in agreement_plan}  # (an agreement's participation changed after the rows)
    out: dict[str, tuple[int, dict, list]] = {}
    for s, _ in new_suppliers:
        org = s["org_nr"]
        if org not in planned and all(u["unit_id"] in unit_pk for u in s["units"]):
            out[org] = (supplier_pk[org], {"org_nr": org, "legal_form": s["legal_form"], "checks": [], "units": []},
                        [])
    if not out:
        return out

    def fl(v):
        return float(v) if v is not None else None

    by_supplier = {supplier_pk[org]: org for org in out}
    for c in sorted((c for c in check_rows if c["supplier_id"] in by_supplier), key=lambda c: c["performed_on"]):
        org = by_supplier[c["supplier_id"]]
        row = WrittenCheck(None, c["supplier_id"], c["kind"], c["result"], fl(c["value"]), c["performed_on"])
        out[org][2].append(row)
        out[org][1]["checks"].append({"kind": row.kind, "result": row.result, "value": row.value,
                                      "performed_on": row.performed_on})
    for u in sorted((u for u in unit_rows if u["supplier_id"] in by_supplier), key=lambda u: u["unit_id"]):
        offers, routes, permits = written[unit_pk[u["unit_id"]]]
        lat, lon = fl(u["lat"]), fl(u["lon"])
        out[by_supplier[u["supplier_id"]]][1]["units"].append({
            "unit_id": u["unit_id"], "municipality": u["municipality"],
            "location": {"lat": lat, "lon": lon} if lat is not None and lon is not None else None,
            "protected_address": u["protected_address"], "places": u["places"], "free_places": u["free_places"],
            "age_min": u["age_min"], "age_max": u["age_max"], "genders": u["genders"],
            "target_groups": u["target_groups"], "status": u["status"],
            "offers": [{"insats": o["insats"], "subcategories": o["subcategories"]} for o in offers],
            "routes": [{"route": r["route"], "insats": r["insats"], "agreement_id": r["agreement_id"],
                        "daily_price": fl(r["daily_price"]), "valid_from": r["valid_from"], "valid_to": r["valid_to"],
                        "buyers": r["buyers"], "status": r["status"], "reserved_nonprofit": r["reserved_nonprofit"],
                        "price_confirmed_on": r["price_confirmed_on"]} for r in routes],
            "permits": [{"dnr": p["dnr"], "insats": p["insats"], "status": p["status"],
                         "target_groups": p["target_groups"], "decided_on": p["decided_on"]}
                        for p in sorted(permits, key=lambda p: p["decided_on"])],
            "complaints": []})
    return out


def import_document(
    session: Session,
    doc: dict,
    *,
    actor: str,
    source: str = "<input>",
    dry_run: bool = False,
    effective_on: date | None = None,
    locate=None,
    keep_order: bool = False,
    move_units: bool = False,
    apply_status: bool = False,
    skip_conflicts: bool = False,
    ruleset: Any = None,
) -> ImportSummary:
    """Upsert a register document by org_nr / unit_id, all or nothing, through the same rules and
    authority as the single commands.

    Data (names, places, offers, routes, permits, checks) is written in bulk; a unit in the
    document replaces its offers, routes and permits (in document order); a supplier's `checks`
    replace its checks; a key left out (`permits`, `checks`) keeps what the register has.

    Free places are the register's: a unit's free places change only through placements, so an
    existing unit keeps its taken places (a new capacity moves its free places along) and a
    file's other number is reported as kept.

    Decisions of the register are kept: a unit's status (with its removal reason and note), a
    supplier's order stop or termination on an agreement, and a revoked or banned permit are
    not changed by the file unless `apply_status` (a maintainer's decision to take the file's
    statuses; every change then goes through `change_unit_status` / `change_agreement_status`,
    with their invariants, and is recorded naming the file). What was kept is reported. New
    units of suppliers other than the municipality itself enter as `pending_entry` (entry
    check, register/entry.py) unless `apply_status`; the report then lists every unit published
    without passed entry checks. After the data, the register-status rules run for every
    permit decision and every supplier's latest new check of a kind the file brings, exactly as
    for `register permit` / `register check` (a lost IVO permit always removes).

    A document carrying `revision` (an export) is refused when records it would change were
    changed in the register after that revision, with the list of conflicts; `skip_conflicts`
    keeps the register's value of each conflicting field and applies the rest.

    Every problem is collected before anything is written; re-importing the same document
    changes nothing and writes no history. `dry_run` does everything, reports it, and rolls the
    session back. `locate` maps a Problem to one naming the caller's own file and line (CSV
    import). `keep_order`: the input's order carries no meaning (CSV rows), so a unit whose
    offers or routes are only reordered keeps the register's order and is unchanged.
    `move_units`: a unit listed under another supplier than the register's moves to it; without
    it that is an error (a mistyped org_nr must not silently hand a unit to someone else).
    """
    from ..rules import load_ruleset
    from ..rules.register_status import apply_register_event
    from .entry import needs_entry_check, permit_bound_insatser, required_checks

    actor = require_actor(actor)
    on = _today(effective_on)
    parsed: ParsedDocument = parse_document(doc, source=source, locate=locate)
    revision = doc.get("revision")
    if revision is not None:
        newest = current_revision(session)
        if revision > newest:
            # An export names the register revision it was taken at; a later one was never exported.
            raise ValidationError(Problem(msg("import.revision_beyond", revision=revision, newest=newest),
                                          file=source, field="revision"))
    summary = ImportSummary(source=source, dry_run=dry_run, apply_status=apply_status, revision=revision)
    note = f"import {source}" + (" (--apply-status)" if apply_status else "")

    # Bulk-load the register once; everything below compares in memory.
    suppliers = {s.org_nr: s for s in session.scalars(select(Supplier))}
    supplier_by_pk = {s.id: s for s in suppliers.values()}
    # Locked (PostgreSQL) so a concurrent status change of a unit waits for the import, and the
    # import is not decided on a status someone changes meanwhile (SQLite's writer lock does both).
    # Every unit is locked; only the document's units are loaded whole (with their offers and
    # permits): the others' key and supplier say whose routes are the register's agreements, so a
    # small file (a round of new suppliers, one supplier's units) does not read the whole register.
    doc_unit_ids = {u["unit_id"] for _, _, _, u in parsed.units()}
    U = Unit.__table__.c
    unit_by_pk = {r.id: r for r in session.execute(
        select(U.id, U.unit_id, U.supplier_id).order_by(U.id).with_for_update())}
    named = [pk for pk, r in unit_by_pk.items() if r.unit_id in doc_unit_ids]
    whole = len(named) == len(unit_by_pk)
    units = {}
    for chunk in [None] if whole else chunks(named):
        stmt = select(Unit).order_by(Unit.id)
        units.update((u.unit_id, u) for u in lock_rows(session, stmt if chunk is None else stmt.where(Unit.id.in_(chunk))))
    routes = _child_rows(session, UnitRoute)
    offers = _child_rows(session, Offer, None if whole else named)
    permits = _child_rows(session, Permit, None if whole else named)
    checks = _checks_by_supplier(session)
    # An export leaves out protected units' coordinates unless --show-protected: importing it
    # back keeps the coordinates the register has rather than erasing them.
    for _, _, _, u in parsed.units():
        old = units.get(u["unit_id"])
        if (u.get("protected_address") and "location" not in u and old is not None
                and old.lat is not None and old.lon is not None):
            u["location"] = {"lat": num(old.lat), "lon": num(old.lon)}

    problems: list[Problem] = []

    def bad(said, record: str, fld: str | None = None) -> None:
        p = Problem(said, file=source, record=record, field=fld)
        problems.append(locate(p) if locate else p)

    # Agreements: the routes of one agreement_id in the register but outside this document must
    # agree with the document's terms. Each supplier's participation has its own status.
    outside_agreements: dict[str, tuple[str, dict]] = {}
    participation: dict[tuple[str, str], str] = {}  # (agreement_id, org_nr) → status in the register
    for unit_pk, rs in routes.items():
        owner = unit_by_pk[unit_pk]
        owner_org = supplier_by_pk[owner.supplier_id].org_nr
        for r in rs:
            if r.agreement_id is None:
                continue
            participation.setdefault((r.agreement_id, owner_org), r.status)
            if owner.unit_id not in doc_unit_ids:
                terms = schema.agreement_terms(schema.route_dict(
                    r.route, r.insats, r.agreement_id, r.daily_price, r.valid_from, r.valid_to, r.buyers,
                    r.status, r.reserved_nonprofit, r.price_confirmed_on))
                outside_agreements.setdefault(r.agreement_id, (owner.unit_id, terms))
    for si, ui, org_nr, u in parsed.units():
        for ri, r in enumerate(u["routes"]):
            aid = r.get("agreement_id")
            if aid is None or aid not in outside_agreements:
                continue
            other_unit, terms = outside_agreements[aid]
            diff = [k for k in schema.AGREEMENT_FIELDS if terms.get(k) != r.get(k)]
            if diff:
                bad(msg("import.agreement_differs_register", agreement=aid, unit=u['unit_id'], other=other_unit,
                        fields=labels(diff, "register_column")), f"suppliers[{si}].units[{ui}].routes[{ri}]", diff[0])

    if not move_units:
        for si, ui, org_nr, u in parsed.units():
            row_u = units.get(u["unit_id"])
            if row_u is not None and supplier_by_pk[row_u.supplier_id].org_nr != org_nr:
                bad(msg("import.unit_other_supplier", unit=u['unit_id'],
                        supplier=supplier_by_pk[row_u.supplier_id].org_nr, org=org_nr),
                    f"suppliers[{si}].units[{ui}]", "unit_id")
    if problems:
        raise ValidationError(problems)

    # Records changed in the register after the file's revision: their differing fields conflict.
    later = _changed_since(session, revision) if revision is not None else {}

    # --- plan -------------------------------------------------------------------------------
    new_suppliers: list[tuple[dict, None]] = []
    changed_suppliers: list[tuple[dict, Supplier]] = []
    new_units: list[tuple[dict, str]] = []
    changed_units: list[tuple[dict, Unit, str, dict]] = []  # doc unit, row, org_nr, old canonical
    history: list[dict] = []
    unit_status_plan: list[tuple[str, dict, str]] = []  # (unit_id, doc unit, record)
    agreement_plan: dict[tuple[str, str], tuple[str, str]] = {}  # (aid, org_nr) → (status, record)
    permit_events: list[dict] = []
    check_events: dict[tuple[str, str], dict] = {}  # (org_nr, kind) → the latest new check
    unit_records = {u["unit_id"]: f"suppliers[{si}].units[{ui}]" for si, ui, _, u in parsed.units()}
    doc_checks = {s["org_nr"]: s["checks"] for s in parsed.suppliers}
    ruleset = ruleset or load_ruleset()

    def log(**kw) -> None:
        kw.setdefault("note", note)
        history.append(kw)
        summary.changes.append({k: v for k, v in kw.items() if v is not None and k != "effective_on"})

    def conflicts(kind: str, ident: str, key: tuple, old: dict, new: dict, rec: str) -> None:
        """Fields of a record changed in the register after the file's revision, which the file
        would set otherwise: refused, or (skip_conflicts) the register's value is kept."""
        changed = later.get(key)
        if not changed:
            return
        for fld in [f for f in new if f in old and old[f] != new[f]]:
            h = changed.get(fld) or changed.get("*")
            if h is None:
                continue
            summary.conflicts.append(_conflict(kind, ident, fld, h, old[fld], new[fld]))
            if skip_conflicts:
                new[fld] = old[fld]
            else:
                bad(msg("import.conflict", kind=Label(kind, "entity_kind"), id=ident, field=Label(fld, "history_field"),
                        revision=revision, history=h.id, on=h.effective_on.isoformat(), by=h.actor,
                        register=_said_value(fld, old[fld]), file=_said_value(fld, new[fld])), rec, fld)

    for si, s in enumerate(parsed.suppliers):
        org_nr = s["org_nr"]
        row = suppliers.get(org_nr)
        new_fields = {"name": s["name"], "legal_form": s["legal_form"]}
        if s["checks"] is not None:
            new_fields["checks"] = s["checks"]
        if row is None:
            summary.suppliers_created += 1
            new_suppliers.append((s, None))
            log(entity_kind="supplier", entity_id=org_nr, action="created", org_nr=org_nr,
                changes={k: [None, _summary(k, v)] for k, v in new_fields.items()})
        else:
            old_fields = {"name": row.name, "legal_form": row.legal_form,
                          "checks": _check_canonical(checks.get(row.id, []))}
            conflicts("supplier", org_nr, ("supplier", org_nr), old_fields, new_fields, f"suppliers[{si}]")
            if "checks" in new_fields:
                s["checks"] = new_fields["checks"]
            s["name"], s["legal_form"] = new_fields["name"], new_fields["legal_form"]
            changes = _diff(old_fields, new_fields, new_fields)
            if changes:
                summary.suppliers_updated += 1
                changed_suppliers.append((s, row))
                log(entity_kind="supplier", entity_id=org_nr, action="updated", org_nr=org_nr, changes=changes)
            else:
                summary.suppliers_unchanged += 1
        if s["checks"] is not None:
            old_checks = [] if row is None else _check_canonical(checks.get(row.id, []))
            remaining = list(old_checks)
            for c in s["checks"]:
                if c in remaining:
                    remaining.remove(c)
                    continue
                log(entity_kind="check", entity_id=f"{org_nr}:{c['kind']}", action="check", org_nr=org_nr,
                    changes={"kind": c["kind"], "result": c["result"], "value": c.get("value"),
                             "performed_on": c["performed_on"]},
                    effective_on=_d(c["performed_on"]))
                latest = check_events.get((org_nr, c["kind"]))
                if latest is None or c["performed_on"] >= latest["performed_on"]:
                    check_events[(org_nr, c["kind"])] = c
        municipal = not needs_entry_check(s["legal_form"])

        for u in s["units"]:
            uid = u["unit_id"]
            rec = unit_records[uid]
            row_u = units.get(uid)
            if row_u is None:
                summary.units_created += 1
                u = dict(u)
                if not apply_status and not municipal and u["status"] != UnitStatus.PENDING_ENTRY:
                    summary.kept.append({"kind": "unit", "id": uid, "field": "status", "register": None,
                                         "file": u["status"], "why": WHY_NEW_UNIT_PENDING})
                    u.update(status=UnitStatus.PENDING_ENTRY.value, removal_reason=None, status_note=None)
                new_units.append((u, org_nr))
                summary.status_changes.append({"kind": "unit", "id": uid, "org_nr": org_nr, "from": None,
                                               "to": u["status"], "why": WHY_CREATED})
                if apply_status and not municipal and u["status"] in READMISSION_STATUSES:
                    sup_checks = doc_checks.get(org_nr)
                    if sup_checks is None:
                        sup_checks = _check_canonical(checks.get(row.id, [])) if row is not None else []
                    need = required_checks(ruleset, sorted({r["route"] for r in u["routes"]}), on,
                                           legal_form=s["legal_form"], permit_bound=bool(permit_bound_insatser(
                                               ruleset, [o["insats"] for o in u["offers"]], s["legal_form"], on)))
                    passed = _latest_passed(sup_checks) if need else ()
                    missing = [k for k in need if k not in passed]
                    if missing:
                        summary.published_without_entry_checks.append(
                            {"unit_id": uid, "org_nr": org_nr, "status": u["status"], "missing": missing})
                changes = {k: [None, _summary(k, v) if type(v) is list and v and type(v[0]) is dict else v]
                           for k, v in u.items() if k != "unit_id" and v is not None}
                log(entity_kind="unit", entity_id=uid, action="created", unit_id=uid, org_nr=org_nr,
                    changes=changes, reason=u.get("removal_reason"),
                    note=note + (f": {u['status_note']}" if u.get("status_note") else ""))
                old_permits: dict[str, str] = {}
                for r in u["routes"]:
                    if r.get("agreement_id") and (r["agreement_id"], org_nr) not in participation:
                        participation[(r["agreement_id"], org_nr)] = r["status"]
                        summary.agreements_changed += 1
                        summary.status_changes.append({"kind": "agreement", "id": r["agreement_id"], "org_nr": org_nr,
                                                       "from": None, "to": r["status"], "why": WHY_CREATED})
                        log(entity_kind="agreement", entity_id=r["agreement_id"], action="agreement_status",
                            org_nr=org_nr, changes={"status": [None, r["status"]], "supplier": org_nr,
                                                    "scope": "supplier"})
            else:
                old = _unit_canonical(row_u, offers.get(row_u.id, []), routes.get(row_u.id, []),
                                      permits.get(row_u.id, []))
                old_org = supplier_by_pk[row_u.supplier_id].org_nr
                new = dict(u)
                if new.get("permits") is None:
                    new["permits"] = old["permits"]  # not given: keep
                if keep_order:
                    for key in ("offers", "routes"):
                        if _same_items(old[key], new[key]):
                            new[key] = old[key]
                # Free places are never a file's (below: they follow the placements), so a file's
                # older number is no conflict either: only what the file may change is checked
                # (and after it the register's places, when --skip-conflicts keeps them).
                file_free, new["free_places"] = new["free_places"], old["free_places"]
                conflicts("unit", uid, ("unit", uid), old, new, rec)
                new["free_places"] = file_free
                # Agreement participations: the register's order stop or termination is kept
                # unless --apply-status (then it is changed below, with its invariants).
                new["routes"] = [dict(r) for r in new["routes"]]
                for r in new["routes"]:
                    aid = r.get("agreement_id")
                    if aid is None:
                        continue
                    key = (aid, org_nr)
                    for akey in (("agreement", aid, org_nr), ("agreement", aid, None)):
                        h = later.get(akey, {}).get("status")
                        if h is not None and key in participation and participation[key] != r["status"]:
                            summary.conflicts.append(_conflict("agreement", f"{aid} ({org_nr})", "status", h,
                                                               participation[key], r["status"]))
                            if not skip_conflicts:
                                bad(msg("import.agreement_conflict", agreement=aid, org=org_nr, revision=revision,
                                        history=h.id, on=h.effective_on.isoformat(), by=h.actor,
                                        register=Label(participation[key], "agreement_status"),
                                        file=Label(r["status"], "agreement_status")), rec, "routes")
                            r["status"] = participation[key]
                            break
                    if key not in participation:
                        participation[key] = r["status"]
                        summary.agreements_changed += 1
                        summary.status_changes.append({"kind": "agreement", "id": aid, "org_nr": org_nr,
                                                       "from": None, "to": r["status"], "why": WHY_CREATED})
                        log(entity_kind="agreement", entity_id=aid, action="agreement_status", org_nr=org_nr,
                            changes={"status": [None, r["status"]], "supplier": org_nr, "scope": "supplier"})
                    elif participation[key] != r["status"]:
                        if apply_status:
                            agreement_plan.setdefault(key, (r["status"], rec))
                        else:
                            summary.kept.append({"kind": "agreement", "id": aid, "org_nr": org_nr, "field": "status",
                                                 "register": participation[key], "file": r["status"],
                                                 "why": WHY_AGREEMENT_DECIDED})
                        r["status"] = participation[key]
                # A revoked or banned permit is IVO's decision: the file does not undo it.
                old_by_dnr = {p["dnr"]: p for p in old["permits"]}
                kept_permits = []
                for p in new["permits"]:
                    was = old_by_dnr.get(p["dnr"])
                    if was is not None and was["status"] in LOST_PERMIT_STATUSES and p["status"] != was["status"]:
                        summary.kept.append({"kind": "permit", "id": p["dnr"], "unit_id": uid, "field": "status",
                                             "register": was["status"], "file": p["status"],
                                             "why": WHY_PERMIT_DECIDED})
                        p = was
                    kept_permits.append(p)
                new["permits"] = kept_permits
                if old["status"] != new["status"]:
                    if apply_status:
                        unit_status_plan.append((uid, {k: new.get(k) for k in _STATUS_FIELDS}, rec))
                    else:
                        summary.kept.append({"kind": "unit", "id": uid, "field": "status", "register": old["status"],
                                             "file": new["status"], "why": WHY_STATUS_DECIDED})
                # The status fields are the register's here; a change goes through change_unit_status.
                for k in _STATUS_FIELDS:
                    new[k] = old.get(k)
                # Free places change only through placements (choose, end, a review's rejection): the
                # unit keeps the places taken in the register; a change of capacity moves its free
                # places along. A file's other number is reported as kept (issue 17).
                occupied = old["places"] - old["free_places"]
                free = new["places"] - occupied
                if free < 0:
                    bad(msg("import.places_below_taken", n=occupied, places=new['places']), rec, "places")
                elif new["free_places"] != free:
                    summary.kept.append({"kind": "unit", "id": uid, "field": "free_places", "register": free,
                                         "file": new["free_places"],
                                         "why": WHY_FREE_PLACES})
                    new["free_places"] = free
                keys = [k for k in dict.fromkeys([*new, *old]) if k not in _STATUS_FIELDS and k != "unit_id"]
                changes = _diff(old, new, keys)
                if old_org != org_nr:
                    changes["org_nr"] = [old_org, org_nr]
                if not changes:
                    if not any(x[0] == uid for x in unit_status_plan):
                        summary.units_unchanged += 1
                    else:
                        summary.units_updated += 1
                    continue
                summary.units_updated += 1
                changed_units.append((new, row_u, org_nr, old))
                log(entity_kind="unit", entity_id=uid, action="updated", unit_id=uid, org_nr=org_nr, changes=changes)
                old_permits = {p["dnr"]: p["status"] for p in old["permits"]}
                u = new
            for p in u.get("permits") or []:
                if old_permits.get(p["dnr"]) != p["status"]:
                    log(entity_kind="permit", entity_id=p["dnr"], action="permit", unit_id=uid, org_nr=org_nr,
                        changes={"status": [old_permits.get(p["dnr"]), p["status"]], "insats": p["insats"],
                                 "decided_on": p["decided_on"]},
                        effective_on=_d(p["decided_on"]))
                    permit_events.append({"kind": "permit", "unit_id": uid, "permit": dict(p)})
    if problems:
        raise ValidationError(problems)

    # --- apply ------------------------------------------------------------------------------
    # Bulk statements, not one ORM object per row: 20,000 units import in seconds.
    now = utcnow()
    supplier_pk: dict[str, int] = {org: row.id for org, row in suppliers.items()}
    if new_suppliers:
        insert_many(session, Supplier.__table__.insert(), [
            {"org_nr": s["org_nr"], "name": s["name"], "name_key": fold(s["name"]), "legal_form": s["legal_form"],
             "created_at": now} for s, _ in new_suppliers])
        supplier_pk.update(_keys(session, Supplier.__table__.c.org_nr, [s["org_nr"] for s, _ in new_suppliers]))
    for s, row in changed_suppliers:
        row.name, row.name_key, row.legal_form = s["name"], fold(s["name"]), s["legal_form"]

    unit_pk: dict[str, int] = {}
    new_unit_rows = [{"supplier_id": supplier_pk[org_nr], "created_at": now, **_unit_row_values(u)}
                     for u, org_nr in new_units]
    if new_units:
        insert_many(session, Unit.__table__.insert(), new_unit_rows)
        unit_pk.update(_keys(session, Unit.__table__.c.unit_id, [u["unit_id"] for u, _ in new_units]))
    for new, row_u, org_nr, _ in changed_units:
        for k, v in _unit_row_values(new).items():
            if getattr(row_u, k) != v:
                setattr(row_u, k, v)
        if row_u.supplier_id != supplier_pk[org_nr]:
            row_u.supplier_id = supplier_pk[org_nr]
    session.flush()

    # Children of changed units and checks of changed suppliers are replaced wholesale.
    replace = [(row_u.id, new, old["offers"] != new["offers"], old["routes"] != new["routes"],
                old["permits"] != new["permits"]) for new, row_u, _, old in changed_units]
    for model, idx in ((Offer, 2), (UnitRoute, 3), (Permit, 4)):
        for chunk in chunks([r[0] for r in replace if r[idx]]):
            session.execute(delete(model).where(model.unit_id.in_(chunk)))
    replaced_checks = [(s, supplier_pk[s["org_nr"]]) for s, _ in new_suppliers + changed_suppliers
                       if s["checks"] is not None]
    for chunk in chunks([pk for s, pk in replaced_checks if s["org_nr"] in suppliers]):
        session.execute(delete(SupplierCheck).where(SupplierCheck.supplier_id.in_(chunk)))

    offer_rows: list[dict] = []
    route_rows: list[dict] = []
    permit_rows: list[dict] = []
    written: dict[int, tuple[list, list, list]] = {}  # a new unit's pk → its rows (offers, routes, permits)
    for u, _ in new_units:
        pk = unit_pk[u["unit_id"]]
        written[pk] = rows = (_offer_rows(pk, u["offers"]), _route_rows(pk, u["routes"]),
                              _permit_rows(pk, u.get("permits") or []))
        offer_rows += rows[0]
        route_rows += rows[1]
        permit_rows += rows[2]
    for pk, new, offers_changed, routes_changed, permits_changed in replace:
        if offers_changed:
            offer_rows += _offer_rows(pk, new["offers"])
        if routes_changed:
            route_rows += _route_rows(pk, new["routes"])
        if permits_changed:
            permit_rows += _permit_rows(pk, new["permits"])
    check_rows = [c for s, pk in replaced_checks for c in _check_rows(pk, s["checks"])]
    for model, rows in ((Offer, offer_rows), (UnitRoute, route_rows), (Permit, permit_rows),
                        (SupplierCheck, check_rows)):
        insert_many(session, model.__table__.insert(), rows)

    for h in history:
        h["effective_on"] = h.get("effective_on") or on
    record_many(session, history, actor=actor)
    # The session may hold ORM objects of rows replaced above; later reads must see the new rows.
    session.expire_all()

    # --- decisions: the file's statuses (--apply-status), then the register-status rules -------
    def through(rec: str, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except PlaceringError as exc:
            bad(msg("import.apply_status_refused", refusal=reason(exc)), rec, "status")
            return None

    # The file's statuses in one many-unit call (the same invariants and history as one by one).
    made = change_unit_statuses(session, [dict(
        unit_id=uid, status=new["status"], reason=new.get("removal_reason") if new["status"] == UnitStatus.REMOVED
        else None, note=new.get("status_note"), source=note, effective_on=on, entry_approved=True)
        for uid, new, _ in unit_status_plan], actor=actor)
    for (uid, new, rec), entry in zip(unit_status_plan, made):
        if isinstance(entry, PlaceringError):
            bad(msg("import.apply_status_refused", refusal=reason(entry)), rec, "status")
            continue
        if entry is not None:
            old, to = entry["changes"]["status"]
            summary.status_changes.append({"kind": "unit", "id": uid, "org_nr": entry["org_nr"], "from": old,
                                           "to": to, "why": note})
            if to in READMISSION_STATUSES and old == UnitStatus.PENDING_ENTRY:
                unit = get_unit(session, uid)
                sup = supplier_of(session, unit)
                offered = list(session.scalars(select(Offer.insats).where(Offer.unit_id == unit.id)))
                need = required_checks(ruleset, sorted({r.route for r in session.scalars(
                    select(UnitRoute).where(UnitRoute.unit_id == unit.id))}), on, legal_form=sup.legal_form,
                    permit_bound=bool(permit_bound_insatser(ruleset, offered, sup.legal_form, on)))
                passed = _latest_passed(_check_canonical(session.scalars(
                    select(SupplierCheck).where(SupplierCheck.supplier_id == sup.id))))
                missing = [k for k in need if k not in passed]
                if missing:
                    summary.published_without_entry_checks.append(
                        {"unit_id": uid, "org_nr": sup.org_nr, "status": to, "missing": missing})
    for (aid, org_nr), (status, rec) in agreement_plan.items():
        entry = through(rec, change_agreement_status, session, aid, status, actor=actor, note=note,
                        effective_on=on, org_nr=org_nr)
        if entry is not None:
            summary.agreements_changed += 1
            summary.status_changes.append({"kind": "agreement", "id": aid, "org_nr": org_nr,
                                           "from": entry.changes["status"][0], "to": status, "why": note})
    if problems:
        raise ValidationError(problems)

    from ..rules.reference import ReferenceEvaluator
    from ..rules.register_status import EventReader

    events = permit_events + [{"kind": "check", "org_nr": org_nr, "check": c} for (org_nr, _), c in check_events.items()]
    evaluator = ReferenceEvaluator(ruleset) if events else None
    # The checks' suppliers are read once for all their events (thousands in a first load).
    # The suppliers this import created with every unit of theirs (all of a first load) are read
    # from the rows just written, not back from the database (_written_documents).
    reader = EventReader(session, {e["org_nr"] for e in events if e["kind"] == "check"},
                         {e["unit_id"] for e in events if e["kind"] == "permit"}, locked=True,
                         documents=_written_documents(new_suppliers, new_unit_rows, written, check_rows,
                                                      supplier_pk, unit_pk, agreement_plan)) if events else None
    applied = [item for event in events for item in apply_register_event(
        session, event, actor=actor, ruleset=ruleset, evaluator=evaluator, reader=reader)]
    if reader is not None:
        reader.write(session)  # the rules' status changes and proposals, in the order made
    for item in applied:
        d = item.as_dict()
        summary.rules.append(d)
        if item.action in ("unit_status", "agreement_status"):
            summary.status_changes.append({
                "kind": "unit" if item.action == "unit_status" else "agreement",
                "id": item.unit_id if item.action == "unit_status" else item.agreement_id,
                "org_nr": item.org_nr, "from": item.status_from, "to": item.status_to,
                "why": f"rule {item.rule}"})

    # Every history entry the import wrote, for --dry-run and --json: data, statuses, proposals.
    for c in summary.status_changes:
        if c["why"] != WHY_CREATED:
            summary.changes.append({"entity_kind": c["kind"], "entity_id": c["id"], "action": "status",
                                    "org_nr": c["org_nr"], "changes": {"status": [c["from"], c["to"]]},
                                    "note": c["why"]})
    for r in summary.rules:
        if r["action"] == "proposal":
            summary.changes.append({"entity_kind": "proposal", "entity_id": str(r["proposal_id"]),
                                    "action": "proposal_created", "org_nr": r["org_nr"],
                                    "changes": {"kind": r["status_to"]}, "rule_id": r["rule"]})
    summary.history_entries = len(summary.changes)
    if dry_run:
        session.rollback()
    return summary


# --- checks, permits, complaints ------------------------------------------------------------


def record_check(
    session: Session,
    org_nr: str,
    kind: str,
    result: str,
    *,
    performed_on: date,
    actor: str,
    value: float | None = None,
    source: str | None = None,
) -> SupplierCheck:
    """Record one check of a supplier (kontroll); checks accumulate, the latest of a kind is current."""
    actor = require_actor(actor)
    performed_on = _today(performed_on)
    kind = _code(kind, CheckKind, "check kind")
    result = _code(result, CheckResult, "check result")
    error = schema.check_value_error(kind, value)
    if error:
        raise ValidationError(error)  # a Message (schema.check_value_error)
    supplier = get_supplier(session, org_nr)
    position = session.scalar(select(func.coalesce(func.max(SupplierCheck.position), -1))
                              .where(SupplierCheck.supplier_id == supplier.id)) + 1
    check = SupplierCheck(supplier_id=supplier.id, kind=kind, result=result, value=value,
                          performed_on=performed_on, source=field_text(source, "--source", optional=True), position=position)
    session.add(check)
    record(session, actor=actor, entity_kind="check", entity_id=f"{supplier.org_nr}:{kind}", action="check",
           effective_on=performed_on, org_nr=supplier.org_nr,
           changes={"kind": kind, "result": result, "value": value, "performed_on": performed_on})
    session.flush()
    return check


def record_permit(
    session: Session,
    unit_id: str,
    *,
    dnr: str,
    status: str,
    decided_on: date,
    actor: str,
    insats: str | None = None,
    target_groups: list[str] | None = None,
) -> Permit:
    """Record an IVO permit decision: a new permit (needs insats) or a change of one, by (unit, dnr).
    One decision of `record_permits`, which makes it."""
    return record_permits(session, [dict(unit_id=unit_id, dnr=dnr, status=status, decided_on=decided_on,
                                          insats=insats, target_groups=target_groups)], actor=actor)[0]


def record_permits(session: Session, decisions: list[dict], *, actor: str) -> list[Permit]:
    """Record IVO permit decisions in order, each as `record_permit(session, **decision, actor=actor)`
    makes it alone (the same checks, rows and history entry, in the same order): the units, their
    suppliers and their permits are read in one query each, the history written in one statement.
    The first decision refused raises its error (the earlier ones are made in the session, as by
    consecutive calls: the caller's transaction decides)."""
    from sqlalchemy import insert

    actor = require_actor(actor)
    if not decisions:
        return []
    session.flush()
    units: dict[str, Unit] = {}
    orgs: dict[int, str] = {}
    for chunk in chunks(sorted({nfc(d["unit_id"]) for d in decisions})):
        for u, org in session.execute(select(Unit, Supplier.org_nr).join(Supplier, Supplier.id == Unit.supplier_id)
                                      .where(Unit.unit_id.in_(chunk))):
            units[u.unit_id], orgs[u.supplier_id] = u, org
    permits: dict[int, list[Permit]] = defaultdict(list)  # a unit's permits, by id
    for chunk in chunks(sorted(u.id for u in units.values())):
        for p in session.scalars(select(Permit).where(Permit.unit_id.in_(chunk)).order_by(Permit.id)):
            permits[p.unit_id].append(p)
    out: list[Permit] = []
    rows: list[dict] = []
    try:
        for d in decisions:
            _one_permit(session, d, units, orgs, permits, rows, out, actor)
    finally:  # the decisions made before a refused one keep their history
        session.flush()
        if rows:
            session.execute(insert(History.__table__), rows)
    return out


def _one_permit(session: Session, d: dict, units: dict, orgs: dict, permits: dict, rows: list, out: list,
                actor: str) -> None:
    """One decision of `record_permits`: its permit made or changed, its history entry's values in `rows`."""
    from ..storage.history import entry_values

    decided_on = _today(d["decided_on"])
    status = _code(d["status"], PermitStatus, "permit status")
    dnr = nfc(d.get("dnr") or "")
    if not dnr:
        raise ValidationError(msg("permit.dnr_missing"))
    insats = d.get("insats")
    if insats is not None:
        try:
            insats = schema.insats_code(insats)
        except ValueError as exc:
            raise ValidationError(reason(exc)) from None
    target_groups = d.get("target_groups")
    if target_groups is not None:
        groups: list[str] = []
        for g in target_groups:
            g = _code(g, TargetGroup, "target group")
            if g not in groups:
                groups.append(g)
        target_groups = groups
    unit = units.get(nfc(d["unit_id"]))
    if unit is None:  # as typed in another case, or NotFound
        unit = get_unit(session, d["unit_id"])
        if unit.id not in permits:
            permits[unit.id] = list(session.scalars(select(Permit).where(Permit.unit_id == unit.id)
                                                    .order_by(Permit.id)))
        orgs.setdefault(unit.supplier_id, supplier_of(session, unit).org_nr)
    known = permits[unit.id]
    permit = next((p for p in known if p.dnr == dnr), None)
    if permit is None:
        if insats is None:
            raise ValidationError(msg("permit.insats_missing", unit=unit.unit_id, dnr=dnr))
        position = max([p.position for p in known], default=-1) + 1
        permit = Permit(unit_id=unit.id, dnr=dnr, insats=insats, status=status,
                        target_groups=target_groups or [], decided_on=decided_on, position=position)
        session.add(permit)
        known.append(permit)
        old_status = None
    else:
        old_status = permit.status
        unchanged = (permit.status == status and permit.decided_on == decided_on
                     and (insats is None or insats == permit.insats)
                     and (target_groups is None or target_groups == permit.target_groups))
        if unchanged:
            raise InvariantViolation(msg("permit.unchanged", dnr=dnr, unit=unit.unit_id,
                                         status=Label(status, "permit_status"), on=decided_on.isoformat()))
        permit.status, permit.decided_on = status, decided_on
        if insats is not None:
            permit.insats = insats
        if target_groups is not None:
            permit.target_groups = target_groups
    changes: dict[str, Any] = {"status": [old_status, status], "insats": permit.insats,
                               "decided_on": decided_on}
    if target_groups is not None:
        changes["target_groups"] = target_groups
    rows.append(entry_values(actor=actor, entity_kind="permit", entity_id=dnr, action="permit",
                             effective_on=decided_on, org_nr=orgs[unit.supplier_id], unit_id=unit.unit_id,
                             changes=changes))
    out.append(permit)


def complaint_handler(session: Session, supplier: Supplier, on: date, ruleset: Any = None) -> str:
    """Who handles a complaint about the supplier: INK when it has a framework agreement
    (ramavtal) that is not terminated and valid on the date, otherwise Spink (Nordost 2022, 5.2;
    parameter complaint_framework_handler)."""
    from ..rules import load_ruleset

    ruleset = ruleset or load_ruleset()
    routes = session.scalars(select(UnitRoute).join(Unit, Unit.id == UnitRoute.unit_id).where(
        Unit.supplier_id == supplier.id, UnitRoute.route == Route.RAMAVTAL.value,
        UnitRoute.status != AgreementStatus.TERMINATED.value))
    framework = any((r.valid_from is None or r.valid_from <= on) and (r.valid_to is None or on <= r.valid_to)
                    for r in routes)
    return str(ruleset.param("complaint_framework_handler", on)) if framework else "spink"


def record_complaint(
    session: Session,
    unit_id: str,
    *,
    received_on: date,
    category: str,
    actor: str,
    outcome: str = "pending",
    note: str | None = None,
    received_by: str | None = None,
    ruleset: Any = None,
    categories: list[str] | None = None,
    complainant_ref: str | None = None,
    individual_level: bool = False,
) -> Complaint:
    """Record a complaint (synpunkt) on a unit: a case, routed to INK (framework suppliers) or
    Spink, in the queue of the organisation that received it (default Spink, whose case system
    takes most complaints). `categories`: further categories (a complaint can name several);
    `complainant_ref`: the complainant's reference to follow the case; `individual_level`: a
    matter about one person, handed to the responsible social worker (issue 20 item 8)."""
    actor = require_actor(actor)
    received_on = _today(received_on)
    category = _code(category, ComplaintCategory, "complaint category")
    outcome = _code(outcome, ComplaintOutcome, "complaint outcome")
    received_by = nfc(received_by or "Spink")
    if received_on > sweden_today():
        raise ValidationError(Problem(msg("complaint.future", day=received_on.isoformat()), field="--on"))
    unit = get_unit(session, unit_id)
    supplier = supplier_of(session, unit)
    handler = (ComplaintHandler.SOCIAL_WORKER.value if individual_level
               else complaint_handler(session, supplier, received_on, ruleset))
    all_categories = [category] + [c for c in (_code(c, ComplaintCategory, "complaint category")
                                               for c in (categories or [])) if c != category]
    ref = field_text(complainant_ref, "--complainant-ref", optional=True)
    complaint = Complaint(unit_id=unit.id, received_on=received_on, category=category, outcome=outcome,
                          note=field_text(note, "--note", optional=True), recorded_by=actor, org_nr=supplier.org_nr,
                          received_by=received_by, handler=handler, status="received",
                          categories=all_categories if len(all_categories) > 1 else None,
                          complainant_ref=ref, individual_level=True if individual_level else None)
    session.add(complaint)
    session.flush()
    record(session, actor=actor, entity_kind="complaint", entity_id=str(complaint.id), action="complaint",
           effective_on=received_on, org_nr=supplier.org_nr, unit_id=unit.unit_id, note=complaint.note,
           changes={"category": category, "outcome": outcome, "received_on": received_on,
                    "received_by": received_by, "handler": handler, "status": "received",
                    **({"categories": all_categories} if len(all_categories) > 1 else {}),
                    **({"complainant_ref": ref} if ref else {}),
                    **({"individual_level": True} if individual_level else {})})
    session.flush()
    return complaint


def record_visit(
    session: Session,
    unit_id: str,
    *,
    visited_on: date,
    actor: str,
    note: str | None = None,
) -> Visit:
    """Record a site visit (verksamhetsbesök) at a unit."""
    actor = require_actor(actor)
    unit = get_unit(session, unit_id)
    if unit.status == UnitStatus.REMOVED.value:
        raise InvariantViolation(msg("visit.unit_removed", unit=unit.unit_id))
    if visited_on > sweden_today():
        raise ValidationError(Problem(msg("visit.future", day=visited_on.isoformat()), field="--on"))
    supplier = supplier_of(session, unit)
    visit = Visit(unit_id=unit.id, visited_on=visited_on, note=field_text(note, "--note", optional=True),
                  recorded_by=actor)
    session.add(visit)
    session.flush()
    record(session, actor=actor, entity_kind="visit", entity_id=str(visit.id), action="visit",
           effective_on=visited_on, org_nr=supplier.org_nr, unit_id=unit.unit_id, note=visit.note,
           changes={"visited_on": visited_on})
    session.flush()
    return visit


def resolve_id(session: Session, ident: str, *, by_name: bool = True) -> tuple[str, Any]:
    """What an ID on the command line names: ('supplier', Supplier), ('unit', Unit) or
    ('agreement', agreement_id). Ids are matched ignoring case. With `by_name`, a unit's name
    given instead of an id finds the unit when exactly one unit has that name; otherwise the
    error suggests the closest names."""
    ident = nfc(ident)
    if looks_like_org_nr(ident):
        return "supplier", get_supplier(session, ident)
    unit = unit_by_id(session, ident)
    if unit is not None:
        return "unit", unit
    agreement = session.scalars(select(UnitRoute.agreement_id).where(UnitRoute.agreement_id == ident)).first() \
        or session.scalars(select(UnitRoute.agreement_id).where(
            func.lower(UnitRoute.agreement_id) == ident.lower())).first()
    if agreement is not None:
        return "agreement", agreement
    if by_name and ident:
        named = list(session.scalars(select(Unit).where(Unit.name_key == fold(ident)).limit(2)))
        if len(named) == 1:
            return "unit", named[0]
    from ..i18n import msg
    from .status import _hint

    found = suggestions(session, ident) if by_name else []
    raise NotFound(msg("ident.unknown", ident=ident, hint=_hint(found, search=False)))

"""The register's answers and changes as documents: what `placering register …` prints with
--json, and what the API's register routes return. The CLI and the server call these same
functions (the CLI locally or through the server), so both give one document for one question.

Each function takes an engine, opens its own session (or, for a change, one transaction) and
returns plain JSON data (dates as ISO text): the caller only formats it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from ..boundary import load_json
from ..errors import PlaceringError, Problem, ValidationError
from ..i18n import Label, label_list as labels, msg, said
from ..jsondata import to_jsonable
from ..storage import open_session, transaction
from ..storage.history import require_actor
from ..storage.models import Complaint, History, Proposal, Supplier, Unit, UnitRoute, Visit
from ..text import nfc
from . import service
from .schema import num
from .reads import hide_location  # noqa: F401  (one place: the reads use it too)

# Start-up: the CSV/workbook reader and the fuzzy search (rapidfuzz) are imported by the views
# that use them, not by every register command.

# --- show / search ---------------------------------------------------------------------------


def unit_view(session, unit: Unit, show_protected: bool, checks: list[dict] | None = None) -> dict:
    """One unit for `register show`; `checks` are its supplier's when the caller already has them."""
    data = service.unit_document(session, unit)
    supplier = service.supplier_of(session, unit)
    if unit.protected_address and not show_protected:
        data.pop("location", None)
        data["location_hidden"] = True
    since = service.status_since(session, unit.unit_id)
    data["org_nr"] = supplier.org_nr
    data["supplier_name"] = supplier.name
    data["status_since"] = since.effective_on.isoformat() if since else None
    data["status_changed_by"] = since.actor if since else None
    data["status_rule"] = since.rule_id if since else None
    data["checks"] = service.supplier_checks(session, supplier) if checks is None else checks
    data["complaints"] = [
        {"id": c.id, "received_on": c.received_on.isoformat(), "category": c.category, "outcome": c.outcome,
         "note": c.note, "recorded_by": c.recorded_by}
        for c in session.scalars(select(Complaint).where(Complaint.unit_id == unit.id)
                                 .order_by(Complaint.received_on, Complaint.id))
    ]
    data["visits"] = [
        {"id": v.id, "visited_on": v.visited_on.isoformat(), "note": v.note, "recorded_by": v.recorded_by}
        for v in session.scalars(select(Visit).where(Visit.unit_id == unit.id)
                                 .order_by(Visit.visited_on, Visit.id))
    ]
    data["proposals"] = [
        {"id": p.id, "kind": p.kind, "status": p.status, "created_on": p.created_on, "rule_id": p.rule_id,
         "message": p.message, "decided_by": p.decided_by, "decision_note": p.decision_note}
        for p in session.scalars(select(Proposal).where(
            or_(Proposal.unit_id == unit.unit_id,
                (Proposal.unit_id.is_(None)) & (Proposal.org_nr == supplier.org_nr))).order_by(Proposal.id))
    ]
    return data


def agreement_view(session, agreement_id: str) -> dict:
    routes = service.agreement_routes(session, agreement_id)
    first = routes[0]
    last = session.scalars(select(History).where(History.entity_kind == "agreement",
                                                 History.entity_id == first.agreement_id)
                           .order_by(History.effective_on.desc(), History.id.desc()).limit(1)).first()
    # The agreement's units with their suppliers in one query, not two lookups per route.
    unit_of = {u.id: (u, org_nr) for u, org_nr in session.execute(
        select(Unit, Supplier.org_nr).join(Supplier, Supplier.id == Unit.supplier_id)
        .join(UnitRoute, UnitRoute.unit_id == Unit.id).where(UnitRoute.agreement_id == first.agreement_id))}
    units = []
    for r in routes:
        unit, org_nr = unit_of[r.unit_id]
        units.append({"unit_id": unit.unit_id, "name": unit.name, "org_nr": org_nr,
                      "daily_price": num(r.daily_price), "unit_status": unit.status})
    return {"agreement_id": first.agreement_id, "route": first.route, "insats": first.insats,
            "valid_from": first.valid_from, "valid_to": first.valid_to, "buyers": first.buyers,
            "status": first.status, "status_since": last.effective_on if last else None,
            "status_changed_by": last.actor if last else None, "units": units}


def show(engine, ident: str, *, show_protected: bool = False) -> dict:
    """`register show ID`: a supplier (org nr) with its units, a unit, or an agreement.
    Which one it is shows in the document: an agreement has `agreement_id` and `buyers`, a
    unit `unit_id`, a supplier `legal_form` and `units`."""
    with open_session(engine) as session:
        kind, obj = service.resolve_id(session, ident)
        if kind == "agreement":
            return to_jsonable(agreement_view(session, obj))
        if kind == "unit":
            return to_jsonable(unit_view(session, obj, show_protected))
        supplier: Supplier = obj
        checks = service.supplier_checks(session, supplier)  # once, not again for every unit
        units = [unit_view(session, u, show_protected, checks)
                 for u in session.scalars(select(Unit).where(Unit.supplier_id == supplier.id).order_by(Unit.id))]
        return to_jsonable({"org_nr": supplier.org_nr, "name": supplier.name, "legal_form": supplier.legal_form,
                            "checks": checks, "units": units})


def show_unit(engine, unit_id: str, *, show_protected: bool = False) -> dict:
    """One unit by its id (`register show UNIT_ID`; GET /api/v1/units/{unit_id})."""
    with open_session(engine) as session:
        return to_jsonable(unit_view(session, service.get_unit(session, unit_id), show_protected))


def search(engine, text: str, *, insats: str | None = None, route: str | None = None, status: str | None = None,
           municipality: str | None = None, limit: int = 20) -> list[dict]:
    """`register search TEXT`: the best matches, exact ids first."""
    with open_session(engine) as session:
        from .search import search as search_register

        hits = search_register(session, text, insats=insats, route=route, status=status,
                               municipality=municipality, limit=limit)
    return to_jsonable([h.as_dict() for h in hits])


# --- history ---------------------------------------------------------------------------------


def entry_dict(h: History) -> dict:
    # The same field names as `audit log --json` (recorded_at, kind): one spelling per field.
    return {"id": h.id, "effective_on": h.effective_on, "recorded_at": h.at, "actor": h.actor,
            "kind": h.entity_kind, "entity_id": h.entity_id, "action": h.action, "org_nr": h.org_nr,
            "unit_id": h.unit_id, "changes": h.changes, "reason": h.reason, "note": h.note,
            "rule_id": h.rule_id, "rules_version": h.rules_version}


def _about_unit(session, unit: Unit):
    """Entries about a unit: its own, and those of the agreements its routes are on."""
    agreements = list(session.scalars(select(UnitRoute.agreement_id).distinct().where(
        UnitRoute.unit_id == unit.id, UnitRoute.agreement_id.is_not(None))))
    return or_(History.unit_id == unit.unit_id,
               (History.entity_kind == "unit") & (History.entity_id == unit.unit_id),
               (History.entity_kind == "agreement") & History.entity_id.in_(agreements))


def history(engine, ident: str | None = None, *, unit_id: str | None = None, org_nr: str | None = None,
            actor: str | None = None, kind: str | None = None, since=None, until=None, limit: int | None = None,
            show_protected: bool = False) -> list[dict]:
    """`register history`: the entries, oldest first by effective date (`limit`: the latest N)."""
    if limit is not None and limit < 1:
        raise ValidationError(msg("option.limit_at_least_1"))
    with open_session(engine) as session:
        stmt = select(History)
        if ident:
            what, obj = service.resolve_id(session, ident)
            if what == "supplier":
                stmt = stmt.where(History.org_nr == obj.org_nr)
            elif what == "unit":
                stmt = stmt.where(_about_unit(session, obj))
            else:
                stmt = stmt.where(History.entity_kind == "agreement", History.entity_id == obj)
        if unit_id:
            stmt = stmt.where(_about_unit(session, service.get_unit(session, unit_id)))
        if org_nr:
            stmt = stmt.where(History.org_nr == service.get_supplier(session, org_nr).org_nr)
        if actor:
            stmt = stmt.where(History.actor == nfc(actor))
        if kind:
            known = set(session.scalars(select(History.entity_kind).distinct())) | set(
                session.scalars(select(History.action).distinct()))
            if kind not in known:
                raise ValidationError(msg("history.no_kind", kind=kind, present=", ".join(sorted(known)) or "–"))
            stmt = stmt.where(or_(History.entity_kind == kind, History.action == kind))
        if since:
            stmt = stmt.where(History.effective_on >= since)
        if until:
            stmt = stmt.where(History.effective_on <= until)
        stmt = stmt.order_by(History.effective_on.desc(), History.id.desc())
        if limit:
            stmt = stmt.limit(limit)
        entries = list(session.scalars(stmt))[::-1]
        protected = set() if show_protected else set(session.scalars(
            select(Unit.unit_id).where(Unit.protected_address.is_(True))))
        entries = [entry_dict(h) for h in entries]
    if not show_protected:
        for e in entries:
            hide_location(e, protected)
    return to_jsonable(entries)


def history_tail(engine, ident: str | None = None, *, rows: int, **filters) -> dict:
    """`register history` as a table shows it (register.reads.history_tail): how many entries
    `history` gives and the latest `rows` of them."""
    entries = history(engine, ident, **filters)
    return {"total": len(entries), "entries": entries[-rows:]}


# --- changes ---------------------------------------------------------------------------------


def _last_entry(session, entity_kind: str, entity_id: str) -> History:
    """The history entry the command just wrote (in its own transaction)."""
    return session.scalars(select(History).where(History.entity_kind == entity_kind,
                                                 History.entity_id == entity_id)
                           .order_by(History.id.desc()).limit(1)).one()


def _apply_rules(session, event: dict, actor, ruleset=None) -> list:
    """Run the register_status rules (of `ruleset`, else the current rules) for the event just
    recorded, in the same transaction."""
    from ..rules.register_status import apply_register_event

    return apply_register_event(session, event, actor=actor, ruleset=ruleset)


def change_status(engine, unit_id: str, status: str, *, actor: str | None, reason: str | None = None,
                  note: str | None = None, effective_on=None) -> dict:
    """`register status`: the history entry of the change."""
    with transaction(engine) as session:
        entry = service.change_unit_status(session, unit_id, status, actor=actor, reason=reason, note=note,
                                           effective_on=effective_on)
        return to_jsonable(entry_dict(entry))


def change_agreement(engine, agreement_id: str, status: str, *, actor: str | None, note: str | None = None,
                     supplier: str | None = None, effective_on=None) -> dict:
    """`register agreement`: the history entry of the change."""
    with transaction(engine) as session:
        entry = service.change_agreement_status(session, agreement_id, status, actor=actor, note=note,
                                                effective_on=effective_on, org_nr=supplier)
        return to_jsonable(entry_dict(entry))


def record_check(engine, org_nr: str, kind: str, result: str, *, performed_on, actor: str | None, value=None,
                 source: str | None = None, ruleset=None) -> dict:
    """`register check`: the history entry, and what the register-status rules did (`rules`)."""
    with transaction(engine) as session:
        row = service.record_check(session, org_nr, kind, result, performed_on=performed_on, actor=actor,
                                   value=value, source=source)
        supplier = session.get(Supplier, row.supplier_id)
        entry = _last_entry(session, "check", f"{supplier.org_nr}:{row.kind}")
        applied = _apply_rules(session, {"kind": "check", "org_nr": supplier.org_nr, "check_id": row.id, "check": {
            "kind": row.kind, "result": row.result, "value": row.value, "performed_on": row.performed_on}}, actor,
            ruleset)
        return to_jsonable({**entry_dict(entry), "rules": [a.as_dict() for a in applied]})


def record_permit(engine, unit_id: str, *, dnr: str, status: str, decided_on, actor: str | None,
                  insats: str | None = None, target_groups: list[str] | None = None, ruleset=None) -> dict:
    """`register permit`: the history entry, and what the register-status rules did (`rules`)."""
    with transaction(engine) as session:
        row = service.record_permit(session, unit_id, dnr=dnr, status=status, decided_on=decided_on,
                                    actor=actor, insats=insats, target_groups=target_groups or None)
        entry = _last_entry(session, "permit", row.dnr)
        applied = _apply_rules(session, {"kind": "permit", "unit_id": entry.unit_id, "permit": {
            "dnr": row.dnr, "status": row.status, "insats": row.insats, "target_groups": row.target_groups,
            "decided_on": row.decided_on}}, actor, ruleset)
        return to_jsonable({**entry_dict(entry), "rules": [a.as_dict() for a in applied]})


def record_complaint(engine, unit_id: str, *, category: str, received_on, actor: str | None,
                     outcome: str = "pending", note: str | None = None, received_by: str = "Spink",
                     rules_dir: Path | None = None) -> dict:
    """`register complaint`: the history entry, and what the register-status rules did (`rules`)."""
    from ..casework.complaints import receive

    with transaction(engine) as session:
        row, applied = receive(session, unit_id, received_on=received_on, category=category, actor=actor,
                               outcome=outcome, note=note, received_by=received_by, rules_dir=rules_dir)
        entry = _last_entry(session, "complaint", str(row.id))
        return to_jsonable({**entry_dict(entry), "rules": [a.as_dict() for a in applied]})


def record_visit(engine, unit_id: str, *, visited_on, actor: str | None, note: str | None = None) -> dict:
    """`register visit`: the history entry."""
    with transaction(engine) as session:
        row = service.record_visit(session, unit_id, visited_on=visited_on, actor=actor, note=note)
        return to_jsonable(entry_dict(_last_entry(session, "visit", str(row.id))))


# --- import ------------------------------------------------------------------------------------


def read_register_file(data: bytes, name: str) -> tuple[dict, list[str], Any]:
    """(document, notes for the person, locate) from a file's bytes: JSON, CSV or an Excel
    workbook (.xlsx), by the name's extension or by the content."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    from . import csvio

    lower = name.lower()
    if lower.endswith(".xlsx") or (not lower.endswith((".csv", ".json")) and data.startswith(b"PK\x03\x04")):
        csv_doc, notes = csvio.read_xlsx(data, name)
        return csv_doc.doc, notes, csv_doc
    is_json = lower.endswith(".json") or (not lower.endswith(".csv") and head in (b"{", b"["))
    if not is_json:
        csv_doc, notes = csvio.read_csv(data, name)
        return csv_doc.doc, notes, csv_doc
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return load_json(data, file=name), [], None


def import_file(engine, data: bytes, name: str, *, actor: str | None, dry_run: bool = False, effective_on=None,
                move_units: bool = False, apply_status: bool = False, skip_conflicts: bool = False,
                ruleset=None) -> dict:
    """`register import FILE`: the import's summary (ImportSummary.as_dict) with `notes`, what a
    person should know about how the file was read (e.g. read as Latin-1)."""
    actor = require_actor(actor)
    from ..memory import freeze_long_lived, gc_paused

    # An import makes millions of small dicts, lists and rows that hold no reference cycles (the
    # parsed file, the rules' unit records, history rows, the summary): the cyclic collector
    # would run over the growing heap again and again and find nothing (about 4 of 20 CPU
    # seconds at 20,000 units; the same peak memory without it). Reference counting frees as usual.
    with gc_paused():
        doc, notes, csv_doc = read_register_file(data, name)
        # The parsed file lives until the call ends (at national size millions of objects).
        freeze_long_lived()
        try:
            with transaction(engine) as session:
                summary = service.import_document(
                    session, doc, actor=actor, source=name, dry_run=dry_run, effective_on=effective_on,
                    locate=csv_doc.locate if csv_doc is not None else None, keep_order=csv_doc is not None,
                    move_units=move_units, apply_status=apply_status, skip_conflicts=skip_conflicts,
                    ruleset=ruleset)
                if dry_run:
                    session.rollback()
        except PlaceringError as exc:
            exc.notes = notes  # how the file was read (e.g. the encoding detected) goes with a refusal too
            raise
        return to_jsonable({**summary.as_dict(), "notes": [said(n) for n in notes]})


def read_file_bytes(path: str, stdin=None) -> bytes:
    """A file's bytes ('-': stdin), or a ValidationError naming the file."""
    try:
        return Path(path).read_bytes() if path != "-" else stdin.read()
    except OSError as exc:
        raise ValidationError(Problem(msg("file.unreadable", error=exc.strerror), file=path)) from None


# --- proposals and entry checks -------------------------------------------------------------------


def proposal_dict(p) -> dict:
    return {"id": p.id, "kind": p.kind, "status": p.status, "org_nr": p.org_nr, "unit_id": p.unit_id,
            "rule_id": p.rule_id, "rules_version": p.rules_version, "message": p.message, "details": p.details,
            "created_on": p.created_on, "decided_by": p.decided_by,
            "decided_at": p.decided_at.isoformat() if p.decided_at else None, "decision_note": p.decision_note}


def proposals(engine, *, status: str | None = None, kind: str | None = None, unit_id: str | None = None,
              org_nr: str | None = None, since=None, until=None) -> list[dict]:
    from ..rules.register_status import list_proposals

    with open_session(engine) as session:
        return to_jsonable([proposal_dict(p) for p in list_proposals(
            session, status=status, kind=kind, unit_id=unit_id, org_nr=org_nr, since=since, until=until)])


def decide_proposal(engine, proposal_id: int, *, accept: bool, actor: str | None, note: str | None) -> dict:
    from ..rules.register_status import decide_proposal as decide

    with transaction(engine) as session:
        return to_jsonable(proposal_dict(decide(session, proposal_id, accept=accept, actor=actor, note=note)))


def pending_entries(engine, *, on=None, ruleset=None) -> list[dict]:
    from .entry import pending_entries as pending

    with open_session(engine) as session:
        return to_jsonable(pending(session, on=on, ruleset=ruleset))


def decide_entry(engine, ident: str, *, approve: bool, text: str, actor: str | None, on=None,
                 ruleset=None) -> list[dict]:
    from .entry import approve_entry, reject_entry

    with transaction(engine) as session:
        fn = approve_entry if approve else reject_entry
        kw = {"note": text} if approve else {"reason": text}
        return to_jsonable([entry_dict(e) for e in fn(session, ident, actor=actor, on=on, ruleset=ruleset, **kw)])


def export(engine, *, show_protected: bool = False) -> dict:
    """`placering register export --json`: the whole register as a placering-register/1 document,
    the coordinates of units with a protected address left out unless show_protected."""
    from .service import export_document

    with open_session(engine) as session:
        doc = export_document(session)
    if not show_protected:
        for s in doc["suppliers"]:
            for u in s["units"]:
                if u.get("protected_address"):
                    u.pop("location", None)
    return doc  # JSON data already (the interchange format)

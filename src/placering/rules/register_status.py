"""Register-status rules applied when a check, permit decision or complaint is recorded.

`apply_register_event` builds event facts for the affected units (all units of the supplier
for a check; the unit for a permit decision or complaint), runs the `register_status` rules
with the reference evaluator's semantics, and applies what fired in the caller's transaction:
status transitions through `register.status.change_unit_status / change_agreement_status`
(recorded in history with the rule id and rules version) and proposals on the maintainers'
worklist (`Proposal` rows, history `proposal_created`). Rules that could not be evaluated are
returned too: nothing is silent.

Event dicts (the event must already be recorded in the session):
    {"kind": "check", "org_nr": "556677-8899", "check_id": 12,
     "check": {"kind": "credit_rating", "result": "pass", "value": 35, "performed_on": date}}
    {"kind": "permit", "unit_id": "U-1", "permit": {"dnr": "…", "status": "revoked", "insats": "…", …},
     "on": date}
    {"kind": "complaint", "unit_id": "U-1", "received_on": date, "category": "documentation"}

A complaint event sees the similar complaints on the same supplier (`complaint.*`: the same
category, on any of its units, within the dated window `complaints_similar_window_months`),
so "flera liknande synpunkter avseende samma utförare" is counted per supplier, not per unit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlalchemy import select
from sqlmodel import Session

from ..boundary import field_text
from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import InvariantViolation, NotFound, ValidationError
from ..storage.history import record, require_actor
from ..storage.models import Complaint, History, Proposal, Supplier, SupplierCheck, Unit, utcnow
from ..text import canonical_org_nr, nfc
from .facts import RegisterSnapshot, _date, permit_fact, register_document, supplier_fact
from .model import Flag, Propose, Transition
from .reference import ReferenceEvaluator, run_rule
from .ruleset import RuleSet, load_ruleset
from ..i18n import Label, labels, msg

EVENT_KINDS = ("check", "permit", "complaint")


@dataclass
class Applied:
    """One thing the register-status rules did (or could not do) for an event."""

    action: str  # unit_status | agreement_status | proposal | proposal_exists | unchanged | flag | unevaluable
    # | made_concurrently (a concurrent change made it first) | superseded (one moved the unit on; not made)
    rule: str
    message: str
    org_nr: str | None = None
    unit_id: str | None = None
    agreement_id: str | None = None
    status_from: str | None = None
    status_to: str | None = None
    proposal_id: int | None = None
    values: dict = field(default_factory=dict)
    source: str = ""
    rules_version: str = ""
    effective_on: date | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _event_date(event: dict) -> date:
    kind = event.get("kind")
    if event.get("on"):
        return _date(event["on"])
    if kind == "check":
        return _date(event["check"]["performed_on"])
    if kind == "permit":
        return _date(event["permit"]["decided_on"])
    return _date(event["received_on"])


def _check_fact(session: Session, supplier: Supplier, check: dict, check_id: int | None,
                reader: "EventReader | None" = None) -> dict:
    """The check just recorded, with the value and result of the check of the same kind before it
    (by performed_on, then recording order). `check_id` names the recorded row when known."""
    if reader is not None:
        rows = reader.checks(supplier.id, check["kind"])
    else:
        rows = list(session.scalars(
            select(SupplierCheck).where(SupplierCheck.supplier_id == supplier.id, SupplierCheck.kind == check["kind"])
            .order_by(SupplierCheck.performed_on, SupplierCheck.id)))
    performed_on = _date(check["performed_on"])
    index = next((i for i, r in enumerate(rows) if r.id == check_id), None) if check_id is not None else None
    if index is None:
        # The latest row performed on or before this check's date is the one just recorded.
        earlier = [i for i, r in enumerate(rows) if r.performed_on <= performed_on]
        index = earlier[-1] if earlier else len(rows)
    previous = rows[index - 1] if index > 0 else None
    value = check.get("value")
    return {
        "kind": check["kind"],
        "result": check["result"],
        "value": float(value) if value is not None else None,
        "performed_on": performed_on,
        "previous_value": float(previous.value) if previous is not None and previous.value is not None else None,
        "previous_result": previous.result if previous is not None else None,
    }


class EventReader:
    """What the register-status rules read for many events in one transaction (an import fires
    one per check and permit decision in the file: thousands for the demo register), read once
    instead of once per event: the suppliers, their register documents and their checks.

    The facts are the same as reading per event: a supplier's document is read again after an
    event changed a status (`changed`), and checks are not written while the events are applied
    (the import writes every row first)."""

    def __init__(self, session: Session, org_nrs: Iterable[str], unit_ids: Iterable[str] = (), *,
                 locked: bool = False, documents: dict[str, tuple[int, dict, list]] | None = None):
        """`locked`: the caller holds the lock of every unit (the import, since before it read
        them): a unit's status is then the one read, or the one this reader's events set.
        `documents`: what reading some suppliers back would give, org_nr → (supplier id, its
        `register_document` entry, its check rows by performed_on and id), from the rows the
        caller just wrote in this transaction (the import's new suppliers): not read again."""
        self.session = session
        self.locked = locked
        session.flush()
        known = documents or {}
        wanted = sorted({canonical_org_nr(o) for o in org_nrs})
        # Plain rows, not ORM objects (an import's events name thousands of suppliers and units).
        S, U = Supplier.__table__, Unit.__table__
        self._suppliers: dict[str, Any] = {}
        self._docs: dict[str, dict] = {}
        self._checks: dict[tuple[int, str], list[Any]] = {}
        for org_nr, (sid, sdoc, checks) in known.items():
            self._suppliers[org_nr] = _SupplierRow(sid, org_nr)
            self._docs[org_nr] = sdoc
            for c in checks:
                self._checks.setdefault((sid, c.kind), []).append(c)
        for chunk in _chunks([o for o in wanted if o not in known]):
            for s in session.execute(select(S.c.id, S.c.org_nr).where(S.c.org_nr.in_(chunk))):
                self._suppliers[s.org_nr] = s
        # The units of permit and complaint events, with their suppliers (read lazily otherwise).
        self._unit_supplier: dict[str, Any] = {}
        unit_ids = {nfc(u) for u in unit_ids}
        for org_nr, (_, sdoc, _) in known.items():
            for u in sdoc["units"]:
                if u["unit_id"] in unit_ids:
                    self._unit_supplier[u["unit_id"]] = self._suppliers[org_nr]
                    unit_ids.discard(u["unit_id"])
        for chunk in _chunks(sorted(unit_ids)):
            for uid, sid, org_nr in session.execute(select(U.c.unit_id, S.c.id, S.c.org_nr).join(
                    S, S.c.id == U.c.supplier_id).where(U.c.unit_id.in_(chunk))):
                row = self._suppliers.get(org_nr)
                if row is None:
                    row = self._suppliers.setdefault(org_nr, _SupplierRow(sid, org_nr))
                self._unit_supplier[uid] = row
        self.statuses: dict[str, str] = {}  # unit_id → status, of the units the events changed
        self._canonical: dict[str, str] = {}
        # A locked reader's status changes and proposals, in the order the events made them,
        # written together by `write` (the same rows and history, in the same order, as one by one).
        self._deferred: list[tuple[str, Applied, Any]] = []
        self._records: dict[str, tuple] = {}  # unit_id → (its document, status, UnitRecord) (snapshot)
        self.actor: str | None = None
        self._read([self._suppliers[o] for o in wanted if o in self._suppliers and o not in known], checks=True)
        # The open proposals of these suppliers, (kind, org_nr, unit_id) → id: a rule proposes
        # once (one query here instead of one per proposal).
        P = Proposal.__table__
        self._proposals: dict[tuple, int] = {}
        for chunk in _chunks(sorted(self._suppliers)):
            for pid, kind, org_nr, unit_id in session.execute(select(P.c.id, P.c.kind, P.c.org_nr, P.c.unit_id).where(
                    P.c.status == "open", P.c.org_nr.in_(chunk)).order_by(P.c.id)):
                self._proposals.setdefault((kind, org_nr, unit_id), pid)

    def open_proposal(self, session: Session, kind: str, org_nr: str, unit_id: str | None) -> Any:
        """The id of the open proposal of this kind for the supplier (and unit), None if none
        (a `_PendingProposal` when this reader's events made it and it is not written yet)."""
        made = self._proposals.get((kind, org_nr, unit_id))
        if made is None and org_nr not in self._suppliers:
            found = _open_proposal(session, kind, org_nr, unit_id)
            return found.id if found is not None else None
        return made

    def proposed(self, kind: str, org_nr: str, unit_id: str | None, proposal_id: Any) -> None:
        """A proposal was just made (it is open)."""
        self._proposals.setdefault((kind, org_nr, unit_id), proposal_id)

    def defer(self, what: str, item: "Applied", value: Any) -> None:
        """A status change (`what` "status": change_unit_status's arguments) or a proposal
        ("proposal": a `_PendingProposal`) to write with the others (`write`)."""
        self._deferred.append((what, item, value))

    def write(self, session: Session) -> None:
        """Write the deferred status changes and proposals, with their history entries in the
        order the events made them: the status changes through `change_unit_statuses` (the same
        invariants and entries as `change_unit_status` one by one), the proposals and the history
        in one statement each. A refused status change is raised (as the single call raises it)."""
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return
        from sqlalchemy import insert

        from ..errors import PlaceringError
        from ..register.status import change_unit_statuses
        from ..storage.entries import entry_values

        made = iter(change_unit_statuses(session, [v for w, _, v in deferred if w == "status"], actor=self.actor,
                                         write_history=False))
        pending = [v for w, _, v in deferred if w == "proposal"]
        if pending:
            P = Proposal.__table__
            ids = session.execute(insert(P).returning(P.c.id, sort_by_parameter_order=True),
                                  [p.row for p in pending]).scalars().all()
            for p, pid in zip(pending, ids):
                p.id = pid
                for item in p.items:
                    item.proposal_id = pid
        rows = []
        for what, item, value in deferred:
            if what == "status":
                entry = next(made)
                if isinstance(entry, PlaceringError):
                    raise entry
                item.effective_on = entry["effective_on"]
                rows.append(entry)
            else:
                rows.append(entry_values(actor=self.actor, entity_id=str(value.id), **value.history))
        session.execute(insert(History.__table__), rows)


    def _read(self, suppliers: list[Any], *, checks: bool = False) -> None:
        self.session.flush()
        C = SupplierCheck.__table__
        for chunk in _chunks(suppliers):
            doc = register_document(self.session, supplier_ids=[s.id for s in chunk])
            self._docs.update((d["org_nr"], d) for d in doc["suppliers"])
            if self.statuses:  # changed by this reader's events, maybe not written yet (write)
                for d in doc["suppliers"]:
                    for u in d.get("units") or []:
                        u["status"] = self.statuses.get(u["unit_id"], u["status"])
            if checks:
                for c in self.session.execute(select(C.c.id, C.c.supplier_id, C.c.kind, C.c.result, C.c.value,
                                                     C.c.performed_on).where(C.c.supplier_id.in_([s.id for s in chunk]))
                                              .order_by(C.c.performed_on, C.c.id)):
                    self._checks.setdefault((c.supplier_id, c.kind), []).append(c)

    def snapshot(self, sdoc: dict, on: date) -> RegisterSnapshot:
        """`RegisterSnapshot.from_document` of one supplier's document (without candidates), its
        units' records built once for all events: a unit's facts depend on the event's day only
        through its complaints (a unit with complaints is built for each event, as before), and on
        nothing else the events change but its status (a record is built again when it changed)."""
        from .facts import UnitRecord, supplier_fact

        snap = RegisterSnapshot(on=on)
        sfact = supplier_fact(sdoc, on)
        for unit in sdoc.get("units") or []:
            cached = self._records.get(unit["unit_id"])
            if (cached is None or cached[0] is not unit or cached[1] != unit.get("status")
                    or unit.get("complaints")):
                snap._add_unit(unit, sfact, False)
                r = snap.units[unit["unit_id"]]
                self._records[unit["unit_id"]] = (unit, unit.get("status"), r)
            else:
                r = cached[2]
                snap.units[unit["unit_id"]] = UnitRecord(r.unit, sfact, r.routes, r.permits, r.offers)
        return snap

    def supplier(self, org_nr: str) -> Any:
        """The supplier (its id and org_nr), None when there is none."""
        if org_nr not in self._suppliers:
            return None
        return self._suppliers[org_nr]

    def canonical(self, org_nr: str) -> str:
        """text.canonical_org_nr, once per organisation number (an import's check events name each
        supplier for every kind of check); a ValueError as it raises it."""
        found = self._canonical.get(org_nr)
        if found is None:
            found = self._canonical[org_nr] = canonical_org_nr(org_nr)
        return found

    def unit_routes(self, unit_id: str) -> list[dict] | None:
        """A unit's routes in the supplier document the reader holds (None: it holds none)."""
        supplier = self._unit_supplier.get(unit_id)
        doc = self._docs.get(supplier.org_nr) if supplier is not None else None
        unit = next((u for u in (doc or {}).get("units") or [] if u["unit_id"] == unit_id), None)
        return unit["routes"] if unit is not None else None

    def unit_supplier(self, unit_id: str) -> Any:
        """The supplier of a unit named by an event given to the reader (None: not read)."""
        return self._unit_supplier.get(unit_id)

    def document(self, supplier: Supplier) -> dict:
        if supplier.org_nr not in self._docs:
            self._read([supplier])
        return {"suppliers": [self._docs[supplier.org_nr]]}

    def checks(self, supplier_id: int, kind: str) -> list[SupplierCheck]:
        return self._checks.get((supplier_id, kind), [])

    def unit_status_changed(self, org_nr: str | None, unit_id: str, status: str) -> None:
        """An event changed a unit's status: the supplier's document says so (its only field a
        status change touches), without reading the supplier again."""
        doc = self._docs.get(org_nr)
        unit = next((u for u in (doc or {}).get("units") or [] if u["unit_id"] == unit_id), None)
        if unit is None:
            self._docs.pop(org_nr, None)
        else:
            unit["status"] = status

    def changed(self, org_nrs: Iterable[str | None]) -> None:
        """An event changed these suppliers' units or agreements: read them again when next asked."""
        for org_nr in org_nrs:
            self._docs.pop(org_nr, None)


class WrittenCheck:
    """A check row as the reader keeps it (EventReader `documents`: written in this transaction)."""

    __slots__ = ("id", "supplier_id", "kind", "result", "value", "performed_on")

    def __init__(self, id: int | None, supplier_id: int, kind: str, result: str, value: float | None,
                 performed_on: date):
        self.id, self.supplier_id, self.kind, self.result = id, supplier_id, kind, result
        self.value, self.performed_on = value, performed_on


class _PendingProposal:
    """A proposal an import's event made, written with the others (EventReader.write): its row,
    its history entry's values and the items that name it (their proposal_id, once written)."""

    __slots__ = ("row", "history", "items", "id")

    def __init__(self, row: dict, history: dict, item: "Applied"):
        self.row, self.history, self.items, self.id = row, history, [item], None


class _SupplierRow:
    """A supplier as the reader keeps it: its id and org_nr."""

    __slots__ = ("id", "org_nr")

    def __init__(self, id: int, org_nr: str):
        self.id, self.org_nr = id, org_nr


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _months_before(on: date, months: int) -> date:
    from ..clock import add_months

    return add_months(on, -months)


def event_categories(event: dict) -> list[str]:
    """Every category a complaint event names (000 l. 10706-10708: 'En synpunkt kan ingå i flera
    kategorier'), the first one first."""
    cats = [c for c in (event.get("categories") or []) if c]
    first = event.get("category")
    return ([first] if first else []) + [c for c in cats if c != first]


def similar_complaints(dated: list[tuple[str, date, Any]], on: date, category: Any,
                       ruleset: RuleSet) -> dict[str, Any]:
    """The `complaint` namespace: of the supplier's complaints [(unit_id, received_on,
    categories)], those sharing a category with this one, received within the window up to `on`.
    Every category of a complaint counts, not only its first (000 l. 10706-10708): the event's
    category with the most similar complaints is reported (the first of equals)."""
    wanted = [category] if isinstance(category, str) else [c for c in (category or []) if c]
    if not wanted:
        return {"category": None, "similar_on_supplier": None, "similar_units": None, "window_months": None}
    months = int(ruleset.param("complaints_similar_window_months", on))
    since = _months_before(on, months)
    best: tuple[str, list] | None = None
    for cat in wanted:
        hits = [(u, d) for u, d, cs in dated
                if cat in ([cs] if isinstance(cs, str) else (cs or [])) and since < d <= on]
        if best is None or len(hits) > len(best[1]):
            best = (cat, hits)
    cat, hits = best
    return {"category": cat, "similar_on_supplier": len(hits), "similar_units": len({u for u, _ in hits}),
            "window_months": months}


def _facts_from_snapshot(snap: RegisterSnapshot, supplier: dict, unit_ids: set[str] | None, kind: str,
                         on: date, extra: dict, base_event: dict) -> list[dict]:
    records = [r for uid, r in sorted(snap.units.items()) if unit_ids is None or uid in unit_ids]
    facts = [{"event": _unit_event(base_event, r), **extra, "unit": r.unit, "supplier": r.supplier,
              "_routes": r.routes} for r in records]
    if not records:
        facts.append({"event": dict(base_event), **extra, "supplier": supplier_fact(supplier, on), "_routes": []})
    return facts


def _unit_event(base_event: dict, record: Any) -> dict:
    """The event as one unit sees it: for a permit decision, whether the unit takes the permit's
    insats through an active framework agreement (INK decides that agreement's order stop)."""
    event = dict(base_event)
    if event["kind"] == "permit" and event["insats"] is not None:
        event["framework_agreement"] = any(r["route"] == "ramavtal" and r["insats"] == event["insats"]
                                           and r["status"] == "active" for r in record.routes)
    return event


def _event_base(kind: str, event: dict, on: date, ruleset: RuleSet) -> tuple[dict, dict]:
    base_event: dict[str, Any] = {"kind": kind, "on": on, "insats": None, "permit_required": None,
                                  "framework_agreement": None}
    extra: dict[str, Any] = {}
    if kind == "permit":
        pf = permit_fact(event["permit"])
        base_event["insats"] = pf["insats"]
        base_event["permit_required"] = ruleset.permit_required(pf["insats"], on) if pf["insats"] else None
        extra["permit"] = pf
    return base_event, extra


def _check_kind(event: dict) -> str:
    kind = event.get("kind")
    if kind not in EVENT_KINDS:
        raise ValidationError(msg("rules.status.unknown_event", what=msg("unknown.register_event"), kind=str(kind), known=", ".join(EVENT_KINDS)))
    return kind


def event_facts(session: Session, event: dict, ruleset: RuleSet,
                reader: EventReader | None = None) -> tuple[list[dict], date]:
    """The facts the register_status rules see for a recorded event: one per affected unit (a
    check of a supplier without units gives one fact without a unit). `reader` reads them for
    many events at once (an import)."""
    kind = _check_kind(event)
    on = _event_date(event)
    if kind == "check":
        try:
            org_nr = reader.canonical(event["org_nr"]) if reader is not None else canonical_org_nr(event["org_nr"])
        except ValueError as exc:
            raise ValidationError(getattr(exc, "message", None) or str(exc)) from None
        if reader is not None:
            supplier = reader.supplier(org_nr)
        else:
            supplier = session.scalars(select(Supplier).where(Supplier.org_nr == org_nr)).first()
        if supplier is None:
            raise NotFound(msg("rules.status.no_supplier", org=org_nr))
        unit_ids = None
    else:
        uid = nfc(event["unit_id"])
        supplier = reader.unit_supplier(uid) if reader is not None else None
        if supplier is None:
            unit = session.scalars(select(Unit).where(Unit.unit_id == uid)).first()
            if unit is None:
                raise NotFound(msg("rules.status.no_unit", id=event["unit_id"]))
            supplier = session.get(Supplier, unit.supplier_id)
        unit_ids = {uid}
    if reader is not None:
        doc = reader.document(supplier)
    else:
        session.flush()
        doc = register_document(session, supplier_ids=[supplier.id])
    sdoc = doc["suppliers"][0]
    if unit_ids is not None:  # the facts of the event's unit only: its supplier's other units are not read
        sdoc = dict(sdoc, units=[u for u in sdoc.get("units") or [] if u["unit_id"] in unit_ids])
    if reader is not None:
        snap = reader.snapshot(sdoc, on)
    else:
        snap = RegisterSnapshot.from_document(dict(doc, suppliers=[sdoc]), on=on, candidates=False)
    base_event, extra = _event_base(kind, event, on, ruleset)
    if kind == "check":
        extra["check"] = _check_fact(session, supplier, event["check"], event.get("check_id"), reader)
    elif kind == "complaint":
        dated = [(uid, d, cs or [c]) for uid, d, c, cs in session.execute(
            select(Unit.unit_id, Complaint.received_on, Complaint.category, Complaint.categories)
            .join(Unit, Unit.id == Complaint.unit_id).where(Unit.supplier_id == supplier.id))]
        extra["complaint"] = similar_complaints(dated, on, event_categories(event), ruleset)
    return _facts_from_snapshot(snap, doc["suppliers"][0], unit_ids, kind, on, extra, base_event), on


def document_event_facts(doc: dict, event: dict, ruleset: RuleSet) -> tuple[list[dict], date]:
    """Event facts from a register in the interchange format, without a database (rule tests).
    The event is added to the document as if it had just been recorded."""
    import copy

    kind = _check_kind(event)
    on = _event_date(event)
    doc = copy.deepcopy(doc)
    suppliers = doc.get("suppliers") or []
    if kind == "check":
        org_nr = canonical_org_nr(event["org_nr"])
        supplier = next((s for s in suppliers if canonical_org_nr(s["org_nr"]) == org_nr), None)
        if supplier is None:
            raise NotFound(msg("rules.status.no_supplier_in_fragment", org=org_nr))
        previous = [c for c in supplier.get("checks") or [] if c.get("kind") == event["check"]["kind"]
                    and _date(c.get("performed_on")) <= _date(event["check"]["performed_on"])]
        previous.sort(key=lambda c: _date(c["performed_on"]))
        supplier.setdefault("checks", []).append(dict(event["check"]))
        unit_ids = None
    else:
        supplier = next((s for s in suppliers for u in s.get("units") or [] if u["unit_id"] == event["unit_id"]), None)
        if supplier is None:
            raise NotFound(msg("rules.status.no_unit_in_fragment", id=event["unit_id"]))
        unit = next(u for u in supplier["units"] if u["unit_id"] == event["unit_id"])
        if kind == "permit":
            permits = [p for p in unit.get("permits") or [] if p.get("dnr") != event["permit"]["dnr"]]
            unit["permits"] = permits + [dict(event["permit"])]
        else:
            unit.setdefault("complaints", []).append({"received_on": event["received_on"],
                                                      "category": event.get("category"),
                                                      "categories": event_categories(event)})
        unit_ids = {unit["unit_id"]}
    snap = RegisterSnapshot.from_document({"suppliers": [supplier]}, on=on)
    base_event, extra = _event_base(kind, event, on, ruleset)
    if kind == "check":
        c = event["check"]
        prev = previous[-1] if previous else None
        extra["check"] = {
            "kind": c["kind"], "result": c["result"],
            "value": float(c["value"]) if c.get("value") is not None else None,
            "performed_on": _date(c["performed_on"]),
            "previous_value": float(prev["value"]) if prev and prev.get("value") is not None else None,
            "previous_result": prev.get("result") if prev else None,
        }
    elif kind == "complaint":
        dated = [(u["unit_id"], _date(c["received_on"]), event_categories(c))
                 for u in supplier.get("units") or [] for c in u.get("complaints") or []]
        extra["complaint"] = similar_complaints(dated, on, event_categories(event), ruleset)
    return _facts_from_snapshot(snap, supplier, unit_ids, kind, on, extra, base_event), on


def plan_register_event(facts: list[dict], on: date, kind: str, ruleset: RuleSet,
                        evaluator: ReferenceEvaluator | None = None) -> list[Applied]:
    """What the register_status rules do for an event, decided from the facts alone: status
    transitions (or 'unchanged' when the status already is the target), proposals (one per
    supplier for a check, per unit otherwise) and unevaluable rules."""
    evaluator = evaluator or ReferenceEvaluator(ruleset)
    version = ruleset.version
    planned: list[Applied] = []
    done_proposals: set[tuple] = set()
    done_agreements: set[str] = set()
    # once per event kind and day (an import fires tens of thousands of events on a few thousand days)
    cache = evaluator.__dict__.setdefault("_register_event_rules", {})
    rules = cache.get((on, kind))
    if rules is None:
        if len(cache) > 4096:
            cache.clear()
        rules = cache[(on, kind)] = [cr for cr in evaluator.compiled("register_status", on) if cr.rule.event == kind]
    for fact in facts:
        unit = fact.get("unit") or {}
        org_nr = fact["supplier"]["org_nr"]
        unit_id = unit.get("unit_id")
        for cr in rules:
            rule = cr.rule
            state, reason = run_rule(cr, fact)
            if state not in ("fired", "unevaluable"):
                continue
            common = dict(rule=rule.id, message=reason.message, org_nr=org_nr, values=_jsonable(reason.values),
                          source=reason.source, rules_version=version)
            if state == "unevaluable":
                planned.append(Applied("unevaluable", unit_id=unit_id, **common))
                continue
            outcome = rule.outcome
            if isinstance(outcome, Transition):
                if outcome.unit_status and unit_id:
                    current = unit["status"]
                    action = "unchanged" if current == outcome.unit_status else "unit_status"
                    planned.append(Applied(action, unit_id=unit_id, status_from=current,
                                           status_to=outcome.unit_status, **common))
                if outcome.agreement_status:
                    insats = fact["event"].get("insats")
                    for route in fact.get("_routes", []):
                        aid = route["agreement_id"]
                        if route["route"] != "ramavtal" or not aid or aid in done_agreements:
                            continue
                        if insats is not None and route["insats"] != insats:
                            continue
                        done_agreements.add(aid)
                        final = route["status"] in (outcome.agreement_status, "terminated")
                        planned.append(Applied("unchanged" if final else "agreement_status", unit_id=unit_id,
                                               agreement_id=aid, status_from=route["status"],
                                               status_to=outcome.agreement_status, **common))
            elif isinstance(outcome, Propose):
                # A check, and similar complaints across its units, concern the supplier: one
                # proposal for it, not one per unit.
                target_unit = None if kind in ("check", "complaint") else unit_id
                key = (outcome.kind, org_nr, target_unit)
                if key in done_proposals:
                    continue
                done_proposals.add(key)
                planned.append(Applied("proposal", unit_id=target_unit, status_to=outcome.kind, **common))
            elif isinstance(outcome, Flag):
                planned.append(Applied("flag", unit_id=unit_id, **common))
    return planned


def apply_register_event(session: Session, event: dict, *, actor: str, ruleset: RuleSet | None = None,
                         evaluator: ReferenceEvaluator | None = None,
                         reader: EventReader | None = None) -> list[Applied]:
    """Evaluate the register_status rules for a recorded event and apply what fired, in the
    caller's transaction. Returns what was done, including rules that could not be evaluated.
    An import firing many events passes one `reader` (and one evaluator) for all of them."""
    from ..register.status import agreement_routes, change_agreement_status, get_unit

    actor = require_actor(actor)
    ruleset = ruleset or load_ruleset()
    facts, on = event_facts(session, event, ruleset, reader)
    # An import fires many events: it passes one evaluator, whose compiled rules are reused.
    planned = plan_register_event(facts, on, event["kind"], ruleset, evaluator)
    # An import (a reader holding every unit's lock) writes its status changes and proposals
    # together at the end (EventReader.write); anything else is written in order after them.
    deferring = reader is not None and reader.locked
    if deferring:
        reader.actor = actor
    for item in planned:
        item.effective_on = on
        if deferring and item.action == "unit_status" and \
                reader.statuses.get(item.unit_id, item.status_from) == item.status_from:
            reader.defer("status", item, dict(
                unit_id=item.unit_id, status=item.status_to, reason=_removal_reason(ruleset, item.rule, on),
                note=item.message, effective_on=on, rule_id=item.rule, rules_version=item.rules_version,
                not_before_status=True))
            reader.statuses[item.unit_id] = item.status_to
            continue
        if deferring and item.action in ("unit_status", "agreement_status"):
            reader.write(session)  # written now: what was deferred before it is written first
        if item.action == "unit_status":
            # The facts were read before this transaction held the unit (PostgreSQL): a concurrent
            # change may have made the change already, or moved the unit on. The event itself (the
            # check, permit, complaint) is recorded either way; what the rule could not do because
            # another change got there first is reported as such, never an error (issue 21).
            if reader is not None and reader.locked:
                # An import holds every unit's lock since before its reader read them: the status
                # is the one read, unless this import's rules changed it since.
                current = reader.statuses.get(item.unit_id, item.status_from)
            else:
                current = get_unit(session, item.unit_id, lock=True).status
            if current != item.status_from:
                if current == item.status_to:
                    item.action, item.status_from = "made_concurrently", current
                    continue
                item.status_from = current
                try:
                    with session.begin_nested():
                        _change_unit(session, item, on, ruleset, actor)
                except InvariantViolation as exc:
                    item.action, item.message = "superseded", f"{item.message} ({exc})"
                    continue
                if reader is not None:
                    reader.statuses[item.unit_id] = item.status_to
                continue
            _change_unit(session, item, on, ruleset, actor)
            if reader is not None:
                reader.statuses[item.unit_id] = item.status_to
        elif item.action == "agreement_status":
            agreement_routes(session, item.agreement_id, lock=True)
            current = _participation(session, item.agreement_id, item.org_nr)
            if current != item.status_from:
                if current in (item.status_to, "terminated"):  # another change stopped or ended it
                    item.action, item.status_from = "made_concurrently", current
                    continue
                item.status_from = current
            last = session.scalars(select(History).where(History.entity_kind == "agreement",
                                                         History.entity_id == item.agreement_id)
                                   .order_by(History.effective_on.desc(), History.id.desc()).limit(1)).first()
            item.effective_on = max(on, last.effective_on) if last is not None else on
            change_agreement_status(session, item.agreement_id, item.status_to, actor=actor, note=item.message,
                                    effective_on=item.effective_on, rule_id=item.rule,
                                    rules_version=item.rules_version, org_nr=item.org_nr)
        elif item.action == "proposal":
            kind = item.status_to
            if reader is not None:
                existing_id = reader.open_proposal(session, kind, item.org_nr, item.unit_id)
            else:
                existing = _open_proposal(session, kind, item.org_nr, item.unit_id)
                existing_id = existing.id if existing is not None else None
            if isinstance(existing_id, _PendingProposal):
                item.action = "proposal_exists"
                existing_id.items.append(item)
                continue
            if existing_id is not None:
                item.action, item.proposal_id = "proposal_exists", existing_id
                continue
            details = {"values": item.values, "source": item.source, "event": event["kind"]}
            if kind == "order_stop":
                # For INK: which agreements of this supplier the proposal concerns.
                details["agreements"] = _framework_agreements(session, item.unit_id, event, reader)
                details["decide_with"] = "placering register agreement AGREEMENT_ID order_stop --supplier " + item.org_nr
            if deferring:
                pending = _PendingProposal(
                    dict(kind=kind, org_nr=item.org_nr, unit_id=item.unit_id, rule_id=item.rule,
                         rules_version=item.rules_version, message=item.message, details=details,
                         status="open", created_at=utcnow(), created_on=on),
                    dict(entity_kind="proposal", action="proposal_created", effective_on=on, org_nr=item.org_nr,
                         unit_id=item.unit_id, changes={"kind": kind, "status": [None, "open"],
                                                        "message": item.message},
                         rule_id=item.rule, rules_version=item.rules_version), item)
                reader.defer("proposal", item, pending)
                reader.proposed(kind, item.org_nr, item.unit_id, pending)
                continue
            proposal = Proposal(kind=kind, org_nr=item.org_nr, unit_id=item.unit_id, rule_id=item.rule,
                                rules_version=item.rules_version, message=item.message, details=details,
                                created_on=on)
            session.add(proposal)
            session.flush()
            record(session, actor=actor, entity_kind="proposal", entity_id=str(proposal.id),
                   action="proposal_created", effective_on=on, org_nr=item.org_nr, unit_id=item.unit_id,
                   changes={"kind": kind, "status": [None, "open"], "message": item.message},
                   rule_id=item.rule, rules_version=item.rules_version)
            item.proposal_id = proposal.id
            if reader is not None:
                reader.proposed(kind, item.org_nr, item.unit_id, proposal.id)
    if reader is not None:
        for item in planned:
            if item.action == "unit_status":
                reader.unit_status_changed(item.org_nr, item.unit_id, item.status_to)
        reader.changed(item.org_nr for item in planned if item.action == "agreement_status")
    if planned and not deferring:  # nothing planned wrote nothing (most of an import's thousands of events)
        session.flush()
    return planned


def _participation(session: Session, agreement_id: str, org_nr: str | None) -> str | None:
    """The status of a supplier's participation in an agreement, read under the lock just taken."""
    from ..storage.models import Supplier, UnitRoute

    row = session.execute(select(UnitRoute.status).join(Unit, Unit.id == UnitRoute.unit_id)
                          .join(Supplier, Supplier.id == Unit.supplier_id)
                          .where(UnitRoute.agreement_id == agreement_id, Supplier.org_nr == org_nr).limit(1)).first()
    return row[0] if row else None


def _change_unit(session: Session, item: Applied, on: date, ruleset: RuleSet, actor: str) -> None:
    from ..register.status import change_unit_status

    # History is kept in date order: an event dated before the unit's current status (e.g. a
    # check performed before the unit was imported) takes effect when that status began.
    entry = change_unit_status(session, item.unit_id, item.status_to, actor=actor,
                               reason=_removal_reason(ruleset, item.rule, on), note=item.message,
                               effective_on=on, rule_id=item.rule, rules_version=item.rules_version,
                               not_before_status=True)
    item.effective_on = entry.effective_on


def _framework_agreements(session: Session, unit_id: str | None, event: dict,
                          reader: EventReader | None = None) -> list[str]:
    from ..storage.models import UnitRoute

    insats = (event.get("permit") or {}).get("insats")
    routes = reader.unit_routes(unit_id) if reader is not None and unit_id else None
    if routes is not None:  # the unit's routes as the reader has them (the same rows: a rule changes no route)
        return sorted({r["agreement_id"] for r in routes if r["route"] == "ramavtal" and r["agreement_id"] is not None
                       and (insats is None or r["insats"] == insats)})
    unit = session.scalars(select(Unit).where(Unit.unit_id == unit_id)).first() if unit_id else None
    if unit is None:
        return []
    return sorted({r.agreement_id for r in session.scalars(select(UnitRoute).where(
        UnitRoute.unit_id == unit.id, UnitRoute.route == "ramavtal", UnitRoute.agreement_id.is_not(None)))
        if insats is None or r.insats == insats})


def _open_proposal(session: Session, kind: str, org_nr: str, unit_id: str | None) -> Proposal | None:
    stmt = select(Proposal).where(Proposal.kind == kind, Proposal.org_nr == org_nr, Proposal.status == "open")
    stmt = stmt.where(Proposal.unit_id.is_(None)) if unit_id is None else stmt.where(Proposal.unit_id == unit_id)
    return session.scalars(stmt).first()


def _jsonable(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, date):
            v = v.isoformat()
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


def _removal_reason(ruleset: RuleSet, rule_id: str, on: date) -> str | None:
    rule = ruleset.rule(rule_id, on)
    return rule.outcome.removal_reason if rule is not None and isinstance(rule.outcome, Transition) else None


# --- the proposals worklist -----------------------------------------------------------------

PROPOSAL_STATUSES = ("open", "accepted", "dismissed")


def list_proposals(session: Session, *, status: str | None = None, kind: str | None = None,
                   unit_id: str | None = None, org_nr: str | None = None, since: date | None = None,
                   until: date | None = None) -> list[Proposal]:
    """The proposals, oldest first: of a status, a kind, a unit or supplier, created on or after
    `since` and on or before `until` (each filter optional)."""
    if status is not None and status not in PROPOSAL_STATUSES:
        raise ValidationError(msg("cli.unknown_code", what=msg("unknown.proposal_status"), value=status,
                                  known=labels(PROPOSAL_STATUSES, "proposal_status")))
    stmt = select(Proposal).order_by(Proposal.id)
    if status:
        stmt = stmt.where(Proposal.status == status)
    if kind:
        stmt = stmt.where(Proposal.kind == kind)
    if unit_id:
        from ..register.service import get_unit

        stmt = stmt.where(Proposal.unit_id == get_unit(session, unit_id).unit_id)
    if org_nr:
        from ..register.service import get_supplier

        stmt = stmt.where(Proposal.org_nr == get_supplier(session, org_nr).org_nr)
    if since:
        stmt = stmt.where(Proposal.created_on >= since)
    if until:
        stmt = stmt.where(Proposal.created_on <= until)
    return list(session.scalars(stmt))


def decide_proposal(session: Session, proposal_id: int, *, accept: bool, actor: str, note: str | None,
                    effective_on: date | None = None) -> Proposal:
    """Accept or dismiss an open proposal, with a note; recorded in history. Accepting records the
    maintainer's decision; the change itself (e.g. re-publishing) is made with `register status`."""
    actor = require_actor(actor)
    # the maintainer's own words (history records them with the proposal's rule): checked as free text
    note = field_text(note, "--note", optional=True) or ""
    if not note:
        raise ValidationError(msg("rules.status.decision_needs_note"))
    proposal = session.get(Proposal, proposal_id)
    if proposal is None:
        raise NotFound(msg("proposal.not_found", id=proposal_id))
    if proposal.status != "open":
        raise InvariantViolation(msg("rules.status.proposal_decided", id=proposal_id, status=Label(proposal.status, "proposal_status"),
                                     by=proposal.decided_by))
    new = "accepted" if accept else "dismissed"
    proposal.status = new
    proposal.decided_by = actor
    proposal.decided_at = utcnow()
    proposal.decision_note = note
    record(session, actor=actor, entity_kind="proposal", entity_id=str(proposal.id),
           action="proposal_accepted" if accept else "proposal_dismissed",
           effective_on=effective_on or sweden_today(), org_nr=proposal.org_nr, unit_id=proposal.unit_id,
           changes={"status": ["open", new], "kind": proposal.kind}, note=note, rule_id=proposal.rule_id,
           rules_version=proposal.rules_version)
    session.flush()
    return proposal

"""Entry check (kontroll inför tillägg i utförarregistret): a new supplier's units, and a removed
unit that is re-admitted, wait as `pending_entry` (never asked or recommended) until the checks
that the dated parameter `entry_checks_required` names for the unit's routes have passed and a
maintainer approves the entry with a note; a rejection records its reason. The municipality's
own units (egen regi, legal form kommun) do not enter this way.

Sources: Spink's annual report 2024 (sources/004: "11 av 20 utförare godkändes inte i
kontrollerna"), Nordost 2022 (sources/000, 3 Kontrollmoment). History: `entry_approved` /
`entry_rejected` (entity `entry`, id = unit_id), besides the unit's `status` entry on approval.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..errors import InvariantViolation, ValidationError
from ..i18n import Joined, Label, label_list as labels, msg
from ..boundary import today
from ..storage.history import record, require_actor
from ..storage.models import History, Offer, Permit, Supplier, SupplierCheck, Unit, UnitRoute
from ..text import looks_like_org_nr, nfc
from ..vocabulary import CheckResult, UnitStatus

ENTRY_PARAM = "entry_checks_required"
VALIDITY_PARAM = "check_validity_days"
MUNICIPAL_LEGAL_FORMS = frozenset({"kommun"})  # egen regi: the municipality's own units


def _ruleset(ruleset: Any) -> Any:
    if ruleset is not None:
        return ruleset
    from ..rules import load_ruleset  # the parameters live with the rules

    return load_ruleset()


def needs_entry_check(legal_form: str) -> bool:
    return legal_form not in MUNICIPAL_LEGAL_FORMS


def required_checks(ruleset: Any, routes: list[str], on: date, *, legal_form: str | None = None,
                    permit_bound: bool = False) -> list[str]:
    """The check kinds the entry of a unit with these routes requires on the date (union over
    its routes): per legal form where the parameter distinguishes them (004 l. 1255-1259: 'För
    bolag …', 'För förening/stiftelse …'), plus the route's `permit_bound` kinds when the unit
    offers a permit-bound insats (004 l. 1259-1260: 'eventuella tillsynsrapporter')."""
    table = _ruleset(ruleset).param(ENTRY_PARAM, on)
    kinds: list[str] = []
    for route in routes:
        spec = table.get(route, ())
        if isinstance(spec, dict):
            wanted = list(spec.get(legal_form) if legal_form in spec else spec.get("default", ()))
            if permit_bound:
                wanted += list(spec.get("permit_bound", ()))
        else:
            wanted = list(spec)
        for kind in wanted:
            if kind not in kinds:
                kinds.append(kind)
    return kinds


def permit_bound_insatser(ruleset: Any, insatser: list[str], legal_form: str | None, on: date) -> list[str]:
    """The insatser among `insatser` for which a unit of this legal form needs an IVO permit on
    the date (the one dated parameter permit_required_insatser; municipal units notify)."""
    rs = _ruleset(ruleset)
    return [i for i in insatser if rs.permit_duty(i, legal_form, on) == "permit"]


def _pending_since(session: Session, unit_id: str) -> tuple[date | None, date | None]:
    """(when the unit became pending_entry, when it was last removed before that), from history."""
    pending_on = removed_on = None
    for h in session.scalars(select(History).where(
            History.entity_kind == "unit", History.entity_id == unit_id,
            History.action.in_(("created", "status"))).order_by(History.effective_on, History.id)):
        st = (h.changes or {}).get("status")
        if not st:
            continue
        if st[1] == UnitStatus.REMOVED:
            removed_on = h.effective_on
        if st[1] == UnitStatus.PENDING_ENTRY:
            pending_on = h.effective_on
    return pending_on, removed_on


_WHY_KINDS = {"result": "check_result", "status": "permit_status", "insats": "insats"}
_WHY_IDS = {"never_checked": "entry.why.never_checked", "latest_result": "entry.why.latest_result",
            "before_removal": "entry.why.before_removal", "too_old": "entry.why.too_old",
            "no_permit": "entry.why.no_permit", "permit_status": "entry.why.permit_status"}


def _why(why: tuple[str, dict] | None) -> dict[str, Any]:
    """A check's shortfall for programs (`why_code`, `why_values`) and its English text (`why`)."""
    if why is None:
        return {"why": None, "why_code": None, "why_values": {}}
    code, values = why
    check = {"why_code": code, "why_values": values}
    return {"why": str(why_message(check)), **check}


def why_message(check: dict[str, Any]):
    """What a person reads about a required check that has not passed (None when it has): the
    message `entry.why.<why_code>`, codes in words."""
    if not check.get("why_code"):
        return None
    values = {k: Label(v, _WHY_KINDS[k]) if k in _WHY_KINDS else v for k, v in (check.get("why_values") or {}).items()}
    return msg(_WHY_IDS[check["why_code"]], **values)


def check_kind_said(kind: str):
    """A required check's kind in words ('ivo_permit:hvb_barn' is IVO's permit for an insats)."""
    if kind.startswith("ivo_permit:"):
        return msg("entry.ivo_permit_for", insats=Label(kind.split(":", 1)[1], "insats"))
    return Label(kind, "check_kind")


def entry_state(session: Session, unit: Unit, *, on: date, ruleset: Any = None) -> dict[str, Any]:
    """Where a unit's entry check stands on the date: each required check, passed or why not."""
    ruleset = _ruleset(ruleset)
    supplier = session.get(Supplier, unit.supplier_id)
    routes = sorted({r for r in session.scalars(select(UnitRoute.route).where(UnitRoute.unit_id == unit.id))})
    offered = sorted(set(session.scalars(select(Offer.insats).where(Offer.unit_id == unit.id))))
    bound = permit_bound_insatser(ruleset, offered, supplier.legal_form, on)
    required = required_checks(ruleset, routes, on, legal_form=supplier.legal_form, permit_bound=bool(bound))
    validity = ruleset.param(VALIDITY_PARAM, on)
    pending_on, removed_on = _pending_since(session, unit.unit_id)
    latest: dict[str, SupplierCheck] = {}
    for c in session.scalars(select(SupplierCheck).where(SupplierCheck.supplier_id == supplier.id,
                                                         SupplierCheck.performed_on <= on)
                             .order_by(SupplierCheck.performed_on, SupplierCheck.id)):
        latest[c.kind] = c
    checks = []
    for kind in required:
        c = latest.get(kind)
        why = None
        if c is None:
            why = ("never_checked", {})
        elif c.result != CheckResult.PASS.value:
            why = ("latest_result", {"result": c.result, "on": c.performed_on.isoformat()})
        elif removed_on is not None and c.performed_on < removed_on:
            why = ("before_removal", {"on": c.performed_on.isoformat(), "removed_on": removed_on.isoformat()})
        elif kind in validity and c.performed_on + timedelta(days=int(validity[kind])) < on:
            why = ("too_old", {"on": c.performed_on.isoformat(), "days": int(validity[kind])})
        checks.append({"kind": kind, "result": c.result if c else None,
                       "performed_on": c.performed_on.isoformat() if c else None, "passed": why is None,
                       **_why(why)})
    # A permit-bound insats enters only with an active IVO permit for it (004 l. 1259-1260; 000
    # l. 10016-10018): an active permit among those recorded for it, else the latest decision.
    for insats in bound:
        held = list(session.scalars(select(Permit).where(Permit.unit_id == unit.id, Permit.insats == insats)
                                    .order_by(Permit.decided_on, Permit.id)))
        active = [p for p in held if p.status == "active"]
        latest_permit = active[-1] if active else (held[-1] if held else None)
        why = None
        if latest_permit is None:
            why = ("no_permit", {"insats": insats})
        elif latest_permit.status != "active":
            why = ("permit_status", {"dnr": latest_permit.dnr, "insats": insats, "status": latest_permit.status})
        checks.append({"kind": f"ivo_permit:{insats}", "result": latest_permit.status if latest_permit else None,
                       "performed_on": latest_permit.decided_on.isoformat() if latest_permit else None,
                       "passed": why is None, **_why(why)})
    last = session.scalars(select(History).where(History.entity_kind == "entry", History.entity_id == unit.unit_id)
                           .order_by(History.id.desc()).limit(1)).first()
    return {
        "unit_id": unit.unit_id, "name": unit.name, "org_nr": supplier.org_nr, "supplier": supplier.name,
        "status": unit.status, "routes": routes, "pending_since": pending_on, "readmission": removed_on is not None,
        "required": required, "checks": checks, "missing": [c["kind"] for c in checks if not c["passed"]],
        "last_decision": None if last is None else {"action": last.action, "on": last.effective_on,
                                                    "by": last.actor, "note": last.note},
    }


def pending_entries(session: Session, *, on: date | None = None, ruleset: Any = None) -> list[dict[str, Any]]:
    """Every unit waiting for its entry check, with the state of its required checks."""
    on = on or today()
    ruleset = _ruleset(ruleset)
    units = session.scalars(select(Unit).where(Unit.status == UnitStatus.PENDING_ENTRY.value).order_by(Unit.unit_id))
    return [entry_state(session, u, on=on, ruleset=ruleset) for u in units]


def decided_entry(session: Session, unit_id: str) -> History | None:
    """The latest entry decision (approved or rejected) made for the unit's current entry check:
    one made after the unit last became pending_entry, or None."""
    pending_id = 0
    for h in session.scalars(select(History).where(
            History.entity_kind == "unit", History.entity_id == unit_id,
            History.action.in_(("created", "status"))).order_by(History.id)):
        st = (h.changes or {}).get("status")
        if st and st[1] == UnitStatus.PENDING_ENTRY:
            pending_id = h.id
    return session.scalars(select(History).where(
        History.entity_kind == "entry", History.entity_id == unit_id, History.id > pending_id)
        .order_by(History.id.desc()).limit(1)).first()


def _units(session: Session, ident: str) -> list[Unit]:
    """The pending units an ID names: one unit, or every pending unit of a supplier (org nr)."""
    from .status import get_supplier, get_unit

    ident = nfc(ident).strip()
    if looks_like_org_nr(ident):
        supplier = get_supplier(session, ident)
        units = list(session.scalars(select(Unit).where(Unit.supplier_id == supplier.id,
                                                        Unit.status == UnitStatus.PENDING_ENTRY.value)
                                     .order_by(Unit.unit_id).with_for_update()
                                     .execution_options(populate_existing=True)))
        if not units:
            raise InvariantViolation(msg("entry.supplier_none_waiting", org=supplier.org_nr))
        return units
    unit = get_unit(session, ident, lock=True)  # two maintainers deciding at once: one waits for the other
    if unit.status != UnitStatus.PENDING_ENTRY.value:
        raise InvariantViolation(msg("entry.not_waiting", unit=unit.unit_id, status=Label(unit.status, "unit_status")))
    return [unit]


def decide_entry(session: Session, ident: str, *, approve: bool, actor: str, text: str, on: date | None = None,
                 ruleset: Any = None) -> list[History]:
    """Approve (every required check must have passed; the unit becomes published) or reject
    (with the reason; the unit stays pending_entry, never asked or recommended) the entry of a
    pending unit, or of every pending unit of a supplier. History records `entry_approved` /
    `entry_rejected` with the checks; approval also the status change. Returns those entries."""
    from .status import change_unit_status

    actor = require_actor(actor)
    text = nfc(text or "").strip()
    if not text:
        raise ValidationError(msg("entry.note_needed") if approve else msg("entry.reason_needed"))
    on = on or today()
    ruleset = _ruleset(ruleset)
    entries = []
    for unit in _units(session, ident):
        # A decision is recorded once (issue 21): a rejection stands until the checks pass and the
        # entry is approved; rejecting it again, or approving twice, records nothing.
        done = decided_entry(session, unit.unit_id)
        if done is not None and (done.action == "entry_approved" or not approve):
            what = "approved" if done.action == "entry_approved" else "rejected"
            raise InvariantViolation(msg(f"entry.already_{what}", unit=unit.unit_id, on=done.effective_on.isoformat(),
                                         by=done.actor))
        state = entry_state(session, unit, on=on, ruleset=ruleset)
        failed = [c for c in state["checks"] if not c["passed"]]
        if approve and failed:
            raise InvariantViolation(msg("register.entry.missing_check", unit=unit.unit_id, on=on.isoformat(),
                                         routes=labels(state["routes"], "route"), parameter=ENTRY_PARAM,
                                         checks=Joined(tuple(msg("entry.check_failed", kind=check_kind_said(c["kind"]),
                                                                 why=why_message(c)) for c in failed), "; ")))
        decided = record(
            session, actor=actor, entity_kind="entry", entity_id=unit.unit_id,
            action="entry_approved" if approve else "entry_rejected", effective_on=on, org_nr=state["org_nr"],
            unit_id=unit.unit_id, note=text, rules_version=ruleset.version,
            changes={"routes": state["routes"], "readmission": state["readmission"],
                     "checks": {c["kind"]: (f"{c['result']} {c['performed_on']}" if c["result"] else None)
                                for c in state["checks"]}})
        entries.append(change_unit_status(session, unit.unit_id, UnitStatus.PUBLISHED.value, actor=actor,
                                          note=f"entry approved: {text}", effective_on=on, entry_approved=True)
                       if approve else decided)
    session.flush()
    return entries


def approve_entry(session: Session, ident: str, *, actor: str, note: str, **kw: Any) -> list[History]:
    return decide_entry(session, ident, approve=True, actor=actor, text=note, **kw)


def reject_entry(session: Session, ident: str, *, actor: str, reason: str, **kw: Any) -> list[History]:
    return decide_entry(session, ident, approve=False, actor=actor, text=reason, **kw)

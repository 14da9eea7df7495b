"""The demo register's past: when each supplier entered, and what happened to it since.

`generate_register(as_of=…)` describes the register as it stands on `as_of`. This module plans
the years before it: suppliers are admitted in two rounds a year (before their first agreement starts),
checks are made at the cadence of `check_validity_days` (most current, some overdue, the latest
result of each kind as the generator drew it), IVO permits are decided and later revoked or
expired on their dates, units are put on watch, unpublished, given a recommendation stop or
removed on dates spread over the years (some of them only for a while), and framework agreements
get their order stops and terminations. `load_history` writes all of it through the register's
own library functions (`register.service`: import, status changes, permit decisions), each change
dated when it happened (`effective_on`), so `audit paused --as-of`, `audit checks-due`,
`register history` and every other answer read from history show a register with a past.

Everything is drawn from one `random.Random` seeded by (seed, as_of), so the same arguments
write the same history.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ..vocabulary import CheckResult, UnitStatus

YEARS = 6  # how far back the demo register's history reaches
RECURRING_MONTHS = 4  # checks at their cadence over this period; a credit rating a year before it
OVERDUE_SHARE = 0.04  # share of (supplier, check kind) whose latest check has lapsed
# Of the units that end published, how many were paused for a while on the way.
EPISODE_SHARE = 0.12

_YEAR = re.compile(r"\b20[0-9]{2}\b")
ENTRY_CHECKS = ("credit_rating", "tax_registration", "employer_registration", "enforcement_debt")


@dataclass
class Event:
    """One dated change, applied in date order (ties: the order planned)."""

    on: date
    kind: str  # unit_status | agreement_status | permit
    args: dict[str, Any]


@dataclass
class Plan:
    as_of: date
    # Per entry date, the suppliers (interchange dicts) as they entered the register.
    entries: list[tuple[date, list[dict]]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Every check of every supplier, oldest first (imported once: history is dated by performed_on).
    checks: dict[str, list[dict]] = field(default_factory=dict)


def _day(rng: random.Random, lo: date, hi: date) -> date:
    if hi <= lo:
        return lo
    return lo + timedelta(days=rng.randrange((hi - lo).days + 1))


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def plan_history(doc: dict, *, as_of: date, seed: int, validity: dict[str, int]) -> Plan:
    """The history that leads to `doc` on `as_of` (see the module docstring)."""
    rng = random.Random(f"history:{seed}:{as_of.isoformat()}")
    start = as_of.replace(year=as_of.year - YEARS, month=1, day=1)
    plan = Plan(as_of)
    by_entry: dict[date, list[dict]] = {}
    for sup in doc["suppliers"]:
        municipal = sup["legal_form"] == "kommun"
        starts = [_d(r.get("valid_from")) for u in sup["units"] for r in u["routes"] if r.get("valid_from")]
        first_agreement = min([d for d in starts if d is not None] or [as_of])
        if municipal:
            entered = start
        else:
            latest = min(as_of - timedelta(days=120), first_agreement - timedelta(days=rng.randint(5, 60)))
            entered = _day(rng, start, max(start, latest))
            entered = max(start, min(entered, as_of - timedelta(days=120)))
        initial, events = _initial_state(rng, sup, entered, as_of)
        by_entry.setdefault(_admission_round(entered, start), []).append(initial)
        plan.events += events
        plan.checks[sup["org_nr"]] = _checks(rng, sup, entered, as_of, validity)
    plan.entries = sorted(by_entry.items())
    plan.events.sort(key=lambda e: e.on)
    return plan


def _admission_round(d: date, start: date) -> date:
    """Suppliers are admitted in two rounds a year (one import each): 1 January and 1 July."""
    return max(start, date(d.year, 1 if d.month <= 6 else 7, 1))


def _initial_state(rng: random.Random, sup: dict, entered: date, as_of: date) -> tuple[dict, list[Event]]:
    """The supplier as it entered (units published, agreements active, permits decided by then)
    and the dated events that bring it to its state in `doc`."""
    events: list[Event] = []
    units = []
    soon = entered + timedelta(days=30)
    last = as_of - timedelta(days=3)
    agreements: dict[str, dict] = {}
    for u in sup["units"]:
        unit = {k: v for k, v in u.items() if k not in ("status", "removal_reason", "status_note", "permits")}
        unit["status"] = UnitStatus.PUBLISHED.value
        unit["routes"] = [dict(r, status="active") if r.get("agreement_id") and r["route"] == "ramavtal" else dict(r)
                          for r in u["routes"]]
        for r in u["routes"]:
            if r["route"] == "ramavtal" and r["status"] != "active":
                agreements.setdefault(r["agreement_id"], r)
        permits_at_entry = []
        revoke_on: date | None = None
        for p in u.get("permits") or []:
            decided = _d(p["decided_on"])
            changed = p["status"] in ("revoked", "banned", "expired") and decided + timedelta(days=400) < last
            first = dict(p, status="active") if changed else dict(p)
            if decided <= entered:
                permits_at_entry.append(first)
            else:
                events.append(Event(decided, "permit", {"unit_id": u["unit_id"], "dnr": p["dnr"], "insats": p["insats"],
                                                        "status": first["status"], "decided_on": decided,
                                                        "target_groups": p["target_groups"]}))
            if changed:
                lo, hi = max(decided + timedelta(days=365), soon), last
                if u.get("removal_reason") == "ivo":  # the loss of the permit is what removes the unit
                    w_lo, w_hi = _change_window(u, soon, last)
                    lo, hi = max(decided + timedelta(days=180), w_lo), w_hi
                on = _day(rng, lo, hi) if lo <= hi else last
                if u.get("removal_reason") == "ivo":
                    revoke_on = on if revoke_on is None else min(revoke_on, on)
                events.append(Event(on, "permit", {"unit_id": u["unit_id"], "dnr": p["dnr"], "status": p["status"],
                                                   "decided_on": on}))
        unit["permits"] = permits_at_entry
        units.append(unit)
        # A unit leaves the register after the last IVO decision about it, not before.
        decided = [e.on for e in events if e.kind == "permit" and e.args["unit_id"] == u["unit_id"]]
        earliest = min(last, max([soon, *[d + timedelta(days=30) for d in decided]]))
        events += _status_events(rng, u, earliest, last, revoke_on)
    for aid, r in agreements.items():
        lo = max(soon, _d(r.get("valid_from")) or soon)
        on = _day(rng, lo, last) if lo < last else last
        events.append(Event(on, "agreement_status", {"agreement_id": aid, "status": r["status"]}))
    # Checks arrive later, each with its own date (Plan.checks).
    return {"org_nr": sup["org_nr"], "name": sup["name"], "legal_form": sup["legal_form"], "checks": [],
            "units": units}, events


def _change_window(u: dict, soon: date, last: date) -> tuple[date, date]:
    """When the unit's status changed: in the year its note speaks of ("avvecklats 2024"), if any."""
    year = _YEAR.search(u.get("status_note") or "")
    if year:
        y = int(year.group(0))
        lo, hi = max(soon, date(y, 1, 1)), min(last, date(y, 12, 31))
        if lo <= hi:
            return lo, hi
    return soon, last


def _status_events(rng: random.Random, u: dict, soon: date, last: date, revoke_on: date | None) -> list[Event]:
    uid = u["unit_id"]
    final = u["status"]
    out: list[Event] = []

    def change(on: date, status: str, **kw: Any) -> None:
        out.append(Event(on, "unit_status", {"unit_id": uid, "status": status, **kw}))

    if final == UnitStatus.PUBLISHED.value:
        if rng.random() < EPISODE_SHARE and soon + timedelta(days=90) < last:
            a = _day(rng, soon, last - timedelta(days=60))
            b = _day(rng, a + timedelta(days=14), min(last, a + timedelta(days=300)))
            paused = rng.choice([UnitStatus.WATCH.value, UnitStatus.UNPUBLISHED.value])
            note = ("Kreditbetyget sjönk; följs i bevakningsportföljen" if paused == UnitStatus.WATCH.value
                    else "Avpublicerad i väntan på komplettering av kontroller")
            change(a, paused, note=note)
            change(b, UnitStatus.PUBLISHED.value, note="Åtgärdat; publicerad igen")
        return out
    on = _day(rng, *_change_window(u, soon, last))
    if final == UnitStatus.REMOVED.value:
        if revoke_on is not None:
            on = min(last, revoke_on + timedelta(days=rng.randint(1, 30)))
        elif u.get("removal_reason") == "ekonomiska_brister" and soon + timedelta(days=60) < on:
            change(_day(rng, soon, on - timedelta(days=30)), UnitStatus.WATCH.value,
                   note="Kreditbetyget sjönk; följs i bevakningsportföljen")
        change(on, final, reason=u["removal_reason"], note=u.get("status_note"))
    else:
        change(on, final, note=u.get("status_note"))
    return out


def _checks(rng: random.Random, sup: dict, entered: date, as_of: date, validity: dict[str, int]) -> list[dict]:
    """Entry checks, a credit rating a year before the recent period, and checks of every kind at
    their cadence in the recent period; the latest of a kind is the generator's (its result and value)."""
    final = {c["kind"]: c for c in sup["checks"]}
    if sup["legal_form"] == "kommun":  # public bodies are not vetted as suppliers
        made = [dict(c, performed_on=(entered - timedelta(days=rng.randint(1, 20))).isoformat()) for c in sup["checks"]]
        return sorted(made, key=lambda c: (c["performed_on"], c["kind"]))
    out: list[dict] = []
    base_value = (final.get("credit_rating") or {}).get("value")

    def check(kind: str, on: date, latest: bool) -> None:
        if latest and kind in final:
            c = dict(final[kind])
        else:
            c = {"kind": kind, "result": CheckResult.PASS.value, "source": _SOURCE.get(kind)}
            if kind == "credit_rating":
                v = base_value if isinstance(base_value, int) else 70
                c["value"] = max(0, min(100, v + rng.randint(-6, 10)))
                c["result"] = "pass" if c["value"] >= 40 else "fail"
        c["performed_on"] = on.isoformat()
        out.append({k: v for k, v in c.items() if v is not None})

    for kind in ENTRY_CHECKS:
        check(kind, entered - timedelta(days=rng.randint(1, 20)), False)
    recent = as_of - timedelta(days=RECURRING_MONTHS * 30)
    for kind, days in validity.items():
        seq: list[date] = []
        # The latest: mostly within its validity, now and then lapsed.
        lapse = rng.random() < OVERDUE_SHARE
        on = as_of - timedelta(days=(days + rng.randint(5, 60)) if lapse else rng.randint(0, max(1, days - 3)))
        step = lambda: timedelta(days=max(7, days - rng.randint(0, 5)))  # noqa: E731
        if on > entered:  # the latest, whatever its cadence
            seq.append(on)
            on -= step()
        while on > max(entered, recent):
            seq.append(on)
            on -= step()
        yearly = on
        while kind == "credit_rating" and yearly > entered:
            seq.append(yearly)
            yearly -= timedelta(days=365 + rng.randint(-20, 20))
        for i, d in enumerate(sorted(seq)):
            check(kind, d, i == len(seq) - 1)
    out.sort(key=lambda c: (c["performed_on"], c["kind"]))
    return out


_SOURCE = {"credit_rating": "kreditupplysning", "tax_registration": "Skatteverket",
           "employer_registration": "Skatteverket", "enforcement_debt": "Kronofogden",
           "court_records": "Domstolsverket", "annual_report": "Bolagsverket", "warning_list": "varningslista",
           "ivo_supervision": "IVO", "media": "mediebevakning"}


def load_history(session, doc: dict, *, as_of: date, seed: int, actor: str) -> dict[str, int]:
    """Write the demo register with its past, in the caller's transaction, through
    `register.service` only. Returns counts of what was written."""
    from ..audit.params import param_table
    from ..register import service

    from ..rules import load_ruleset

    ruleset = load_ruleset()  # once, for every import of the demo's past
    validity = {str(k): int(v) for k, v in (param_table("check_validity_days", as_of) or {}).items()}
    plan = plan_history(doc, as_of=as_of, seed=seed, validity=validity)
    counts = {"history_entries": 0, "units_created": 0, "status_changes": 0, "permit_decisions": 0,
              "agreement_changes": 0, "checks": 0}
    from ..register.entry import needs_entry_check
    from ..storage.history import record_many

    for on, suppliers in plan.entries:
        # Each entry is loaded as from an earlier system: its statuses are taken (--apply-status),
        # and its units are entered as approved, which history says in so many words.
        result = service.import_document(session, {"format": doc["format"], "suppliers": suppliers}, actor=actor,
                                         source=f"demoregistret: inträden {on.isoformat()}", effective_on=on,
                                         apply_status=True, ruleset=ruleset)
        created = {c["id"] for c in result.status_changes if c["kind"] == "unit" and c["why"] == "created"}
        entered = [{"entity_kind": "entry", "entity_id": u["unit_id"], "action": "entry_approved", "effective_on": on,
                    "org_nr": s["org_nr"], "unit_id": u["unit_id"], "changes": {"demo": True},
                    "note": "demoregistret: antagen som godkänd (demodata)"}
                   for s in suppliers if needs_entry_check(s["legal_form"]) for u in s["units"] if u["unit_id"] in created]
        record_many(session, entered, actor=actor)
        counts["units_created"] += result.units_created
        counts["history_entries"] += result.history_entries + len(entered)
    run: list[dict] = []  # consecutive unit status changes, made in one many-unit call (same history, same order)
    permits: list[dict] = []  # consecutive permit decisions, recorded in one call (same rows, same history)

    def change_units() -> None:
        for made in service.change_unit_statuses(session, run, actor=actor):
            if isinstance(made, Exception):
                raise made
        counts["status_changes"] += len(run)
        run.clear()

    def record_permits() -> None:
        if permits:
            service.record_permits(session, permits, actor=actor)
            counts["permit_decisions"] += len(permits)
            permits.clear()

    for e in plan.events:
        if e.kind == "unit_status":
            record_permits()
            a = e.args
            run.append(dict(unit_id=a["unit_id"], status=a["status"], reason=a.get("reason"), note=a.get("note"),
                            effective_on=e.on))
            counts["history_entries"] += 1
            continue
        change_units()
        if e.kind == "agreement_status":
            record_permits()
            service.change_agreement_status(session, e.args["agreement_id"], e.args["status"], actor=actor,
                                            note="Beslut i avtalsuppföljningen", effective_on=e.on)
            counts["agreement_changes"] += 1
        else:
            a = e.args
            permits.append(dict(unit_id=a["unit_id"], dnr=a["dnr"], status=a["status"], decided_on=a["decided_on"],
                                insats=a.get("insats"), target_groups=a.get("target_groups")))
        counts["history_entries"] += 1
    record_permits()
    change_units()
    # Every check, with its own date: one import of the suppliers' check lists, the suppliers as
    # the register has them and in its order (as an export lists them). Their units are left out:
    # they are not changed by it, and a unit not in a file is kept as the register has it.
    from sqlalchemy import select

    from ..storage.models import Supplier

    current = {"format": doc["format"], "suppliers": []}
    for org_nr, name, legal_form in session.execute(
            select(Supplier.org_nr, Supplier.name, Supplier.legal_form).order_by(Supplier.id)):
        s = {"org_nr": org_nr, "name": name, "legal_form": legal_form, "units": []}
        if org_nr in plan.checks:  # a key left out keeps the register's
            s["checks"] = plan.checks[org_nr]
            counts["checks"] += len(s["checks"])
        current["suppliers"].append(s)
    result = service.import_document(session, current, actor=actor, source="demo register: checks",
                                     effective_on=as_of, ruleset=ruleset)
    counts["history_entries"] += result.history_entries
    return counts

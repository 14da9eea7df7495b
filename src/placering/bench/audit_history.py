"""The audit benchmark: a national-size register with years of synthetic history, written in
bulk, and the time `audit paused --as-of` takes on it for several dates.

The history follows the register's vocabulary exactly (docs/ARCHITECTURE.md), so the audit
reads it the way it reads real history. Rates are shaped by the sources, scaled per unit:
Göteborg removed 105 of about 900 operations in 2022 (about 12 % a year), kept a watch
portfolio, had ten framework suppliers on order stop at the turn of 2024/25 and IVO closed 18
operations; statuses move along published → watch → unpublished → removed, and back.
"""

from __future__ import annotations

import random
import statistics
import time
import tracemalloc
from datetime import date, timedelta
from typing import Any, Callable

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine

from ..errors import ValidationError
from ..demo import DEMO_SEED, month_start_after, generate_register
from ..register.service import import_document
from ..storage import open_session, transaction
from ..storage.database import chunks
from ..storage.models import History, Permit, Unit, UnitRoute, utcnow
from ..audit.paused import paused
from ..i18n import msg

ACTOR_QUALITY = ("anna.kvalitet", "bertil.kontroll", "cecilia.kontroll")
ACTOR_INK = ("ink.upphandlare", "ink.avtalsansvarig")
ACTOR_IVO = "ivo.bevakning"
# 2022 removal reasons (Nordost annual report): the mix removals are drawn from.
REMOVAL_MIX = {
    "osannolik_anvandning": 36, "avvecklad": 27, "ekonomiska_brister": 14, "ivo": 11,
    "rekommendationsstopp": 8, "fortida_upphorande": 7, "avradan_annan_myndighet": 2,
}
# Monthly transition probabilities per unit status (a Markov chain over the register statuses).
# Per year this gives roughly 10 % of units a watch episode and 12 % removed, as in Göteborg 2022.
TRANSITIONS = {
    "published": [("watch", 0.008), ("unpublished", 0.0015), ("recommendation_stop", 0.001), ("removed", 0.002)],
    "watch": [("published", 0.12), ("unpublished", 0.04), ("removed", 0.01)],
    "unpublished": [("published", 0.08), ("removed", 0.05)],
    "recommendation_stop": [("removed", 0.08), ("published", 0.04)],
    "removed": [],
}
AGREEMENT_MONTHLY = {"active": [("order_stop", 0.003), ("terminated", 0.0005)],
                     "order_stop": [("active", 0.08), ("terminated", 0.04)], "terminated": []}
PERMIT_REVOKE_MONTHLY = 0.0015
PERMIT_RENEW_MONTHLY = 0.008


def _history_row(**kw: Any) -> dict[str, Any]:
    row = {"at": None, "org_nr": None, "unit_id": None, "reason": None, "note": None, "rule_id": None,
           "rules_version": None}
    row.update(kw)
    return row


def synthetic_history(session, start: date, end: date, *, seed: int) -> dict[str, int]:
    """Status changes, agreement changes and permit decisions from `start` to `end`, month by
    month, written in bulk; the register's status columns end where the history ends."""
    rng = random.Random(seed)
    units = session.execute(select(Unit.id, Unit.unit_id, Unit.status)).all()
    org_of = dict(session.execute(
        select(Unit.unit_id, History.org_nr).join(History, (History.entity_id == Unit.unit_id)
                                                   & (History.entity_kind == "unit")
                                                   & (History.action == "created"))).all())
    direct_units = {uid for (uid,) in session.execute(
        select(Unit.unit_id).join(UnitRoute, UnitRoute.unit_id == Unit.id)
        .where(UnitRoute.route == "direktupphandling").distinct())}
    agreements = {aid: status for aid, status in session.execute(
        select(UnitRoute.agreement_id, UnitRoute.status).where(UnitRoute.route == "ramavtal")
        .where(UnitRoute.agreement_id.is_not(None)).distinct())}
    agreement_org = dict(session.execute(
        select(UnitRoute.agreement_id, func.min(History.org_nr)).join(Unit, Unit.id == UnitRoute.unit_id)
        .join(History, (History.entity_id == Unit.unit_id) & (History.entity_kind == "unit")
              & (History.action == "created"))
        .where(UnitRoute.agreement_id.is_not(None)).group_by(UnitRoute.agreement_id)).all())
    permits = session.execute(
        select(Permit.id, Permit.dnr, Permit.insats, Permit.status, Unit.unit_id)
        .join(Unit, Unit.id == Permit.unit_id)).all()
    status = {uid: st for _, uid, st in units}
    pk_of = {uid: pk for pk, uid, _ in units}
    a_status = dict(agreements)
    p_status = {pid: st for pid, _, _, st, _ in permits}
    reasons = list(REMOVAL_MIX)
    weights = list(REMOVAL_MIX.values())
    rows: list[dict[str, Any]] = []
    counts = {"unit_status": 0, "agreement_status": 0, "permit": 0}

    def day_in(month_start: date) -> date:
        last = month_start_after(month_start, 1) - timedelta(days=1)
        return min(month_start + timedelta(days=rng.randrange((last - month_start).days + 1)), end)

    month = month_start_after(start, 1)
    while month <= end:
        for _, uid, _ in units:
            old = status[uid]
            r = rng.random()
            acc = 0.0
            for new, p in TRANSITIONS[old]:
                acc += p
                if r < acc:
                    if new == "recommendation_stop" and uid not in direct_units:
                        break
                    on = day_in(month)
                    reason = note = None
                    if new == "removed":
                        reason = rng.choices(reasons, weights)[0]
                        note = "Samlad bedömning (syntetisk historik)"
                    elif new in ("watch", "unpublished"):
                        note = "Kreditbetyg under nivån (syntetisk historik)"
                    rows.append(_history_row(
                        effective_on=on, actor=rng.choice(ACTOR_QUALITY), entity_kind="unit", entity_id=uid,
                        action="status", org_nr=org_of.get(uid), unit_id=uid,
                        changes={"status": [old, new]}, reason=reason, note=note))
                    status[uid] = new
                    counts["unit_status"] += 1
                    break
        for aid in agreements:
            old = a_status[aid]
            r = rng.random()
            acc = 0.0
            for new, p in AGREEMENT_MONTHLY[old]:
                acc += p
                if r < acc:
                    rows.append(_history_row(
                        effective_on=day_in(month), actor=rng.choice(ACTOR_INK), entity_kind="agreement",
                        entity_id=aid, action="agreement_status", org_nr=agreement_org.get(aid),
                        changes={"status": [old, new]}, note="Beställningsstopp efter uppföljning (syntetisk)"))
                    a_status[aid] = new
                    counts["agreement_status"] += 1
                    break
        for pid, dnr, insats, _, uid in permits:
            old = p_status[pid]
            r = rng.random()
            if old == "active" and r < PERMIT_REVOKE_MONTHLY:
                new = "revoked"
            elif r < PERMIT_RENEW_MONTHLY and old in ("revoked", "expired"):
                new = "active"
            else:
                continue
            on = day_in(month)
            rows.append(_history_row(
                effective_on=on, actor=ACTOR_IVO, entity_kind="permit", entity_id=dnr, action="permit",
                org_nr=org_of.get(uid), unit_id=uid,
                changes={"status": [old, new], "insats": insats, "decided_on": on.isoformat()}))
            p_status[pid] = new
            counts["permit"] += 1
        month = month_start_after(month, 1)

    now = utcnow()
    for r in rows:
        r["at"] = now
    for batch in chunks(rows, 5000):
        session.execute(insert(History), batch)
    # The status columns end where the history ends, so the register stays coherent.
    last_change: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["entity_kind"] == "unit":
            last_change[r["entity_id"]] = r
    changed = [{"id": pk_of[uid], "status": status[uid], "removal_reason": r["reason"], "status_note": r["note"]}
               for uid, r in last_change.items()]
    for batch in chunks(changed, 5000):
        session.execute(update(Unit), batch)
    for aid, st in a_status.items():
        if st != agreements[aid]:
            session.execute(update(UnitRoute).where(UnitRoute.agreement_id == aid).values(status=st))
    p_changed = [{"id": pid, "status": st} for pid, st in p_status.items()]
    for batch in chunks(p_changed, 5000):
        session.execute(update(Permit), batch)
    counts["history_entries"] = len(rows)
    return counts


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], list[float], Any]:
    """Wall and CPU seconds of each run: on a shared machine the wall time includes waiting for
    the CPU, so both are reported."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus, result


def history_start(end: date, years: int) -> date:
    """The first day of `years` whole years of history ending on `end`."""
    try:
        return date(end.year - years, end.month, end.day) + timedelta(days=1)
    except ValueError:  # 29 February
        return date(end.year - years, 3, 1)


def build(engine: Engine, units: int, years: int, *, end: date, seed: int = DEMO_SEED,
          progress: Callable[[str], None] = lambda _msg: None) -> dict[str, Any]:
    """Import a `units`-unit demo register dated `years` years before `end`, then add the
    synthetic history up to `end`. Refuses a database that already holds a register."""
    with open_session(engine) as s:
        present = s.scalar(select(func.count()).select_from(Unit))
    if present:
        raise ValidationError(msg("bench.database_not_empty", n=present))
    start = history_start(end, years)
    out: dict[str, Any] = {"history_from": start, "history_to": end}
    progress(f"generating a {units}-unit register")
    t0 = time.perf_counter()
    doc = generate_register(units, seed=seed, as_of=end)
    out["generate_seconds"] = round(time.perf_counter() - t0, 2)
    progress("importing it")
    t0 = time.perf_counter()
    with transaction(engine) as s:
        summary = import_document(s, doc, actor="benchmark", source="bench audit", effective_on=start,
                                  apply_status=True)  # a register loaded from an earlier system
    out["import_seconds"] = round(time.perf_counter() - t0, 2)
    out["units"] = summary.units_created
    progress(f"writing {years} years of history in bulk")
    t0 = time.perf_counter()
    with transaction(engine) as s:
        out.update(synthetic_history(s, start, end, seed=seed))
    out["history_seconds"] = round(time.perf_counter() - t0, 2)
    return out


def time_paused(engine: Engine, dates: list[date], *, repeat: int = 3) -> list[dict[str, Any]]:
    """Median and best wall time, and median CPU time of this process (the database server's
    work on the same machine is in the wall time only), of `paused(as_of)` per date (the
    library call the CLI makes), with the size of the answer and the Python peak memory of one
    run."""
    rows = []
    for d in dates:
        def once():
            with open_session(engine) as s:
                return paused(s, d)
        once()  # warm the database cache and the import machinery: steady-state figures
        times, cpus, report = _timed(once, repeat)
        tracemalloc.start()
        once()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({"as_of": d, "median_ms": round(statistics.median(times) * 1000, 1),
                     "best_ms": round(min(times) * 1000, 1),
                     "cpu_median_ms": round(statistics.median(cpus) * 1000, 1), "paused": len(report.paused),
                     "watch": len(report.watch), "peak_python_mb": round(peak / 2**20, 1)})
    return rows


def history_size(engine: Engine) -> dict[str, int]:
    with open_session(engine) as s:
        total = s.scalar(select(func.count()).select_from(History))
        units = s.scalar(select(func.count()).select_from(Unit))
        status_entries = s.scalar(select(func.count()).select_from(History).where(
            History.entity_kind.in_(("unit", "agreement"))))
    return {"history_entries": total, "units": units, "unit_and_agreement_entries": status_entries}


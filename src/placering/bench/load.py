"""`placering bench load`: K processes × M mixed operations on one database at once (match,
choose, decline, unit status change, check), each through the library function its command
uses, in its own transaction. Prints operations per second, conflicts (refused by an invariant:
no free place, already decided), retries (serialization failures and deadlocks re-run), busy
refusals (SQLite) and errors; then checks the register for consistency: every unit's free
places went down by exactly the places of the placements made, never below zero; every
successful write left exactly one history entry; each unit's status history is one unbroken
chain ending in its current status (no lost update). Figures are printed, never asserted."""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import time
import uuid
from collections import Counter, defaultdict
from datetime import date
from typing import Any

import click
from sqlalchemy import func, select

from ..clock import today
from ..cli.common import CliError, app, json_option, print_json, print_table, wants_json
from ..storage import transaction
from ..storage.database import DatabaseBusy, database_url, make_engine, run_transaction
from .group import bench
from ..i18n import msg

KINDS = ("match", "choose", "decline", "status", "check")
MIX = {"match": 30, "choose": 25, "decline": 15, "status": 15, "check": 15}
HOT_UNITS = 4  # status changes go to a few units, so maintainers collide on them


def _setup(engine, units: int, seed: int) -> dict[str, Any]:
    """Load a demo register of `units` units when the database has none; pick the hot units."""
    from ..register.service import import_document
    from ..storage.models import Supplier, Unit

    with transaction(engine) as s:
        if not s.scalar(select(func.count()).select_from(Unit)):
            from ..demo import generate_register

            import_document(s, generate_register(units, seed=seed), actor="bench-load", source="bench load")
    with transaction(engine) as s:
        hot = list(s.scalars(select(Unit.unit_id).where(Unit.status.in_(("published", "watch")))
                             .order_by(Unit.unit_id).limit(HOT_UNITS)))
        orgs = list(s.scalars(select(Supplier.org_nr).order_by(Supplier.org_nr).limit(20)))
        free = dict(s.execute(select(Unit.unit_id, Unit.free_places)).all())
    return {"hot": hot, "orgs": orgs, "free": free}


def _worker(args: tuple) -> dict[str, Any]:
    url, proc, ops, seed, tag, setup, requests = args
    from ..errors import InvariantViolation, NotFound, ValidationError
    from ..matching.decisions import choose, decline
    from ..matching.decisions import match_request
    from ..matching.matcher import MatchContext
    from ..matching.request import validate_request
    from ..register.service import change_unit_status, get_unit, record_check
    from ..rules import load_ruleset

    rng = random.Random(seed * 1000 + proc)
    engine = make_engine(url)
    ruleset = load_ruleset(None)
    counts: dict[str, Counter] = defaultdict(Counter)
    latency: dict[str, list[float]] = defaultdict(list)
    matched: list[tuple[str, list[str], date]] = []  # (request id, recommended units, submitted)
    placed: dict[str, int] = Counter()  # unit -> places taken by this process
    examples: dict[str, dict[str, int]] = defaultdict(dict)  # conflict messages by shape
    pool = iter(requests)
    actor = f"bench-{proc}"

    def retried(_exc) -> None:
        counts[kind]["retries"] += 1

    for _ in range(ops):
        started = time.perf_counter()  # a match's time includes loading the register's facts
        kind = rng.choices(KINDS, weights=[MIX[k] for k in KINDS])[0]
        if kind in ("choose", "decline") and not matched:
            kind = "match"
        work = None
        if kind == "match":
            raw = next(pool, None)
            if raw is None:
                kind = "status"
            else:
                req = validate_request(raw)
                # as `placering match` does: the register's facts first (a stored snapshot, built
                # and stored when the register changed), then the decision in its own transaction
                ctx = MatchContext.load(engine, engine="reference", ruleset=ruleset)

                def work(s, req=req, ctx=ctx):
                    doc, _decided = match_request(s, req, context=ctx, actor=actor)
                    return req.request_id, [r["unit_id"] for r in doc["recommendations"]], req.submitted_on
        if kind in ("choose", "decline"):
            rid, units, on = matched[rng.randrange(len(matched))]
            if not units:  # nothing was recommended for it: nothing to choose or decline
                counts[kind]["skipped"] += 1
                continue
            unit = units[0] if kind == "choose" else rng.choice(units)
            if kind == "choose":
                def work(s, rid=rid, unit=unit, on=on):
                    p = choose(s, rid, unit, actor=actor, on=on, ruleset=ruleset)
                    return p.unit_id, p.places
            else:
                def work(s, rid=rid, unit=unit, units=units):
                    decline(s, rid, unit, reason="ingen plats ändå", actor=actor)
                    return units, unit
        if kind == "status":
            unit = rng.choice(setup["hot"])

            def work(s, unit=unit):
                current = get_unit(s, unit, lock=True).status  # decided on the locked value
                target = "watch" if current == "published" else "published"
                change_unit_status(s, unit, target, actor=actor, note="bench load")
        if kind == "check":
            org = rng.choice(setup["orgs"])

            def work(s, org=org):
                record_check(s, org, "credit_rating", "pass", value=rng.randint(50, 90),
                             performed_on=today(), actor=actor, source="bench load")
        try:
            result = run_transaction(engine, work, on_retry=retried)
            counts[kind]["ok"] += 1
            if kind == "match":
                matched.append(result)
            elif kind == "choose":
                placed[result[0]] += result[1]
                matched[:] = [m for m in matched if m[0] != rid]  # placed: done with it
            elif kind == "decline":
                result[0].remove(result[1])  # this process does not choose a unit that declined
        except (InvariantViolation, NotFound) as exc:
            counts[kind]["conflicts"] += 1
            examples[kind].setdefault(_shape(str(exc)), 0)
            examples[kind][_shape(str(exc))] += 1
        except DatabaseBusy:
            counts[kind]["busy"] += 1
        except ValidationError:
            counts[kind]["errors"] += 1
        except Exception as exc:  # a failure of the benchmark itself is reported, not hidden
            counts[kind]["errors"] += 1
            counts[kind]["error:" + type(exc).__name__] += 1
        latency[kind].append(time.perf_counter() - started)
    engine.dispose()
    return {"counts": {k: dict(v) for k, v in counts.items()}, "latency": dict(latency), "placed": dict(placed),
            "conflicts": dict(examples)}


def _shape(message: str) -> str:
    """A conflict message with its ids and numbers left out, to count conflicts by kind."""
    return re.sub(r"'[^']*'|\b[A-Z]+-[\w-]+|\d+", "…", message)[:90]


def _consistency(engine, before: dict[str, int], placed: Counter, ok: Counter, first_id: int) -> list[dict[str, Any]]:
    from ..storage.models import History, Placement, Unit

    out = []
    with transaction(engine) as s:
        units = dict(s.execute(select(Unit.unit_id, Unit.free_places)).all())
        statuses = dict(s.execute(select(Unit.unit_id, Unit.status)).all())
        taken = Counter(dict(s.execute(select(Placement.unit_id, func.sum(Placement.places))
                                       .where(Placement.by.like("bench-%")).group_by(Placement.unit_id)).all()))
        wrong = [u for u, f in units.items() if f != before.get(u, f) - taken.get(u, 0)]
        negative = [u for u, f in units.items() if f < 0]
        out.append({"check": "free places = before − places of the placements made", "ok": not wrong,
                    "detail": f"{len(units)} units; differing: {', '.join(sorted(wrong)[:5]) or 'none'}"})
        out.append({"check": "free places never below zero", "ok": not negative,
                    "detail": f"negative: {', '.join(negative) or 'none'}"})
        out.append({"check": "placements seen by the processes = placements stored",
                    "ok": sum(placed.values()) == sum(taken.values()),
                    "detail": f"{sum(placed.values())} reported, {sum(taken.values())} stored"})
        actions = Counter(dict(s.execute(
            select(History.action, func.count()).where(History.id >= first_id, History.actor.like("bench-%"),
                                                       History.rule_id.is_(None))
            .group_by(History.action)).all()))
        expected = {"matched": ok["match"], "chosen": ok["choose"], "declined": ok["decline"],
                    "status": ok["status"], "check": ok["check"]}
        bad = {a: (n, actions.get(a, 0)) for a, n in expected.items() if actions.get(a, 0) != n}
        out.append({"check": "one history entry per successful write", "ok": not bad,
                    "detail": ", ".join(f"{a} {actions.get(a, 0)}" for a in expected)
                    + (f"; expected {bad}" if bad else "")})
        broken = []
        for unit in {e.entity_id for e in s.scalars(select(History).where(
                History.id >= first_id, History.action == "status", History.entity_kind == "unit"))}:
            chain = [h.changes["status"] for h in s.scalars(select(History).where(
                History.entity_kind == "unit", History.entity_id == unit, History.id >= first_id,
                History.action == "status").order_by(History.id))]
            if any(a[1] != b[0] for a, b in zip(chain, chain[1:])) or chain[-1][1] != statuses[unit]:
                broken.append(unit)
        out.append({"check": "status history an unbroken chain ending in the unit's status (no lost update)",
                    "ok": not broken, "detail": f"broken: {', '.join(broken) or 'none'}"})
    return out


@bench.command("load")
@click.option("--processes", type=click.IntRange(1, 64), default=8, show_default=True, help="Concurrent processes (K).")
@click.option("--ops", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="Operations per process (M).")
@click.option("--units", type=click.IntRange(11, 20_000), default=120, show_default=True,
              help="Size of the demo register loaded when the database has no units.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the operation mix.")
@json_option
def load_cmd(processes: int, ops: int, units: int, seed: int, json_output: bool) -> None:
    """Run K processes × M mixed operations at once on --db and check consistency afterwards."""
    from ..demo import generate_requests
    from ..storage.models import History

    url = database_url(app().db_url)
    engine = app().engine()
    setup = _setup(engine, units, seed)
    with transaction(engine) as s:
        first_id = (s.scalar(select(func.max(History.id))) or 0) + 1
    tag = uuid.uuid4().hex[:6]
    reqs = generate_requests(processes * ops, seed=seed)
    per_proc = []
    for p in range(processes):
        mine = []
        for i, r in enumerate(reqs[p::processes]):
            mine.append(dict(r, request_id=f"LOAD-{tag}-{p}-{i}"))
        per_proc.append((url, p, ops, seed, tag, setup, mine))
    engine.dispose()
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    started = time.perf_counter()
    with multiprocessing.get_context(method).Pool(processes) as pool:
        results = pool.map(_worker, per_proc)
    seconds = time.perf_counter() - started
    counts: dict[str, Counter] = defaultdict(Counter)
    latencies: dict[str, list[float]] = defaultdict(list)
    placed: Counter = Counter()
    conflict_kinds: Counter = Counter()
    for r in results:
        for k, c in r["counts"].items():
            counts[k].update(c)
        for k, lat in r["latency"].items():
            latencies[k].extend(lat)
        placed.update(r["placed"])
        for k, shapes in r["conflicts"].items():
            for shape, n in shapes.items():
                conflict_kinds[f"{k}: {shape}"] += n
    ok = Counter({k: counts[k]["ok"] for k in KINDS})
    checks = _consistency(engine, setup["free"], placed, ok, first_id)
    rows = []
    for k in KINDS:
        lat = sorted(latencies.get(k, []))
        pct = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 1)) if lat else (lambda q: None)
        rows.append({"operation": k, "done": len(lat), "ok": counts[k]["ok"], "conflicts": counts[k]["conflicts"],
                     "retries": counts[k]["retries"], "busy": counts[k]["busy"], "errors": counts[k]["errors"],
                     "skipped": counts[k]["skipped"],
                     "p50_ms": pct(0.5), "p95_ms": pct(0.95)})
        for key, n in counts[k].items():
            if key.startswith("error:"):
                rows[-1].setdefault("error_kinds", {})[key[6:]] = n
    total = sum(r["done"] for r in rows)
    result = {"database": engine.dialect.name, "processes": processes, "ops_per_process": ops,
              "seconds": round(seconds, 2), "ops_per_second": round(total / seconds, 1), "operations": rows,
              "consistency": checks, "conflict_kinds": dict(conflict_kinds.most_common()), "cpus": os.cpu_count()}
    if wants_json(json_output):
        print_json(result)
    else:
        click.echo(f"{engine.dialect.name}: {processes} processes × {ops} operations = {total} in "
                   f"{seconds:.1f} s: {result['ops_per_second']} operations/s ({os.cpu_count()} CPUs)")
        print_table(rows, [("operation", "Operation"), ("done", "Done"), ("ok", "OK"), ("conflicts", "Conflicts"),
                           ("retries", "Retries"), ("busy", "Busy"), ("errors", "Errors"), ("skipped", "Skipped"), ("p50_ms", "p50 ms"),
                           ("p95_ms", "p95 ms")])
        if conflict_kinds:
            print_table([{"conflict": k, "n": n} for k, n in conflict_kinds.most_common()],
                        [("conflict", "Conflict (ids left out)"), ("n", "Count")])
        print_table([dict(c, ok="yes" if c["ok"] else "NO") for c in checks],
                    [("check", "Consistency check"), ("ok", "OK"), ("detail", "Detail")])
    if not all(c["ok"] for c in checks):
        raise CliError(msg("bench.inconsistent"), 1)

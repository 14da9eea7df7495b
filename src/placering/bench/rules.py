"""`placering bench rules`: the rules engine's own figures: strict loading, the rule tests, the
reference evaluator per request at a register size, and register-status rules per recorded
event (through a throwaway SQLite database, never the user's). Figures are printed, not asserted."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import click

from .group import bench
from ..cli.common import json_option, print_json, print_table, wants_json


def _ms(values: list[float]) -> dict:
    values = sorted(values)
    return {"median_ms": round(statistics.median(values) * 1e3, 3),
            "p99_ms": round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1e3, 3),
            "n": len(values)}


@bench.command("rules")
@click.option("--units", type=click.IntRange(min=11), default=20000, show_default=True,
              help="Register size for the reference evaluator.")
@click.option("--requests", "n_requests", type=click.IntRange(min=1), default=300, show_default=True,
              help="Requests evaluated (the 2024 category mix).")
@click.option("--event-units", type=click.IntRange(min=11), default=900, show_default=True,
              help="Register size in the throwaway database for the register-event figures.")
@click.option("--events", type=click.IntRange(min=1), default=150, show_default=True,
              help="Register events recorded (checks, permit decisions, complaints).")
@json_option
def bench_rules(units: int, n_requests: int, event_units: int, events: int, json_output: bool) -> None:
    """Time loading the rules, running the rule tests, evaluating requests with the reference
    evaluator, and applying register-status rules to recorded events."""
    from ..paths import rules_dir
    from ..demo import generate_register, generate_requests
    from ..rules.facts import RegisterSnapshot, request_fact
    from ..rules.loader import load_directory
    from ..rules.reference import ReferenceEvaluator
    from ..rules.ruleset import load_ruleset
    from ..rules.testing import load_cases, run_rule_tests
    from ..taxonomy import load_taxonomy

    out: dict = {}
    log = (lambda msg: None) if wants_json(json_output) else (lambda msg: click.echo(msg, err=True))
    t = time.perf_counter()
    load_directory(rules_dir())
    out["load_rules_ms"] = round((time.perf_counter() - t) * 1e3, 1)
    ruleset = load_ruleset()
    cases = load_cases(rules_dir() / "tests")
    t = time.perf_counter()
    results = run_rule_tests(rules_dir(), ruleset=ruleset, cases=cases)
    out["rule_tests"] = {"cases": len(results), "failed": sum(not r.passed for r in results),
                         "seconds": round(time.perf_counter() - t, 2)}

    log(f"generating a register of {units} units")
    doc = generate_register(units)
    t = time.perf_counter()
    snap = RegisterSnapshot.from_document(doc, on=date(2024, 9, 1))
    out["snapshot_seconds"] = round(time.perf_counter() - t, 2)
    ev = ReferenceEvaluator(ruleset)
    ev.load(snap)
    tax = load_taxonomy()
    reqs = generate_requests(n_requests)
    facts = [(request_fact(r, snap, tax), date.fromisoformat(str(r["submitted_on"]))) for r in reqs]
    ev.evaluate(facts[0][0], on=facts[0][1])  # compile once before timing
    log(f"evaluating {len(facts)} requests")
    times, cands, reasons = [], 0, 0
    for rf, on in facts:
        t = time.perf_counter()
        result = ev.evaluate(rf, on=on)
        times.append(time.perf_counter() - t)
        cands += len(result.candidates)
        reasons += sum(len(c.exclusions) for c in result.candidates)
    out["reference_evaluate"] = {**_ms(times), "units": units, "candidates_per_request": round(cands / len(facts)),
                                 "exclusions_per_request": round(reasons / len(facts))}
    t = time.perf_counter()
    for rf, on in facts[:50]:
        for c in ev.evaluate(rf, on=on).candidates:
            for r in c.exclusions:
                r.message  # noqa: B018 (formatting every explanation, as a full decision document does)
    out["reference_evaluate_with_explanations"] = {"mean_ms": round((time.perf_counter() - t) / 50 * 1e3, 3)}
    out["register_event"] = _events(event_units, events, log)
    if wants_json(json_output):
        print_json(out)
        return
    rows = [
        {"what": "load and validate rules/ (uncached)", "figure": f"{out['load_rules_ms']} ms"},
        {"what": f"rule tests ({out['rule_tests']['cases']} cases, {out['rule_tests']['failed']} failed)",
         "figure": f"{out['rule_tests']['seconds']} s"},
        {"what": f"register snapshot, {units} units", "figure": f"{out['snapshot_seconds']} s"},
        {"what": f"reference evaluate, {units} units ({out['reference_evaluate']['candidates_per_request']} "
                 f"candidates/request)",
         "figure": f"median {out['reference_evaluate']['median_ms']} ms, p99 {out['reference_evaluate']['p99_ms']} ms"},
        {"what": "… with every exclusion's message formatted",
         "figure": f"mean {out['reference_evaluate_with_explanations']['mean_ms']} ms"},
    ]
    for kind, fig in out["register_event"]["per_kind"].items():
        rows.append({"what": f"register event: {kind} + rules ({event_units} units, SQLite)",
                     "figure": f"median {fig['median_ms']} ms, p99 {fig['p99_ms']} ms"})
    rows.append({"what": "rules applied", "figure": ", ".join(f"{k} {v}" for k, v in
                                                              sorted(out["register_event"]["applied"].items()))})
    print_table(rows, [("what", "Measured"), ("figure", "Figure")], title=f"Rules engine (version {ruleset.version})")


def _events(units: int, count: int, log) -> dict:
    """Record checks, permit decisions and complaints with their rules in a throwaway database."""
    from sqlalchemy import select

    from ..register import service
    from ..demo import generate_register
    from ..rules.register_status import apply_register_event
    from ..storage import make_engine, transaction, upgrade
    from ..storage.models import Permit, Supplier, Unit

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        log(f"importing {units} units into a throwaway database")
        with transaction(engine) as session:
            service.import_document(session, generate_register(units), actor="bench", source="bench",
                                    effective_on=date(2024, 1, 1), apply_status=True)
        with transaction(engine) as session:
            orgs = list(session.scalars(select(Supplier.org_nr)))
            permits = [(u, dnr, ins) for u, dnr, ins in session.execute(
                select(Unit.unit_id, Permit.dnr, Permit.insats).join(Permit, Permit.unit_id == Unit.id))]
            unit_ids = list(session.scalars(select(Unit.unit_id)))
        per_kind: dict[str, list[float]] = {"check": [], "permit": [], "complaint": []}
        applied: dict[str, int] = {}
        day = date(2024, 2, 1)
        log(f"recording {count} events")
        for i in range(count):
            kind = ("check", "complaint", "check", "permit")[i % 4]
            day += timedelta(days=1)
            t = time.perf_counter()
            with transaction(engine) as session:
                if kind == "check":
                    org = rng.choice(orgs)
                    ck, result, value = rng.choice([("credit_rating", "pass", rng.randint(5, 90)),
                                                    ("tax_registration", "fail", None),
                                                    ("credit_rating", "unavailable", None)])
                    row = service.record_check(session, org, ck, result, performed_on=day, actor="bench", value=value)
                    event = {"kind": "check", "org_nr": org, "check_id": row.id, "check": {
                        "kind": ck, "result": result, "value": value, "performed_on": day}}
                elif kind == "permit" and permits:
                    unit_id, dnr, insats = permits.pop(rng.randrange(len(permits)))
                    row = service.record_permit(session, unit_id, dnr=dnr, status="revoked", decided_on=day,
                                                actor="bench")
                    event = {"kind": "permit", "unit_id": unit_id, "permit": {
                        "dnr": dnr, "status": "revoked", "insats": insats, "target_groups": row.target_groups,
                        "decided_on": day}}
                else:
                    kind = "complaint"
                    unit_id = rng.choice(unit_ids[:40])  # a few units collect several complaints
                    service.record_complaint(session, unit_id, received_on=day, category="treatment", actor="bench")
                    event = {"kind": "complaint", "unit_id": unit_id, "received_on": day}
                for a in apply_register_event(session, event, actor="bench"):
                    applied[a.action] = applied.get(a.action, 0) + 1
            per_kind[kind].append(time.perf_counter() - t)
        engine.dispose()
    return {"units": units, "per_kind": {k: _ms(v) for k, v in per_kind.items() if v}, "applied": applied}

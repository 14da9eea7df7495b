"""Benchmark of the rules engine: load the register into durable-rules, evaluate requests with
both evaluators, apply register events, and watch memory over many evaluations.

Figures are measured and printed (`placering bench engine`), never asserted.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import time
from datetime import date
from typing import Callable

from ..demo import generate_register, generate_requests
from ..taxonomy import load_taxonomy
from ..rules.durable_engine import DurableEvaluator
from ..rules.facts import RegisterSnapshot, request_fact
from ..rules.reference import ReferenceEvaluator
from ..rules.ruleset import RuleSet, load_ruleset

AS_OF = date(2024, 12, 31)


def rss_mb() -> float:
    """Current resident set size of this process (not the peak)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _ms(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered) * 1000, 2),
            "p99_ms": round(p99 * 1000, 2), "max_ms": round(ordered[-1] * 1000, 2)}


def _world(units: int, requests: int, ruleset: RuleSet):
    doc = generate_register(units=units)
    snap = RegisterSnapshot.from_document(doc, on=AS_OF)
    tax = load_taxonomy()
    facts = [(request_fact(q, snap, tax), date.fromisoformat(q["submitted_on"]))
             for q in generate_requests(requests)]
    return snap, facts


def run(units: int = 20000, requests: int = 100, events: int = 200, evaluations: int = 100_000,
        memory_units: int = 1000, recycle_matches: int = 4_000_000,
        progress: Callable[[str], None] = lambda msg: None) -> dict:
    ruleset = load_ruleset()
    out: dict = {"units": units, "rules_version": ruleset.version}

    # -- memory over many evaluations -----------------------------------------------------------------
    progress(f"memory: {evaluations} decisions on a {memory_units}-unit register")
    msnap, mreqs = _world(memory_units, 200, ruleset)
    engine = DurableEvaluator(ruleset, recycle_matches=recycle_matches)
    engine.load(msnap)
    # After 1,000, then every tenth of the run: recycling makes RSS a sawtooth with a ceiling.
    checkpoints = sorted({1000, evaluations} | {evaluations * k // 10 for k in range(1, 10)})
    memory = []
    t = time.perf_counter()
    for i in range(1, evaluations + 1):
        rf, on = mreqs[i % len(mreqs)]
        engine.decide(rf, on=on)
        if i in checkpoints:
            memory.append({"evaluations": i, "rss_mb": rss_mb(), "recycles": engine.recycles})
            progress(f"{i} decisions: RSS {memory[-1]['rss_mb']} MB, {engine.recycles} recycles")
    elapsed = time.perf_counter() - t
    engine.close()
    out["memory"] = {"units": memory_units, "candidates": len(msnap), "recycle_matches": recycle_matches,
                     "checkpoints": memory, "decision_mean_ms": round(elapsed / evaluations * 1000, 3)}
    del engine, msnap, mreqs
    gc.collect()

    progress(f"building the demo register ({units} units) and {requests} requests")
    t = time.perf_counter()
    snap, reqs = _world(units, requests, ruleset)
    out["register_facts_seconds"] = round(time.perf_counter() - t, 2)
    out["candidates"] = len(snap)
    out["insatser"] = {k: len(v) for k, v in sorted(snap.by_insats.items())}

    # -- load into the engine -----------------------------------------------------------------
    progress("loading the register into durable-rules")
    durable = DurableEvaluator(ruleset, recycle_matches=recycle_matches)
    rss0 = rss_mb()
    t = time.perf_counter()
    durable.load(snap)
    days = sorted({on for _, on in reqs})
    for on in (days[0], days[-1]):  # both rule-version sets of the year are compiled and loaded
        for insats in snap.by_insats:
            durable._ensure_session(durable._compiled_for(on), insats)
    out["durable_load_seconds"] = round(time.perf_counter() - t, 2)
    out["durable_rulesets"] = len(durable._compiled)
    out["durable_load_rss_mb"] = round(rss_mb() - rss0, 1)
    reference = ReferenceEvaluator(ruleset)
    reference.load(snap)

    # -- requests: both evaluators on the same work -------------------------------------------------
    progress(f"evaluating {len(reqs)} requests with both evaluators")
    times: dict[str, list[float]] = {"reference": [], "durable": [], "durable_decision": []}
    disagreements = 0
    for rf, on in reqs:
        t = time.perf_counter()
        a = reference.evaluate(rf, on=on)
        times["reference"].append(time.perf_counter() - t)
        t = time.perf_counter()
        b = durable.evaluate(rf, on=on)
        times["durable"].append(time.perf_counter() - t)
        t = time.perf_counter()
        durable.decide(rf, on=on)
        times["durable_decision"].append(time.perf_counter() - t)
        if [(c.exclusions, c.flags, c.unevaluable) for c in a.candidates] != \
                [(c.exclusions, c.flags, c.unevaluable) for c in b.candidates] or a.request_flags != b.request_flags:
            disagreements += 1
    out["requests"] = {k: _ms(v) for k, v in times.items()}
    out["disagreements"] = disagreements
    per_insats: dict[str, list[float]] = {}
    for (rf, _), s in zip(reqs, times["durable_decision"]):
        per_insats.setdefault(rf["insats"], []).append(s)
    out["durable_decision_by_insats"] = {
        k: {"candidates": len(snap.candidates(k)), **_ms(v)} for k, v in sorted(per_insats.items())}

    # -- register events ------------------------------------------------------------------------------
    progress(f"applying {events} register events (status changes)")
    rng = random.Random(11)
    unit_ids = sorted({c["unit"]["unit_id"] for cands in snap.by_insats.values() for c in cands})
    event_times = []
    for unit_id in rng.sample(unit_ids, min(events, len(unit_ids))):
        cands = [c for cands in snap.by_insats.values() for c in cands if c["unit"]["unit_id"] == unit_id]
        new = "watch" if cands[0]["unit"]["status"] == "published" else "published"
        for c in cands:  # candidates of one unit may share its unit dict; set each
            c["unit"]["status"] = new
        t = time.perf_counter()
        durable.update_unit(unit_id)
        event_times.append(time.perf_counter() - t)
    out["register_event"] = _ms(event_times)
    durable.close()

    return out

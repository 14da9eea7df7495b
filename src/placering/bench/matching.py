"""`placering bench match`: time per placement request and replay throughput at register sizes
of 1,000, 5,000 and 20,000 units, on the rules evaluators (durable-rules, reference, vectorized), with
peak memory (figures are
printed, never asserted).

Each (size, evaluator) runs in a child process of its own, so its peak memory is its own:
the child reads the generated register (placering-register/1, from the demo generator),
builds the in-memory snapshot, loads the evaluator and then

- decides a sample of requests one at a time, as `placering match` does but without storing
  (evaluation, ranking, flags and the full `excluded` list with every reason's message and
  values), and again without the `excluded` list: median and 99th percentile of each;
- replays the 7,425 requests of the 2024 category mix (`generate_requests(7425, year=2024)`)
  as `placering request replay` does (evaluation, ranking, flags; no `excluded` list):
  requests per second and the time for all of them.

A phase that would run past `--budget` seconds stops early; its figures are then measured on
the requests it did, and the time for all 7,425 is marked as projected (never presented as
measured).
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from .group import bench
from ..cli.common import json_option, print_json, print_table, wants_json
from ..i18n import msg

SIZES = (1000, 5000, 20000)
REPLAY_COUNT = 7425


def _rss_mb() -> float:
    """Current resident memory (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:
        return _peak_mb()


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


def _measure(register_file: str, engine: str, sample: int, budget: float, out) -> None:
    """Child process: load, time a sample of full decisions, time the replay; send figures."""
    try:
        from ..matching.matcher import MatchContext, load_evaluator
        from ..matching.request import validate_request
        from ..demo import generate_requests
        from ..rules import RegisterSnapshot, load_ruleset
        from ..taxonomy import load_taxonomy

        result: dict[str, Any] = {"engine": engine}
        requests = [validate_request(r) for r in generate_requests(REPLAY_COUNT, year=2024)]
        ruleset = load_ruleset()
        t0 = time.perf_counter()
        with open(register_file, encoding="utf-8") as f:
            doc = json.load(f)
        snapshot = RegisterSnapshot.from_document(doc)
        del doc
        t1 = time.perf_counter()
        evaluator = load_evaluator(engine, ruleset, snapshot)
        t2 = time.perf_counter()
        ctx = MatchContext(ruleset, evaluator, snapshot, load_taxonomy())
        # The snapshot lives as long as the process: keep the cyclic GC from re-scanning it on
        # every request (the CLI does the same).
        gc.collect()
        gc.freeze()
        result.update(candidates=len(snapshot), snapshot_s=round(t1 - t0, 2), load_s=round(t2 - t1, 2),
                      rss_loaded_mb=_rss_mb())

        times: list[float] = []
        ranked: list[float] = []
        started = time.perf_counter()
        for req in requests[:sample]:
            a = time.perf_counter()
            ctx.decide(req)
            b = time.perf_counter()
            ctx.decide(req, with_excluded=False)
            ranked.append(time.perf_counter() - b)
            times.append(b - a)
            if time.perf_counter() - started > budget and len(times) >= 10:
                break
        times.sort()
        ranked.sort()
        result.update(sample=len(times), median_ms=round(statistics.median(times) * 1000, 2),
                      p99_ms=round(_pct(times, 0.99) * 1000, 2),
                      ranked_median_ms=round(statistics.median(ranked) * 1000, 2),
                      ranked_p99_ms=round(_pct(ranked, 0.99) * 1000, 2))

        done = 0
        started = time.perf_counter()
        for req in requests:
            ctx.decide(req, with_excluded=False)
            done += 1
            if time.perf_counter() - started > budget:
                break
        seconds = time.perf_counter() - started
        rate = done / seconds if seconds > 0 else float("inf")
        result.update(replay_requests=done, replay_s=round(seconds, 2), replay_rate=round(rate, 1),
                      replay_all_s=round(seconds if done == len(requests) else len(requests) / rate, 1),
                      replay_projected=done < len(requests), peak_mb=_peak_mb())
        out.send(result)
    except BaseException as exc:  # noqa: BLE001 - reported by the parent as a figure that failed
        out.send({"engine": engine, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        out.close()


@bench.command("match")
@click.option("--sizes", default=",".join(str(s) for s in SIZES), show_default=True,
              help="Register sizes (units), comma-separated.")
@click.option("--engine", "engines", type=click.Choice(["durable", "reference", "vectorized", "both", "all"]),
              default="all", show_default=True,
              help="Which rules evaluator(s) to measure (both: durable and reference; all: the three).")
@click.option("--sample", type=click.IntRange(min=10), default=300, show_default=True,
              help="Requests decided one by one for the median and 99th percentile.")
@click.option("--budget", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Seconds each phase may take per size and evaluator; beyond it, figures are measured "
              "on the requests done and the replay time is projected.")
@click.option("--seed", type=int, default=2024, show_default=True, help="Seed of the demo register generator.")
@json_option
def bench_match(sizes: str, engines: str, sample: int, budget: float, seed: int, json_output: bool) -> None:
    """Time per request (median, p99) and replay throughput of 7,425 requests (2024 mix) at
    1,000, 5,000 and 20,000 units, on each evaluator, with peak memory."""
    from ..errors import ValidationError
    from ..demo import generate_register

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise ValidationError(msg("bench.sizes_not_list", sizes=sizes)) from None
    if not size_list or any(s < 11 for s in size_list):
        raise ValidationError(msg("bench.sizes_too_small"))
    engine_list = {"both": ["durable", "reference"], "all": ["durable", "reference", "vectorized"]}.get(
        engines, [engines])
    rows: list[dict[str, Any]] = []
    ctx = mp.get_context("spawn")  # a clean interpreter per measurement: its own peak memory
    with tempfile.TemporaryDirectory(prefix="placering-bench-") as tmp:
        for size in size_list:
            t = time.perf_counter()
            doc = generate_register(size, seed=seed)
            gen_s = time.perf_counter() - t
            path = Path(tmp) / f"register-{size}.json"
            path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
            units = sum(len(s["units"]) for s in doc["suppliers"])
            del doc
            for engine in engine_list:
                if not wants_json(json_output):
                    click.echo(f"measuring {units} units, {engine} …", err=True)
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_measure, args=(str(path), engine, sample, budget, send))
                proc.start()
                send.close()
                try:
                    result = recv.recv()
                except EOFError:
                    result = {"engine": engine, "error": f"the measuring process died (exit code {proc.exitcode})"}
                proc.join()
                rows.append({"units": units, "generate_s": round(gen_s, 1), **result})
    if wants_json(json_output):
        print_json({"replay_requests": REPLAY_COUNT, "sample": sample, "budget_s": budget, "results": rows})
        return
    for r in rows:
        if "error" in r:
            r["sample_n"] = f"failed: {r['error']}"
        else:
            r["sample_n"] = f"{r['median_ms']} / {r['p99_ms']} ({r['sample']})"
            r["ranked_n"] = f"{r['ranked_median_ms']} / {r['ranked_p99_ms']}"
            r["replay"] = (f"{r['replay_rate']}/s; {REPLAY_COUNT}: {r['replay_all_s']} s"
                           + (f" projected from {r['replay_requests']}" if r["replay_projected"] else ""))
    print_table(rows, [("units", "Units"), ("engine", "Evaluator"), ("candidates", "Candidates"),
                       ("snapshot_s", "Snapshot s"), ("load_s", "Load s"),
                       ("sample_n", "Full decision ms: median / p99 (n)"),
                       ("ranked_n", "Without excluded list ms: median / p99"),
                       ("replay", "Replay (no excluded list)"),
                       ("rss_loaded_mb", "RSS loaded MB"), ("peak_mb", "Peak MB")],
                title="placering bench match: in-process, register resident in memory")
    click.echo("Aim: median under 5 ms per request at 20,000 units; replay of 7,425 requests under 10 s.")

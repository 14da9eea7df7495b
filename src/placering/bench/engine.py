"""`placering bench engine`: the rules engine on a national-size register: load time, time per
request for durable-rules and the reference evaluator on the same requests, time per register
event, and memory over many evaluations (figures printed, never asserted)."""

from __future__ import annotations

import os

import click

from . import durable as lib
from .group import bench
from ..cli.common import json_option, print_json, print_table, wants_json


@bench.command("engine")
@click.option("--units", type=click.IntRange(min=11), default=20000, show_default=True,
              help="Units in the demo register (20000: national size).")
@click.option("--requests", type=click.IntRange(min=1), default=100, show_default=True,
              help="Requests timed with both evaluators on that register.")
@click.option("--events", type=click.IntRange(min=1), default=200, show_default=True,
              help="Register events (unit status changes) applied to the resident register.")
@click.option("--evaluations", type=click.IntRange(min=1000), default=100_000, show_default=True,
              help="Engine decisions in the memory run (RSS printed after 1,000 and at the end).")
@click.option("--memory-units", type=click.IntRange(min=11), default=1000, show_default=True,
              help="Units in the register of the memory run.")
@click.option("--recycle-matches", type=click.IntRange(min=1), default=4_000_000, show_default=True,
              help="Rebuild the durable-rules Host after this many matches (its C core leaks per match).")
@json_option
def bench_engine_cmd(units: int, requests: int, events: int, evaluations: int, memory_units: int,
                     recycle_matches: int, json_output: bool) -> None:
    """Load the demo register (UNITS units) into durable-rules, evaluate REQUESTS demo requests with
    both evaluators (full evaluation with explanations; and the durable-rules decision alone),
    apply EVENTS status changes to the resident register, then run EVALUATIONS decisions on a
    MEMORY-UNITS register and print the process's RSS after 1,000 and after all of them."""
    say = (lambda msg: None) if wants_json(json_output) else (lambda msg: click.echo(f"… {msg}", err=True))
    result = lib.run(units=units, requests=requests, events=events, evaluations=evaluations,
                     memory_units=memory_units, recycle_matches=recycle_matches, progress=say)
    result["load_average"] = os.getloadavg()
    if wants_json(json_output):
        print_json(result)
        return
    click.echo(f"Register: {result['units']} units, {result['candidates']} candidates (unit × route) in "
               f"{len(result['insatser'])} insatser; facts built in {result['register_facts_seconds']} s.")
    click.echo(f"Loaded into durable-rules in {result['durable_load_seconds']} s "
               f"({result['durable_rulesets']} rule-version sets, +{result['durable_load_rss_mb']} MB RSS).")
    click.echo(f"Disagreements between the evaluators: {result['disagreements']} of {requests} requests.")
    rows = [{"what": k, **v} for k, v in result["requests"].items()]
    rows.append({"what": "register event (update_unit)", **result["register_event"]})
    print_table(rows, [("what", "Per"), ("n", "N"), ("median_ms", "Median ms"), ("p99_ms", "p99 ms"),
                       ("max_ms", "Max ms")], title="Time per request / event")
    print_table([{"insats": k, **v} for k, v in result["durable_decision_by_insats"].items()],
                [("insats", "Insats"), ("candidates", "Candidates"), ("n", "Requests"),
                 ("median_ms", "Decision median ms"), ("p99_ms", "p99 ms")],
                title="durable-rules decision by insats")
    m = result["memory"]
    print_table(m["checkpoints"], [("evaluations", "Decisions"), ("rss_mb", "RSS MB"), ("recycles", "Host recycles")],
                title=f"Memory: {m['units']} units ({m['candidates']} candidates), recycle after "
                      f"{m['recycle_matches']} matches, {m['decision_mean_ms']} ms per decision (mean)")
    click.echo(f"Load average {', '.join(f'{x:.1f}' for x in result['load_average'])}.")

"""`placering bench audit`: how long `audit paused --as-of` takes on a national-size register
with years of history (figures printed, never asserted)."""

from __future__ import annotations

import os
from datetime import date

import click

from . import audit_history as lib
from ..storage.database import upgrade
from .group import bench
from ..cli.common import app, json_option, parse_date, print_json, print_table, wants_json
from .register import _peak_rss_mb


@bench.command("audit")
@click.option("--units", type=click.IntRange(min=11), default=20000, show_default=True,
              help="Units in the register (20000: national size).")
@click.option("--years", type=click.IntRange(min=1, max=20), default=5, show_default=True,
              help="Years of synthetic history (status changes, agreement changes, permit decisions).")
@click.option("--until", "until", default="2024-12-31", show_default=True,
              help="The history's last day (YYYY-MM-DD).")
@click.option("--repeat", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs per date (after one warm-up run).")
@click.option("--reuse", is_flag=True,
              help="Time the register already in the database instead of building one (an earlier run's).")
@json_option
def bench_audit_cmd(units: int, years: int, until: str, repeat: int, reuse: bool, json_output: bool) -> None:
    """Build the demo register at UNITS units with YEARS years of synthetic history, written in
    bulk on the database given by --db (use a throwaway one), then time 'audit paused --as-of'
    for several dates: the start of the history, one date a year, and its last day."""
    end = parse_date(until, "--until")
    engine = app().engine(check_schema=False)
    upgrade(engine)
    say = (lambda msg: None) if wants_json(json_output) else (lambda msg: click.echo(f"… {msg}", err=True))
    build = {} if reuse else lib.build(engine, units, years, end=end, progress=say)
    start = lib.history_start(end, years)
    dates = [start] + [date(start.year + i, 6, 30) for i in range(1, years + 1) if date(start.year + i, 6, 30) < end]
    dates.append(end)
    say(f"timing audit paused on {len(dates)} dates")
    timings = lib.time_paused(engine, dates, repeat=repeat)
    result = {"database": engine.url.render_as_string(hide_password=True).split("@")[-1],
              "backend": engine.url.get_backend_name(), "build": build, "size": lib.history_size(engine),
              "paused_as_of": timings, "peak_rss_mb": _peak_rss_mb(), "load_average": os.getloadavg()}
    if wants_json(json_output):
        print_json(result)
        return
    size = result["size"]
    if build:
        click.echo(f"Built: {build['units']} units imported in {build['import_seconds']} s; "
                   f"{build['history_entries']} synthetic history entries ({build['unit_status']} unit status, "
                   f"{build['agreement_status']} agreement, {build['permit']} permit) written in "
                   f"{build['history_seconds']} s.")
    click.echo(f"{result['backend']}: {size['units']} units, {size['history_entries']} history entries "
               f"({size['unit_and_agreement_entries']} for units and agreements); peak RSS {result['peak_rss_mb']} MB; "
               f"load average {', '.join(f'{x:.1f}' for x in result['load_average'])}.")
    print_table(timings, [("as_of", "As of"), ("median_ms", "Median ms"), ("best_ms", "Best ms"),
                          ("cpu_median_ms", "CPU ms (client)"),
                          ("paused", "Paused"), ("watch", "Watch"), ("peak_python_mb", "Peak Python MB")],
                title=f"audit paused --as-of ({repeat} timed runs per date)")

"""`placering bench generate | requests | import`: the demo register at any size, demo
placement requests, and the register import benchmark (figures printed, never asserted)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from ..clock import today
from pathlib import Path

import click
from sqlalchemy import func, select

from ..demo import DEMO_AS_OF, DEMO_SEED, document_json, generate_register, generate_requests
from ..storage import open_session, transaction
from ..storage.models import Unit
from .group import bench
from ..cli.common import CliError, app, json_option, parse_date, print_json, print_table, wants_json
from ..errors import os_reason
from ..i18n import msg


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _write(text: str, out: str) -> None:
    if out == "-":
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(msg("file.cannot_write", file=str(out), reason=os_reason(exc)), 1) from None


def _doc_rows(doc: dict) -> dict[str, int]:
    units = [u for s in doc["suppliers"] for u in s["units"]]
    return {
        "suppliers": len(doc["suppliers"]),
        "units": len(units),
        "offers": sum(len(u["offers"]) for u in units),
        "routes": sum(len(u["routes"]) for u in units),
        "permits": sum(len(u.get("permits") or []) for u in units),
        "checks": sum(len(s.get("checks") or []) for s in doc["suppliers"]),
    }


@bench.command("generate")
@click.option("--units", type=click.IntRange(min=11), default=900, show_default=True,
              help="Number of units (900: Göteborg's register; 20000: national size).")
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True, help="Random seed (same seed, same file).")
@click.option("--as-of", "as_of", help="The register's date (YYYY-MM-DD); agreements and permits are dated from it.",
              default=DEMO_AS_OF.isoformat(), show_default=True)
@click.option("--out", required=True, help="File to write the placering-register/1 document to ('-' for stdout).")
@json_option
def generate_cmd(units: int, seed: int, as_of: str, out: str, json_output: bool) -> None:
    """Write a deterministic demo register document (import it with 'placering register import')."""
    on = parse_date(as_of, "--as-of")
    started = time.perf_counter()
    doc = generate_register(units, seed=seed, as_of=on)
    seconds = time.perf_counter() - started
    _write(document_json(doc), out)
    if out == "-":
        return
    result = {"file": out, "seed": seed, "as_of": on, "seconds": round(seconds, 3), **_doc_rows(doc)}
    if wants_json(json_output):
        print_json(result)
        return
    click.echo(f"Wrote {out}: {result['suppliers']} suppliers, {result['units']} units "
               f"({result['routes']} routes, {result['permits']} permits), seed {seed}, "
               f"generated in {seconds:.2f} s.")


@bench.command("requests")
@click.option("--count", type=click.IntRange(min=1), default=7425, show_default=True,
              help="Number of requests (7,425: Spink's requests in 2024).")
@click.option("--year", type=int, default=2024, show_default=True,
              help="Year of the submitted dates and of the insats mix (request volumes in taxonomy.yaml).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same file).")
@click.option("--municipality", default="Göteborg", show_default=True, help="The buying municipality.")
@click.option("--out", required=True, help="JSON-lines file to write ('-' for stdout); 'placering match' reads it.")
@json_option
def requests_cmd(count: int, year: int, seed: int, municipality: str, out: str, json_output: bool) -> None:
    """Write demo placement requests (JSON lines) with the year's insats mix; no names or identity numbers."""
    requests = generate_requests(count, year=year, seed=seed, municipality=municipality)
    _write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests), out)
    if out == "-":
        return
    mix: dict[str, int] = {}
    for r in requests:
        mix[r["insats"]] = mix.get(r["insats"], 0) + 1
    result = {"file": out, "requests": len(requests), "year": year, "seed": seed, "insats": mix}
    if wants_json(json_output):
        print_json(result)
        return
    click.echo(f"Wrote {out}: {len(requests)} requests for {year} ("
               + ", ".join(f"{k} {v}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1])) + ").")


@bench.command("import")
@click.option("--units", type=click.IntRange(min=11), default=20000, show_default=True,
              help="Size of the generated register (20000: national size).")
@click.option("--seed", type=int, default=DEMO_SEED, show_default=True, help="Random seed of the register.")
@click.option("--by", "actor", default="bench", show_default=True, help="Actor recorded in history.")
@json_option
def import_cmd(units: int, seed: int, actor: str, json_output: bool) -> None:
    """Time generating, importing, re-importing and exporting a register on the --db database.

    The database must be initialised ('placering init') and its register empty, so that the
    first import creates everything; the imported register stays in it afterwards.
    """
    from ..register.service import export_document, import_document

    engine = app().engine()  # refuses a database without the placering schema
    with open_session(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Unit))
    if existing:
        raise CliError(msg("bench.import_needs_empty", n=existing, where=engine.url.render_as_string(hide_password=True)), 2)

    phases: list[dict] = []
    cpu = [time.process_time()]

    def phase(name: str, seconds: float, rows: int | None, note: str) -> None:
        # CPU time of this process as well as wall time: on a shared machine the wall time
        # grows with the load, the CPU time much less (PostgreSQL's own work is not in it).
        now = time.process_time()
        phases.append({
            "phase": name, "seconds": round(seconds, 3), "cpu_seconds": round(now - cpu[0], 3), "rows": rows,
            "rows_per_second": round(rows / seconds) if rows and seconds > 0 else None,
            "peak_rss_mb": _peak_rss_mb(), "note": note,
        })
        cpu[0] = now

    t = time.perf_counter()
    doc = generate_register(units, seed=seed)
    counts = _doc_rows(doc)
    phase("generate", time.perf_counter() - t, None,
          f"{counts['suppliers']} suppliers, {counts['units']} units")

    t = time.perf_counter()
    with transaction(engine) as session:
        # A register loaded from an earlier system: its statuses are taken (--apply-status).
        first = import_document(session, doc, actor=actor, source=f"bench register ({units} units)",
                                apply_status=True)
    seconds = time.perf_counter() - t
    written = sum(counts.values()) + first.history_entries
    phase("import", seconds, written,
          f"{first.units_created} units created, {first.history_entries} history entries")

    t = time.perf_counter()
    with transaction(engine) as session:
        # A routine re-import keeps the register's decisions (no --apply-status).
        again = import_document(session, doc, actor=actor, source=f"bench register ({units} units)")
    seconds = time.perf_counter() - t
    phase("re-import", seconds, sum(counts.values()),
          f"{again.units_unchanged} units unchanged, {again.units_updated} updated, "
          f"{again.history_entries} history entries")

    t = time.perf_counter()
    with open_session(engine) as session:
        exported = export_document(session)
    seconds = time.perf_counter() - t
    exp_counts = _doc_rows(exported)
    # The export carries the register revision, and the register-status rules may have changed
    # statuses the generated document holds (e.g. a credit rating under the watch level): those
    # are decisions of the register, not differences of the round trip.
    ruled = {c["id"] for c in first.status_changes if c["kind"] == "unit" and c["why"].startswith("rule")}

    def comparable(d: dict) -> dict:
        return {"format": d["format"], "suppliers": [
            dict(s, units=[{k: v for k, v in u.items()
                            if u["unit_id"] not in ruled or k not in ("status", "removal_reason", "status_note")}
                           for u in s["units"]]) for s in d["suppliers"]]}

    exact = comparable(exported) == comparable(doc)
    phase("export", seconds, sum(exp_counts.values()),
          ("identical to the imported document" if exact else "DIFFERS from the imported document")
          + (f" (apart from {len(ruled)} statuses the register-status rules set)" if ruled else ""))

    result = {
        "database": engine.url.render_as_string(hide_password=True),
        "backend": engine.dialect.name,
        "units": counts["units"], "suppliers": counts["suppliers"], "seed": seed,
        "rows": counts, "phases": phases, "peak_rss_mb": _peak_rss_mb(),
        "round_trip_exact": exact,
        "statuses_set_by_rules": len(ruled),
        "reimport_history_entries": again.history_entries,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    if wants_json(json_output):
        print_json(result)
        return
    print_table(
        phases,
        [("phase", "Phase"), ("seconds", "Seconds"), ("cpu_seconds", "CPU s"), ("rows", "Rows"),
         ("rows_per_second", "Rows/s"),
         ("peak_rss_mb", "Peak RSS MB"), ("note", "Note")],
        title=f"Register import benchmark: {counts['units']} units, {counts['suppliers']} suppliers "
              f"on {engine.dialect.name} ({today().isoformat()})",
    )
    click.echo(f"Rows: {', '.join(f'{k} {v}' for k, v in counts.items())}; "
               f"peak memory {result['peak_rss_mb']} MB (resident set); load average "
               f"{', '.join(str(x) for x in result['load_average'])} on {result['cpus']} CPUs.")

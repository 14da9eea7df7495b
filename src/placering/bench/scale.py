"""`placering bench scale`: the whole CLI at register sizes, on SQLite and PostgreSQL (issue 10).

Every figure is a whole `placering` process, as a user runs it (start-up, imports, reading
the register, deciding, storing), measured in one run and printed, never asserted:

- start-up: `placering --help` and `placering --version` (median of 5);
- one `placering match` of one request: the first at a register revision (it builds the
  register snapshot and stores it) and the next one (it reads the stored snapshot);
- a batch of `--requests` requests (7,425: a year's requests) with every decision stored, and
  the same batch again (it adds nothing: every request is already decided);
- one `placering match` after a handler chose a unit (a register change: the snapshot of the
  new revision is the stored one with that supplier read again);
- the first `placering match` of the next day (the clock of that process set a day on: the
  day's snapshot starts from the day before's);
- the import of the register (`register import`), `init --demo` (once per database), a write
  (`request choose`) and the read commands people run most (`register show / search /
  history`, `request show`, `audit paused`, `rules list`; the slowest of them and each);
- stored bytes per decision (the decision row's document) and of the register snapshot;
- peak memory (resident set) of each of those processes.

Each size gets a fresh database: an SQLite file in a temporary directory, and on PostgreSQL
(`--pg URL`, a server where the login may create databases) a database created for the run
and dropped afterwards. The register is the demo generator's at that size, imported with
`placering register import --apply-status` (a first load: the file's statuses stand); the requests are `placering bench requests`' (the year's mix).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import click

from ..cli.common import CliError, json_option, print_json, print_table, wants_json
from .group import bench
from ..i18n import msg

ENGINES = ("vectorized", "durable")


# The child reports its own peak resident memory (VmHWM of its address space): the rusage of a
# child started from this (large) process also counts what it shared before exec.
_CHILD = """
import atexit, os, sys

def _peak():
    try:
        with open("/proc/self/status") as f:
            kb = next((int(l.split()[1]) for l in f if l.startswith("VmHWM:")), None)
    except OSError:
        import resource
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if kb is not None:
        os.write(int(os.environ["PLACERING_BENCH_FD"]), str(kb).encode())

atexit.register(_peak)
if os.environ.get("PLACERING_BENCH_DAYS"):
    # The first match of a later day: this process's clock runs that many days ahead.
    from datetime import timedelta
    import placering.clock as clock

    _now, _shift = clock.now, timedelta(days=int(os.environ["PLACERING_BENCH_DAYS"]))
    clock.now = lambda: _now() + _shift
from placering.cli import main
main()
"""


def _run(args: list[str], *, db: str | None = None, days: int = 0) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run `placering ARGS` as its own process: (seconds, peak resident MB, result); the
    result's `cpu` is the process's CPU seconds (user + system: what it costs on a machine
    shared with other work, where the wall time also counts the waiting)."""
    cmd = [sys.executable, "-c", _CHILD, *(["--db", db] if db else []), *args]
    read_fd, write_fd = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(write_fd,),
                            env=dict(os.environ, PLACERING_BENCH_FD=str(write_fd),
                                     **({"PLACERING_BENCH_DAYS": str(days)} if days else {})))
    os.close(write_fd)
    out, err = proc.stdout.read(), proc.stderr.read()  # noqa: the pipes are drained before waiting
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    with os.fdopen(read_fd, "rb") as f:
        peak_kb = f.read().decode() or "0"
    code = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess(cmd, code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    proc.returncode = code
    result.cpu = round(usage.ru_utime + usage.ru_stime, 2)
    if code != 0:
        raise CliError(msg("bench.command_failed", command=" ".join(args), code=code, stderr=result.stderr.strip()[:500]), 1)
    return seconds, round(int(peak_kb) / 1024, 1), result


def _compile_package() -> None:
    """Byte-compile placering first, as `pip install` does: with PYTHONDONTWRITEBYTECODE set (or
    a fresh editable checkout) every process would otherwise compile its modules from source,
    about 0.1 s that no installed placering pays."""
    import compileall

    import placering

    compileall.compile_dir(str(Path(placering.__file__).parent), quiet=2)


def _startup(arg: str) -> tuple[float, float]:
    runs = [_run([arg]) for _ in range(5)]
    return round(statistics.median(r[0] for r in runs), 3), round(statistics.median(r[2].cpu for r in runs), 3)


def _stored(url: str) -> dict[str, Any]:
    from sqlalchemy import text

    from ..storage import make_engine

    engine = make_engine(url)
    size = "length(document)" if engine.dialect.name == "sqlite" else "pg_column_size(document)"
    data = "length(data)" if engine.dialect.name == "sqlite" else "octet_length(data)"
    with engine.connect() as conn:
        n, total, largest = conn.execute(text(f"SELECT COUNT(*), SUM({size}), MAX({size}) FROM decision")).one()
        revisions = conn.execute(text("SELECT COUNT(DISTINCT revision) FROM register_snapshot")).scalar_one()
        inline = conn.execute(text(f"SELECT COALESCE(SUM({data}), 0) FROM register_snapshot")).scalar_one()
        blobs = conn.execute(text(f"SELECT COALESCE(SUM({data}), 0) FROM snapshot_blob")).scalar_one()
        snap = (revisions, int(inline) + int(blobs))
    engine.dispose()
    return {"decisions": n, "bytes_per_decision": round((total or 0) / n) if n else None, "largest_decision": largest,
            "snapshots": snap[0], "snapshot_bytes": snap[1]}


SINGLES = 4  # single requests: the first match, the next one, one after a choice, one the next day


def _after_a_choice(tmp: Path, url: str, engine: str, batch_size: int) -> dict[str, Any]:
    """A handler chooses a unit (a register change: it takes a free place), and the next match
    builds the snapshot of the new revision from the stored one, re-reading only that supplier."""
    summaries = json.loads(_run(["--json", "match", str(tmp / f"requests-{batch_size}.jsonl"), "--by", "bench"],
                                db=url)[2].stdout)
    # The first request with a recommended unit that needs no review (direct procurement does).
    choice = next(((s["request_id"], r["unit_id"]) for s in summaries if not s["review_required"]
                   for r in s["recommendations"][:1]), None)
    if choice is None:
        return {}
    tw, _mem, rw = _run(["request", "choose", *choice, "--by", "bench"], db=url)
    t, mem, r = _run(["match", str(tmp / "single-2.json"), "--by", "bench", "--engine", engine], db=url)
    return {"write_s": round(tw, 2), "write_cpu": rw.cpu, "chosen_request": choice[0],
            "match_after_choice_s": round(t, 2), "match_after_choice_cpu": r.cpu, "match_after_choice_mb": mem}


def _reads(url: str, unit_id: str, request_id: str | None) -> dict[str, Any]:
    """The read commands people run most, each a whole process (median of 3)."""
    commands = {"register show": ["register", "show", unit_id], "register search": ["register", "search", "vård"],
                "register history": ["register", "history", unit_id], "audit paused": ["audit", "paused"],
                "rules list": ["rules", "list"]}
    if request_id:
        commands["request show"] = ["request", "show", request_id]
    each = {}
    for name, args in commands.items():
        runs = [_run(args, db=url) for _ in range(3)]
        each[name] = (round(statistics.median(r[0] for r in runs), 3), statistics.median(r[2].cpu for r in runs))
    slowest = max(each, key=lambda k: each[k][0])
    return {"read_s": each[slowest][0], "read_cpu": each[slowest][1], "read_slowest": slowest,
            "reads": {k: {"s": v[0], "cpu": v[1]} for k, v in each.items()}}


def measure_demo(backend: str, *, tmp: Path, pg: str | None) -> dict[str, Any]:
    """`placering init --demo` on a fresh database (the demo register, 900 units, with history)."""
    db = _Database(backend, tmp, 0, pg)
    try:
        t, mem, r = _run(["init", "--demo"], db=db.url)
        return {"database": backend, "init_demo_s": round(t, 2), "init_demo_cpu": r.cpu, "init_demo_mb": mem}
    finally:
        db.drop()


class _Database:
    """A fresh database for one size on one back end (dropped afterwards on PostgreSQL)."""

    def __init__(self, backend: str, tmp: Path, size: int, pg: str | None):
        self.backend, self.pg, self.name = backend, pg, None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{size}.db'}"
        else:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            from ..storage.database import database_url

            self.name = f"placering_bench_{size}_{uuid.uuid4().hex[:8]}"
            base = database_url(pg)
            self.admin = create_engine(base, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = make_url(base).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        if self.name:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.admin.dispose()


def measure(size: int, backend: str, *, requests: int, engine: str, tmp: Path, pg: str | None) -> dict[str, Any]:
    from ..demo import document_json, generate_register, generate_requests

    register = tmp / f"register-{size}.json"
    if not register.exists():
        register.write_text(document_json(generate_register(units=size)), encoding="utf-8")
    batch = tmp / f"requests-{requests}.jsonl"
    if not batch.exists():
        reqs = generate_requests(requests + SINGLES)
        batch.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in reqs[SINGLES:]), encoding="utf-8")
        for i in range(SINGLES):
            (tmp / f"single-{i}.json").write_text(json.dumps(reqs[i], ensure_ascii=False), encoding="utf-8")
    db = _Database(backend, tmp, size, pg)
    try:
        _run(["init"], db=db.url)
        # A register loaded from an earlier system: its statuses are taken (--apply-status), as
        # `bench import` does; otherwise every new unit would wait for its entry check.
        t, mem, r = _run(["register", "import", str(register), "--apply-status", "--by", "bench"], db=db.url)
        row: dict[str, Any] = {"units": size, "database": backend, "engine": engine,
                               "import_s": round(t, 1), "import_cpu": r.cpu, "import_mb": mem}
        t, mem, r = _run(["match", str(tmp / "single-0.json"), "--by", "bench", "--engine", engine], db=db.url)
        row.update(match_first_s=round(t, 2), match_first_cpu=r.cpu, match_first_mb=mem)
        t, mem, r = _run(["match", str(tmp / "single-1.json"), "--by", "bench", "--engine", engine], db=db.url)
        row.update(match_s=round(t, 2), match_cpu=r.cpu, match_mb=mem)
        t, mem, r = _run(["match", str(batch), "--by", "bench", "--engine", engine], db=db.url)
        row.update(requests=requests, batch_s=round(t, 1), batch_cpu=r.cpu, batch_mb=mem)
        stored = _stored(db.url)
        t, mem, r = _run(["match", str(batch), "--by", "bench", "--engine", engine], db=db.url)
        again = _stored(db.url)
        row.update(batch_again_s=round(t, 1), batch_again_cpu=r.cpu,
                   batch_again_added=again["decisions"] - stored["decisions"])
        row.update(stored)
        row.update(_after_a_choice(tmp, db.url, engine, requests))
        t, mem, r = _run(["match", str(tmp / "single-3.json"), "--by", "bench", "--engine", engine], db=db.url, days=1)
        row.update(match_next_day_s=round(t, 2), match_next_day_cpu=r.cpu, match_next_day_mb=mem)
        unit_id = json.loads(register.read_text(encoding="utf-8"))["suppliers"][0]["units"][0]["unit_id"]
        row.update(_reads(db.url, unit_id, row.pop("chosen_request", None)))
        return row
    finally:
        db.drop()


@bench.command("scale")
@click.option("--sizes", default="900,20000", show_default=True, help="Register sizes (units), comma-separated.")
@click.option("--requests", type=click.IntRange(min=1), default=7425, show_default=True,
              help="Requests in the batch (7,425: a year's requests; fewer for a quick run).")
@click.option("--engine", type=click.Choice(ENGINES), default="vectorized", show_default=True,
              help="Evaluator the match processes use.")
@click.option("--pg", "pg_url", envvar="PLACERING_BENCH_PG_URL",
              help="PostgreSQL server URL (the login creates and drops a database per size); "
              "or PLACERING_BENCH_PG_URL. Without it only SQLite is measured.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Also time `placering init --demo` on a fresh database of each kind.")
@json_option
def bench_scale(sizes: str, requests: int, engine: str, pg_url: str | None, demo: bool, json_output: bool) -> None:
    """Whole `placering` processes at register sizes: start-up, one match, a stored batch, bytes, memory."""
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise CliError(msg("bench.sizes_not_list", sizes=sizes), 2) from None
    if not size_list or min(size_list) < 11:
        raise CliError(msg("bench.sizes_too_small"), 2)
    backends = ["sqlite"] + (["postgresql"] if pg_url else [])
    _compile_package()
    (help_s, help_cpu), (version_s, version_cpu) = _startup("--help"), _startup("--version")
    result: dict[str, Any] = {"startup": {"help_s": help_s, "help_cpu": help_cpu, "version_s": version_s,
                                          "version_cpu": version_cpu},
                              "rows": [], "demo": [], "note": "measured in one run; every figure is a whole process"}
    with tempfile.TemporaryDirectory(prefix="placering-bench-") as tmp:
        for backend in backends if demo else ():
            result["demo"].append(measure_demo(backend, tmp=Path(tmp), pg=pg_url))
            click.echo(json.dumps(result["demo"][-1]), err=True)  # each figure as it is measured (a long run)
        for size in size_list:
            for backend in backends:
                result["rows"].append(measure(size, backend, requests=requests, engine=engine, tmp=Path(tmp),
                                              pg=pg_url))
                click.echo(json.dumps(result["rows"][-1], default=str), err=True)
    if wants_json(json_output):
        print_json(result)
        return
    s = result["startup"]
    click.echo(f"Start-up (median of 5): placering --help {s['help_s']} s ({s['help_cpu']} s CPU), "
               f"--version {s['version_s']} s ({s['version_cpu']} s CPU)")
    for d in result["demo"]:
        click.echo(f"init --demo ({d['database']}): {d['init_demo_s']} s ({d['init_demo_cpu']} s CPU)")
    print_table(result["rows"], [
        ("units", "Units"), ("database", "DB"), ("import_s", "Import s"),
        ("read_s", "Read s (slowest)"), ("write_s", "Write s"),
        ("match_first_s", "1st match s"), ("match_s", "Match s"), ("match_cpu", "Match CPU s"), ("match_mb", "Match MB"),
        ("match_after_choice_s", "After choice s"), ("match_next_day_s", "Next day s"),
        ("requests", "Batch"), ("batch_s", "Batch s"), ("batch_cpu", "Batch CPU s"), ("batch_mb", "Batch MB"),
        ("batch_again_added", "Again adds"), ("bytes_per_decision", "B/decision"),
    ], title=f"Whole processes, engine {engine} (1st match builds the register snapshot; "
             "Again = the same batch run again; --json has every figure)")
    if not pg_url:
        click.echo("PostgreSQL: not measured (give --pg URL or set PLACERING_BENCH_PG_URL).")

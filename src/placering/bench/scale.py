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
- stored bytes per decision (the decision row's document and its excluded units by reason) and
  of the register snapshot;
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


def _run(args: list[str], *, db: str | None = None, days: int = 0,
         python: str | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run `placering ARGS` as its own process: (seconds, peak resident MB, result); the
    result's `cpu` is the process's CPU seconds (user + system: what it costs on a machine
    shared with other work, where the wall time also counts the waiting). `python` is the
    interpreter of the placering measured (default this one; `--before` names another)."""
    cmd = [python or sys.executable, "-c", _CHILD, *(["--db", db] if db else []), *args]
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


class Side:
    """One placering measured: this one ("after") or an earlier commit's installed copy
    ("before", `--before PATH`), by the interpreter that imports it."""

    def __init__(self, name: str, python: str):
        self.name, self.python = name, python
        probe = subprocess.run([python, "-c", "import placering, sys; print(placering.__file__)"],
                               capture_output=True, text=True)
        if probe.returncode != 0:
            raise CliError(msg("bench.before_not_placering", python=python, stderr=probe.stderr.strip()[-300:]), 2)
        self.package = Path(probe.stdout.strip()).parent
        self.commit = _commit(self.package)

    def run(self, args: list[str], **kwargs: Any) -> tuple[float, float, subprocess.CompletedProcess]:
        return _run(args, python=self.python, **kwargs)

    def compile(self) -> None:
        """Byte-compile its placering first, as `pip install` does: with PYTHONDONTWRITEBYTECODE
        set (or a fresh editable checkout) every process would otherwise compile its modules from
        source, about 0.1 s that no installed placering pays."""
        subprocess.run([self.python, "-m", "compileall", "-q", str(self.package)], capture_output=True, check=False)


def _commit(package: Path) -> str:
    """The commit a placering package was checked out at ('abc1234 subject'), with a note when
    its files differ from that commit; 'installed' when it is not in a git checkout."""
    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""

    head = git("log", "-1", "--format=%h %s")
    if not head:
        return "installed (not a git checkout)"
    subject = head if len(head) <= 90 else head[:89] + "…"
    return subject + (" (+ uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no", ".") else "")


def _side_python(path: str) -> str:
    """The interpreter of the placering at PATH: a checkout with its own virtual environment
    (PATH/.venv/bin/python), its `placering` executable (the python beside it), or a python."""
    p = Path(path).expanduser()
    if p.is_dir():
        for candidate in (p / ".venv" / "bin" / "python", p / "venv" / "bin" / "python", p / "bin" / "python"):
            if candidate.exists():
                return str(candidate)
        raise CliError(msg("bench.before_no_venv", path=path), 2)
    if not p.exists():
        raise CliError(msg("bench.before_missing", path=path), 2)
    if p.name.startswith("python"):
        return str(p)
    beside = p.parent / "python"
    if not beside.exists():
        raise CliError(msg("bench.before_no_python", path=path), 2)
    return str(beside)


def _startup(side: Side, arg: str) -> tuple[float, float]:
    runs = [side.run([arg]) for _ in range(5)]
    return round(statistics.median(r[0] for r in runs), 3), round(statistics.median(r[2].cpu for r in runs), 3)


def _stored(url: str) -> dict[str, Any]:
    from sqlalchemy import text

    from ..storage import make_engine

    from sqlalchemy import inspect

    engine = make_engine(url)
    size = "length(document)" if engine.dialect.name == "sqlite" else "pg_column_size(document)"
    if "excluded_units" in {c["name"] for c in inspect(engine).get_columns("decision")}:
        # the excluded units by reason stored with each decision (issue 22 item 1, migration 0015)
        size = f"({size} + COALESCE({size.replace('document', 'excluded_units')}, 0))"
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


def _after_a_choice(side: Side, tmp: Path, url: str, engine: str, batch_size: int) -> dict[str, Any]:
    """A handler chooses a unit (a register change: it takes a free place), and the next match
    builds the snapshot of the new revision from the stored one, re-reading only that supplier."""
    summaries = json.loads(side.run(["--json", "match", str(tmp / f"requests-{batch_size}.jsonl"), "--by", "bench"],
                                    db=url)[2].stdout)
    # The first request with a recommended unit that needs no review (direct procurement does).
    choice = next(((s["request_id"], r["unit_id"]) for s in summaries if not s["review_required"]
                   for r in s["recommendations"][:1]), None)
    if choice is None:
        return {}
    tw, _mem, rw = side.run(["request", "choose", *choice, "--by", "bench"], db=url)
    t, mem, r = side.run(["match", str(tmp / "single-2.json"), "--by", "bench", "--engine", engine], db=url)
    return {"write_s": round(tw, 2), "write_cpu": rw.cpu, "chosen_request": choice[0],
            "match_after_choice_s": round(t, 2), "match_after_choice_cpu": r.cpu, "match_after_choice_mb": mem}


READS = ("register show", "register search", "register history", "request show", "audit paused", "rules list")


def _reads(side: Side, url: str, unit_id: str, request_id: str | None) -> dict[str, Any]:
    """The read commands people run most, each a whole process (median of 3)."""
    commands = {"register show": ["register", "show", unit_id], "register search": ["register", "search", "vård"],
                "register history": ["register", "history", unit_id], "audit paused": ["audit", "paused"],
                "rules list": ["rules", "list"]}
    if request_id:
        commands["request show"] = ["request", "show", request_id]
    each = {}
    for name, args in commands.items():
        runs = [side.run(args, db=url) for _ in range(3)]
        each[name] = (round(statistics.median(r[0] for r in runs), 3), statistics.median(r[2].cpu for r in runs))
    slowest = max(each, key=lambda k: each[k][0])
    return {"read_s": each[slowest][0], "read_cpu": each[slowest][1], "read_slowest": slowest,
            "reads": {k: {"s": v[0], "cpu": v[1]} for k, v in each.items()}}


def measure_demo(side: Side, backend: str, *, tmp: Path, pg: str | None) -> dict[str, Any]:
    """`placering init --demo` on a fresh database (the demo register, 900 units, with history)."""
    db = _Database(backend, tmp, f"demo-{side.name}", pg)
    try:
        t, mem, r = side.run(["init", "--demo"], db=db.url)
        return {"side": side.name, "database": backend, "init_demo_s": round(t, 2), "init_demo_cpu": r.cpu,
                "init_demo_mb": mem}
    finally:
        db.drop()


class _Database:
    """A fresh database for one size on one back end (dropped afterwards on PostgreSQL)."""

    def __init__(self, backend: str, tmp: Path, tag: str, pg: str | None):
        self.backend, self.pg, self.name = backend, pg, None
        if backend == "sqlite":
            self.url = f"sqlite:///{tmp / f'bench-{tag}.db'}"
        else:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            from ..storage.database import database_url

            self.name = f"placering_bench_{tag.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
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
        else:
            Path(self.url.removeprefix("sqlite:///")).unlink(missing_ok=True)


def _data(size: int, requests: int, tmp: Path) -> tuple[Path, Path]:
    """The register of `size` units and the batch of requests, generated once for every
    database and both sides (the same data before and after)."""
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
    return register, batch


def measure(size: int, backend: str, *, requests: int, engine: str, tmp: Path, pg: str | None,
            side: Side | None = None) -> dict[str, Any]:
    side = side or Side("after", sys.executable)
    register, batch = _data(size, requests, tmp)
    db = _Database(backend, tmp, f"{size}-{side.name}", pg)
    run = side.run
    try:
        run(["init"], db=db.url)
        # A register loaded from an earlier system: its statuses are taken (--apply-status), as
        # `bench import` does; otherwise every new unit would wait for its entry check.
        t, mem, r = run(["register", "import", str(register), "--apply-status", "--by", "bench"], db=db.url)
        row: dict[str, Any] = {"side": side.name, "units": size, "database": backend, "engine": engine,
                               "import_s": round(t, 1), "import_cpu": r.cpu, "import_mb": mem}
        t, mem, r = run(["match", str(tmp / "single-0.json"), "--by", "bench", "--engine", engine], db=db.url)
        row.update(match_first_s=round(t, 2), match_first_cpu=r.cpu, match_first_mb=mem)
        t, mem, r = run(["match", str(tmp / "single-1.json"), "--by", "bench", "--engine", engine], db=db.url)
        row.update(match_s=round(t, 2), match_cpu=r.cpu, match_mb=mem)
        t, mem, r = run(["match", str(batch), "--by", "bench", "--engine", engine], db=db.url)
        row.update(requests=requests, batch_s=round(t, 1), batch_cpu=r.cpu, batch_mb=mem)
        stored = _stored(db.url)
        t, mem, r = run(["match", str(batch), "--by", "bench", "--engine", engine], db=db.url)
        again = _stored(db.url)
        row.update(batch_again_s=round(t, 1), batch_again_cpu=r.cpu,
                   batch_again_added=again["decisions"] - stored["decisions"])
        row.update(stored)
        row.update(_after_a_choice(side, tmp, db.url, engine, requests))
        t, mem, r = run(["match", str(tmp / "single-3.json"), "--by", "bench", "--engine", engine], db=db.url, days=1)
        row.update(match_next_day_s=round(t, 2), match_next_day_cpu=r.cpu, match_next_day_mb=mem)
        unit_id = json.loads(register.read_text(encoding="utf-8"))["suppliers"][0]["units"][0]["unit_id"]
        row.update(_reads(side, db.url, unit_id, row.pop("chosen_request", None)))
        return row
    finally:
        db.drop()


# The figures of issue 22, in the order the before/after table lists them: (label, key in a
# row, goal in seconds by register size, or None when the issue sets none).
FIGURES: list[tuple[str, str, dict[int, float] | None]] = [
    *((f"read: {name}", f"reads.{name}", {900: 0.3}) for name in READS),
    ("write: request choose", "write", {900: 0.5}),
    ("first match at a revision", "match_first", None),
    ("next match", "match", None),
    ("match after a change", "match_after_choice", {20000: 0.8}),
    ("first match of the next day", "match_next_day", {20000: 1.0}),
    ("the year's requests (batch)", "batch", {900: 8.0, 20000: 30.0}),
    ("first import", "import", {20000: 10.0}),
]


def _figure(row: dict[str, Any], key: str) -> tuple[float, float] | None:
    """(wall seconds, CPU seconds) of one figure of a row; None when it was not measured."""
    if key.startswith("reads."):
        r = (row.get("reads") or {}).get(key.removeprefix("reads."))
        return (r["s"], r["cpu"]) if r else None
    if row.get(f"{key}_s") is None:
        return None
    return row[f"{key}_s"], row[f"{key}_cpu"]


def _number(x: float) -> str:
    return f"{x:.2f}".replace(".", ",")  # Swedish decimals, as the other tables print them


def _cell(v: tuple[float, float] | None) -> str:
    return "–" if v is None else f"{_number(v[0])} ({_number(v[1])})"


def _ratio(pg: tuple[float, float] | None, lite: tuple[float, float] | None) -> str:
    return "–" if not pg or not lite or not lite[0] else _number(pg[0] / lite[0])


def comparison(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The before/after table: one row per figure (and register size), each cell 'wall s (CPU
    s)' of one whole process, and the PostgreSQL/SQLite ratio of the wall times (the
    PostgreSQL server's own CPU is not the client process's)."""
    sides = ["before", "after"] if result.get("before") else ["after"]
    rows_of = {"after": result["rows"], "before": (result.get("before") or {}).get("rows", [])}
    demo_of = {"after": result["demo"], "before": (result.get("before") or {}).get("demo", [])}
    startup_of = {"after": result["startup"], "before": (result.get("before") or {}).get("startup")}

    def line(figure: str, units: Any, goal: float | None, value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"figure": figure, "units": units, "goal_s": goal}
        for side in sides:
            for backend in ("sqlite", "postgresql"):
                out[f"{backend}_{side}"] = value(side, backend)
            out[f"ratio_{side}"] = _ratio(*(value(side, b) for b in ("postgresql", "sqlite")))
        for k, v in list(out.items()):
            if isinstance(v, tuple) or (v is None and k not in ("goal_s", "units")):
                out[k] = _cell(v)
        return out

    table = []
    for arg in ("--version", "--help"):
        def startup(side: str, backend: str, arg: str = arg) -> tuple[float, float] | None:
            s = startup_of[side]
            if not s or backend != (result.get("databases") or ["sqlite"])[0]:  # no database: in the first column
                return None
            k = arg.removeprefix("--")
            return s[f"{k}_s"], s[f"{k}_cpu"]
        table.append(line(f"start-up: placering {arg}", None, None, startup))
    sizes = sorted({r["units"] for r in result["rows"]})
    for figure, key, goals in FIGURES:
        for size in sizes:
            def value(side: str, backend: str, size: int = size, key: str = key) -> tuple[float, float] | None:
                row = next((r for r in rows_of[side] if r["units"] == size and r["database"] == backend), None)
                return _figure(row, key) if row else None
            table.append(line(figure, size, (goals or {}).get(size), value))

    def demo(side: str, backend: str) -> tuple[float, float] | None:
        d = next((d for d in demo_of[side] if d["database"] == backend), None)
        return (d["init_demo_s"], d["init_demo_cpu"]) if d else None
    if result["demo"]:
        table.append(line("init --demo", 900, 3.0, demo))
    return table


@bench.command("scale")
@click.option("--sizes", default="900,20000", show_default=True, help="Register sizes (units), comma-separated.")
@click.option("--requests", type=click.IntRange(min=1), default=7425, show_default=True,
              help="Requests in the batch (7,425: a year's requests; fewer for a quick run).")
@click.option("--quick", is_flag=True,
              help="A short run: 900 units, a batch of 200 requests (the figures of the year's batch and of "
              "20,000 units need the defaults).")
@click.option("--engine", type=click.Choice(ENGINES), default="vectorized", show_default=True,
              help="Evaluator the match processes use.")
@click.option("--pg", "pg_url", metavar="URL", envvar="PLACERING_BENCH_PG_URL",
              help="PostgreSQL server URL (the login creates and drops a database per size); "
              "or PLACERING_BENCH_PG_URL. Without it only SQLite is measured.")
@click.option("--databases", type=click.Choice(["both", "sqlite", "postgresql"]), default="both", show_default=True,
              help="Which databases to measure (postgresql needs --pg); 'both' is SQLite, and PostgreSQL with --pg.")
@click.option("--before", "before_path", metavar="PATH",
              help="An earlier placering to measure the same figures with, on the same data: a checkout with "
              "its own virtual environment (PATH/.venv/bin/python: git worktree add PATH COMMIT, then "
              "python3 -m venv PATH/.venv && PATH/.venv/bin/pip install -e PATH), its placering executable "
              "or its python. Prints a before/after table.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Also time `placering init --demo` on a fresh database of each kind.")
@json_option
def bench_scale(sizes: str, requests: int, quick: bool, engine: str, pg_url: str | None, databases: str,
                before_path: str | None, demo: bool, json_output: bool) -> None:
    """Whole `placering` processes at register sizes: start-up, one match, a stored batch, bytes, memory."""
    if quick:
        sizes, requests = "900", min(requests, 200)
    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise CliError(msg("bench.sizes_not_list", sizes=sizes), 2) from None
    if not size_list or min(size_list) < 11:
        raise CliError(msg("bench.sizes_too_small"), 2)
    if databases == "postgresql" and not pg_url:
        raise CliError(msg("bench.databases_needs_pg"), 2)
    backends = [b for b in ("sqlite", "postgresql") if databases in ("both", b) and (b == "sqlite" or pg_url)]
    after = Side("after", sys.executable)
    sides = [Side("before", _side_python(before_path)), after] if before_path else [after]
    if before_path and sides[0].package == after.package:
        click.echo("--before: the same placering as this one (before and after measure the same code)", err=True)
    for side in sides:
        side.compile()
    parts: dict[str, dict[str, Any]] = {}
    for side in sides:
        (help_s, help_cpu), (version_s, version_cpu) = _startup(side, "--help"), _startup(side, "--version")
        parts[side.name] = {"commit": side.commit, "package": str(side.package),
                            "startup": {"help_s": help_s, "help_cpu": help_cpu, "version_s": version_s,
                                        "version_cpu": version_cpu}, "rows": [], "demo": []}
    with tempfile.TemporaryDirectory(prefix="placering-bench-") as tmp:
        # Before and after take turns on each figure set, so both meet the same load.
        for backend in backends if demo else ():
            for side in sides:
                parts[side.name]["demo"].append(measure_demo(side, backend, tmp=Path(tmp), pg=pg_url))
                click.echo(json.dumps(parts[side.name]["demo"][-1]), err=True)  # each figure as it is measured
        for size in size_list:
            for backend in backends:
                for side in sides:
                    parts[side.name]["rows"].append(measure(size, backend, requests=requests, engine=engine,
                                                            tmp=Path(tmp), pg=pg_url, side=side))
                    click.echo(json.dumps(parts[side.name]["rows"][-1], default=str), err=True)
    result: dict[str, Any] = {**parts["after"], "before": parts.get("before"), "databases": backends,
                              "load": [round(x, 2) for x in os.getloadavg()],
                              "note": "measured in one run; every figure is a whole process"}
    result["comparison"] = comparison(result)
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
    _print_comparison(result, backends, requests)
    if not pg_url:
        click.echo("PostgreSQL: not measured (give --pg URL or set PLACERING_BENCH_PG_URL).")


def _print_comparison(result: dict[str, Any], backends: list[str], requests: int) -> None:
    sides = ["before", "after"] if result.get("before") else ["after"]
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    columns: list[tuple[str, str]] = [("figure", "Figure"), ("units", "Units"), ("goal_s", "Goal s")]
    for backend in backends:
        columns += [(f"{backend}_{side}", f"{names[backend]} {side}") for side in sides]
    if len(backends) == 2:
        columns += [(f"ratio_{side}", f"PG/SQLite {side}") for side in sides]
    click.echo()
    if result.get("before"):
        click.echo(f"Before: {result['before']['commit']} ({result['before']['package']})")
    click.echo(f"After:  {result['commit']} ({result['package']})")
    load = ", ".join(_number(x) for x in result["load"])
    click.echo(f"Load average at the end (1, 5, 15 min): {load}; the batch: {requests} requests")
    print_table(result["comparison"], columns,
                title="Each figure, seconds of one whole process: wall (CPU); PG/SQLite = ratio of wall times")

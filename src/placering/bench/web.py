"""`placering bench web`: the application server under load, as people use it. N server
instances (`placering serve`, separate processes) on one database; P simulated people, each
signed in with a local account of their role, doing mixed work through the JSON API at once
(handlers and social workers match, choose, decline and read their requests; maintainers change
unit statuses and record checks; procurement records checks and searches; reviewers approve
reviews; auditors read audits and units), each request going to the next instance in turn (the
signed cookie works on any instance). Prints requests per second and p50/p95 latency per
operation, conflicts (409: someone else was first, as `bench load` counts them) and errors (any
5xx, 401/403 or failed connection), then the consistency checks of `bench load` on the database.
With --warm-matches N, one handler then times N matches one after another on a warm instance.
Figures are printed, never asserted."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import click
from sqlalchemy import func, select

from ..cli.common import CliError, app, json_option, print_json, print_table, wants_json
from ..clock import today
from ..storage import transaction
from ..storage.database import database_url
from .group import bench
from .load import _consistency, _setup
from ..i18n import msg

KINDS = ("signin", "match", "choose", "decline", "read_request", "status", "check", "search", "review",
         "audit", "read_unit")
WRITES = ("match", "choose", "decline", "status", "check")
# people per 50 and what each role does (weights)
ROLE_MIX = [("handler", 20), ("social_worker", 6), ("maintainer", 8), ("procurement", 4), ("reviewer", 4),
            ("auditor", 8)]
WORK = {
    "handler": {"match": 40, "choose": 25, "decline": 10, "read_request": 25},
    "social_worker": {"match": 40, "choose": 25, "decline": 10, "read_request": 25},
    "maintainer": {"status": 45, "check": 35, "read_unit": 20},
    "procurement": {"check": 50, "search": 50},
    "reviewer": {"review": 60, "read_unit": 40},
    "auditor": {"audit": 50, "read_unit": 30, "search": 20},
}



def _stop(procs: list) -> None:
    """End the server instances a bench started (a stuck one is killed after 30 s)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _people(count: int) -> list[tuple[str, str]]:
    roles = [r for r, n in ROLE_MIX for _ in range(n)]
    return [(f"bench-w{i:03d}", roles[i * len(roles) // count]) for i in range(count)]


def _accounts(engine, people: list[tuple[str, str]], password: str) -> None:
    from ..access.acting import acting_as
    from ..access.policy import local_principal
    from ..access.users import add_user

    with acting_as(local_principal("bench-web")), transaction(engine) as session:
        for login, role in people:
            add_user(session, login, roles=[role], municipality="Göteborg" if role == "social_worker" else None,
                     password=password, database_login=False)


def _start(url: str, count: int) -> tuple[list[subprocess.Popen], list[str]]:
    env = dict(os.environ, PLACERING_SERVER_SECRET_KEY=secrets.token_urlsafe(32), PLACERING_SERVER_COOKIE_SECURE="0",
               PLACERING_SERVER_LOG_REQUESTS="0", PLACERING_SERVER_THROTTLE_ADDRESS="100000",
               PLACERING_DATABASE_URL=url)
    procs, urls = [], []
    for _ in range(count):
        port = _free_port()
        procs.append(subprocess.Popen([sys.executable, "-c", "from placering.cli import main; main()", "serve",
                                       "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
        urls.append(f"http://127.0.0.1:{port}")
    import httpx

    deadline = time.monotonic() + 120
    for proc, base in zip(procs, urls):
        while True:
            if proc.poll() is not None:
                raise CliError(msg("bench.server_did_not_start", stderr=proc.stderr.read().strip()[-500:]), 1)
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CliError(msg("bench.server_no_answer", seconds=120), 1)
            time.sleep(0.2)
    return procs, urls


class Person:
    """One simulated person: their own cookie jar and CSRF token, their requests' state."""

    def __init__(self, login: str, role: str, password: str, urls: list[str], requests: list[dict], seed: int):
        self.login, self.role, self.password, self.urls = login, role, password, urls
        self.rng = random.Random(seed)
        self.turn = self.rng.randrange(len(urls))
        self.requests = iter(requests)
        self.matched: list[tuple[str, list[str], str]] = []  # (request id, recommended units, submitted on)
        self.placed: Counter = Counter()

    def url(self, path: str) -> str:
        self.turn = (self.turn + 1) % len(self.urls)
        return self.urls[self.turn] + path


async def _call(person: Person, client, kind: str, method: str, path: str, stats: dict, **kw):
    started = time.perf_counter()
    try:
        r = await client.request(method, person.url(path), **kw)
        status = r.status_code
    except Exception as exc:  # noqa: BLE001 - a failed connection is an error of the run, counted
        stats["counts"][kind]["error:" + type(exc).__name__] += 1
        stats["counts"][kind]["errors"] += 1
        stats["error_examples"].setdefault(f"{kind} {type(exc).__name__}", str(exc)[:300] or repr(exc))
        stats["latency"][kind].append(time.perf_counter() - started)
        return None
    stats["latency"][kind].append(time.perf_counter() - started)
    if status < 300:
        stats["counts"][kind]["ok"] += 1
        return r
    if status in (404, 409):
        stats["counts"][kind]["conflicts"] += 1
        shape = r.json().get("code", "?") if r.headers.get("content-type", "").startswith("application/json") else "?"
        stats["conflict_kinds"][f"{kind}: {shape}"] += 1
    else:
        stats["counts"][kind]["errors"] += 1
        stats["counts"][kind][f"error:{status}"] += 1
        stats["error_examples"].setdefault(f"{kind} {status}", r.text[:300])
    return None


async def _work(person: Person, ops: int, setup: dict, stats: dict) -> None:
    import httpx

    # a client closes idle connections before the server does (as a proxy must), else a request
    # can meet a connection the server is closing
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(keepalive_expiry=30)) as client:
        r = await _call(person, client, "signin", "POST", "/api/v1/auth/session", stats,
                        json={"login": person.login, "password": person.password})
        if r is None:
            return
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        work = WORK[person.role]
        for _ in range(ops):
            kind = person.rng.choices(list(work), weights=list(work.values()))[0]
            if kind in ("choose", "decline", "read_request") and not person.matched:
                kind = "match"
            if kind == "match":
                req = next(person.requests, None)
                if req is None:
                    continue
                r = await _call(person, client, kind, "POST", "/api/v1/requests/match?documents=full", stats,
                                json=req)
                if r is not None:
                    doc = r.json()["documents"][0]
                    person.matched.append((req["request_id"], [u["unit_id"] for u in doc["recommendations"]],
                                           req["submitted_on"]))
            elif kind in ("choose", "decline"):
                rid, units, on = person.matched[person.rng.randrange(len(person.matched))]
                if not units:
                    stats["counts"][kind]["skipped"] += 1
                    continue
                if kind == "choose":
                    unit = units[0]
                    r = await _call(person, client, kind, "POST", f"/api/v1/requests/{rid}/choose", stats,
                                    json={"unit_id": unit, "on": on})
                    if r is not None:
                        placement = r.json()
                        person.placed[unit] += int(placement.get("places", 1))
                        person.matched = [m for m in person.matched if m[0] != rid]
                else:
                    unit = person.rng.choice(units)
                    r = await _call(person, client, kind, "POST", f"/api/v1/requests/{rid}/decline", stats,
                                    json={"unit_id": unit, "reason": "ingen plats ändå"})
                    if r is not None:
                        units.remove(unit)
            elif kind == "read_request":
                rid = person.matched[person.rng.randrange(len(person.matched))][0]
                await _call(person, client, kind, "GET", f"/api/v1/requests/{rid}", stats)
            elif kind == "status":
                unit = person.rng.choice(setup["hot"])
                r = await _call(person, client, "read_unit", "GET", f"/api/v1/units/{unit}", stats)
                if r is not None:
                    target = "watch" if r.json()["status"] == "published" else "published"
                    await _call(person, client, kind, "POST", f"/api/v1/register/units/{unit}/status", stats,
                                json={"status": target, "note": "bench web"})
            elif kind == "check":
                org = person.rng.choice(setup["orgs"])
                await _call(person, client, kind, "POST", f"/api/v1/register/suppliers/{org}/checks", stats,
                            json={"kind": "credit_rating", "result": "pass", "on": today().isoformat(),
                                  "value": person.rng.randint(50, 90), "source": "bench web"})
            elif kind == "search":
                await _call(person, client, kind, "GET", "/api/v1/register/search", stats,
                            params={"text": person.rng.choice(["ängen", "boende", "gården", "hvb"])})
            elif kind == "read_unit":
                await _call(person, client, kind, "GET", f"/api/v1/units/{person.rng.choice(setup['units'])}", stats)
            elif kind == "review":
                r = await _call(person, client, "review", "GET", "/api/v1/reviews?status=pending", stats)
                pending = r.json() if r is not None else []
                if pending:
                    review = person.rng.choice(pending)
                    await _call(person, client, "review", "POST", f"/api/v1/reviews/{review['id']}/approve", stats,
                                json={"note": "bench web: rimligt"})
            elif kind == "audit":
                path = person.rng.choice(["/api/v1/audit/paused", "/api/v1/audit/log?limit=50",
                                          "/api/v1/audit/checks-due"])
                await _call(person, client, kind, "GET", path, stats)


async def _run(people: list[Person], ops: int, setup: dict, stats: dict) -> None:
    await asyncio.gather(*(_work(p, ops, setup, stats) for p in people))


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _server_ms(r) -> float | None:
    """The server's own time for an answer (its Server-Timing header), in seconds."""
    value = r.headers.get("server-timing", "")
    if "dur=" not in value:
        return None
    try:
        return float(value.split("dur=", 1)[1].split(";")[0].split(",")[0]) / 1000
    except ValueError:
        return None


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux /proc), None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


def _form(req: dict) -> list[tuple[str, str]]:
    """A request as the web page's form sends it (the page dates it today: it starts tomorrow)."""
    from datetime import timedelta

    person = req["person"]
    req = dict(req, start_on=(today() + timedelta(days=1)).isoformat())
    fields = [("request_id", req["request_id"]), ("municipality", req["municipality"]),
              ("requester", req["requester"]), ("insats", req["insats"]), ("subcategory", req.get("subcategory") or ""),
              ("age", str(person["age"])), ("gender", person["gender"]), ("legal_basis", req["legal_basis"]),
              ("urgency", req["urgency"]), ("start_on", req["start_on"]), ("places", str(req.get("places") or 1))]
    fields += [("needs", n) for n in person.get("needs") or []]
    if person.get("protected_identity"):
        fields.append(("protected_identity", "on"))
    for key in ("home_municipality", "max_distance_km", "max_daily_price"):
        if req.get(key) is not None:
            fields.append((key, str(req[key])))
    fields += [("avoid_municipalities", m) for m in req.get("avoid_municipalities") or []]
    return fields


async def _warm_matches(url: str, login: str, password: str, requests: list[dict], *, web: bool = False,
                        pid: int | None = None) -> dict[str, list[float]]:
    """Matches one after another on one instance (`web`: submitted through the web page's form,
    else POST /api/v1/requests/match): the client's and the server's time of each, and the
    server process's CPU time per match. The first three warm the instance and are not counted."""
    import httpx

    out: dict[str, list[float]] = {"client": [], "server": [], "cpu": []}
    async with httpx.AsyncClient(timeout=120, base_url=url) as client:
        r = await client.post("/api/v1/auth/session", json={"login": login, "password": password})
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        warm = 3
        cpu_before = None
        for i, req in enumerate(requests):
            if i == warm:
                cpu_before = _cpu_seconds(pid)
            started = time.perf_counter()
            if web:
                from urllib.parse import urlencode

                r = await client.post("/forfragningar/ny", content=urlencode(_form(req)).encode("ascii"),
                                      headers={"content-type": "application/x-www-form-urlencoded"},
                                      follow_redirects=False)
                good = r.status_code == 303
            else:
                r = await client.post("/api/v1/requests/match?documents=none", json=req)
                good = r.status_code == 200
            if not good:
                raise CliError(msg("bench.warm_match_failed", status=r.status_code, body=r.text[:300]), 1)
            if i >= warm:
                out["client"].append(time.perf_counter() - started)
                server = _server_ms(r)
                if server is not None:
                    out["server"].append(server)
        cpu_after = _cpu_seconds(pid)
        if cpu_before is not None and cpu_after is not None and out["client"]:
            out["cpu"] = [(cpu_after - cpu_before) / len(out["client"])]
    return out


def _warm_figures(timings: dict[str, list[float]]) -> dict[str, Any]:
    return {"matches": len(timings["client"]), "client_p50_ms": _pct(timings["client"], 0.5),
            "client_p95_ms": _pct(timings["client"], 0.95), "server_p50_ms": _pct(timings["server"], 0.5),
            "server_p95_ms": _pct(timings["server"], 0.95),
            "server_cpu_ms_per_match": round(1000 * timings["cpu"][0], 1) if timings["cpu"] else None}


def _rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process (Linux /proc), MB."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _load_average() -> str | None:
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return None


@bench.command("web")
@click.option("--people", type=click.IntRange(1, 500), default=50, show_default=True, help="Simulated people.")
@click.option("--ops", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Operations per person (after signing in).")
@click.option("--instances", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Server instances on the one database.")
@click.option("--units", type=click.IntRange(11, 20_000), default=120, show_default=True,
              help="Size of the demo register loaded when the database has no units.")
@click.option("--warm-matches", type=click.IntRange(0, 10_000), default=0, show_default=True,
              help="Afterwards, time this many matches one after another on a warm instance.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the work mix.")
@click.option("--scenario", type=click.Choice(["mixed", "match"]), default="mixed", show_default=True,
              help="mixed: the people's mixed work (then --warm-matches); match: only --warm-matches "
                   "(default 50) matches one after another on a warm instance, through the API and "
                   "through the web page's form, with the server's own time and CPU per match.")
@json_option
def web_cmd(people: int, ops: int, instances: int, units: int, warm_matches: int, seed: int, scenario: str,
            json_output: bool) -> None:
    """Run P simulated people against N server instances on --db; figures and consistency."""
    from ..demo import generate_requests
    from ..storage.models import History, Unit

    url = database_url(app().db_url)
    engine = app().engine()
    with transaction(engine) as s:
        if not s.scalar(select(func.count()).select_from(Unit)):
            from ..demo import generate_register
            from ..register.service import import_document

            # with the register's statuses (as `register import --apply-status`): published units
            # are recommended, so people choose and decline, and free places change
            import_document(s, generate_register(units, seed=seed), actor="bench-web", source="bench web",
                            apply_status=True)
    setup = _setup(engine, units, seed)
    with transaction(engine) as s:
        setup["units"] = list(s.scalars(select(Unit.unit_id).order_by(Unit.unit_id).limit(200)))
        first_id = (s.scalar(select(func.max(History.id))) or 0) + 1
    password = secrets.token_urlsafe(16)
    if scenario == "match":
        return _match_scenario(engine, url, instances, warm_matches or 50, seed, password, json_output)
    roster = _people(people)
    _accounts(engine, roster, password)
    tag = uuid.uuid4().hex[:6]
    reqs = [dict(r, request_id=f"WEB-{tag}-{i}") for i, r in enumerate(generate_requests(people * ops + warm_matches
                                                                                          + 4, seed=seed))]
    for r in reqs:  # social workers match their own municipality's requests (Göteborg in the demo mix)
        r["municipality"] = r.get("municipality") or "Göteborg"
    procs, urls = _start(url, instances)
    stats: dict[str, Any] = {"counts": defaultdict(Counter), "latency": defaultdict(list),
                             "conflict_kinds": Counter(), "error_examples": {}}
    try:
        persons = []
        for i, (login, role) in enumerate(roster):
            mine = [r for r in reqs[i::people] if role != "social_worker" or r["municipality"] == "Göteborg"]
            persons.append(Person(login, role, password, urls, mine, seed * 1000 + i))
        load_before = _load_average()
        started = time.perf_counter()
        asyncio.run(_run(persons, ops, setup, stats))
        seconds = time.perf_counter() - started
        load_after = _load_average()
        placed: Counter = Counter()
        for p in persons:
            placed.update(p.placed)
        counts = stats["counts"]
        # before the warm matches below, which add decisions the mixed work did not make
        checks = _consistency(engine, setup["free"], placed, Counter({k: counts[k]["ok"] for k in WRITES}), first_id)
        warm = None
        if warm_matches:
            handler = next(login for login, role in roster if role == "handler")
            warm = _warm_figures(asyncio.run(_warm_matches(urls[0], handler, password, reqs[-(warm_matches + 4):],
                                                           pid=procs[0].pid)))
    finally:
        _stop(procs)
    latency = stats["latency"]
    rows = []
    for k in KINDS:
        lat = latency.get(k, [])
        if not lat and not counts[k]:
            continue
        rows.append({"operation": k, "requests": len(lat), "ok": counts[k]["ok"], "conflicts": counts[k]["conflicts"],
                     "errors": counts[k]["errors"], "skipped": counts[k]["skipped"], "p50_ms": _pct(lat, 0.5),
                     "p95_ms": _pct(lat, 0.95)})
    total = sum(r["requests"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    with engine.connect() as conn:
        n_units = conn.execute(select(func.count()).select_from(Unit)).scalar()
    result = {"database": engine.dialect.name, "instances": instances, "people": people, "ops_per_person": ops,
              "units": n_units, "seconds": round(seconds, 2), "requests_per_second": round(total / seconds, 1),
              "requests": total, "errors": errors, "operations": rows, "consistency": checks,
              "conflict_kinds": dict(stats["conflict_kinds"].most_common()),
              "error_examples": stats["error_examples"], "cpus": os.cpu_count(),
              "load_average": {"before": load_before, "after": load_after}}
    if warm:
        result["warm_match"] = warm
    engine.dispose()
    if wants_json(json_output):
        print_json(result)
    else:
        click.echo(f"{engine.dialect.name}: {people} people × {ops} operations on {instances} server instances "
                   f"({n_units} units): {total} requests in {seconds:.1f} s = {result['requests_per_second']} "
                   f"requests/s, {errors} errors ({os.cpu_count()} CPUs, load average {load_before} → "
                   f"{load_after})")
        print_table(rows, [("operation", "Operation"), ("requests", "Requests"), ("ok", "OK"),
                           ("conflicts", "Conflicts"), ("errors", "Errors"), ("skipped", "Skipped"),
                           ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms")])
        if stats["conflict_kinds"]:
            print_table([{"conflict": k, "n": n} for k, n in stats["conflict_kinds"].most_common()],
                        [("conflict", "Conflict (code)"), ("n", "Count")])
        for key, text in stats["error_examples"].items():
            click.echo(f"error {key}: {text}")
        print_table([dict(c, ok="yes" if c["ok"] else "NO") for c in checks],
                    [("check", "Consistency check"), ("ok", "OK"), ("detail", "Detail")])
        if warm:
            _echo_warm("API", n_units, warm)
    if not all(c["ok"] for c in checks):
        raise CliError(msg("bench.inconsistent"), 1)


def _echo_warm(how: str, n_units: int, w: dict[str, Any]) -> None:
    click.echo(f"Warm match at {n_units} units ({how}): {w['matches']} matches one after another: client p50 "
               f"{w['client_p50_ms']} / p95 {w['client_p95_ms']} ms, server p50 {w['server_p50_ms']} / p95 "
               f"{w['server_p95_ms']} ms, server CPU {w['server_cpu_ms_per_match']} ms per match")


def _match_scenario(engine, url: str, instances: int, matches: int, seed: int, password: str,
                    json_output: bool) -> None:
    """`--scenario match`: one handler's matches one after another on a warm instance (the
    others idle), through the API and then through the web page's form."""
    from ..demo import generate_requests
    from ..storage.models import Unit

    tag = uuid.uuid4().hex[:6]
    login = f"bench-match-{tag}"
    _accounts(engine, [(login, "handler")], password)
    reqs = [dict(r, request_id=f"WM-{tag}-{i}") for i, r in enumerate(generate_requests(2 * (matches + 3),
                                                                                       seed=seed))]
    for r in reqs:
        r["municipality"] = r.get("municipality") or "Göteborg"
    with engine.connect() as conn:
        n_units = conn.execute(select(func.count()).select_from(Unit)).scalar()
    procs, urls = _start(url, instances)
    try:
        load_before = _load_average()
        rss_started = _rss_mb(procs[0].pid)
        api = _warm_figures(asyncio.run(_warm_matches(urls[0], login, password, reqs[:matches + 3],
                                                      pid=procs[0].pid)))
        web = _warm_figures(asyncio.run(_warm_matches(urls[0], login, password, reqs[matches + 3:], web=True,
                                                      pid=procs[0].pid)))
        load_after = _load_average()
        rss = {"started": rss_started, "after": _rss_mb(procs[0].pid)}
    finally:
        _stop(procs)
    result = {"database": engine.dialect.name, "units": n_units, "instances": instances, "api": api, "web": web,
              "cpus": os.cpu_count(), "load_average": {"before": load_before, "after": load_after},
              "server_rss_mb": rss}
    engine.dispose()
    if wants_json(json_output):
        print_json(result)
    else:
        click.echo(f"{result['database']}, {n_units} units, load average {load_before} → {load_after} "
                   f"({os.cpu_count()} CPUs)")
        _echo_warm("API", n_units, api)
        _echo_warm("web form", n_units, web)
        click.echo(f"Server process memory (RSS): {rss['started']} MB started, {rss['after']} MB after the matches")

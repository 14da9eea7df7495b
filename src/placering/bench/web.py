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
                raise CliError(f"a server instance did not start: {proc.stderr.read().strip()[-500:]}", 1)
            try:
                if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CliError("a server instance did not answer within 120 s", 1)
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


async def _warm_matches(url: str, login: str, password: str, requests: list[dict]) -> list[float]:
    import httpx

    out = []
    async with httpx.AsyncClient(timeout=120, base_url=url) as client:
        r = await client.post("/api/v1/auth/session", json={"login": login, "password": password})
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        for i, req in enumerate(requests):
            started = time.perf_counter()
            r = await client.post("/api/v1/requests/match?documents=none", json=req)
            if r.status_code != 200:
                raise CliError(f"a warm match failed: {r.status_code} {r.text[:300]}", 1)
            if i >= 3:  # the first ones warm the instance (the register's facts, the rules)
                out.append(time.perf_counter() - started)
    return out


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
@json_option
def web_cmd(people: int, ops: int, instances: int, units: int, warm_matches: int, seed: int,
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
        started = time.perf_counter()
        asyncio.run(_run(persons, ops, setup, stats))
        seconds = time.perf_counter() - started
        warm = []
        if warm_matches:
            handler = next(login for login, role in roster if role == "handler")
            warm = asyncio.run(_warm_matches(urls[0], handler, password, reqs[-(warm_matches + 4):]))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    placed: Counter = Counter()
    for p in persons:
        placed.update(p.placed)
    counts, latency = stats["counts"], stats["latency"]
    ok = Counter({k: counts[k]["ok"] for k in WRITES})
    checks = _consistency(engine, setup["free"], placed, ok, first_id)
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
              "error_examples": stats["error_examples"], "cpus": os.cpu_count()}
    if warm:
        result["warm_match"] = {"matches": len(warm), "p50_ms": _pct(warm, 0.5), "p95_ms": _pct(warm, 0.95)}
    engine.dispose()
    if wants_json(json_output):
        print_json(result)
    else:
        click.echo(f"{engine.dialect.name}: {people} people × {ops} operations on {instances} server instances "
                   f"({n_units} units): {total} requests in {seconds:.1f} s = {result['requests_per_second']} "
                   f"requests/s, {errors} errors ({os.cpu_count()} CPUs)")
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
            w = result["warm_match"]
            click.echo(f"Warm match at {n_units} units: {w['matches']} matches one after another, p50 {w['p50_ms']} ms, "
                       f"p95 {w['p95_ms']} ms")
    if not all(c["ok"] for c in checks):
        raise CliError("the register is inconsistent after the load test (see above)", 1)

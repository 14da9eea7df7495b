"""The demo register, the demo placement requests and the register benchmark commands.

What a user of the demo would check: the same seed gives the same register, it is valid and
imports (`placering init --demo`) on both back ends, and it looks like Göteborg's register in
DOMAIN.md (eleven insatser, routes per insats, removal-reason mix, protected addresses, ...).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import pytest

from placering.matching.request import read_requests, validate_request
from placering.demo import document_json, generate_register, generate_requests
from placering.register.schema import parse_document
from placering.taxonomy import load_taxonomy
from placering.text import canonical_org_nr

from conftest import snapshot

REMOVAL_MIX_2022 = ["osannolik_anvandning", "avvecklad", "ekonomiska_brister", "ivo",
                    "rekommendationsstopp", "fortida_upphorande", "avradan_annan_myndighet"]
REQUEST_KEYS = {"request_id", "submitted_on", "municipality", "requester", "insats", "subcategory", "person",
                "legal_basis", "urgency", "start_on", "places", "home_municipality", "home_location",
                "max_distance_km", "avoid_municipalities", "max_daily_price"}
PERSON_KEYS = {"age", "gender", "needs", "protected_identity"}


@pytest.fixture(scope="module")
def demo() -> dict:
    return generate_register()


def units_of(doc: dict):
    return [(s, u) for s in doc["suppliers"] for u in s["units"]]


def stdout_json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- determinism and validity ----------------------------------------------------------------


def test_same_seed_same_document_and_another_seed_differs(demo):
    assert document_json(generate_register()) == document_json(demo)
    assert document_json(generate_register(200, seed=11)) == document_json(generate_register(200, seed=11))
    assert document_json(generate_register(seed=2025)) != document_json(demo)


def test_same_document_in_another_process():
    """No dependence on Python's per-process string hashing (set order)."""
    import hashlib
    import os
    import subprocess
    import sys

    code = ("import hashlib, json; from placering.demo import generate_register, generate_requests, "
            "document_json; print(hashlib.sha256((document_json(generate_register(150)) + "
            "json.dumps(generate_requests(100))).encode()).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": h},
                       capture_output=True, text=True, check=True).stdout.strip()
        for h in ("1", "2")
    }
    here = hashlib.sha256((document_json(generate_register(150)) + json.dumps(generate_requests(100))).encode())
    assert digests == {here.hexdigest()}


def test_demo_register_is_valid_and_about_500_suppliers_900_units(demo):
    parsed = parse_document(demo, source="demo")
    units = list(parsed.units())
    assert len(units) == 900
    assert 450 <= len(parsed.suppliers) <= 550
    for s in demo["suppliers"]:
        assert canonical_org_nr(s["org_nr"]) == s["org_nr"]  # Luhn check digit holds


def test_national_size_register_is_valid():
    doc = generate_register(20000, seed=3)
    parsed = parse_document(doc, source="national")
    assert sum(1 for _ in parsed.units()) == 20000
    assert 10000 <= len(doc["suppliers"]) <= 12000
    municipalities = {u["municipality"] for _, u in units_of(doc)}
    assert len(municipalities) == sum(m.demo for m in load_taxonomy().municipalities.values())  # all of the demo region


def test_too_small_a_register_is_refused():
    from placering.errors import ValidationError

    with pytest.raises(ValidationError, match="at least 11 units"):
        generate_register(5)


# --- what the register looks like -----------------------------------------------------------


def test_all_eleven_insatser_with_enough_units_and_routes_the_taxonomy_allows(demo):
    tax = load_taxonomy()
    per_insats = Counter(o["insats"] for _, u in units_of(demo) for o in u["offers"])
    assert set(per_insats) == set(tax.insatser)
    assert min(per_insats.values()) >= 15
    # socialt boende has by far the most requests (4,080 of 7,425), so the most units
    assert per_insats.most_common(1)[0][0] == "socialt_boende"
    routes = Counter((r["insats"], r["route"]) for _, u in units_of(demo) for r in u["routes"])
    for (insats, route) in routes:
        assert route in tax.insatser[insats].routes
    assert {i for i, r in routes if r == "iop"} == {"skyddat_boende"}
    assert routes[("nodbistand", "ramavtal")] == 0 and routes[("nodbistand", "direktupphandling")] > 0
    for insats, ins in tax.insatser.items():
        for route in ins.routes:
            assert routes[(insats, route)] > 0, (insats, route)


def test_removed_units_follow_the_2022_reason_mix_and_carry_an_assessment(demo):
    removed = [u for _, u in units_of(demo) if u["status"] == "removed"]
    counts = Counter(u["removal_reason"] for u in removed)
    assert [counts[r] for r in REMOVAL_MIX_2022] == [36, 27, 14, 11, 8, 7, 2]  # 105 removals, as in 2022
    assert all(u["status_note"] for u in removed)
    assert all("removal_reason" not in u for _, u in units_of(demo) if u["status"] != "removed")
    statuses = Counter(u["status"] for _, u in units_of(demo))
    assert statuses["published"] > 0.75 * 900
    assert statuses["watch"] > 0 and statuses["unpublished"] > 0 and statuses["recommendation_stop"] > 0


def test_removal_reasons_match_the_units_situation(demo):
    for s, u in units_of(demo):
        reason = u.get("removal_reason")
        if reason == "ivo":
            assert any(p["status"] in ("revoked", "banned") for p in u["permits"]), u["unit_id"]
        if reason == "fortida_upphorande":
            assert any(r["route"] == "ramavtal" and r["status"] == "terminated" for r in u["routes"])
        if reason == "ekonomiska_brister":
            credit = [c for c in s["checks"] if c["kind"] == "credit_rating"]
            assert credit and credit[0]["result"] == "fail" and credit[0]["value"] < 40


def test_recommendation_stop_only_with_direct_procurement(demo):
    stopped = [u for _, u in units_of(demo) if u["status"] == "recommendation_stop"]
    assert stopped
    for u in stopped:
        assert any(r["route"] == "direktupphandling" for r in u["routes"]), u["unit_id"]


def test_skyddat_boende_has_protected_addresses_and_iop_is_run_by_ideburna(demo):
    for s, u in units_of(demo):
        offers_skyddat = any(o["insats"] == "skyddat_boende" for o in u["offers"])
        assert u["protected_address"] == offers_skyddat, u["unit_id"]
        if any(r["route"] == "iop" for r in u["routes"]):
            assert s["legal_form"] in ("ideell_forening", "stiftelse")
        if any(r["route"] == "egen_regi" for r in u["routes"]):
            assert s["legal_form"] == "kommun"
    gbg = [s for s in demo["suppliers"] if s["org_nr"] == "212000-1355"]
    assert gbg and gbg[0]["name"] == "Göteborgs Stad" and len(gbg[0]["units"]) > 50


def test_framework_agreements_prices_validity_and_order_stops(demo):
    agreements: dict[str, dict] = {}
    shared = Counter()
    for _, u in units_of(demo):
        for r in u["routes"]:
            if r["route"] == "ramavtal":
                agreements[r["agreement_id"]] = r
                shared[r["agreement_id"]] += 1
    assert all(aid.startswith("RA-") for aid in agreements)
    assert any(n > 1 for n in shared.values())  # chains share an agreement
    statuses = Counter(r["status"] for r in agreements.values())
    assert statuses["order_stop"] == 10  # like INK's ten at the turn of 2024/25
    as_of = date(2024, 12, 31)
    frm = [date.fromisoformat(r["valid_from"]) for r in agreements.values()]
    to = [date.fromisoformat(r["valid_to"]) for r in agreements.values()]
    assert any(t < as_of for t in to) and any(f > as_of for f in frm)
    assert sum(f <= as_of <= t for f, t in zip(frm, to)) > 0.7 * len(agreements)
    prices = {"hvb_barn_unga": (3500, 6500), "stodboende": (1800, 3200), "socialt_boende": (900, 2200),
              "skyddat_boende": (1800, 3500), "behandling_vuxen": (900, 4500), "korttidsboende": (2100, 2800),
              "familjehem": (1150, 2000)}
    for r in agreements.values():
        if r["insats"] in prices:
            lo, hi = prices[r["insats"]]
            assert lo <= r["daily_price"] <= hi, r
    # Direct procurement is mostly dearer than the framework median of its insats.
    above = total = 0
    for insats in prices:
        fw = sorted(r["daily_price"] for r in agreements.values() if r["insats"] == insats)
        median = fw[len(fw) // 2]
        for _, u in units_of(demo):
            for r in u["routes"]:
                if r["route"] == "direktupphandling" and r["insats"] == insats:
                    total += 1
                    above += r["daily_price"] > median
    assert above > 0.6 * total


def test_permits_checks_names_and_places(demo):
    tax = load_taxonomy()
    permit_statuses = Counter()
    for s, u in units_of(demo):
        insats = u["offers"][0]["insats"]
        band = tax.insatser[insats]
        assert band.age_min <= u["age_min"] <= u["age_max"]
        if band.age_max is not None:
            assert u["age_max"] <= band.age_max
        assert 0 <= u["free_places"] <= u["places"]
        for p in u["permits"]:
            permit_statuses[p["status"]] += 1
            if s["legal_form"] == "kommun":
                assert p["status"] == "notified"
            if p["insats"] == "skyddat_boende":
                assert p["decided_on"] >= "2024-04-01"  # the new law on skyddat boende
        if s["legal_form"] != "kommun" and insats == "hvb_barn_unga":
            assert any(p["insats"] == "hvb_barn_unga" for p in u["permits"])
    assert permit_statuses["active"] > 0 and permit_statuses["notified"] > 0
    assert permit_statuses["revoked"] + permit_statuses["banned"] >= 11
    ratings = [c for s in demo["suppliers"] for c in s["checks"] if c["kind"] == "credit_rating"]
    values = [c["value"] for c in ratings if "value" in c]
    assert all(20 <= v <= 100 for v in values)
    assert sum(v >= 40 for v in values) > 0.8 * len(values)
    assert any(c["result"] == "unavailable" for c in ratings)
    names = [s["name"] for s in demo["suppliers"]] + [u["name"] for _, u in units_of(demo)]
    assert sum(any(ch in n for ch in "åäöÅÄÖ") for n in names) > 0.3 * len(names)
    assert len({n.casefold() for n in names}) == len(names)


# --- loading through the CLI, on both back ends -------------------------------------------


DEMO_DAY = "2026-06-30"


def test_init_demo_loads_the_register_with_its_history(run, engine):
    """The demo's state on its date is the generated register's (statuses, removal reasons,
    agreements); what led there is in the history, dated over the years before; loading it
    again changes nothing."""
    first = stdout_json(run("init", "--demo", "--as-of", DEMO_DAY, "--json"))
    intended = generate_register(as_of=date.fromisoformat(DEMO_DAY))
    assert first["demo"]["units_created"] == 900 and first["demo"]["as_of"] == DEMO_DAY
    exported = stdout_json(run("register", "export", "--json", "--show-protected"))
    now = {u["unit_id"]: (u["status"], u.get("removal_reason")) for _, u in units_of(exported)}
    # As generated, except the few units unpublished while people are placed there.
    paused_with_placements = first["demo"]["paused_with_placements"]
    assert 1 <= len(paused_with_placements) <= 3
    # The register-status rules also act on the checks as they are loaded (a credit rating under
    # the notification level puts a published unit on watch, as 'register check' would).
    ruled = {e["unit_id"] for e in stdout_json(run("register", "history", "--kind", "status", "--json"))
             if e.get("rule_id")}
    skip = set(paused_with_placements) | ruled
    assert {uid: st for uid, st in now.items() if uid not in skip} == {
        u["unit_id"]: (u["status"], u.get("removal_reason")) for _, u in units_of(intended)
        if u["unit_id"] not in skip}
    assert all(now[uid] == ("unpublished", None) for uid in paused_with_placements)
    agreements = lambda doc: {r["agreement_id"]: r["status"] for _, u in units_of(doc)  # noqa: E731
                              for r in u["routes"] if r.get("agreement_id")}
    assert agreements(exported) == agreements(intended)

    # Statuses changed on their own dates, spread over the years before the demo's date.
    entries = stdout_json(run("audit", "log", "--kind", "unit", "--action", "status", "--json"))["entries"]
    years = Counter(str(e["effective_on"])[:4] for e in entries)
    assert len(years) >= 5 and all(str(e["effective_on"]) <= DEMO_DAY for e in entries)

    # An earlier date has its own paused units, among them some published again since.
    then = stdout_json(run("audit", "paused", "--as-of", "2023-06-30", "--json"))
    today = stdout_json(run("audit", "paused", "--as-of", DEMO_DAY, "--json"))
    then_ids = {x["id"] for x in then["paused"]}
    assert 10 <= len(then_ids) < len({x["id"] for x in today["paused"]})
    assert all(x["since"] <= "2023-06-30" for x in then["paused"])
    assert any(now[i][0] == "published" for i in then_ids if i in now)

    # Checks are made at their cadence: a few are due, not every check of every supplier.
    due = stdout_json(run("audit", "checks-due", "--as-of", DEMO_DAY, "--json"))
    kinds = len(due["validity_days"])
    assert 0 < len(due["checks"]) < 0.15 * due["suppliers"] * kinds
    assert {c["state"] for c in due["checks"]} >= {"expired", "not_passed"}

    # Requests of the last two years were decided, chosen and ended on their own dates.
    assert first["demo"]["placements"] >= 20 and first["demo"]["placements_ended"] >= 5
    placed = stdout_json(run("audit", "direct-procurement", "--year", "2025", "--json"))
    assert sum(row["total"] for row in placed["per_insats"]) >= 10
    affected = stdout_json(run("audit", "affected-placements", "--as-of", DEMO_DAY, "--json"))
    assert {p["unit_id"] for p in affected["placements"]} >= set(paused_with_placements)
    shown = stdout_json(run("request", "show", "R-2025-0001", "--json"))
    assert shown["request"]["submitted_on"].startswith("2025-")
    # History's notes are Swedish, as a register keeper writes them (issue 19: the demo's said
    # 'demo register: entries of 2022-01-01', 'entered as approved (demo data)')
    for kind, action in (("unit", "created"), ("entry", "entry_approved")):
        notes = {e["note"] for e in stdout_json(run("audit", "log", "--kind", kind, "--action", action, "--limit", "3",
                                                    "--json"))["entries"]}
        assert notes and all("demoregistret: " in n and "demo register" not in n for n in notes), notes

    before = snapshot(engine)
    again = stdout_json(run("init", "--demo", "--as-of", DEMO_DAY, "--json"))
    assert again["demo"]["units_created"] == 0 and again["demo"]["history_entries"] == 0
    assert snapshot(engine) == before


def test_the_history_plan_is_deterministic_and_in_date_order():
    from placering.demo.history import plan_history

    day = date.fromisoformat(DEMO_DAY)
    doc = generate_register(120, seed=9, as_of=day)
    validity = {"credit_rating": 31, "tax_registration": 92, "court_records": 365}
    a = plan_history(doc, as_of=day, seed=9, validity=validity)
    b = plan_history(generate_register(120, seed=9, as_of=day), as_of=day, seed=9, validity=validity)
    assert (a.entries, a.events, a.checks) == (b.entries, b.events, b.checks)
    assert [e.on for e in a.events] == sorted(e.on for e in a.events)
    assert all(e.on <= day for e in a.events) and len({on.year for on, _ in a.entries}) >= 4
    for checks in a.checks.values():
        assert [c["performed_on"] for c in checks] == sorted(c["performed_on"] for c in checks)
        assert all(c["performed_on"] <= DEMO_DAY for c in checks)


def test_init_demo_refuses_a_future_date(run):
    r = run("init", "--demo", "--as-of", "2999-01-01")
    assert r.exit_code == 2 and "ligger i framtiden" in r.output and "Traceback" not in r.output


# --- benchmark commands ----------------------------------------------------------------------


def test_bench_generate_writes_an_importable_document(run, tmp_path):
    out = tmp_path / "register.json"
    result = stdout_json(run("bench", "generate", "--units", "60", "--seed", "4", "--out", str(out), "--json"))
    assert result["units"] == 60
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc == generate_register(60, seed=4)
    imported = run("register", "import", str(out), "--apply-status", "--by", "anna")
    assert imported.exit_code == 0, imported.output


def test_bench_import_prints_figures_and_reimport_changes_nothing(run):
    result = stdout_json(run("bench", "import", "--units", "60", "--json"))
    phases = {p["phase"]: p for p in result["phases"]}
    assert list(phases) == ["generate", "import", "re-import", "export"]
    assert all(p["seconds"] >= 0 and p["cpu_seconds"] >= 0 and p["peak_rss_mb"] > 0 for p in phases.values())
    assert phases["import"]["rows"] > 60 and phases["import"]["rows_per_second"] > 0
    assert result["reimport_history_entries"] == 0 and result["round_trip_exact"] is True
    table = run("bench", "import", "--units", "60")
    assert table.exit_code == 2
    assert "innehåller redan 60 enheter" in table.stderr


def test_bench_import_needs_an_initialised_database(tmp_path):
    from click.testing import CliRunner

    from placering.cli import cli

    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'none.db'}", "bench", "import", "--units", "20"])
    assert result.exit_code != 0
    assert "kör 'placering init' först" in result.stderr
    assert "Traceback" not in result.output


def test_bench_requests_writes_json_lines_that_match_reads(run, tmp_path):
    out = tmp_path / "requests.jsonl"
    result = stdout_json(run("bench", "requests", "--count", "300", "--out", str(out), "--json"))
    assert result["requests"] == 300
    requests = read_requests(out)
    assert len(requests) == 300 and requests[0][0].request_id == "R-2024-0001"


# --- requests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def requests_2024() -> list[dict]:
    return generate_requests(7425)


def test_requests_have_the_2024_insats_mix(requests_2024):
    tax = load_taxonomy()
    counts = Counter(r["insats"] for r in requests_2024)
    assert len(requests_2024) == 7425
    for code, ins in tax.insatser.items():
        assert abs(counts[code] - ins.requests[2024]) <= max(2, 0.02 * ins.requests[2024]), code
    small = Counter(r["insats"] for r in generate_requests(1000, seed=3))
    for code, ins in tax.insatser.items():
        assert abs(small[code] - 1000 * ins.requests[2024] / 7425) <= 1.5


def test_requests_carry_only_the_request_format_and_validate(requests_2024):
    for r in requests_2024:
        assert set(r) <= REQUEST_KEYS and set(r["person"]) == PERSON_KEYS
        validate_request(r)  # unknown fields and anything shaped like a personnummer are refused
    text = json.dumps(requests_2024, ensure_ascii=False)
    for word in ("name", "namn", "personnummer", "identity_number"):
        assert f'"{word}"' not in text


def test_requests_look_like_the_year(requests_2024):
    tax = load_taxonomy()
    hvb = Counter(r["subcategory"] for r in requests_2024 if r["insats"] == "hvb_barn_unga")
    assert hvb["akut"] > hvb["behandling"] > hvb["utredning"] > 0
    assert 0.4 < hvb["akut"] / sum(hvb.values()) < 0.6
    stod = [r["person"]["age"] for r in requests_2024 if r["insats"] == "stodboende"]
    assert all(16 <= a <= 20 for a in stod) and sum(a >= 18 for a in stod) > 0.6 * len(stod)
    assert any(a < 18 for a in stod)
    for r in requests_2024:
        band = tax.insatser[r["insats"]]
        assert band.age_min <= r["person"]["age"] <= (band.age_max or 120)
        assert r["submitted_on"].startswith("2024-") and r["start_on"] >= r["submitted_on"]
        assert r["requester"] in tax.administrations["Göteborg"]
        assert set(r["person"]["needs"]) <= set(tax.target_groups)
    skyddat = [r for r in requests_2024 if r["insats"] == "skyddat_boende"]
    assert sum(r["person"]["protected_identity"] for r in skyddat) > 0.7 * len(skyddat)
    assert all(r["avoid_municipalities"] for r in skyddat if r["person"]["protected_identity"])
    assert all("home_location" not in r for r in requests_2024 if r["person"]["protected_identity"])
    distances = [r["max_distance_km"] for r in requests_2024]
    assert sum(150 <= d <= 400 for d in distances) > 0.6 * len(distances)
    assert sum(r["home_municipality"] == "Göteborg" for r in requests_2024) > 0.8 * len(requests_2024)
    months = Counter(r["submitted_on"][5:7] for r in requests_2024)
    assert len(months) == 12


def test_requests_are_deterministic():
    assert generate_requests(50) == generate_requests(50)
    assert generate_requests(50, seed=8) != generate_requests(50)
    assert generate_requests(20, municipality="Mölndal")[0]["municipality"] == "Mölndal"

"""The yearly audits (removals, requests, direct procurement, adherence) on a built history,
through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from conftest import snapshot
from test_audit_history import audit_history, built_history  # noqa: F401 (fixtures)
from test_audit_history import WIDE, ORG_OST, add_request, as_json, cli_ok


@pytest.fixture
def history(audit_history, run):
    # Two more removals, either side of the turn of the year 2024/25.
    cli_ok(run, "register", "status", "U-1", "removed", "--reason", "avvecklad", "--note", "Verksamheten avvecklad",
           "--on", "2024-12-31", "--by", "bertil.kontroll")
    cli_ok(run, "register", "status", "U-2", "removed", "--reason", "ekonomiska_brister",
           "--note", "Kreditbetyg föll igen", "--on", "2025-01-01", "--by", "anna.kvalitet")
    return audit_history


def test_removals_by_reason_and_insats(history, run):
    doc = as_json(run("audit", "removals", "--year", "2024", "--json"))
    assert doc["total"] == 3
    assert doc["insatser"] == ["hvb_barn_unga", "stodboende"]
    table = {r["reason"]: r for r in doc["table"]}
    assert (table["rekommendationsstopp"]["hvb_barn_unga"], table["rekommendationsstopp"]["total"]) == (1, 1)
    assert (table["avvecklad"]["hvb_barn_unga"], table["avvecklad"]["total"]) == (1, 1)
    assert (table["ivo"]["stodboende"], table["ivo"]["total"]) == (1, 1)
    assert table["osannolik_anvandning"]["total"] == 0
    assert table["total"] == {"reason": "total", "reason_label": "Totalsumma", "hvb_barn_unga": 2, "stodboende": 1,
                              "total": 3}
    assert [(r["unit_id"], r["effective_on"]) for r in doc["removals"]] == [
        ("U-5", "2024-02-01"), ("U-3", "2024-04-01"), ("U-1", "2024-12-31")]

    doc = as_json(run("audit", "removals", "--year", "2025", "--json"))
    assert doc["total"] == 1 and doc["insatser"] == ["socialt_boende"]
    assert {r["reason"]: r["total"] for r in doc["table"]}["ekonomiska_brister"] == 1
    assert as_json(run("audit", "removals", "--year", "2023", "--json"))["total"] == 0

    table = run("audit", "removals", "--year", "2024", env=WIDE)
    assert table.exit_code == 0 and "Totalsumma" in table.stdout and "Rekommendationsstopp" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("audit", "removals", "--year", "2024", "--csv").stdout)))
    assert rows[-1] == {"reason": "total", "hvb_barn_unga": "2", "stodboende": "1", "total": "3"}


def test_year_out_of_range_or_not_a_year_is_a_clear_error(history, run, engine):
    before = snapshot(engine)
    for command in ("removals", "requests", "direct-procurement", "adherence"):
        for year in ("1999", "2999"):
            result = run("audit", command, "--year", year)
            assert result.exit_code != 0, (command, year)
            assert f"--year: {year} ligger utanför det granskningarna täcker" in result.stderr and "Traceback" not in result.output
        result = run("audit", command, "--year", "tjugotjugofyra")
        assert result.exit_code != 0 and "'tjugotjugofyra' är inget heltal" in result.output
        result = run("audit", command)  # --year defaults to the current year (Europe/Stockholm)
        assert result.exit_code == 0, result.output
    assert snapshot(engine) == before


REQUESTS = [
    # (year, insats, subcategory, requester, municipality, count)
    (2023, "socialt_boende", "akutboende", "Nordost", "Göteborg", 3),
    (2023, "socialt_boende", None, "Hisingen", "Göteborg", 1),
    (2023, "hvb_barn_unga", "akut", "Nordost", "Göteborg", 2),
    (2023, "korttidsboende", "psykisk", "Funktionsstöd", "Göteborg", 4),
    (2024, "socialt_boende", "akutboende", "Nordost", "Göteborg", 4),
    (2024, "socialt_boende", "lagenhetsboende", "Hisingen", "Göteborg", 2),
    (2024, "hvb_barn_unga", "akut", "Nordost", "Göteborg", 1),
    (2024, "skyddat_boende", "vinr_heder", "Socialtjänsten", "Mölndal", 2),
    (2024, "korttidsboende", "psykisk", "Funktionsstöd", "Göteborg", 5),
    (2022, "korttidsboende", "psykisk", "Funktionsstöd", "Göteborg", 7),  # outside both years
]


def test_requests_per_category_and_administration(engine, run):
    n = 0
    for year, insats, sub, requester, municipality, count in REQUESTS:
        for i in range(count):
            n += 1
            add_request(engine, f"R-{year}-{n:04d}", submitted_on=date(year, 1 + i % 12, 15), insats=insats,
                        subcategory=sub, requester=requester, municipality=municipality)
    doc = as_json(run("audit", "requests", "--year", "2024", "--json"))
    assert doc["previous_year"] == 2023
    rows = {(r["level"], r["insats"], r["subcategory"], r["area"]): r for r in doc["categories"]}

    def figures(key):
        r = rows[key]
        return r["previous"], r["current"], r["difference"], r["percent"]

    assert figures(("insats", "socialt_boende", None, "ifo_vuxen")) == (4, 6, 2, 50)
    assert figures(("subcategory", "socialt_boende", "akutboende", "ifo_vuxen")) == (3, 4, 1, 33)
    assert figures(("subcategory", "socialt_boende", "lagenhetsboende", "ifo_vuxen")) == (0, 2, 2, None)
    assert figures(("insats", "skyddat_boende", None, "ifo_vuxen")) == (0, 2, 2, None)
    assert figures(("area", None, None, "ifo_vuxen")) == (4, 8, 4, 100)
    assert figures(("insats", "hvb_barn_unga", None, "ifo_barn_unga")) == (2, 1, -1, -50)
    assert figures(("insats", "korttidsboende", None, "funktionsstod")) == (4, 5, 1, 25)
    assert figures(("total", None, None, None)) == (10, 14, 4, 40)
    # Every insats of the taxonomy has its row, as in the annual report's table.
    assert len([r for r in doc["categories"] if r["level"] == "insats"]) == 11
    by_requester = {(r["municipality"], r["requester"]): (r["previous"], r["current"], r["percent"])
                    for r in doc["requesters"]}
    assert by_requester == {
        ("Göteborg", "Funktionsstöd"): (4, 5, 25),
        ("Göteborg", "Hisingen"): (1, 2, 100),
        ("Göteborg", "Nordost"): (5, 5, 0),
        ("Mölndal", "Socialtjänsten"): (0, 2, None),
        (None, "Totalsumma"): (10, 14, 40),
    }
    table = run("audit", "requests", "--year", "2024", env=WIDE)
    assert table.exit_code == 0 and "Totalsumma" in table.stdout and "Korttidsboende" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run("audit", "requests", "--year", "2024", "--csv").stdout)))
    total = [r for r in rows if r["section"] == "categories" and r["level"] == "total"]
    assert total and (total[0]["previous"], total[0]["current"], total[0]["percent"]) == ("10", "14", "40")


def test_direct_procurement_share_signals_and_threshold(history, run):
    doc = as_json(run("audit", "direct-procurement", "--year", "2023", "--json"))
    per = {r["insats"]: (r["total"], r["ramavtal"], r["direktupphandling"], r["direct_share"]) for r in doc["per_insats"]}
    assert per == {
        "socialt_boende": (1, 0, 1, 1.0),
        "hvb_barn_unga": (2, 1, 1, 0.5),
        "stodboende": (1, 1, 0, 0.0),
        "korttidsboende": (1, 0, 0, 0.0),
        "total": (5, 2, 2, 0.4),
    }
    assert [s["insats"] for s in doc["procurement_signals"]] == ["socialt_boende", "hvb_barn_unga"]
    assert doc["threshold"] == 700000
    [supplier] = doc["suppliers"]
    # 1,500 kr × 334 days (1 Feb – 31 Dec) + 5,200 kr × 153 days (1 Aug – end_on 31 Dec, both
    # days included, as the review queue counts them).
    assert (supplier["org_nr"], supplier["days"], supplier["amount"]) == (ORG_OST, 487, 1_296_600)
    assert supplier["over_threshold"] is True

    doc = as_json(run("audit", "direct-procurement", "--year", "2024", "--json"))
    [supplier] = doc["suppliers"]
    # The running placement the whole leap year (366 days) + a new one from 1 June (214 days).
    assert (supplier["days"], supplier["amount"], doc["threshold"]) == (580, 870_000, 758000)
    assert supplier["share_of_threshold"] == round(870000 / 758000, 4)
    table = run("audit", "direct-procurement", "--year", "2024", env=WIDE)
    assert table.exit_code == 0 and "Omsorg Öst AB" in table.stdout and "ÖVER" in table.stdout


def test_adherence_share_and_reasons(history, run):
    doc = as_json(run("audit", "adherence", "--year", "2023", "--json"))
    assert (doc["placements"], doc["recommended"], doc["share"]) == (5, 4, 0.8)
    assert doc["reasons"] == [{"reason": "Personen hade bott där tidigare", "placements": 1}]
    assert [(o["request_id"], o["unit_id"]) for o in doc["not_recommended"]] == [("R-2023-0005", "U-5")]
    doc = as_json(run("audit", "adherence", "--year", "2024", "--json"))
    assert (doc["placements"], doc["share"], doc["reasons"]) == (1, 1.0, [])
    assert as_json(run("audit", "adherence", "--year", "2022", "--json"))["share"] is None
    table = run("audit", "adherence", "--year", "2023", env=WIDE)
    assert table.exit_code == 0 and "80\u00a0%" in table.stdout  # Swedish: a space before %

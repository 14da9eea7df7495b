"""Search (exact org. number and unit_id first, then Swedish-aware fuzzy names, with filters),
`register show` (protected addresses hidden by default) and `register history` with its filters."""

from __future__ import annotations

import json

import pytest

from test_register_import import LOADED_ON, ORG_ANGEN, load, sample_document


WIDE = {"COLUMNS": "250"}  # tables fold to the terminal's width; give them room


@pytest.fixture
def loaded(run, tmp_path):
    doc = sample_document()
    # A unit named exactly "Ängen", beside "HVB Ängen" and "Vårdbolaget Ängen AB".
    angen = json.loads(json.dumps(doc["suppliers"][2]["units"][0]))
    angen.update(unit_id="U-3002", name="Ängen", protected_address=False)
    angen["routes"] = [dict(angen["routes"][0], agreement_id="IOP-2023-2")]
    doc["suppliers"][2]["units"].append(angen)
    # and "Aspängen", where 'ängen' is only part of a word
    asp = json.loads(json.dumps(angen))
    asp.update(unit_id="U-3003", name="Aspängen")
    asp["routes"] = [dict(asp["routes"][0], agreement_id="IOP-2023-3")]
    doc["suppliers"][2]["units"].append(asp)
    load(run, tmp_path, doc)
    return run


def search(run, *args) -> list[dict]:
    result = run("register", "search", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("org_nr", ["556677-8899", "5566778899"])
def test_exact_org_nr_comes_first(loaded, org_nr):
    hits = search(loaded, org_nr)
    assert [(h["match"], h["unit_id"]) for h in hits[:2]] == [("org_nr", "U-1001"), ("org_nr", "U-1002")]
    assert all(h["org_nr"] == ORG_ANGEN for h in hits[:2])


def test_exact_unit_id_then_names(loaded):
    hits = search(loaded, "u-2001")
    assert (hits[0]["match"], hits[0]["unit_id"], hits[0]["score"]) == ("unit_id", "U-2001", 100.0)


def test_swedish_aware_fuzzy_names(loaded):
    hits = search(loaded, "ÄNGEN")
    assert (hits[0]["unit_id"], hits[0]["match"], hits[0]["score"]) == ("U-3002", "name", 100.0)
    assert {h["unit_id"] for h in hits} >= {"U-3002", "U-1001", "U-1002"}  # HVB Ängen; Vårdbolaget Ängen AB
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    order = [h["unit_id"] for h in hits]
    assert order.index("U-1001") < order.index("U-3003")  # 'HVB Ängen' (a word) before 'Aspängen'
    # 'angen' is a different word from 'ängen': similar, never an exact match.
    without_dots = search(loaded, "angen")
    assert without_dots and all(h["score"] < 100 for h in without_dots)
    assert search(loaded, "ängen")[0]["score"] == 100.0


def test_search_filters_apply_to_units(loaded):
    assert [h["unit_id"] for h in search(loaded, "Ängen", "--insats", "stodboende")] == ["U-1002"]
    assert [h["unit_id"] for h in search(loaded, "Ängen", "--route", "direktupphandling", "--insats",
                                         "hvb_barn_unga")] == ["U-1001"]
    assert [h["unit_id"] for h in search(loaded, "Göteborgs Stad", "--status", "removed")] == ["U-2002"]
    assert [h["unit_id"] for h in search(loaded, "Ängen", "--municipality", "MÖLNDAL")] == ["U-1002"]
    assert search(loaded, "Ängen", "--municipality", "Kiruna") == []


def test_search_table_and_bad_filters(loaded):
    result = loaded("register", "search", "Zyxwvu")
    assert result.exit_code == 0
    assert result.stdout == "Ingen leverantör eller enhet matchar 'Zyxwvu'.\n"
    result = loaded("register", "search", "Ängen", "--route", "ram")
    assert result.exit_code == 2
    assert result.stderr == ("Fel: okänd regiform 'ram' (kända: egen regi, ramavtal, IOP (idéburet offentligt partnerskap) eller direktupphandling)\n")


def test_show_hides_a_protected_location_unless_asked(loaded):
    result = loaded("register", "show", "U-2001")
    assert result.exit_code == 0, result.output
    assert "Göteborg (skyddad adress: läget visas inte; --show-protected visar det)" in result.stdout
    assert "57.7" not in result.stdout
    data = json.loads(loaded("register", "show", "U-2001", "--json").stdout)
    assert "location" not in data and data["location_hidden"] is True
    shown = loaded("register", "show", "U-2001", "--show-protected")
    assert "Göteborg (57,7, 12) SKYDDAD ADRESS" in shown.stdout
    assert json.loads(loaded("register", "show", "U-2001", "--json", "--show-protected").stdout)["location"] == {
        "lat": 57.7, "lon": 12}
    # history keeps it out too
    created = history(loaded, "U-2001")[0]
    assert created["changes"]["location"] == [None, "hidden (protected address)"]
    assert history(loaded, "U-2001", "--show-protected")[0]["changes"]["location"] == [None, {"lat": 57.7, "lon": 12}]
    # the supplier view hides it too
    supplier = json.loads(loaded("register", "show", "212000-1355", "--json").stdout)
    assert "location" not in supplier["units"][0]
    assert "57.7" not in loaded("register", "show", "212000-1355").stdout


def test_show_unit_lists_everything(loaded):
    result = loaded("register", "show", "U-1001", env=WIDE)
    assert result.exit_code == 0
    out = result.stdout
    assert "Enhet U-1001: HVB Ängen" in out
    assert f"Status:        Publicerad sedan {LOADED_ON}, beslutat av anna" in out
    for part in ("RA-HVB-22-07", "5\u00a0150,5", "8.1-12345/2019", "Kreditupplysning", "kreditupplysning"):
        assert part in out
    result = loaded("register", "show", "U-404")
    assert result.exit_code == 3
    assert result.stderr == ("Fel: 'U-404' är varken ett organisationsnummer, ett enhets-id eller ett avtals-id i "
                             "registret\n")


# --- history ---------------------------------------------------------------------------------


@pytest.fixture
def changed(loaded):
    for args in [
        ("status", "U-1001", "watch", "--by", "bo", "--on", "2025-01-10", "--note", "Kreditbetyg 35"),
        ("agreement", "RA-HVB-22-07", "order_stop", "--by", "ink", "--on", "2025-02-01", "--note", "IVO"),
        ("check", ORG_ANGEN, "media", "--result", "fail", "--on", "2025-03-01", "--by", "kvalitet"),
        ("status", "U-2001", "unpublished", "--by", "bo", "--on", "2025-04-01", "--note", "Brister"),
    ]:
        result = loaded("register", *args)
        assert result.exit_code == 0, result.output
    return loaded


def history(run, *args) -> list[dict]:
    result = run("register", "history", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_history_of_a_unit(changed):
    entries = history(changed, "U-1001")
    assert [(e["action"], e["effective_on"], e["actor"]) for e in entries if e["kind"] == "unit"] == [
        ("created", LOADED_ON, "anna"), ("status", "2025-01-10", "bo")]
    assert {e["unit_id"] for e in entries if e["kind"] != "agreement"} == {"U-1001"}
    # the unit's framework agreement belongs to its story: the order stop shows up too
    assert [(e["entity_id"], e["changes"]["status"]) for e in entries if e["kind"] == "agreement"] == [
        ("RA-HVB-22-07", [None, "active"]), ("RA-HVB-22-07", ["active", "order_stop"])]
    assert history(changed, "--unit", "U-1001") == entries
    assert not any(e["kind"] == "agreement" for e in history(changed, "U-2001"))


def test_show_agreement(changed):
    data = json.loads(changed("register", "show", "RA-HVB-22-07", "--json").stdout)
    assert (data["status"], data["status_since"], data["status_changed_by"]) == ("order_stop", "2025-02-01", "ink")
    assert [(u["unit_id"], u["daily_price"]) for u in data["units"]] == [("U-1001", 4200), ("U-1002", 3900)]
    assert [(u["org_nr"], u["name"], u["unit_status"]) for u in data["units"]] == [
        (ORG_ANGEN, "HVB Ängen", "watch"), (ORG_ANGEN, "Stödboende Åkervägen", "recommendation_stop")]
    text = changed("register", "show", "RA-HVB-22-07", env=WIDE).stdout
    assert "Avtal RA-HVB-22-07: Ramavtal för HVB barn och unga, 2022-05-01 – 2026-04-30" in text
    assert "Status: Beställningsstopp sedan 2025-02-01, beslutat av ink" in text


def test_history_of_a_supplier_and_an_agreement(changed):
    entries = history(changed, "--supplier", "5566778899")
    assert {e["org_nr"] for e in entries} == {ORG_ANGEN}
    kinds = {(e["kind"], e["entity_id"]) for e in entries}
    assert {("supplier", ORG_ANGEN), ("unit", "U-1001"), ("unit", "U-1002"), ("agreement", "RA-HVB-22-07"),
            ("check", f"{ORG_ANGEN}:media")} <= kinds
    assert ("unit", "U-2001") not in kinds
    assert history(changed, ORG_ANGEN) == entries
    agreement = history(changed, "RA-HVB-22-07")
    # the import's entry names the file it came from
    assert agreement[0]["note"].startswith("import ") and agreement[0]["note"].endswith("loaded.json (--apply-status)")
    assert [(e["changes"]["status"], e["actor"]) for e in agreement] == [
        ([None, "active"], "anna"), (["active", "order_stop"], "ink")]
    assert agreement[1]["note"] == "IVO"


def test_history_filters_by_actor_kind_and_dates(changed):
    assert {e["actor"] for e in history(changed, "--actor", "bo")} == {"bo"}
    assert [e["entity_id"] for e in history(changed, "--actor", "bo")] == ["U-1001", "U-2001"]
    assert [e["entity_id"] for e in history(changed, "--kind", "status")] == ["U-1001", "U-2001"]
    agreements = history(changed, "--kind", "agreement")
    assert sorted(e["entity_id"] for e in agreements) == ["IOP-2023-1", "IOP-2023-2", "IOP-2023-3", "RA-HVB-22-07",
                                                          "RA-HVB-22-07"]
    window = history(changed, "--since", "2025-01-01", "--until", "2025-02-28")
    assert [(e["effective_on"], e["action"]) for e in window] == [("2025-01-10", "status"),
                                                                  ("2025-02-01", "agreement_status")]
    latest = history(changed, "--limit", "2")
    assert [e["effective_on"] for e in latest] == ["2025-03-01", "2025-04-01"]


def test_history_table_for_people(changed):
    result = changed("register", "history", "U-1001", "--since", "2025-01-01", env=WIDE)
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0]
    for column in ("Gäller från", "Registrerad", "Av", "Post", "Händelse", "Ändring", "Orsak", "Regel", "Anteckning"):
        assert column in header
    assert "status: Publicerad → Bevakning" in result.stdout
    assert "Kreditbetyg 35" in result.stdout
    empty = changed("register", "history", "--actor", "nobody")
    assert empty.stdout == "Inga ändringar matchar.\n"
    bad = changed("register", "history", "--kind", "statsu")
    assert bad.exit_code == 2
    assert bad.stderr == ("Fel: --kind: ingen historikpost är av typen 'statsu' (typer som finns: agreement, "
                          "agreement_status, check, created, permit, proposal, proposal_created, status, supplier, unit)\n")
    bad = changed("register", "history", "--since", "2025-02-30")
    assert bad.exit_code == 2
    assert bad.stderr == "Fel: --since: '2025-02-30' är inte ett datum (ÅÅÅÅ-MM-DD)\n"


def test_search_refuses_a_missing_or_uninitialised_database_in_swedish_and_creates_nothing(tmp_path):
    """`register search` reads without SQLAlchemy (storage.reads) but refuses as every command
    does: no file is created where there was none, and a database without placering's schema
    is named."""
    import sqlite3

    from click.testing import CliRunner

    from placering.cli import cli

    missing = tmp_path / "saknas.db"
    r = CliRunner().invoke(cli, ["--db", f"sqlite:///{missing}", "register", "search", "ängen"])
    assert r.exit_code == 5 and "Fel:" in r.output and "placering init" in r.output and "Traceback" not in r.output
    assert not missing.exists()
    empty = tmp_path / "tom.db"
    sqlite3.connect(empty).close()
    r = CliRunner().invoke(cli, ["--db", f"sqlite:///{empty}", "register", "search", "ängen"])
    assert r.exit_code == 5 and "Fel:" in r.output and "placering init" in r.output and "Traceback" not in r.output

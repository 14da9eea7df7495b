"""Hostile input, second round (issue 21 items 2, 3 and 5): each finding of the attack, through
the CLI on SQLite and PostgreSQL: refused with a message naming where and what (exit 2, or 4 for
a decision already made), no traceback, and the database as it was."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from placering.paths import rules_dir
from test_boundary import refused, write_text
from test_casework import _approve, _direct_placement, ok
from test_matching_support import load_register, request, unit, write_request
from test_register_import import ORG_ANGEN, load, sample_document, write_json


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target)
    return target


# --- 2. no traceback for any input ----------------------------------------------------------------


def test_a_rules_directory_with_a_symlink_loop_is_refused_by_check_match_and_lint(run, engine, tmp_path, rules_copy):
    load(run, tmp_path)
    (rules_copy / "x.yaml").symlink_to("y.yaml")
    (rules_copy / "y.yaml").symlink_to("x.yaml")
    (rules_copy / "self").symlink_to(rules_copy)  # a directory linking to itself is walked once
    itself = tmp_path / "loop"
    itself.symlink_to(itself)
    req = write_request(tmp_path, request("R-1"))
    for rules, message in [(rules_copy, f"{rules_copy / 'x.yaml'}: kan inte läsa: en symbolisk länk som pekar i en slinga"),
                           (itself, f"{itself}: ingen regelkatalog: en symbolisk länk som pekar i en slinga")]:
        refused(run, engine, "register", "check", ORG_ANGEN, "credit_rating", "--result", "fail", "--value", "10",
                "--on", "2024-05-01", "--rules", str(rules), "--by", "k", message=message)
        refused(run, engine, "match", str(req), "--rules", str(rules), "--by", "h", message=message)
        refused(run, engine, "rules", "lint", "--rules", str(rules), message=message)


def test_a_binary_config_file_is_refused_with_its_name(run, engine, tmp_path):
    load(run, tmp_path)
    config = tmp_path / "placering.toml"
    config.write_bytes(b"\xff\xfe\x00\x01\x89PNG\r\n\x1a\n")
    refused(run, engine, "register", "status", "U-1001", "watch", env={"PLACERING_CONFIG": str(config)},
            message=f"{config}: inte UTF-8-text (byte 0xFF vid position 0); en konfigurationsfil är TOML-text")


@pytest.mark.parametrize("value, message", [
    (".nan", "nan är inget ändligt tal"),
    ("0", "0 är omöjligt som värde i km (måste vara över 0 och högst 20000)"),
    ("-10", "-10 är omöjligt som värde i km"),
    (".inf", "inf är inget ändligt tal"),
])
def test_lint_refuses_an_impossible_distance_band(run, engine, rules_copy, value, message):
    path = rules_copy / "parameters" / "privacy.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("        value: 10\n", f"        value: {value}\n"),
                    encoding="utf-8")
    result = refused(run, engine, "rules", "lint", "--rules", str(rules_copy), message=message)
    assert f"{path}:13" in result.stderr


def test_lint_refuses_every_non_finite_number_in_rules_and_tables(run, engine, rules_copy):
    checks = rules_copy / "parameters" / "checks.yaml"
    text = checks.read_text(encoding="utf-8")
    checks.write_text(text.replace("credit_rating: 31", "credit_rating: -.inf", 1), encoding="utf-8")
    status = rules_copy / "register_status.yaml"
    status.write_text(status.read_text(encoding="utf-8").replace("{param: credit_rating_unpublish_level}", ".nan", 1),
                      encoding="utf-8")
    result = refused(run, engine, "rules", "lint", "--rules", str(rules_copy), message="-inf är inget ändligt tal")
    assert "register_status.yaml" in result.stderr and "nan är inget ändligt tal" in result.stderr


# --- 3. refuse what cannot be true ----------------------------------------------------------------


def _imported(run, engine, tmp_path, doc, message, name="bad.json"):
    load(run, tmp_path)
    return refused(run, engine, "register", "import", write_json(tmp_path, doc, name), "--by", "a", message=message)


def test_an_unknown_municipality_is_refused_in_units_and_buyers(run, engine, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["municipality"] = "Atlantis"
    _imported(run, engine, tmp_path, doc, "suppliers[0].units[0], fält 'municipality': okänd kommun 'Atlantis'")
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["routes"][1]["buyers"] = ["Göteborg", "Atlantis"]
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "buyers.json"), "--by", "a",
            message="routes[1], fält 'buyers': okänd kommun 'Atlantis'")


def test_a_municipality_is_stored_under_its_canonical_name(run, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["municipality"] = "göteborg"
    ok(run, "register", "import", write_json(tmp_path, doc), "--by", "a")
    assert json.loads(run("register", "show", "U-1001", "--json").stdout)["municipality"] == "Göteborg"


def test_a_framework_route_whose_agreement_the_file_does_not_define_is_refused(run, engine, tmp_path):
    doc = sample_document()
    route = doc["suppliers"][0]["units"][0]["routes"][0]
    for key in ("valid_from", "valid_to"):
        route.pop(key)
    route["buyers"], route["agreement_id"] = [], "RA-OKÄNT"
    _imported(run, engine, tmp_path, doc, "ramavtalet RA-OKÄNT definieras inte av filen: dess regiform anger inget "
                                          "valid_from och buyers")
    # an agreement already in the register is repeated with its terms: a route without them differs
    doc = sample_document()
    doc["suppliers"][0]["units"] = doc["suppliers"][0]["units"][:1]
    doc["suppliers"][0]["units"][0]["routes"][0].pop("valid_from")
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "again.json"), "--by", "a",
            message="ramavtalet RA-HVB-22-07 definieras inte av filen")


@pytest.mark.parametrize("char", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200f", "\u061c"])
def test_bidirectional_controls_are_refused_in_any_text(run, engine, tmp_path, char):
    doc = sample_document()
    doc["suppliers"][0]["name"] = f"Vårdbolaget {char}BA negnÄ"
    _imported(run, engine, tmp_path, doc, f"fält 'name': innehåller ett tecken för skrivriktning (U+{ord(char):04X})")
    load_register(run, tmp_path, unit("U-1"))
    refused(run, engine, "match", str(write_request(tmp_path, request("R-1", requester=f"Nordost{char}"))),
            "--by", "h", message=f"innehåller ett tecken för skrivriktning (U+{ord(char):04X})")
    refused(run, engine, "register", "status", "U-1", "watch", "--note", f"ok{char}", "--by", "k",
            message=f"innehåller ett tecken för skrivriktning (U+{ord(char):04X})")


def test_white_space_in_an_id_is_refused(run, engine, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["unit_id"] = "U 9001\t"
    _imported(run, engine, tmp_path, doc, "fält 'unit_id': 'U 9001\\t' innehåller blanksteg")
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["routes"][0]["agreement_id"] = " RA-HVB-22-07"
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "aid.json"), "--by", "a",
            message="fält 'agreement_id': ' RA-HVB-22-07' innehåller blanksteg")
    refused(run, engine, "match", str(write_request(tmp_path, request("R 1"))), "--by", "h",
            message="fält 'request_id': 'R 1' innehåller blanksteg")


def test_a_revision_beyond_the_registers_is_refused(run, engine, tmp_path):
    load(run, tmp_path)
    export = json.loads(run("register", "export", "--json").stdout)
    export["revision"] = 10**12
    refused(run, engine, "register", "import", write_json(tmp_path, export, "future.json"), "--by", "a",
            message=f"revision 1000000000000 ligger efter registrets ({json.loads(run('register', 'export', '--json').stdout)['revision']})")


def test_a_signature_in_the_future_is_refused(run, engine, tmp_path):
    _, d0 = _direct_placement(run, tmp_path)
    _approve(run, d0)
    refused(run, engine, "placement", "agreement", "R-0", "--from", "2024-09-02", "--price", "4600",
            "--signed-on", "2099-01-01", "--by", "anna", message="--signed-on: underskriftsdatumet 2099-01-01 ligger i framtiden")
    ok(run, "placement", "agreement", "R-0", "--from", "2024-09-02", "--price", "4600", "--signed-on", "2024-09-01",
       "--by", "anna")


def test_a_request_starting_long_before_it_was_submitted_is_refused(run, engine, tmp_path, rules_copy):
    load_register(run, tmp_path, unit("U-1"))
    early = request("R-1", start_on="2018-09-02")
    refused(run, engine, "match", str(write_request(tmp_path, early)), "--by", "h",
            message="fält 'start_on': start_on 2018-09-02 är 2191 dagar före submitted_on 2024-09-01; en förfrågan "
                    "börjar högst 90 dagar innan den lämnas in (parameter request_start_max_days_before_submission)")
    # the limit is a dated parameter: rules allowing ten years take it
    params = rules_copy / "parameters" / "requests.yaml"
    params.write_text(params.read_text(encoding="utf-8").replace("value: 90", "value: 1000"), encoding="utf-8")
    later = request("R-3", start_on="2023-01-02")
    refused(run, engine, "match", str(write_request(tmp_path, later)), "--by", "h", message="608 dagar före")
    ok(run, "match", str(write_request(tmp_path, later)), "--rules", str(rules_copy), "--by", "h")
    ok(run, "match", str(write_request(tmp_path, request("R-2", start_on="2024-08-01"))), "--by", "h")


def test_positions_outside_sweden_are_refused_for_units_and_homes(run, engine, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["location"] = {"lat": -33.87, "lon": 151.21}  # Sydney
    _imported(run, engine, tmp_path, doc, "suppliers[0].units[0], fält 'location': positionen -33.87, 151.21 ligger "
                                          "utanför Sverige")
    load_register(run, tmp_path, unit("U-1"))
    refused(run, engine, "match", str(write_request(tmp_path, request("R-1", home_location={"lat": 51.5, "lon": -0.12}))),
            "--by", "h", message="fält 'home_location': positionen 51.5, -0.12 ligger utanför Sverige")


@pytest.mark.parametrize("field, value, message", [
    ("places", "5", "fält 'places': värdet ska vara ett heltal"),
    ("places", 1e3, "fält 'places': värdet ska vara ett heltal"),
    ("protected_address", "yes", "fält 'protected_address': värdet ska vara sant eller falskt"),
    ("protected_address", "ja", "fält 'protected_address': värdet ska vara sant eller falskt"),
    ("protected_address", 1, "fält 'protected_address': värdet ska vara sant eller falskt"),
])
def test_loose_types_in_a_json_register_are_refused(run, engine, tmp_path, field, value, message):
    doc = sample_document()
    doc["suppliers"][0]["units"][0][field] = value
    _imported(run, engine, tmp_path, doc, message)


def test_loose_types_in_json_prices_dates_and_requests_are_refused(run, engine, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["routes"][0]["daily_price"] = "4200"
    _imported(run, engine, tmp_path, doc, "fält 'daily_price': värdet ska vara ett tal")
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["permits"][0]["decided_on"] = 1560000000
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "date.json"), "--by", "a",
            message="fält 'decided_on': 1560000000 är inte ett datum (ÅÅÅÅ-MM-DD)")
    load_register(run, tmp_path, unit("U-1"))
    for change, message in [({"places": "1"}, "fält 'places'"),
                            ({"person": {"age": 15, "gender": "female", "needs": [], "protected_identity": "ja"}},
                             "fält 'person.protected_identity'")]:
        refused(run, engine, "match", str(write_request(tmp_path, request("R-1", **change))), "--by", "h",
                message=message)


def test_csv_stays_textual_but_parses_strictly(run, engine, tmp_path):
    import csv
    import io

    load(run, tmp_path)
    rows = list(csv.DictReader(io.StringIO(run("register", "export", "--csv").stdout)))
    for column, cell, message in [("places", "1e3", "fält 'places': värdet ska vara ett heltal"),
                                  ("places", "5.0", "fält 'places': värdet ska vara ett heltal"),
                                  ("protected_address", "yes", "fält 'protected_address'")]:
        changed = [dict(r, **({column: cell} if r["unit_id"] == rows[0]["unit_id"] else {})) for r in rows]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(changed)
        path = write_text(tmp_path, buf.getvalue(), "strict.csv")
        refused(run, engine, "register", "import", path, "--by", "a", message=f"{path}:2, {message}")
    # what Swedish Excel writes still reads: 1 250 places, SANT, a decimal comma
    changed = [dict(r, **({"places": "1 250", "protected_address": "SANT"} if r["unit_id"] == rows[0]["unit_id"] else {}))
               for r in rows]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(changed)
    ok(run, "register", "import", write_text(tmp_path, buf.getvalue(), "excel.csv"), "--by", "a")
    shown = json.loads(run("register", "show", rows[0]["unit_id"], "--json").stdout)
    assert (shown["places"], shown["protected_address"]) == (1250, True)


# --- 5. an entry decision is recorded once ----------------------------------------------------------


def test_an_entry_is_rejected_once(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    doc = {"format": "placering-register/1", "suppliers": [{
        "org_nr": "556036-0793", "name": "Ny Leverantör AB", "legal_form": "aktiebolag", "checks": [],
        "units": [unit("U-NEW", "direktupphandling", 3000)]}]}
    ok(run, "register", "import", write_json(tmp_path, doc, "new.json"), "--by", "registervård", "--on", "2024-09-01")
    ok(run, "register", "entry", "reject", "U-NEW", "--reason", "Skatteregistrering saknas", "--on", "2024-09-02",
       "--by", "spink")
    refused(run, engine, "register", "entry", "reject", "U-NEW", "--reason", "igen", "--on", "2024-09-03",
            "--by", "spink2", code=4,
            message="inträdet för enheten U-NEW avslogs redan 2024-09-02 av spink; ett beslut om inträde registreras en gång")
    history = json.loads(run("register", "history", "U-NEW", "--json").stdout)
    assert [h["action"] for h in history if h["kind"] == "entry"] == ["entry_rejected"]

"""The flat unit CSV: export → import changes nothing; UTF-8 with a BOM, Latin-1 and Windows-1252
are read correctly (the encoding detected is said); errors name FILE:LINE and column."""

from __future__ import annotations

import json

from conftest import snapshot
from placering.cli.messages import swedish
from test_register_import import load, sample_document

HEADER = ("org_nr,supplier_name,legal_form,unit_id,unit_name,municipality,lat,lon,protected_address,places,"
          "free_places,age_min,age_max,genders,target_groups,unit_status,removal_reason,status_note,insats,"
          "subcategories,route,agreement_id,daily_price,valid_from,valid_to,buyers,agreement_status,"
          "reserved_nonprofit")
# A new supplier's unit on two routes; å, ä, ö in names and municipality.
NEW_ROWS = [
    "556036-0793,Omsorg Öst AB,aktiebolag,U-5001,Jourhem Åsa,Härryda,57.659,12.117,false,3,1,0,12,female;male,"
    "vald,published,,,familjehem,jourhem,ramavtal,RA-FH-23-01,1950,2023-01-01,2026-12-31,Göteborg,active,false",
    "556036-0793,Omsorg Öst AB,aktiebolag,U-5001,Jourhem Åsa,Härryda,57.659,12.117,false,3,1,0,12,female;male,"
    "vald,published,,,familjehem,jourhem,direktupphandling,,2300,,,Göteborg;Härryda,active,",
]


def csv_export(run) -> str:
    result = run("register", "export", "--csv")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_export_has_one_row_per_unit_route(run, tmp_path):
    load(run, tmp_path)
    lines = csv_export(run).splitlines()
    assert lines[0] == HEADER + ",revision"  # the register revision the export was taken at (issue 19)
    assert len(lines) == 1 + 7  # U-1001 ×2, U-1002 ×2, U-2001, U-2002, U-3001
    assert lines[1].startswith("556677-8899,Vårdbolaget Ängen AB,aktiebolag,U-1001,HVB Ängen,Göteborg,57.71,11.97,")
    assert "Göteborg;Mölndal" in lines[1]


def test_csv_reimport_changes_nothing(run, engine, tmp_path):
    load(run, tmp_path)
    path = tmp_path / "units.csv"
    path.write_text(csv_export(run), encoding="utf-8")
    before = snapshot(engine)
    result = run("register", "import", str(path), "--by", "bo", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["units"] == {"created": 0, "updated": 0, "unchanged": 5}
    assert summary["history_entries"] == 0
    assert snapshot(engine) == before
    # permits and checks, which the CSV does not carry, are kept
    doc = json.loads(run("register", "export", "--json", "--show-protected").stdout)
    doc.pop("revision")
    assert doc == sample_document()


def test_csv_reordered_rows_do_not_change_a_unit(run, engine, tmp_path):
    load(run, tmp_path)
    lines = csv_export(run).splitlines()
    path = tmp_path / "reordered.csv"
    path.write_text("\n".join([lines[0], lines[2], lines[1], *lines[3:]]) + "\n", encoding="utf-8")
    before = snapshot(engine)
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 0, result.output
    assert snapshot(engine) == before


def test_csv_with_bom_creates_units(run, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([HEADER, *NEW_ROWS]).encode("utf-8") + b"\n")
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    unit = json.loads(run("register", "show", "U-5001", "--json").stdout)
    assert (unit["name"], unit["municipality"], unit["supplier_name"]) == ("Jourhem Åsa", "Härryda", "Omsorg Öst AB")
    assert [(r["route"], r.get("daily_price"), r["buyers"]) for r in unit["routes"]] == [
        ("ramavtal", 1950, ["Göteborg"]), ("direktupphandling", 2300, ["Göteborg", "Härryda"])]


def test_latin1_csv_is_read_as_latin1_and_said_so(run, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("\n".join([HEADER, *NEW_ROWS]).encode("latin-1") + b"\n")
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 0, result.output
    offset = path.read_bytes().index("Ö".encode("latin-1"))
    # Latin-1 letters are Windows-1252's too: read as what Swedish Excel saves (issue 19).
    assert result.stderr == (f"Obs: {path}: inte UTF-8 (byte 0xD6 vid position {offset}, rad 2); "
                             "läst som Windows-1252, den teckenkodning som hittades\n")
    unit = json.loads(run("register", "show", "U-5001", "--json").stdout)
    assert (unit["name"], unit["municipality"], unit["supplier_name"]) == ("Jourhem Åsa", "Härryda", "Omsorg Öst AB")


def test_windows_1252_with_an_en_dash_is_read_and_said_so(run, engine, tmp_path):
    # 0x96 is an en dash in Windows-1252 (Swedish Excel's "CSV (semikolonavgränsad)"), a control
    # character in Latin-1: the detector reads it as Windows-1252 and says so (issue 19).
    path = tmp_path / "cp1252.csv"
    data = "\n".join([HEADER, NEW_ROWS[0].replace("Jourhem Åsa", "Jourhem Åsa – Syd")]).encode("cp1252") + b"\n"
    path.write_bytes(data)
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 0, result.output
    first = data.index("Ö".encode("cp1252"))
    assert result.stderr == (f"Obs: {path}: inte UTF-8 (byte 0xD6 vid position {first}, rad 2); läst som "
                             "Windows-1252, den teckenkodning som hittades\n")
    assert json.loads(run("register", "show", "U-5001", "--json").stdout)["name"] == "Jourhem Åsa – Syd"


def test_csv_errors_name_file_line_and_column(run, engine, tmp_path):
    load(run, tmp_path)
    good = csv_export(run).splitlines()
    path = tmp_path / "bad.csv"
    before = snapshot(engine)

    # Rows of one unit must agree: line 3 (U-1001's second route) says another age_max.
    lines = list(good)
    lines[2] = lines[2].replace(",8,2,13,17,", ",8,2,13,18,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 2
    assert result.stderr == f"Fel: {path}:3, fält 'age_max': '18' skiljer sig från '17' på rad 2 för samma enhet U-1001\n"
    assert snapshot(engine) == before

    # Document problems are reported at the unit's or route's line and column, all of them.
    lines = [ln.replace(",8,2,13,17,", ",8,2,13,x,") if ",U-1001," in ln else ln for ln in good]
    lines[5] = lines[5].replace(",egen_regi,", ",ramavtal,")  # line 6: U-2001 without agreement_id or price
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 2
    assert result.stderr.removeprefix("Fel: ").splitlines() == [swedish(line) for line in [
        f"{path}:2, fält 'age_max': värdet ska vara ett heltal",
        f"{path}:6, fält 'daily_price': daily_price krävs för regiformen ramavtal (bara egen regi och IOP får "
        "utelämna det)",
        f"{path}:6, fält 'agreement_id': agreement_id krävs för ett ramavtal",
    ]]
    assert snapshot(engine) == before


def test_csv_header_must_have_the_columns(run, engine, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("org_nr,name\n556036-0793,Omsorg Öst AB\n", encoding="utf-8")
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0].startswith(f"Fel: {path}:1: kolumner saknas: supplier_name, legal_form, ")
    assert result.stderr.splitlines()[1].startswith(f"{path}:1: okänd kolumn: name (kolumnerna är: org_nr, ")


def test_csv_luhn_failure_names_the_line(run, engine, tmp_path):
    path = tmp_path / "luhn.csv"
    path.write_text("\n".join([HEADER, *(r.replace("556036-0793", "556036-0794") for r in NEW_ROWS)]) + "\n",
                    encoding="utf-8")
    before = snapshot(engine)
    result = run("register", "import", str(path), "--by", "bo")
    assert result.exit_code == 2
    assert result.stderr == f"Fel: {path}:2, fält 'org_nr': organisationsnumret '556036-0794' har fel kontrollsiffra (Luhn)\n"
    assert snapshot(engine) == before


def test_csv_round_trip_of_a_generated_register(run, engine, tmp_path):
    """Realistic names, notes with commas and semicolons, every route kind: CSV export → import
    changes nothing."""
    from placering.demo import generate_register

    doc = generate_register(150)
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert run("register", "import", str(path), "--by", "demo").exit_code == 0
    csv_path = tmp_path / "demo.csv"
    assert run("register", "export", "--csv", "--out", str(csv_path)).exit_code == 0
    before = snapshot(engine)
    result = run("register", "import", str(csv_path), "--by", "bo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["history_entries"] == 0
    assert snapshot(engine) == before

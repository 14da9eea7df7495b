"""What people and programs get at the terminal (issue 11 items 1–6, issue 13 item 4): tables that
fit 80 and 100 columns, Swedish labels and numbers, the Excel CSV dialect, forgiving lookups,
the config file, next steps that run as printed, and output that cannot be used to attack a
terminal or a spreadsheet. Everything through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import re
import io
import json
import math
import shlex
from collections import defaultdict

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from placering.cli import cli
from test_register_import import LOADED_ON, ORG_ANGEN, load, sample_document

REQUEST = {
    "request_id": "R-OUT-1", "submitted_on": "2024-09-01", "municipality": "Göteborg", "requester": "Nordost",
    "insats": "hvb_barn_unga", "person": {"age": 16, "gender": "female", "needs": [], "protected_identity": False},
    "legal_basis": "SoL", "urgency": "akut", "start_on": "2024-09-02", "places": 1,
    "home_municipality": "Göteborg", "max_distance_km": 150, "avoid_municipalities": [],
}


def many_units(doc: dict, n: int) -> dict:
    """The sample register plus n units of Göteborgs Stad, among them Boende Ängen and Boende
    Tranhagen (a name that only looks like 'angen')."""
    template = doc["suppliers"][1]["units"][1]
    names = ["Boende Tranhagen", "Boende Ängen"] + [f"Korttidshem {i:02d}" for i in range(n - 2)]
    for i, name in enumerate(names):
        unit = json.loads(json.dumps(template))
        unit.update(unit_id=f"U-5{i:03d}", name=name, status="published")
        unit.pop("removal_reason", None)
        unit.pop("status_note", None)
        doc["suppliers"][1]["units"].append(unit)
    return doc


@pytest.fixture
def loaded(run, tmp_path):
    load(run, tmp_path, many_units(sample_document(), 45))
    return run


def ok(result):
    assert result.exit_code == 0, result.output
    return result


# --- 1. tables that fit, lists summarised, the same options everywhere -----------------------


@pytest.mark.parametrize("width", [80, 100])
def test_tables_fit_the_terminal_and_never_split_ids_dates_or_numbers(loaded, width):
    env = {"COLUMNS": str(width)}
    screens = {
        "show": ok(loaded("register", "show", "U-1001", env=env)).stdout,
        "paused": ok(loaded("audit", "paused", "--as-of", "2024-06-01", env=env)).stdout,
        "history": ok(loaded("register", "history", "U-1001", env=env)).stdout,
        "search": ok(loaded("register", "search", "Korttidshem", "--limit", "60", env=env)).stdout,
    }
    for name, screen in screens.items():
        too_long = [line for line in screen.splitlines() if len(line) > width]
        assert not too_long, (name, too_long)
        # rich crops a table wider than the terminal: an org number or id at the edge would be cut
        assert not re.search(r"\b\d{6}-\d{1,3}\b|…", screen), name
    show = screens["show"]
    assert "556677-8899" in show and "RA-HVB-22-07" in show and "2022-05-01" in show
    assert "5\u00a0150,5" in show  # Swedish number, whole on its line
    row = next(line for line in show.splitlines() if line.startswith("Direktupphandling"))
    assert row.rstrip().endswith("Aktivt") or "5\u00a0150,5" in row  # the price is right-aligned in its cell
    assert "U-1002" in screens["paused"] and "Rekommendationsstopp" in screens["paused"]


def test_a_long_list_shows_a_count_and_how_to_get_it_all(loaded):
    rows = list(csv.DictReader(io.StringIO(ok(loaded("register", "search", "Korttidshem", "--limit", "60",
                                                     "--csv")).stdout)))
    n = len(rows)
    assert n >= 43 and rows[0]["status"] == "published"  # every row, with codes, not labels
    table = ok(loaded("register", "search", "Korttidshem", "--limit", "60", env={"COLUMNS": "100"})).stdout
    assert f"Visar 40 av {n} rader: --all visar alla, --csv eller --json ger alla rader." in table
    assert table.count("Korttidshem") <= 40
    every = ok(loaded("register", "search", "Korttidshem", "--limit", "60", "--all")).stdout
    assert every.count("Korttidshem") == 43 and "Visar" not in every
    lines = ok(loaded("register", "search", "Korttidshem", "--limit", "60", "--jsonl")).stdout.splitlines()
    assert len(lines) == n and json.loads(lines[0])["unit_id"].startswith("U-5")
    both = loaded("register", "search", "x", "--json", "--csv")
    assert both.exit_code == 2 and "ange en av --json, --jsonl, --csv, --excel och --xlsx" in both.stderr


# --- 2. Swedish for people, codes for programs ----------------------------------------------


def test_every_code_of_the_vocabulary_has_a_swedish_label():
    from placering import vocabulary as v
    from placering.labels import has_label

    kinds = {v.Route: "route", v.UnitStatus: "unit_status", v.AgreementStatus: "agreement_status",
             v.RemovalReason: "removal_reason", v.PermitStatus: "permit_status", v.CheckKind: "check_kind",
             v.CheckResult: "check_result", v.LegalForm: "legal_form", v.Gender: "gender", v.Urgency: "urgency",
             v.ComplaintOutcome: "complaint_outcome", v.ComplaintCategory: "complaint_category",
             v.TargetGroup: "target_group"}
    missing = [f"{kind}: {code.value}" for enum, kind in kinds.items() for code in enum if not has_label(code.value, kind)]
    assert not missing, missing


def test_every_history_action_and_entity_kind_written_has_a_label():
    """What history records (action=…, entity_kind=… in the library) is shown by `register
    history` and `audit log`: each needs its Swedish label."""
    import re
    from pathlib import Path

    import placering
    from placering.labels import has_label

    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(placering.__file__).parent.rglob("*.py"))
    actions = {a for m in re.finditer(r'action="(\w+)"(?: if [^,]* else "(\w+)")?', text) for a in m.groups() if a}
    kinds = set(re.findall(r'entity_kind="(\w+)"', text))
    assert len(actions) > 20 and len(kinds) > 10
    missing = [f"history_action: {a}" for a in sorted(actions) if not has_label(a, "history_action")]
    missing += [f"entity_kind: {k}" for k in sorted(kinds) if not has_label(k, "entity_kind")]
    assert missing == []


def test_people_read_labels_and_programs_read_codes(loaded, tmp_path):
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST, ensure_ascii=False), encoding="utf-8")
    ok(loaded("match", str(path), "--by", "handläggare"))
    explained = ok(loaded("request", "show", "R-OUT-1", "--explain", "U-1002", env={"COLUMNS": "300"})).stdout
    assert "Enheten tar emot man/pojke, inte kvinna/flicka" in explained  # was "male, inte female"
    data = json.loads(ok(loaded("request", "show", "R-OUT-1", "--explain", "U-1002", "--json")).stdout)
    gender = next(r for r in data["reasons"] if r["code"] == "GENDER")
    assert gender["values"]["request.person.gender"] == "female"  # the code stays in --json
    from placering.labels import label

    show = ok(loaded("register", "show", "U-1002", env={"COLUMNS": "160"})).stdout
    status = json.loads(ok(loaded("register", "show", "U-1002", "--json")).stdout)["status"]  # a code
    assert f"Status:        {label(status, 'unit_status')}" in show and f"Status:        {status}" not in show
    permit = json.loads(ok(loaded("register", "show", "U-1002", "--json")).stdout)["permits"][0]["status"]
    assert label(permit, "permit_status") in show and f" {permit} " not in show  # the permit status, labelled


def test_no_code_without_a_label_reaches_a_person(loaded):
    """Every code a table or sentence shows goes through the label catalogue: an order stop for
    one of an agreement's suppliers makes its status 'mixed', an IVO revocation proposes an order
    stop to INK (proposal kind 'order_stop'); the screens that show them name no bare code."""
    from placering.labels import forget_unlabelled, label, unlabelled

    ok(loaded("register", "permit", "U-1001", "--dnr", "8.1-12345/2019", "--status", "revoked", "--on", "2025-02-01",
              "--by", "kvalitet"))  # removes the unit and proposes an order stop to INK
    ok(loaded("register", "agreement", "RA-HVB-22-07", "order_stop", "--supplier", ORG_ANGEN, "--on", "2025-02-03",
              "--note", "INK:s beslut", "--by", "ink"))
    kinds = {p["kind"] for p in json.loads(ok(loaded("register", "proposals", "--json")).stdout)}
    assert "order_stop" in kinds
    forget_unlabelled()
    screens = {}
    for args in (("register", "proposals"), ("register", "show", "U-1001"), ("register", "show", "RA-HVB-22-07"),
                 ("register", "show", ORG_ANGEN), ("register", "history", "U-1001"), ("audit", "paused", "--all"),
                 ("audit", "paused", "--as-of", "2025-02-02", "--all"), ("audit", "log", "--limit", "20"),
                 ("audit", "checks-due", "--all"), ("register", "entry", "list"), ("complaint", "list"),
                 ("control", "list")):
        screens[args] = ok(loaded(*args, env={"COLUMNS": "200"})).stdout
    assert unlabelled() == set()
    assert label("order_stop", "proposal_kind") in screens[("register", "proposals")]
    assert label("order_stop", "agreement_status") in screens[("register", "show", "RA-HVB-22-07")]
    assert "hvb_barn_unga" not in " ".join(screens.values())  # a rule message's insats is named, not coded
    # An agreement whose suppliers' participations differ is 'mixed' (audit/timeline.py).
    assert label("mixed", "agreement_status") != "mixed" and unlabelled() == set()


# --- 3. CSV that Swedish Excel opens and saves ------------------------------------------------


def test_excel_dialect_round_trip_with_swedish_letters_and_decimal_commas(loaded, engine, tmp_path):
    from conftest import snapshot

    path = tmp_path / "register.csv"
    ok(loaded("register", "export", "--excel", "--show-protected", "--out", str(path)))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    text_ = raw.decode("utf-8-sig")
    header = text_.splitlines()[0]
    assert header.startswith("Organisationsnummer;Leverantör;Juridisk form;Enhets-id")  # for people (issue 19)
    assert "Vårdbolaget Ängen AB" in text_ and "Stödboende Åkervägen" in text_ and ";5150,5;" in text_
    assert ";57,71;11,97;" in text_  # decimal comma in coordinates
    before = snapshot(engine)
    again = json.loads(ok(loaded("register", "import", str(path), "--by", "bo", "--json")).stdout)
    assert again["units"]["updated"] == 0 and again["units"]["created"] == 0
    assert snapshot(engine) == before
    # What Excel saves after an edit: a price typed with a decimal comma, SANT for true.
    edited = text_.replace(";5150,5;", ";5175,25;").replace("\r\n", "\n")
    path.write_text(edited, encoding="utf-8-sig")
    summary = json.loads(ok(loaded("register", "import", str(path), "--by", "bo", "--json")).stdout)
    assert summary["units"]["updated"] == 1
    unit = json.loads(ok(loaded("register", "show", "U-1001", "--json")).stdout)
    assert any(r.get("daily_price") == 5175.25 for r in unit["routes"])
    # A file whose columns are separated by neither ',' nor ';' gets a clear message.
    bad = tmp_path / "tabs.csv"
    bad.write_text(header.replace(";", "\t") + "\n", encoding="utf-8")
    rejected = loaded("register", "import", str(bad), "--by", "bo")
    assert rejected.exit_code == 2 and "kan inte avgöra hur kolumnerna är avgränsade" in rejected.stderr
    assert snapshot(engine) != before or True


def test_protected_coordinates_are_in_no_export_without_show_protected(loaded):
    for args in (("--csv",), ("--excel",), ("--json",)):
        out = ok(loaded("register", "export", *args))
        assert "57.871" not in out.stdout and "57,871" not in out.stdout, args  # Tösens skyddade boende
        assert "57.7," not in out.stdout and "57,7;" not in out.stdout
        assert "med skyddad adress är utelämnade" in out.stderr
    shown = ok(loaded("register", "export", "--csv", "--show-protected")).stdout
    assert "57.871" in shown


def test_decimal_comma_in_a_numeric_option(loaded):
    result = ok(loaded("register", "check", "5566778899", "credit_rating", "--result", "pass", "--value", "12,5",
                       "--on", "2024-12-01", "--by", "kontroll", "--json"))
    assert json.loads(result.stdout)["changes"]["value"] == 12.5


# --- 4. lookups that forgive --------------------------------------------------------------------


def test_ids_ignore_case_and_names_fall_back_with_suggestions(loaded):
    assert "Enhet U-1001: HVB Ängen" in ok(loaded("register", "show", "u-1001")).stdout
    assert "Enhet U-1001: HVB Ängen" in ok(loaded("register", "show", "HVB Ängen")).stdout
    assert "Avtal RA-HVB-22-07" in ok(loaded("register", "show", "ra-hvb-22-07")).stdout
    near = loaded("register", "show", "HVB Änge")
    assert near.exit_code == 3 and "menar du U-1001 (HVB Ängen, Göteborg)?" in near.stderr
    ok(loaded("register", "status", "u-1001", "watch", "--by", "k"))
    assert json.loads(ok(loaded("register", "show", "U-1001", "--json")).stdout)["status"] == "watch"


def test_search_without_swedish_letters_ranks_the_right_name_first(loaded):
    hits = json.loads(ok(loaded("register", "search", "boende angen", "--json")).stdout)
    names = [h["unit_name"] for h in hits]
    assert names[0] == "Boende Ängen" and names.index("Boende Ängen") < names.index("Boende Tranhagen")


def test_all_290_municipalities_with_county_and_seat():
    from placering.taxonomy import load_taxonomy

    munis = list(load_taxonomy().municipalities.values())
    assert len(munis) == 290 and len({m.code for m in munis}) == 290
    assert sum(m.demo for m in munis) == 78  # the names known before keep their spelling
    by_county = defaultdict(list)
    for m in munis:
        assert m.county.endswith("län") and 55.0 < m.lat < 69.1 and 10.9 < m.lon < 24.2, m
        by_county[m.county].append(m)
    assert len(by_county) == 21
    for county, members in by_county.items():  # every seat lies among its county's other seats
        lat = sum(m.lat for m in members) / len(members)
        lon = sum(m.lon for m in members) / len(members)
        for m in members:
            km = 111 * math.hypot(m.lat - lat, (m.lon - lon) * math.cos(math.radians(lat)))
            assert km < 330, (m.name, county, round(km))
    sollefteå = load_taxonomy().municipality("Sollefteå")
    assert sollefteå.code == "2283" and sollefteå.county == "Västernorrlands län"


def test_a_request_from_any_municipality_is_accepted(loaded, tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(dict(REQUEST, request_id="R-SOLL", municipality="Sollefteå",
                                    home_municipality="Sollefteå")), encoding="utf-8")
    ok(loaded("match", str(path), "--by", "h"))


# --- 5. one spelling, exit codes, the config file, no stray database ------------------------------


def test_limit_means_the_latest_n_everywhere(loaded):
    latest = json.loads(ok(loaded("register", "history", "--limit", "2", "--json")).stdout)
    log = json.loads(ok(loaded("audit", "log", "--limit", "2", "--json")).stdout)["entries"]
    assert [e["id"] for e in latest] == [e["id"] for e in log]
    every = json.loads(ok(loaded("audit", "log", "--json")).stdout)["entries"]
    assert [e["id"] for e in log] == [e["id"] for e in every[-2:]]
    assert set(latest[0]) >= {"recorded_at", "kind"}  # the same field names as audit log


def test_config_file_gives_database_actor_and_rules(db_url, tmp_path, monkeypatch):
    run = CliRunner()
    config = tmp_path / "placering.toml"
    config.write_text(f'database = "{db_url}"\nactor = "anna.konfig"\n', encoding="utf-8")
    env = {"PLACERING_CONFIG": str(config), "PLACERING_DATABASE_URL": "", "PLACERING_ACTOR": ""}
    monkeypatch.chdir(tmp_path)
    doc_path = tmp_path / "doc.json"
    doc_path.write_text(json.dumps(sample_document(), ensure_ascii=False), encoding="utf-8")
    ok(run.invoke(cli, ["register", "import", str(doc_path), "--on", LOADED_ON], env=env))
    entries = json.loads(ok(run.invoke(cli, ["register", "history", "--json"], env=env)).stdout)
    assert entries and {e["actor"] for e in entries} == {"anna.konfig"}
    config.write_text('databas = "x"\n', encoding="utf-8")
    bad = run.invoke(cli, ["register", "search", "x"], env=env)
    assert bad.exit_code == 2 and "okänd inställning databas" in bad.stderr


def test_a_read_command_creates_no_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"PLACERING_DATABASE_URL": "", "PLACERING_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    for args in (["register", "search", "x"], ["audit", "paused"], ["register", "history"]):
        result = CliRunner().invoke(cli, args, env=env)
        assert result.exit_code == 5 and "kör 'placering init' först" in result.stderr, result.output
    assert not (tmp_path / "placering.db").exists()


# --- 6. next steps, and register show lists everything about a unit -------------------------------


def _steps(out: str) -> list[str]:
    return [line.split("   #")[0].strip() for line in out.split("Nästa steg:\n")[1].splitlines()]


def test_next_steps_run_as_printed(loaded, tmp_path):
    def match(request_id: str) -> str:
        path = tmp_path / f"{request_id}.json"
        path.write_text(json.dumps(dict(REQUEST, request_id=request_id, person=dict(REQUEST["person"], gender="male")),
                                   ensure_ascii=False), encoding="utf-8")
        return ok(loaded("match", str(path), "--by", "handläggare")).stdout

    decline = next(s for s in _steps(match("R-OUT-1")) if " decline " in s)
    assert "--by handläggare" in decline
    rematch = _steps(ok(loaded(*shlex.split(decline)[1:])).stdout)[0]
    assert rematch == "placering request rematch R-OUT-1 --by handläggare"
    assert "Förfrågan R-OUT-1" in ok(loaded(*shlex.split(rematch)[1:])).stdout
    choose = next(s for s in _steps(match("R-OUT-2")) if " choose " in s)
    chosen = ok(loaded(*shlex.split(choose)[1:])).stdout
    assert "Placering för R-OUT-2: U-1001" in chosen
    show = _steps(chosen)[0]
    assert "R-OUT-2" in ok(loaded(*shlex.split(show)[1:])).stdout


def test_register_show_lists_visits_complaints_and_proposals(loaded):
    ok(loaded("register", "visit", "U-1001", "--on", "2024-10-01", "--note", "Rutinbesök", "--by", "k"))
    ok(loaded("register", "complaint", "U-1001", "--category", "treatment", "--on", "2024-10-02", "--by", "k"))
    ok(loaded("register", "check", "5566778899", "credit_rating", "--result", "fail", "--on", "2024-12-01",
              "--by", "k"))
    shown = ok(loaded("register", "show", "U-1001", env={"COLUMNS": "160"})).stdout
    assert "Besök" in shown and "2024-10-01" in shown and "Rutinbesök" in shown
    assert "Synpunkter" in shown and "Bemötande" in shown
    data = json.loads(ok(loaded("register", "show", "U-1001", "--json")).stdout)
    assert [v["visited_on"] for v in data["visits"]] == ["2024-10-01"]
    assert "proposals" in data and "Förslag från registerreglerna" in shown


# --- issue 13 item 4: nothing printed can steer the terminal or a spreadsheet ----------------------

ESC = "\x1b]0;pwned\x07\x1b[2J"  # retitle the window, clear the screen


def _plant(engine, name: str, note: str, actor: str) -> None:
    """Hostile text already in the database (written before input validation existed): a unit's
    name and note, and a history entry (appended: history is never rewritten) by that actor."""
    from placering.storage.models import History

    table = History.__table__
    with engine.begin() as conn:
        conn.execute(text("UPDATE unit SET name = :n WHERE unit_id IN ('U-1001', 'U-1002')"), {"n": name})
        conn.execute(text("UPDATE unit SET status_note = :n WHERE unit_id = 'U-1002'"), {"n": note})
        last = conn.execute(table.select().where(table.c.unit_id == "U-1001").order_by(table.c.id.desc())
                            .limit(1)).mappings().one()
        row = {k: v for k, v in last.items() if k != "id"}
        conn.execute(table.insert().values(**dict(row, actor=actor, note=note)))


@pytest.mark.parametrize("command", [
    ("match", "REQUEST"),
    ("register", "show", "U-1001"),
    ("register", "history", "U-1001"),
    ("audit", "log"),
    ("audit", "visits", "--as-of", "2024-10-02"),
    ("audit", "paused", "--as-of", "2024-06-01"),
    ("register", "search", "HVB"),
])
def test_escape_sequences_and_markup_in_data_are_shown_not_obeyed(loaded, engine, tmp_path, command):
    ok(loaded("register", "visit", "U-1001", "--on", "2024-10-01", "--by", "k"))
    _plant(engine, f"HVB {ESC}Ängen [bold red]x[/]", f"note {ESC}", f"eve{ESC}")
    path = tmp_path / "request.json"
    path.write_text(json.dumps(dict(REQUEST, person=dict(REQUEST["person"], gender="male"))), encoding="utf-8")
    args = [str(path) if a == "REQUEST" else a for a in command]
    if args[0] == "match":
        args += ["--by", "h"]
    out = ok(loaded(*args, env={"COLUMNS": "300"})).output
    assert "\x1b" not in out and "\x07" not in out, args
    assert "\\x1b" in out, args  # shown, visibly
    if args[:2] in (["register", "show"], ["register", "search"]):
        assert "[bold red]x[/]" in out  # rich markup in data is text


def test_csv_cells_that_look_like_formulas_are_neutralised(loaded, engine, tmp_path):
    formula = '=HYPERLINK("http://x.invalid","klicka")'
    with engine.begin() as conn:
        conn.execute(text("UPDATE unit SET name = :n WHERE unit_id = 'U-1001'"), {"n": formula})
        conn.execute(text("UPDATE unit SET status_note = :n WHERE unit_id = 'U-1002'"), {"n": "@SUM(A1)"})
    exported = ok(loaded("register", "export", "--csv")).stdout
    assert "'=HYPERLINK" in exported and ",=HYPERLINK" not in exported and "'@SUM(A1)" in exported
    for args in (("register", "search", "HYPERLINK", "--csv"), ("audit", "paused", "--as-of", "2024-06-01", "--excel")):
        out = ok(loaded(*args)).stdout
        cells = [c for row in csv.reader(io.StringIO(out.lstrip("\ufeff")), delimiter=";" if "--excel" in args else ",")
                 for c in row]
        assert not any(c.startswith(("=", "+", "-", "@")) for c in cells), args
    # An import of the export gets the text back as it was (the quote is the export's guard).
    path = tmp_path / "units.csv"
    path.write_text(exported, encoding="utf-8")
    ok(loaded("register", "import", str(path), "--by", "bo"))
    assert json.loads(ok(loaded("register", "show", "U-1001", "--json")).stdout)["name"] == formula
    assert ORG_ANGEN in exported


@pytest.mark.parametrize("width", [80, 100, 120])
def test_a_table_wider_than_the_terminal_leaves_columns_out_rather_than_cut_org_numbers(width, monkeypatch, capsys):
    """The audit paused screen of the demo register at 100 columns printed `212000-135`: the
    columns' narrowest fitted by estimate, rich's layout did not. Now rich's own layout decides."""
    from placering.cli.common import print_table

    monkeypatch.setenv("COLUMNS", str(width))
    names = ["Boende Solgläntan", "Akutboendet Fågelstigen", "Korttidsboendet Björkkullen", "HVB Ekorrviken"]
    reasons = ["Avvecklad", "Osannolik användning", "Rekommendationsstopp", "Ekonomiska brister"]
    rows = [{"id": f"U-1{i:03d}", "name": names[i % 4], "status": "Borttagen", "since": "2022-05-22",
             "reason": reasons[i % 4], "by": "demo.handlaggare", "org_nr": f"5594{i:02d}-18{i % 10}8",
             "insatser": "Socialt boende med stöd, Nödbistånd boende", "kommun": "Göteborg"} for i in range(12)]
    print_table(rows, [("id", "Id"), ("name", "Namn"), ("status", "Status"), ("since", "Sedan"),
                       ("reason", "Orsak"), ("by", "Beslutad av"), ("org_nr", "Org.nr"),
                       ("insatser", "Insatser"), ("kommun", "Kommun")])
    out = capsys.readouterr().out
    assert all(len(line) <= width for line in out.splitlines())
    shown = re.findall(r"\b\d{6}-\d+\b", out)
    assert all(len(o) == 11 for o in shown), shown
    assert "Rekommendationsstopp" in out  # a long compound word is not folded
    if not shown:
        assert "Org.nr" in out.split("Kolumner som inte får plats")[1]  # left out, and said so


_WORDS = ["Ängen", "HVB", "barn", "och", "unga", "U-1001", "RA-2023-7", "ELIG-AGREEMENT-NOT-STARTED", "kravnivån;",
          "x", "556206-1696", "a_b_c", "(147)", "–", "Rekommendationsstopp", "https://example.se/a/b/c/d/e/f/g/h/i/j",
          "dubbel  mellanrum", "日本", "e\u0301", "a\u00a0b", "slut. ", "3\u00a0000\u00a0kr"]


@pytest.mark.parametrize("columns", [None, "80", "250"])
def test_a_table_that_fits_prints_as_rich_prints_it(columns, monkeypatch, capsys):
    """A table that fits, into a file or a pipe, is written without rich's layout engine
    (cli/common.py `_plain_table`: most of a read command's time at 40 rows); it must be what
    rich prints, character for character: titles, numbers right-aligned, empty cells, lists,
    dates, least widths, and tables that do not fit or hold wide or combining characters
    (which rich lays out)."""
    import contextlib
    import random
    from datetime import date

    from placering.cli import common

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    real = common._plain_table
    fast = []
    monkeypatch.setattr(common, "_plain_table", lambda *a: fast.append(real(*a)) or fast[-1])

    def value(r: random.Random, numeric: bool, words: list[str]):
        k = r.random()
        if numeric and k < 0.9:
            return r.choice([r.randint(-5, 100000), r.random() * 1000])
        if k < 0.15:
            return None
        if k < 0.25:
            return date(2020, 1, r.randint(1, 28))
        if k < 0.3:
            return [r.choice(words) for _ in range(r.randint(0, 3))]
        return " ".join(r.choice(words) for _ in range(r.randint(1, r.choice([1, 2, 3, 12]))))

    for seed in range(150):
        r = random.Random(seed)
        keys = [f"{r.choice(['id', 'name', 'note', 'price', 'status'])}{i}" for i in range(r.randint(1, 8))]
        numeric = {k: r.random() < 0.2 for k in keys}
        cols = [(k, r.choice(["Id", "Namn", "Pris", "Gäller från", "Anteckning om saken", "X"])) for k in keys]
        words = _WORDS if seed % 3 == 0 else _WORDS[:16]  # wide, combining and spaced text in a third
        rows = [{k: value(r, numeric[k], words) for k in keys} for _ in range(r.randint(1, 9))]
        title = r.choice([None, "Titel", "x" * r.randint(1, 40), "Får inte rekommenderas per 2026-12-07 (147)"])
        limit = r.choice([None, 5])
        printed = []
        for plain in (True, False):
            if not plain:
                monkeypatch.setattr(common, "_plain_table", lambda *a: None)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                common.print_table(rows, cols, title=title, limit=limit)
            printed.append(out.getvalue())
        monkeypatch.setattr(common, "_plain_table", lambda *a: fast.append(real(*a)) or fast[-1])
        assert printed[0] == printed[1], (seed, printed)
    assert sum(p is not None for p in fast) >= 20  # the plain way was taken, and agreed

"""Swedish in and out, Excel files that round-trip, tables that keep the why (issue 19).

Each finding of the issue, through the CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest

from test_register_binding import load_register, register_doc, unit, write
from test_register_import import load

NOTE = "Leverantören har meddelat att verksamheten avvecklats helt under våren."


def ok(result):
    assert result.exit_code == 0, result.output
    return result


def _header_line(screen: str, first: str) -> str:
    return next(line for line in screen.splitlines() if line.startswith(first))


@pytest.fixture
def removed(run, tmp_path):
    """The sample register with U-1001 removed (reason and note): history that says why."""
    load(run, tmp_path)
    ok(run("register", "status", "U-1001", "removed", "--reason", "avvecklad", "--note", NOTE,
           "--on", "2024-03-01", "--by", "spink"))
    return run


# --- 1. tables that keep the why -------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 100])
def test_history_keeps_the_why_columns_at_80_and_100(removed, width):
    screen = ok(removed("register", "history", "U-1001", env={"COLUMNS": str(width)})).stdout
    assert all(len(line) <= width for line in screen.splitlines())
    head = _header_line(screen, "Gäller")
    for column in ("Händelse", "Ändring", "Orsak"):
        assert column in head, (column, screen)
    if width == 100:
        assert "Anteckning" in head and "avvecklats" in screen
    assert "Avvecklad" in screen  # the reason itself, not only its header
    if "får plats" in screen:  # what is left out is said, and how to see it
        assert "-x" in screen.split("får plats")[1]


def test_a_table_into_a_file_or_pipe_keeps_every_column_whole(removed):
    screen = ok(removed("register", "history", "U-1001", env={"COLUMNS": None})).stdout  # not a terminal
    head = _header_line(screen, "Gäller")
    for column in ("Registrerad", "Av", "Post", "Händelse", "Ändring", "Orsak", "Regel", "Anteckning"):
        assert column in head, column
    assert "får plats" not in screen
    assert any(NOTE in line and "Avvecklad" in line for line in screen.splitlines())  # one row, one line
    paused = ok(removed("audit", "paused", "--as-of", "2024-06-30", env={"COLUMNS": None})).stdout
    assert "Orsak" in _header_line(paused, "Id") and "Rekommendationsstopp" in paused


def test_entry_list_keeps_what_is_missing_at_100(run, tmp_path):
    load_register(run, tmp_path, unit("U-1", price=4100))
    new = register_doc(unit("U-1", price=4100), unit("U-NEW", "direktupphandling", 3000),
                       checks={"U-NEW": [{"kind": "tax_registration", "result": "fail", "performed_on": "2024-09-01"}]})
    new["suppliers"] = new["suppliers"][1:]
    ok(run("register", "import", write(tmp_path, new, "new.json"), "--by", "registervård", "--on", "2024-01-02"))
    for width in (80, 100):
        screen = ok(run("register", "entry", "list", "--on", "2024-09-01", env={"COLUMNS": str(width)})).stdout
        assert "Inte godkända" in screen and "F-skatt" in screen, screen
        assert "U-NEW" in screen
    expanded = ok(run("register", "entry", "list", "--on", "2024-09-01", "-x", env={"COLUMNS": "60"})).stdout
    assert re.search(r"^Inte godkända\s+\| Kreditupplysning", expanded, re.M) and "F-skatt" in expanded, expanded
    assert "-[ Post 1 ]" in expanded


def test_ids_are_never_split_nor_dropped(run):
    screen = ok(run("rules", "list", env={"COLUMNS": "80"})).stdout
    assert "ELIG-AGREEMENT-NOT-STARTED" in screen
    assert all(len(line) <= 80 for line in screen.splitlines())


def test_expanded_view_and_columns_on_a_listing(removed):
    shown = ok(removed("register", "history", "U-1001", "--columns", "gäller från,orsak,Note",
                       env={"COLUMNS": "80"})).stdout
    assert _header_line(shown, "Gäller").split() == ["Gäller", "från", "Orsak", "Anteckning"]
    as_csv = ok(removed("register", "history", "U-1001", "--columns", "effective_on,reason", "--csv")).stdout
    assert as_csv.splitlines()[0] == "effective_on,reason"
    record = ok(removed("register", "history", "U-1001", "-x", env={"COLUMNS": "50"})).stdout
    assert re.search(r"^Anteckning\s+\| Leverantören", record, re.M)
    unknown = removed("register", "history", "U-1001", "--columns", "färg")
    assert unknown.exit_code == 2 and "ingen kolumn 'färg'" in unknown.stderr and "Orsak (reason)" in unknown.stderr


def test_every_listing_writes_an_excel_workbook_with_swedish_headers(removed, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "historik.xlsx"
    ok(removed("register", "history", "U-1001", "--xlsx", str(path)))
    ws = load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:5] == ("Gäller från", "Registrerad", "Av", "Post", "Händelse")
    removal = next(r for r in rows if "Avvecklad" in r)
    assert "Statusändring" in removal and NOTE in removal
    assert any("Publicerad → Borttagen" in str(c) for c in removal)  # labels, not codes


# --- 2. Excel round trips ------------------------------------------------------------------------


def _free(run, unit_id: str) -> int:
    return json.loads(ok(run("register", "show", unit_id, "--json")).stdout)["free_places"]


@pytest.fixture
def last_place_taken(run, tmp_path):
    """A unit with one free place exported to Excel; then a choice takes that place."""
    from test_matching_support import load_register as load_units, match_json, request, unit as make_unit

    load_units(run, tmp_path, make_unit("U-1", free=1, places=4), make_unit("U-2", price=4100))
    path = tmp_path / "register.csv"
    ok(run("register", "export", "--excel", "--out", str(path)))
    match_json(run, tmp_path, request("R-1"), "reference")
    ok(run("request", "choose", "R-1", "U-1", "--by", "handläggare", "--on", "2024-09-01"))
    assert _free(run, "U-1") == 0
    return run, path


def test_free_places_are_never_imported_over_the_placements(last_place_taken, engine):
    from conftest import snapshot

    run, path = last_place_taken
    before = snapshot(engine)
    again = ok(run("register", "import", str(path), "--by", "bo", env={"COLUMNS": "300"}))
    assert "Ändrad lediga platser" not in again.stdout and "lediga platser ändras bara genom placeringar" in again.stdout
    assert _free(run, "U-1") == 0 and snapshot(engine) == before  # nothing to change: the place stays taken


def test_excel_round_trip_in_windows_1252_refuses_the_stale_file(last_place_taken, engine, tmp_path):
    from conftest import snapshot

    run, path = last_place_taken
    text = path.read_text(encoding="utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[:4] == ["Organisationsnummer", "Leverantör", "Juridisk form", "Enhets-id"]
    assert header[-1] == "Registerrevision" and ";Publicerad;" in text and ";Ramavtal;" in text
    # A colleague changes U-1's places after the export (through the register, as an import).
    current = json.loads(ok(run("register", "export", "--json")).stdout)
    unit_1 = next(u for s in current["suppliers"] for u in s["units"] if u["unit_id"] == "U-1")
    unit_1["places"] = 6
    ok(run("register", "import", write(tmp_path, current, "colleague.json"), "--by", "kollega"))
    assert _free(run, "U-1") == 2  # the place taken stays taken
    # Meanwhile someone edits the old export in Swedish Excel and saves it as Windows-1252.
    edited = text.replace("Enhet U-1;", "Enhet U-1 – norra;").replace("Enhet U-2;", "Enhet U-2 – södra;")
    stale = tmp_path / "redigerad.csv"
    stale.write_bytes(edited.encode("cp1252"))
    before = snapshot(engine)
    refused = run("register", "import", str(stale), "--by", "bo")
    assert refused.exit_code == 2, refused.output
    assert "läst som Windows-1252" in refused.stderr
    assert "fält 'Platser': enhet U-1 platser: ändrad i registret efter filens revision" in refused.stderr
    assert "registret har 6, filen 4" in refused.stderr and "lediga" not in refused.stderr.split("Fel:")[1]
    assert snapshot(engine) == before
    kept = json.loads(ok(run("register", "import", str(stale), "--by", "bo", "--skip-conflicts", "--json")).stdout)
    assert [(c["id"], c["field"]) for c in kept["conflicts"]] == [("U-1", "places")]
    shown = json.loads(ok(run("register", "show", "U-1", "--json")).stdout)
    assert shown["name"] == "Enhet U-1 – norra" and shown["places"] == 6 and shown["free_places"] == 2


def test_xlsx_export_carries_the_revision_and_imports_back(last_place_taken, engine, tmp_path):
    from openpyxl import load_workbook

    from conftest import snapshot

    run, _ = last_place_taken
    path = tmp_path / "register.xlsx"
    ok(run("register", "export", "--xlsx", str(path)))
    wb = load_workbook(path)
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header[3] == "Enhets-id" and header[-1] == "Registerrevision"
    revision = json.loads(ok(run("register", "export", "--json")).stdout)["revision"]
    assert {r[-1] for r in ws.iter_rows(min_row=2, values_only=True)} == {revision}
    before = snapshot(engine)
    same = json.loads(ok(run("register", "import", str(path), "--by", "bo", "--json")).stdout)
    assert same["units"]["updated"] == 0 and snapshot(engine) == before
    ok(run("register", "status", "U-2", "unpublished", "--note", "paus", "--by", "spink"))
    ws.cell(row=2, column=header.index("Status") + 1, value="Bevakning")  # statuses taken only with --apply-status
    wb.save(path)
    stale = run("register", "import", str(path), "--by", "bo", "--apply-status")
    assert stale.exit_code == 2 and "ändrad i registret efter filens revision" in stale.stderr, stale.output


def test_a_csv_neither_utf8_nor_a_single_byte_encoding_is_refused_with_where(run, tmp_path):
    bad = tmp_path / "trasig.csv"
    bad.write_bytes(b"org_nr;unit_id\n\x81\x8d\x8f\x90\x9d\n")
    refused = run("register", "import", str(bad), "--by", "bo")
    assert refused.exit_code == 2 and "varken UTF-8 (byte 0x81 vid position 15)" in refused.stderr
    assert "trasig.csv:2" in refused.stderr


# --- 3. Swedish accepted wherever it is shown ----------------------------------------------------


def test_labels_are_accepted_wherever_codes_are(removed):
    run = removed
    check = ok(run("register", "check", "556677-8899", "F-skatt", "--result", "underkänd", "--on", "2024-12-01",
                   "--by", "kontroll", "--json"))
    assert json.loads(check.stdout)["changes"]["kind"] == "tax_registration"
    assert json.loads(check.stdout)["changes"]["result"] == "fail"
    # Case and diacritics do not matter; the code still works.
    ok(run("register", "check", "556677-8899", "KREDITUPPLYSNING", "--result", "Godkand", "--value", "12,5",
           "--on", "2024-12-02", "--by", "kontroll"))
    ok(run("register", "status", "U-1002", "Avpublicerad", "--note", "paus", "--by", "spink"))
    assert json.loads(ok(run("register", "show", "U-1002", "--json")).stdout)["status"] == "unpublished"
    found = json.loads(ok(run("register", "search", "Stödboende", "--status", "avpublicerad", "--json")).stdout)
    assert [u["unit_id"] for u in found] == ["U-1002"]
    assert ok(run("register", "search", "Stödboende", "--status", "unpublished", "--json")).stdout == \
        ok(run("register", "search", "Stödboende", "--status", "avpublicerad", "--json")).stdout
    listed = json.loads(ok(run("review", "list", "--status", "väntar", "--json")).stdout)
    assert isinstance(listed, (list, dict))
    refused = run("register", "check", "556677-8899", "F-skatt", "--result", "dålig", "--on", "2024-12-01",
                  "--by", "kontroll")
    assert refused.exit_code == 2
    assert refused.stderr == "Fel: okänt kontrollresultat 'dålig' (kända: godkänd, underkänd eller kunde inte göras)\n"


def test_a_decimal_comma_in_a_price(last_place_taken):
    run, _ = last_place_taken
    done = json.loads(ok(run("placement", "agreement", "R-1", "--from", "2024-09-01", "--to", "2024-12-31",
                             "--price", "4000,5", "--signed-on", "2024-09-01", "--by", "handläggare",
                             "--json")).stdout)
    assert done["agreement_price"] == 4000.5
    bad = run("placement", "agreement", "R-1", "--price", "tvåtusen", "--by", "handläggare")
    assert bad.exit_code == 2 and "Fel: ogiltigt värde för '--price'" in bad.stderr


# --- 4. explanations for people ------------------------------------------------------------------


@pytest.fixture
def decided(run, tmp_path):
    """One request decided: U-1 recommended, U-2 full, U-3 without IVO permit, U-4 both."""
    from test_matching_support import load_register as load_units, request, unit as make_unit, write_request

    load_units(run, tmp_path, make_unit("U-1"), make_unit("U-2", free=0), make_unit("U-3", permit=None),
               make_unit("U-4", free=0, permit=None))
    path = write_request(tmp_path, request("R-1"))
    return run, path


def test_match_lists_the_excluded_units_by_reason(decided):
    run, path = decided
    screen = ok(run("match", str(path), "--by", "handläggare", env={"COLUMNS": "100"})).stdout
    assert "Uteslutna: 3 enheter, per skäl" in screen
    rows = [line.split() for line in screen.splitlines() if line.startswith(("Lediga platser", "IVO-tillstånd"))]
    assert rows == [["Lediga", "platser", "2", "U-2,", "U-4"], ["IVO-tillstånd", "2", "U-3,", "U-4"]], screen
    shown = ok(run("request", "show", "R-1", env={"COLUMNS": "100"})).stdout
    assert "Uteslutna: 3 enheter, per skäl" in shown and "U-2, U-4" in shown


def test_explanations_say_values_in_words_and_cite_documents(decided):
    run, path = decided
    ok(run("match", str(path), "--by", "handläggare"))
    explained = ok(run("request", "show", "R-1", "--explain", "U-4", env={"COLUMNS": "1000"})).stdout
    assert "IVO-tillstånd finns: nej" in explained and "lediga platser: 0" in explained
    for leak in ("=True", "=False", "permit.exists", "['", "sources/", "CONTRACT.md", "DOMAIN.md", "Match decision"):
        assert leak not in explained, (leak, explained)
    assert explained.count("källa: ") == 2  # each reason cites its source, by document (no project file)
    recommended = ok(run("request", "show", "R-1", "--explain", "U-1", env={"COLUMNS": "200"})).stdout
    assert "False" not in recommended and "True" not in recommended


def test_request_show_says_the_end_and_declines_in_swedish_time(decided):
    run, path = decided
    ok(run("match", str(path), "--by", "handläggare"))
    ok(run("request", "decline", "R-1", "U-1", "--reason", "Ingen plats", "--by", "handläggare"))
    shown = ok(run("request", "show", "R-1", env={"COLUMNS": "120"})).stdout
    declined = next(line for line in shown.splitlines() if line.startswith("U-1"))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d\s*$", declined) and "+00:00" not in shown and "T" not in declined


# --- 5. the smaller items --------------------------------------------------------------------------


def test_no_english_in_suggestions_usage_errors_or_explanations(decided):
    run, path = decided
    several = run("register", "show", "Enhet U")
    assert several.exit_code == 3 and " or " not in several.stderr and " eller " in several.stderr
    unknown = run("audit", "paused", "--year", "2024")
    assert unknown.exit_code == 2 and "Fel: flaggan '--year' finns inte." in unknown.stderr
    assert "No such option" not in unknown.stderr
    # --explain of a request not stored: said so, never "beslut None"; a unit's name works as in register show.
    new = ok(run("match", str(path), "--explain", "Enhet U-3", "--by", "handläggare")).stdout
    assert new.startswith("U-3 i förfrågan R-1 (prövad nu, inget sparat): utesluten") and "None" not in new
    ok(run("match", str(path), "--by", "handläggare"))
    stored = ok(run("request", "show", "R-1", "--explain", "enhet u-1", env={"COLUMNS": "300"})).stdout
    assert stored.startswith("U-1 i förfrågan R-1 (beslut 1): rekommenderad")
    assert "regiform ramavtal" in stored and "route_priority" not in stored and "route " not in stored
    for args in (("rules", "list"), ("rules", "params"), ("register", "search", "Enhet")):
        screen = ok(run(*args, env={"COLUMNS": "250"})).stdout
        head = screen.splitlines()[1] if args == ("rules", "list") else screen.splitlines()[0]
        for english in ("Free", "Valid", "Title", "Unit ", "Value"):
            assert english not in head, (args, head)
    params = ok(run("rules", "params", env={"COLUMNS": "250"})).stdout
    assert not re.search(r"\b(months|days|years)\s+\d{4}-\d\d-\d\d–", params)  # the unit column, in Swedish
    assert re.search(r"\bmånader\s+\d{4}-\d\d-\d\d–", params)


def test_replay_takes_until_and_year_and_proposals_take_filters(decided):
    run, path = decided
    ok(run("match", str(path), "--by", "handläggare"))
    from pathlib import Path

    rules = str(Path(__file__).resolve().parent.parent / "rules")
    year = json.loads(ok(run("request", "replay", "--rules", rules, "--year", "2024", "--json")).stdout)
    assert (year["since"], year["until"], year["requests"]) == ("2024-01-01", "2024-12-31", 1)
    before = json.loads(ok(run("request", "replay", "--rules", rules, "--until", "2024-01-01", "--json")).stdout)
    assert before["requests"] == 0
    both = run("request", "replay", "--rules", rules, "--year", "2024", "--since", "2024-02-01")
    assert both.exit_code == 2 and "ange --year eller --since/--until, inte båda" in both.stderr
    ok(run("register", "check", org_nr_of(run, "U-2"), "F-skatt", "--result", "underkänd", "--on", "2024-09-01",
           "--by", "kontroll"))
    every = json.loads(ok(run("register", "proposals", "--json")).stdout)
    assert every and {p["kind"] for p in every} == {"deepened_control"}
    assert json.loads(ok(run("register", "proposals", "--kind", "Fördjupad kontroll", "--json")).stdout) == every
    assert json.loads(ok(run("register", "proposals", "--since", "2024-09-02", "--json")).stdout) == []
    assert json.loads(ok(run("register", "proposals", "--unit", "U-1", "--json")).stdout) == []


def org_nr_of(run, unit_id: str) -> str:
    return json.loads(ok(run("register", "show", unit_id, "--json")).stdout)["org_nr"]


# --- 6. one message catalogue with codes --------------------------------------------------------

ENGLISH = re.compile(r"\b(the|is|not|no|with|in|of|and|or|unknown|must|cannot|did|you|mean|try|neither|nor|"
                     r"found|given|should|valid|value|number|see)\b", re.I)


def _english_words(stderr: str) -> list[str]:
    # Commands, options, ids and values quoted in a message are the user's or the program's own.
    prose = re.sub(r"'[^']*'", "", stderr)
    return ENGLISH.findall(prose)


def test_error_paths_speak_swedish_by_default_and_english_when_asked(decided):
    run, path = decided
    ok(run("match", str(path), "--by", "handläggare"))
    failing = [
        ("register", "show", "U-9"), ("register", "show", "Enhet U"), ("register", "history", "U-9"),
        ("register", "status", "U-9", "published", "--by", "a"), ("register", "agreement", "RA-X", "active", "--by", "a"),
        ("register", "check", "556677-8899", "F-skatt", "--result", "underkänd", "--on", "2024-01-01", "--by", "a"),
        ("request", "show", "R-9"), ("request", "show", "R-1", "--explain", "U-9"),
        ("register", "proposals", "accept", "99", "--note", "x", "--by", "a"), ("review", "show", "99"),
        ("complaint", "update", "99", "--status", "closed", "--by", "a"), ("control", "show", "99"),
        ("rules", "show", "NO-SUCH-RULE"), ("register", "history", "--columns", "färg"),
        ("register", "check", "556600-0021", "skatt", "--result", "fail", "--on", "2024-01-01", "--by", "a"),
        ("audit", "paused", "--yera", "2024"),
    ]
    for args in failing:
        result = run(*args)
        assert result.exit_code != 0, args
        assert result.stderr.startswith(("Fel: ", "Användning: ")) and "Fel: " in result.stderr, (args, result.stderr)
        fel = result.stderr[result.stderr.index("Fel: "):]
        assert not _english_words(fel), (args, fel, _english_words(fel))
    english = run("register", "show", "Enhet U", env={"LANGUAGE": "en"})
    assert english.stderr.startswith("Error: 'Enhet U' is neither an organisation number") and " or U-" in english.stderr
    assert run("request", "show", "R-9", env={"LC_MESSAGES": "en_GB.UTF-8"}).stderr == \
        "Error: no placement request 'R-9'\n"
    assert run("request", "show", "R-9", env={"LANG": "en_US.UTF-8"}).stderr == "Fel: ingen placeringsförfrågan 'R-9'\n"


def test_plurals_come_from_the_catalogue(removed, tmp_path):
    one = removed("register", "history", "U-1001", "--limit", "1", "--xlsx", str(tmp_path / "a.xlsx"))
    assert one.stderr == f"Skrev 1 rad till {tmp_path / 'a.xlsx'}.\n"
    many = removed("register", "history", "U-1001", "--xlsx", str(tmp_path / "b.xlsx"))
    assert re.fullmatch(r"Skrev [2-9]\d* rader till .*b\.xlsx\.\n", many.stderr)
    english = removed("register", "history", "U-1001", "--limit", "1", "--xlsx", str(tmp_path / "c.xlsx"),
                      env={"LANGUAGE": "en"})
    assert english.stderr.startswith("Wrote 1 row to ")


def test_every_message_id_used_has_swedish_and_english():
    from pathlib import Path

    from placering.i18n import catalogue_ids

    src = Path(__file__).resolve().parent.parent / "src" / "placering"
    used = {m for f in src.rglob("*.py") for m in re.findall(r"""\b(?:msg|text)\(\s*["']([a-z_]+\.[a-z_.]+)["']""",
                                                            f.read_text(encoding="utf-8"))}
    assert len(used) >= 15
    for lang in ("sv", "en"):
        missing = used - catalogue_ids(lang)
        assert not missing, (lang, missing)
    assert catalogue_ids("sv") == catalogue_ids("en")


# --- 7. smaller findings (SWEDISH2) ---------------------------------------------------------------


def _rules_copy(tmp_path):
    import shutil

    from placering.paths import rules_dir

    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    return d


def test_rule_test_eligible_is_an_exact_set(run, tmp_path):
    """`eligible:` lists exactly the eligible units: one more eligible unit fails the case."""
    d = _rules_copy(tmp_path)
    assert ok(run("rules", "test", "--rules", str(d))).stdout.strip().endswith(" 0 underkända")
    p = d / "tests" / "eligibility.yaml"
    text = p.read_text(encoding="utf-8")
    before = "      eligible: [U-OK, U-MOLNDAL, U-EGEN-GBG, U-EGEN-SHARED]\n"  # the price-cap case
    assert text.count(before) == 1
    p.write_text(text.replace(before, "      eligible: [U-OK, U-MOLNDAL, U-EGEN-GBG]\n"), encoding="utf-8")
    result = run("rules", "test", "--rules", str(d))
    assert result.exit_code == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FEL ")]
    assert failed == ["FEL  eligibility: Pristak: dyrare ramavtal utesluts, billigare behörigt"], result.stdout
    assert "U-EGEN-SHARED" in result.stdout.split(failed[0])[1].split("\nok")[0]
    assert result.stdout.strip().endswith(" 1 underkända")


def test_lint_reports_every_kind_of_problem_in_one_run(run, tmp_path):
    d = _rules_copy(tmp_path)
    rules_file = d / "eligibility.yaml"
    rules_file.write_text(rules_file.read_text(encoding="utf-8").replace(
        "lt: [unit.free_places, request.places]", "lt: [unit.free_places, request.start_on]"), encoding="utf-8")
    case_file = d / "tests" / "skyddat_boende.yaml"
    case_file.write_text(case_file.read_text(encoding="utf-8").replace(
        "U-SKB-UTAN: [ELIG-PERMIT-MISSING]}", "U-SKB-UTAN: [ELIG-PERMIT-MISING]}"), encoding="utf-8")
    (d / "tests" / "bad.yaml").write_text("cases:\n  - name: x\n    request: {}\n    expect: {eligble: [U-1]}\n",
                                          encoding="utf-8")
    result = run("rules", "lint", "--rules", str(d))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"Fel: 3 fel i {d}:", result.stderr
    assert any(line.startswith(f"{rules_file}:") and "regel ELIG-CAPACITY: typerna stämmer inte" in line
               for line in lines), result.stderr
    assert any(line.startswith(f"{case_file}:38, ") and "okänt regel-id ELIG-PERMIT-MISING" in line
               for line in lines), result.stderr
    assert any(line.startswith(f"{d / 'tests' / 'bad.yaml'}:4, ") and "okänd förväntan 'eligble'" in line
               for line in lines), result.stderr
    doc = json.loads(run("rules", "lint", "--rules", str(d), "--json").stdout)
    assert not doc["ok"] and len(doc["problems"]) == 3 and all(p["file"] and p["line"] for p in doc["problems"])


def _users(run) -> dict[str, dict]:
    return {u["user"]: u for u in json.loads(ok(run("admin", "user", "list", "--json")).stdout)}


def test_user_add_never_moves_an_existing_account(run):
    import secrets

    name = "mona_" + secrets.token_hex(3)  # database logins are the whole PostgreSQL server's
    ok(run("admin", "user", "add", name, "--role", "social_worker", "--municipality", "Mölndal"))
    again = ok(run("admin", "user", "add", name, "--role", "socialsekreterare", "--municipality", "mölndal"))
    assert "(användaren fanns redan)" in again.stdout  # the same account as it is: accepted
    for args in (("--role", "social_worker", "--municipality", "Göteborg"),
                 ("--role", "social_worker", "--role", "auditor", "--municipality", "Mölndal"),
                 ("--role", "auditor")):
        refused = run("admin", "user", "add", name, *args)
        assert refused.exit_code == 2, (args, refused.output)
        # the roles in words, never their codes ('social_worker': issue 19, re-checked)
        assert refused.stderr.startswith(f"Fel: användaren '{name}' finns redan (roller socialsekreterare, kommun Mölndal)")
        assert f"placering admin user update {name} --role" in refused.stderr
        assert _users(run)[name]["municipality"] == "Mölndal" and _users(run)[name]["roles"] == ["social_worker"]
    moved = ok(run("admin", "user", "update", name, "--municipality", "Göteborg"))
    assert moved.stdout == f"Användare {name}: Socialsekreterare, kommun Mölndal → Socialsekreterare, kommun Göteborg.\n"
    assert _users(run)[name]["municipality"] == "Göteborg"
    ok(run("admin", "user", "update", name, "--role", "auditor"))
    assert _users(run)[name]["roles"] == ["auditor"] and _users(run)[name]["municipality"] is None
    missing = run("admin", "user", "update", "ingen_" + name, "--role", "auditor")
    assert missing.exit_code == 3 and "ingen användare" in missing.stderr


SOCIAL_WORKER_PATHS = [  # every way a social worker can reach a case
    ("request", "show", "R-G1"), ("request", "show", "R-G1", "--explain", "U-1"),
    ("request", "choose", "R-G1", "U-1"),
    ("request", "decline", "R-G1", "U-1", "--reason", "fullt"),
    ("request", "end", "R-G1", "--on", "2024-12-31"),
    ("request", "rematch", "R-G1", "--by", "maria"),
    ("placement", "show", "R-G1"),
    ("placement", "decision", "R-G1", "--from", "2024-09-01", "--to", "2024-12-31"),
    ("placement", "agreement", "R-G1", "--from", "2024-09-01", "--price", "1500"),
]


@pytest.fixture
def service_url(db_url, run, tmp_path):
    """The database as the application server reaches it: on PostgreSQL a service login (member
    of placering_service, row-level security on), dropped afterwards; the embedded register as
    it is. Holds Göteborg's request R-G1 (matched for göran) and units U-1 (Göteborg), U-2."""
    import uuid

    from test_matching_support import load_register, request, unit, write_request
    from test_roles import PASSWORD, as_login, superuser

    load_register(run, tmp_path, unit("U-1", free=1, municipality="Göteborg"),
                  unit("U-2", "egen_regi", None, municipality="Mölndal", buyers=("Mölndal",)))
    url, su, svc = db_url, None, None
    if db_url.startswith("postgresql"):
        svc = f"svc_{uuid.uuid4().hex[:6]}"
        su = superuser(db_url)
        with su.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE \"{svc}\" LOGIN PASSWORD '{PASSWORD}' IN ROLE placering_service")
        url = as_login(db_url, svc)
    path = write_request(tmp_path, request("R-G1", municipality="Göteborg", home_municipality="Göteborg"))
    ok(run("match", str(path), "--engine", "reference", "--by", "göran"))
    yield url
    if su is not None:
        with su.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{svc}"')
        su.dispose()


def test_a_social_worker_meets_another_municipalitys_request_as_not_found_in_swedish(service_url, engine):
    """Acting for a Mölndal social worker (the server's path: the service login, row-level
    security on PostgreSQL), Göteborg's request is not in her municipality: said in Swedish with
    exit 3 on every path, never the database's own text, and nothing changes."""
    from click.testing import CliRunner

    from conftest import snapshot
    from placering.access.acting import acting_as
    from placering.access.policy import Principal
    from placering.access.roles import Role
    from placering.cli import cli

    maria = Principal(login="maria", roles=frozenset([Role.SOCIAL_WORKER]), municipality="Mölndal", via="local")
    before = snapshot(engine)
    for args in SOCIAL_WORKER_PATHS:
        with acting_as(maria):
            result = CliRunner().invoke(cli, ["--db", service_url, *args], catch_exceptions=False)
        assert result.exit_code == 3, (args, result.output)
        assert result.stderr == ("Fel: ingen förfrågan 'R-G1' i din kommun (en socialsekreterare ser bara sin "
                                 "egen kommuns förfrågningar)\n"), (args, result.stderr)
    assert snapshot(engine) == before

"""The input boundary (issue 13 item 1): each hostile input the reliability probe found is
refused through the CLI with a message naming where and what, exit 2, and the database as it
was; on SQLite and PostgreSQL alike."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from conftest import snapshot

from placering.cli import cli
from placering.cli.messages import swedish

from test_matching_support import load_register, request, unit
from test_register_import import ORG_ANGEN, ORG_KOMMUN, load, sample_document, write_json


def refused(run, engine, *args, message: str, code: int = 2, env: dict | None = None):
    """The command fails with `message` in its error, no traceback, and changes nothing."""
    before = snapshot(engine)
    result = run(*args, env=env)
    assert result.exit_code == code, result.output
    assert swedish(message) in result.stderr, result.stderr  # the library's message, as a person reads it
    assert "Traceback" not in result.output
    assert snapshot(engine) == before
    return result


def write_text(tmp_path, text: str, name: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def raw_price(text: str) -> str:
    """The sample document with the first route's daily price written as `text` verbatim."""
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["routes"][0]["daily_price"] = 424242
    return json.dumps(doc, ensure_ascii=False).replace("424242", text, 1)


# --- numbers ------------------------------------------------------------------------------------


def test_infinite_price_in_json_is_refused(run, engine, tmp_path):
    load(run, tmp_path)
    for price, message in [("1e400", "1e400 är ett för stort tal"), ("Infinity", "Infinity är inget tal i JSON"),
                           ("-Infinity", "-Infinity är inget tal i JSON"), ("NaN", "NaN är inget tal i JSON")]:
        path = write_text(tmp_path, raw_price(price), "inf.json")
        refused(run, engine, "register", "import", path, "--by", "anna", message=f"{path}:1: {message}")
    export = run("register", "export", "--json")
    assert export.exit_code == 0
    json.loads(export.stdout, parse_constant=lambda c: pytest.fail(f"export printed {c}"))


def test_infinite_price_in_csv_is_refused(run, engine, tmp_path):
    load(run, tmp_path)
    rows = list(csv.DictReader(io.StringIO(run("register", "export", "--csv").stdout)))
    priced = next(i for i, r in enumerate(rows) if r["daily_price"])
    for text in ("inf", "-inf", "nan", "1e400"):
        rows[priced]["daily_price"] = text
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path = write_text(tmp_path, buf.getvalue(), "inf.csv")
        refused(run, engine, "register", "import", path, "--by", "anna",
                message=f"{path}:{priced + 2}, fält 'daily_price': värdet ska vara ett ändligt tal")


def test_infinite_or_huge_max_daily_price_in_a_request_is_refused(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    for text, message in [("Infinity", "Infinity är inget tal i JSON"), ("1e400", "1e400 är ett för stort tal"),
                          ("1e300", "fält 'max_daily_price': 1e+300 ligger utanför det tillåtna")]:
        body = json.dumps(request(max_daily_price=4242.5)).replace("4242.5", text)
        path = write_text(tmp_path, body, "R-1.json")
        refused(run, engine, "match", path, "--by", "h", message=message)


def test_places_beyond_the_integer_column_are_refused_on_both_databases(run, engine, tmp_path):
    load(run, tmp_path)
    for places in ["9223372036854775808", "2147483648", "99999999999999999999999999"]:
        doc = sample_document()
        doc["suppliers"][0]["units"][0]["places"] = 4242
        path = write_text(tmp_path, json.dumps(doc).replace("4242", places, 1), "places.json")
        message = ("fält 'places': värdet ska vara högst 2147483647" if len(places) <= 19
                   else "är ett för stort tal")
        refused(run, engine, "register", "import", path, "--by", "anna", message=message)


def test_places_at_the_integer_limit_are_stored(run, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["places"] = 2147483647
    assert run("register", "import", write_json(tmp_path, doc), "--by", "anna").exit_code == 0
    shown = json.loads(run("register", "show", doc["suppliers"][0]["units"][0]["unit_id"], "--json").stdout)
    assert shown["places"] == 2147483647


def test_huge_ids_on_the_command_line_are_refused(run, engine, tmp_path):
    load(run, tmp_path)
    refused(run, engine, "review", "approve", "99999999999999999999999", "--note", "ok", "--by", "g",
            message="'99999999999999999999999' är inget gransknings-id")
    refused(run, engine, "register", "proposals", "accept", "99999999999999999999999", "--note", "ok", "--by", "g",
            message="ligger utanför det tillåtna")
    refused(run, engine, "register", "history", "--limit", "99999999999999999999", message="ligger utanför det tillåtna")
    refused(run, engine, "control", "show", "99999999999999999999", message="ligger utanför det tillåtna")
    refused(run, engine, "complaint", "update", "99999999999999999999", "--note", "x", "--by", "g",
            message="ligger utanför det tillåtna")
    refused(run, engine, "register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", "inf",
            "--on", "2024-05-01",
            "--by", "g", message="kontrollens värde 'inf' är inget tal")


# --- dates --------------------------------------------------------------------------------------


def test_a_change_dated_in_the_future_is_refused(run, engine, tmp_path):
    load(run, tmp_path)
    for args in [("register", "status", "U-1001", "watch", "--on", "9999-12-31"),
                 ("register", "agreement", "RA-HVB-22-07", "order_stop", "--on", "9999-12-31"),
                 ("register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--on", "9999-12-31"),
                 ("register", "complaint", "U-1001", "--category", "treatment",
                  "--on", "9999-12-31"),
                 ("register", "import", write_json(tmp_path, sample_document(), "again.json"), "--on", "9999-12-31")]:
        refused(run, engine, *args, "--by", "k", message="--on: datumet 9999-12-31 ligger i framtiden")
    doc = sample_document()
    doc["suppliers"][0]["checks"][0]["performed_on"] = "9999-01-01"
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "future.json"), "--by", "k",
            message="fält 'performed_on': performed_on 9999-01-01 ligger i framtiden")
    # the live status and the audit agree: the unit is still published
    assert json.loads(run("register", "show", "U-1001", "--json").stdout)["status"] == "published"


# --- structure ----------------------------------------------------------------------------------


def test_deep_nesting_is_refused_in_import_and_match(run, engine, tmp_path):
    load(run, tmp_path)
    deep = "[" * 100_000
    refused(run, engine, "register", "import", write_text(tmp_path, deep, "deep.json"), "--by", "a",
            message="nästlad mer än 32 nivåer")
    refused(run, engine, "match", write_text(tmp_path, '{"a": ' + deep, "deep-request.json"), "--by", "a",
            message="nästlad mer än 32 nivåer")
    refused(run, engine, "match", write_text(tmp_path, deep + "\n" + deep + "\n", "deep.jsonl"), "--by", "a",
            message="deep.jsonl:2: nästlad mer än 32 nivåer")


def test_duplicate_keys_are_refused(run, engine, tmp_path):
    load(run, tmp_path)
    body = json.dumps(sample_document()).replace('"places": ', '"places": 1, "places": ', 1)
    refused(run, engine, "register", "import", write_text(tmp_path, body, "dup.json"), "--by", "a",
            message="nyckeln 'places' finns två gånger i samma objekt")
    load_register(run, tmp_path, unit("U-1"))
    body = json.dumps(request()).replace('"max_distance_km": 150', '"max_distance_km": 150, "max_distance_km": 5')
    refused(run, engine, "match", write_text(tmp_path, body, "R-1.json"), "--by", "a",
            message="nyckeln 'max_distance_km' finns två gånger")


def test_bad_characters_in_a_name_are_refused_alike_on_both_databases(run, engine, tmp_path):
    load(run, tmp_path)
    for bad, message in [("\\ud800", "ett ensamt surrogattecken (U+D800) är ingen text"), ("\\u0000", "innehåller NUL"),
                         ("\\u001b[2J", "innehåller ett styrtecken (U+001B)")]:
        doc = sample_document()
        doc["suppliers"][0]["units"][0]["name"] = "Ängen XYZ"
        body = json.dumps(doc, ensure_ascii=False).replace("XYZ", bad, 1)
        path = write_text(tmp_path, body, "chars.json")
        refused(run, engine, "register", "import", path, "--by", "a",
                message=f"{path}, suppliers[0].units[0], fält 'name': {message}")


def test_bad_characters_in_csv_and_arguments_are_refused(run, engine, tmp_path):
    load(run, tmp_path)
    text = run("register", "export", "--csv").stdout
    lines = text.splitlines()
    lines[1] = lines[1].replace("Ängen", "Äng\x00en", 1)
    path = write_text(tmp_path, "\n".join(lines) + "\n", "nul.csv")
    refused(run, engine, "register", "import", path, "--by", "a", message=f"{path}:2")
    refused(run, engine, "register", "status", "U-1001", "watch", "--by", "k\x00", message="innehåller NUL")
    refused(run, engine, "register", "status", "U-1001\udcff", "watch", "--by", "k",
            message="ett ensamt surrogattecken (U+DCFF) är ingen text")


def test_too_long_text_is_refused(run, engine, tmp_path):
    load(run, tmp_path)
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["name"] = "Å" * 201
    refused(run, engine, "register", "import", write_json(tmp_path, doc, "long.json"), "--by", "a",
            message="fält 'name': är 201 tecken lång; högst 200")
    refused(run, engine, "register", "status", "U-1001", "watch", "--note", "x" * 2001, "--by", "k",
            message="är 2001 tecken lång; högst 2000")


# --- a unit does not change supplier by accident --------------------------------------------------


def test_a_unit_under_another_org_nr_is_refused_unless_moving_is_asked_for(run, engine, tmp_path):
    load(run, tmp_path)
    doc = sample_document()
    moved = doc["suppliers"][0]["units"].pop(0)
    kommun = next(s for s in doc["suppliers"] if s["org_nr"] == ORG_KOMMUN)
    kommun["units"].append(moved)
    path = write_json(tmp_path, doc, "moved.json")
    refused(run, engine, "register", "import", path, "--by", "a",
            message=f"enheten {moved['unit_id']} hör till leverantören {ORG_ANGEN} i registret, inte {ORG_KOMMUN}; "
                    "importera med --move-units för att flytta den till en annan leverantör")
    ok = run("register", "import", path, "--move-units", "--by", "a")
    assert ok.exit_code == 0, ok.output
    history = json.loads(run("register", "history", moved["unit_id"], "--json").stdout)
    assert [ORG_ANGEN, ORG_KOMMUN] in [h["changes"].get("org_nr") for h in history]


def test_environment_values_are_input_too(run, engine, tmp_path):
    load(run, tmp_path)
    result = CliRunner().invoke(cli, ["register", "show", "U-1001"], catch_exceptions=False,
                                env={"PLACERING_DATABASE_URL": "postgresql://u@[::1/x"})
    assert result.exit_code == 5 and "är ingen databas-URL" in result.stderr
    refused(run, engine, "register", "status", "U-1001", "watch", env={"PLACERING_ACTOR": "k\x1b]0;x\x07"},
            message="--by")
    refused(run, engine, "register", "status", "U-1001", "watch", env={"PLACERING_ACTOR": "P198501011234"},
            message="ser ut som ett personnummer")


def test_json_is_read_as_the_strict_parser_reads_it(monkeypatch):
    """load_json reads most text with orjson: the same document, value and type for value and
    type, and the strict parser's refusal (message, line) whenever orjson's answer could differ:
    duplicate keys (also beside an escaped colon), numbers past 19 digits or 64 bits, deep nesting,
    NaN, lone surrogates, control characters."""
    import placering.boundary as boundary
    from placering.errors import ValidationError

    def said(text):
        try:
            return "doc", repr(boundary.load_json(text, file="f.json"))
        except ValidationError as exc:
            return "refused", str(exc)

    texts = [json.dumps(sample_document(), ensure_ascii=False), '{"a": 1, "b": {"x": 1, "x": 2}}',
             '{"a\\u003a": 1, "a": 2}', '{"a\\u003a": 1, "b": 2}', '{"x": 1, "y": {"x": 2}}',
             '{"k": "a:b", "k": "c"}', "[9999999999999999999, -9999999999999999999]", "[10000000000000000000]",
             "[18446744073709551615]", "[-9223372036854775809]", "[1e17, -1e17, 0.1, 2.5e-300, -0.0]",
             "[1e19]", "[1e400]", "[NaN]", "[-Infinity]", "5", "12345678901234567890", '"\\ud800"',
             '"\\u0000"', '["\\u001b[2J"]', '"tab\\there"', "[" * 32 + "]" * 32, "[" * 33 + "]" * 33,
             '{"a": [' + "{}," * 5 + "{}]}", "[1,]", '{"a": 1', "", "   ", '{"å": "Ängen", "é": "e\\u0301"}',
             "[true, false, null, 0, -1, 1.5]"]
    fast = [said(text) for text in texts]
    monkeypatch.setattr(boundary, "_load_json_fast", lambda text: boundary._UNSURE)  # the strict parser alone
    strict = [said(text) for text in texts]
    assert fast == strict
    assert [kind for kind, _ in strict].count("refused") >= 12  # (the texts reach the refusals)

"""Personal identity numbers are refused in every free-text field, however written (issue 13
item 2), through the CLI, on SQLite and PostgreSQL; the message names the field and nothing
is stored."""

from __future__ import annotations

import json

import pytest
from conftest import snapshot

from test_matching_support import load_register, request, unit, write_request
from test_register_import import sample_document, write_json

# The probe's misses, and the other ways people write one.
WRITTEN_FORMS = [
    "Klienten 850101-1234 Anna Andersson",
    "Klienten 850101 1234",
    "Klienten 850101–1234",  # en dash
    "Klienten 850101—1234",  # em dash
    "Klienten 85.01.01-1234",
    "Klienten 8501011234",
    "Klienten 19850101-1234",
    "Klienten 198501011234",
    "pnr_8501011234",
    "P198501011234",
    "pnr:850101+1234",
    "Klienten 850161-1238",  # samordningsnummer: day of birth + 60
    "Klienten 880320-0016",  # a valid personnummer (Luhn)
]

# What free text may hold without being taken for one.
HARMLESS = "Beslut 2024-05-01 dnr 8.1-12345/2019, org.nr 556677-8899, 12 platser, avtal RA-2023-0042"


@pytest.fixture
def matched(run, tmp_path):
    load_register(run, tmp_path, unit("U-1"), unit("U-2"))
    result = run("match", str(write_request(tmp_path, request("R-1"))), "--by", "handläggare", "--json")
    assert result.exit_code == 0, result.output
    return run


def test_decline_reason_with_an_identity_number_is_refused(matched, engine):
    before = snapshot(engine)
    for text in WRITTEN_FORMS:
        result = matched("request", "decline", "R-1", "U-1", "--reason", text, "--by", "handläggare")
        assert result.exit_code == 2, (text, result.output)
        assert "--reason" in result.stderr and "ser ut som ett personnummer" in result.stderr, text
        assert "Traceback" not in result.output
    assert snapshot(engine) == before
    for shown in (matched("audit", "log", "--json"), matched("request", "show", "R-1", "--json"),
                  matched("register", "history", "--json")):
        assert "1234" not in shown.stdout and "0016" not in shown.stdout


def test_harmless_numbers_in_free_text_are_kept(matched):
    ok = matched("request", "decline", "R-1", "U-1", "--reason", HARMLESS, "--by", "handläggare")
    assert ok.exit_code == 0, ok.output
    assert HARMLESS in matched("request", "show", "R-1", "--json").stdout


def test_every_free_text_option_is_checked(matched, engine):
    text = "pnr_8501011234"
    for args, field in [
        (("request", "choose", "R-1", "U-2", "--reason", text, "--by", "h"), "--reason"),
        (("request", "decline", "R-1", "U-1", "--reason", "ingen plats", "--by", text), "--by"),
        (("register", "status", "U-1", "watch", "--note", text, "--by", "k"), "--note"),
        (("register", "visit", "U-1", "--on", "2024-05-01", "--note", text, "--by", "k"), "--note"),
        (("register", "complaint", "U-1", "--category", "treatment", "--on", "2024-05-01", "--note", text,
          "--by", "k"), "--note"),
        (("complaint", "add", "U-1", "--category", "treatment", "--on", "2024-05-01", "--note", text,
          "--by", "k"), "--note"),
        (("control", "open", "--unit", "U-1", "--reason", text, "--by", "k"), "--reason"),
    ]:
        before = snapshot(engine)
        result = matched(*args)
        assert result.exit_code == 2, (args, result.output)
        assert field in result.stderr and "ser ut som ett personnummer" in result.stderr, (args, result.stderr)
        assert snapshot(engine) == before
    before = snapshot(engine)
    result = matched("register", "status", "U-1", "watch", env={"PLACERING_ACTOR": "P198501011234"})
    assert result.exit_code == 2 and "--by" in result.stderr and "ser ut som ett personnummer" in result.stderr
    assert snapshot(engine) == before


def test_requests_refuse_identity_numbers_in_any_form(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    before = snapshot(engine)
    for text in WRITTEN_FORMS:
        result = run("match", str(write_request(tmp_path, request("R-9", requester=text))), "--by", "h")
        assert result.exit_code == 2, (text, result.output)
        assert "fält 'requester'" in result.stderr and "ser ut som ett personnummer" in result.stderr, text
    assert snapshot(engine) == before


def test_import_refuses_identity_numbers_in_names_and_notes(run, engine, tmp_path):
    doc = sample_document()
    doc["suppliers"][0]["units"][0]["name"] = "HVB Ängen (föreståndare 85.01.01-1234)"
    doc["suppliers"][1]["units"][1]["status_note"] = "Avvecklad, se P198501011234"
    before = snapshot(engine)
    path = write_json(tmp_path, doc, "pnr.json")
    result = run("register", "import", path, "--by", "anna")
    assert result.exit_code == 2, result.output
    assert (f"{path}, suppliers[0].units[0], fält 'name': ser ut som ett personnummer"
            in result.stderr)
    assert f"{path}, suppliers[1].units[1], fält 'status_note'" in result.stderr
    assert snapshot(engine) == before
    assert json.loads(run("register", "export", "--json").stdout)["suppliers"] == []

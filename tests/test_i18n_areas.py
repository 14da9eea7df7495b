"""Messages by id (issue 19, item 1) in the register, matching, casework, access, audit and the
server: a refusal is said from the gettext catalogue in the person's language, Swedish unless
they ask for English (PLACERING_LANG=en on the command line, Accept-Language: en on the API),
codes in words; `str(error)` and the API's `code` stay the same for programs."""

from __future__ import annotations

import json

import pytest

from conftest import snapshot
from server_support import add_people, client, signed_in
from test_matching_support import load_register, unit
from test_register_import import load

ENGLISH = {"PLACERING_LANG": "en"}


@pytest.fixture
def loaded(run, tmp_path):
    load(run, tmp_path)
    return run


def refused(run, engine, *args, env=None) -> str:
    before = snapshot(engine)
    result = run(*args, env=env)
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    assert snapshot(engine) == before
    return result.stderr


def test_register_matching_casework_access_and_audit_refuse_in_swedish(loaded, engine, tmp_path):
    array = tmp_path / "array.json"
    array.write_text("[]", encoding="utf-8")
    cases = [
        # register: a status in words, an agreement by its Swedish noun
        (("register", "status", "U-1001", "published", "--by", "k"), "Fel: enheten U-1001 har redan status publicerad\n"),
        (("register", "agreement", "RA-HVB-22-07", "active", "--by", "ink"),
         "Fel: avtalet RA-HVB-22-07 har redan status aktivt\n"),
        (("register", "entry", "approve", "U-1001", "--note", "ok", "--by", "k"),
         "Fel: enheten U-1001 har status publicerad och väntar inte på inträdeskontroll\n"),
        # matching
        (("review", "approve", "abc", "--note", "ok", "--by", "k"),
         "Fel: 'abc' är inget gransknings-id (ett nummer, se 'placering review list')\n"),
        (("match", str(array), "--by", "k"),
         f"Fel: {array}:1: en förfrågningsfil innehåller ett JSON-objekt, eller en förfrågan per rad (JSON lines); "
         "den här innehåller en JSON-lista\n"),
        # casework
        (("control", "open", "--reason", "tips", "--by", "k"),
         "Fel: ange leverantören (ORG_NR), en enhet (--unit) eller ett förslag (--proposal)\n"),
        # access
        (("admin", "user", "add", "1bad", "--role", "handler"),
         "Fel: användarnamnet '1bad': använd bokstäver, siffror, '.', '_' eller '-' (högst 63), och börja med "
         "en bokstav\n"),
        # audit
        (("audit", "checks-due", "--kind", "horoskop"),
         "Fel: --kind: okänd kontrolltyp 'horoskop' (kända: "),
    ]
    for args, expected in cases:
        stderr = refused(loaded, engine, *args)
        assert stderr.startswith(expected), (args, stderr)


def test_a_refusal_in_english_when_the_locale_asks_for_it(loaded, engine):
    stderr = refused(loaded, engine, "register", "status", "U-1001", "published", "--by", "k", env=ENGLISH)
    assert stderr == "Error: unit U-1001 is already published\n"
    stderr = refused(loaded, engine, "register", "entry", "approve", "U-1001", "--note", "ok", "--by", "k", env=ENGLISH)
    assert stderr == "Error: unit U-1001 is published, not waiting for an entry check (pending_entry)\n"


def test_an_import_names_where_and_what_in_swedish_with_values_in_words(loaded, engine, tmp_path):
    from test_register_import import _unit, sample_document, write_json

    doc = sample_document()
    _unit(doc)["places"] = "fem"
    stderr = refused(loaded, engine, "register", "import", write_json(tmp_path, doc, "bad.json"), "--by", "bo")
    assert "fält 'places': värdet ska vara ett heltal" in stderr, stderr  # pydantic's own errors in words
    doc = sample_document()
    _unit(doc)["routes"][1]["route"] = "iop"
    stderr = refused(loaded, engine, "register", "import", write_json(tmp_path, doc, "bad2.json"), "--by", "bo")
    # codes by their Swedish labels, no Python values
    assert ("regiformen IOP (idéburet offentligt partnerskap) används inte för insatsen HVB barn och unga "
            "(taxonomin tillåter: egen regi, ramavtal, direktupphandling)") in stderr, stderr
    assert "Input should" not in stderr and "field '" not in stderr


def test_an_entry_check_says_what_is_missing_in_words(loaded, engine):
    assert loaded("register", "status", "U-1001", "pending_entry", "--on", "2025-06-01", "--by", "kvalitet",
                  "--note", "Ny prövning").exit_code == 0
    stderr = refused(loaded, engine, "register", "entry", "approve", "U-1001", "--note", "ok", "--on", "2025-06-01",
                     "--by", "k")
    assert stderr.startswith("Fel: enheten U-1001 kan inte föras in i registret 2025-06-01: inträdeskontrollen för "), stderr
    assert "arbetsgivarregistrering (aldrig kontrollerad)" in stderr
    assert "never checked" not in stderr and "employer_registration" not in stderr
    # programs read the shortfall by its code
    rows = json.loads(loaded("register", "entry", "list", "--on", "2025-06-01", "--json").stdout)
    check = next(c for r in rows for c in r["checks"] if c["kind"] == "employer_registration")
    assert (check["why_code"], check["why"]) == ("never_checked", "never checked")


@pytest.fixture
def api(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-1", free=1))
    add_people(db_url, {"anna": (["maintainer"], None), "sven": (["social_worker"], "Mölndal")})
    with client(db_url) as c:
        yield c


def test_api_refusals_keep_their_code_and_speak_the_request_language(api):
    english = {"Accept-Language": "en-GB,en;q=0.9,sv;q=0.5"}
    r = api.get("/api/v1/units/U-1")
    assert (r.status_code, r.json()["code"]) == (401, "not_signed_in")
    assert r.json()["message"] == "inte inloggad: logga in först (eller skicka en API-nyckel)"
    r = api.get("/api/v1/units/U-1", headers=english)
    assert (r.status_code, r.json()["code"]) == (401, "not_signed_in")
    assert r.json()["message"] == "not signed in: sign in first (or send an API token)"

    r = api.post("/api/v1/auth/session", json={"login": "anna", "password": "fel-lösenord"}, headers=english)
    assert (r.status_code, r.json()["message"]) == (401, "wrong user name or password")
    r = api.post("/api/v1/auth/session", json={})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_input")
    assert r.json()["message"] == "ogiltig indata: fält 'login': obligatoriskt fält saknas; fält 'password': obligatoriskt fält saknas; inget skrevs"
    r = api.get("/api/v1/ingenting", headers={"Accept-Language": "sv, en;q=0.8"})
    assert (r.status_code, r.json()["message"]) == (404, "ingen sådan adress i API:et")

    signed_in(api, "sven")
    r = api.post("/api/v1/register/units/U-1/status", json={"status": "watch"})
    assert (r.status_code, r.json()["code"]) == (403, "not_permitted")
    assert r.json()["message"] == "'sven' (socialsekreterare) får inte ändra en enhets status", r.json()
    r = api.post("/api/v1/register/units/U-1/status", json={"status": "watch"}, headers=english)
    assert r.json()["message"] == "'sven' (social worker) may not change a unit's status"

    signed_in(api, "anna")
    r = api.post("/api/v1/register/units/U-1/status", json={"status": "published"})
    assert (r.status_code, r.json()["code"]) == (409, "refused_by_rules")
    assert r.json()["message"] == "enheten U-1 har redan status publicerad"
    r = api.post("/api/v1/register/units/U-1/status", json={"status": "published"}, headers={"Accept-Language": "en"})
    assert r.json()["message"] == "unit U-1 is already published"
    r = api.get("/api/v1/units/U-404")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert r.json()["message"].startswith("ingen enhet med id 'U-404' i registret")

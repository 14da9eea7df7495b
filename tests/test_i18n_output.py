"""The CLI's own sentences and table headers in the person's language (issue 19, item 1): with
PLACERING_LANG=en a command's headers and sentences carry no Swedish words (codes said as
labels in the cells are the labels' business), and Swedish output is as it was."""

from __future__ import annotations

import re

import pytest

from test_matching_support import load_register, request, unit, write_request

ENGLISH = {"PLACERING_LANG": "en", "COLUMNS": "200"}
SWEDISH = {"COLUMNS": "200"}
# Swedish words the converted sentences and headers used to leave in English output
STOP = ("Förfrågan", "beslut", "regler", "bedömd", "Rekommenderade", "Granskning", "krävs", "Nästa steg",
        "Uteslutna", "Skäl", "Enheter", "Vilka", "Rang", "Namn", "Kommun", "Regiform", "Flaggor", "Användare",
        "roller", "lösenord", "Inkommen", "Tackat nej", "Placering", "ingen", "inga", "Visar", "rader", "Tidpunkt")


def ok(result):
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result


def swedish_words(screen: str, keep: tuple[str, ...] = ()) -> list[str]:
    """Stop-list words and å/ä/ö-bearing words in `screen` (but the words in `keep`: labels)."""
    words = [w for w in re.findall(r"[\wåäöÅÄÖ]+", screen) if re.search(r"[åäöÅÄÖ]", w)]
    words += [s for s in STOP if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", screen)]
    return [w for w in words if not any(w in k for k in keep)]


@pytest.fixture
def decided(run, tmp_path):
    load_register(run, tmp_path, unit("U-1"), unit("U-2", free=0), unit("U-3", permit=None))
    return run, write_request(tmp_path, request("R-1"))


def test_match_and_request_show_speak_english_when_asked_and_swedish_as_before(decided):
    run, path = decided
    screen = ok(run("match", str(path), "--by", "k", env=ENGLISH)).stdout
    assert screen.startswith("Request R-1: ")
    assert "Recommended units, in the order of the routes, then " in screen
    assert re.search(r"^\s*Rank\s+Unit\s+Name\s+Municipality\s+Route\b", screen, re.M), screen
    assert re.search(r"^\s*Reason\s+Units\s+Which\b", screen, re.M) and "Next steps:" in screen, screen
    # labels of codes (the insats, exclusion reasons, routes) are the catalogue's labels: not counted here
    # the sentences around labels of codes (the insats, routes): those labels are labels.po's
    assert re.match(r"Request R-1: .* — decision 1 \(rules \w+, evaluated on [\d-]+\)\n", screen), screen
    assert re.search(r"^Priority order: 1\. the person's own network \(", screen, re.M), screen
    labelled = re.compile(r"Request R-1:|Priority order:|\s*\d+\s+U-\d|\S.*\s{2,}\d+\s{2,}U-\d")  # table rows
    sentences = "\n".join(line for line in screen.splitlines() if not labelled.match(line))
    assert "Next steps:" in sentences and "# choose the unit" in sentences and "--reason 'No place'" in sentences
    assert swedish_words(sentences) == [], sentences

    shown = ok(run("request", "show", "R-1", env=ENGLISH)).stdout
    assert shown.startswith("Request R-1 came in ") and re.search(r"^\s*Decisions\s*$", shown, re.M) and "Placement: none yet" in shown
    assert re.search(r"^\s*Decision\s+Evaluated on\s+Rules\s+Recommended\b", shown, re.M), shown
    assert "(none)" in shown  # the declines table's empty note

    sv = ok(run("request", "show", "R-1", env=SWEDISH)).stdout
    assert sv.startswith("Förfrågan R-1 inkom ") and re.search(r"^\s*Beslut\s*$", sv, re.M) and "Placering: ingen ännu\n" in sv
    assert re.search(r"^\s*Beslut\s+Bedömd per\s+Regelversion\s+Rekommenderade\b", sv, re.M), sv
    assert "Tackat nej\n(inga)\n" in sv


def test_admin_sentences_and_table_headers_in_english(run, db_url):
    if not db_url.startswith("sqlite"):
        return  # the embedded register's accounts (test_roles covers PostgreSQL's)
    r = ok(run("admin", "user", "add", "anna", "--role", "handler", "--password-stdin", input="hemligt-lösen-1\n",
               env=ENGLISH))
    assert r.stdout == "User anna: roles Handler; local password set.\n"  # the English label, as Swedish says Handläggare
    listed = ok(run("admin", "user", "list", env=ENGLISH)).stdout
    assert re.search(r"User\s+Roles\s+Municipality\s+Can log in\s+Local password\s+Added by\s+Added at", listed)
    assert swedish_words(listed, keep=("Handläggare",)) == [], listed
    r = ok(run("admin", "user", "remove", "anna", env=ENGLISH))
    assert r.stdout == "User anna removed (roles taken away: Handler).\n"
    sv = ok(run("admin", "user", "add", "bo", "--role", "handler", env=SWEDISH)).stdout
    assert sv == "Användare bo: roller Handläggare.\n"
    assert re.search(r"Användare\s+Roller\s+Kommun\s+Kan logga in\s+Lokalt lösenord",
                     ok(run("admin", "user", "list", env=SWEDISH)).stdout)



def test_a_unit_shown_in_english_and_in_swedish_as_before(decided):
    run, _ = decided
    en = ok(run("register", "show", "U-1", env=ENGLISH)).stdout
    assert en.startswith("Unit U-1: Enhet U-1\n  Supplier:      ") and "\n  Places:        " in en, en
    assert re.search(r"^  Ages:\s+\d+–\d+ years; gender: ", en, re.M) and " free of " in en, en
    sv = ok(run("register", "show", "U-1", env=SWEDISH)).stdout
    assert sv.startswith("Enhet U-1: Enhet U-1\n  Leverantör:    ") and "\n  Platser:       " in sv, sv
    assert re.search(r"^  Åldrar:\s+\d+–\d+ år; kön: ", sv, re.M) and " lediga av " in sv, sv

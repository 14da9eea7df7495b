"""Swedish for people (issue 11, item 2; issue 19): what a person reads when a command refuses,
and the sentences write commands print. The library raises messages by id; the CLI says them
from the gettext catalogue (str() of one is its English, for programs and logs). These are the
messages people meet most, written out in the Swedish they read."""

from __future__ import annotations

import json
import re

import pytest

from conftest import snapshot
from placering.cli.messages import swedish
from placering.labels import label
from test_register_import import ORG_ANGEN, load


@pytest.fixture
def loaded(run, tmp_path):
    load(run, tmp_path)
    return run


def refused(run, *args) -> str:
    result = run(*args)
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    return result.stderr


def test_refusals_are_swedish(loaded, engine):
    before = snapshot(engine)
    cases = [
        (("register", "show", "U-9999"),
         "Fel: 'U-9999' är varken ett organisationsnummer, ett enhets-id eller ett avtals-id i registret\n"),
        (("register", "status", "U-9999", "watch", "--by", "k"),
         "Fel: ingen enhet med id 'U-9999' i registret (sök med 'placering register search')\n"),
        (("register", "status", "U-1001", "published", "--by", "k"), "Fel: enheten U-1001 har redan status publicerad\n"),
        (("register", "status", "U-1001", "paused", "--by", "k"),
         "Fel: okänd enhetsstatus 'paused' (kända: inträdeskontroll pågår, publicerad, bevakning, avpublicerad, "
         "rekommendationsstopp eller borttagen)\n"),
        (("register", "status", "U-1001", "watch", "--on", "2999-01-01", "--by", "k"),
         "Fel: --on: datumet 2999-01-01 ligger i framtiden"),
        (("register", "status", "U-1001", "watch", "--on", "1 maj", "--by", "k"),
         "Fel: --on: '1 maj' är inte ett datum (ÅÅÅÅ-MM-DD)\n"),
        (("register", "status", "U-1001", "watch"),
         "Fel: varje ändring ska säga vem som gör den: ange --by NAMN eller sätt PLACERING_ACTOR\n"),
        (("register", "agreement", "RA-NOPE", "order_stop", "--by", "ink"), "Fel: inget avtal 'RA-NOPE' i registret\n"),
        (("request", "show", "R-NOPE"), "Fel: ingen placeringsförfrågan 'R-NOPE'\n"),
        (("register", "check", ORG_ANGEN, "credit_rating", "--on", "2024-01-01", "--by", "k"),
         "Fel: flagga saknas: '--result'.\n"),
    ]
    for args, expected in cases:
        said = refused(loaded, *args).split("\n\n")[-1]  # after click's usage line, for its own errors
        assert said.startswith(expected) if not expected.endswith("\n") else said == expected, (args, said)
    assert snapshot(engine) == before


def test_a_missing_option_is_said_in_swedish_with_the_usage_line(loaded):
    said = refused(loaded, "register", "status", "U-1001")
    assert "Fel: argument saknas: 'STATUS'." in said and "för hjälp" in said and "Error" not in said


def test_write_commands_confirm_in_swedish_with_labels(loaded):
    status = loaded("register", "status", "U-1001", "watch", "--note", "Kreditbetyg 35", "--on", "2025-01-15",
                    "--by", "kvalitet").stdout
    assert status == "Enhet U-1001: Publicerad → Bevakning från 2025-01-15 (av kvalitet).\n"
    check = loaded("register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", "61",
                   "--on", "2025-01-16", "--by", "kvalitet").stdout
    assert check.startswith(f"Kontroll registrerad för {ORG_ANGEN}: Kreditupplysning godkänd 2025-01-16 (av kvalitet).")
    agreement = loaded("register", "agreement", "RA-HVB-22-07", "order_stop", "--supplier", ORG_ANGEN,
                       "--on", "2025-01-17", "--note", "INK", "--by", "ink").stdout
    assert agreement == (f"Avtal RA-HVB-22-07 för leverantören {ORG_ANGEN}: Aktivt → Beställningsstopp från "
                         "2025-01-17 (av ink).\n")
    # --json keeps the codes and the English keys.
    doc = json.loads(loaded("register", "status", "U-1001", "published", "--on", "2025-02-01", "--by", "kvalitet",
                            "--json").stdout)
    assert doc["changes"] == {"status": ["watch", "published"]} and doc["action"] == "status"


def test_history_reads_as_swedish_and_csv_keeps_codes(loaded):
    loaded("register", "status", "U-1001", "watch", "--note", "Kreditbetyg 35", "--on", "2025-01-15", "--by", "k")
    table = loaded("register", "history", "U-1001", env={"COLUMNS": "200"}).stdout
    assert "status: Publicerad → Bevakning" in table and "published" not in table
    csv_text = loaded("register", "history", "U-1001", "--csv").stdout
    assert "status: published → watch" in csv_text


def test_text_without_an_id_passes_unchanged_and_messages_are_said_from_the_catalogue():
    """Nothing is translated by matching English: a text without an id (a person's note) is shown
    as it is; a Message is said from the gettext catalogue, labels lower-case inside a sentence."""
    from placering.i18n import Label, msg

    assert swedish("unit U-1 is already removed") == "unit U-1 is already removed"
    assert swedish(msg("import.why.created")) == "ny i registret"
    assert str(msg("import.why.created")) == "created"
    said = swedish(msg("rules.record.rule", id="ELIG-X"))
    assert said == "regel ELIG-X"
    assert label("removed", "unit_status").lower() in swedish(msg("value.not_finite", value=Label("removed", "unit_status")))


def test_the_english_text_catalogue_is_gone():
    from placering.paths import registry_dir

    assert not (registry_dir() / "messages.yaml").exists()

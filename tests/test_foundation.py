"""The foundation: schema creation and upgrade, append-only history, text and org. numbers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from placering.storage import transaction
from placering.storage.database import current_revision, head_revision, upgrade
from placering.storage.history import record
from placering.text import canonical_org_nr, fold, luhn_check_digit, nfc, sv_sort_key


def test_init_creates_and_is_idempotent(run, engine):
    result = run("init", "--json")
    assert result.exit_code == 0, result.output
    assert current_revision(engine) == head_revision()
    again = run("init")
    assert again.exit_code == 0
    assert "redan aktuell" in again.output


def test_history_is_append_only(engine):
    with transaction(engine) as s:
        record(s, actor="anna", entity_kind="unit", entity_id="U-1", action="status",
               effective_on=date(2024, 1, 1), changes={"status": ["published", "watch"]})
    for sql in ("UPDATE history SET actor = 'mallory'", "DELETE FROM history"):
        with pytest.raises(SQLAlchemyError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM history")).scalars().all() == ["anna"]


def test_commands_refuse_a_database_without_schema(tmp_path):
    from click.testing import CliRunner

    from placering.cli import cli

    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path/'empty.db'}", "register", "export", "--json"])
    assert result.exit_code != 0
    assert "kör 'placering init' först" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("raw", ["556677-8899", "5566778899", " 556677-8899 "])
def test_org_nr_forms_are_canonical(raw):
    assert canonical_org_nr(raw) == "556677-8899"


@pytest.mark.parametrize(
    "raw, message",
    [("556677-8898", "check digit"), ("55667-78899", "not an organisation number"), ("abc", "not an organisation number")],
)
def test_bad_org_nr_is_rejected_with_reason(raw, message):
    with pytest.raises(ValueError, match=message):
        canonical_org_nr(raw)


def test_nfc_and_plain_letters_are_the_definitions_they_speed_up():
    """text.nfc (str.split instead of a regular expression) and text.plain_letters (a regular
    expression for Latin letters' marks) give what their definitions give, for every character up to U+3100
    alone and between words, and for names with marks, white space and ligatures."""
    import re
    import unicodedata

    from placering.text import plain_letters

    def nfc_defined(t: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFC", t)).strip()

    def plain_defined(t: str) -> str:
        decomposed = unicodedata.normalize("NFD", nfc_defined(t).casefold())
        return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))

    samples = [chr(c) for c in range(0x3100)] + [f"a{chr(c)} b" for c in range(0x3100)] + [
        "  Boende \t Ängen\n", "Malmo\u0308", "e\u0301\u034f", "ﬁ ß İstanbul Ǆ", "\u00a0x\u2003y\x1c\x1f", "", " ",
        "Åre Öckerö Ängelholm", "Ǻ ǻ Ṩ", "Ωμέγα Κώστας", "日本 語"]
    for t in samples:
        assert nfc(t) == nfc_defined(t), repr(t)
        assert plain_letters(t) == plain_defined(t), repr(t)


def test_luhn_digit_completes_any_prefix():
    for prefix in ("556677889", "802000000", "212000142"):
        assert canonical_org_nr(prefix + luhn_check_digit(prefix)).replace("-", "") == prefix + luhn_check_digit(prefix)


def test_swedish_text_is_nfc_and_casefolded():
    nfd = "Malmo\u0308"  # o + combining diaeresis
    assert nfc(nfd) == "Malmö"
    assert fold("ÅRE ÄNGEN ÖCKERÖ") == fold("åre ängen öckerö")
    assert fold("Ängen") != fold("Angen")
    names = sorted(["Örebro", "Åre", "Ale", "Ängelholm", "Zinkgruvan"], key=sv_sort_key)
    assert names == ["Ale", "Zinkgruvan", "Åre", "Ängelholm", "Örebro"]

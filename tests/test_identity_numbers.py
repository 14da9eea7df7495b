"""Identity numbers in disguise (issue 21 item 1): a table of written forms, each refused in free
text through the CLI, and a table of ordinary texts the sources write (diary, phone, invoice
numbers, periods), each accepted; on SQLite and PostgreSQL. `--agreed-by` is checked too."""

from __future__ import annotations

import json

import pytest
from conftest import snapshot

from placering.boundary import contains_personnummer
from test_casework import _approve, _direct_placement, ok
from test_matching_support import load_register, unit

ZW, ZWJ, ZWNJ, SHY, BOM, WJ = "\u200b", "\u200d", "\u200c", "\u00ad", "\ufeff", "\u2060"


def _in(text: str, zero: int) -> str:
    """`text` with its ASCII digits written in another script's digits (zero = that script's 0)."""
    return "".join(chr(zero + int(ch)) if ch.isdigit() else ch for ch in text)


# 900101-2385 and 880320-0016 are valid personnummer (check digit and all); 900161-2382 a
# samordningsnummer. Every form below spells one of them.
DISGUISED = [
    # plain forms
    "900101-2385", "9001012385", "199001012385", "19900101-2385", "900101+2385", "880320-0016", "19880320-0016",
    "880320–0016", "880320 0016", "900161-2382",
    # invisible format characters between the digits
    f"900101{ZW}-2385", ZW.join("9001012385"), f"900101{ZWJ}2385", f"900101{SHY}2385", f"{BOM}9001012385",
    f"9001{WJ}012385", f"900101{ZWNJ}2385", "900101\u20622385", "900101\u2063-2385\u2064",
    # other scripts' digits, full-width, mathematical, superscript, subscript, circled
    _in("900101-2385", 0x660), _in("900101-2385", 0x6F0), _in("900101-2385", 0x966), _in("900101-2385", 0x9E6),
    _in("900101-2385", 0xFF10), _in("9001012385", 0x1D7CE), "⁹⁰⁰¹⁰¹⁻²³⁸⁵", "₉₀₀₁₀₁₂₃₈₅", "➒⓪⓪①⓪①②③⑧⑤",
    # look-alike letters in the run of digits
    "9OO1O1-2385", "9oo1o1-2385", "9ОО1О1-2385", "900l0l-2385", "900I0I-2385", "9001O1-238S", "199OO1O1-2385",
    # combining marks
    "9\u03010\u03010101-2385", "9̲0̲0̲1̲0̲1̲-̲2̲3̲8̲5̲",
    # separators
    "900101_2385", "900101,2385", "(900101)2385", "(900101) 2385", "[900101]2385", "900101 - 2385",
    "900101 — 2385", "90 01 01-23 85", "90.01.01-2385", "90/01/01-2385", "1990-01-01-2385", "1990 01 01 2385",
    "900101:2385", "900101−2385", "900101－2385", "'900101'-'2385'",
    # prefixes and surrounding text
    "pnr900101-2385", "P19900101-2385", "pnr_9001012385", "personnr: 900101-2385", "Klient 900101-2385, Göteborg",
    "Klienten (f. 900101-2385)", "ID:900101_2385.", "8803200016x", "x198803200016",
    # a valid number after a word that names another kind of number is still a person's number
    "Faktura till 900101-2385", "tel 900101-2385 ej", "kundnr 900101-2385", "tel 19900101-2385",
]

# What the sources write that only looks like an identity number.
INNOCENT = [
    "dnr 8.1-10708/2024", "IVO dnr 8.1-10708/2024", "beslut 3.5.1-12345/2019", "031-123 45 67", "070-123 45 67",
    "tel 0701234567", "ring 08-123 456 78", "(031) 123 45 67", "+46 70 123 45 67", "0046 31 123 45 67",
    "mobil 070 123 45 67", "tel 070-123 45 67 (växel)", "2024-01-01–2024-12-31", "period 2024-01-01 - 2024-12-31",
    "2024-01-01 till 2024-12-31", "faktura 20240101-0001", "fakturanr 20240101-0001", "ordernr 20231105-0017",
    "OCR 2024010100012", "referens 19900101-0001", "org.nr 556677-8899", "avtal RA-2023-0042",
    "12 platser från 2024-05-01", "Box 123, 412 96 Göteborg", "Kungsgatan 12B", "HVB Ängen 2",
    "kreditbetyg 72 av 100", "pris 4 250 kr per dygn", "20 st platser, 10 lediga", "U-1001 och U-1002",
    "beslut 2024-05-01 kl 10:30", "version 1.2.3", "Öppet 08-17", "S:t Eriksgatan 117", "Åldersgrupp 13-17 år",
    "Enhet för 6–12 år", "skapad 2024-01-01T00:22:38.000182+00:00",
]


def test_the_tables_are_as_large_as_the_issue_asks():
    assert len(DISGUISED) >= 60 and len(set(DISGUISED)) == len(DISGUISED)
    assert len(INNOCENT) >= 30 and len(set(INNOCENT)) == len(INNOCENT)


@pytest.fixture
def registered(run, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    return run


def test_every_disguised_form_is_refused_and_nothing_stored(registered, engine):
    before = snapshot(engine)
    passed = []
    for text in DISGUISED:
        result = registered("register", "visit", "U-1", "--on", "2024-05-01", "--note", f"Besök {text}", "--by", "k")
        if result.exit_code != 2 or "--note" not in result.stderr or "ser ut som ett personnummer" not in result.stderr:
            passed.append((text, result.exit_code, result.output))
        assert "Traceback" not in result.output
    assert passed == []
    assert snapshot(engine) == before
    print(f"\nidentity numbers: {len(DISGUISED)} disguised forms refused")


def test_every_innocent_text_is_accepted_and_kept(registered):
    refused = []
    for text in INNOCENT:
        result = registered("register", "visit", "U-1", "--on", "2024-05-01", "--note", text, "--by", "k")
        if result.exit_code != 0:
            refused.append((text, result.output))
    assert refused == []
    history = registered("register", "history", "U-1", "--json").stdout
    notes = {h["note"] for h in json.loads(history)}
    assert set(INNOCENT) <= notes
    print(f"\nidentity numbers: {len(INNOCENT)} innocent texts accepted")


def test_the_check_itself_agrees_with_the_tables():
    assert [t for t in DISGUISED if not contains_personnummer(t)] == []
    assert [t for t in INNOCENT if contains_personnummer(t)] == []


def test_agreed_by_is_checked_and_never_printed_back(run, engine, tmp_path):
    _, d0 = _direct_placement(run, tmp_path)
    _approve(run, d0)
    for who in ("199001012385", f"Spink 900101{ZW}-2385"):
        before = snapshot(engine)
        result = run("placement", "decision", "R-0", "--from", "2024-09-02", "--price", "4400", "--agreed-by", who,
                     "--by", "anna")
        assert result.exit_code == 2, result.output
        assert "--agreed-by" in result.stderr and "ser ut som ett personnummer" in result.stderr, result.stderr
        assert "2385" not in result.output
        assert snapshot(engine) == before
    ok(run, "placement", "decision", "R-0", "--from", "2024-09-02", "--price", "4400", "--agreed-by",
       "Spink placeringsstöd", "--by", "anna")


def test_a_requester_in_disguise_is_refused_in_a_request(run, engine, tmp_path):
    from test_matching_support import request, write_request

    load_register(run, tmp_path, unit("U-1"))
    before = snapshot(engine)
    for text in ("Soc 9OO1O1-2385", f"IFO 900101{SHY}2385", _in("Soc 900101-2385", 0x660)):
        result = run("match", str(write_request(tmp_path, request("R-9", requester=text))), "--by", "h")
        assert result.exit_code == 2 and "ser ut som ett personnummer" in result.stderr, (text, result.output)
    assert snapshot(engine) == before


def test_a_note_on_a_rules_proposal_is_checked_too(run, engine, tmp_path):
    """A proposal's decision is recorded with the proposal's rule, but its note is the maintainer's."""
    doc = load_register(run, tmp_path, unit("U-1"))
    org = doc["suppliers"][0]["org_nr"]
    ok(run, "register", "check", org, "tax_registration", "--result", "fail", "--on", "2024-06-01", "--by", "spink")
    before = snapshot(engine)
    result = run("register", "proposals", "accept", "1", "--note", "Kontroll av 9OO1O1-2385", "--by", "kvalitet")
    assert result.exit_code == 2 and "--note" in result.stderr and "ser ut som ett personnummer" in result.stderr
    assert snapshot(engine) == before
    ok(run, "register", "proposals", "accept", "1", "--note", "Fördjupad kontroll inledd", "--by", "kvalitet")


def test_texts_with_fewer_than_ten_digit_like_characters_are_answered_as_the_whole_scan_does():
    """The short cut of contains_personnummer (an ASCII text with fewer than ten digits and
    look-alike letters holds no number: a register's unit and agreement ids) gives the answer
    of the whole scan, for texts of digits, look-alike letters, joiners and other letters."""
    import random

    from placering.boundary import _contains_personnummer

    rng = random.Random(22)
    alphabet = "0123456789" * 3 + "OolIiSsZzEAGbTBgqDQ|!" + " -./:+_()" + "xkRUCHnm"
    seen_true = 0
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 16)))
        whole = _contains_personnummer(text)
        assert contains_personnummer(text) == whole, text
        seen_true += whole
    for text in ("9OO1O1-2385", "900101-2385", "U-10234", "RA-SOC-24-0117", "8.1-10708/2024"):
        assert contains_personnummer(text) == _contains_personnummer(text), text
    assert seen_true > 0  # the texts reach numbers the whole scan refuses

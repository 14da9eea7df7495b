"""Labels, numbers and sentences in English when the locale asks for it (issue 19, item 1): every
code with a Swedish label (locale/sv/LC_MESSAGES/labels.po, taxonomy.yaml) has an English one
(locale/en/LC_MESSAGES/labels.po); with PLACERING_LANG=en the register, match, request, review
and replay commands show English labels, English numbers and English sentences, and Swedish
output keeps its Swedish labels, numbers and sentences. English labels are taken as input too.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from test_matching_support import load_register, request, supplier_of, unit, write_request

ENGLISH = {"PLACERING_LANG": "en", "COLUMNS": "240"}
SWEDISH = {"PLACERING_LANG": "sv", "COLUMNS": "240"}
# Swedish words (labels, titles, sentences) that English output used to show; å, ä and ö count too.
STOP = ("Enhet", "Enheter", "Avtal", "Publicerad", "Bevakning", "Godkänd", "Underkänd", "Aktivt", "Egen regi",
        "Ramavtal", "Direktupphandling", "Regiformer", "Synpunkter", "Kontroller", "Skillnader", "Per regel",
        "Granskning", "Förfrågan", "Inga", "inga", "Ingen", "ingen", "av", "och", "sedan", "dygnspris", "behov",
        "kvinna", "flicka", "pojke", "Missbruk", "Akut", "akut", "Bedömd", "Rang", "Skäl", "Vilka", "Orsak",
        "Beslut", "Anteckning", "ja", "nej", "kr")
ROOT = Path(__file__).resolve().parent.parent


def ok(result):
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return result


def swedish_words(screen: str, names: tuple[str, ...]) -> list[str]:
    """Swedish words in `screen` once the register's own names (of units, suppliers, actors,
    municipalities) are taken out: they are names in every language."""
    for name in sorted(names, key=len, reverse=True):
        screen = screen.replace(name, "·")
    words = [w for w in re.findall(r"[\wåäöÅÄÖ]+", screen) if re.search(r"[åäöÅÄÖ]", w)]
    words += [s for s in STOP if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", screen)]
    return words


def swedish_labels(screen: str) -> list[str]:
    """The Swedish labels of codes (locale/sv/LC_MESSAGES/labels.po, taxonomy.yaml) in `screen`, but those
    that are English words too (Region, Spink, IVO) and municipalities' names."""
    from placering.labels import catalogue, english

    found = set()
    for kind, section in catalogue().items():
        if kind in ("headers", "message_fields", "municipality"):
            continue
        for code, said in section.items():
            if len(said) > 3 and said != english(kind, code) and re.search(rf"(?<![\w-]){re.escape(said)}(?![\w-])", screen):
                found.add(said)
    return sorted(found)


def test_every_code_with_a_swedish_label_has_an_english_one():
    """The mirror of tests/test_output.py's check that every code has a Swedish label: a code
    labelled in Swedish but not in English would show Swedish in English output."""
    from placering.labels import catalogue, english, has_english_label

    skip = ("headers", "message_fields", "municipality")  # headers: placering.po; names are names
    cat = catalogue()
    missing = [f"{kind}: {code}" for kind, section in cat.items() if kind not in skip
               for code in section if not has_english_label(code, kind)]
    assert missing == []
    assert len([1 for kind, section in cat.items() if kind not in skip for _ in section]) > 400
    swedish_letters = [f"{kind}: {code} = {english(kind, code)!r}" for kind, section in cat.items()
                       if kind not in skip for code in section if re.search(r"[åäöÅÄÖ]", english(kind, code))]
    assert swedish_letters == []
    # and no English label for a code that has no Swedish one (a stale or misspelt entry)
    from placering.labels import _english_labels

    stale = [f"{kind}: {code}" for kind, code in _english_labels() if code not in cat.get(kind, {})]
    assert stale == []


def test_a_label_is_said_in_the_language_asked_for():
    from placering.i18n import Label, Number, text_in
    from placering.labels import code_for, label

    assert label("active", "agreement_status", "sv") == "Aktivt" and label("active", "permit_status", "sv") == "Gällande"
    assert label("active", "agreement_status", "en") == "Active" and label("active", "permit_status", "en") == "Valid"
    assert label("hvb_barn_unga", lang="en").startswith("HVB for children")  # without a kind: the first section
    assert label("Göteborg", "municipality", "en") == label("Göteborg", "municipality", "sv")  # a name stays
    assert Label("recommendation_stop", "unit_status").render("en") == "recommendation stop"
    assert Label("recommendation_stop", "unit_status").render("sv") == "rekommendationsstopp"
    assert text_in("en", "cli.unknown_code", what="x", value="y", known=[Label("pass", "check_result")]).endswith(
        "(known: passed)")
    assert Number(1234567.5).render("sv") == "1\u00a0234\u00a0567,5" and Number(1234567.5).render("en") == "1,234,567.5"
    from placering.display import parse_decimal

    assert parse_decimal("1,234.5") == parse_decimal("1 234,5") == parse_decimal("1234.5") == 1234.5  # as either says it
    # what a person reads is what a person may type: the code, the Swedish or the English label
    assert {code_for(t, "check_result") for t in ("fail", "Underkänd", "underkand", "Failed", "FAILED")} == {"fail"}
    assert code_for("In-house", "route") == "egen_regi" and code_for("Egen regi", "route") == "egen_regi"


def test_register_match_review_and_replay_speak_english_and_swedish_as_before(run, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1", "egen_regi", price=None), unit("U-2", loc=(57.7123, 11.9745)),
                        unit("U-3", "direktupphandling", price=4500, insats="korttidsboende", age=(0, 99)))
    org2 = supplier_of(doc, "U-2")
    names = ("Enhet U-1", "Enhet U-2", "Enhet U-3", "Leverantör U-2", "Leverantör U-3", "Göteborgs Stad (U-1)",
             "Göteborg", "registervård")
    screens: dict[str, str] = {}

    def en(*args: str) -> str:
        screens[" ".join(args)] = out = ok(run(*args, env=ENGLISH)).stdout
        return out

    # the register: a unit, a supplier, an agreement; searches, history and worklists
    shown = en("register", "show", "U-2")
    assert re.search(r"^Routes\s*$", shown, re.M) and re.search(r"^IVO permits\s*$", shown, re.M), shown
    assert re.search(r"^Supplier checks\s*$", shown, re.M) and re.search(r"^Proposals of the register rules\s*$",
                                                                         shown, re.M), shown
    assert "Framework agreement" in shown and "Published" in shown and "(57.7123, 11.9745)" in shown, shown
    assert "Substance abuse, Criminality, Mental ill-health" in shown and "woman/girl, man/boy" in shown
    en("register", "show", org2)
    en("register", "show", "RA-U-2")
    assert "No supplier or unit matches 'zzz'." in en("register", "search", "zzz")
    en("register", "search", "Enhet")
    en("register", "history", "U-2")
    assert "No changes match." in en("register", "history", "--actor", "nobody")
    assert "No proposals." in en("register", "proposals")
    assert "No unit is waiting for an entry check." in en("register", "entry", "list")
    # the register's writes confirm in English; an English label is taken where a code is
    assert en("register", "status", "U-2", "watch", "--note", "x", "--by", "k").startswith(
        "Unit U-2: Published → Watch from ")
    checked = en("register", "check", org2, "Credit rating", "--result", "Failed", "--value", "12.5",
                 "--on", "2024-06-01", "--by", "k")
    assert checked.startswith(f"Check recorded for {org2}: Credit rating failed 2024-06-01 (by k)."), checked
    assert en("register", "visit", "U-2", "--on", "2024-06-02", "--by", "k") == \
        "Visit to unit U-2 on 2024-06-02 recorded (by k).\n"
    # match and request show: a framework unit, and a direct procurement that needs a review
    en("match", str(write_request(tmp_path, request("R-1"))), "--by", "k")
    shown = en("request", "show", "R-1")
    assert "HVB for children and young people (residential care) / Urgent, start 2024-09-02, urgent, SoL; " \
           "person: 15 years, woman/girl, needs Substance abuse" in shown, shown
    decided = en("match", str(write_request(tmp_path, request("R-2", "korttidsboende", "fysisk", age=30))), "--by", "k")
    assert "Review required: yes" in decided and "Direct procurement (no framework unit could take the person): " \
        in decided, decided
    review = json.loads(ok(run("review", "list", "--json")).stdout)[0]["id"]
    listed = en("review", "list")
    assert "No framework unit could take the person" in listed or "No framework agreement for the service" in listed
    shown = en("review", "show", str(review))
    assert "daily price 4,500\u00a0SEK, reference price " in shown and "Latest checks" in shown, shown
    assert re.search(r"Direct purchases from the supplier \d{4}: 0 placements, 0\u00a0SEK", shown), shown
    assert en("review", "approve", str(review), "--note", "ok", "--by", "granskare").startswith(
        f"Review {review}: Approved by granskare: ok\n")
    # audit paused: its statuses and reasons (its sentences are cli/audit.py's)
    paused = ok(run("audit", "paused", env=ENGLISH)).stdout
    cells = re.sub(r"(?m)^\S.* per \d{4}-\d\d-\d\d \(\d+\)\s*$", "", paused).replace("Enhet U-2", "·")  # titles, a name
    assert "U-2" in paused and "Unpublished" in paused and swedish_labels(cells) == [], swedish_labels(cells)
    assert "Avpublicerad" in ok(run("audit", "paused", env=SWEDISH)).stdout
    # replay: titles, empty notes
    rules = tmp_path / "candidate"
    shutil.copytree(ROOT / "rules", rules)
    replayed = en("request", "replay", "--rules", str(rules))
    assert "Per rule\nNo changes.\n" in replayed and "Differences\nThe rule change changes no decision.\n" in replayed
    for args, screen in screens.items():
        # a rule's message and its sources are the rule file's words (rules/*.yaml), not the program's
        screen = re.sub(r"(?s)(Why direct procurement: [^—]*— ).*?\]\n", r"\1·\n", screen)
        screen = re.sub(r"(?m)^(  rule [A-Z0-9-]+: .*?→ \w+\.) .*$", r"\1 ·", screen)
        screen = re.sub(r"(?s)(\n  [^\n(]*\([^)]*\): ).*?\]\n", r"\1·\n", screen)  # a flag's rule message
        for name in names:
            screen = screen.replace(name, "·")
        assert swedish_words(screen, names) == [] and swedish_labels(screen) == [], (args, screen)

    # Swedish as before: Swedish titles, labels, numbers and sentences
    sv = ok(run("register", "show", "U-2", env=SWEDISH)).stdout
    assert re.search(r"^IVO-tillstånd\s*$", sv, re.M) and re.search(r"^Leverantörskontroller\s*$", sv, re.M), sv
    assert "Ramavtal" in sv and "Avpublicerad" in sv and "(57,7123, 11,9745)" in sv and "Kreditupplysning" in sv, sv
    assert ok(run("register", "visit", "U-2", "--on", "2024-06-03", "--by", "k", env=SWEDISH)).stdout == \
        "Besök hos enhet U-2 2024-06-03 registrerat (av k).\n"
    assert "Ingen leverantör eller enhet matchar 'zzz'." in ok(run("register", "search", "zzz", env=SWEDISH)).stdout
    listed = ok(run("review", "list", env=SWEDISH)).stdout  # why direct in words, never no_eligible_framework_unit
    assert "Ingen ramavtalsenhet kunde ta emot personen" in listed and "no_eligible" not in listed, listed
    shown = ok(run("review", "show", str(review), env=SWEDISH)).stdout
    assert "dygnspris 4\u00a0500\u00a0kr, referenspris " in shown and "Senaste kontroller" in shown, shown
    assert re.search(r"Direktköp från leverantören \d{4}: 0 placeringar, 0\u00a0kr", shown), shown
    assert "Per regel\nInga ändringar.\n" in ok(run("request", "replay", "--rules", str(rules), env=SWEDISH)).stdout

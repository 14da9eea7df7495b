"""One message catalogue with codes (issue 19, item 1): every message id the library raises is in
both gettext catalogues with the same placeholders, and refusals from the rules, the files, the
CLI and the register's boundary read in Swedish (English when the locale asks), on SQLite and
PostgreSQL. str() of an error stays English for logs and programs."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import placering
from placering.i18n import catalogue_ids, msg, text_in

SRC = Path(placering.__file__).resolve().parent
PO = {lang: SRC / "locale" / lang / "LC_MESSAGES" / "placering.po" for lang in ("sv", "en")}


def _ids_in_source() -> dict[str, set[str]]:
    """msg("id", name=…)/text("id", …) calls with a literal id: id → the keyword names given."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    in ("msg", "text", "said", "say", "text_in") and node.args):
                first = node.args[1] if getattr(node.func, "id", "") == "text_in" and len(node.args) > 1 else node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)+", first.value):
                    found.setdefault(first.value, set()).update(k.arg for k in node.keywords if k.arg)
    return found


def _placeholders(lang: str) -> dict[str, set[str]]:
    from babel.messages.pofile import read_po

    with PO[lang].open("rb") as fh:
        catalog = read_po(fh)
    out: dict[str, set[str]] = {}
    for m in catalog:
        if not m.id:
            continue
        key = m.id if isinstance(m.id, str) else m.id[0]
        texts = m.string if isinstance(m.string, (list, tuple)) else [m.string]
        out[key] = {f for t in texts for _, f, _, _ in string.Formatter().parse(t) if f}
    return out


def test_every_message_id_in_the_library_is_in_both_catalogues_with_the_same_placeholders():
    used = _ids_in_source()
    assert len(used) > 150, len(used)  # the conversion is real: the rules, files, CLI and boundary
    sv, en = _placeholders("sv"), _placeholders("en")
    missing = {lang: sorted(set(used) - set(cat)) for lang, cat in (("sv", sv), ("en", en))}
    assert missing == {"sv": [], "en": []}
    for mid in used:
        assert sv[mid] == en[mid], (mid, sv[mid], en[mid])
        # every placeholder the catalogue says is given where the message is raised (n for plurals)
        assert sv[mid] <= used[mid] | {"n"} or not used[mid], (mid, sv[mid], used[mid])
    assert catalogue_ids("sv") == catalogue_ids("en")


def test_messages_render_in_both_languages_with_plurals_labels_and_words():
    from placering.errors import Problem, ValidationError
    from placering.i18n import Label

    assert text_in("sv", "cli.export.protected_hidden", n=1).startswith("koordinaterna för 1 enhet ")
    assert text_in("sv", "cli.export.protected_hidden", n=3).startswith("koordinaterna för 3 enheter ")
    said = text_in("sv", "cli.unknown_code", what=msg("unknown.unit_status"), value="x",
                   known=[Label("published", "unit_status"), Label("watch", "unit_status")])
    assert said == "okänd enhetsstatus 'x' (kända: publicerad eller bevakning)"
    assert "published or watch" in text_in("en", "cli.unknown_code", what=msg("unknown.unit_status"), value="x",
                                           known=[Label("published", "unit_status"), Label("watch", "unit_status")])
    exc = ValidationError([Problem(msg("rules.missing_when"), "r.yaml", 4, msg("rules.record.rule", id="ELIG-X"), "when")])
    assert str(exc) == "r.yaml:4, rule ELIG-X, field 'when': missing when (the condition)"  # English for logs
    assert exc.message.render("sv") == "r.yaml:4, regel ELIG-X, fält 'when': when (villkoret) saknas"
    assert Problem(msg("value.empty"), line=3).render("sv") == "rad 3: får inte vara tomt"


def _broken_rules(tmp_path: Path) -> Path:
    d = tmp_path / "regler"
    (d / "parameters").mkdir(parents=True)
    (d / "parameters" / "p.yaml").write_text(
        "parameters:\n  max_age:\n    values:\n      - valid_from: 2024-01-01\n        value: 20\n", encoding="utf-8")
    (d / "eligibility.yaml").write_text(
        "stage: eligibility\nrules:\n  - id: ELIG-X\n    title: T\n    description: D\n"
        "    source: {document: Avtal, section: '1'}\n    valid_from: 2024-01-01\n    scope: candidate\n"
        "    outcome: {exclude: AGE, message: m}\n", encoding="utf-8")
    return d


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_rules_lint_says_every_problem_in_the_peoples_language(tmp_path, lang):
    from click.testing import CliRunner

    from placering.cli import cli

    d = _broken_rules(tmp_path)
    env = {"PLACERING_LANG": lang} if lang == "en" else {"PLACERING_LANG": "sv"}
    r = CliRunner().invoke(cli, ["rules", "lint", "--rules", str(d)], env=env, catch_exceptions=False)
    assert r.exit_code == 2 and "Traceback" not in r.output
    if lang == "sv":
        assert "Fel: 3 fel i" in r.stderr, r.stderr
        assert "eligibility.yaml:3, regel ELIG-X, fält 'when': when (villkoret) saknas" in r.stderr
        assert "parameter max_age, fält 'description': description saknas" in r.stderr
        assert "källa saknas (dokument och avsnitt, eller lag)" in r.stderr
        assert "missing" not in r.stderr and "field '" not in r.stderr
    else:
        assert "Error: 3 problems in" in r.stderr or "3 problems in" in r.stderr, r.stderr
        assert "rule ELIG-X, field 'when': missing when (the condition)" in r.stderr
    doc = CliRunner().invoke(cli, ["rules", "lint", "--rules", str(d), "--json"], env=env).output
    assert "missing when (the condition)" in doc  # --json keeps the English text for programs


def test_refusals_of_the_cli_files_and_boundary_are_swedish(run, engine, tmp_path):
    from conftest import snapshot

    before = snapshot(engine)
    deep = tmp_path / "djup.json"
    deep.write_text("[" * 40 + "]" * 40, encoding="utf-8")
    cases = [
        (("register", "export", "--json", "--csv"), "Fel: ange en av --json, --csv, --excel och --xlsx\n"),
        (("register", "import", str(tmp_path / "finns-inte.json"), "--by", "k"),
         f"Fel: {tmp_path / 'finns-inte.json'}: kan inte läsa: filen eller mappen finns inte\n"),
        (("register", "import", str(deep), "--by", "k"), f"Fel: {deep}: nästlad mer än 32 nivåer\n"),
        (("register", "history", "--columns", "nope"), "Fel: --columns: ingen kolumn 'nope' (kolumnerna: "),
        (("register", "status", "U-1", "watch", "--on", "2999-01-01", "--by", "k"),
         "Fel: --on: datumet 2999-01-01 ligger i framtiden (i dag är det "),
        (("register", "status", "U-1", "paused", "--by", "k"), "Fel: okänd enhetsstatus 'paused' (kända: "),
    ]
    for args, expected in cases:
        r = run(*args, env={"PLACERING_LANG": "sv"})
        assert r.exit_code != 0 and "Traceback" not in r.output, (args, r.output)
        said = r.stderr.split("\n\n")[-1]
        assert said == expected if expected.endswith("\n") else said.startswith(expected), (args, said)
    english = run("register", "export", "--json", "--csv", env={"PLACERING_LANG": "en"})
    assert english.stderr.endswith("give one of --json, --csv, --excel and --xlsx\n"), english.stderr
    assert snapshot(engine) == before

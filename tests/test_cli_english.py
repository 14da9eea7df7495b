"""English out when the locale asks for it (issue 19, item 1): the mirror of test_cli_swedish.py.
Every registered command's error paths (an unknown option, no arguments, a bad value for each
typed option, a nonexistent id or file) and the main output of the commands people use most
run with PLACERING_LANG=en, and fail on Swedish words in what is said.

What is not the program's sentence is left out before looking: the register's own data (unit
and supplier names, municipalities, a person's notes) and, until the labels have their English
forms, the Swedish labels of codes (locale/sv/LC_MESSAGES/labels.po, the taxonomy): `_LABELS_ARE_SWEDISH`
says so, and the register's and matching's outputs are checked, as soon as the English labels
(labels.label(code, kind, lang), locale/en/LC_MESSAGES/labels.po) are there. In-process (CliRunner) on one small SQLite register for the whole module.
"""

from __future__ import annotations

import json
import re
import shutil

import click
import pytest
from click.testing import CliRunner

from placering.cli import cli

from test_cli_swedish import NO_BARE_RUN, commands
from test_matching_support import register_doc, request, unit, write_request

EN = {"PLACERING_LANG": "en", "COLUMNS": "2000"}  # one line per row: a quote or a name whole

# Swedish words that are never English (nor an option, a code or an id of ours), and any word
# with å, ä or ö.
SWEDISH = re.compile(
    r"(?<![\w\-./:=@])(ja|nej|och|eller|inte|inga|ingen|inget|för|från|till|med|av|som|har|är|finns|saknas|okänd|okänt|"
    r"ogiltig|ogiltigt|värde|värdet|flaggan|kända|visar|rader|kolumner|enhet|enheten|enheter|förfrågan|beslut|"
    r"placeringar|kontroll|kontroller|synpunkt|synpunkter|avtal|utfall|ändringar|regler|fel|användning|"
    r"prova|hjälp|datum|heltal|fil|katalog|mottagen|handläggs|öppnad|beslutad|genomförd|registrerad|jmf)"
    r"(?![\w\-./:=@])|\w*[åäöÅÄÖ]\w*", re.I)

# The register's data in this module (names, places, notes): a person's own words, in Swedish.
DATA = ("Göteborg", "Mölndal", "Nordost", "Enhet U-1", "Enhet U-2", "Leverantör U-1", "Leverantör U-2")

# Until enlabels' English labels are merged, a code's label is its Swedish one in every language.
def _labels_are_swedish() -> bool:
    import inspect

    from placering.labels import label

    return "lang" not in inspect.signature(label).parameters


_LABELS_ARE_SWEDISH = _labels_are_swedish()


def _swedish_labels() -> list[str]:
    from placering.labels import catalogue
    from placering.taxonomy import load_taxonomy

    said = {text for kind, table in catalogue().items() if kind not in ("headers", "message_fields")
            for text in table.values() if isinstance(text, str)}
    tax = load_taxonomy()
    for table in (getattr(tax, "insatser", {}), getattr(tax, "target_groups", {}), getattr(tax, "areas", {})):
        for value in table.values():
            name = getattr(value, "label", None) or (value if isinstance(value, str) else None)
            if name:
                said.add(name)
    return sorted((s for s in said if s.strip()), key=len, reverse=True)


def _rule_texts() -> list[str]:
    """What the rule files say in their authors' Swedish: titles, descriptions, messages, sources
    (as cited), parameters' descriptions and sources, the rule tests' names."""
    from placering.rules.ruleset import load_ruleset
    from placering.rules.testing import tested_by_index
    from placering.sources import cite

    rs = load_ruleset(None)
    texts = set()
    for rule in (*rs.rules, *rs.policies):
        texts |= {rule.title or "", rule.description or "", cite(rule.source), cite(str(rule.source)), str(rule.source)}
        message = getattr(getattr(rule, "outcome", None), "message", None)
        texts.add(str(message or ""))
    for p in rs.parameters.values():
        texts.add(p.description or "")
        texts |= {cite(str(v.source)) for v in p.values} | {str(v.source) for v in p.values}
    texts |= {c["name"] for c in tested_by_index(rs.directory / "tests")}
    return sorted((t for t in texts if t.strip()), key=len, reverse=True)


def without_rule_texts(screen: str) -> str:
    """The screen without the rule files' own words (white space made single: a text that the
    table wraps is found whole)."""
    screen = re.sub(r"\s+", " ", screen)
    for t in _rule_texts():
        screen = screen.replace(re.sub(r"\s+", " ", t).strip(), " ")
    return screen


def swedish_words(screen: str) -> list[str]:
    """Swedish in what a person reads in English; what is quoted ('…', "…", `…`), option names,
    codes, ids, paths, the register's data and (for now) code labels are left out."""
    prose = screen
    for value in DATA:
        prose = prose.replace(value, " ")
    if _LABELS_ARE_SWEDISH:
        for text in _LABELS:
            prose = re.sub(rf"(?<![\wåäöÅÄÖ]){re.escape(text)}(?![\wåäöÅÄÖ])", " ", prose, flags=re.I)
    prose = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`", " ", prose)
    prose = re.sub(r"\S*[_/\\=@]\S*|(?<![\w-])--?[\w-]+|\b[\w.]+\.(json|jsonl|csv|xlsx|yaml|db|py)\b", " ", prose)
    return [m.group(0) for m in SWEDISH.finditer(prose)]


_LABELS: list[str] = _swedish_labels() if _LABELS_ARE_SWEDISH else []


@pytest.fixture(scope="module")
def en(tmp_path_factory, sqlite_template):
    """run(*args) on a small register (two units, one decided request, a complaint) in English."""
    tmp = tmp_path_factory.mktemp("english")
    db = tmp / "placering.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    runner = CliRunner()

    def run(*args: str, env: dict | None = None, input: str | None = None):
        return runner.invoke(cli, ["--db", url, *args], env={**EN, **(env or {})}, input=input, prog_name="placering",
                             catch_exceptions=False)

    doc = tmp / "register.json"
    doc.write_text(json.dumps(register_doc(unit("U-1"), unit("U-2", route="direktupphandling"))), encoding="utf-8")
    assert run("register", "import", str(doc), "--on", "2024-01-02", "--apply-status", "--by", "test").exit_code == 0
    path = write_request(tmp, request("R-1"))
    assert run("match", str(path), "--by", "test").exit_code == 0
    chose = run("request", "choose", "R-1", "U-1", "--on", "2024-09-02", "--by", "test")
    assert chose.exit_code == 0, chose.output
    run.tmp = tmp
    run.request = path
    return run


def _refusal(result) -> str:
    text = result.stderr
    return text[text.index("Error: "):] if "Error: " in text else text


def test_every_command_refuses_in_english(en):
    """For every command: an unknown option, no arguments, a bad value for each typed option, a
    nonexistent id or file; each refusal is in English ('Error: …') with no Swedish word."""
    from placering.boundary import WholeParam
    from placering.cli.common import DecimalType
    from placering.cli.params import Code

    found: dict[str, list] = {}
    runs = 0

    def check(args, *, must_fail=True):
        nonlocal runs
        runs += 1
        result = en(*args)
        if must_fail:
            assert result.exit_code not in (0, None), (args, result.stdout)
        if result.exit_code:
            said = _refusal(result)
            assert "Traceback" not in result.output and said.startswith(("Error: ", "Aborted")), (args, result.stderr)
            words = swedish_words(said)
            if words:
                found.setdefault(said.strip()[:160], sorted(set(words)))

    for path, cmd in commands():
        if not path:
            continue
        name = " ".join(path)
        check((*path, "--no-such-option"))
        if not isinstance(cmd, click.Group) and not name.startswith(NO_BARE_RUN):
            check(path, must_fail=False)
        arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
        filled = [str(en.tmp / "no-such-file.json") if isinstance(a.type, click.Path) else "X-404" for a in arguments]
        by = ["--by", "test"] if any("--by" in getattr(p, "opts", ()) for p in cmd.params) else []
        for p in cmd.params:
            if not isinstance(p, click.Option) or p.is_flag or p.count or p.hidden:
                continue
            if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType, WholeParam, DecimalType)):
                bad = "twelve"
            elif isinstance(p.type, (Code, click.Choice)):
                bad = "no-such-code"
            elif isinstance(p.type, click.Path) and p.type.exists:
                bad = str(en.tmp / "no-such-file")
            elif "YYYY-MM-DD" in (p.help or "") or p.metavar == "DATE":
                bad = "31/12/2024"
            else:
                continue
            check((*path, p.opts[0], bad, *filled, *by), must_fail=name != "init")
        if arguments and not isinstance(cmd, click.Group) and not name.startswith(("serve", "bench", "login")):
            check((*path, *filled, *by), must_fail=name not in ("register search", "request schema"))
    assert runs > 300
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


# The main output of the commands people use most, on the module's register: audits, case work,
# rules and the server's accounts ...
MAIN = [
    ("rules", "lint"),
    ("audit", "paused"), ("audit", "log", "--summary"), ("audit", "removals"),
    ("audit", "entries"), ("audit", "checks-due"), ("audit", "prices-due"), ("audit", "direct-procurement"),
    ("audit", "adherence"), ("audit", "visits"), ("audit", "affected-placements"), ("audit", "requests"),
    ("audit", "placement-agreements", "--every"), ("audit", "controls"), ("audit", "surveys"),
    ("audit", "surveys", "--summary"), ("audit", "not-executed"), ("audit", "direct-purchases"),
    ("audit", "complaints"), ("audit", "protected-reads"),
    ("complaint", "add", "U-1", "--category", "bemotande", "--on", "2024-09-03", "--by", "test"),
    ("complaint", "update", "1", "--status", "closed", "--outcome", "communicated", "--by", "test"),
    ("complaint", "list"), ("complaint", "queue"),
    ("control", "open", "--unit", "U-1", "--reason", "Test", "--on", "2024-09-04", "--by", "test"),
    ("control", "list"), ("control", "show", "1"),
    ("placement", "decision", "R-1", "--from", "2024-09-02", "--to", "2025-03-01", "--price", "4000", "--by", "test"),
    ("placement", "show", "R-1"),
    ("followup", "decision", "R-1", "decided", "--on", "2024-09-01", "--by", "test"), ("followup", "list"),
    ("admin", "user", "add", "kalle", "--role", "social_worker", "--municipality", "Mölndal"), ("admin", "user", "list"),
]
# ... and the register, matching and review, whose sentences and labels say English once the
# English labels (helper enlabels: labels.label(code, kind, lang)) are in: checked from then on.
REGISTER_AND_MATCHING = [
    ("audit", "log"),  # its "what changed" says values as register history does (cli/changes.py)
    ("register", "show", "U-1"), ("register", "search", "U-1"), ("register", "history", "U-1"),
    ("register", "proposals"), ("register", "entry", "list"), ("request", "show", "R-1"), ("review", "list"),
]


def _english_labels() -> bool:
    import inspect

    from placering.labels import label

    return "lang" in inspect.signature(label).parameters


def test_main_outputs_are_english(en):
    if not _english_labels():  # audit log without what changed, until that says its values in English
        columns = "effective_on,actor,kind,entity_id,action,reason,rule_id,note"
        assert not swedish_words(en("audit", "log", "--columns", columns).stdout)
    found = {}
    for args in MAIN + (REGISTER_AND_MATCHING if _english_labels() else []):
        result = en(*args)
        assert result.exit_code == 0 and "Traceback" not in result.output, (args, result.output)
        words = swedish_words(result.stdout + result.stderr)
        if words:
            found[" ".join(args)] = sorted(set(words))
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("args", [("rules", "list"), ("rules", "params"), ("rules", "show", "STATUS-PERMIT-LOST"),
                                  ("rules", "show", "ELIG-AGE")])
def test_rules_in_english_but_the_rule_files_own_words(en, args):
    """The rule files' titles, descriptions, messages and sources are their authors' Swedish (data,
    as a unit's name is): everything the program says around them is English."""
    result = en(*args, env={"COLUMNS": "2000"})  # one line per row: each text whole
    assert result.exit_code == 0, result.output
    screen = result.stdout
    if args == ("rules", "params"):  # the Source column is the rule files' (a table's cells wrap in it)
        lines = screen.splitlines()
        cut = lines[0].index("Source")
        assert lines[0].split() == ["Parameter", "Value", "Unit", "Valid", "Source"], lines[0]
        screen = "\n".join(line[:cut] for line in lines)
    assert swedish_words(without_rule_texts(screen)) == [], screen


def test_match_in_english(en):
    if not _english_labels():
        pytest.skip("match says English with the English labels (helper enlabels)")
    screen = en("match", str(en.request), "--by", "test").stdout
    assert "Request R-1: " in screen and not swedish_words(screen), screen


def test_swedish_stays_the_default(en):
    """The same command without PLACERING_LANG: Swedish, as test_cli_swedish.py checks it."""
    assert en("review", "list", env={"PLACERING_LANG": None}).stdout.startswith("Granskningar")
    assert en("control", "list", env={"PLACERING_LANG": None}).stdout.startswith("Fördjupade kontroller (")

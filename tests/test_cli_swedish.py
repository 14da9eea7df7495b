"""Swedish in and out, for every command (issue 19, item 1): every registered click command's
help and error paths (no arguments, an unknown option, a bad value for each typed option, a
nonexistent id or file, invalid input files) are run in Swedish and fail on English words; every
code a person is shown has a Swedish label. English stays there when the locale asks for it.

In-process (CliRunner) on one small SQLite register for the whole module; the refusals that come
from the database (an id not in the register) run once more on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from placering.cli import cli

from test_matching_support import register_doc, request, unit, write_request

SV = {"PLACERING_LANG": "sv", "COLUMNS": "100"}

# English words that are never Swedish (nor a code or an option of ours when they stand alone).
ENGLISH = re.compile(
    r"(?<![\w\-./:=@])(the|is|are|was|were|be|been|not|no|with|and|or|of|for|to|from|must|should|cannot|can't|"
    r"unknown|invalid|missing|expected|value|values|valid|number|integer|such|option|options|usage|error|"
    r"file|files|found|given|did|you|mean|try|neither|nor|than|this|that|these|only|every|whether|which|"
    r"when|without|there|its|it|has|have|does|exists?|required|default|message|exit|read|write|"
    r"unable|parse|string|input|should|least|most|allowed|permitted|refused|already|not)(?![\w\-./:=@])",
    re.I)

# Run with no arguments only where that refuses or answers at once: these serve, benchmark, log in
# or out, change the schema or run every rule test (their refusals are tried below).
NO_BARE_RUN = ("serve", "bench", "login", "logout", "init", "rules test", "rules lint", "rules list",
               "rules params", "rules version", "rules show", "request schema", "audit", "register export")


def english_words(text: str) -> list[str]:
    """English words in what a person reads; what is quoted ('…', "…", `…`), option names,
    codes (with _ or -), ids, paths and addresses are the program's or the person's own."""
    prose = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`", " ", text)
    prose = re.sub(r"\S*[_/\\=@]\S*|(?<![\w-])--?[\w-]+|\b[\w.]+\.(json|jsonl|csv|xlsx|yaml|db|py)\b", " ", prose)
    return ENGLISH.findall(prose)


def commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and group placering has (the lazily imported ones loaded)."""
    out = []

    def walk(cmd: click.Command, path: tuple[str, ...], ctx: click.Context) -> None:
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, path + (name,), click.Context(sub, parent=ctx, info_name=name))

    walk(cli, (), click.Context(cli, info_name="placering"))
    return out


@pytest.fixture(scope="module")
def sv(tmp_path_factory, sqlite_template):
    """run(*args) on a small register (two units, one decided request) in Swedish."""
    tmp = tmp_path_factory.mktemp("swedish")
    db = tmp / "placering.db"
    shutil.copy(sqlite_template, db)
    url = f"sqlite:///{db}"
    runner = CliRunner()

    def run(*args: str, env: dict | None = None, input: str | None = None):
        return runner.invoke(cli, ["--db", url, *args], env={**SV, **(env or {})}, input=input, prog_name="placering",
                             catch_exceptions=False)

    doc = tmp / "register.json"
    doc.write_text(json.dumps(register_doc(unit("U-1"), unit("U-2", route="direktupphandling"))), encoding="utf-8")
    assert run("register", "import", str(doc), "--on", "2024-01-02", "--apply-status", "--by", "test").exit_code == 0
    path = write_request(tmp, request("R-1"))
    assert run("match", str(path), "--by", "test").exit_code == 0
    run.tmp = tmp
    return run


def _refusal(result) -> str:
    """What a refusal says (after click's usage lines)."""
    text = result.stderr
    return text[text.index("Fel: "):] if "Fel: " in text else text


def _where(path, result) -> str:
    return f"placering {' '.join(path)}: {result.stderr or result.stdout}"


def test_every_help_is_swedish_and_english_when_asked(sv):
    """`--help` of every command and group: Swedish texts, metavars and click's own words."""
    found = []
    for path, cmd in commands():
        result = sv(*path, "--help")
        assert result.exit_code == 0, _where(path, result)
        screen = result.stdout
        assert screen.startswith("Användning: placering") and "Visa den här hjälpen och avsluta." in screen, screen
        assert "Usage:" not in screen and "Options:" not in screen and "[OPTIONS]" not in screen
        words = english_words(screen)
        if words:
            found.append((" ".join(path), sorted(set(words))))
    assert found == [], found
    english = sv("register", "show", "--help", env={"PLACERING_LANG": "en"}).stdout
    assert english.startswith("Usage: placering register show [OPTIONS] ID\n") and "Show this message and exit." in english
    assert "Show a supplier (by organisation number)" in english
    top = sv("--help").stdout
    assert "Kommandon:" in top and "Utförarregistret: import, sökning" in top and "--version" in top


def test_every_help_text_is_in_the_catalogue(monkeypatch):
    """Each command's help, short help and option help has its Swedish in locale/sv/.../cli.po
    (a text reworded in a decorator without its translation is found here, by name)."""
    import inspect

    from placering.cli import LAZY_COMMANDS
    from placering.cli.helptext import tr, tr_doc

    monkeypatch.setenv("PLACERING_LANG", "sv")
    untranslated = [f"lazy {n}: {t}" for n, (_, t) in LAZY_COMMANDS.items() if tr(t) == t]
    for path, cmd in commands():
        name = " ".join(("placering", *path))
        if cmd.help and tr_doc(cmd.help) == cmd.help:
            untranslated.append(f"{name}: {inspect.cleandoc(cmd.help)[:60]}")
        if cmd.short_help and tr(cmd.short_help) == cmd.short_help:
            untranslated.append(f"{name} (short): {cmd.short_help}")
        for p in cmd.params:
            if isinstance(p, click.Option) and p.help and not p.hidden and tr(p.help) == p.help:
                untranslated.append(f"{name} {p.opts[0]}: {p.help[:60]}")
    assert untranslated == [], untranslated


def test_every_command_refuses_in_swedish(sv):
    """For every command: an unknown option, no arguments, a bad value for each typed option, a
    nonexistent id or file; each refusal is in Swedish and exits non-zero (never a traceback)."""
    from placering.boundary import WholeParam
    from placering.cli.common import DecimalType
    from placering.cli.params import Code

    found: dict[str, list] = {}
    runs = 0

    def check(path, args, *, must_fail=True):
        nonlocal runs
        runs += 1
        result = sv(*args)
        if must_fail:
            assert result.exit_code not in (0, None), (args, result.stdout)
        if result.exit_code:
            said = _refusal(result)
            assert "Traceback" not in result.output and said.startswith(("Fel: ", "Avbrutet.")), (args, result.stderr)
            words = english_words(said)
            if words:
                found.setdefault(said.strip()[:160], sorted(set(words)))

    for path, cmd in commands():
        if not path:
            continue
        name = " ".join(path)
        check(path, (*path, "--finns-inte"))
        if not isinstance(cmd, click.Group) and not name.startswith(NO_BARE_RUN):
            check(path, path, must_fail=False)
        params = cmd.params
        arguments = [p for p in params if isinstance(p, click.Argument)]
        filled = []
        for a in arguments:
            if isinstance(a.type, click.Path):
                filled.append(str(sv.tmp / "finns-inte.json"))
            else:
                filled.append("X-404")
        by = ["--by", "test"] if any("--by" in getattr(p, "opts", ()) for p in params) else []
        for p in params:
            if not isinstance(p, click.Option) or p.is_flag or p.count or p.hidden:
                continue
            if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType, WholeParam, DecimalType)):
                bad = "tolv"
            elif isinstance(p.type, (Code, click.Choice)):
                bad = "finns-inte"
            elif isinstance(p.type, click.Path) and p.type.exists:
                bad = str(sv.tmp / "finns-inte")
            elif "ÅÅÅÅ-MM-DD" in (p.help or "") or "YYYY-MM-DD" in (p.help or "") or p.metavar == "DATE":
                bad = "31/12/2024"
            else:
                continue
            # (init takes --as-of only with --demo: without it the date is not read)
            check(path, (*path, p.opts[0], bad, *filled, *by), must_fail=name != "init")
        if arguments and not isinstance(cmd, click.Group) and not name.startswith(("serve", "bench", "login")):
            check(path, (*path, *filled, *by), must_fail=name not in ("register search", "request schema"))
    assert runs > 300
    assert found == {}, json.dumps(found, ensure_ascii=False, indent=1)


@pytest.mark.parametrize("content, name", [
    ("{ inte json", "trasig.json"),
    ('{"format": "placering-register/1", "suppliers": [{"org_nr": 5, "units": "inga"}]}', "fel.json"),
    ("org_nr,unit_id\n556677-8899,U-9,extra\n", "fel.csv"),
    ("\x00\x01binärt", "binär.json"),
])
def test_invalid_register_files_are_refused_in_swedish(sv, content, name):
    path = sv.tmp / name
    path.write_text(content, encoding="utf-8")
    result = sv("register", "import", str(path), "--by", "test")
    assert result.exit_code == 2, result.output
    assert not english_words(_refusal(result)), result.stderr


@pytest.mark.parametrize("mutate", [
    lambda r: r.update(start_on="i morgon"),
    lambda r: r["person"].update(age="femton"),
    lambda r: r["person"].update(age=130),
    lambda r: r.update(insats=7),
    lambda r: r.update(urgency="snart"),
    lambda r: r.pop("insats"),
    lambda r: r.update(extra_field=1),
    lambda r: r.update(max_distance_km="långt"),
])
def test_invalid_requests_are_refused_in_swedish_by_pydantics_type(sv, mutate):
    """pydantic's refusals by their type, never 'värdet ska vara a valid number, unable to parse…'."""
    req = request("R-BAD")
    mutate(req)
    path = write_request(sv.tmp, req, "bad.json")
    result = sv("match", str(path), "--by", "test")
    assert result.exit_code == 2 and "fält '" in result.stderr, result.output
    assert not english_words(_refusal(result)), result.stderr
    english = sv("match", str(path), "--by", "test", env={"PLACERING_LANG": "en"})
    assert english.stderr.startswith("Error: ") and "field '" in english.stderr


def test_every_pydantic_error_type_is_said_in_both_languages():
    from placering.fielderrors import TYPES, message_of
    from placering.i18n import Message

    for kind in sorted(TYPES - {"value_error", "assertion_error"}):
        err = {"type": kind, "ctx": {"gt": 0, "ge": 1, "lt": 5, "le": 120.0, "min_length": 2, "max_length": 3,
                                     "expected": "'akut' or 'planerad'", "multiple_of": 2, "pattern": "x",
                                     "max_digits": 4, "decimal_places": 2, "whole_digits": 2}}
        message = message_of(err)
        assert isinstance(message, Message), kind
        sv_text, en_text = message.render("sv"), message.render("en")
        assert sv_text != en_text and message.id not in sv_text and not english_words(sv_text), (kind, sv_text)
    said = message_of({"type": "literal_error", "ctx": {"expected": "'akut' or 'planerad'"}}).render("sv")
    assert said == "värdet ska vara 'akut' eller 'planerad'"
    assert message_of({"type": "less_than_equal", "ctx": {"le": 120.0}}).render("sv") == "värdet ska vara högst 120"
    assert message_of({"type": "a_future_type"}).render("sv") == "är inte giltigt"


def test_api_422_is_said_by_type_in_swedish(db_url):
    from server_support import client

    with client(db_url) as c:
        r = c.post("/api/v1/auth/session", json={"login": 5, "password": ""})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input" and body["message"].startswith("ogiltig indata: ")
    assert not english_words(body["message"]), body["message"]
    assert all(p["type"] and not english_words(p["problem"]) for p in body["problems"]), body["problems"]


def test_refusals_from_the_database_are_swedish(run, tmp_path):
    """The ids a person may mistype, refused by the register on both databases."""
    assert run("register", "import", str(write_request(tmp_path, register_doc(unit("U-1")), "r.json")),
               "--on", "2024-01-02", "--apply-status", "--by", "test").exit_code == 0
    for args in (("register", "show", "U-404"), ("register", "history", "U-404"), ("request", "show", "R-404"),
                 ("register", "status", "U-404", "watch", "--by", "test"), ("review", "show", "404"),
                 ("complaint", "update", "404", "--status", "closed", "--by", "test"), ("control", "show", "404"),
                 ("register", "agreement", "RA-404", "active", "--by", "test"), ("request", "rematch", "R-404",
                                                                                     "--by", "test")):
        result = run(*args, env=SV)
        assert result.exit_code not in (0, None) and result.stderr.startswith("Fel: "), (args, result.output)
        assert not english_words(result.stderr), (args, result.stderr)


# --- every code a person is shown has a Swedish label -----------------------------------------


def _enums():
    import enum
    import importlib
    import inspect
    import pkgutil

    import placering

    seen = {}
    for info in pkgutil.walk_packages(placering.__path__, "placering."):
        if info.name.startswith(("placering.bench", "placering.web", "placering.server", "placering.demo")):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and issubclass(obj, enum.Enum) and obj.__module__.startswith("placering"):
                seen[obj] = re.sub(r"(?<!^)([A-Z])", r"_\1", obj.__name__).lower()
    return seen


# enum -> the label kind it is shown with, where the name does not say it; LegalBasis is shown
# as the law's own Swedish abbreviation (SoL, LVU, LVM, LSS).
KIND_OF = {"exclusion_code": "exclusion", "flag_code": "flag", "event_kind": "entity_kind"}
UNLABELLED_ENUMS = {"legal_basis"}


def test_every_code_a_person_is_shown_has_a_swedish_label():
    from placering.labels import catalogue, has_label, label
    from placering.matching.review import REVIEW_STATUSES
    from placering.rules.model import PROPOSAL_KINDS
    from placering.rules.register_status import PROPOSAL_STATUSES
    from placering.taxonomy import load_taxonomy
    from placering.yamlio import load_yaml, plain

    missing = []
    enums = _enums()
    assert len(enums) >= 20
    for enum_cls, name in enums.items():
        if name in UNLABELLED_ENUMS:
            continue
        kind = KIND_OF.get(name, name)
        assert kind in catalogue(), f"{enum_cls.__module__}.{enum_cls.__name__}: no label kind '{kind}'"
        missing += [f"{kind}: {c.value}" for c in enum_cls if not has_label(str(c.value), kind)]
    for kind, codes in (("review_status", REVIEW_STATUSES), ("proposal_kind", PROPOSAL_KINDS),
                        ("proposal_status", PROPOSAL_STATUSES)):
        missing += [f"{kind}: {c}" for c in codes if not has_label(c, kind)]
    # the taxonomy: insatser, sub-categories, target groups, areas
    tax = load_taxonomy()
    assert len(tax.insatser) > 10
    for code, insats in tax.insatser.items():
        if not has_label(code, "insats") or label(code, "insats") == code:
            missing.append(f"insats: {code}")
        missing += [f"subcategory: {s}" for s in insats.subcategories if not has_label(s, "subcategory")]
    missing += [f"target_group: {g}" for g in tax.target_groups if not has_label(g, "target_group")]
    missing += [f"area: {a}" for a in tax.areas if not has_label(a, "area")]
    # rules: every rule's title is its Swedish label; every exclusion and flag it gives is labelled
    rules_dir = Path(__file__).resolve().parent.parent / "rules"
    for f in sorted(rules_dir.glob("*.yaml")):
        doc = plain(load_yaml(f))
        for rule in doc.get("rules") or []:
            title = rule.get("title") or ""
            if not title or english_words(title):
                missing.append(f"rule title: {rule.get('id')} ({title!r})")
            outcome = rule.get("outcome") or {}
            for key, kind in (("exclude", "exclusion"), ("flag", "flag"), ("proposal", "proposal_kind")):
                code = outcome.get(key)
                if isinstance(code, dict):
                    code = code.get("kind")
                if isinstance(code, str) and not has_label(code, kind):
                    missing.append(f"{kind}: {code} ({rule.get('id')})")
    # every label is Swedish
    for kind, table in catalogue().items():
        if kind in ("municipality", "headers", "register_column", "message_fields", "fact_field"):
            continue
        missing += [f"{kind}: {code} = {text!r} (English)" for code, text in table.items()
                    if isinstance(text, str) and english_words(text)]
    assert missing == [], missing


def test_no_message_id_is_in_a_catalogue_twice():
    """Engineers append to the same .po files: an id added twice would silently say one of them
    (an id is its context and msgid: labels.po has `active` as an agreement's and a permit's)."""
    import collections

    locale = Path(__file__).resolve().parent.parent / "src" / "placering" / "locale"
    files = sorted(locale.glob("*/LC_MESSAGES/*.po"))
    assert len(files) >= 3
    for po in files:
        ids = re.findall(r'^(?:msgctxt "(.*)"\n)?msgid "(.+)"$', po.read_text(encoding="utf-8"), flags=re.M)
        twice = sorted(k for k, n in collections.Counter(ids).items() if n > 1)
        assert twice == [], (po.name, twice)

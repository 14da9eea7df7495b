"""Fuzz suite (issue 13 item 7): generated hostile documents and arguments for import, match and
the rule loader, through the CLI, on SQLite and PostgreSQL.

Every input must end in success or a clear error (exit 2–5, a message on stderr), never a
traceback, and a rejected input must leave every table as it was. Bounded for CI: derandomized
(the same examples every run) and a fixed number of examples per test.

Counts (inputs tried, tracebacks, partial writes) are printed at the end of each test
(`pytest -s tests/test_fuzz.py`) and appended as JSON lines to $PLACERING_FUZZ_REPORT if set.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import shutil
from pathlib import Path

from click.testing import CliRunner
from conftest import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from placering.cli import cli
from test_matching_support import request as sample_request
from test_register_import import sample_document

# Examples per test, chosen so that the eight tests (four kinds, two databases) stay well under
# 90 s on two cores; PLACERING_FUZZ_SCALE=10 tries ten times as many (by hand, not in CI).
SCALE = float(os.environ.get("PLACERING_FUZZ_SCALE", "1"))


def fuzz(examples: int):
    return settings(max_examples=max(1, int(examples * SCALE)), derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

# Values the probe found dangerous, and their neighbours.
HOSTILE_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "x\udfff", "\x1b[2J\x1b]0;title\x07", "\u202e", "A" * 5000,
    "850101-1234", "850101–1234", "pnr_8501011234", "P198501011234", "85.01.01-1234",
    "9999-12-31", "2020-02-30", "0000-01-01", "Infinity", "NaN", "-1", "1e400", "=cmd|' /C calc'!A0",
    "Ö" * 300, "e\u0301", "null", "[]", "{}",
    # issue 21: identity numbers in disguise, bidirectional controls, white space in ids, names
    # that are no municipality, loose types
    "900101\u200b-2385", "9OO1O1-2385", "٩٠٠١٠١-٢٣٨٥", "900101_2385", "(900101)2385", "900101\u00ad2385",
    "Ängen\u202eBA", "\u2066x\u2069", "\u200f", "U 9001\t", " U-1001", "Atlantis", "göteborg", "5", "ja", "yes",
    "dnr 8.1-10708/2024", "031-123 45 67", "2024-01-01–2024-12-31", "faktura 20240101-0001",
])
HOSTILE_NUMBER = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**30, 0, -1, 1.5, -0.0, 1e308, 5e-324,
                     10**12, 1e3, -33.87, 151.21]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
HOSTILE_VALUE = st.one_of(
    HOSTILE_TEXT, HOSTILE_NUMBER, st.booleans(), st.none(), st.text(max_size=20),
    st.lists(st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER), max_size=3),
    st.dictionaries(st.text(max_size=5), HOSTILE_TEXT, max_size=2),
)
# Tokens json.dumps cannot write: spliced into the text in place of a value.
RAW_TOKENS = st.sampled_from(["1e400", "-1e400", "Infinity", "-Infinity", "NaN", "9223372036854775808",
                              "1" * 5000, "[" * 5000 + "]" * 5000, "[" * 100_000, '"\\ud800"', '"\\u0000"',
                              '"\\u001b[2J"', "01", "1.", "tru", '{"a":1,"a":2}'])
PLACEHOLDER = "\u2063FUZZ\u2063"


def _leaves(node, path=()):
    """Every path to a value inside a document (dict keys and list indexes)."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))


def _set(doc, path, value):
    if not path:
        return value
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return doc


@st.composite
def hostile_document(draw, base: dict) -> str:
    """The JSON text of `base` with one to three hostile changes."""
    doc = copy.deepcopy(base)
    raw: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_leaves(doc))
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["value", "value", "raw", "drop", "extra", "duplicate"]))
        if kind == "value":
            doc = _set(doc, path, draw(HOSTILE_VALUE))
        elif kind == "raw" and PLACEHOLDER not in json.dumps(doc):
            doc = _set(doc, path, PLACEHOLDER)
            raw.append(draw(RAW_TOKENS))
        elif kind == "drop" and path:
            parent = doc
            for p in path[:-1]:
                parent = parent[p]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, list) and parent:
                parent.pop(path[-1])
        elif kind == "extra":
            target = doc
            for p in path:
                if not isinstance(target[p] if isinstance(target, (dict, list)) else None, (dict, list)):
                    break
                target = target[p]
            if isinstance(target, dict):
                target[draw(st.sampled_from(["personnummer", "name", "x", "\x00", "places"]))] = draw(HOSTILE_VALUE)
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    for token in raw:
        text = text.replace(json.dumps(PLACEHOLDER, ensure_ascii=False), token, 1).replace(
            json.dumps(PLACEHOLDER), token, 1)
    if draw(st.booleans()) and '": ' in text:  # a key given twice
        at = text.index('": ') + 3
        key_start = text.rindex('"', 0, at - 3)
        key = text[key_start:at]
        text = text[:key_start] + key + "0, " + text[key_start:]
    return text


class Tally:
    """Inputs tried, and how many gave a traceback or changed the database when rejected."""

    def __init__(self, name: str, backend: str):
        self.name, self.backend = name, backend
        self.tried = self.ok = self.rejected = self.tracebacks = self.partial_writes = 0
        self.examples: list[str] = []

    def check(self, engine, runner_args: list[str], *, files: dict[Path, str | bytes] | None = None) -> None:
        for path, content in (files or {}).items():
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
        before = snapshot(engine)
        result = CliRunner().invoke(cli, runner_args, catch_exceptions=True)
        self.tried += 1
        crashed = (result.exception is not None and not isinstance(result.exception, SystemExit)) or \
            "Traceback" in result.output or result.exit_code not in (0, 2, 3, 4, 5)
        if crashed:
            self.tracebacks += 1
            self.examples.append(f"{runner_args[2:]}: {type(result.exception).__name__}: {result.exception}"[:300])
            return
        if result.exit_code == 0:
            self.ok += 1
            return
        self.rejected += 1
        if not result.stderr.strip():
            self.tracebacks += 1
            self.examples.append(f"{runner_args[2:]}: exit {result.exit_code} without a message")
        if snapshot(engine) != before:
            self.partial_writes += 1
            self.examples.append(f"{runner_args[2:]}: rejected but the database changed")

    def report(self) -> None:
        line = {"test": self.name, "backend": self.backend, "inputs": self.tried, "accepted": self.ok,
                "rejected": self.rejected, "tracebacks": self.tracebacks, "partial_writes": self.partial_writes}
        print(f"\nfuzz {json.dumps(line)}")
        if os.environ.get("PLACERING_FUZZ_REPORT"):
            with open(os.environ["PLACERING_FUZZ_REPORT"], "a", encoding="utf-8") as fh:
                fh.write(json.dumps(line) + "\n")
        assert self.tracebacks == 0 and self.partial_writes == 0, "\n".join(self.examples)


def _backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


def _loaded(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "base.json"
    path.write_text(json.dumps(sample_document(), ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", db_url, "register", "import", str(path), "--by", "fuzz",
                                      "--on", "2024-01-02"])
    assert result.exit_code == 0, result.output


def test_fuzz_import(db_url, engine, tmp_path):
    _loaded(db_url, tmp_path)
    tally = Tally("import", _backend(db_url))
    target = tmp_path / "hostile.json"
    export = CliRunner().invoke(cli, ["--db", db_url, "register", "export", "--csv"]).stdout
    rows = list(csv.reader(io.StringIO(export)))

    @fuzz(30)
    @given(text=hostile_document(sample_document()), as_csv=st.booleans(), row=st.integers(1, len(rows) - 1),
           column=st.integers(0, len(rows[0]) - 1), cell=st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER.map(str), RAW_TOKENS))
    def attempt(text, as_csv, row, column, cell):
        if as_csv:  # the CSV reader gets the same hostile values, as cells
            changed = [list(r) for r in rows]
            changed[row][column] = cell
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(changed)
            path = tmp_path / "hostile.csv"
            tally.check(engine, ["--db", db_url, "register", "import", str(path), "--by", "fuzz"],
                        files={path: buf.getvalue()})
        else:
            tally.check(engine, ["--db", db_url, "register", "import", str(target), "--by", "fuzz"],
                        files={target: text})

    attempt()
    tally.report()


def test_fuzz_match(db_url, engine, tmp_path):
    _loaded(db_url, tmp_path)
    tally = Tally("match", _backend(db_url))
    base = sample_request("R-FUZZ")
    counter = iter(range(10**6))

    @fuzz(20)
    @given(text=hostile_document(base), lines=st.booleans())
    def attempt(text, lines):
        n = next(counter)
        path = tmp_path / (f"req-{n}.jsonl" if lines else f"req-{n}.json")
        content = text.replace("R-FUZZ", f"R-FUZZ-{n}", 1)
        if lines:
            content = json.dumps(sample_request(f"R-OK-{n}")) + "\n" + content + "\n"
        tally.check(engine, ["--db", db_url, "match", str(path), "--by", "fuzz"], files={path: content})

    attempt()
    tally.report()


@st.composite
def hostile_option(draw) -> list[str]:
    """A write command with one hostile argument or option value."""
    value = draw(st.one_of(HOSTILE_TEXT, HOSTILE_NUMBER.map(str), st.text(max_size=30)))
    commands = [
        ["register", "status", "U-1001", "watch", "--on", value],
        ["register", "status", value, "watch"],
        ["register", "status", "U-1001", "watch", "--note", value],
        ["register", "check", "556677-8899", "credit_rating", "--result", "pass", "--value", value],
        ["register", "visit", "U-1001", "--on", "2024-05-01", "--note", value],
        ["review", "approve", value, "--note", "ok"],
        ["register", "history", "--limit", value],
        ["request", "decline", "R-1", "U-1001", "--reason", value],
    ]
    args = draw(st.sampled_from(commands))
    by = draw(st.sampled_from(["fuzz", value]))
    return [a for a in args if "\udcff" not in a] + ["--by", by]


def test_fuzz_options(db_url, engine, tmp_path):
    _loaded(db_url, tmp_path)
    tally = Tally("options", _backend(db_url))

    @fuzz(30)
    @given(args=hostile_option())
    def attempt(args):
        tally.check(engine, ["--db", db_url, *args])

    attempt()
    tally.report()


RULE_VALUES = st.one_of(
    HOSTILE_TEXT, HOSTILE_NUMBER, st.booleans(), st.none(),
    st.sampled_from(["2020-02-30", "9999-99-99", "(a|a)*b", "unit.nowhere", "request.person.age", "{param: x}",
                     "*alias", "&anchor x", "!!python/object:os.system", "<<: *a", "[" * 200 + "]" * 200,
                     ".nan", ".inf", "-.inf", ".NaN", "0", "-1", "1e999"]),
)


@st.composite
def hostile_rule_file(draw, text: str) -> str:
    """A rule file's YAML with one line's value replaced by a hostile one."""
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
    i = draw(st.sampled_from(candidates))
    key = lines[i].split(":", 1)[0]
    value = draw(RULE_VALUES)
    rendered = value if isinstance(value, str) and draw(st.booleans()) else json.dumps(value, ensure_ascii=False)
    lines[i] = f"{key}: {rendered}"
    return "\n".join(lines) + "\n"


def test_fuzz_rule_loader(db_url, engine, tmp_path):
    from placering.paths import rules_dir

    source = Path(rules_dir())
    rules = tmp_path / "rules"
    shutil.copytree(source, rules)
    files = sorted(p.relative_to(rules) for p in rules.rglob("*.yaml"))
    originals = {f: (rules / f).read_text(encoding="utf-8") for f in files}
    tally = Tally("rule loader", _backend(db_url))

    @fuzz(8)
    @given(data=st.data())
    def attempt(data):
        name = data.draw(st.sampled_from(files))
        text = data.draw(hostile_rule_file(originals[name]))
        try:
            tally.check(engine, ["--db", db_url, "rules", "lint", str(rules)], files={rules / name: text})
        finally:
            (rules / name).write_text(originals[name], encoding="utf-8")

    attempt()
    tally.report()


# --- issue 21: identity numbers in disguise, innocent numbers, hostile files in --rules ---------------

ZERO_OF_SCRIPT = [0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xFF10, 0x1D7CE, 0x1D7EC]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u00ad", "\ufeff", "\u2060", "\u2062", "\u0301", "\u0332"]
SEPARATOR = ["", "-", " ", "–", "—", "−", "+", "_", ",", ".", "/", ":", " - "]
LOOKALIKE = {"0": ["O", "o", "О", "Ο"], "1": ["l", "I"]}


@st.composite
def identity_number(draw) -> str:
    """A valid personnummer or samordningsnummer (10 or 12 digits), as digits."""
    from datetime import date as _date, timedelta

    from placering.text import luhn_check_digit

    born = _date(1930, 1, 1) + timedelta(days=draw(st.integers(0, 365 * 90)))
    day = born.day + (60 if draw(st.booleans()) else 0)
    first = f"{born:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}"
    digits = first + luhn_check_digit(first)
    return (f"{born.year // 100}" if draw(st.booleans()) else "") + digits


@st.composite
def disguised(draw) -> str:
    """An identity number written to slip past a plain digit search."""
    digits = draw(identity_number())
    cut = len(digits) - 4
    head, tail = digits[:cut], digits[cut:]
    sep = draw(st.sampled_from(SEPARATOR))
    text = head + sep + tail
    zero = draw(st.sampled_from(ZERO_OF_SCRIPT))
    out = []
    for ch in text:
        if ch.isdigit():
            if ch in LOOKALIKE and draw(st.integers(0, 4)) == 0:
                out.append(draw(st.sampled_from(LOOKALIKE[ch])))
                continue
            out.append(chr(zero + int(ch)))
            if draw(st.integers(0, 5)) == 0:
                out.append(draw(st.sampled_from(INVISIBLE)))
        else:
            out.append(ch)
    return draw(st.sampled_from(["", "Klient ", "pnr ", "P", "(", "personnr: "])) + "".join(out) + \
        draw(st.sampled_from(["", " Göteborg", ")", ".", " ok"]))


def test_fuzz_identity_numbers_in_disguise_are_refused(db_url, engine, tmp_path):
    """Every generated disguise is refused by the check; a sample also through the CLI, where a
    refusal changes nothing."""
    from placering.boundary import contains_personnummer

    _loaded(db_url, tmp_path)
    tally = Tally("identity numbers in disguise", _backend(db_url))
    missed: list[str] = []
    through_cli = iter(range(10**6))

    @fuzz(60)
    @given(text=disguised())
    def attempt(text):
        if not contains_personnummer(text):
            missed.append(text)
        if next(through_cli) % 10 == 0:
            before = tally.rejected
            tally.check(engine, ["--db", db_url, "register", "visit", "U-1001", "--on", "2024-05-01", "--note", text,
                                 "--by", "fuzz"])
            if tally.rejected == before:
                missed.append(f"CLI accepted {text!r}")

    attempt()
    tally.report()
    assert missed == []


@st.composite
def innocent_number(draw) -> tuple[str, bool]:
    """A number the sources write, and whether it may only be refused as a valid identity number."""
    kind = draw(st.sampled_from(["dnr", "phone", "mobile", "range", "invoice"]))
    n = lambda lo, hi: draw(st.integers(lo, hi))  # noqa: E731
    if kind == "dnr":
        return f"dnr {n(1, 9)}.{n(1, 9)}-{n(1, 999999)}/{n(2000, 2030)}", False
    if kind == "phone":
        area = draw(st.sampled_from(["08", "031", "040", "018", "0520", "0910", "013"]))
        return f"{area}-{n(100, 999)} {n(10, 99)} {n(10, 99)}", False
    if kind == "mobile":
        return f"07{n(0, 9)}-{n(100, 999)} {n(10, 99)} {n(10, 99)}", False
    if kind == "range":
        a, b = f"{n(2000, 2030)}-{n(1, 12):02d}-{n(1, 28):02d}", f"{n(2000, 2030)}-{n(1, 12):02d}-{n(1, 28):02d}"
        return f"{a}{draw(st.sampled_from(['–', ' - ', ' till ']))}{b}", False
    word = draw(st.sampled_from(["faktura", "fakturanr", "ordernr", "OCR", "ref", "kundnr"]))
    return f"{word} {n(2015, 2030)}{n(1, 12):02d}{n(1, 28):02d}-{n(0, 9999):04d}", True


def test_fuzz_innocent_numbers_are_accepted():
    """Diary numbers, phone numbers and periods are never taken for an identity number; a named
    invoice or order number only when its digits are a valid one, check digit and all."""
    from stdnum.se import personnummer

    from placering.boundary import contains_personnummer

    refused: list[str] = []
    tried = iter(range(10**6))

    @fuzz(300)
    @given(case=innocent_number())
    def attempt(case):
        next(tried)
        text, named = case
        digits = "".join(ch for ch in text if ch.isdigit())
        if contains_personnummer(text) and not (named and personnummer.is_valid(digits[-12:])):
            refused.append(text)

    attempt()
    print(f"\nfuzz innocent numbers: {next(tried)} tried, {len(refused)} refused")
    assert refused == []


@st.composite
def hostile_rules_file(draw) -> tuple[str, str]:
    kind = draw(st.sampled_from(["binary", "loop", "dangling", "directory", "empty", "bom", "huge-line", "nan"]))
    return kind, draw(st.sampled_from(["eligibility.yaml", "ranking.yaml", "parameters/privacy.yaml",
                                       "parameters/checks.yaml", "tests/x.yaml"]))


def test_fuzz_hostile_files_in_a_rules_directory(db_url, engine, tmp_path):
    """Files, not values: binary bytes, symbolic link loops, dangling links, a directory where a
    file is expected, an empty file, a BOM, a huge line, a NaN; `rules lint`, `match --rules` and
    `register check --rules` end in a clear error or success, never a traceback."""
    from placering.paths import rules_dir

    _loaded(db_url, tmp_path)
    tally = Tally("hostile rules files", _backend(db_url))
    source = Path(rules_dir())
    req = tmp_path / "req.json"
    req.write_text(json.dumps(sample_request("R-FILES")), encoding="utf-8")
    counter = iter(range(10**6))

    @fuzz(8)
    @given(case=hostile_rules_file(), command=st.sampled_from(["lint", "match", "check"]))
    def attempt(case, command):
        kind, name = case
        rules = tmp_path / f"rules-{next(counter)}"
        shutil.copytree(source, rules)
        target = rules / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        if kind == "binary":
            target.write_bytes(bytes(range(256)) * 4)
        elif kind == "loop":
            target.symlink_to(target.name)
        elif kind == "dangling":
            target.symlink_to(rules / "nowhere.yaml")
        elif kind == "directory":
            target.mkdir()
        elif kind == "empty":
            target.write_bytes(b"")
        elif kind == "bom":
            target.write_bytes(b"\xef\xbb\xbf" + (source / name).read_bytes() if (source / name).exists() else b"\xef\xbb\xbf")
        elif kind == "huge-line":
            target.write_text("x: " + "9" * 200_000 + "\n", encoding="utf-8")
        else:
            target.write_text("parameters:\n  p:\n    description: d\n    unit: km\n    values:\n"
                              "      - {valid_from: 2020-01-01, value: .nan, source: {law: x}}\n", encoding="utf-8")
        args = {"lint": ["rules", "lint", "--rules", str(rules)],
                "match": ["match", str(req), "--rules", str(rules), "--by", "fuzz"],
                "check": ["register", "check", "556677-8899", "credit_rating", "--result", "fail", "--value", "10",
                          "--on", "2024-05-01", "--rules", str(rules), "--by", "fuzz"]}[command]
        tally.check(engine, ["--db", db_url, *args])

    attempt()
    tally.report()

"""The input boundary: every value from outside passes here, with explicit limits.

Import files (JSON, CSV), placement requests, command-line options and the environment reach
the library only through these checks (issue 13). One module holds every limit, so SQLite
and PostgreSQL refuse the same inputs with the same message instead of one storing what the
other rejects:

- numbers are finite, and whole numbers fit PostgreSQL's INTEGER (int32), the narrowest
  column either database has for them;
- dates are calendar dates; a change that records what happened is not dated in the future;
- text is NFC, has no control characters, NUL or lone surrogates, and has a maximum length
  per kind of field; free text (names, notes, reasons, requester, actor) holds no personal
  identity number in any written form (python-stdnum's Swedish personnummer check);
- JSON has no duplicate keys, no NaN/Infinity and at most MAX_DEPTH levels of nesting.

Every refusal is a ValueError with a message for people; callers add file, line/record and
field (pydantic validators, `ValidationError` problems, click parameter errors).
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from datetime import date
from typing import Any

import click

from .errors import Problem, Refused, ValidationError
from .text import nfc
from .i18n import msg

# --- limits -----------------------------------------------------------------------------------

# PostgreSQL INTEGER; SQLite would take 64 bits, so the narrower one decides for both.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Largest finite amount (SEK) a price may have; far above any real daily price, far below where
# float sums lose whole kronor.
MAX_AMOUNT = 1e9
# Nesting of a JSON document: the register format needs 5 levels, a request 3.
MAX_DEPTH = 32
# Longest text per kind of field (characters, after NFC).
MAX_LENGTH = {
    "id": 64,  # unit_id, agreement_id, request_id, dnr
    "name": 200,  # supplier and unit names, municipalities
    "actor": 120,  # --by, requester, reviewer
    "code": 64,
    "note": 2000,  # notes, reasons, status notes, sources
}

# Sweden's extent (WGS 84), with a margin: Smygehuk 55.34 N, Treriksröset 69.06 N, Koster 10.96 E,
# Haparanda 24.17 E. A unit or a home outside it is a mistyped position (issue 21: Sydney
# coordinates for a Göteborg unit), not a place the register serves.
SWEDEN_LAT = (55.0, 69.5)
SWEDEN_LON = (10.5, 24.5)

# Bidirectional controls (LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI; LRM, RLM; ALM): they
# reorder what a person reads ('Trojan Source'), so a name could show another than it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

from .clock import STOCKHOLM, today  # noqa: F401  (the register's days are Swedish days; one clock)


# --- text ---------------------------------------------------------------------------------------


# Control characters (Cc) except tab and line breaks, lone surrogates (Cs) and bidirectional
# controls: one search finds whether a text has any (most have none), then the first is named.
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def bad_character(value: str) -> "Message | None":
    m = _BAD.search(value)
    if m is None:
        return None
    ch = m.group()
    if unicodedata.category(ch) == "Cs":
        return msg("text.lone_surrogate", char=f"U+{ord(ch):04X}")
    if ch in BIDI_CONTROLS:
        return msg("text.bidi_control", char=f"U+{ord(ch):04X}")
    return msg("text.nul") if ch == "\0" else msg("text.control_character", char=f"U+{ord(ch):04X}")


def in_sweden(lat: float, lon: float) -> str | None:
    """Why a position is not in Sweden, or None."""
    if SWEDEN_LAT[0] <= lat <= SWEDEN_LAT[1] and SWEDEN_LON[0] <= lon <= SWEDEN_LON[1]:
        return None
    return msg("location.outside_sweden", lat=f"{lat:g}", lon=f"{lon:g}", lat_range=f"{SWEDEN_LAT[0]:g}–{SWEDEN_LAT[1]:g}",
               lon_range=f"{SWEDEN_LON[0]:g}–{SWEDEN_LON[1]:g}")


def clean_text(value: Any, *, kind: str = "note", free: bool = True, empty_ok: bool = False) -> str:
    """NFC text within the length of its kind; free text also holds no personal identity number.

    Tabs and line breaks are white space (collapsed by nfc()); every other control character,
    NUL and lone surrogates are refused rather than stripped: what is stored is what was sent.
    """
    if not isinstance(value, str):
        raise Refused(msg("value.not_text", value=_show(value)))
    problem = bad_character(value)
    if problem:
        raise Refused(problem)
    if kind == "id" and _SPACE.search(value):
        # "U 9001\t" would be stored as "U 9001": what is stored would not be what was sent
        raise Refused(msg("value.id_has_space", value=_show(value)))
    value = nfc(value)
    if not value and not empty_ok:
        raise Refused(msg("value.empty"))
    limit = MAX_LENGTH[kind]
    if len(value) > limit:
        raise Refused(msg("value.too_long", length=len(value), limit=limit))
    if free and contains_personnummer(value):
        raise Refused(msg("value.identity_number"))
    return value


# --- personal identity numbers ----------------------------------------------------------------

# Before looking for one, a text is brought to the form a person would read (issue 21): NFKC
# (full-width, superscript and circled digits become ASCII), format characters removed (zero-width
# space and joiner, soft hyphen, BOM, word joiner …), combining marks removed, every Unicode decimal
# digit mapped to 0–9 (Arabic-Indic, Devanagari, …), and letters that look like digits folded when
# they stand in a run of digits (O → 0, l/I → 1, …).
_LOOKALIKE = {
    "O": "0", "o": "0", "Ο": "0", "ο": "0", "О": "0", "о": "0", "D": "0", "Q": "0",
    "l": "1", "I": "1", "i": "1", "|": "1", "ı": "1", "і": "1", "Ι": "1", "ӏ": "1", "!": "1",
    "Z": "2", "z": "2", "E": "3", "A": "4", "S": "5", "s": "5", "G": "6", "b": "6", "T": "7",
    "B": "8", "g": "9", "q": "9",
}


_ASCII_DIGIT = re.compile("[0-9]")
# A decimal digit of any script (\\d), or a character whose digit value Unicode gives without it
# being one (superscripts, subscripts, circled and dingbat digits, Ethiopic, …).
_ANY_DIGIT = re.compile("[\\d\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089"
                        "\u2460-\u2468\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e"
                        "\u2780-\u2788\u278a-\u2792\U00010a40-\U00010a43\U00010e60-\U00010e68"
                        "\U00011052-\U0001105a\U0001f100-\U0001f10a]")
_SPACE = re.compile(r"\s")


def digits_as_read(text: str, *, fold: bool = True) -> str:
    """`text` as a person reads its digits: the normalisation the identity-number check uses
    (`fold`: with look-alike letters read as digits)."""
    text = unicodedata.normalize("NFKC", text)
    chars: list[str] = []
    for ch in ("" if text.isascii() else text):
        cat = unicodedata.category(ch)
        if cat == "Cf" or cat in ("Mn", "Me"):
            continue  # invisible, or a mark on the character before it
        if not "0" <= ch <= "9" and cat in ("Nd", "No") and unicodedata.digit(ch, None) is not None:
            chars.append(str(unicodedata.digit(ch)))  # Arabic-Indic, Devanagari, circled, dingbat digits
            continue
        chars.append(ch)
    if text.isascii():
        chars = list(text)
    if not fold:
        return "".join(chars)
    return fold_lookalikes("".join(chars))


def fold_lookalikes(text: str) -> str:
    chars = list(text)
    # Look-alike letters count as digits next to a digit ('9OO1O1' is 900101; two passes reach 'OO'),
    # unless after a digit a word goes on ('12 st', '10st' stay words).
    def ordinary_letter(c: str) -> bool:
        return c.isalpha() and c not in _LOOKALIKE

    for _ in range(2):
        for i, ch in enumerate(chars):
            if ch in _LOOKALIKE:
                before = chars[i - 1] if i else ""
                after = chars[i + 1] if i + 1 < len(chars) else ""
                # before a digit always ('Pl9300…' is P193 00…); after one unless a word goes on ('10st')
                if after.isdigit() or (before.isdigit() and not ordinary_letter(after)):
                    chars[i] = _LOOKALIKE[ch]
    return "".join(chars)


# Digit groups and what may stand between the digits of one number: up to three characters of
# white space, any dash (hyphen, en/em dash, minus sign, …), dots, slashes, colons, underscores,
# parentheses and the centenarian '+'; or a single comma.
_GROUP = re.compile(r"\d+")
_JOINER = re.compile(r"[\s.\-‐‑‒–—―−﹣－+/:_()\[\]'\"‘’“”«»]{0,3}|,")

# Numbers the sources write that are not identity numbers, though their digits may spell one;
# their text is left out of the search (issue 21: false positives).
_DASH = r"[-‐‑‒–—―−]"
_CONTEXTS = [
    # IVO diary numbers: dnr 8.1-10708/2024, 3.5.1-1234/2019 (section, serial number, year)
    re.compile(r"(?<![\d.])\d{1,2}(?:\.\d{1,2}){1,3}\s?" + _DASH + r"\s?\d{1,7}/(?:19|20)\d{2}(?!\d)"),
    # Swedish phone numbers: an area code 0N, 0NN or 0NNN (or +46 N…) then a dash, slash or
    # parenthesis and the subscriber number in groups: 031-123 45 67, 070-123 45 67, (08) 123 456 78
    re.compile(r"(?<![\w.,/:'\"-])(?:\((?:08|0[1-9]\d{1,2})\)\s?|(?:08|0[1-9]\d{1,2})\s?[-‐‑–/]\s?|"
               r"(?:\+46|0046)\s?\(?0?\)?\s?(?:8|[1-9]\d{1,2})[\s-]?)"
               r"\d{1,4}(?:[\s-]\d{2,4}){0,3}(?!\d)"),
    # moments: 2024-05-01T10:30:00, 2024-05-01 10:30:00.123456+00:00 (timestamps in history)
    re.compile(r"(?<!\d)(?:19|20)\d{2}-[01]\d-[0-3]\d[T ][0-2]\d:[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?"
               r"(?:Z|[+-][0-2]\d:?[0-5]\d)?(?!\d)"),
    # date ranges: 2024-01-01–2024-12-31, 2024-01-01 - 2024-12-31, 2024-01-01 till 2024-12-31
    re.compile(r"(?<!\d)(?:19|20)\d{2}-[01]\d-[0-3]\d\s*(?:" + _DASH + r"|till|t\.o\.m\.?|tom|to)\s*"
               r"(?:19|20)\d{2}-[01]\d-[0-3]\d(?!\d)"),
]
# Phone, invoice, order and reference numbers after the word that names them (faktura 20240101-0001,
# ordernr 20231105-17): their number is no identity number unless it is a valid one, check digit
# and all (a person's number written after 'kundnr' is still a person's number).
_NAMED_NUMBERS = [
    # a phone number after a word that says so: tel 0701234567, mobil: 070 123 45 67
    re.compile(r"(?i)\b(?:tel|telefon|telefonnr|telefonnummer|tfn|mobil|mob|mobilnr|växel|fax|sms)\b[.:]?\s*"
               r"(?:\+46|0046|0)[\d\s-]{6,14}\d"),
    re.compile(r"(?i)\b(?:faktura|fakturanr|fakturanummer|fakt|order|ordernr|ordernummer|beställning|"
               r"beställningsnr|beställningsnummer|best\.?nr|kundnr|kundnummer|ocr|ocr-nr|referens|ref|"
               r"löpnr|löpnummer|avtalsnr|avtalsnummer|dnr|diarienr|diarienummer|ärendenr|ärendenummer|"
               r"verifikation|ver\.?nr)\b[.:]?\s*(?:nr\.?|nummer)?[:\s#]*[\dA-Za-z][\w./-]*\d"),
]


def _without(patterns, text: str) -> str:
    for pattern in patterns:
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    return text


def _candidates(text: str):
    """Digit strings of 10 or 12 digits that the text could spell, however separated or prefixed."""
    groups = [(m.start(), m.end(), m.group()) for m in _GROUP.finditer(text)]
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            if j > i and not _JOINER.fullmatch(text[groups[j - 1][1]:groups[j][0]]):
                break
            digits += groups[j][2]
            if len(digits) in (10, 12):
                yield digits
            if len(digits) > 12:
                if j == i:  # one long run: any 10 or 12 digits inside it
                    for n in (10, 12):
                        for k in range(len(digits) - n + 1):
                            yield digits[k:k + n]
                break


def is_identity_number(digits: str, *, checksum_wrong_too: bool = True) -> bool:
    """A personnummer or samordningsnummer (day of birth + 60) in 10 or 12 digits.

    python-stdnum checks the structure, the date of birth and the Luhn check digit. A number
    whose date is real but whose check digit is wrong is refused too: a mistyped identity
    number still points at one person. stdnum does not know samordningsnummer, so their day
    is moved back by 60 before asking it.
    """
    from stdnum.exceptions import InvalidChecksum, ValidationError as StdnumError
    from stdnum.se import personnummer

    day_at = len(digits) - 6  # YYMMDD or YYYYMMDD, then four digits
    day = int(digits[day_at:day_at + 2])
    if 61 <= day <= 91:
        digits = f"{digits[:day_at]}{day - 60:02d}{digits[day_at + 2:]}"
    try:
        personnummer.validate(digits)
    except InvalidChecksum:
        return checksum_wrong_too
    except StdnumError:
        return False
    return True


IDENTITY_NUMBER_MESSAGE = msg("value.identity_number")


def personnummer_path(value: Any, path: str = "") -> str | None:
    """The field path of the first string (or key) in `value` that holds an identity number."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            if contains_personnummer(v):
                return p or "(value)"
        elif isinstance(v, dict):
            for k, x in v.items():
                sub = f"{p}.{k}" if p else str(k)
                if isinstance(k, str) and contains_personnummer(k):
                    return sub
                stack.append((x, sub))
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{p}[{i}]") for i, x in enumerate(v))
    return None


def contains_personnummer(text: str) -> bool:
    """Whether `text` holds a personal identity number, however disguised (digits_as_read), outside
    the numbers the sources write that only look like one (diary, phone, invoice numbers, periods)."""
    if text.isascii():
        if _ASCII_DIGIT.search(text) is None:
            return False  # look-alike letters are read as digits only next to a digit
        if len(text) - len(text.translate(_NOT_DIGITS)) < 10:
            # Fewer than ten characters that could be read as digits (digits and look-alike
            # letters): no 10-digit number in it, however read (unit ids such as U-10234,
            # agreement ids: most of a register's texts)
            return False
    if len(text) <= _KNOWN_TEXT_LENGTH:
        # A batch of requests repeats its dates, places and codes thousands of times: each
        # short text is read once (the answer depends on the text alone).
        return _contains_personnummer_known(text)
    return _contains_personnummer(text)


_KNOWN_TEXT_LENGTH = 64
# ASCII digits and the ASCII letters read as digits (_LOOKALIKE): what str.translate removes
_NOT_DIGITS = str.maketrans("", "", "0123456789" + "".join(c for c in _LOOKALIKE if c.isascii()))


@functools.lru_cache(maxsize=8192)
def _contains_personnummer_known(text: str) -> bool:
    return _contains_personnummer(text)


def _contains_personnummer(text: str) -> bool:
    if not text.isascii() and _ANY_DIGIT.search(unicodedata.normalize("NFKC", text)) is None:
        return False  # (NFKC: '½', '㉑', '⑽' hold digits only once decomposed)
    # the sources' own numbers are recognised as written (a 'T' in 2024-05-01T10:30 is no 7),
    # then look-alike letters are read as digits in what is left
    text = fold_lookalikes(_without(_CONTEXTS, digits_as_read(text, fold=False)))
    if any(is_identity_number(d) for d in _candidates(_without(_NAMED_NUMBERS, text))):
        return True
    return any(is_identity_number(d, checksum_wrong_too=False) for d in _candidates(text))


# --- numbers and dates --------------------------------------------------------------------------


def whole(value: Any, *, lo: int = INT_MIN, hi: int = INT_MAX) -> int:
    """A whole number that every database stores (int32 by default)."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        else:
            raise Refused(msg("value.not_whole_number", value=_show(value)))
    if not lo <= value <= hi:
        raise Refused(msg("value.out_of_range", value=_show(value), lo=lo, hi=hi))
    return value


def finite(value: Any, *, lo: float = -MAX_AMOUNT, hi: float = MAX_AMOUNT) -> float:
    """A finite number within [lo, hi]; JSON true/false are not numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refused(msg("value.not_a_number", value=_show(value)))
    if isinstance(value, int) and not lo <= value <= hi:
        raise Refused(msg("value.out_of_range", value=_show(value), lo=f"{lo:g}", hi=f"{hi:g}"))
    value = float(value)
    if not math.isfinite(value):
        raise Refused(msg("value.not_finite", value=str(value)))
    if not lo <= value <= hi:
        raise Refused(msg("value.out_of_range", value=f"{value:g}", lo=f"{lo:g}", hi=f"{hi:g}"))
    return value


def _show(value: Any) -> str:
    """A refused value as a person reads it: text in quotes (never a Python repr), numbers as written."""
    shown = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r") if isinstance(value, str) else ""
    text = f"'{shown}'" if isinstance(value, str) else ("null" if value is None else str(value).lower()
                                                        if isinstance(value, bool) else str(value))
    return text if len(text) <= 40 else text[:37] + "…"


_DATE_WORDS = {"the date": "word.the_date", "the change's date": "word.the_change_date",
               "--signed-on: the signature date": "word.signature_date_option"}


def not_future(day: date, what: "str | Message" = "the date") -> date:
    """A date that records what happened is today or earlier."""
    now = today()
    if day > now:
        if isinstance(what, str):
            what = msg(_DATE_WORDS[what]) if what in _DATE_WORDS else what
        raise Refused(msg("date.in_future", what=what, day=day.isoformat(), today=now.isoformat()))
    return day


# --- JSON -----------------------------------------------------------------------------------------


class _JsonRefused(ValueError):
    """`token` is the text that was refused, `nth` which occurrence of it (to find its line)."""

    def __init__(self, message: "Message", token: str, nth: int = 1):
        super().__init__(message)
        self.message = message
        self.token, self.nth = token, nth

    def line_in(self, text: str) -> int | None:
        at = -1
        for _ in range(self.nth):
            at = text.find(self.token, at + 1)
            if at < 0:
                return None
        return text.count("\n", 0, at) + 1


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _JsonRefused(msg("json.duplicate_key", key=key[:40]),
                               json.dumps(key, ensure_ascii=False), nth=2)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _JsonRefused(msg("json.not_a_number", value=name), name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRefused(msg("json.too_large", value=text[:40]), text)
    return value


def _int(text: str) -> int:
    # Python refuses to convert more than 4300 digits; anything past 19 is out of range anyway.
    if len(text.lstrip("-")) > 19:
        raise _JsonRefused(msg("json.too_large", value=text[:20] + "…"), text)
    return int(text)


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_ESCAPED_CONTROL = re.compile(r"\\[ubf]")  # a \u escape (four hex digits), \b or \f can make a character bad_character refuses


def nesting_depth(text: str) -> int:
    """Deepest nesting of [ and { outside strings (linear; json.loads itself would recurse).

    The strings are cut out and the brackets counted by the regular-expression engine (a 26 MB
    register of 20,000 units in a tenth of a second, not seconds of a character loop); text with
    an unterminated string is counted character by character."""
    from itertools import accumulate

    bare = _JSON_STRING.sub("", text)
    if '"' not in bare:
        return max(accumulate(map(_BRACKET_STEP.__getitem__, _NOT_BRACKET.sub("", bare)), initial=0))
    return _nesting_depth_slow(text)


def _nesting_depth_slow(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def load_json(text: str | bytes, *, file: str | None = None, line: int | None = None) -> Any:
    """Parse JSON strictly: duplicate keys, NaN/Infinity, numbers too large and nesting deeper
    than MAX_DEPTH are refused with a ValidationError naming file and line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(Problem(
                msg("json.not_utf8", byte=f"0x{text[exc.start]:02X}", offset=exc.start),
                file=file, line=line if line is not None else text.count(b"\n", 0, exc.start) + 1)) from None
    doc = _load_json_fast(text)
    if doc is _UNSURE:
        doc = _load_json_strict(text, file=file, line=line)
    # A bad character reaches the document raw or through an escape (\\u0000, \\b, \\f): text with
    # neither holds none, and the walk of every string is left out.
    found = bad_string(doc) if _BAD.search(text) or _ESCAPED_CONTROL.search(text) else None
    if found:
        path, message = found
        record, _, field = path.rpartition(".")
        raise ValidationError(Problem(message, file=file, line=line, record=record or None, field=field or None))
    return doc


_UNSURE = object()


def _load_json_fast(text: str) -> Any:
    """The document `_load_json_strict` gives for `text`, parsed by orjson (a 26 MB register in
    0.45 s instead of 0.8 s), or _UNSURE when orjson's answer could differ from it: text orjson
    refuses (the strict parser then says why, in its words), a duplicate key (orjson keeps the
    last: one colon fewer when the document is written again; an escaped colon \\u003a could
    hide one), nesting deeper than MAX_DEPTH, a whole number of 20 digits or more or a number
    orjson reads as a float beyond 10^18 (it reads integers past 64 bits as floats)."""
    import orjson

    if "\\u003a" in text or "\\u003A" in text:
        return _UNSURE
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _UNSURE
    stack = [(doc, 1)] if type(doc) in (dict, list) else []
    deepest = 0
    while stack:
        value, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if depth > MAX_DEPTH:
                return _UNSURE
        for x in (value.values() if type(value) is dict else value):
            t = type(x)
            if t is dict or t is list:
                stack.append((x, depth + 1))
            elif t is int:
                if not -_INT_DIGITS < x < _INT_DIGITS:
                    return _UNSURE
            elif t is float and not -1e18 < x < 1e18:
                return _UNSURE
    if type(doc) in (int, float) and not -1e18 < doc < 1e18:
        return _UNSURE
    if text.count(":") != orjson.dumps(doc).count(b":"):
        return _UNSURE  # a key twice (or more): the strict parser names it
    return doc


_INT_DIGITS = 10 ** 19  # _int refuses more than 19 digits


def _load_json_strict(text: str, *, file: str | None, line: int | None) -> Any:
    """json.loads refusing duplicate keys, NaN/Infinity, numbers too large and nesting deeper
    than MAX_DEPTH, each with a ValidationError naming file and line."""
    if nesting_depth(text) > MAX_DEPTH:
        raise ValidationError(Problem(msg("json.too_deep", depth=MAX_DEPTH), file=file, line=line))
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                          parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        from .fielderrors import json_problem

        raise ValidationError(Problem(json_problem(exc), file=file,
                                      line=line if line is not None else exc.lineno)) from None
    except _JsonRefused as exc:
        raise ValidationError(Problem(exc.message, file=file, line=line if line is not None else exc.line_in(text))) from None


def bad_string(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field path, problem) of the first key or string with a control character, NUL or a lone
    surrogate (JSON escapes such as \\u0000 and \\ud800 reach Python as such characters)."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            problem = bad_character(v)
            if problem:
                return p, problem
        elif isinstance(v, dict):
            for k, x in v.items():
                sub = f"{p}.{k}" if p else str(k)
                problem = bad_character(k)
                if problem:
                    return (p or "(document)"), msg("json.key_problem", problem=problem)
                stack.append((x, sub))
        elif isinstance(v, list):
            stack.extend((x, f"{p}[{i}]") for i, x in enumerate(v))
    return None


# --- files ---------------------------------------------------------------------------------------


def write_private(path: Any, text: str) -> None:
    """Write a text file only its owner can read (0600; issue 21): an export of the register (with
    --show-protected, protected addresses) is personal data."""

    def save(target: str) -> None:
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    save_private(path, save)


def save_private(path: Any, save: Any, suffix: str = "") -> None:
    """Let `save(path)` write a file only its owner can read (0600): into a new private file that
    then replaces `path`, so a file others could read is never written into. A path that is not a
    regular file (/dev/stdout, a pipe) is written as it is."""
    import os
    import stat
    import tempfile

    target = os.fspath(path)
    try:
        if not stat.S_ISREG(os.stat(target).st_mode):
            save(target)
            return
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".placering-", suffix=suffix, dir=os.path.dirname(os.path.abspath(target)))
    os.close(fd)  # created 0600; `save` writes it by name
    try:
        save(tmp)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- click parameter types ----------------------------------------------------------------------


class TextParam(click.ParamType):
    """A command-line or environment text: the same checks as the same field in a file."""

    name = "text"

    def __init__(self, kind: str = "note", free: bool = True, empty_ok: bool = False):
        self.kind, self.free, self.empty_ok = kind, free, empty_ok

    def convert(self, value: Any, param, ctx) -> str:
        try:
            return clean_text(value, kind=self.kind, free=self.free, empty_ok=self.empty_ok)
        except ValueError as exc:
            self.fail(_said(exc), param, ctx)


def _said(exc: Exception) -> str:
    """A refusal of ours (a ValueError carrying its Message) in the people's language."""
    from .i18n import reason, said

    return said(reason(exc))


class WholeParam(click.ParamType):
    """A whole number within the database's integer range (or a narrower one)."""

    name = "integer"

    def __init__(self, lo: int = INT_MIN, hi: int = INT_MAX):
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param, ctx) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not re.fullmatch(r"[+-]?\d{1,30}", text):
                from .i18n import text

                self.fail(text("cli.not_a_whole_number", value=_show(value)), param, ctx)
            number = int(text)
        try:
            return whole(number, lo=self.lo, hi=self.hi)
        except ValueError as exc:
            self.fail(_said(exc), param, ctx)


ACTOR_OR_EMPTY = TextParam("actor", empty_ok=True)  # empty: require_actor says what is missing
NOTE = TextParam("note", empty_ok=True)  # empty: the library says whether a note is needed


# --- library calls ------------------------------------------------------------------------------


def field_text(value: Any, field: str, *, kind: str = "note", free: bool = True, optional: bool = False) -> str | None:
    """clean_text for a library function's argument: a ValidationError naming the field."""
    if optional and (value is None or (isinstance(value, str) and not nfc(value))):
        return None
    try:
        return clean_text(value, kind=kind, free=free)
    except ValueError as exc:
        raise ValidationError(Problem(getattr(exc, "message", None) or str(exc), field=field)) from None

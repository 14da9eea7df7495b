"""What people see: Swedish numbers and times, Stockholm's "today", and text safe for a terminal.

Stored times stay UTC and --json/--csv keep codes and plain numbers; only what is printed for a
person goes through here. Numbers follow CLDR's Swedish conventions (Babel): a no-break space
groups thousands and a comma marks decimals (`758 000 kr`, `12,5`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from .clock import STOCKHOLM, today  # noqa: F401  (today: the one clock's Swedish day, re-exported)

LOCALE = "sv_SE"
_SIX = Decimal("0.000001")


def local_time(value: datetime) -> datetime:
    """A stored time (UTC; naive means UTC, as SQLite returns it) in Europe/Stockholm."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(STOCKHOLM)


def fmt_datetime(value: datetime) -> str:
    """`2026-12-01 07:20` in Swedish time: minutes are what a person compares; no microseconds."""
    return local_time(value).strftime("%Y-%m-%d %H:%M")


def fmt_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return fmt_datetime(value)
    return value.isoformat()  # ISO 8601 is the Swedish standard date form (SS-ISO 8601)


@lru_cache(maxsize=None)
def _numbers():
    from babel import numbers  # imported when a number is first shown: start-up stays quick

    return numbers


def _english(lang: str | None) -> bool:
    if lang is None:
        from .i18n import language

        lang = language()
    return lang == "en"


def fmt_number(value: int | float, decimals: int | None = None, lang: str | None = None) -> str:
    """`758 000`, `11,1`, `0,25`: Swedish grouping and decimal comma (an integral float has none);
    in English (PLACERING_LANG=en, or `lang`) `758,000`, `11.1`."""
    english = _english(lang)
    if isinstance(value, bool):
        return ("yes" if value else "no") if english else ("ja" if value else "nej")
    locale = "en" if english else LOCALE
    if isinstance(value, float) and decimals is None and value.is_integer():
        value = int(value)
    if type(value) is int and not decimals:
        # A whole number: CLDR's grouping of three with the locale's separator, as Babel gives it
        # (tests/test_display_numbers.py compares), without loading Babel's locale data (~0.14 s).
        return f"{value:,}" if english else f"{value:,}".replace(",", "\u00a0")
    if type(value) is float and decimals is None and 1e-6 <= abs(value) < 1e15:
        # Babel's "#,##0.######" the same way: the float's shortest text as a decimal, rounded
        # half to even at six decimals, trailing zeros dropped.
        whole, _, frac = format(Decimal(repr(value)).quantize(_SIX, rounding=ROUND_HALF_EVEN), "f").partition(".")
        sign = "-" if whole.startswith("-") else ""
        grouped = f"{int(whole.lstrip('-')):,}"
        frac = frac.rstrip("0")
        if english:
            return sign + grouped + ("." + frac if frac else "")
        return sign + grouped.replace(",", "\u00a0") + ("," + frac if frac else "")
    if decimals is not None:
        fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
        return _numbers().format_decimal(value, format=fmt, locale=locale)
    # Up to six decimals (coordinates have four; Babel's default pattern rounds to three).
    return _numbers().format_decimal(value, format="#,##0.######", locale=locale)


def fmt_money(value: int | float | None, unit: str = "kr", lang: str | None = None) -> str:
    """`758 000 kr` (whole kronor); `758,000 SEK` in English."""
    if value is None:
        return "–"
    english = _english(lang)
    if english and unit == "kr":
        unit = "SEK"
    return f"{fmt_number(round(value), 0, 'en' if english else 'sv')}\u00a0{unit}"


def fmt_percent(share: float | None, decimals: int = 0, lang: str | None = None) -> str:
    """A share (0.91) as `91 %` (Swedish puts a space before the sign; English `91%`)."""
    if share is None:
        return ""
    if _english(lang):
        return f"{fmt_number(share * 100, decimals, 'en')}%"
    return f"{fmt_number(share * 100, decimals, 'sv')}\u00a0%"


def parse_decimal(text: str) -> float:
    """A number as a Swede types it: `12,5`, `12.5`, `1 250,5`. Raises ValueError."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", str(text))
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    elif "," in cleaned and "." in cleaned:  # grouped: English `1,234.5` (as English output says it), `1.234,5`
        cleaned = cleaned.replace(",", "") if cleaned.rfind(".") > cleaned.rfind(",") else \
            cleaned.replace(".", "").replace(",", ".")
    return float(cleaned)


# Control characters (C0 but newline and tab, DEL, C1) and the invisible direction overrides
# that can make a terminal clear itself, retitle its window, hide text or reorder a line.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(m: re.Match) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """Text from data, fit for a terminal: every control character shown as `\\x1b`, not obeyed."""
    s = str(text)
    return _UNSAFE.sub(_visible, s) if _UNSAFE.search(s) else s


def safe_json(text: str) -> str:
    """JSON text with C1 controls and direction overrides escaped (json.dumps with
    ensure_ascii=False leaves them raw; a \\u escape of a character is still the same JSON string)."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

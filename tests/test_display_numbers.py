"""Whole numbers are formatted without Babel's locale data (display.fmt_number's quick path):
the text must be exactly what Babel's CLDR formatting gives, in Swedish and English."""

import pytest
from babel import numbers

from placering.display import fmt_money, fmt_number

VALUES = [0, 7, -7, 999, 1000, -1000, 12_345, -1_234_567, 758_000, 10**12, 5.0, -2000.0]


@pytest.mark.parametrize("lang,locale", [("sv", "sv_SE"), ("en", "en")])
def test_whole_numbers_match_babel(lang, locale):
    for v in VALUES:
        expected = numbers.format_decimal(int(v) if isinstance(v, float) else v, format="#,##0.######", locale=locale)
        assert fmt_number(v, lang=lang) == expected
        if isinstance(v, int):
            assert fmt_number(v, 0, lang=lang) == numbers.format_decimal(v, format="#,##0", locale=locale)
    assert fmt_money(758_000.4, lang=lang) == (
        "758\u00a0000\u00a0kr" if lang == "sv" else "758,000\u00a0SEK")


def test_other_numbers_still_use_babel():
    assert fmt_number(12.5, lang="sv") == "12,5"
    assert fmt_number(1234.25, 1, lang="sv") == "1\u00a0234,2"  # half to even, as Babel rounds
    assert fmt_number(2.0, 0, lang="en") == "2"
    assert fmt_number(True, lang="sv") == "ja"


def test_decimal_numbers_match_babel():
    import random

    rnd = random.Random(22)
    values = [0.5, -0.5, 1.0000005, 1.0000015, 2.5e-6, -2.5e-6, 1e-6, 999999.9999995, 0.1 + 0.2, -98765.4321]
    values += [rnd.choice((1, -1)) * 10 ** rnd.uniform(-7, 15) for _ in range(300)]
    for v in values:
        for lang, locale in (("sv", "sv_SE"), ("en", "en")):
            expected = numbers.format_decimal(int(v) if v.is_integer() else v, format="#,##0.######", locale=locale)
            assert fmt_number(v, lang=lang) == expected, (v, lang)

"""The one clock: every "now" and "today" in placering comes from here.

Stored times are UTC (`now`); the register's days are Swedish days (`today`, Europe/Stockholm),
so a change made at 00:30 in Sweden on a server running on UTC (23:30 the day before) is dated
the Swedish day. Tests pin the clock by replacing `now` (tests/test_clock.py).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def now() -> datetime:
    """The current time, UTC (what is stored)."""
    return datetime.now(timezone.utc)


def today() -> date:
    """Today in Sweden: the date of `now()` in Europe/Stockholm."""
    return now().astimezone(STOCKHOLM).date()


def add_months(d: date, months: int) -> date:
    """The same day `months` later (earlier when negative), or the month's last day."""
    import calendar

    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))

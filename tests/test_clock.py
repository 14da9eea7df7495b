"""'Today' is the Swedish day (Europe/Stockholm) and times are shown in Swedish time, whatever
zone the server runs in: the clock is pinned at 23:30 UTC on 14 March 2026, which is 00:30 on
15 March in Stockholm. Every "now" and "today" in placering comes from placering.clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from placering import clock
from test_register_import import ORG_ANGEN, load

PINNED = datetime(2026, 3, 14, 23, 30, 5, 123456, tzinfo=timezone.utc)  # 00:30 on 15 March in Stockholm


@pytest.fixture
def pinned(monkeypatch, run, tmp_path):
    load(run, tmp_path)
    monkeypatch.setattr(clock, "now", lambda: PINNED)
    return run


def test_the_pinned_clock_is_past_midnight_in_stockholm():
    assert PINNED.date().isoformat() == "2026-03-14"
    assert clock.STOCKHOLM.key == "Europe/Stockholm"


def test_a_change_without_a_date_is_dated_the_swedish_day(pinned):
    result = pinned("register", "status", "U-1001", "watch", "--by", "kvalitet", "--note", "Kreditbetyg 35", "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert entry["effective_on"] == "2026-03-15"  # not the UTC date, 2026-03-14
    shown = json.loads(pinned("register", "show", "U-1001", "--json").stdout)
    assert shown["status_since"] == "2026-03-15"


def test_a_check_dated_the_swedish_today_is_not_in_the_future(pinned):
    # On a UTC server date.today() is 14 March: the check would be refused as dated after today.
    result = pinned("register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", "72",
                    "--on", "2026-03-15", "--by", "kvalitet", "--json")
    assert result.exit_code == 0, result.output
    refused = pinned("register", "check", ORG_ANGEN, "credit_rating", "--result", "pass", "--value", "72",
                     "--on", "2026-03-16", "--by", "kvalitet")
    assert refused.exit_code == 2
    assert "2026-03-15" in refused.stderr  # names today, the Swedish day


def test_times_are_shown_in_swedish_time_and_stored_in_utc(pinned):
    pinned("register", "status", "U-1001", "watch", "--by", "kvalitet", "--note", "Kreditbetyg 35")
    stored = json.loads(pinned("register", "history", "U-1001", "--json", "--limit", "1").stdout)[-1]
    assert stored["recorded_at"].startswith("2026-03-14T23:30:05")  # UTC, as stored
    shown = pinned("register", "history", "U-1001", "--limit", "1", env={"COLUMNS": "200"}).stdout
    assert "2026-03-15 00:30" in shown  # Stockholm (CET, UTC+1), minutes only
    assert "23:30" not in shown and "123456" not in shown


def test_audit_as_of_defaults_to_the_swedish_day(pinned):
    doc = json.loads(pinned("audit", "paused", "--json").stdout)
    assert doc["as_of"] == "2026-03-15"


def test_every_now_and_today_comes_from_the_one_clock():
    """No module reads the system clock itself: a date.today() follows the server's zone (a day
    back before 01:00 in Sweden on a UTC server) and cannot be pinned by a test."""
    import re
    from pathlib import Path

    import placering

    root = Path(placering.__file__).parent
    reads = re.compile(r"\b(?:date\.today|datetime\.now|datetime\.utcnow|datetime\.today)\(")
    allowed = {"clock.py"}
    found = [f"{p.relative_to(root)}:{n}" for p in sorted(root.rglob("*.py")) if str(p.relative_to(root)) not in allowed
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if reads.search(line)]
    assert found == []

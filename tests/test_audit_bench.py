"""`placering bench audit` runs end to end on a small register (figures are printed, never
asserted): it builds the register and its synthetic history, and the history it writes is
history the audits can read."""

from __future__ import annotations

import json

from placering.bench.audit_history import history_start


def test_bench_audit_builds_history_and_times_paused(run):
    result = run("bench", "audit", "--units", "60", "--years", "2", "--repeat", "1", "--until", "2024-12-31",
                 "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["build"]["units"] >= 55
    assert doc["build"]["history_from"] == "2023-01-01"
    assert doc["size"]["history_entries"] > doc["build"]["history_entries"] > 0
    assert [t["as_of"] for t in doc["paused_as_of"]] == ["2023-01-01", "2024-06-30", "2024-12-31"]
    last = doc["paused_as_of"][-1]
    # The timed answer is the audit's own answer for that date.
    paused = json.loads(run("audit", "paused", "--as-of", "2024-12-31", "--json").stdout)
    assert (last["paused"], last["watch"]) == (len(paused["paused"]), len(paused["watch"]))
    # The synthetic changes are ordinary history: the log summary counts them per actor.
    summary = json.loads(run("audit", "log", "--summary", "--action", "status", "--json").stdout)
    assert sum(g["changes"] for g in summary["summary"]) >= doc["build"]["unit_status"]
    # A second build on the same database is refused; --reuse times the one there.
    again = run("bench", "audit", "--units", "60", "--years", "2")
    assert again.exit_code != 0 and "innehåller redan" in again.stderr
    reuse = run("bench", "audit", "--reuse", "--years", "2", "--repeat", "1", "--json")
    assert reuse.exit_code == 0 and json.loads(reuse.stdout)["build"] == {}


def test_history_start_is_whole_years():
    from datetime import date

    assert history_start(date(2024, 12, 31), 5) == date(2020, 1, 1)
    assert history_start(date(2024, 2, 29), 1) == date(2023, 3, 1)

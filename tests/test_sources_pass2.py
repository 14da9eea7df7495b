"""Issue 20: a second pass over the source documents (../shared/sources). Each test is written
from the quoted source lines named in its docstring, through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest


def out(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- item 15: the demo at 2024-12-31 ------------------------------------------------------------


def test_init_demo_as_of_2024_12_31_has_parameters_for_its_whole_history(run):
    """`placering init --demo --as-of 2024-12-31` failed: its six years of history start on
    2018-01-01 and entry_checks_required had no value before 2020-01-01. Values whose source
    gives no start date (004 l. 1249-1260 entry checks; 000 l. 10431-10448 Creditsafe) now hold
    from before any history, so the demo loads and audits of its early years answer."""
    first = out(run("init", "--demo", "--as-of", "2024-12-31", "--json"))
    assert first["demo"]["units_created"] == 900 and first["demo"]["as_of"] == "2024-12-31"
    due = out(run("audit", "checks-due", "--as-of", "2018-06-30", "--json"))
    assert due["checks"] and due["validity_days"]["credit_rating"] == 31
    paused = out(run("audit", "paused", "--as-of", "2018-06-30", "--json"))
    assert all(p["since"] <= "2018-06-30" for p in paused["paused"])


def test_every_parameter_the_demo_history_reads_covers_its_first_day():
    from placering.demo.generator import DEMO_AS_OF
    from placering.demo.history import YEARS
    from placering.rules import load_ruleset

    first_day = date(DEMO_AS_OF.year - YEARS, 1, 1)
    rs = load_ruleset()
    for name in ("entry_checks_required", "check_validity_days", "credit_rating_notification_level",
                 "credit_rating_unpublish_level", "complaints_deepened_control_count",
                 "complaints_similar_window_months", "permit_required_insatser", "ivo_unexecuted_months",
                 "placement_agreement_price_tolerance_sek", "protected_distance_band_km"):
        assert rs.param(name, first_day) is not None, name

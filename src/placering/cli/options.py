"""Options spelled the same in every command that takes them (`--as-of`, `--year`, `--since`,
`--until`), for the audits and the case-work commands alike."""

from __future__ import annotations

from datetime import date

import click

from .. import boundary
from ..display import today
from .common import parse_date

AS_OF = click.option("--as-of", "as_of", metavar="DATE",
                     help="The date to answer for (YYYY-MM-DD); default today (Europe/Stockholm).")
YEAR = click.option("--year", "year", type=boundary.WholeParam(), default=None, metavar="YYYY",
                    help="The calendar (financial) year, e.g. 2024; default the current year.")
SINCE = click.option("--since", metavar="DATE", help="Changes effective on or after this date (YYYY-MM-DD).")
UNTIL = click.option("--until", metavar="DATE", help="Changes effective on or before this date (YYYY-MM-DD).")


def as_of_day(value: str | None) -> date:
    return parse_date(value, "--as-of") or today()


def year_or_this(year: int | None) -> int:
    return year if year is not None else today().year

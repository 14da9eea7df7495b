"""The one way a placement is priced over a financial year (casework/economics.py, the review
queue and `audit direct-procurement`), without SQLAlchemy: the direct reads use it too."""

from __future__ import annotations

from datetime import date


def year_cost(daily_price: float | None, start_on: date, end_on: date | None, year: int) -> float:
    """Daily price × days of the placement that fall in `year` (both ends included)."""
    if daily_price is None:
        return 0.0
    first = max(start_on, date(year, 1, 1))
    last = min(end_on or date(year, 12, 31), date(year, 12, 31))
    days = (last - first).days + 1
    return float(daily_price) * days if days > 0 else 0.0

"""The auditors' reports as documents: what `placering audit …` prints with --json, and what
the API's audit routes return (the CLI, here or through the server, and the server call these
same functions). Each opens its own read-only session and returns plain JSON data."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..clock import today
from ..jsondata import to_jsonable
from ..storage import open_session


def _report(engine, build) -> dict[str, Any]:
    with open_session(engine) as session:
        report = build(session)
        return to_jsonable(report if isinstance(report, dict) else report.to_dict())


def _year(year: int | None) -> int:
    return year if year is not None else today().year


def paused(engine, *, as_of: date | None = None, insats: str | None = None, route: str | None = None,
           municipality: str | None = None, status: str | None = None) -> dict[str, Any]:
    from .paused import paused as build

    return _report(engine, lambda s: build(s, as_of or today(), insats=insats, route=route,
                                           municipality=municipality, status=status))


def affected_placements(engine, *, as_of: date | None = None) -> dict[str, Any]:
    from .placements import affected_placements as build

    return _report(engine, lambda s: build(s, as_of or today()))


def entries(engine, *, since: date | None = None, until: date | None = None, period: str = "half") -> dict[str, Any]:
    from .entries import entries_report

    return _report(engine, lambda s: entries_report(s, since=since, until=until, period=period))


def removals(engine, *, year: int | None = None) -> dict[str, Any]:
    from .yearly import removals as build

    return _report(engine, lambda s: build(s, _year(year)))


def requests(engine, *, year: int | None = None) -> dict[str, Any]:
    from .yearly import requests as build

    return _report(engine, lambda s: build(s, _year(year)))


def checks_due(engine, *, as_of: date | None = None, kind: str | None = None,
               supplier: str | None = None) -> dict[str, Any]:
    from .checks import checks_due as build

    return _report(engine, lambda s: build(s, as_of or today(), kind=kind, supplier=supplier))


def prices_due(engine, *, as_of: date | None = None, supplier: str | None = None) -> dict[str, Any]:
    """`audit prices-due`: route prices not confirmed as current within the dated period (issue 20 item 4)."""
    from .prices import prices_due as build

    return _report(engine, lambda s: build(s, as_of or today(), supplier=supplier))


def direct_procurement(engine, *, year: int | None = None) -> dict[str, Any]:
    from .yearly import direct_procurement as build

    return _report(engine, lambda s: build(s, _year(year)))


def adherence(engine, *, year: int | None = None) -> dict[str, Any]:
    from .yearly import adherence as build

    return _report(engine, lambda s: build(s, _year(year)))


def visits(engine, *, as_of: date | None = None, level: int | None = None) -> dict[str, Any]:
    from .visits import visits as build

    return _report(engine, lambda s: build(s, as_of or today(), level=level))


def log(engine, *, actor: str | None = None, unit: str | None = None, supplier: str | None = None,
        kind: str | None = None, action: str | None = None, since: date | None = None, until: date | None = None,
        summary: bool = False, limit: int | None = None, show_protected: bool = False) -> dict[str, Any]:
    from .log import audit_log

    return _report(engine, lambda s: audit_log(s, actor=actor, unit=unit, supplier=supplier, kind=kind, action=action,
                                               since=since, until=until, summary=summary, limit=limit,
                                               show_protected=show_protected))

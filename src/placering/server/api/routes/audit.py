"""The auditors' reports through the API: what `placering audit …` prints with --json, by the
same functions (audit/views.py). Read-only; audit.read."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Engine

from ....access.policy import Action, Principal
from ....audit import views
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter(prefix="/audit", tags=["audit"])

Code = Annotated[str | None, Query(max_length=200)]
Year = Annotated[int | None, Query(ge=1, le=9999)]
auditor = require(Action.AUDIT_READ)


@router.get("/paused", responses=ERRORS)
def paused(as_of: date | None = None, insats: Code = None, route: Code = None, municipality: Code = None,
           status: Code = None, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit paused --json`: units and agreements that may not be recommended or
    ordered from on a date, and the units on watch, from history alone."""
    return answer(principal, views.paused, engine, as_of=as_of, insats=insats, route=route,
                  municipality=municipality, status=status)


@router.get("/affected-placements", responses=ERRORS)
def affected_placements(as_of: date | None = None, engine: Engine = Depends(get_engine),
                        principal: Principal = Depends(auditor)):
    """`placering audit affected-placements --json`."""
    return answer(principal, views.affected_placements, engine, as_of=as_of)


@router.get("/entries", responses=ERRORS)
def entries(since: date | None = None, until: date | None = None,
            period: Annotated[str, Query(max_length=20)] = "half", engine: Engine = Depends(get_engine),
            principal: Principal = Depends(auditor)):
    """`placering audit entries --json`: entry checks decided per period."""
    return answer(principal, views.entries, engine, since=since, until=until, period=period)


@router.get("/removals", responses=ERRORS)
def removals(year: Year = None, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit removals --json`."""
    return answer(principal, views.removals, engine, year=year)


@router.get("/requests", responses=ERRORS)
def requests(year: Year = None, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit requests --json`."""
    return answer(principal, views.requests, engine, year=year)


@router.get("/checks-due", responses=ERRORS)
def checks_due(as_of: date | None = None, kind: Code = None, supplier: Code = None,
               engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit checks-due --json`."""
    return answer(principal, views.checks_due, engine, as_of=as_of, kind=kind, supplier=supplier)


@router.get("/prices-due", responses=ERRORS)
def prices_due(as_of: date | None = None, supplier: Code = None,
               engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit prices-due --json` (issue 20 item 4)."""
    return answer(principal, views.prices_due, engine, as_of=as_of, supplier=supplier)


@router.get("/direct-procurement", responses=ERRORS)
def direct_procurement(year: Year = None, engine: Engine = Depends(get_engine),
                       principal: Principal = Depends(auditor)):
    """`placering audit direct-procurement --json`."""
    return answer(principal, views.direct_procurement, engine, year=year)


@router.get("/adherence", responses=ERRORS)
def adherence(year: Year = None, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit adherence --json`."""
    return answer(principal, views.adherence, engine, year=year)


@router.get("/visits", responses=ERRORS)
def visits(as_of: date | None = None, level: Annotated[int | None, Query(ge=-2**31, le=2**31)] = None,
           engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit visits --json`."""
    return answer(principal, views.visits, engine, as_of=as_of, level=level)


@router.get("/log", responses=ERRORS)
def log(actor: Code = None, unit: Code = None, supplier: Code = None, kind: Code = None, action: Code = None,
        since: date | None = None, until: date | None = None, summary: bool = False,
        limit: Annotated[int | None, Query(ge=0, le=10_000_000)] = None, show_protected: bool = False,
        engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit log --json`: the change history, filtered."""
    return answer(principal, views.log, engine, actor=actor, unit=unit, supplier=supplier, kind=kind, action=action,
                  since=since, until=until, summary=summary, limit=limit, show_protected=show_protected)

"""The register (utförarregister) through the API: what `placering register …` does, by the
same functions (register/views.py). Reads need register.read (history: history.read); each
change its own action (access/policy.py), recorded in history under the signed-in person."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ....access.policy import Action, Principal
from ....register import views
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter(tags=["register"])

Id = Annotated[str, Path(min_length=1, max_length=200)]
Text = Annotated[str | None, Field(default=None, max_length=2000)]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitStatus(Change):
    status: str = Field(max_length=100)
    on: date | None = Field(default=None, description="When it takes effect (default today)")
    reason: Text = Field(default=None, description="Removal reason code, required for 'removed'")
    note: Text = None


class AgreementStatus(Change):
    status: str = Field(max_length=100)
    on: date | None = None
    note: Text = None
    supplier: str | None = Field(default=None, max_length=100, description="Only this supplier's participation")


class CheckIn(Change):
    kind: str = Field(max_length=100)
    result: str = Field(max_length=100)
    on: date = Field(description="The day the check was performed")
    value: float | None = None
    source: Text = None


class PermitIn(Change):
    dnr: str = Field(min_length=1, max_length=200)
    status: str = Field(max_length=100)
    on: date = Field(description="The day of IVO's decision")
    insats: str | None = Field(default=None, max_length=100)
    target_groups: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)


class ComplaintIn(Change):
    category: str = Field(max_length=100)
    on: date = Field(description="The day it was received")
    outcome: str = Field(default="pending", max_length=100)
    note: Text = None
    received_by: str = Field(default="Spink", max_length=200)


class VisitIn(Change):
    on: date
    note: Text = None


class Decision(Change):
    note: str = Field(min_length=1, max_length=2000)
    on: date | None = None


@router.get("/register/search", responses=ERRORS)
def search(text: Annotated[str, Query(min_length=1, max_length=200)],
           insats: Annotated[str | None, Query(max_length=100)] = None,
           route: Annotated[str | None, Query(max_length=100)] = None,
           status: Annotated[str | None, Query(max_length=100)] = None,
           municipality: Annotated[str | None, Query(max_length=100)] = None,
           limit: Annotated[int, Query(ge=0, le=100_000)] = 20,
           engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REGISTER_READ))):
    """`placering register search TEXT --json`."""
    return answer(principal, views.search, engine, text, insats=insats, route=route, status=status,
                  municipality=municipality, limit=limit)


@router.get("/register/history", responses=ERRORS)
def history(ident: Annotated[str | None, Query(max_length=200)] = None,
            unit_id: Annotated[str | None, Query(max_length=200)] = None,
            org_nr: Annotated[str | None, Query(max_length=100)] = None,
            actor: Annotated[str | None, Query(max_length=200)] = None,
            kind: Annotated[str | None, Query(max_length=100)] = None,
            since: date | None = None, until: date | None = None,
            limit: Annotated[int | None, Query(ge=1, le=10_000_000)] = None, show_protected: bool = False,
            engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.HISTORY_READ))):
    """`placering register history [ID] --json`: every change, oldest first."""
    return answer(principal, views.history, engine, ident, unit_id=unit_id, org_nr=org_nr, actor=actor, kind=kind,
                  since=since, until=until, limit=limit, show_protected=show_protected)


@router.get("/register/proposals", responses=ERRORS)
def proposals(status: Annotated[str | None, Query(pattern="^(open|accepted|dismissed)$")] = None,
              engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REGISTER_READ))):
    """`placering register proposals --json`: the register rules' worklist."""
    return answer(principal, views.proposals, engine, status=status)


@router.post("/register/proposals/{proposal_id}/{decision}", responses=ERRORS)
def decide_proposal(proposal_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                    decision: Annotated[str, Path(pattern="^(accept|dismiss)$")], body: Decision,
                    engine: Engine = Depends(get_engine),
                    principal: Principal = Depends(require(Action.REGISTER_PROPOSAL))):
    """`placering register proposals accept|dismiss ID --note …`."""
    return answer(principal, views.decide_proposal, engine, proposal_id, accept=decision == "accept",
                  actor=principal.login, note=body.note)


@router.get("/register/entries", responses=ERRORS)
def pending_entries(on: date | None = None, engine: Engine = Depends(get_engine),
                    principal: Principal = Depends(require(Action.REGISTER_READ))):
    """`placering register entry list --json`: units waiting for their entry check."""
    return answer(principal, views.pending_entries, engine, on=on)


@router.post("/register/entries/{ident}/{decision}", responses=ERRORS)
def decide_entry(ident: Id, decision: Annotated[str, Path(pattern="^(approve|reject)$")], body: Decision,
                 engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.REGISTER_ENTRY))):
    """`placering register entry approve|reject UNIT_ID|ORG_NR`."""
    return answer(principal, views.decide_entry, engine, ident, approve=decision == "approve", text=body.note,
                  actor=principal.login, on=body.on)


@router.post("/register/import", responses=ERRORS, openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "The interchange JSON (placering-register/1)"}},
    "text/csv": {"schema": {"type": "string", "description": "The unit CSV (see `placering register import "
                            "--help`)"}}}}})
async def import_file(request: Request, name: Annotated[str, Query(min_length=1, max_length=500)] = "register.json",
                      on: date | None = None, dry_run: bool = False, move_units: bool = False,
                      apply_status: bool = False, skip_conflicts: bool = False, engine: Engine = Depends(get_engine),
                      principal: Principal = Depends(require(Action.REGISTER_IMPORT))):
    """`placering register import FILE`: the file is the request body as it is (JSON or CSV, told
    apart by `name`'s extension or the content); all or nothing; the summary as --json prints it."""
    from starlette.concurrency import run_in_threadpool

    data = await request.body()
    return await run_in_threadpool(answer, principal, views.import_file, engine, data, name, actor=principal.login,
                                   dry_run=dry_run, effective_on=on, move_units=move_units,
                                   apply_status=apply_status, skip_conflicts=skip_conflicts)


@router.post("/register/units/{unit_id}/status", responses=ERRORS)
def change_status(unit_id: Id, body: UnitStatus, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.REGISTER_STATUS))):
    """`placering register status UNIT_ID STATUS`: the history entry."""
    return answer(principal, views.change_status, engine, unit_id, body.status, actor=principal.login,
                  reason=body.reason, note=body.note, effective_on=body.on)


@router.post("/register/agreements/{agreement_id}/status", responses=ERRORS)
def change_agreement(agreement_id: Id, body: AgreementStatus, engine: Engine = Depends(get_engine),
                     principal: Principal = Depends(require(Action.REGISTER_AGREEMENT))):
    """`placering register agreement AGREEMENT_ID STATUS`: the history entry."""
    return answer(principal, views.change_agreement, engine, agreement_id, body.status, actor=principal.login,
                  note=body.note, supplier=body.supplier, effective_on=body.on)


@router.post("/register/suppliers/{org_nr}/checks", responses=ERRORS)
def record_check(org_nr: Id, body: CheckIn, engine: Engine = Depends(get_engine),
                 principal: Principal = Depends(require(Action.REGISTER_CHECK))):
    """`placering register check ORG_NR KIND`: the history entry and what the register rules did."""
    return answer(principal, views.record_check, engine, org_nr, body.kind, body.result, performed_on=body.on,
                  actor=principal.login, value=body.value, source=body.source)


@router.post("/register/units/{unit_id}/permits", responses=ERRORS)
def record_permit(unit_id: Id, body: PermitIn, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.REGISTER_PERMIT))):
    """`placering register permit UNIT_ID`: the history entry and what the register rules did."""
    return answer(principal, views.record_permit, engine, unit_id, dnr=body.dnr, status=body.status,
                  decided_on=body.on, actor=principal.login, insats=body.insats, target_groups=body.target_groups)


@router.post("/register/units/{unit_id}/complaints", responses=ERRORS)
def record_complaint(unit_id: Id, body: ComplaintIn, engine: Engine = Depends(get_engine),
                     principal: Principal = Depends(require(Action.COMPLAINT_WRITE))):
    """`placering register complaint UNIT_ID`: the history entry and what the register rules did."""
    return answer(principal, views.record_complaint, engine, unit_id, category=body.category, received_on=body.on,
                  actor=principal.login, outcome=body.outcome, note=body.note, received_by=body.received_by)


@router.post("/register/units/{unit_id}/visits", responses=ERRORS)
def record_visit(unit_id: Id, body: VisitIn, engine: Engine = Depends(get_engine),
                 principal: Principal = Depends(require(Action.REGISTER_VISIT))):
    """`placering register visit UNIT_ID`: the history entry."""
    return answer(principal, views.record_visit, engine, unit_id, visited_on=body.on, actor=principal.login,
                  note=body.note)


@router.get("/units/{unit_id}", responses=ERRORS)
def get_unit(unit_id: Id, engine: Engine = Depends(get_engine),
             principal: Principal = Depends(require(Action.REGISTER_READ))):
    """One unit as `placering register show UNIT_ID --json` shows it (a protected address's
    location left out)."""
    return answer(principal, views.show_unit, engine, unit_id)


@router.get("/register/{ident}", responses=ERRORS)
def show(ident: Id, show_protected: bool = False, engine: Engine = Depends(get_engine),
         principal: Principal = Depends(require(Action.REGISTER_READ))):
    """`placering register show ID --json`: a supplier (org nr) with its units, a unit, or an
    agreement; ids ignore case, and a unit's exact name finds it."""
    return answer(principal, views.show, engine, ident, show_protected=show_protected)

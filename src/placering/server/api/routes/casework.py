"""The case work through the API: placements (decision period, agreed price, agreement, the
three-month survey), complaints, deepened controls, follow-ups, and their audits: what `placering
placement / complaint / control / followup …` do, by the same functions (casework/views.py). A
placement is a case of its request's municipality (a social worker: its own only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Engine

from ....access.policy import Action, Principal
from ....casework import views
from ...deps import get_engine, require
from ._domain import ERRORS, answer

router = APIRouter(tags=["casework"])

Id = Annotated[str, Path(min_length=1, max_length=200)]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]
Code = Annotated[str | None, Query(max_length=200)]
Text = Annotated[str | None, Field(default=None, max_length=2000)]
Price = Annotated[float | None, Field(default=None, ge=0, le=1_000_000_000)]


class Change(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionIn(Change):
    decision_from: date | None = None
    decision_to: date | None = None
    agreed_price: Price = None
    agreed_by: Text = None
    note: Text = None


class AgreementIn(Change):
    period_from: date | None = None
    period_to: date | None = None
    daily_price: Price = None
    signed_on: date | None = None
    note: Text = None


class SurveyIn(Change):
    answered_on: date
    positive_change: bool
    care_quality: str = Field(max_length=100)
    child_answered: bool


class ComplaintIn(Change):
    category: str = Field(max_length=100)
    on: date
    outcome: str = Field(default="pending", max_length=100)
    note: Text = None
    received_by: str = Field(default="Spink", max_length=200)
    categories: list[str] = Field(default_factory=list, max_length=20)  # further categories (issue 20 item 8)
    complainant_ref: Text = None
    individual_level: bool = False


class ComplaintChange(Change):
    status: str | None = Field(default=None, max_length=100)
    outcome: str | None = Field(default=None, max_length=100)
    note: Text = None
    on: date | None = None


class ControlOpen(Change):
    on: date
    org_nr: str | None = Field(default=None, max_length=100)
    unit_id: str | None = Field(default=None, max_length=200)
    proposal_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    reason: Text = None


class ControlCheck(Change):
    finding: str = Field(min_length=1, max_length=2000)
    on: date


class ControlDecision(Change):
    outcome: str = Field(max_length=100)
    note: str = Field(min_length=1, max_length=2000)
    on: date
    removal_reason: str | None = Field(default=None, max_length=100)


class FollowupIn(Change):
    months: int = Field(ge=-2**31, le=2**31)
    done_on: date
    findings: str = Field(min_length=1, max_length=2000)


# --- placements ---------------------------------------------------------------------------------


@router.get("/placements/{request_id}", responses=ERRORS)
def placement_show(request_id: Id, engine: Engine = Depends(get_engine),
                   principal: Principal = Depends(require(Action.REQUEST_READ))):
    """`placering placement show R --json`."""
    return answer(principal, views.placement_show, engine, request_id)


@router.post("/placements/{request_id}/decision", responses=ERRORS)
def placement_decision(request_id: Id, body: DecisionIn, engine: Engine = Depends(get_engine),
                       principal: Principal = Depends(require(Action.PLACEMENT_WRITE))):
    """`placering placement decision R`: the decision period and agreed price."""
    return answer(principal, views.placement_decision, engine, request_id, actor=principal.login,
                  **body.model_dump())


@router.post("/placements/{request_id}/agreement", responses=ERRORS)
def placement_agreement(request_id: Id, body: AgreementIn, engine: Engine = Depends(get_engine),
                        principal: Principal = Depends(require(Action.PLACEMENT_WRITE))):
    """`placering placement agreement R`: the placement agreement (placeringsavtal)."""
    return answer(principal, views.placement_agreement, engine, request_id, actor=principal.login,
                  **body.model_dump())


@router.post("/placements/{request_id}/survey", responses=ERRORS)
def followup_survey(request_id: Id, body: SurveyIn, engine: Engine = Depends(get_engine),
                    principal: Principal = Depends(require(Action.SURVEY_WRITE))):
    """`placering followup survey R`: the three-month survey's answers."""
    return answer(principal, views.followup_survey, engine, request_id, actor=principal.login, **body.model_dump())


# --- complaints ---------------------------------------------------------------------------------


@router.get("/complaints", responses=ERRORS)
def complaint_list(handler: Code = None, status: Code = None, org_nr: Code = None, unit_id: Code = None,
                   category: Code = None, open_only: bool = False, complainant_ref: Code = None,
                   engine: Engine = Depends(get_engine),
                   principal: Principal = Depends(require(Action.CASEWORK_READ))):
    """`placering complaint list --json`."""
    return answer(principal, views.complaint_list, engine, handler=handler, status=status, org_nr=org_nr,
                  unit_id=unit_id, category=category, open_only=open_only, complainant_ref=complainant_ref)


@router.get("/complaints/queues", responses=ERRORS)
def complaint_queue(handler: Code = None, engine: Engine = Depends(get_engine),
                    principal: Principal = Depends(require(Action.CASEWORK_READ))):
    """`placering complaint queue --json`."""
    return answer(principal, views.complaint_queue, engine, handler=handler)


@router.post("/complaints/units/{unit_id}", responses=ERRORS)
def complaint_add(unit_id: Id, body: ComplaintIn, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.COMPLAINT_WRITE))):
    """`placering complaint add UNIT`: routed to INK or Spink; the register rules see it."""
    return answer(principal, views.complaint_add, engine, unit_id, received_on=body.on, category=body.category,
                  actor=principal.login, outcome=body.outcome, note=body.note, received_by=body.received_by,
                  categories=body.categories, complainant_ref=body.complainant_ref,
                  individual_level=body.individual_level)


@router.post("/complaints/{complaint_id}", responses=ERRORS)
def complaint_update(complaint_id: Number, body: ComplaintChange, engine: Engine = Depends(get_engine),
                     principal: Principal = Depends(require(Action.COMPLAINT_WRITE))):
    """`placering complaint update ID`."""
    return answer(principal, views.complaint_update, engine, complaint_id, actor=principal.login,
                  **body.model_dump())


# --- deepened controls --------------------------------------------------------------------------


@router.get("/controls", responses=ERRORS)
def control_list(status: Code = None, outcome: Code = None, org_nr: Code = None,
                 engine: Engine = Depends(get_engine), principal: Principal = Depends(require(Action.CASEWORK_READ))):
    """`placering control list --json`."""
    return answer(principal, views.control_list, engine, status=status, outcome=outcome, org_nr=org_nr)


@router.get("/controls/{control_id}", responses=ERRORS)
def control_show(control_id: Number, engine: Engine = Depends(get_engine),
                 principal: Principal = Depends(require(Action.CASEWORK_READ))):
    """`placering control show ID --json`."""
    return answer(principal, views.control_show, engine, control_id)


@router.post("/controls", responses=ERRORS)
def control_open(body: ControlOpen, engine: Engine = Depends(get_engine),
                 principal: Principal = Depends(require(Action.CONTROL_WRITE))):
    """`placering control open [ORG_NR]`."""
    return answer(principal, views.control_open, engine, actor=principal.login, **body.model_dump())


@router.post("/controls/{control_id}/checks/{what}", responses=ERRORS)
def control_check(control_id: Number, what: Id, body: ControlCheck, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.CONTROL_WRITE))):
    """`placering control check ID WHAT --finding …`."""
    return answer(principal, views.control_check, engine, control_id, what, actor=principal.login,
                  finding=body.finding, on=body.on)


@router.post("/controls/{control_id}/decision", responses=ERRORS)
def control_decide(control_id: Number, body: ControlDecision, engine: Engine = Depends(get_engine),
                   principal: Principal = Depends(require(Action.CONTROL_WRITE))):
    """`placering control decide ID OUTCOME --note …`: status outcomes go through the register."""
    return answer(principal, views.control_decide, engine, control_id, body.outcome, note=body.note,
                  actor=principal.login, on=body.on, removal_reason=body.removal_reason)


# --- follow-ups ---------------------------------------------------------------------------------


@router.get("/followups", responses=ERRORS)
def followup_list(agreement_id: Code = None, engine: Engine = Depends(get_engine),
                  principal: Principal = Depends(require(Action.CASEWORK_READ))):
    """`placering followup list --json`."""
    return answer(principal, views.followup_list, engine, agreement_id=agreement_id)


@router.post("/followups/{agreement_id}", responses=ERRORS)
def followup_agreement(agreement_id: Id, body: FollowupIn, engine: Engine = Depends(get_engine),
                       principal: Principal = Depends(require(Action.FOLLOWUP_WRITE))):
    """`placering followup agreement AGREEMENT --at MONTHS`."""
    return answer(principal, views.followup_agreement, engine, agreement_id, body.months, done_on=body.done_on,
                  findings=body.findings, actor=principal.login)


# --- the case-work audits -------------------------------------------------------------------------

auditor = require(Action.AUDIT_READ)
Year = Annotated[int, Query(ge=1, le=9999)]


@router.get("/audit/placement-agreements", responses=ERRORS)
def placement_agreements(as_of: date, every: bool = False, engine: Engine = Depends(get_engine),
                         principal: Principal = Depends(auditor)):
    """`placering audit placement-agreements --json`."""
    return answer(principal, views.placement_agreements, engine, as_of=as_of, all_rows=every)


@router.get("/audit/controls", responses=ERRORS)
def controls_year(year: Year, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit controls --json`."""
    return answer(principal, views.controls_year, engine, year=year)


@router.get("/audit/surveys", responses=ERRORS)
def surveys(as_of: date, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit surveys --json`."""
    return answer(principal, views.surveys, engine, as_of=as_of)


@router.get("/audit/not-executed", responses=ERRORS)
def not_executed(as_of: date, engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit not-executed --json`."""
    return answer(principal, views.not_executed, engine, as_of=as_of)


@router.get("/audit/direct-purchases", responses=ERRORS)
def direct_purchases(year: Year, municipality: Code = None, insats: Code = None, buyer: Code = None,
                     engine: Engine = Depends(get_engine), principal: Principal = Depends(auditor)):
    """`placering audit direct-purchases --json` (per municipality, buyer nämnd and insats)."""
    return answer(principal, views.direct_purchases, engine, year=year, municipality=municipality, insats=insats,
                  buyer=buyer)


@router.get("/audit/complaints", responses=ERRORS)
def complaints_per_period(since: date | None = None, until: date | None = None, period: Code = "year",
                          outcome: Code = None, supplier: Code = None, engine: Engine = Depends(get_engine),
                          principal: Principal = Depends(auditor)):
    """`placering audit complaints --json` (per period; the SiS refusals, issue 20 item 8)."""
    return answer(principal, views.complaints_per_period, engine, since=since, until=until, period=period or "year",
                  outcome=outcome, org_nr=supplier)

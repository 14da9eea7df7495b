"""Follow-ups: framework follow-ups done, the three-month HVB survey, decisions not executed.

- INK follows up every framework agreement after 12 and 30 months (Nordost 2022, 3.3); a
  follow-up recorded as done, with its findings, leaves `audit checks-due`.
- HVB placements of children get a survey three months in (Nordost 2022, 5.4): its due date,
  the recorded answers and a per-unit summary.
- Decisions not executed within three months (no placement) are listed for the quarterly
  report to IVO (SoL 16 kap. 6 f §; Hisingen 2024, 3.3.1).
The numbers are dated parameters (rules/parameters/audit.yaml, followups.yaml).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from ..boundary import field_text
from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..audit.checks import add_months
from ..audit.params import audit_param
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Label, msg
from ..register import service
from ..storage.history import record, require_actor
from ..storage.models import AgreementFollowup, Placement, PlacementRequest, PlacementSurvey
from ..vocabulary import CareQuality, Route
from .decision_life import decision_day
from .placements import ACTIVE, get_placement


# --- framework follow-ups ---------------------------------------------------------------------


def followup_months(on: date) -> tuple[int, int]:
    return (int(audit_param("audit_agreement_followup_first_months", on).value),
            int(audit_param("audit_agreement_followup_second_months", on).value))


def record_followup(session: Session, agreement_id: str, months: int, *, done_on: date, findings: str,
                    actor: str) -> AgreementFollowup:
    """Record that the 12- or 30-month follow-up of a framework agreement was done."""
    actor = require_actor(actor)
    findings = field_text(findings, "--findings", optional=True) or ""
    if not findings:
        raise ValidationError(msg("followup.findings_needed"))
    routes = service.agreement_routes(session, agreement_id)
    aid = routes[0].agreement_id
    if routes[0].route != Route.RAMAVTAL.value:
        raise InvariantViolation(msg("followup.not_framework", agreement=aid))
    allowed = followup_months(done_on)
    if months not in allowed:
        raise ValidationError(msg("followup.months", first=allowed[0], second=allowed[1], months=months))
    if done_on > sweden_today():
        raise ValidationError(msg("followup.future", on=done_on.isoformat()))
    start = routes[0].valid_from
    if start is not None and done_on < start:
        raise ValidationError(msg("followup.before_start", on=done_on.isoformat(), agreement=aid, start=start.isoformat()))
    if session.scalars(select(AgreementFollowup).where(AgreementFollowup.agreement_id == aid,
                                                       AgreementFollowup.months == months)).first():
        raise InvariantViolation(msg("followup.already_recorded", months=months, agreement=aid))
    row = AgreementFollowup(agreement_id=aid, months=months, done_on=done_on, findings=findings, recorded_by=actor)
    session.add(row)
    session.flush()
    from ..storage.models import Supplier, Unit

    org_nr = session.scalar(select(Supplier.org_nr).join(Unit, Unit.supplier_id == Supplier.id)
                            .where(Unit.id == routes[0].unit_id))
    record(session, actor=actor, entity_kind="agreement", entity_id=aid, action="followup", effective_on=done_on,
           org_nr=org_nr, changes={"months": months, "done_on": done_on}, note=findings)
    session.flush()
    return row


def followups_done(session: Session) -> dict[tuple[str, int], AgreementFollowup]:
    return {(f.agreement_id, f.months): f for f in session.scalars(select(AgreementFollowup))}


def followup_dict(f: AgreementFollowup) -> dict[str, Any]:
    return {"agreement_id": f.agreement_id, "months": f.months, "done_on": f.done_on, "findings": f.findings,
            "recorded_by": f.recorded_by}


def list_followups(session: Session, agreement_id: str | None = None) -> list[dict[str, Any]]:
    stmt = select(AgreementFollowup).order_by(AgreementFollowup.done_on, AgreementFollowup.id)
    if agreement_id:
        stmt = stmt.where(AgreementFollowup.agreement_id == service.agreement_routes(session, agreement_id)[0].agreement_id)
    return [followup_dict(f) for f in session.scalars(stmt)]


# --- the three-month HVB survey ---------------------------------------------------------------


from .surveys import _survey_terms, survey_due_on, survey_rows, survey_summary  # noqa: E402,F401  (one definition)


def record_survey(session: Session, request_id: str, *, answered_on: date, positive_change: bool,
                  care_quality: str, child_answered: bool, actor: str) -> PlacementSurvey:
    actor = require_actor(actor)
    care_quality = service._code(care_quality, CareQuality, "care quality")
    req, p = get_placement(session, request_id)
    due = survey_due_on(p)
    if p.status != ACTIVE:
        raise InvariantViolation(msg("survey.not_executed", id=req.request_id, status=p.status))
    if due is None:
        raise InvariantViolation(msg("survey.not_due", id=req.request_id, insats=Label(p.insats, "insats"), age=p.person_age))
    if answered_on < p.start_on:
        raise ValidationError(msg("survey.before_start", on=answered_on.isoformat(), start=p.start_on.isoformat()))
    if answered_on > sweden_today():
        raise ValidationError(msg("option.on_future", on=answered_on.isoformat()))
    if session.scalars(select(PlacementSurvey).where(PlacementSurvey.placement_id == p.id)).first():
        raise InvariantViolation(msg("survey.already_recorded", id=req.request_id))
    row = PlacementSurvey(placement_id=p.id, answered_on=answered_on, positive_change=positive_change,
                          care_quality=care_quality, child_answered=child_answered, recorded_by=actor)
    session.add(row)
    session.flush()
    record(session, actor=actor, entity_kind="placement", entity_id=req.request_id, action="survey",
           effective_on=answered_on, org_nr=p.org_nr, unit_id=p.unit_id,
           changes={"due_on": due, "positive_change": positive_change, "care_quality": care_quality,
                    "child_answered": child_answered})
    session.flush()
    return row


def survey_of(session: Session, request_id: str) -> dict[str, Any]:
    """The survey row of one placement (as `surveys` lists it)."""
    req, p = get_placement(session, request_id)
    return surveys(session, max(p.start_on, sweden_today()), request_pk=req.id)[0]


def surveys(session: Session, as_of: date, *, request_pk: int | None = None) -> list[dict[str, Any]]:
    """Every placement that gets the survey and started by the date: due date, state, answers."""
    stmt = (select(PlacementRequest.request_id, Placement, PlacementSurvey)
            .join(Placement, Placement.request_id == PlacementRequest.id)
            .outerjoin(PlacementSurvey, PlacementSurvey.placement_id == Placement.id)
            .where(Placement.start_on <= as_of, Placement.status == ACTIVE)
            .order_by(Placement.start_on, PlacementRequest.request_id, Placement.id))
    if request_pk is not None:
        stmt = stmt.where(PlacementRequest.id == request_pk)
    return survey_rows(session.execute(stmt), as_of)


# --- decisions not executed within three months -----------------------------------------------


def not_executed(session: Session, as_of: date) -> list[dict[str, Any]]:
    """Decisions (placement requests, dated by their decision date) with no placement started
    within the parameter's months, as of the date: the list for the quarterly report to IVO.
    A decision executed late in the current quarter is listed as `executed_late`;
    `reported_before`: it was already overdue at the end of the previous quarter (computed in
    unexecuted.py, which the direct read shares)."""
    from .unexecuted import months_allowed, not_executed_rows

    months = months_allowed(as_of)
    rows = session.execute(
        select(PlacementRequest, Placement.start_on)
        .outerjoin(Placement, (Placement.request_id == PlacementRequest.id) & (Placement.status == ACTIVE))
        .where(func.coalesce(PlacementRequest.decided_on, PlacementRequest.submitted_on) <= as_of)
        .order_by(PlacementRequest.submitted_on, PlacementRequest.request_id, Placement.id))
    return not_executed_rows(rows, as_of, months)
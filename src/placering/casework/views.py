"""The case work around the register as documents: what `placering placement / complaint /
control / followup …` and their audits print with --json, and what the API's casework routes
return. The CLI (here or through the server) and the server call these same functions; each
opens its own session (a change: one transaction) and returns plain JSON data. A placement is a
case of its request's municipality: a signed-in social worker reaches only their own."""

from __future__ import annotations

from datetime import date
from typing import Any

from ..i18n import msg
from ..jsondata import to_jsonable
from ..storage import open_session, transaction


def _case(session, request_id: str, action: str) -> None:
    from ..matching.views import _row

    _row(session, request_id, action)


# --- placements --------------------------------------------------------------------------------


def placement_show(engine, request_id: str) -> dict[str, Any]:
    from .placements import placement_view

    with open_session(engine) as session:
        _case(session, request_id, "request.read")
        return to_jsonable(placement_view(session, request_id))


def placement_decision(engine, request_id: str, *, actor: str | None, decision_from: date | None = None,
                       decision_to: date | None = None, agreed_price: float | None = None,
                       agreed_by: str | None = None, note: str | None = None) -> dict[str, Any]:
    from .placements import placement_view, set_decision

    with transaction(engine) as session:
        _case(session, request_id, "placement.write")
        set_decision(session, request_id, actor=actor, decision_from=decision_from, decision_to=decision_to,
                     agreed_price=agreed_price, agreed_by=agreed_by, note=note)
        return to_jsonable(placement_view(session, request_id))


def placement_agreement(engine, request_id: str, *, actor: str | None, period_from: date | None = None,
                        period_to: date | None = None, daily_price: float | None = None,
                        signed_on: date | None = None, note: str | None = None) -> dict[str, Any]:
    from .placements import placement_view, record_agreement

    with transaction(engine) as session:
        _case(session, request_id, "placement.write")
        record_agreement(session, request_id, actor=actor, period_from=period_from, period_to=period_to,
                         daily_price=daily_price, signed_on=signed_on, note=note)
        return to_jsonable(placement_view(session, request_id))


def placement_agreements(engine, *, as_of: date, all_rows: bool = False) -> dict[str, Any]:
    """`audit placement-agreements`."""
    from .placements import agreement_audit

    with open_session(engine) as session:
        return to_jsonable({"as_of": as_of, "placements": agreement_audit(session, as_of, all_rows=all_rows)})


# --- complaints --------------------------------------------------------------------------------


def complaint_add(engine, unit_id: str, *, received_on: date, category: str, actor: str | None,
                  outcome: str = "pending", note: str | None = None, received_by: str | None = "Spink",
                  rules_dir=None, categories: list[str] | None = None, complainant_ref: str | None = None,
                  individual_level: bool = False) -> dict[str, Any]:
    from .complaints import complaint_row, receive

    with transaction(engine) as session:
        c, applied = receive(session, unit_id, received_on=received_on, category=category, actor=actor,
                             outcome=outcome, note=note, received_by=received_by, rules_dir=rules_dir,
                             categories=categories, complainant_ref=complainant_ref,
                             individual_level=individual_level)
        return to_jsonable({**complaint_row(session, c.id), "rules": [a.as_dict() for a in applied]})


def complaint_update(engine, complaint_id: int, *, actor: str | None, status: str | None = None,
                     outcome: str | None = None, note: str | None = None, on: date | None = None) -> dict[str, Any]:
    from .complaints import complaint_row, update_complaint

    with transaction(engine) as session:
        update_complaint(session, complaint_id, actor=actor, status=status, outcome=outcome, note=note, on=on)
        return to_jsonable(complaint_row(session, complaint_id))


def complaint_list(engine, **filters: Any) -> list[dict[str, Any]]:
    from .complaints import list_complaints

    with open_session(engine) as session:
        return to_jsonable(list_complaints(session, **filters))


def complaints_per_period(engine, **filters: Any) -> dict[str, Any]:
    """`audit complaints`: complaints per period, with the SiS refusals (issue 20 item 8)."""
    from .complaints import complaints_per_period as build

    with open_session(engine) as session:
        return to_jsonable(build(session, **filters))


def complaint_queue(engine, *, handler: str | None = None) -> list[dict[str, Any]]:
    from .complaints import queues

    with open_session(engine) as session:
        return to_jsonable(queues(session, handler=handler))


# --- deepened controls ---------------------------------------------------------------------------


def control_list(engine, *, status: str | None = None, outcome: str | None = None,
                 org_nr: str | None = None) -> list[dict[str, Any]]:
    from .controls import list_controls

    with open_session(engine) as session:
        return to_jsonable(list_controls(session, status=status, outcome=outcome, org_nr=org_nr))


def control_show(engine, control_id: int) -> dict[str, Any]:
    from .controls import control_dict, get_control

    with open_session(engine) as session:
        return to_jsonable(control_dict(get_control(session, control_id)))


def controls_year(engine, *, year: int) -> dict[str, Any]:
    """`audit controls`."""
    from .controls import controls_year as build

    with open_session(engine) as session:
        return to_jsonable(build(session, year))


# --- follow-ups --------------------------------------------------------------------------------


def followup_list(engine, *, agreement_id: str | None = None) -> list[dict[str, Any]]:
    from .followups import list_followups

    with open_session(engine) as session:
        return to_jsonable(list_followups(session, agreement_id))


def followup_survey(engine, request_id: str, *, answered_on: date, positive_change: bool, care_quality: str,
                    child_answered: bool, actor: str | None) -> dict[str, Any]:
    from .followups import record_survey, survey_of

    with transaction(engine) as session:
        _case(session, request_id, "survey.write")
        record_survey(session, request_id, answered_on=answered_on, positive_change=positive_change,
                      care_quality=care_quality, child_answered=child_answered, actor=actor)
        return to_jsonable(survey_of(session, request_id))


def surveys(engine, *, as_of: date) -> dict[str, Any]:
    """`audit surveys`: every survey due by the date and a summary per unit."""
    from .followups import survey_summary, surveys as rows_of

    with open_session(engine) as session:
        rows = rows_of(session, as_of)
    return to_jsonable({"as_of": as_of, "surveys": rows, "per_unit": survey_summary(rows)})


def not_executed(engine, *, as_of: date) -> dict[str, Any]:
    """`audit not-executed`."""
    from .followups import not_executed as rows_of

    with open_session(engine) as session:
        return to_jsonable({"as_of": as_of, "decisions": rows_of(session, as_of)})


def direct_purchases(engine, *, year: int, municipality: str | None = None, insats: str | None = None,
                     buyer: str | None = None) -> dict:
    """`audit direct-purchases`: per municipality, buyer nämnd and insats."""
    from .economics import direct_purchase_sums

    with open_session(engine) as session:
        return to_jsonable(direct_purchase_sums(session, year, municipality=municipality, insats=insats, buyer=buyer))


def control_open(engine, *, actor: str | None, on: date, org_nr: str | None = None, unit_id: str | None = None,
                 proposal_id: int | None = None, reason: str | None = None) -> dict[str, Any]:
    from .controls import control_dict, open_control

    with transaction(engine) as session:
        return to_jsonable(control_dict(open_control(session, actor=actor, on=on, org_nr=org_nr, unit_id=unit_id,
                                                     proposal_id=proposal_id, reason=reason)))


def control_check(engine, control_id: int, what: str, *, finding: str, actor: str | None, on: date) -> dict:
    from .controls import control_dict, record_checked

    with transaction(engine) as session:
        return to_jsonable(control_dict(record_checked(session, control_id, what, finding=finding, actor=actor,
                                                       on=on)))


def control_decide(engine, control_id: int, outcome: str, *, note: str, actor: str | None, on: date,
                   removal_reason: str | None = None) -> dict[str, Any]:
    from .controls import control_dict, decide_control

    with transaction(engine) as session:
        c, changes = decide_control(session, control_id, outcome, note=note, actor=actor, on=on,
                                    removal_reason=removal_reason)
        return to_jsonable({**control_dict(c), "status_changes": changes})


def followup_agreement(engine, agreement_id: str, months: int, *, done_on: date, findings: str,
                       actor: str | None) -> dict[str, Any]:
    from .followups import followup_dict, record_followup

    with transaction(engine) as session:
        return to_jsonable(followup_dict(record_followup(session, agreement_id, months, done_on=done_on,
                                                         findings=findings, actor=actor)))


# --- the life of the decision behind a request (followup decision) ---------------------------


def decision_life(engine, request_id: str, what: str, *, on: date, actor: str | None, reason: str | None = None,
                  note: str | None = None) -> dict[str, Any]:
    """`placering followup decision R WHAT`: its decision day (decided), ended without execution
    (ended, with a reason), execution interrupted or resumed; the history entry it wrote."""
    from ..errors import ValidationError
    from . import decision_life as lib

    if what not in ("decided", "ended", "interrupted", "resumed"):
        raise ValidationError(msg("decision.what_unknown", what=what))
    if what == "ended" and not reason:
        raise ValidationError(msg("decision.end_reason_needed"))
    with transaction(engine) as session:
        _case(session, request_id, "placement.write")
        if what == "decided":
            entry = lib.record_decision_day(session, request_id, decided_on=on, actor=actor, note=note)
        elif what == "ended":
            entry = lib.end_decision(session, request_id, on=on, reason=reason, actor=actor, note=note)
        elif what == "interrupted":
            entry = lib.interrupt(session, request_id, on=on, actor=actor, note=note)
        else:
            entry = lib.resume(session, request_id, on=on, actor=actor, note=note)
        return to_jsonable({"request_id": entry.entity_id, "action": entry.action, "effective_on": entry.effective_on,
                            "reason": entry.reason})

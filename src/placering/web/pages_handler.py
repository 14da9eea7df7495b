"""The handler's and the social worker's pages: a new request (the form in Swedish, validated
field by field), the match page (recommendations in priority order with route, price, distance,
flags and why; the excluded units grouped by reason), choose and decline, "mina förfrågningar"
and the placement page."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from ..access.policy import Action, Principal, authorize, municipality_scope
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import msg
from ..storage import open_session, transaction
from .forms import Form
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()


# --- library calls (run in a worker thread, acting as the signed-in person) --------------------

# Letters only after the date: a hex suffix such as "4071AB" made "W-20261208-4071AB" look like a
# personal identity number to the request check (1 request in 15 was refused).
_ID_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_request_id(on: Any) -> str:
    """A web request's id: W-, the day, six letters (24^6 a day; never digits that could read as
    a personal identity number)."""
    return f"W-{on:%Y%m%d}-" + "".join(secrets.choice(_ID_LETTERS) for _ in range(6))


def _match(db: Any, request_in: Any, actor: str) -> str:
    """Decide and store the request through matching.views.match, as `placering match` and the
    API do (the same checks, rules and history)."""
    import json

    from ..matching.views import match

    match(db, json.dumps(request_in.payload(), ensure_ascii=False).encode("utf-8"), "webbformulär", actor=actor,
          documents_as=None)
    return request_in.request_id


def _case_municipality(db: Any, request_id: str) -> str:
    from ..matching.decisions import get_request

    with open_session(db) as session:
        return get_request(session, request_id).municipality


def _overview(db: Any, principal: Principal, request_id: str) -> dict[str, Any]:
    from ..matching.decisions import get_request, request_overview

    authorize(principal, Action.REQUEST_READ, municipality=_case_municipality(db, request_id))
    with open_session(db) as session:
        # `excluded` stays compact here (counts per reason): the units of one reason are listed
        # on their own page (at 20,000 units rebuilding and showing all of them took seconds).
        data = request_overview(session, request_id, full=False)
        placement = survey = None
        if data["placement"]:
            from ..casework.followups import surveys
            from ..casework.placements import placement_view
            from ..clock import today
            from datetime import date as _date

            placement = placement_view(session, request_id)
            start = _date.fromisoformat(data["placement"]["start_on"])
            row = get_request(session, request_id)
            found = surveys(session, max(start, today()), request_pk=row.id)
            survey = found[0] if found else None
    data["placement_view"] = placement
    data["survey"] = survey
    return data


# --- form choices ------------------------------------------------------------------------------

def choices() -> dict[str, Any]:
    from ..labels import catalogue
    from ..taxonomy import load_taxonomy

    tax = load_taxonomy()
    cat = catalogue()
    return {
        "insatser": sorted(((c, i.label) for c, i in tax.insatser.items()), key=lambda x: x[1]),
        "subcategories": [(i.label, sorted(i.subcategories.items(), key=lambda x: x[1]))
                          for c, i in sorted(tax.insatser.items(), key=lambda x: x[1].label) if i.subcategories],
        "municipalities": sorted(((m.name, m.name) for m in tax.municipalities.values()), key=lambda x: x[1]),
        "genders": list(cat["gender"].items()),
        "needs": sorted(tax.target_groups.items(), key=lambda x: x[1]),
        "urgencies": list(cat["urgency"].items()),
        "legal_bases": [("SoL", "SoL"), ("LVU", "LVU"), ("LVM", "LVM"), ("LSS", "LSS")],
    }


# library field path → form field
FIELDS = {"request_id": "request_id", "municipality": "municipality", "requester": "requester", "insats": "insats",
          "subcategory": "subcategory", "person.age": "age", "person.gender": "gender", "person.needs": "needs",
          "person.protected_identity": "protected_identity", "legal_basis": "legal_basis", "urgency": "urgency",
          "start_on": "start_on", "places": "places", "home_municipality": "home_municipality",
          "max_distance_km": "max_distance_km", "avoid_municipalities": "avoid_municipalities",
          "max_daily_price": "max_daily_price", "submitted_on": "start_on"}


def _field_of(path: str | None) -> str | None:
    if not path:
        return None
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in FIELDS:
            return FIELDS[key]
    return None


def _form_page(request: Request, principal: Principal, values: dict[str, Any], errors: FormErrors | None,
               status: int = 200) -> Response:
    scope = municipality_scope(principal, Action.REQUEST_MATCH)
    return render(request, "request_form.html", {"title": "Ny förfrågan", "v": values, "errors": errors,
                                                 "c": choices(), "own_municipality": scope}, status=status)


@router.get("/forfragningar/ny")
async def new_request(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REQUEST_MATCH)
    from ..clock import today

    values = {"start_on": today().isoformat(), "places": "1", "legal_basis": "SoL", "urgency": "planerad",
              "municipality": principal.municipality or "", "needs": [], "request_id": ""}
    return _form_page(request, principal, values, None)


@router.post("/forfragningar/ny")
async def submit_request(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REQUEST_MATCH)
    from ..clock import today
    from ..matching.request import validate_request

    f = Form(await request.form())
    scope = municipality_scope(principal, Action.REQUEST_MATCH)
    rid = f.text("request_id") or new_request_id(today())
    municipality = scope or f.text("municipality", required=True, what="kommun")
    data: dict[str, Any] = {
        "request_id": rid, "submitted_on": today().isoformat(), "municipality": municipality,
        "requester": f.text("requester", required=True, what="förvaltning eller enhet"),
        "insats": f.text("insats", required=True, what="insats"),
        "subcategory": f.text("subcategory"),
        "person": {"age": f.integer("age", required=True, what="ålder", lo=0, hi=120),
                   "gender": f.text("gender", required=True, what="kön"),
                   "needs": f.many("needs"), "protected_identity": f.flag("protected_identity")},
        "legal_basis": f.text("legal_basis", required=True, what="lagrum"),
        "urgency": f.text("urgency", required=True, what="brådska"),
        "start_on": f.text("start_on", required=True, what="startdatum"),
        "places": f.integer("places", what="antal platser", lo=1, hi=20) or 1,
        "home_municipality": f.text("home_municipality"),
        "max_distance_km": f.number("max_distance_km", what="största avstånd"),
        "avoid_municipalities": f.many("avoid_municipalities"),
        "max_daily_price": f.number("max_daily_price", what="högsta dygnspris"),
    }
    values = dict(f.values, request_id=f.values.get("request_id", ""))
    if data["home_municipality"] is None and data["max_distance_km"] is not None:
        data["home_municipality"] = municipality  # distance from the municipality's seat
    errors = f.errors
    if errors:
        return _form_page(request, principal, values, errors, status=400)
    try:
        request_in = validate_request({k: v for k, v in data.items() if v is not None or k == "subcategory"})
        authorize(principal, Action.REQUEST_MATCH, municipality=request_in.municipality)
        await run(principal, _match, engine(request), request_in, principal.login)
    except ValidationError as exc:
        for p in exc.problems:
            from ..cli.messages import swedish

            errors.add(_field_of(p.field), swedish(p.message))
        return _form_page(request, principal, values, errors, status=400)
    except InvariantViolation as exc:
        from ..cli.messages import swedish

        errors.add("request_id", swedish(exc))
        return _form_page(request, principal, values, errors, status=409)
    return RedirectResponse(f"/forfragningar/{request_in.request_id}", status_code=303)


@router.get("/forfragningar")
async def my_requests(request: Request, alla: str | None = None, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REQUEST_READ)
    from ..matching.listing import list_requests

    scope = municipality_scope(principal, Action.REQUEST_READ)
    mine = alla is None

    def work() -> list[dict[str, Any]]:
        with open_session(engine(request)) as session:
            return list_requests(session, created_by=principal.login if mine else None, municipality=scope)

    rows = await run(principal, work)
    return render(request, "requests.html", {"title": "Mina förfrågningar" if mine else "Alla förfrågningar",
                                             "rows": rows, "mine": mine, "scope": scope})


def _grouped_exclusions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    from ..labels import label
    from ..matching.compact import summary

    return [{"code": code, "label": label(code, "exclusion"), "count": n} for code, n in summary(doc)]


def _excluded_units(db: Any, principal: Principal, request_id: str, code: str) -> dict[str, Any]:
    """The latest decision's excluded units of one reason, each with all its reasons."""
    from ..matching.decisions import full_document, get_request, latest_decision, shown_document, stored_document

    authorize(principal, Action.REQUEST_READ, municipality=_case_municipality(db, request_id))
    with open_session(db) as session:
        row = get_request(session, request_id)
        decision = latest_decision(session, row)
        if decision is None:
            raise NotFound(msg("request.no_decision", id=request_id))
        doc = full_document(session, row, shown_document(session, row, stored_document(decision)))
    units = [u for u in doc.get("excluded") or [] if any(r["code"] == code for r in u.get("reasons") or [])]
    return {"seq": doc.get("seq"), "units": units, "total": len(doc.get("excluded") or [])}


async def _request_page(request: Request, principal: Principal, request_id: str, errors: FormErrors | None = None,
                        notice: str | None = None, status: int = 200) -> Response:
    data = await run(principal, _overview, engine(request), principal, request_id)
    doc = data["decisions"][-1] if data["decisions"] else None
    return render(request, "request.html", {
        "title": f"Förfrågan {request_id}", "rid": request_id, "data": data, "req": data["request"], "doc": doc,
        "groups": _grouped_exclusions(doc) if doc else [], "errors": errors, "notice": notice, "A": Action,
        "can_choose": data["placement"] is None and doc is not None}, status=status)


@router.get("/forfragningar/{request_id}")
async def request_page(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    return await _request_page(request, principal, request_id)


@router.get("/forfragningar/{request_id}/uteslutna/{code}")
async def excluded_page(request: Request, request_id: str, code: str,
                        principal: Principal = Depends(signed_in)) -> Response:
    from ..labels import label

    data = await run(principal, _excluded_units, engine(request), principal, request_id, code)
    return render(request, "excluded.html", {"title": f"Uteslutna: {label(code, 'exclusion')}", "rid": request_id,
                                             "code": code, "label": label(code, "exclusion"), **data})


@router.post("/forfragningar/{request_id}/valj")
async def choose(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..cli.messages import swedish
    from ..matching.views import choose as choose_unit

    f = Form(await request.form())
    unit_id = f.text("unit_id", required=True, what="enhet")
    reason = f.text(f"reason-{unit_id}")
    special = f.text(f"special-{unit_id}")
    if f.errors:
        return await _request_page(request, principal, request_id, f.errors, status=400)
    authorize(principal, Action.REQUEST_CHOOSE, municipality=await run(principal, _case_municipality, engine(request), request_id))

    try:
        status = (await run(principal, choose_unit, engine(request), request_id, unit_id, actor=principal.login,
                            reason=reason, special_reason=special))["status"]
    except (ValidationError, InvariantViolation, NotFound) as exc:
        errors = FormErrors()
        for p in getattr(exc, "problems", None) or [exc]:
            errors.add(f"reason-{unit_id}", swedish(getattr(p, "message", str(p))))
        return await _request_page(request, principal, request_id, errors, status=409)
    note = ("Enheten är vald. Placeringen väntar på granskning av direktupphandlingen." if status == "pending_review"
            else "Enheten är vald och placeringen är registrerad.")
    return await _request_page(request, principal, request_id, notice=note)


@router.post("/forfragningar/{request_id}/tacka-nej")
async def decline(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..cli.messages import swedish
    from ..matching.views import decline as decline_unit

    f = Form(await request.form())
    unit_id = f.text("unit_id", required=True, what="enhet") or ""
    reason = f.text(f"decline-{unit_id}", required=True, what="skälet till att enheten tackade nej")
    if f.errors:
        errors = FormErrors()
        for field, said in f.errors.items:
            errors.add(f"decline-{unit_id}" if field != "unit_id" else None, said)
        return await _request_page(request, principal, request_id, errors, status=400)
    authorize(principal, Action.REQUEST_DECLINE,
              municipality=await run(principal, _case_municipality, engine(request), request_id))

    try:
        await run(principal, decline_unit, engine(request), request_id, unit_id, reason=reason, actor=principal.login)
    except (ValidationError, InvariantViolation, NotFound) as exc:
        errors = FormErrors()
        errors.add(f"decline-{unit_id}", swedish(exc))
        return await _request_page(request, principal, request_id, errors, status=409)
    return await _request_page(request, principal, request_id,
                               notice=f"Enheten {unit_id} har tackat nej. Matcha igen för nya rekommendationer.")


@router.post("/forfragningar/{request_id}/matcha-igen")
async def rematch(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..matching.views import rematch as rematch_request

    authorize(principal, Action.REQUEST_MATCH,
              municipality=await run(principal, _case_municipality, engine(request), request_id))
    await run(principal, rematch_request, engine(request), request_id, actor=principal.login, full=False)
    return RedirectResponse(f"/forfragningar/{request_id}", status_code=303)


@router.post("/forfragningar/{request_id}/placering")
async def placement_decision(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..casework.placements import record_agreement, set_decision
    from ..cli.messages import swedish

    authorize(principal, Action.PLACEMENT_WRITE,
              municipality=await run(principal, _case_municipality, engine(request), request_id))
    f = Form(await request.form())
    which = f.text("which") or "decision"
    if which == "decision":
        kw = {"decision_from": f.day("decision_from", what="beslutets första dag"),
              "decision_to": f.day("decision_to", what="beslutets sista dag"),
              "agreed_price": f.number("agreed_price", what="överenskommet dygnspris")}
        fn = set_decision
    else:
        kw = {"period_from": f.day("period_from", what="avtalets första dag"),
              "period_to": f.day("period_to", what="avtalets sista dag"),
              "daily_price": f.number("daily_price", what="dygnspris i avtalet"),
              "signed_on": f.day("signed_on", what="undertecknat")}
        fn = record_agreement
    if f.errors:
        return await _request_page(request, principal, request_id, f.errors, status=400)

    def work() -> None:
        with transaction(engine(request)) as session:
            fn(session, request_id, actor=principal.login, **kw)

    try:
        await run(principal, work)
    except (ValidationError, InvariantViolation) as exc:
        errors = FormErrors()
        for p in getattr(exc, "problems", None) or [exc]:
            errors.add(None, swedish(getattr(p, "message", str(p))))
        return await _request_page(request, principal, request_id, errors, status=409)
    return await _request_page(request, principal, request_id,
                               notice="Beslutsperiod och pris sparade." if which == "decision" else "Placeringsavtalet sparat.")


@router.post("/forfragningar/{request_id}/enkat")
async def survey(request: Request, request_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..casework.followups import record_survey
    from ..cli.messages import swedish

    authorize(principal, Action.SURVEY_WRITE,
              municipality=await run(principal, _case_municipality, engine(request), request_id))
    f = Form(await request.form())
    answered_on = f.day("answered_on", required=True, what="datum då enkäten besvarades")
    positive = f.text("positive_change", required=True, what="om en positiv förändring skett")
    quality = f.text("care_quality", required=True, what="vårdens kvalitet")
    child = f.text("child_answered", required=True, what="om barnet svarade själv")
    if f.errors:
        return await _request_page(request, principal, request_id, f.errors, status=400)

    def work() -> None:
        with transaction(engine(request)) as session:
            record_survey(session, request_id, answered_on=answered_on, positive_change=positive == "ja",
                          care_quality=quality, child_answered=child == "ja", actor=principal.login)

    try:
        await run(principal, work)
    except (ValidationError, InvariantViolation) as exc:
        errors = FormErrors()
        for p in getattr(exc, "problems", None) or [exc]:
            errors.add("answered_on", swedish(getattr(p, "message", str(p))))
        return await _request_page(request, principal, request_id, errors, status=409)
    return await _request_page(request, principal, request_id, notice="Enkäten efter tre månader är sparad.")

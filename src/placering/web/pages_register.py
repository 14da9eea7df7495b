"""The register's pages for maintainers and procurement: typo-tolerant search (å/ä/ö optional),
the unit page (status, permits, checks, complaints, visits, proposals and the history timeline)
with its forms (status, check, permit, complaint, visit, order stop), the entry-check list, the
proposals inbox, and import by upload with a dry-run preview before anything is written."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from ..access.policy import Action, Principal, allowed, authorize
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import msg
from ..storage import open_session
from .forms import Form
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()

MAX_UPLOAD = 50 * 1024 * 1024


def _codes(enum: Any, kind: str) -> list[tuple[str, str]]:
    from ..labels import label

    return [(e.value, label(e.value, kind)) for e in enum]


def _choices() -> dict[str, Any]:
    from ..labels import catalogue
    from ..taxonomy import load_taxonomy
    from ..vocabulary import (AgreementStatus, CheckKind, CheckResult, ComplaintCategory, ComplaintOutcome,
                              PermitStatus, RemovalReason, UnitStatus)

    tax = load_taxonomy()
    return {"unit_status": _codes(UnitStatus, "unit_status"), "removal_reason": _codes(RemovalReason, "removal_reason"),
            "permit_status": _codes(PermitStatus, "permit_status"), "check_kind": _codes(CheckKind, "check_kind"),
            "check_result": _codes(CheckResult, "check_result"),
            "complaint_category": _codes(ComplaintCategory, "complaint_category"),
            "complaint_outcome": _codes(ComplaintOutcome, "complaint_outcome"),
            "agreement_status": _codes(AgreementStatus, "agreement_status"),
            "insatser": sorted(((c, i.label) for c, i in tax.insatser.items()), key=lambda x: x[1]),
            "routes": list(catalogue()["route"].items())}


def _can_edit(p: Principal) -> bool:
    return any(allowed(p, a) for a in (Action.REGISTER_STATUS, Action.REGISTER_AGREEMENT, Action.REGISTER_CHECK,
                                       Action.REGISTER_IMPORT, Action.REGISTER_ENTRY))


@router.get("/register")
async def search_page(request: Request, q: str | None = None, insats: str | None = None, status: str | None = None,
                      principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REGISTER_READ)
    from ..register.views import search

    hits = None
    errors = FormErrors()
    q = (q or "").strip()
    if q:
        from ..boundary import contains_personnummer

        if contains_personnummer(q):
            errors.add("q", "Skriv inga personnummer eller samordningsnummer här.")
        else:
            try:
                hits = await run(principal, search, engine(request), q, insats=insats or None, status=status or None,
                                 limit=30)
            except ValidationError as exc:
                errors.add_problems(exc, {None: "q"})
    return render(request, "register_search.html", {"title": "Sök i registret", "q": q, "hits": hits,
                                                    "insats": insats or "", "status": status or "",
                                                    "c": _choices(), "errors": errors or None})


def _unit(db: Any, unit_id: str) -> dict[str, Any]:
    from ..audit.log import audit_log
    from ..register import service
    from ..register.views import unit_view

    with open_session(db) as session:
        unit = service.get_unit(session, unit_id)
        data = unit_view(session, unit, show_protected=False)
        data.pop("location", None)  # never on a page: a protected unit's position, nor any other
        data["timeline"] = list(reversed(audit_log(session, unit=unit.unit_id, limit=200).entries))
    for e in data["timeline"]:
        e.pop("changes", None)
    return data


async def _unit_page(request: Request, principal: Principal, unit_id: str, errors: FormErrors | None = None,
                     notice: str | None = None, values: dict | None = None, status: int = 200) -> Response:
    authorize(principal, Action.REGISTER_READ)
    d = await run(principal, _unit, engine(request), unit_id)
    agreements = sorted({r["agreement_id"] for r in d["routes"] if r.get("agreement_id") and r["route"] == "ramavtal"})
    return render(request, "unit.html", {"title": f"Enhet {d['unit_id']}", "d": d, "c": _choices(), "A": Action,
                                         "errors": errors, "notice": notice, "v": values or {},
                                         "agreements": agreements}, status=status)


@router.get("/register/enheter/{unit_id}")
async def unit_page(request: Request, unit_id: str, principal: Principal = Depends(signed_in)) -> Response:
    return await _unit_page(request, principal, unit_id)


@router.post("/register/enheter/{unit_id}/{what}")
async def unit_change(request: Request, unit_id: str, what: str, principal: Principal = Depends(signed_in)) -> Response:
    """The unit page's forms, each through the register's view function the CLI and the API call."""
    from ..cli.messages import swedish
    from ..register import views

    f = Form(await request.form())
    actor = principal.login
    db = engine(request)
    if what == "status":
        authorize(principal, Action.REGISTER_STATUS)
        status = f.text("status", required=True, what="ny status")
        reason = f.text("reason")
        note = f.text("status_note")
        on = f.day("status_on", what="datum")

        def work() -> str:
            e = views.change_status(db, unit_id, status, actor=actor, reason=reason, note=note, effective_on=on)
            return f"Status ändrad till {_l(e['changes']['status'][1], 'unit_status').lower()}."
    elif what == "kontroll":
        authorize(principal, Action.REGISTER_CHECK)
        kind = f.text("check_kind", required=True, what="kontroll")
        result = f.text("check_result", required=True, what="resultat")
        value = f.number("check_value", what="värde")
        on = f.day("check_on", required=True, what="datum för kontrollen")
        source = f.text("check_source")

        def work() -> str:
            org_nr = views.show_unit(db, unit_id)["org_nr"]
            e = views.record_check(db, org_nr, kind, result, performed_on=on, actor=actor, value=value, source=source)
            return "Kontrollen är registrerad." + _applied(e.get("rules"))
    elif what == "tillstand":
        authorize(principal, Action.REGISTER_PERMIT)
        dnr = f.text("dnr", required=True, what="diarienummer")
        pstatus = f.text("permit_status", required=True, what="tillståndets status")
        on = f.day("permit_on", required=True, what="datum för IVO:s beslut")
        insats = f.text("permit_insats")

        def work() -> str:
            e = views.record_permit(db, unit_id, dnr=dnr, status=pstatus, decided_on=on, actor=actor, insats=insats)
            return "IVO-beslutet är registrerat." + _applied(e.get("rules"))
    elif what == "synpunkt":
        authorize(principal, Action.COMPLAINT_WRITE)
        category = f.text("complaint_category", required=True, what="kategori")
        outcome = f.text("complaint_outcome") or "pending"
        on = f.day("complaint_on", required=True, what="datum då synpunkten kom in")
        note = f.text("complaint_note")

        def work() -> str:
            e = views.record_complaint(db, unit_id, category=category, received_on=on, actor=actor, outcome=outcome,
                                       note=note)
            return f"Synpunkt {e['entity_id']} är registrerad." + _applied(e.get("rules"))
    elif what == "besok":
        authorize(principal, Action.REGISTER_VISIT)
        on = f.day("visit_on", required=True, what="datum för besöket")
        note = f.text("visit_note")

        def work() -> str:
            views.record_visit(db, unit_id, visited_on=on, actor=actor, note=note)
            return "Besöket är registrerat."
    elif what == "avtal":
        authorize(principal, Action.REGISTER_AGREEMENT)
        agreement = f.text("agreement_id", required=True, what="avtal")
        astatus = f.text("agreement_status", required=True, what="avtalsstatus")
        scope = f.text("scope") or "supplier"
        note = f.text("agreement_note")
        on = f.day("agreement_on", what="datum")

        def work() -> str:
            org_nr = views.show_unit(db, unit_id)["org_nr"] if scope == "supplier" else None
            e = views.change_agreement(db, agreement, astatus, actor=actor, note=note, supplier=org_nr,
                                       effective_on=on)
            return f"Avtal {agreement}: {_l(e['changes']['status'][1], 'agreement_status').lower()}."
    else:
        raise NotFound(msg("web.no_unit_form", form=what))
    if f.errors:
        return await _unit_page(request, principal, unit_id, f.errors, values=f.values, status=400)
    try:
        notice = await run(principal, work)
    except (ValidationError, InvariantViolation) as exc:
        errors = FormErrors()
        for p in getattr(exc, "problems", None) or [exc]:
            errors.add(None, swedish(getattr(p, "message", str(p))))
        return await _unit_page(request, principal, unit_id, errors, values=f.values, status=409)
    return await _unit_page(request, principal, unit_id, notice=notice)


def _l(code: Any, kind: str) -> str:
    from ..labels import label

    return label(code, kind)


def _applied(applied: list | None) -> str:
    if not applied:
        return ""
    return " Registerreglerna: " + "; ".join(f"{a['rule']}: {a['message']}" for a in applied) + "."


@router.get("/register/intrade")
async def entries(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REGISTER_READ)
    from ..register.views import pending_entries

    rows = _with_why(await run(principal, pending_entries, engine(request)))
    return render(request, "entries.html", {"title": "Inträdesprövning", "rows": rows, "A": Action})


def _with_why(rows: list[dict]) -> list[dict]:
    """Each check's shortfall in Swedish (`why_said`), from the catalogue."""
    from ..cli.messages import swedish
    from ..register.entry import why_message

    for r in rows:
        for c in r["checks"]:
            c["why_said"] = swedish(why_message(c) or c["why"]) if c.get("why") else None
    return rows


@router.post("/register/intrade/{unit_id}")
async def entry_decide(request: Request, unit_id: str, principal: Principal = Depends(signed_in)) -> Response:
    from ..cli.messages import swedish
    from ..register.views import decide_entry

    if not allowed(principal, Action.REGISTER_ENTRY):  # maintainers, and procurement for framework entries
        authorize(principal, Action.REGISTER_STATUS)
    f = Form(await request.form())
    decision = f.text("decision", required=True, what="beslut")
    text = f.text(f"text-{unit_id}", required=True, what="en anteckning eller ett skäl")
    errors = f.errors
    if not errors:
        try:
            await run(principal, decide_entry, engine(request), unit_id, approve=decision == "approve", text=text,
                      actor=principal.login)
            return RedirectResponse("/register/intrade", status_code=303)
        except (ValidationError, InvariantViolation, NotFound) as exc:
            errors.add(f"text-{unit_id}", swedish(exc))
    from ..register.views import pending_entries

    return render(request, "entries.html", {"title": "Inträdesprövning",
                                            "rows": _with_why(await run(principal, pending_entries, engine(request))),
                                            "A": Action, "errors": errors}, status=400)


@router.get("/register/forslag")
async def proposals(request: Request, status: str | None = "open", kind: str | None = None,
                    principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REGISTER_READ)
    from ..register.views import proposals as list_proposals

    status = status if status in ("open", "accepted", "dismissed") else None
    rows = [p for p in await run(principal, list_proposals, engine(request), status=status)
            if not kind or p["kind"] == kind]
    from ..labels import catalogue

    return render(request, "proposals.html", {"title": "Förslag från registerreglerna", "rows": rows, "status": status,
                                              "kind": kind or "", "kinds": list(catalogue()["proposal_kind"].items()),
                                              "A": Action})


@router.post("/register/forslag/{proposal_id}")
async def proposal_decide(request: Request, proposal_id: int, principal: Principal = Depends(signed_in)) -> Response:
    from ..register.views import decide_proposal

    authorize(principal, Action.REGISTER_PROPOSAL)
    f = Form(await request.form())
    note = f.text(f"note-{proposal_id}", required=True, what="en anteckning")
    decision = f.text("decision") or "dismiss"
    if f.errors:
        return render(request, "error.html", {"title": "Felaktiga uppgifter", "errors": f.errors,
                                              "message": "Skriv en anteckning om beslutet."}, status=400)

    await run(principal, decide_proposal, engine(request), proposal_id, accept=decision == "accept",
              actor=principal.login, note=note)
    return RedirectResponse("/register/forslag", status_code=303)


# --- import by upload ----------------------------------------------------------------------------

def _import(db: Any, name: str, data: bytes, actor: str, *, dry_run: bool, skip_conflicts: bool) -> dict[str, Any]:
    from ..register.views import import_file

    return import_file(db, data, name, actor=actor, dry_run=dry_run, skip_conflicts=skip_conflicts)


@router.get("/register/import")
async def import_page(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.REGISTER_IMPORT)
    return render(request, "import.html", {"title": "Importera till registret", "preview": None})


@router.post("/register/import")
async def import_upload(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    from ..cli.messages import swedish

    authorize(principal, Action.REGISTER_IMPORT)
    form = await request.form()
    errors = FormErrors()
    upload = form.get("file")
    skip = form.get("skip_conflicts") == "1"
    if form.get("content"):  # the confirmed preview: the same bytes, checked by their digest
        try:
            data = base64.b64decode(str(form.get("content")), validate=True)
        except ValueError:
            data = b""
        name = str(form.get("name") or "upload")
        if hashlib.sha256(data).hexdigest() != form.get("sha256"):
            errors.add("file", "Filen ändrades mellan förhandsvisning och import. Ladda upp den igen.")
        dry_run = False
    elif upload is None or isinstance(upload, str) or not upload.filename:
        errors.add("file", "Välj en fil att importera (JSON eller CSV).")
        data, name, dry_run = b"", "", True
    else:
        data = await upload.read(MAX_UPLOAD + 1)
        name = Path(upload.filename).name
        dry_run = True
        if len(data) > MAX_UPLOAD:
            errors.add("file", "Filen är större än 50 MB.")
        elif not data:
            errors.add("file", "Filen är tom.")
    if errors:
        return render(request, "import.html", {"title": "Importera till registret", "preview": None, "errors": errors},
                      status=400)
    try:
        result = await run(principal, _import, engine(request), name, data, principal.login, dry_run=dry_run,
                           skip_conflicts=skip)
    except (ValidationError, InvariantViolation) as exc:
        for p in (getattr(exc, "problems", None) or [exc])[:50]:
            errors.add("file", swedish(p))
        return render(request, "import.html", {"title": "Importera till registret", "preview": None, "errors": errors},
                      status=400)
    return render(request, "import.html", {
        "title": "Importera till registret", "preview": result, "dry_run": dry_run, "name": name,
        "content": base64.b64encode(data).decode("ascii") if dry_run else "",
        "sha256": hashlib.sha256(data).hexdigest(), "skip": skip,
        "notice": None if dry_run else f"{name} är importerad."})

"""The page /enhet: a person signed in by any of the server's ways approves (or denies) the
`placering login` of their CLI by the user code it printed (the device flow, access/device.py).
A plain form, no script: type the code, see what is asking and when, approve or deny."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..access import device
from ..access.policy import Action, Principal, authorize
from ..errors import NotFound
from .forms import Form
from .render import FormErrors, render
from .session import engine, run, signed_in

router = APIRouter()
TITLE = "Logga in en enhet"


def _look_up(db, principal: Principal, code: str, *, approve: bool | None = None):
    """The pending request (approve None) or the decision; a wrong code is counted in a
    transaction of its own."""
    from ..storage import transaction

    try:
        with transaction(db) as session:
            if approve is None:
                return device.pending(session, principal, code)
            return device.decide(session, principal, code, approve=approve)
    except NotFound:
        with transaction(db) as session:
            device.wrong_code(session, principal)
        raise


async def _ask(request: Request, code: str = "", errors: FormErrors | None = None, status: int = 200) -> Response:
    return render(request, "device.html", {"title": TITLE, "step": "ask", "code": code, "errors": errors},
                  status=status)


@router.get("/enhet")
async def ask(request: Request, kod: str | None = None, principal: Principal = Depends(signed_in)) -> Response:
    authorize(principal, Action.AUTH_DEVICE)
    return await _ask(request, (kod or "")[:20])


async def _refused(request: Request, code: str, exc: Exception) -> Response:
    from ..i18n import text

    # the library's message by its id; an error without one (none is raised here today) is said
    # by a message of the page's own, never its English text
    message = exc.message.render() if getattr(exc, "message", None) is not None else text(
        "web.device.refused_not_found" if isinstance(exc, NotFound) else "web.device.refused_throttled")
    errors = FormErrors()
    errors.add("kod", message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."))
    return await _ask(request, code, errors, status=404 if isinstance(exc, NotFound) else 429)


@router.post("/enhet")
async def show(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    from ..server.errors import Throttled

    f = Form(await request.form())
    code = f.text("kod", required=True, what="koden") or ""
    if f.errors:
        return await _ask(request, code, f.errors, status=400)
    try:
        shown = await run(principal, _look_up, engine(request), principal, code)
    except (NotFound, Throttled) as exc:
        return await _refused(request, code, exc)
    return render(request, "device.html", {"title": TITLE, "step": "confirm", "d": shown})


@router.post("/enhet/beslut")
async def decide(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    from ..server.errors import Throttled

    f = Form(await request.form())
    code = f.text("kod", required=True, what="koden") or ""
    choice = f.text("beslut")
    if choice not in ("godkann", "neka"):
        f.errors.add("kod", "Välj Godkänn eller Neka.")
    if f.errors:
        return await _ask(request, code, f.errors, status=400)
    try:
        done = await run(principal, _look_up, engine(request), principal, code, approve=choice == "godkann")
    except (NotFound, Throttled) as exc:
        return await _refused(request, code, exc)
    return render(request, "device.html", {"title": TITLE, "step": "done", "d": done})

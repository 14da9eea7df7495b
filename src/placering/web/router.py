"""The web pages, mounted at "/" by placering.server.app.create_app: sign-in, the start page,
static files, the error pages, and each role's pages (pages_*.py)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, RedirectResponse, Response

from ..access.policy import Action, Principal
from ..server.deps import optional_principal
from .render import STATIC, render, secure
from .session import signed_in

router = APIRouter(include_in_schema=False)

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml",
          ".txt": "text/plain; charset=utf-8", ".png": "image/png"}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC.resolve() or not path.is_file() or path.suffix not in _TYPES:
        return secure(Response("Finns inte", status_code=404, media_type="text/plain; charset=utf-8"))
    response = FileResponse(path, media_type=_TYPES[path.suffix])
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


@router.get("/logga-in")
async def sign_in_page(request: Request, nasta: str | None = None,
                       principal: Principal | None = Depends(optional_principal)) -> Response:
    if principal is not None:
        return RedirectResponse(_safe_next(nasta), status_code=303)
    settings = request.app.state.settings
    return render(request, "sign_in.html", {"title": "Logga in", "next": _safe_next(nasta), "errors": None,
                                            "login": "", "oidc": bool(getattr(settings, "oidc_enabled", False)),
                                            "local": settings.local_accounts})


@router.post("/logga-in")
async def sign_in(request: Request) -> Response:
    from ..server.auth.local import sign_in as local_sign_in
    from ..server.errors import NotSignedIn, Throttled
    from .render import FormErrors

    form = await request.form()
    login = str(form.get("login") or "")
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("nasta") or "/"))
    errors = FormErrors()
    if not login.strip():
        errors.add("login", "Skriv ditt användarnamn.")
    if not password:
        errors.add("password", "Skriv ditt lösenord.")
    if not errors:
        try:
            await run_in_threadpool(local_sign_in, request, login, password)
            return RedirectResponse(target, status_code=303)
        except (NotSignedIn, Throttled) as exc:
            from ..cli.messages import swedish

            errors.add("login", swedish(exc))
    settings = request.app.state.settings
    return render(request, "sign_in.html", {"title": "Logga in", "next": target, "errors": errors, "login": login,
                                            "oidc": bool(getattr(settings, "oidc_enabled", False)),
                                            "local": settings.local_accounts}, status=400)


@router.post("/logga-ut")
async def sign_out(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    from ..server.auth.sessions import end_session

    end_session(request)
    return RedirectResponse("/logga-in", status_code=303)


@router.get("/")
async def start(request: Request, principal: Principal = Depends(signed_in)) -> Response:
    return render(request, "start.html", {"title": "Start", "A": Action})


def render_error(request: Request, status: int, content: dict) -> Response:
    """The server's error answer for a web page: sign-in for 401, else a page in Swedish. The
    server's own browser routes (/auth/…, the identity provider's callback) keep their JSON."""
    if request.url.path.startswith("/auth/"):
        from starlette.responses import JSONResponse

        return JSONResponse(content, status_code=status)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse("/logga-in?nasta=" + quote(target, safe=""), status_code=303)
    titles = {403: "Inte tillåtet", 404: "Hittades inte", 409: "Ändringen nekades", 422: "Felaktiga uppgifter",
              429: "För många försök", 503: "Databasen är upptagen"}
    return render(request, "error.html", {"title": titles.get(status, "Något gick fel"),
                                          "message": content.get("message", ""), "errors": None}, status=status)


from . import pages_admin, pages_audit, pages_handler, pages_register, pages_review  # noqa: E402
from . import pages_device  # noqa: E402

for _module in (pages_handler, pages_review, pages_register, pages_audit, pages_admin, pages_device):
    router.include_router(_module.router)

"""Who is signed in, for the web pages: the application server's own resolution (deps:
API token, trusted proxy header or signed session cookie; a change needs the session's CSRF
token), the CSRF token every form carries, and the navigation a person's roles give."""

from __future__ import annotations

from typing import Any, Callable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ..access.acting import acting_as
from ..access.policy import Action, Principal, allowed, authorize
from ..server.deps import optional_principal
from ..i18n import msg
from ..server.errors import NotSignedIn

# (path, text, any of these actions shows it)
NAVIGATION = [
    ("/forfragningar", "Förfrågningar", (Action.REQUEST_MATCH,)),
    ("/granskningar", "Granskning", (Action.REVIEW_DECIDE,)),
    ("/register", "Registret", (Action.REGISTER_STATUS, Action.REGISTER_AGREEMENT, Action.REGISTER_IMPORT)),
    ("/revision", "Revision", (Action.AUDIT_READ,)),
    ("/admin", "Administration", (Action.ADMIN_USERS,)),
]


async def signed_in(request: Request, principal: Principal | None = Depends(optional_principal)) -> Principal:
    """A dependency of every page: the signed-in person (else the sign-in page, by render_error)."""
    if principal is None:
        raise NotSignedIn(msg("web.not_signed_in"))
    return principal


def engine(request: Request) -> Any:
    return request.app.state.engine


def csrf(request: Request) -> str:
    from ..server.auth.sessions import csrf_token

    return csrf_token(request) if "session" in request.scope else ""


def page_context(request: Request) -> dict[str, Any]:
    p: Principal | None = getattr(request.state, "principal", None)
    nav = []
    if p is not None:
        for path, text, actions in NAVIGATION:
            if any(allowed(p, a) for a in actions):
                nav.append({"path": path, "text": text,
                            "current": request.url.path == path or request.url.path.startswith(path + "/")})
    return {"errors": None, "notice": None, "title": "", "principal": p, "nav": nav, "csrf_token": csrf(request) if p is not None else "",
            "path": request.url.path, "allowed": (lambda a, m=None: p is not None and allowed(p, a, municipality=m))}


async def run(principal: Principal, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run library work (synchronous, database) in a worker thread, acting as `principal`."""

    def work() -> Any:
        with acting_as(principal):
            return fn(*args, **kwargs)

    return await run_in_threadpool(work)


__all__ = ["Action", "Principal", "authorize", "allowed", "signed_in", "engine", "csrf", "page_context", "run"]

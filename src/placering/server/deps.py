"""What every route depends on: the engine (one per app, from the settings), the signed-in
principal, and `require(action)`, which authorizes through access/policy (THE one table).

Who is signed in, in this order:
1. `Authorization: Bearer <token>`: an API token (access/tokens.py); a bad one is refused, never
   passed over for a cookie;
2. the trusted proxy's user header, only from a configured proxy address (auth/proxy.py);
3. the signed session cookie (auth/sessions.py).
A change (POST, PUT, PATCH, DELETE) authenticated by the cookie or the proxy (credentials the
browser sends by itself) must carry the session's CSRF token; a bearer token needs none.

A route does its work `with acting_as(principal):` and passes `actor=principal.login` to the
library function the CLI calls, inside one storage.transaction(engine).
"""

from __future__ import annotations

from typing import Callable

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from ..access.policy import Action, Principal, authorize
from ..storage import open_session
from .auth.proxy import proxy_principal
from .auth.sessions import COOKIE, check_csrf, session_principal
from .errors import NotSignedIn
from ..i18n import msg
from .settings import ServerSettings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document (clients see how to authenticate); checked below.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token: `placering admin token create` or "
                           "POST /api/v1/auth/token")
cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False, description="The signed session cookie of a "
                             "signed-in person (changes also need the X-CSRF-Token header)")


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def _token_principal(engine: Engine, secret: str) -> Principal | None:
    from ..access.tokens import principal_for

    with open_session(engine) as db:
        return principal_for(db, secret)


def _cookie_principal(request: Request, engine: Engine, settings: ServerSettings) -> Principal | None:
    if not request.session.get("p"):
        return None
    with open_session(engine) as db:
        return session_principal(request, db, absolute_hours=settings.session_absolute_hours)


async def optional_principal(request: Request, _bearer=Depends(bearer_scheme),
                             _cookie=Depends(cookie_scheme)) -> Principal | None:
    """The signed-in principal, or None. Also kept in request.state for the request log."""
    if "principal" in request.state._state:  # noqa: SLF001 - already resolved for this request
        return request.state.principal
    engine, settings = request.app.state.engine, request.app.state.settings
    auth = request.headers.get("authorization")
    principal: Principal | None
    if auth is not None:
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotSignedIn(msg("signin.bad_authorization"))
        principal = await run_in_threadpool(_token_principal, engine, secret.strip())
        if principal is None:
            raise NotSignedIn(msg("signin.bad_token"))
    else:
        principal = proxy_principal(request, settings)
        if principal is None:
            principal = await run_in_threadpool(_cookie_principal, request, engine, settings)
        if principal is not None and request.method not in SAFE_METHODS:
            await check_csrf(request)
    request.state.principal = principal
    return principal


async def current_principal(principal: Principal | None = Depends(optional_principal)) -> Principal:
    if principal is None:
        raise NotSignedIn(msg("signin.needed"))
    return principal


def require(action: Action | str) -> Callable:
    """A dependency: the signed-in principal, if it may do `action` (else 401/403). Case-level
    scope (a social worker's municipality) is checked by the route once it has the case:
    authorize(principal, action, municipality=case.municipality)."""
    action = Action(action)

    async def _require(principal: Principal = Depends(current_principal)) -> Principal:
        authorize(principal, action)
        return principal

    _require.__name__ = f"require_{action.value.replace('.', '_')}"
    return _require

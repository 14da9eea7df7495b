"""Sign-in through the API: a local account's password for a session cookie (POST /auth/session)
or for an API token (POST /auth/token: what `placering login` keeps); who am I (GET /auth/me);
sign out (DELETE /auth/session). OpenID Connect sign-in is a browser flow: /auth/oidc/start."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ....access.policy import Principal
from ...auth.addresses import client_address
from ...auth.local import authenticate, sign_in
from ...auth.sessions import csrf_token, end_session
from ...deps import current_principal, optional_principal
from ..models import Text

router = APIRouter(prefix="/auth", tags=["sign-in"])


class Credentials(BaseModel):
    login: Text = Field(min_length=1, max_length=200)
    password: Text = Field(min_length=1, max_length=1000)


class TokenRequest(Credentials):
    name: Text | None = Field(default=None, max_length=100, description="What the token is for (default: 'cli')")
    days: int | None = Field(default=None, ge=1, le=366)


class Me(BaseModel):
    login: str
    roles: list[str]
    municipality: str | None
    via: str
    csrf_token: str | None = Field(default=None, description="Send as X-CSRF-Token with changes made with the "
                                   "session cookie")


class IssuedToken(BaseModel):
    id: int
    token: str = Field(description="The secret: shown once, stored only as its sha256")
    name: str
    roles: list[str]
    municipality: str | None
    expires_at: datetime


def _me(request: Request, principal: Principal) -> Me:
    csrf = csrf_token(request) if principal.via in ("local", "oidc", "proxy") else None
    return Me(**principal.as_dict(), csrf_token=csrf)


@router.post("/session", response_model=Me, responses={401: {}, 429: {}})
async def session_sign_in(credentials: Credentials, request: Request):
    principal = await run_in_threadpool(sign_in, request, credentials.login, credentials.password)
    request.state.principal = principal
    return _me(request, principal)


@router.get("/me", response_model=Me, responses={401: {}})
async def me(request: Request, principal: Principal = Depends(current_principal)):
    return _me(request, principal)


@router.delete("/session", status_code=204)
async def session_sign_out(request: Request, principal: Principal | None = Depends(optional_principal)):
    end_session(request)


@router.post("/token", response_model=IssuedToken, status_code=201, responses={401: {}, 429: {}})
def token_sign_in(body: TokenRequest, request: Request):
    from ....access.tokens import create_token
    from ....storage import transaction

    app = request.app
    principal = authenticate(app.state.engine, app.state.settings, body.login, body.password,
                             client_address(request, app.state.settings))
    request.state.principal = principal
    with transaction(app.state.engine) as db:
        made = create_token(db, principal, body.name or "cli", account=principal.login, days=body.days or 30)
    return IssuedToken(id=made["id"], token=made["secret"], name=made["name"], roles=made["roles"],
                       municipality=made["municipality"], expires_at=made["expires_at"])

"""`placering login` by the device flow (RFC 8628; access/device.py does the work): the CLI asks
for a code (POST /auth/device), the person approves it on the page /enhet, the CLI polls
(POST /auth/device/token) until it gets its token or a final refusal. GET /auth/methods says
which sign-in ways the server offers, so the CLI can choose."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ....access import device
from ....storage import transaction
from ..models import Text

router = APIRouter(prefix="/auth", tags=["sign-in"])


class Methods(BaseModel):
    oidc: bool = Field(description="Sign-in through the municipality's identity provider (OpenID Connect)")
    local_accounts: bool = Field(description="Local accounts with a password (POST /auth/token)")
    device: bool = Field(description="The device flow for the CLI (POST /auth/device)")


class DeviceIn(BaseModel):
    client_name: Text | None = Field(default=None, max_length=100, description="What is asking, as the person "
                                     "will see it (e.g. 'placering CLI på datorn HOST')")
    days: int = Field(default=30, ge=1, le=366, description="How long the token is to live")


class DeviceOut(BaseModel):
    device_code: str = Field(description="Secret: the CLI polls with it")
    user_code: str = Field(description="The code the person types at verification_uri")
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceTokenIn(BaseModel):
    device_code: Text = Field(min_length=1, max_length=200)
    grant_type: Text | None = Field(default=None, max_length=100,
                                    description="urn:ietf:params:oauth:grant-type:device_code (optional)")


class DeviceToken(BaseModel):
    access_token: str = Field(description="The API token: shown once, stored only as its sha256")
    token_type: str = "Bearer"
    expires_in: int
    id: int
    token: str
    login: str
    roles: list[str]
    municipality: str | None
    expires_at: datetime
    via: str


_POLL_ERRORS = {400: {"description": "RFC 8628 §3.5: {error: authorization_pending | slow_down | expired_token | "
                                     "access_denied | invalid_grant, error_description, code, message}"}}


@router.get("/methods", response_model=Methods)
def methods(request: Request):
    settings = request.app.state.settings
    return Methods(oidc=settings.oidc_enabled, local_accounts=settings.local_accounts, device=True)


def _page(request: Request) -> str:
    settings = request.app.state.settings
    base = settings.public_url.rstrip("/") if settings.public_url else str(request.base_url).rstrip("/")
    return base + "/enhet"


@router.post("/device", response_model=DeviceOut, responses={422: {}, 429: {}})
def start(request: Request, body: DeviceIn | None = None):
    from ...auth.addresses import client_address

    body = body or DeviceIn()
    address = client_address(request, request.app.state.settings)
    with transaction(request.app.state.engine) as session:
        made = device.start(session, body.client_name or "placering", days=body.days, address=address)
    page = _page(request)
    return DeviceOut(**made, verification_uri=page, verification_uri_complete=f"{page}?kod={made['user_code']}")


@router.post("/device/token", response_model=DeviceToken, responses=_POLL_ERRORS | {422: {}})
def token(body: DeviceTokenIn, request: Request):
    from ....clock import now

    if body.grant_type not in (None, "urn:ietf:params:oauth:grant-type:device_code"):
        return JSONResponse({"error": "unsupported_grant_type", "code": "unsupported_grant_type",
                             "message": "okänd grant_type: bara urn:ietf:params:oauth:grant-type:device_code"},
                            status_code=400)
    with transaction(request.app.state.engine) as session:
        answer = device.poll(session, body.device_code)  # committed either way (its poll time, a spent code)
    if "error" in answer:
        message = answer["message"]
        content = {"error": answer["error"], "error_description": str(message), "code": answer["error"],
                   "message": message.render()}
        return JSONResponse(content, status_code=400, headers={"Cache-Control": "no-store"})
    request.state.principal = None
    expires = answer["expires_at"]
    expires = expires if expires.tzinfo else expires.replace(tzinfo=now().tzinfo)
    return JSONResponse(DeviceToken(access_token=answer["token"], expires_in=int((expires - now()).total_seconds()),
                                    **answer).model_dump(mode="json"), headers={"Cache-Control": "no-store"})

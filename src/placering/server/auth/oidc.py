"""OpenID Connect sign-in with the municipality's identity provider (authlib): the
authorization-code flow with PKCE (S256). The browser goes to /auth/oidc/start, the provider
authenticates the person and sends them back to /auth/oidc/callback, whose ID token (and, for
claims it lacks, the userinfo endpoint) names the person, their roles and municipality by the
configured claims (settings OIDC_LOGIN_CLAIM, OIDC_ROLES_CLAIM, OIDC_MUNICIPALITY_CLAIM,
OIDC_ROLE_MAP). The flow's state and PKCE verifier travel in the signed session cookie, so the
callback may reach another instance than the start did."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ...access.policy import Principal
from ..errors import NotSignedIn
from ...i18n import msg
from ..settings import ServerSettings
from .claims import principal_from
from .sessions import start_session

router = APIRouter(prefix="/auth/oidc", include_in_schema=False)
NAME = "idp"


def _client(request: Request):
    settings: ServerSettings = request.app.state.settings
    if not settings.oidc_enabled:
        raise NotSignedIn(msg("signin.oidc_off"))
    oauth = getattr(request.app.state, "oauth", None)
    if oauth is None:
        from authlib.integrations.starlette_client import OAuth

        oauth = OAuth()
        oauth.register(NAME, client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
                       server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
                       client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"})
        request.app.state.oauth = oauth
    return oauth.create_client(NAME)


def _redirect_uri(request: Request) -> str:
    settings: ServerSettings = request.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/") + router.prefix + "/callback"
    return str(request.url_for("oidc_callback"))


def _safe_next(value: str | None) -> str:
    # only a path on this server: never an open redirect to another host
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def claims_principal(claims: dict, settings: ServerSettings) -> Principal:
    return principal_from(claims.get(settings.oidc_login_claim), claims.get(settings.oidc_roles_claim),
                          claims.get(settings.oidc_municipality_claim), settings.oidc_role_map, "oidc")


@router.get("/start", name="oidc_start")
async def start(request: Request, next: str | None = None):
    client = _client(request)
    request.session["oidc_next"] = _safe_next(next)
    return await client.authorize_redirect(request, _redirect_uri(request))


@router.get("/callback", name="oidc_callback")
async def callback(request: Request):
    from authlib.integrations.base_client.errors import OAuthError

    client = _client(request)
    settings: ServerSettings = request.app.state.settings
    if request.query_params.get("error"):
        raise NotSignedIn(msg("signin.oidc_refused", error=request.query_params.get('error')[:100]))
    try:
        token = await client.authorize_access_token(request)
        claims = dict(token.get("userinfo") or {})
        wanted = (settings.oidc_login_claim, settings.oidc_roles_claim, settings.oidc_municipality_claim)
        if any(c not in claims for c in wanted) and client.server_metadata.get("userinfo_endpoint"):
            extra = await client.userinfo(token=token)
            claims = {**dict(extra), **claims}
    except OAuthError as exc:
        raise NotSignedIn(msg("signin.oidc_failed", error=exc.error)) from None
    principal = claims_principal(claims, settings)
    target = _safe_next(request.session.get("oidc_next"))
    start_session(request, principal)
    return RedirectResponse(target, status_code=303)

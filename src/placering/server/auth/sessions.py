"""Sessions in signed cookies (starlette's SessionMiddleware, itsdangerous): nothing is kept in
the server, so any instance behind the proxy serves any request. The cookie holds the principal,
when the session began, and its CSRF token; it is HttpOnly, SameSite, Secure (unless a plain-http
localhost demo turns that off), and expires after SESSION_MINUTES idle (the signature's
timestamp, renewed by each answer) or SESSION_ABSOLUTE_HOURS after sign-in, whichever comes first.

A local account's session is checked against the account on every request: removing the person,
taking their roles or changing their password ends their sessions at once."""

from __future__ import annotations

import hmac
import secrets
import time
from datetime import timezone

from starlette.requests import HTTPConnection, Request
from sqlmodel import Session

from ...access.policy import Principal
from ...access.roles import Role
from ..errors import CsrfRefused
from ...i18n import msg

COOKIE = "placering_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


def start_session(request: HTTPConnection, principal: Principal) -> str:
    """Begin a new session for `principal` (a fresh cookie: nothing of an earlier one is kept,
    so a session id planted before sign-in is worthless). Returns its CSRF token."""
    request.session.clear()
    csrf = secrets.token_urlsafe(32)
    request.session.update({"p": principal.as_dict(), "iat": int(time.time()), "csrf": csrf})
    return csrf


def end_session(request: HTTPConnection) -> None:
    request.session.clear()


def session_principal(request: HTTPConnection, db: Session | None, *, absolute_hours: int) -> Principal | None:
    data = request.session.get("p") if "session" in request.scope else None
    if not data:
        return None
    iat = request.session.get("iat", 0)
    if not isinstance(iat, int) or time.time() - iat > absolute_hours * 3600:
        request.session.clear()
        return None
    try:
        principal = Principal(login=data["login"], roles=frozenset(Role(r) for r in data["roles"]),
                              municipality=data.get("municipality"), via=data.get("via", "local"))
    except (KeyError, ValueError, TypeError):
        request.session.clear()
        return None
    if principal.via == "local" and db is not None:
        from ...access.users import get_account

        account = get_account(db, principal.login)
        changed = account.password_changed_at if account is not None else None
        if changed is not None and changed.tzinfo is None:
            changed = changed.replace(tzinfo=timezone.utc)
        if account is None or not account.roles or account.password_hash is None \
                or (changed is not None and changed.timestamp() > iat + 1):
            request.session.clear()
            return None
        principal = Principal(login=account.login, roles=frozenset(Role(r) for r in account.roles),
                              municipality=account.municipality, via="local")
    return principal


def csrf_token(request: HTTPConnection) -> str:
    """The session's CSRF token (made on first use): web forms put it in a hidden field
    `csrf_token`, API clients using the cookie send it as the X-CSRF-Token header."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a cookie-authenticated change without the session's CSRF token (header, or the
    form field of a web form)."""
    expected = request.session.get("csrf") if "session" in request.scope else None
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not hmac.compare_digest(str(expected), supplied):
        raise CsrfRefused(msg("signin.csrf"))

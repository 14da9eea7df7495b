"""Errors of the server itself, and how every error becomes a JSON answer: a stable `code` for
programs and a `message` for people (the gettext catalogue, else cli/messages.py's), in the
request's language (Accept-Language, Swedish by default), never a traceback."""

from __future__ import annotations

from ..errors import InvariantViolation, NotFound, NotPermitted, PlaceringError, ValidationError


class NotSignedIn(PlaceringError):
    """No (valid) session, token or proxy header: sign in first."""

    exit_code = 6


class Throttled(PlaceringError):
    """Too many failed sign-ins for an account or from an address: wait before trying again."""

    exit_code = 6

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class CsrfRefused(NotPermitted):
    """A cookie-authenticated change without the session's CSRF token."""


def status_and_code(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and stable code of a refusal: the first class in the table that the error
    is an instance of (subclasses stand before their bases)."""
    from ..storage.database import Conflict, DatabaseBusy, DatabaseError

    table = ((NotSignedIn, 401, "not_signed_in"), (Throttled, 429, "throttled"), (CsrfRefused, 403, "csrf"),
             (NotPermitted, 403, "not_permitted"), (ValidationError, 422, "invalid_input"),
             (NotFound, 404, "not_found"), (Conflict, 409, "conflict"), (InvariantViolation, 409, "refused_by_rules"),
             (DatabaseBusy, 503, "database_busy"), (DatabaseError, 503, "database_unavailable"))
    return next(((status, code) for cls, status, code in table if isinstance(exc, cls)), (400, "refused"))


def request_language(request) -> str:
    """The language a request is answered in: its Accept-Language ('en' when it prefers English),
    Swedish by default."""
    from ..i18n import from_accept_language

    return from_accept_language(request.headers.get("accept-language")) if request is not None else "sv"


def body(code: str, message, request=None, **extra) -> dict:
    """An error's JSON: the stable `code` for programs and the `message` for people, in the
    request's language (a Message or PlaceringError from the gettext catalogue, an English text
    through cli/messages.py's catalogue)."""
    from ..cli.messages import said

    return {"code": code, "message": said(message, request_language(request)), **extra}


class AnswerInRequestLanguage:
    """ASGI middleware: what the library says during an API request (placering.i18n.text) is in
    the request's language (Accept-Language; Swedish by default); the web pages stay Swedish."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope.get("path", "").startswith("/api/"):
            return await self.app(scope, receive, send)  # the web pages are Swedish
        from ..i18n import _REQUEST_LANGUAGE, answering_in, from_accept_language

        header = next((v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"accept-language"), None)
        token = answering_in(from_accept_language(header))
        try:
            return await self.app(scope, receive, send)
        finally:
            _REQUEST_LANGUAGE.reset(token)

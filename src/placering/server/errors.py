"""Errors of the server itself, and how every error becomes a JSON answer: a stable `code` for
programs and a Swedish `message` for people (cli/messages.py's catalogue), never a traceback."""

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
    from ..storage.database import Conflict, DatabaseBusy, DatabaseError

    if isinstance(exc, NotSignedIn):
        return 401, "not_signed_in"
    if isinstance(exc, Throttled):
        return 429, "throttled"
    if isinstance(exc, CsrfRefused):
        return 403, "csrf"
    if isinstance(exc, NotPermitted):
        return 403, "not_permitted"
    if isinstance(exc, ValidationError):
        return 422, "invalid_input"
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, Conflict):
        return 409, "conflict"
    if isinstance(exc, InvariantViolation):
        return 409, "refused_by_rules"
    if isinstance(exc, DatabaseBusy):
        return 503, "database_busy"
    if isinstance(exc, DatabaseError):
        return 503, "database_unavailable"
    return 400, "refused"


def body(code: str, message: str, **extra) -> dict:
    from ..cli.messages import swedish

    return {"code": code, "message": swedish(message), **extra}

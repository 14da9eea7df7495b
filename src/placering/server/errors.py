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
    """The HTTP status and stable code of a refusal: the first class in the table that the error
    is an instance of (subclasses stand before their bases)."""
    from ..storage.database import Conflict, DatabaseBusy, DatabaseError

    table = ((NotSignedIn, 401, "not_signed_in"), (Throttled, 429, "throttled"), (CsrfRefused, 403, "csrf"),
             (NotPermitted, 403, "not_permitted"), (ValidationError, 422, "invalid_input"),
             (NotFound, 404, "not_found"), (Conflict, 409, "conflict"), (InvariantViolation, 409, "refused_by_rules"),
             (DatabaseBusy, 503, "database_busy"), (DatabaseError, 503, "database_unavailable"))
    return next(((status, code) for cls, status, code in table if isinstance(exc, cls)), (400, "refused"))


def body(code: str, message: str, **extra) -> dict:
    from ..cli.messages import swedish

    return {"code": code, "message": swedish(message), **extra}

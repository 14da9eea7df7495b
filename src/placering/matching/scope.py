"""Whose cases a signed-in person may see and change: a social worker its own municipality's.

No SQLAlchemy here: a write on the database's own driver (matching/choice.py) checks the scope
as the views do (matching/views.py).
"""

from __future__ import annotations

from ..i18n import msg


def _scope(municipality: str | None, action: str, request_id: str | None = None) -> None:
    """Refuse a case outside the signed-in person's municipality scope (nobody signed in: the
    embedded single user, or PostgreSQL's own row-level security on a direct login). For a
    stored request (`request_id`) another municipality's case is, to a social worker, not there
    (NotFound, exit 3): the same answer as when row-level security hides it (issue 19)."""
    from ..access.acting import current_principal

    principal = current_principal()
    if principal is not None:
        from ..access.policy import authorize

        authorize(principal, action)  # the action itself first (NotPermitted), then the scope
        if request_id is not None and not _in_scope(principal, action, municipality):
            raise _not_in_municipality(request_id)
        authorize(principal, action, municipality=municipality)


def _in_scope(principal, action: str, municipality: str | None) -> bool:
    from ..access.policy import allowed

    return municipality is None or allowed(principal, action, municipality=municipality)


def _not_in_municipality(request_id: str):
    from ..errors import NotFound
    from ..text import nfc

    return NotFound(msg("request.not_in_municipality", id=nfc(request_id)))


def social_worker_scope(action: str) -> str | None:
    """The municipality a signed-in social worker is limited to for `action`, else None."""
    from ..access.acting import current_principal

    principal = current_principal()
    if principal is None:
        return None
    from ..access.policy import municipality_scope

    return municipality_scope(principal, action)

"""`admin user list` and `admin token list` read without SQLAlchemy (storage.reads, issue 22
item 1): the same rows as users.list_users and tokens.list_tokens, from the database's own
driver, after the same authority decision (roles.admin_login: on PostgreSQL the login's roles
and superuser flag, read by roles.login_info_read). The rows are made by the functions the ORM
views use too (`user_row`, `token_row`): one document.

`open_admin_reader` gives None, and the CLI asks the ORM view, when a person is signed in
(access.acting: the server decides for that person) and for a person's own PostgreSQL login.
"""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

from ..storage.reads import Reader, as_json


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def user_row(account: Any) -> dict[str, Any]:
    """One account as `admin user list` gives it (a UserAccount, or a row with its columns)."""
    return {"user": account.login, "roles": list(account.roles or []),
            "municipality": account.municipality, "can_log_in": bool(account.roles),
            "local_password": account.password_hash is not None,
            "added_by": account.added_by, "added_at": account.added_at}


def token_row(t: Any) -> dict[str, Any]:
    """One API token as `admin token list` gives it (an ApiToken, or a row with its columns);
    never its secret or hash."""
    from ..clock import now

    state = "revoked" if t.revoked_at else ("expired" if _aware(t.expires_at) <= now() else "active")
    return {"id": t.id, "name": t.name, "account": t.account, "roles": list(t.roles), "municipality": t.municipality,
            "created_by": t.created_by, "created_at": t.created_at, "expires_at": t.expires_at,
            "revoked_at": t.revoked_at, "revoked_by": t.revoked_by, "state": state}


def _orm_datetime(value: Any) -> datetime | None:
    """A recorded time as the ORM reads it back: PostgreSQL's with its zone, SQLite's text as UTC."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


def open_admin_reader(url: str | None) -> tuple[Reader, tuple | None] | None:
    """A read connection for the admin lists and its PostgreSQL login (`login`, superuser,
    roles; None on SQLite), or None when the ORM view answers: a person
    signed in (the server decides for them), a URL only SQLAlchemy reads, or on PostgreSQL a
    person's own database login (its reads of the accounts are the ORM view's, refused there
    with the CLI's words for a person's login). The schema is checked as every command does."""
    from ..storage.reads import _require_current, can_read, open_reader
    from .acting import current_principal

    principal = current_principal()
    if principal is not None and principal.via != "cli-local" or not can_read(url):
        return None
    reader, info = open_reader(url, check_schema=False), None
    try:
        if reader.dialect == "postgresql":
            from .roles import login_read

            login, superuser, roles, kind = login_read(reader)
            if kind == "person":
                reader.close()
                return None
            info = (login, superuser, roles)
        _require_current(reader)
    except BaseException:
        reader.close()
        raise
    return reader, info


def _admin(reader: Reader, info: tuple | None) -> None:
    """roles.admin_login's decision for this read: the installation account or the service
    login on PostgreSQL, which must hold the admin role unless a superuser; SQLite's local user."""
    from .acting import current_principal
    from .roles import admin_login

    admin_login(current_principal(), reader.dialect == "postgresql", lambda: info)


def users(reader: Reader, info: tuple | None) -> list[dict[str, Any]]:
    """users.list_users, read directly (a reader from `open_admin_reader`)."""
    _admin(reader, info)
    rows = reader.rows("SELECT login, roles, municipality, password_hash IS NOT NULL AS has_password, added_by, "
                       "added_at FROM user_account ORDER BY login")
    return [user_row(SimpleNamespace(login=r.login, roles=as_json(r.roles), municipality=r.municipality,
                          password_hash="" if r.has_password else None, added_by=r.added_by,
                          added_at=_orm_datetime(r.added_at)))
            for r in rows]


def tokens(reader: Reader, info: tuple | None) -> list[dict[str, Any]]:
    """tokens.list_tokens for an admin (every token), read directly (a reader from
    `open_admin_reader`)."""
    _admin(reader, info)
    rows = reader.rows("SELECT id, name, account, roles, municipality, created_by, created_at, expires_at, "
                       "revoked_at, revoked_by FROM api_token ORDER BY id")
    return [token_row(SimpleNamespace(id=r.id, name=r.name, account=r.account, roles=as_json(r.roles),
                           municipality=r.municipality, created_by=r.created_by,
                           created_at=_orm_datetime(r.created_at), expires_at=_orm_datetime(r.expires_at),
                           revoked_at=_orm_datetime(r.revoked_at), revoked_by=r.revoked_by))
            for r in rows]

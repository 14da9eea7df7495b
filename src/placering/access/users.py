"""Users of the shared server (`placering admin user add/list/remove`) and the actor of a change.

A user is a PostgreSQL login that is a member of one or more `placering_<role>` group roles,
with a row in `user_account` (its municipality, for a social worker). PostgreSQL authenticates
the login (a SCRAM password set here, or LDAP/Kerberos through pg_hba.conf), so on PostgreSQL
the actor of every change is the authenticated login (`session_user`), never a typed name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import NotFound, NotPermitted, ValidationError
from ..storage.history import record
from ..storage.models import UserAccount
from ..text import nfc
from .roles import Role, login_info, pg_role, roles_of, session_login

# A login name: letters (å, ä, ö too), digits, '.', '_', '-'; quoted as an identifier anyway.
_LOGIN = re.compile(r"^[^\W\d][\w.\-]{0,62}$")
SQLITE_REFUSAL = ("users and roles exist on the shared PostgreSQL server only; the embedded SQLite "
                  "register is single-user (each change names its actor with --by)")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _login(name: str) -> str:
    name = nfc((name or "").strip())
    if not _LOGIN.match(name):
        raise ValidationError(f"user name '{name}': use letters, digits, '.', '_' or '-' (at most 63), "
                              "starting with a letter")
    return name


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 5802/7677): the password itself never
    reaches the server or its statement log."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", nfc(password).encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def require_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        raise ValidationError(SQLITE_REFUSAL)


def require_admin(session: Session) -> str:
    login, superuser, roles = login_info(session.connection())
    if not superuser and Role.ADMIN.value not in roles:
        raise NotPermitted(f"only an admin manages users: login '{login}' has "
                           f"{'roles ' + ', '.join(roles) if roles else 'no placering role'}")
    return login


def _roles(roles: list[str]) -> list[Role]:
    out = []
    for r in roles:
        try:
            out.append(Role(r))
        except ValueError:
            raise ValidationError(f"--role: unknown role '{r}' (known: {', '.join(x.value for x in Role)})") from None
    if not out:
        raise ValidationError(f"--role: give at least one role ({', '.join(x.value for x in Role)})")
    return sorted(set(out), key=list(Role).index)


def add_user(session: Session, name: str, *, roles: list[str], municipality: str | None = None,
             password: str | None = None) -> dict[str, Any]:
    """Create the login (or give an existing one these roles) and record it in this register."""
    from ..matching.request import _canonical_municipality

    actor = require_admin(session)
    name = _login(name)
    wanted = _roles(roles)
    if Role.SOCIAL_WORKER in wanted:
        if not municipality:
            raise ValidationError("--municipality: a social worker works for one municipality; name it")
        try:
            municipality = _canonical_municipality(nfc(municipality.strip()))
        except ValueError as exc:
            raise ValidationError(f"--municipality: {exc}") from None
    elif municipality:
        raise ValidationError("--municipality applies to a social worker only")
    if password is not None and not password:
        raise ValidationError("the password is empty")
    conn = session.connection()
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() is not None
    options = "LOGIN" + (" CREATEROLE" if Role.ADMIN in wanted else "")
    if password is not None:
        options += f" PASSWORD '{scram_verifier(password)}'"
    conn.exec_driver_sql(f"{'ALTER' if exists else 'CREATE'} ROLE {_ident(name)} {options}")
    for role in wanted:
        conn.exec_driver_sql(f"GRANT {pg_role(role)} TO {_ident(name)}")
    account = session.scalars(select(UserAccount).where(UserAccount.login == name)).first()
    old = {"roles": [], "municipality": None}
    if account is None:
        account = UserAccount(login=name, municipality=municipality, added_by=actor)
    else:
        old["municipality"] = account.municipality
        account.municipality = municipality or account.municipality
    session.add(account)
    now_roles = roles_of(conn, name)
    record(session, actor=actor, entity_kind="user", entity_id=name, action="user_added", effective_on=sweden_today(),
           changes={"roles": now_roles, "municipality": account.municipality, "login_existed": exists})
    session.flush()
    return {"user": name, "roles": now_roles, "municipality": account.municipality, "login_existed": exists}


def remove_user(session: Session, name: str) -> dict[str, Any]:
    """Take every placering role from the login and remove it from this register's users. The
    login itself stays (it may be used for other databases on the server); history keeps its name."""
    actor = require_admin(session)
    name = _login(name)
    account = session.scalars(select(UserAccount).where(UserAccount.login == name)).first()
    if account is None:
        raise NotFound(f"no user '{name}' in this register (see 'placering admin user list')")
    if name == actor:
        raise ValidationError("an admin does not remove themselves (ask another admin)")
    conn = session.connection()
    before = roles_of(conn, name)
    for role in Role:
        conn.exec_driver_sql(f"REVOKE {pg_role(role)} FROM {_ident(name)}")
    session.delete(account)
    record(session, actor=actor, entity_kind="user", entity_id=name, action="user_removed", effective_on=sweden_today(),
           changes={"roles": [before, []], "municipality": account.municipality})
    session.flush()
    return {"user": name, "roles_removed": before}


def list_users(session: Session) -> list[dict[str, Any]]:
    conn = session.connection()
    out = []
    for account in session.scalars(select(UserAccount).order_by(UserAccount.login)):
        row = conn.execute(text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :n"), {"n": account.login}).first()
        out.append({"user": account.login, "roles": roles_of(conn, account.login) if row else [],
                    "municipality": account.municipality, "can_log_in": bool(row and row[0]),
                    "added_by": account.added_by, "added_at": account.added_at})
    return out


def resolve_actor(engine: Engine, typed: str | None) -> str | None:
    """Who a change is recorded under. SQLite: the typed --by. PostgreSQL: the authenticated
    login; a typed --by that is another name is refused. The installation account (a superuser,
    which can write anything anyway) names the person with --by, as scripts and the tests do."""
    if engine.dialect.name != "postgresql":
        return typed
    with engine.connect() as conn:
        login, superuser = session_login(conn)
    if superuser:
        return typed  # the installation account names the person it acts for, as on SQLite
    if typed and nfc(typed.strip()) != login:
        raise ValidationError(f"--by {typed}: on the shared server a change is recorded under your database login "
                              f"'{login}'; leave out --by (and PLACERING_ACTOR)")
    return login



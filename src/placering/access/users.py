"""The people who use placering (`placering admin user add/update/list/remove`) and the actor of a change.

On the application server (issue 17) a person is an account in `user_account`: their roles
(access/policy.py) and, for a social worker, their municipality. A local account also holds an
argon2 hash of its password (for small installations and tests); people who sign in through the
identity provider (OIDC) or the trusted proxy need no password here. The server alone writes,
as its one service login, recording the signed-in person as the actor of every change.

On PostgreSQL `admin user add` run by the installation account also creates (or updates) the
person's own database login, member of the `placering_<role>` group roles, for those who keep
one (e.g. auditors' own SQL reports); what those roles may do in the database is access/roles.py's.
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
from ..i18n import label_list as labels, msg, reason
from ..storage.history import record
from ..storage.models import UserAccount
from ..text import nfc
from .roles import Role, admin_login, login_info, pg_role, roles_of

# A login name: letters (å, ä, ö too), digits, '.', '_', '-'; quoted as an identifier anyway.
_LOGIN = re.compile(r"^[^\W\d][\w.\-]{0,62}$")
# argon2id with the library's defaults (RFC 9106's second recommended option, 64 MiB, t=3).
_HASHER = None


def password_hasher():
    """argon2id, RFC 9106's low-memory profile (64 MiB, 3 passes). PLACERING_ARGON2_PROFILE=cheapest
    (tests and benchmarks only: it protects nothing) makes hashing instant; a hash records its own
    parameters, so verifying works whatever the profile was when it was made."""
    global _HASHER
    if _HASHER is None:
        import os

        from argon2 import PasswordHasher, profiles

        if os.environ.get("PLACERING_ARGON2_PROFILE") == "cheapest":
            _HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)
        else:
            _HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
    return _HASHER


def hash_password(password: str) -> str:
    return password_hasher().hash(nfc(password))


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` (an argon2 hash) was made from. With no stored hash
    a dummy verification still runs, so a wrong login name takes as long as a wrong password."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    hasher = password_hasher()
    global _DUMMY
    if stored is None:
        if _DUMMY is None:
            _DUMMY = hasher.hash("placering-dummy")
        stored, password = _DUMMY, password + "\0"
    try:
        return hasher.verify(stored, nfc(password)) and stored is not _DUMMY
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY: str | None = None


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _login(name: str) -> str:
    name = nfc((name or "").strip())
    if not _LOGIN.match(name):
        raise ValidationError(msg("user.bad_name", name=name))
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
        raise ValidationError(msg("user.sqlite_single_user"))


def require_admin(session: Session) -> str:
    """The admin who manages users: the signed-in person when one is acting (the server), else
    the database login (PostgreSQL) or the local user (SQLite, every role). Returns their name.
    The decision is roles.admin_login's (the direct reads of access/reads.py make it too)."""
    from .acting import current_principal

    return admin_login(current_principal(), session.get_bind().dialect.name == "postgresql",
                       lambda: login_info(session.connection()))


def _said(exc: Exception):
    """An exception's text as a message parameter: its Message when it carries one."""
    return exc.args[0] if exc.args and hasattr(exc.args[0], "render") else str(exc)


def _roles(roles: list[str]) -> list[Role]:
    out = []
    for r in roles:
        try:
            out.append(Role(r))
        except ValueError:
            raise ValidationError(msg("role.unknown", option="--role", role=r,
                                      known=labels([x.value for x in Role], "role"))) from None
    if not out:
        raise ValidationError(msg("role.none_given", known=labels([x.value for x in Role], "role")))
    return sorted(set(out), key=list(Role).index)


def _can_create_logins(session: Session) -> bool:
    row = session.connection().execute(text(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")).first()
    return bool(row and row[0])


def add_user(session: Session, name: str, *, roles: list[str], municipality: str | None = None,
             password: str | None = None, database_login: bool | None = None) -> dict[str, Any]:
    """Create the account NAME, with an argon2 hash of `password` when given (a local account).
    An existing account is accepted only with the roles and municipality it has (e.g. to set its
    password again); changing them is `update_user`'s, refused here. On PostgreSQL,
    `database_login` (default: when this session may create logins) also creates the person's
    own database login with these roles."""
    actor = require_admin(session)
    name = _login(name)
    wanted = _roles(roles)
    municipality = _municipality_for(wanted, municipality)
    if password is not None and not password:
        raise ValidationError(msg("user.password_empty"))
    if password is not None and len(password) < 10:
        raise ValidationError(msg("user.password_short", least=10))
    account = session.scalars(select(UserAccount).where(UserAccount.login == name)).first()
    if account is not None and (set(account.roles or []) != {w.value for w in wanted}
                                or account.municipality != municipality):
        # `add` never moves a person to another municipality nor changes their roles unnoticed
        # (issue 19): that is `admin user update`, which says what it changes.
        raise ValidationError(msg("user.exists_unchanged", name=name,
                                  roles=labels(account.roles, "role") if account.roles else "-",
                                  municipality=account.municipality or "-"))
    conn = session.connection()
    exists = False
    if session.get_bind().dialect.name == "postgresql":
        if database_login is None:
            database_login = _can_create_logins(session)
        if database_login:
            exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() is not None
            options = "LOGIN NOCREATEROLE"  # a person's own login reads only (access/roles.py)
            if password is not None:
                options += f" PASSWORD '{scram_verifier(password)}'"
            if exists:
                conn.exec_driver_sql(f"ALTER ROLE {_ident(name)} {options}")
            else:
                _create_login(conn, name, options)
            for role in wanted:
                conn.exec_driver_sql(f"GRANT {pg_role(role)} TO {_ident(name)}")
    if account is None:
        account = UserAccount(login=name, municipality=municipality, added_by=actor, roles=[])
    else:
        exists = True
    old_roles = list(account.roles or [])
    now_roles = [r.value for r in Role if r.value in set(old_roles) | {w.value for w in wanted}]
    account.roles = now_roles
    if password is not None:
        from ..clock import now

        account.password_hash = hash_password(password)
        account.password_changed_at = now()
    session.add(account)
    record(session, actor=actor, entity_kind="user", entity_id=name, action="user_added", effective_on=sweden_today(),
           changes={"roles": now_roles, "municipality": account.municipality, "login_existed": exists,
                    "password_set": password is not None})
    session.flush()
    return {"user": name, "roles": now_roles, "municipality": account.municipality, "login_existed": exists,
            "local_password": account.password_hash is not None}


def _create_login(conn, name: str, options: str) -> None:
    """CREATE ROLE, or ALTER ROLE when another transaction created the same login in between:
    logins belong to the whole PostgreSQL cluster, and two installations (or two admins) may add
    the same person at the same moment; the CREATE runs in a savepoint so that its refusal does
    not end this transaction."""
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    try:
        with conn.begin_nested():
            conn.exec_driver_sql(f"CREATE ROLE {_ident(name)} {options}")
    except (IntegrityError, ProgrammingError) as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) not in ("23505", "42710"):  # unique_violation, duplicate_object
            raise
        conn.exec_driver_sql(f"ALTER ROLE {_ident(name)} {options}")


def _municipality_for(wanted: list[Role], municipality: str | None) -> str | None:
    """A social worker's municipality, canonical; None for every other role."""
    from ..matching.request import _canonical_municipality

    if Role.SOCIAL_WORKER in wanted:
        if not municipality:
            raise ValidationError(msg("user.municipality_needed"))
        try:
            return _canonical_municipality(nfc(municipality.strip()))
        except ValueError as exc:
            raise ValidationError(msg("option.problem", option="--municipality", problem=reason(exc))) from None
    if municipality:
        raise ValidationError(msg("user.municipality_social_worker_only"))
    return None


def update_user(session: Session, name: str, *, roles: list[str] | None = None,
                municipality: str | None = None) -> dict[str, Any]:
    """Change an existing account's roles (all of them: the roles given replace the ones held)
    and/or a social worker's municipality, said in history as before and after. On PostgreSQL a
    database login of that name gets the same group roles when this session may manage logins."""
    actor = require_admin(session)
    name = _login(name)
    account = session.scalars(select(UserAccount).where(UserAccount.login == name)).first()
    if account is None:
        raise NotFound(msg("user.not_found", name=name))
    if not roles and not municipality:
        raise ValidationError(msg("user.nothing_given"))
    before_roles = list(account.roles or [])
    wanted = _roles(list(roles)) if roles else [Role(r) for r in before_roles]
    if municipality is None and Role.SOCIAL_WORKER in wanted:
        municipality = account.municipality
    new_municipality = _municipality_for(wanted, municipality)
    now_roles = [r.value for r in wanted]
    if now_roles == before_roles and new_municipality == account.municipality:
        raise ValidationError(msg("user.nothing_to_change", name=name))
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection()
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() is not None \
                and _can_create_logins(session):
            for role in Role:
                verb = "GRANT" if role in wanted else "REVOKE"
                conn.exec_driver_sql(f"{verb} {pg_role(role)} {'TO' if verb == 'GRANT' else 'FROM'} {_ident(name)}")
    before_municipality = account.municipality
    account.roles, account.municipality = now_roles, new_municipality
    session.add(account)
    record(session, actor=actor, entity_kind="user", entity_id=name, action="user_updated",
           effective_on=sweden_today(),
           changes={"roles": [before_roles, now_roles], "municipality": [before_municipality, new_municipality]})
    session.flush()
    return {"user": name, "roles": now_roles, "municipality": new_municipality,
            "roles_before": before_roles, "municipality_before": before_municipality}


def remove_user(session: Session, name: str) -> dict[str, Any]:
    """Take every role from the account and remove it, revoke its API tokens; on PostgreSQL also
    revoke the placering group roles from a database login of that name. The login itself stays
    (it may be used for other databases on the server); history keeps its name."""
    from ..clock import now
    from ..storage.models import ApiToken

    actor = require_admin(session)
    name = _login(name)
    account = session.scalars(select(UserAccount).where(UserAccount.login == name)).first()
    if account is None:
        raise NotFound(msg("user.not_found", name=name))
    if name == actor:
        raise ValidationError(msg("user.remove_self"))
    before = list(account.roles or [])
    if session.get_bind().dialect.name == "postgresql":
        conn = session.connection()
        if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :n"), {"n": name}).first() is not None \
                and _can_create_logins(session):
            before = sorted(set(before) | set(roles_of(conn, name)), key=[r.value for r in Role].index)
            for role in Role:
                conn.exec_driver_sql(f"REVOKE {pg_role(role)} FROM {_ident(name)}")
    for token in session.scalars(select(ApiToken).where(ApiToken.account == name, ApiToken.revoked_at.is_(None))):
        token.revoked_at, token.revoked_by = now(), actor
        session.add(token)
    session.delete(account)
    record(session, actor=actor, entity_kind="user", entity_id=name, action="user_removed", effective_on=sweden_today(),
           changes={"roles": [before, []], "municipality": account.municipality})
    session.flush()
    return {"user": name, "roles_removed": before}


def list_users(session: Session) -> list[dict[str, Any]]:
    require_admin(session)
    from .reads import user_row

    return [user_row(account) for account in session.scalars(select(UserAccount).order_by(UserAccount.login))]


def get_account(session: Session, login: str) -> UserAccount | None:
    """The account of `login` (exact, after NFC), or None."""
    return session.scalars(select(UserAccount).where(UserAccount.login == nfc((login or "").strip()))).first()

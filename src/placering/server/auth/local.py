"""Local accounts: a login and an argon2 password hash in `user_account` (access/users.py), for
small installations and tests. `sign_in` is what the web sign-in page and POST
/api/v1/auth/session call; `authenticate` is what POST /api/v1/auth/token calls."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from starlette.requests import HTTPConnection

from ...access.policy import Principal
from ...access.roles import Role
from ...access.users import get_account, verify_password
from ...storage import open_session, transaction
from ..errors import NotSignedIn
from ...i18n import msg
from ..settings import ServerSettings
from . import throttle
from .addresses import client_address
from .sessions import start_session

WRONG = msg("signin.wrong")


def authenticate(engine: Engine, settings: ServerSettings, login: str, password: str, address: str) -> Principal:
    """The account's principal if `password` is its password; else NotSignedIn (the failure is
    counted, per account and per address) or Throttled (too many failures: not even checked)."""
    if not settings.local_accounts:
        raise NotSignedIn(msg("signin.local_off"))
    login = (login or "").strip()
    # No database connection is held while argon2 works (tens of milliseconds, 64 MiB): many
    # people signing in at once must not take every connection of the pool.
    with open_session(engine) as db:
        throttle.check(db, settings, login, address)
        account = get_account(db, login) if login else None
        stored = account.password_hash if account is not None else None
        principal = None
        if account is not None and account.roles:
            principal = Principal(login=account.login, roles=frozenset(Role(r) for r in account.roles),
                                  municipality=account.municipality, via="local")
    ok = verify_password(stored, password or "")
    with transaction(engine) as db:
        if ok and principal is not None:
            throttle.succeeded(db, principal.login)
            return principal
        throttle.failed(db, settings, login, address)
    raise NotSignedIn(WRONG)


def sign_in(request: HTTPConnection, login: str, password: str) -> Principal:
    """Check a local account's password and begin its session (a new signed cookie). Raises
    NotSignedIn or Throttled with a message for the person."""
    app = request.app
    principal = authenticate(app.state.engine, app.state.settings, login, password,
                             client_address(request, app.state.settings))
    start_session(request, principal)
    return principal

"""Throttled failed sign-ins, per account and per address, counted in the database so that
every instance behind the proxy sees the same count. A sign-in is refused before its password
is checked once an account (or address) has THROTTLE_ACCOUNT (THROTTLE_ADDRESS) failures in the
last THROTTLE_MINUTES; a successful sign-in clears its account's count."""

from __future__ import annotations

from datetime import timedelta, timezone

from sqlalchemy import delete, func, select
from sqlmodel import Session

from ...clock import now
from ...storage.models import SigninFailure
from ...text import fold
from ..errors import Throttled
from ...i18n import msg
from ..settings import ServerSettings


def _keys(login: str, address: str) -> list[tuple[str, str, str]]:
    keys = []
    if login:
        keys.append(("account", fold(login.strip())[:200], "account"))
    if address:
        keys.append(("address", address[:100], "address"))
    return keys


def check(session: Session, settings: ServerSettings, login: str, address: str) -> None:
    since = now() - timedelta(minutes=settings.throttle_minutes)
    for scope, key, _ in _keys(login, address):
        limit = settings.throttle_account if scope == "account" else settings.throttle_address
        count, oldest = session.execute(select(func.count(), func.min(SigninFailure.at)).where(
            SigninFailure.scope == scope, SigninFailure.key == key, SigninFailure.at > since)).one()
        if count >= limit:
            if oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=timezone.utc)
            wait = max(1, int((oldest + timedelta(minutes=settings.throttle_minutes) - now()).total_seconds()))
            minutes = (wait + 59) // 60
            raise Throttled(msg(f"signin.throttled_{scope}", n=minutes, minutes=minutes), wait)


def failed(session: Session, settings: ServerSettings, login: str, address: str) -> None:
    at = now()
    session.execute(delete(SigninFailure).where(SigninFailure.at < at - timedelta(minutes=settings.throttle_minutes)))
    for scope, key, _ in _keys(login, address):
        session.add(SigninFailure(scope=scope, key=key, at=at))
    session.flush()


def succeeded(session: Session, login: str) -> None:
    session.execute(delete(SigninFailure).where(SigninFailure.scope == "account",
                                                SigninFailure.key == fold(login.strip())[:200]))

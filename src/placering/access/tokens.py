"""API tokens for machine clients (a case-management system, an audit run) and for a person's
CLI (`placering login`): `placering admin token create/list/revoke` and /api/v1/tokens.

A token is `plc_` and 43 random URL-safe characters (256 bits). Only its sha256 is stored, so a
copy of the database does not let anyone act; the secret is shown once, when it is made. A
token has roles (never more than its maker may give), an expiry, and can be revoked. A person's
token (`account` set) acts with the roles both the token and the account hold now: taking a role
from the person, or removing them, takes it from their tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from ..clock import now
from ..errors import NotFound, NotPermitted, ValidationError
from ..i18n import label_list as labels, msg, reason
from ..storage.history import record
from ..storage.models import ApiToken, UserAccount
from ..text import nfc
from .policy import Action, Principal, authorize, parse_roles
from .roles import Role

PREFIX = "plc_"
MAX_DAYS = 366
DEFAULT_DAYS = 90


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _days(days: int | None) -> int:
    days = DEFAULT_DAYS if days is None else days
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(msg("token.days", max=MAX_DAYS, days=days))
    return days


def _today():
    from ..display import today

    return today()


def create_token(session: Session, maker: Principal, name: str, *, roles: list[str] | None = None,
                 municipality: str | None = None, days: int | None = None,
                 account: str | None = None) -> dict[str, Any]:
    """A new token (its secret in the result, shown once). An admin makes machine tokens with any
    roles; `account` makes a person's token (roles default to, and may not exceed, the person's)."""
    name = nfc((name or "").strip())
    if not name or len(name) > 100:
        raise ValidationError(msg("token.bad_name"))
    wanted = parse_roles(roles or [])
    if account is None:
        authorize(maker, Action.ADMIN_TOKENS)
        if not wanted:
            raise ValidationError(msg("role.none_given", known=labels([r.value for r in Role], "role")))
        if Role.SOCIAL_WORKER in wanted and not municipality:
            raise ValidationError(msg("token.municipality_needed"))
        if municipality and Role.SOCIAL_WORKER not in wanted:
            raise ValidationError(msg("user.municipality_social_worker_only"))
        if municipality:
            from ..matching.request import _canonical_municipality

            try:
                municipality = _canonical_municipality(nfc(municipality.strip()))
            except ValueError as exc:
                raise ValidationError(msg("option.problem", option="--municipality",
                                          problem=reason(exc))) from None
    else:
        person = session.scalars(select(UserAccount).where(UserAccount.login == account)).first()
        if person is None:
            raise NotFound(msg("user.not_found", name=account))
        if maker.login != account:
            authorize(maker, Action.ADMIN_TOKENS)
        held = frozenset(Role(r) for r in person.roles or [])
        wanted = wanted or held
        if not wanted <= held:
            raise NotPermitted(msg("token.roles_not_held", account=account,
                                   roles=labels(sorted(r.value for r in wanted - held), "role")))
        municipality = person.municipality
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = now() + timedelta(days=_days(days))
    token = ApiToken(token_hash=digest(secret), name=name, account=account,
                     roles=[r.value for r in Role if r in wanted], municipality=municipality,
                     created_by=maker.login, expires_at=expires)
    session.add(token)
    session.flush()
    record(session, actor=maker.login, entity_kind="token", entity_id=str(token.id), action="token_created",
           effective_on=_today(), changes={"name": name, "account": account, "roles": token.roles,
                                           "municipality": municipality,
                                           # the day only: a timestamp's digit run (20270106131719…) now
                                           # and then reads as an identity number, and history refuses
                                           # it (the token's row keeps the exact moment)
                                           "expires_on": expires.date().isoformat()})
    return {**_row(token), "secret": secret}


def _row(t: ApiToken) -> dict[str, Any]:
    from .reads import token_row  # the direct read's rows too (admin token list)

    return token_row(t)


def list_tokens(session: Session, viewer: Principal) -> list[dict[str, Any]]:
    """Every token for an admin; a person's own tokens otherwise. Never a secret."""
    from sqlalchemy import and_, or_

    stmt = select(ApiToken).order_by(ApiToken.id)
    if Action.ADMIN_TOKENS not in viewer.actions:
        # a person's own: their account's, and those their `placering login` got without an
        # account here (access/device.py: named by and made by the person)
        stmt = stmt.where(or_(ApiToken.account == viewer.login,
                              and_(ApiToken.account.is_(None), ApiToken.name == viewer.login,
                                   ApiToken.created_by == viewer.login)))
    return [_row(t) for t in session.scalars(stmt)]


def _own(token: ApiToken, login: str) -> bool:
    return token.account == login or (token.account is None and token.name == login == token.created_by)


def revoke_token(session: Session, by: Principal, token_id: int) -> dict[str, Any]:
    token = session.get(ApiToken, token_id)
    if token is None or (not _own(token, by.login) and Action.ADMIN_TOKENS not in by.actions):
        if token is not None:
            authorize(by, Action.ADMIN_TOKENS)
        raise NotFound(msg("token.not_found", id=token_id))
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by = now(), by.login
        session.add(token)
        record(session, actor=by.login, entity_kind="token", entity_id=str(token.id), action="token_revoked",
               effective_on=_today(), changes={"name": token.name, "account": token.account})
        session.flush()
    return _row(token)


def principal_for(session: Session, secret: str) -> Principal | None:
    """The principal a presented token acts for, or None (unknown, expired, revoked, or its
    person gone or without any of its roles)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest(secret))).first()
    if token is None or token.revoked_at is not None or _aware(token.expires_at) <= now():
        return None
    roles = frozenset(Role(r) for r in token.roles)
    municipality = token.municipality
    if token.account is not None:
        person = session.scalars(select(UserAccount).where(UserAccount.login == token.account)).first()
        if person is None:
            return None
        roles &= frozenset(Role(r) for r in person.roles or [])
        municipality = person.municipality
        if not roles:
            return None
    return Principal(login=token.account or token.name, roles=roles, municipality=municipality, via="token")

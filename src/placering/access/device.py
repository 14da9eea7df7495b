"""`placering login` by the device flow (RFC 8628, as `gh auth login` does it): a CLI without a
browser of its own gets a token for the person who approves it on the server's web page.

1. The CLI asks (`start`): it gets a device code (kept secret, to poll with) and a short user
   code ("WDJB-MJHT") the person types at the server's page /enhet, with how long they live
   and how often it may poll.
2. The person, signed in by any of the server's ways (the identity provider, the trusted proxy
   header, a local account), enters the user code, sees what is asking and when, and approves or
   denies (`decide`; who may: access/policy.py, Action.AUTH_DEVICE, as for everything else).
3. The CLI polls (`poll`): authorization_pending until then, slow_down when it polls faster
   than the interval (which then grows by 5 s), expired_token after the code's minutes,
   access_denied once denied, and on approval, once only, an API token with the approving
   person's roles and municipality as they were signed in (expiring and revocable as every
   token; access/tokens.py). A used, unknown or denied-and-read code is invalid_grant.

Both codes are stored as their sha256 only. A user code has 8 letters of 20 (about 34 bits)
and lives EXPIRES_IN seconds; wrong codes typed on the page are throttled per person
(`signin_failure`, scope "device").
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import Session

from ..clock import now
from ..errors import NotFound, PlaceringError, ValidationError
from ..i18n import msg
from ..storage.models import ApiToken, DeviceAuthorization, SigninFailure, UserAccount
from ..text import nfc
from .policy import Action, Principal, authorize
from .roles import Role

EXPIRES_IN = 600  # seconds a code lives
INTERVAL = 5  # seconds between polls (RFC 8628 §3.2 default)
SLOW_DOWN = 5  # seconds added to the interval when a client polls too fast
# RFC 8628 §6.1: consonants only (no vowels: no words), none easily confused with another
ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
# A token whose person has no account here (signed in through the identity provider or the
# proxy) carries the roles read at approval: it cannot follow later changes at the identity
# provider, so it lives a month at most.
MAX_DAYS_WITHOUT_ACCOUNT = 30
WRONG_CODES = 10  # wrong user codes a person may type per THROTTLE minutes
STARTS = 30  # device codes one client address may ask for per THROTTLE minutes
THROTTLE = timedelta(minutes=15)


class DeviceFlowError(PlaceringError):
    """An RFC 8628 answer to a poll that gives no token: `error` is its code
    (authorization_pending, slow_down, expired_token, access_denied, invalid_grant)."""

    exit_code = 6

    def __init__(self, error: str, message):
        super().__init__(message)
        self.error = error

    @classmethod
    def of(cls, answer: dict[str, Any]) -> dict[str, Any]:
        """`poll`'s answer: the token, or this error raised."""
        if "error" in answer:
            raise cls(answer["error"], answer["message"])
        return answer


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def normal_user_code(typed: str) -> str:
    """What a person typed, as stored: upper case, without dashes or spaces ('wdjb mjht' →
    'WDJBMJHT')."""
    return "".join(ch for ch in nfc(typed or "").upper() if ch.isalnum())


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def start(session: Session, client_name: str, *, days: int = 30, address: str | None = None) -> dict[str, Any]:
    """A new device authorization: the device code (for the CLI only), the user code (for the
    person), and how long and how often. Old codes (expired a day ago) are deleted. Anyone may
    ask, so asking is throttled per client address (STARTS per 15 minutes)."""
    client_name = nfc((client_name or "").strip())[:100] or "placering"
    if not 1 <= days <= 366:
        raise ValidationError(msg("token.days", max=366, days=days))
    at = now()
    session.execute(delete(DeviceAuthorization).where(DeviceAuthorization.expires_at < at - timedelta(days=1)))
    if address:
        session.execute(delete(SigninFailure).where(SigninFailure.scope == "device_start",
                                                    SigninFailure.at < at - THROTTLE))
        asked = session.scalar(select(func.count()).select_from(SigninFailure).where(
            SigninFailure.scope == "device_start", SigninFailure.key == address[:100]))
        if asked >= STARTS:
            from ..server.errors import Throttled

            raise Throttled(msg("device.throttled", minutes=int(THROTTLE.total_seconds() // 60)),
                            int(THROTTLE.total_seconds()))
        session.add(SigninFailure(scope="device_start", key=address[:100], at=at))
    device_code = secrets.token_urlsafe(32)
    user = "".join(secrets.choice(ALPHABET) for _ in range(USER_CODE_LENGTH))
    row = DeviceAuthorization(device_hash=_digest(device_code), user_hash=_digest(user), client_name=client_name,
                              created_at=at, expires_at=at + timedelta(seconds=EXPIRES_IN), interval=INTERVAL,
                              days=days)
    session.add(row)
    session.flush()
    return {"device_code": device_code, "user_code": f"{user[:4]}-{user[4:]}", "expires_in": EXPIRES_IN,
            "interval": INTERVAL}


def _by_user_code(session: Session, user_code: str) -> DeviceAuthorization | None:
    code = normal_user_code(user_code)
    if len(code) != USER_CODE_LENGTH:
        return None
    rows = session.scalars(select(DeviceAuthorization).where(DeviceAuthorization.user_hash == _digest(code),
                                                             DeviceAuthorization.status == "pending",
                                                             DeviceAuthorization.expires_at > now())).all()
    return rows[0] if len(rows) == 1 else None  # two live codes alike (1 in 10^10): neither is shown


def _throttle_key(principal: Principal) -> str:
    from ..text import fold

    return fold(principal.login)[:200]


def _check_throttle(session: Session, principal: Principal) -> None:
    count = session.scalar(select(func.count()).select_from(SigninFailure).where(
        SigninFailure.scope == "device", SigninFailure.key == _throttle_key(principal),
        SigninFailure.at > now() - THROTTLE))
    if count >= WRONG_CODES:
        from ..server.errors import Throttled

        raise Throttled(msg("device.throttled", minutes=int(THROTTLE.total_seconds() // 60)),
                        int(THROTTLE.total_seconds()))


def pending(session: Session, principal: Principal, user_code: str) -> dict[str, Any]:
    """The pending request a user code names, for the person to see before deciding: what is
    asking and when. A wrong or expired code is NotFound; the caller counts it in a transaction
    of its own (`wrong_code`): WRONG_CODES per person per 15 minutes, then Throttled."""
    authorize(principal, Action.AUTH_DEVICE)
    _check_throttle(session, principal)
    row = _by_user_code(session, user_code)
    if row is None:
        raise NotFound(msg("device.code_unknown", code=(user_code or "").strip()[:20]))
    code = normal_user_code(user_code)
    return {"user_code": f"{code[:4]}-{code[4:]}", "client_name": row.client_name, "created_at": _aware(row.created_at),
            "expires_at": _aware(row.expires_at), "days": row.days}


def wrong_code(session: Session, principal: Principal) -> None:
    """Count a wrong or expired user code typed by `principal` (in its own transaction: the
    refusal rolls back the one it happened in)."""
    session.execute(delete(SigninFailure).where(SigninFailure.scope == "device", SigninFailure.at < now() - THROTTLE))
    session.add(SigninFailure(scope="device", key=_throttle_key(principal), at=now()))
    session.flush()


def decide(session: Session, principal: Principal, user_code: str, *, approve: bool) -> dict[str, Any]:
    """Approve (the CLI's next poll gets a token for `principal`) or deny (it gets
    access_denied). Only a pending, unexpired code; once."""
    shown = pending(session, principal, user_code)
    code = normal_user_code(user_code)
    values: dict[str, Any] = {"status": "approved" if approve else "denied", "decided_by": principal.login,
                              "decided_at": now()}
    if approve:
        values |= {"login": principal.login, "roles": sorted(r.value for r in principal.roles),
                   "municipality": principal.municipality, "via": principal.via}
    done = session.execute(update(DeviceAuthorization).where(
        DeviceAuthorization.user_hash == _digest(code), DeviceAuthorization.status == "pending",
        DeviceAuthorization.expires_at > now()).values(**values)).rowcount
    if done != 1:  # decided a moment ago in another window
        raise NotFound(msg("device.code_unknown", code=shown["user_code"]))
    return {**shown, "status": values["status"]}


def poll(session: Session, device_code: str) -> dict[str, Any]:
    """The CLI's poll: a token once approved (exactly once), else {"error": code, "message":
    Message} (RFC 8628 §3.5). Not raised: what the poll notes (its time, a spent denial) is kept,
    so commit the session either way; `DeviceFlowError.of(answer)` raises it afterwards."""
    row = session.scalars(select(DeviceAuthorization).where(
        DeviceAuthorization.device_hash == _digest(device_code or ""))).first() if device_code else None
    if row is None or row.status == "used":
        return _refusal("invalid_grant", msg("device.invalid"))
    at = now()
    if row.status == "denied":
        row.status = "used"  # said once; after that the code is spent
        session.add(row)
        session.flush()
        return _refusal("access_denied", msg("device.denied"))
    if _aware(row.expires_at) <= at:
        return _refusal("expired_token", msg("device.expired"))
    if row.status == "pending":
        last = _aware(row.last_polled_at)
        too_fast = last is not None and (at - last).total_seconds() < row.interval
        row.last_polled_at = at
        if too_fast:
            row.interval += SLOW_DOWN
        session.add(row)
        session.flush()
        if too_fast:
            return _refusal("slow_down", msg("device.slow_down", seconds=row.interval))
        return _refusal("authorization_pending", msg("device.pending"))
    # approved: spend it (one poll wins, even two at once on two instances) and give the token
    spent = session.execute(update(DeviceAuthorization).where(
        DeviceAuthorization.id == row.id, DeviceAuthorization.status == "approved").values(status="used")).rowcount
    if spent != 1:
        return _refusal("invalid_grant", msg("device.invalid"))
    principal = Principal(login=row.login or "", roles=frozenset(Role(r) for r in row.roles),
                          municipality=row.municipality, via=row.via or "oidc")
    token = _issue(session, principal, row.client_name, row.days)
    session.execute(update(DeviceAuthorization).where(DeviceAuthorization.id == row.id).values(token_id=token["id"]))
    return token


def _refusal(error: str, message) -> dict[str, Any]:
    return {"error": error, "message": message}


def _issue(session: Session, principal: Principal, client_name: str, days: int) -> dict[str, Any]:
    """The approving person's token. With an account here: that account's token (it keeps
    following the account: roles taken or the person removed take effect at once), with the
    roles both hold. Without one: a token with the roles and municipality as signed in, for at
    most MAX_DAYS_WITHOUT_ACCOUNT days."""
    from ..storage.history import record
    from .tokens import PREFIX, _row, _today, create_token, digest

    account = session.scalars(select(UserAccount).where(UserAccount.login == principal.login)).first()
    held = frozenset(Role(r) for r in (account.roles or [])) if account is not None else frozenset()
    both = principal.roles & held
    if both:
        made = create_token(session, principal, client_name, roles=[r.value for r in both], account=principal.login,
                            days=days)
    else:
        secret = PREFIX + secrets.token_urlsafe(32)
        expires = now() + timedelta(days=min(days, MAX_DAYS_WITHOUT_ACCOUNT))
        token = ApiToken(token_hash=digest(secret), name=principal.login, account=None,
                         roles=[r.value for r in Role if r in principal.roles], municipality=principal.municipality,
                         created_by=principal.login, expires_at=expires)
        session.add(token)
        session.flush()
        record(session, actor=principal.login, entity_kind="token", entity_id=str(token.id), action="token_created",
               effective_on=_today(), changes={"name": token.name, "account": None, "roles": token.roles,
                                               "municipality": token.municipality, "client": client_name,
                                               "expires_on": expires.date().isoformat()})
        made = {**_row(token), "secret": secret}
    return {"id": made["id"], "token": made["secret"], "login": principal.login, "roles": made["roles"],
            "municipality": made["municipality"], "expires_at": made["expires_at"], "via": principal.via}

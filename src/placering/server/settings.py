"""The server's settings: environment variables PLACERING_SERVER_* (or a TOML file named by
PLACERING_SERVER_CONFIG, keys as below without the prefix, lower case). Nothing is kept in the
process but these: several instances with the same settings behind one proxy behave as one.

    PLACERING_DATABASE_URL            the database (on PostgreSQL: the service login's URL)
    PLACERING_SERVER_PUBLIC_URL       the address people use (https://…), for the OIDC redirect
    PLACERING_SERVER_SECRET_KEY       signs session cookies (same on every instance; ≥ 32 chars)
    PLACERING_SERVER_COOKIE_SECURE    1 (default): cookies only over https
    PLACERING_SERVER_SESSION_MINUTES  idle lifetime of a session (default 480)
    PLACERING_SERVER_LOCAL_ACCOUNTS   1 (default): local accounts may sign in with a password
    PLACERING_SERVER_OIDC_ISSUER      the identity provider (its /.well-known/openid-configuration)
    PLACERING_SERVER_OIDC_CLIENT_ID / _CLIENT_SECRET / _SCOPES
    PLACERING_SERVER_OIDC_LOGIN_CLAIM (preferred_username) / _ROLES_CLAIM (roles) /
      _MUNICIPALITY_CLAIM (municipality) / _ROLE_MAP ("idp-value=role,…"; unmapped values ignored)
    PLACERING_SERVER_PROXY_ADDRESSES  addresses/networks of the trusted reverse proxies (comma-separated)
    PLACERING_SERVER_PROXY_USER_HEADER (X-Remote-User) / _ROLES_HEADER (X-Remote-Roles) /
      _MUNICIPALITY_HEADER (X-Remote-Municipality) / PROXY_ROLE_MAP (as OIDC_ROLE_MAP)
    PLACERING_SERVER_WORKER_THREADS   requests worked on at once per instance (15: the connection pool)
    PLACERING_SERVER_THROTTLE_ACCOUNT (5) / _THROTTLE_ADDRESS (20) / _THROTTLE_MINUTES (15)
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ..errors import Problem, ValidationError
from ..i18n import msg, reason
from .. import config as user_config

ENV_PREFIX = "PLACERING_SERVER_"
CONFIG_ENV = "PLACERING_SERVER_CONFIG"


class ServerSettings(BaseModel):
    database_url: str | None = None
    public_url: str | None = None  # https://placering.kommun.se as people reach it (OIDC redirect)
    secret_key: str = ""
    demo: bool = False
    cookie_secure: bool = True
    same_site: str = "lax"
    session_minutes: int = Field(default=480, ge=1, le=7 * 24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    local_accounts: bool = True
    # OpenID Connect
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid profile"
    oidc_login_claim: str = "preferred_username"
    oidc_roles_claim: str = "roles"
    oidc_municipality_claim: str = "municipality"
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    # trusted reverse proxy (SAML/SITHS front ends)
    proxy_addresses: list[str] = Field(default_factory=list)
    proxy_user_header: str = "X-Remote-User"
    proxy_roles_header: str = "X-Remote-Roles"
    proxy_municipality_header: str = "X-Remote-Municipality"
    proxy_role_map: dict[str, str] = Field(default_factory=dict)
    # throttled failed sign-ins (counted in the database: every instance sees them)
    throttle_account: int = Field(default=5, ge=1)
    throttle_address: int = Field(default=20, ge=1)
    throttle_minutes: int = Field(default=15, ge=1)
    # requests worked on at once per instance (threads), no more than the database connection
    # pool holds (SQLAlchemy's default: 5 + 10 overflow), so a burst waits instead of failing
    worker_threads: int = Field(default=15, ge=1, le=200)
    # logging
    log_requests: bool = True

    @field_validator("same_site")
    @classmethod
    def _same_site(cls, v: str) -> str:
        v = v.lower()
        if v not in ("lax", "strict"):
            raise ValueError("same_site is lax or strict")
        return v

    @field_validator("proxy_addresses")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            ipaddress.ip_network(item, strict=False)  # ValueError names the bad one
        return v

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    def proxy_networks(self) -> list[ipaddress._BaseNetwork]:
        return [ipaddress.ip_network(a, strict=False) for a in self.proxy_addresses]

    def checked(self) -> "ServerSettings":
        """Refuse settings a server must not run with (a missing or short secret key, except for a
        demo, which makes a random one for its one process)."""
        if not self.secret_key:
            if not self.demo:
                raise ValidationError(Problem(msg("settings.secret_key_missing"), field=ENV_PREFIX + "SECRET_KEY"))
            self.secret_key = secrets.token_urlsafe(32)
        elif len(self.secret_key) < 32:
            raise ValidationError(Problem(msg("settings.secret_key_short"), field=ENV_PREFIX + "SECRET_KEY"))
        return self


def _mapping(raw: str) -> dict[str, str]:
    out = {}
    for part in raw.split(","):
        if part.strip():
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"'{part.strip()}' is not value=role")
            out[key.strip()] = value.strip()
    return out


_LISTS = {"proxy_addresses"}
_MAPS = {"oidc_role_map", "proxy_role_map"}


def load_settings(**overrides: Any) -> ServerSettings:
    """Settings from the config file, then the environment, then `overrides` (the command line)."""
    data: dict[str, Any] = {}
    path = os.environ.get(CONFIG_ENV)
    if path:
        try:
            with Path(path).open("rb") as fh:
                data.update(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValidationError(Problem(msg("settings.unreadable", error=str(exc)), file=path)) from None
    for name in ServerSettings.model_fields:
        raw = os.environ.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        try:
            if name in _LISTS:
                data[name] = [p.strip() for p in raw.split(",") if p.strip()]
            elif name in _MAPS:
                data[name] = _mapping(raw)
            else:
                data[name] = raw
        except ValueError as exc:
            raise ValidationError(Problem(reason(exc), field=ENV_PREFIX + name.upper())) from None
    data.setdefault("database_url", os.environ.get("PLACERING_DATABASE_URL") or user_config.setting("database"))
    data.update({k: v for k, v in overrides.items() if v is not None})
    from pydantic import ValidationError as PydanticError

    try:
        return ServerSettings(**data)
    except PydanticError as exc:
        from ..fielderrors import problems_of

        raise ValidationError(problems_of(exc, field_prefix=ENV_PREFIX, upper=True)) from None

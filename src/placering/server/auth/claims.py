"""From what an identity provider (OIDC claims) or the trusted proxy (headers) says about a
person to a Principal: which claim or header holds the login, the roles and the municipality is
configuration, and so is how the provider's role values map to placering's seven roles
(`ROLE_MAP`, "provider-value=role,…"; without a map the values are the role codes themselves).
A value that maps to no role is ignored; a person left with no role is not signed in."""

from __future__ import annotations

from typing import Any, Iterable

from ...access.policy import Principal
from ...access.roles import Role
from ...errors import NotPermitted
from ...i18n import msg
from ...text import nfc


def map_roles(values: Iterable[str], mapping: dict[str, str]) -> frozenset[Role]:
    out = set()
    for value in values:
        value = nfc(str(value).strip())
        code = mapping.get(value, value if not mapping else None)
        if code in Role._value2member_map_:
            out.add(Role(code))
    return frozenset(out)


def split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in (p.strip() for p in value.replace(";", ",").split(",")) if v]
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return [str(value)]


def principal_from(login: Any, roles: Any, municipality: Any, mapping: dict[str, str], via: str) -> Principal:
    login = nfc(str(login or "").strip())
    if not login or len(login) > 200:
        raise NotPermitted(msg("signin.no_person"))
    held = map_roles(split(roles), mapping)
    if not held:
        raise NotPermitted(msg("signin.no_role", login=login))
    place = nfc(str(municipality).strip()) if municipality else None
    if Role.SOCIAL_WORKER in held and not place:
        raise NotPermitted(msg("signin.no_municipality", login=login))
    return Principal(login=login, roles=held, municipality=place, via=via)

"""The trusted reverse-proxy header (for SAML/SITHS front ends that authenticate people and pass
them on): X-Remote-User (and roles, municipality headers; the names are settings), accepted ONLY
from the configured proxy addresses. The same header from any other address is refused: else
anyone who reaches the server directly could name themselves anyone."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ...access.policy import Principal
from ...errors import NotPermitted
from ...i18n import msg
from ..settings import ServerSettings
from .addresses import peer, peer_is_trusted_proxy
from .claims import principal_from


def _header(request: HTTPConnection, name: str) -> str | None:
    value = request.headers.get(name)
    if value is None:
        return None
    try:  # HTTP headers are bytes; a proxy passes names with å, ä, ö as UTF-8
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def proxy_principal(request: HTTPConnection, settings: ServerSettings) -> Principal | None:
    user = _header(request, settings.proxy_user_header)
    if user is None:
        return None
    if not settings.proxy_addresses or not peer_is_trusted_proxy(request, settings):
        raise NotPermitted(msg("signin.proxy_header_refused", header=settings.proxy_user_header, address=peer(request))
                           if peer(request) else msg("signin.proxy_header_unknown_address", header=settings.proxy_user_header))
    return principal_from(user, _header(request, settings.proxy_roles_header),
                          _header(request, settings.proxy_municipality_header), settings.proxy_role_map, "proxy")

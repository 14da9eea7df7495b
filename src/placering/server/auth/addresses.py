"""Where a request comes from. The direct peer is the TCP address; a peer that is one of the
configured proxies may name the client (the last X-Forwarded-For entry it added). Uvicorn runs
with its own proxy-header rewriting off (cli/serve.py), so the peer seen here is the real one."""

from __future__ import annotations

import ipaddress

from starlette.requests import HTTPConnection

from ..settings import ServerSettings


def peer(request: HTTPConnection) -> str:
    return request.client.host if request.client else ""


def peer_is_trusted_proxy(request: HTTPConnection, settings: ServerSettings) -> bool:
    try:
        address = ipaddress.ip_address(peer(request))
    except ValueError:
        return False
    return any(address in net for net in settings.proxy_networks())


def client_address(request: HTTPConnection, settings: ServerSettings) -> str:
    if peer_is_trusted_proxy(request, settings):
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return peer(request)

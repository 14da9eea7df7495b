"""One JSON line per request on standard output, for the municipality's log collection.

Without personal data: the route's path TEMPLATE (/api/v1/requests/{request_id}, never the ids
in it), never the query string, never a body; the person as `who`, a keyed hash of their login
(the first 16 hex digits of HMAC-SHA256 with the server's secret key), so IT can follow one
person's requests across instances and days without the log holding names, and an admin who
has the key can find a given person's lines (`placering serve --log-id LOGIN`). History in the
database records the login itself, as it always has.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import time
from .. import clock

LOGGER = "placering.server.requests"
log = logging.getLogger(LOGGER)


def log_id(secret_key: str, login: str) -> str:
    return hmac.new(secret_key.encode(), login.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:16]


class _Stdout:
    """Standard output as it is when a line is written (tests and daemons replace sys.stdout)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure(stream=None) -> None:
    """Send the request lines to standard output as they are (one JSON document a line)."""
    if any(getattr(h, "_placering", False) for h in log.handlers):
        return
    handler = logging.StreamHandler(stream or _Stdout())
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._placering = True  # type: ignore[attr-defined]
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def route_template(scope) -> str:
    """The path with every path parameter's value replaced by its name (/api/v1/units/{unit_id}):
    ids never reach the log. A path that matched no route is not logged at all (it may be anything)."""
    from urllib.parse import unquote

    if scope.get("route") is None:
        return "(no route)"
    params = scope.get("path_params") or {}
    values = {str(v): k for k, v in params.items()}
    parts = [("{" + values[unquote(p)] + "}") if unquote(p) in values else p for p in scope.get("path", "").split("/")]
    return "/".join(parts)


class RequestLog:
    """ASGI middleware: times each HTTP request and logs it after the answer is sent."""

    def __init__(self, app, secret_key: str, instance: str | None = None):
        self.app = app
        self.secret_key = secret_key
        self.instance = instance

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            principal = (scope.get("state") or {}).get("principal")
            line = {
                "ts": clock.now().isoformat(timespec="milliseconds"),
                "method": scope.get("method"),
                "route": route_template(scope),
                "status": status["code"],
                "ms": round((time.perf_counter() - start) * 1000, 1),
                "who": log_id(self.secret_key, principal.login) if principal is not None else None,
                "via": principal.via if principal is not None else None,
            }
            if self.instance:
                line["instance"] = self.instance
            log.info(json.dumps(line, ensure_ascii=False))

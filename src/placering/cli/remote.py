"""The CLI as a client of `placering serve`: the login kept in the user's config directory and
the HTTP calls to the server's JSON API (/api/v1).

This path imports neither SQLAlchemy nor the rules engine: a plain socket (ssl for https) and
`json` (urllib.request or http.client would add about 0.05 s of imports to every command). The
server answers with the same documents `--json` prints locally, so each command formats one document however it got it.

Errors come back as {code, message, problems} with a status the CLI turns into its own exit
codes: 400 → 2 (invalid input), 401/403 → 6 (not permitted), 404 → 3 (not found), 409 → 4
(refused by a register invariant or a concurrent change), 503 and the rest → 5.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from ..errors import os_reason
from ..i18n import msg, text

API = "/api/v1"
LOGIN_FILE = "login.json"
TIMEOUT = 600.0  # seconds: a batch match or a national import takes minutes

EXIT_CODES = {400: 2, 422: 2, 401: 6, 403: 6, 404: 3, 409: 4}


class RemoteError(Exception):
    """The server refused or could not answer: a message for a person and the CLI's exit code."""

    def __init__(self, message: str, exit_code: int, *, code: str | None = None, problems: list | None = None,
                 in_swedish: bool = False):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.problems = problems or []
        self.in_swedish = in_swedish  # the server's answer (already through the catalogue), else English


def login_path() -> Path:
    """login.json beside placering.toml (PLACERING_CONFIG names that file; its folder holds both)."""
    from ..config import config_path

    return config_path().parent / LOGIN_FILE


def read_login() -> dict[str, str] | None:
    path = login_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise RemoteError(msg("cli.login_unreadable", file=str(path), reason=str(exc)), 2) from None
    if not isinstance(data, dict) or not isinstance(data.get("server"), str) or not isinstance(data.get("token"), str):
        raise RemoteError(msg("cli.login_invalid", file=str(path)), 2)
    return data


def write_login(data: dict[str, Any]) -> Path:
    """Save the login readable by its owner only: the file is created with mode 0600 (never
    world-readable, not even for a moment) and replaced atomically."""
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{LOGIN_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600) if hasattr(os, "fchmod") else None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=2)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def remove_login() -> bool:
    try:
        login_path().unlink()
    except FileNotFoundError:
        return False
    return True


def normal_server(url: str) -> str:
    """http(s)://host[:port][/prefix] without a trailing slash; anything else is refused."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise RemoteError(msg("cli.not_a_server_address", url=url), 2)
    return url


@dataclass
class Client:
    """Calls to one server with one bearer token."""

    server: str
    token: str | None = None
    login: str | None = None

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None and v is not False and v != ()}
        return self.server + API + path + ("?" + urlencode(query, doseq=True) if query else "")

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, *, json_body: Any = None,
                body: bytes | None = None, content_type: str | None = None) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if json_body is not None:
            from ..jsondata import to_jsonable

            data = json.dumps(to_jsonable(json_body), ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = body
            headers["Content-Type"] = content_type or "application/octet-stream"
        try:
            status, raw = exchange(method, self.url(path, params), headers, data)
        except (OSError, ValueError) as exc:
            raise RemoteError(msg("cli.server_not_answering", server=self.server, reason=os_reason(exc) if isinstance(exc, OSError) else str(exc)), 5) from None
        if status >= 400:
            raise _error(status, raw)
        return json.loads(raw) if raw else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, params, json_body=body if body is not None else {})


def _param(value: Any) -> Any:
    if value is True:
        return "true"
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value)


def _error(status: int, raw: bytes) -> RemoteError:
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    exit_code = EXIT_CODES.get(status, 5)
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        message = doc["message"]
        if status == 401:
            message += text("cli.remote.sign_in_again")
        return RemoteError(message, exit_code, code=doc.get("code"), problems=doc.get("problems"), in_swedish=True)
    if isinstance(doc, dict) and "detail" in doc:  # FastAPI's own refusals (validation, unknown route)
        detail = doc["detail"]
        if isinstance(detail, list):
            detail = "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail
                               if isinstance(d, dict))
        if status == 401:
            return RemoteError(text("cli.remote.not_signed_in", detail=detail), 6,
                               in_swedish=True)
        return RemoteError(text("cli.remote.answered_detail", status=status, detail=detail), exit_code, in_swedish=True)
    return RemoteError(text("cli.remote.answered", status=status), exit_code, in_swedish=True)


def exchange(method: str, url: str, headers: dict[str, str], data: bytes | None) -> tuple[int, bytes]:
    """One HTTP/1.1 request on its own connection: (status, body). Plain sockets (and ssl for
    https), not urllib or http.client, whose imports (email, http.cookiejar, …) cost a command
    on the server more than its answer takes."""
    import socket

    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if secure else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close", "User-Agent: placering-cli",
            *(f"{k}: {v}" for k, v in headers.items())]
    if data is not None or method in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(data or b'')}")
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    try:
        if secure:
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (data or b""))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return _parse_response(b"".join(chunks))


def _parse_response(raw: bytes) -> tuple[int, bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not sep or len(status_line) < 2 or not status_line[0].startswith("HTTP/") or not status_line[1].isdigit():
        raise ValueError("not an HTTP answer")
    status = int(status_line[1])
    if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
        return _parse_response(body)
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "chunked" in fields.get("transfer-encoding", "").lower():
        out, rest = [], body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            out.append(rest[:size])
            rest = rest[size + 2:]
        body = b"".join(out)
    elif "content-length" in fields:
        length = int(fields["content-length"])
        if len(body) < length:
            raise ValueError("the answer was cut short")
        body = body[:length]
    return status, body


def segment(value: str) -> str:
    """One path segment (an id typed by a person): every reserved character escaped."""
    return quote(str(value), safe="")

"""Helpers for the application server's tests: an app on a test database, people with local
accounts, signing in through the API as a client would."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

# Passwords hashed with argon2's cheapest parameters: the tests sign in hundreds of times on a
# shared 2-core machine; production uses RFC 9106's profile (access/users.password_hasher).
os.environ.setdefault("PLACERING_ARGON2_PROFILE", "cheapest")
from fastapi.testclient import TestClient

from placering.access.acting import acting_as
from placering.access.policy import local_principal
from placering.access.users import add_user
from placering.server.app import create_app
from placering.server.settings import ServerSettings
from placering.storage import make_engine, transaction

PASSWORD = "hemligt-lösen-1"
SECRET = "s" * 40


def settings(db_url: str, **kw) -> ServerSettings:
    return ServerSettings(**{"database_url": db_url, "secret_key": SECRET, "log_requests": False, **kw})


def add_people(db_url: str, people: dict[str, tuple[list[str], str | None]], password: str = PASSWORD) -> None:
    """Local accounts (login -> (roles, municipality)), added as the operator would."""
    engine = make_engine(db_url)
    try:
        with acting_as(local_principal("installation")), transaction(engine) as session:
            for login, (roles, municipality) in people.items():
                add_user(session, login, roles=roles, municipality=municipality, password=password,
                         database_login=False)
    finally:
        engine.dispose()


def client(db_url: str, **kw) -> TestClient:
    # https: the session cookie is Secure (as in production)
    return TestClient(create_app(settings(db_url, **kw)), base_url="https://testserver")


def signed_in(c: TestClient, login: str, password: str = PASSWORD) -> TestClient:
    r = c.post("/api/v1/auth/session", json={"login": login, "password": password})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


@contextmanager
def live_server(db_url: str, **kw) -> Iterator[str]:
    """The application server on a loopback port (uvicorn in a thread, as `placering serve` runs
    it); yields its base URL, stops it afterwards."""
    import threading
    import time

    import uvicorn

    app = create_app(settings(db_url, **kw))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, proxy_headers=False, access_log=False,
                            log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()

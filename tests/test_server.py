"""The application server (`placering serve`): health, sign-in with a local account, the session
cookie and its CSRF token, API tokens, throttled sign-ins, and the example register route, as an
API client sees them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server_support import PASSWORD, add_people, client, signed_in
from test_matching_support import load_register, unit


@pytest.fixture
def server(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-1", free=1), unit("U-P", protected=True))
    add_people(db_url, {"anna": (["handler"], None), "sven": (["social_worker"], "Mölndal")})
    with client(db_url) as c:
        yield c


def test_health_says_the_database_is_reachable_and_current(server):
    r = server.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok" and r.json()["database"] == "reachable"
    assert r.json()["schema_revision"] == r.json()["expected_revision"]


def test_without_sign_in_a_unit_is_refused_in_swedish(server):
    r = server.get("/api/v1/units/U-1")
    assert r.status_code == 401
    assert r.json()["code"] == "not_signed_in"
    assert "inte inloggad" in r.json()["message"]
    assert "Traceback" not in r.text


def test_a_signed_in_person_reads_a_unit_as_register_show_shows_it(server, run):
    signed_in(server, "anna")
    r = server.get("/api/v1/units/u-1")
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(run("register", "show", "U-1", "--json").stdout)
    hidden = server.get("/api/v1/units/U-P").json()
    assert hidden["location_hidden"] is True and "location" not in hidden
    r = server.get("/api/v1/units/U-404")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert "U-404" in r.json()["message"]
    me = server.get("/api/v1/auth/me").json()
    assert (me["login"], me["roles"], me["via"]) == ("anna", ["handler"], "local")


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(server):
    for _ in range(5):
        r = server.post("/api/v1/auth/session", json={"login": "anna", "password": "fel-lösenord"})
        assert r.status_code == 401 and r.json()["message"] == "fel användarnamn eller lösenord"
    # the sixth is refused before the password is even checked: the right one too
    r = server.post("/api/v1/auth/session", json={"login": "anna", "password": PASSWORD})
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "throttled"
    assert r.json()["message"].startswith("för många misslyckade inloggningar för kontot")
    assert int(r.headers["Retry-After"]) > 0
    # another account from the same address is still let in (the address limit is higher)
    signed_in(server, "sven")


def test_a_change_with_the_cookie_needs_the_csrf_token(server):
    signed_in(server, "anna")
    token = server.headers.pop("X-CSRF-Token")
    r = server.delete("/api/v1/auth/session")
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    assert server.get("/api/v1/auth/me").status_code == 200  # still signed in
    r = server.delete("/api/v1/auth/session", headers={"X-CSRF-Token": token})
    assert r.status_code == 204
    assert server.get("/api/v1/auth/me").status_code == 401


def test_an_api_token_from_a_password_acts_for_the_person(server, run):
    r = server.post("/api/v1/auth/token", json={"login": "sven", "password": PASSWORD, "name": "min dator"})
    assert r.status_code == 201, r.text
    secret = r.json()["token"]
    assert secret.startswith("plc_") and r.json()["roles"] == ["social_worker"]
    server.cookies.clear()
    auth = {"Authorization": f"Bearer {secret}"}
    assert server.get("/api/v1/units/U-1", headers=auth).status_code == 200
    me = server.get("/api/v1/auth/me", headers=auth).json()
    assert (me["login"], me["municipality"], me["via"]) == ("sven", "Mölndal", "token")
    # the secret itself is not stored; revoking it (as an admin would) refuses it at once
    listed = run("admin", "token", "list", "--json")
    assert secret not in listed.stdout
    token_id = r.json()["id"]
    assert run("admin", "token", "revoke", str(token_id)).exit_code == 0
    r = server.get("/api/v1/units/U-1", headers=auth)
    assert r.status_code == 401 and r.json()["code"] == "not_signed_in"
    r = server.get("/api/v1/units/U-1", headers={"Authorization": "Bearer plc_not-a-token"})
    assert r.status_code == 401


def test_removing_a_person_ends_their_session(server, run):
    signed_in(server, "anna")
    assert server.get("/api/v1/units/U-1").status_code == 200
    assert run("admin", "user", "remove", "anna").exit_code == 0
    assert server.get("/api/v1/units/U-1").status_code == 401


def test_the_openapi_document_lists_the_api(server):
    doc = server.get("/api/v1/openapi.json").json()
    assert {"/api/v1/health", "/api/v1/units/{unit_id}", "/api/v1/auth/token"} <= set(doc["paths"])


def _forged_session(data: dict) -> str:
    """A session cookie signed with the server's key, as starlette's SessionMiddleware signs one."""
    import base64

    from itsdangerous import TimestampSigner

    from server_support import SECRET

    return TimestampSigner(SECRET).sign(base64.b64encode(json.dumps(data).encode())).decode()


def test_a_session_ends_hours_after_sign_in_and_a_cookie_signed_with_another_key_is_nothing(server, engine):
    import time

    from sqlalchemy import text

    with engine.begin() as conn:  # the password was set two days ago
        conn.execute(text("UPDATE user_account SET password_changed_at = :t"),
                     {"t": datetime.now(timezone.utc) - timedelta(days=2)})
    me = {"p": {"login": "anna", "roles": ["handler"], "municipality": None, "via": "local"}, "csrf": "x"}
    server.cookies.clear()
    server.cookies.set("placering_session", _forged_session({**me, "iat": int(time.time()) - 60}))
    assert server.get("/api/v1/auth/me").json()["login"] == "anna"
    server.cookies.set("placering_session", _forged_session({**me, "iat": int(time.time()) - 13 * 3600}))
    assert server.get("/api/v1/auth/me").status_code == 401  # 12 hours after sign-in at most
    # a cookie that claims more than the account holds gets the account's roles, not its own
    server.cookies.set("placering_session", _forged_session(
        {**me, "p": {**me["p"], "roles": ["admin"]}, "iat": int(time.time())}))
    assert server.get("/api/v1/auth/me").json()["roles"] == ["handler"]
    import base64

    unsigned = base64.b64encode(json.dumps({**me, "iat": int(time.time())}).encode()).decode()
    server.cookies.set("placering_session", unsigned + ".forged.signature")
    assert server.get("/api/v1/auth/me").status_code == 401

"""Sign-in to the application server by each of its methods: OpenID Connect (a local provider on
loopback, oidc-provider-mock: the authorization-code flow with PKCE, claims mapped to roles and
municipality by configuration), the trusted proxy header (only from the configured proxy
addresses), and local accounts; plus the admin's API for people and tokens, and the request log."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread

from server_support import PASSWORD, add_people, client, settings, signed_in
from placering.server.app import create_app
from test_matching_support import load_register, unit

ROLE_MAP = {"Placering-Handläggare": "handler", "Placering-Socialsekreterare": "social_worker",
            "Placering-Granskare": "reviewer"}


@pytest.fixture(scope="module")
def idp():
    users = [
        User(sub="karin", claims={"preferred_username": "karin.k", "roles": ["Placering-Handläggare", "Annat"],
                                  "kommun": None}),
        User(sub="sara", claims={"preferred_username": "sara.s", "roles": ["Placering-Socialsekreterare"],
                                 "kommun": "Mölndal"}),
        User(sub="olle", claims={"preferred_username": "olle.o", "roles": ["Ekonomi"]}),
    ]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def oidc_sign_in(c: TestClient, sub: str, next: str = "/") -> httpx.Response:
    start = c.get("/auth/oidc/start", params={"next": next}, follow_redirects=False)
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]  # PKCE
    assert query["response_type"] == ["code"]
    # the person signs in at the provider, which sends the browser back with a code
    back = httpx.post(location, data={"sub": sub}, follow_redirects=False)
    assert back.status_code == 302, back.text
    target = urlsplit(back.headers["location"])
    return c.get(f"{target.path}?{target.query}", follow_redirects=False)


@pytest.fixture
def register_db(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    return db_url


def test_openid_connect_signs_in_with_mapped_roles_and_municipality(register_db, idp):
    with client(register_db, oidc_issuer=idp, oidc_client_id="placering", oidc_client_secret="hemlig",
                oidc_roles_claim="roles", oidc_municipality_claim="kommun", oidc_role_map=ROLE_MAP) as c:
        done = oidc_sign_in(c, "karin", next="/api/v1/units/U-1")
        assert done.status_code == 303 and done.headers["location"] == "/api/v1/units/U-1"
        me = c.get("/api/v1/auth/me").json()
        assert (me["login"], me["roles"], me["municipality"], me["via"]) == ("karin.k", ["handler"], None, "oidc")
        assert c.get("/api/v1/units/U-1").status_code == 200
    with client(register_db, oidc_issuer=idp, oidc_client_id="placering", oidc_client_secret="hemlig",
                oidc_municipality_claim="kommun", oidc_role_map=ROLE_MAP) as c:
        assert oidc_sign_in(c, "sara").status_code == 303
        me = c.get("/api/v1/auth/me").json()
        assert (me["login"], me["roles"], me["municipality"]) == ("sara.s", ["social_worker"], "Mölndal")
        # a person whose provider roles map to no placering role is not signed in
        refused = oidc_sign_in(c, "olle")
        assert refused.status_code == 403
        assert refused.json()["message"] == ("'olle.o' har ingen roll i placering hos identitetsleverantören: "
                                             "kontakta en administratör")
    # an open redirect is not possible: 'next' stays on this server
    with client(register_db, oidc_issuer=idp, oidc_client_id="placering", oidc_client_secret="hemlig",
                oidc_role_map=ROLE_MAP) as c:
        assert oidc_sign_in(c, "karin", next="https://evil.example/").headers["location"] == "/"


def test_a_callback_without_the_flows_state_is_refused(register_db, idp):
    with client(register_db, oidc_issuer=idp, oidc_client_id="placering", oidc_role_map=ROLE_MAP) as c:
        r = c.get("/auth/oidc/callback", params={"code": "stulen", "state": "gissad"}, follow_redirects=False)
        assert r.status_code == 401 and r.json()["code"] == "not_signed_in"
        assert c.get("/api/v1/auth/me").status_code == 401
    with client(register_db) as c:  # not configured
        r = c.get("/auth/oidc/start", follow_redirects=False)
        assert r.status_code == 401
        assert r.json()["message"] == "inloggning via identitetsleverantör är inte inställd på den här servern"


def proxied(db_url: str, address: str) -> TestClient:
    app = create_app(settings(db_url, proxy_addresses=["10.0.0.0/24"], proxy_role_map={"SPINK-HANDL": "handler"}))
    return TestClient(app, base_url="https://testserver", client=(address, 40000))


def test_the_proxy_header_is_accepted_only_from_the_configured_proxy(register_db):
    headers = {"X-Remote-User": "britt", "X-Remote-Roles": "SPINK-HANDL", "X-Forwarded-For": "192.0.2.7"}
    with proxied(register_db, "10.0.0.5") as c:
        me = c.get("/api/v1/auth/me", headers=headers).json()
        assert (me["login"], me["roles"], me["via"]) == ("britt", ["handler"], "proxy")
        assert c.get("/api/v1/units/U-1", headers=headers).status_code == 200
    with proxied(register_db, "192.168.1.9") as c:
        r = c.get("/api/v1/units/U-1", headers=headers)
        assert r.status_code == 403
        assert r.json()["message"] == ("huvudet X-Remote-User godtas bara från de inställda proxyadresserna, "
                                       "inte från 192.168.1.9")
    with client(register_db) as c:  # no proxy configured at all: refused from anywhere
        assert c.get("/api/v1/units/U-1", headers=headers).status_code == 403


def test_failed_sign_ins_are_throttled_per_address_across_instances(register_db):
    add_people(register_db, {f"p{i}": (["auditor"], None) for i in range(4)})
    # two instances of the server on one database: the count is in the database
    with client(register_db, throttle_address=3) as one, client(register_db, throttle_address=3) as two:
        for i, c in enumerate((one, two, one)):
            r = c.post("/api/v1/auth/session", json={"login": f"p{i}", "password": "fel-lösenord-1"})
            assert r.status_code == 401
        r = two.post("/api/v1/auth/session", json={"login": "p3", "password": PASSWORD})
        assert r.status_code == 429
        assert r.json()["message"].startswith("för många misslyckade inloggningar från den här adressen")


def test_an_admin_manages_people_and_machine_tokens_through_the_api(register_db, run):
    add_people(register_db, {"ada": (["admin"], None), "anna": (["handler"], None)})
    with client(register_db) as admin, client(register_db) as anna:
        signed_in(admin, "ada")
        signed_in(anna, "anna")
        r = admin.post("/api/v1/admin/users", json={"login": "sara", "roles": ["social_worker"],
                                                    "municipality": "mölndal", "password": "ett-långt-lösen"})
        assert r.status_code == 201, r.text
        assert r.json()["municipality"] == "Mölndal"
        r = anna.post("/api/v1/admin/users", json={"login": "x", "roles": ["admin"]})
        assert r.status_code == 403 and r.json()["code"] == "not_permitted"
        r = admin.post("/api/v1/admin/users", json={"login": "y", "roles": ["chef"]})
        assert r.status_code == 422 and "chef" in r.json()["message"]
        # a machine client's token: an admin only
        r = anna.post("/api/v1/tokens", json={"name": "ärendesystem", "roles": ["auditor"]})
        assert r.status_code == 403
        r = admin.post("/api/v1/tokens", json={"name": "ärendesystem", "roles": ["auditor"], "days": 30})
        assert r.status_code == 201, r.text
        secret, token_id = r.json()["secret"], r.json()["id"]
        machine = {"Authorization": f"Bearer {secret}"}
        me = anna.get("/api/v1/auth/me", headers=machine).json()
        assert (me["login"], me["roles"], me["via"]) == ("ärendesystem", ["auditor"], "token")
        # the token may read, not manage people
        assert anna.get("/api/v1/admin/users", headers=machine).status_code == 403
        # a person's own token carries at most their roles
        r = anna.post("/api/v1/tokens", json={"name": "min", "roles": ["admin"], "for_me": True})
        assert r.status_code == 403
        assert anna.post("/api/v1/tokens", json={"name": "min", "for_me": True}).json()["roles"] == ["handler"]
        assert [t["name"] for t in anna.get("/api/v1/tokens").json()] == ["min"]
        assert len(admin.get("/api/v1/tokens").json()) == 2
        assert anna.delete(f"/api/v1/tokens/{token_id}").status_code == 403
        assert admin.delete(f"/api/v1/tokens/{token_id}").json()["state"] == "revoked"
        assert anna.get("/api/v1/auth/me", headers=machine).status_code == 401
        r = admin.delete("/api/v1/admin/users/sara")
        assert r.status_code == 200 and r.json()["roles_removed"] == ["social_worker"]
    listed = json.loads(run("admin", "user", "list", "--json").stdout)
    assert [u["user"] for u in listed] == ["ada", "anna"]
    history = json.loads(run("audit", "log", "--json").stdout)["entries"]
    assert {("user_added", "ada"), ("user_removed", "ada"), ("token_created", "ada"),
            ("token_revoked", "ada")} <= {(e["action"], e["actor"]) for e in history}


def test_each_request_is_one_json_line_without_ids_or_names(register_db, capsys):
    add_people(register_db, {"anna": (["handler"], None)})
    with client(register_db, log_requests=True) as c:
        signed_in(c, "anna")
        capsys.readouterr()
        c.get("/api/v1/units/U-1", params={"q": "Anna Andersson 19121212-1212"})
        c.get("/api/v1/nowhere/19121212-1212")
        text = capsys.readouterr().out
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(l["method"], l["route"], l["status"]) for l in lines] == [
        ("GET", "/api/v1/units/{unit_id}", 200), ("GET", "(no route)", 404)]
    for secret in ("U-1", "anna", "Anna", "19121212"):
        assert secret not in text
    assert len(lines[0]["who"]) == 16 and lines[0]["via"] == "local" and lines[0]["ms"] >= 0

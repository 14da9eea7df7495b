"""Each role's allowed and refused actions through the API, against the server on a loopback
port (uvicorn, as `placering serve` runs it), people signed in with local accounts and through
an OpenID Connect provider on loopback. A refused action answers 403 with a Swedish message and
leaves the database as it was."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import httpx
import pytest
from oidc_provider_mock import User, run_server_in_thread

from conftest import table_counts
from server_support import PASSWORD, add_people, live_server
from test_matching_support import load_register, request, unit

PEOPLE = {
    "ada": (["admin"], None),
    "hanna": (["handler"], None),
    "sara": (["social_worker"], "Mölndal"),
    "majken": (["maintainer"], None),
    "ivar": (["procurement"], None),
    "greta": (["reviewer"], None),
    "rut": (["auditor"], None),
}
ROLE_OF = {login: roles[0] for login, (roles, _) in PEOPLE.items()}
# What the caches of matching may add while a refused request is being looked at.
CACHES = ("register_snapshot", "snapshot_blob", "rule_set", "signin_failure")


def unchanged(engine):
    return {t: n for t, n in table_counts(engine).items() if t not in CACHES}


@pytest.fixture
def site(db_url, run, tmp_path, engine):
    load_register(run, tmp_path, unit("U-1", free=2, municipality="Göteborg"),
                  unit("U-2", "egen_regi", None, municipality="Mölndal", buyers=("Mölndal",)),
                  unit("U-D", "direktupphandling", 1900, insats="socialt_boende", age=(18, 65)))
    add_people(db_url, {**PEOPLE, "hgr": (["handler", "reviewer"], None)})
    users = [User(sub="oidc-hanna", claims={"preferred_username": "hanna.oidc", "roles": ["SPINK-HANDL"]}),
             User(sub="oidc-rut", claims={"preferred_username": "rut.oidc", "roles": ["REVISION"]})]
    with run_server_in_thread(user_claims=users) as idp:
        issuer = f"http://localhost:{idp.server_port}"
        with live_server(db_url, cookie_secure=False, oidc_issuer=issuer, oidc_client_id="placering",
                         oidc_client_secret="hemlig",
                         oidc_role_map={"SPINK-HANDL": "handler", "REVISION": "auditor"}) as url:
            yield url


def local(url: str, login: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/v1/auth/session", json={"login": login, "password": PASSWORD})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def oidc(url: str, sub: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=30)
    start = c.get("/auth/oidc/start", follow_redirects=False)
    assert start.status_code == 302, start.text
    back = httpx.post(start.headers["location"], data={"sub": sub}, follow_redirects=False)
    target = urlsplit(back.headers["location"])
    done = c.get(f"{target.path}?{target.query}", follow_redirects=False)
    assert done.status_code == 303, done.text
    c.headers["X-CSRF-Token"] = c.get("/api/v1/auth/me").json()["csrf_token"]
    return c


# (method, path, JSON body or a function of the login giving it, roles allowed). Every other
# role is refused with 403. An allowed role is never refused (401/403) nor fails (5xx), and at
# least one allowed role's request succeeds (another may then find it done: 409).
ALL = set(ROLE_OF.values())
STAFF = ALL - {"social_worker"}
TODAY = date.today().isoformat()


def _request(login: str) -> dict:
    place = "Mölndal" if login == "sara" else "Göteborg"
    return request(f"R-{login}", municipality=place, home_municipality=place)


MATRIX = [
    ("GET", "/api/v1/units/U-1", None, ALL),
    ("GET", "/api/v1/register/search?text=Enhet", None, ALL),
    ("GET", "/api/v1/reviews", None, ALL),
    ("GET", "/api/v1/audit/log", None, STAFF),
    ("GET", "/api/v1/audit/paused", None, STAFF),
    ("POST", "/api/v1/requests/match", _request, {"admin", "handler", "social_worker"}),
    ("POST", "/api/v1/register/units/U-1/status",
     lambda login: {"status": "watch" if login == "ada" else "published", "note": "prov"}, {"admin", "maintainer"}),
    ("POST", "/api/v1/register/suppliers/{org}/checks",
     {"kind": "credit_rating", "result": "pass", "on": TODAY, "value": 70}, {"admin", "maintainer", "procurement"}),
    ("POST", "/api/v1/register/agreements/RA-U-1/status",
     lambda login: {"status": "order_stop" if login == "ada" else "active", "note": "prov"}, {"admin", "procurement"}),
    ("POST", "/api/v1/reviews/{review}/approve", {"note": "rimligt pris"}, {"admin", "reviewer"}),
    ("GET", "/api/v1/admin/users", None, {"admin"}),
    ("POST", "/api/v1/tokens", {"name": "ärendesystem", "roles": ["auditor"], "days": 7}, {"admin"}),
    ("POST", "/api/v1/admin/users", {"login": "ny", "roles": ["auditor"]}, {"admin"}),
]


def test_each_role_may_do_what_the_table_says_and_nothing_else(site, engine, tmp_path):
    people = {login: local(site, login) for login in PEOPLE}
    hanna = people["hanna"]
    # a direct-procurement case waiting for review, matched by the handler
    r = hanna.post("/api/v1/requests/match", json=request("R-DP", "socialt_boende", "akutboende", age=30))
    assert r.status_code == 200, r.text
    reviews = hanna.get("/api/v1/reviews").json()
    review = next(v["id"] for v in (reviews if isinstance(reviews, list) else reviews["reviews"]))
    org = hanna.get("/api/v1/units/U-1").json()["org_nr"]
    for method, path, body, allowed in MATRIX:
        path = path.format(org=org, review=review)
        succeeded = False
        for login, c in people.items():
            role = ROLE_OF[login]
            before = unchanged(engine)
            r = c.request(method, path, json=body(login) if callable(body) else body)
            if role in allowed:
                assert r.status_code not in (401, 403) and r.status_code < 500, (login, method, path, r.text)
                succeeded = succeeded or r.status_code < 300
            else:
                assert r.status_code == 403, (login, method, path, r.text)
                assert r.json()["code"] == "not_permitted"
                assert r.json()["message"].startswith(f"'{login}' ({role_label(role)}) får inte "), r.json()
                assert unchanged(engine) == before, (login, method, path)
        assert succeeded, (method, path)
    # a social worker: its own municipality's cases only
    sara = people["sara"]
    before = unchanged(engine)
    r = sara.post("/api/v1/requests/match", json=request("R-sara-G"))  # a Göteborg request
    assert r.status_code == 403 and unchanged(engine) == before, r.text
    assert sara.get("/api/v1/requests/R-sara").status_code == 200
    assert sara.get("/api/v1/requests/R-hanna").status_code in (403, 404)
    assert hanna.get("/api/v1/requests/R-sara").status_code == 200
    for c in people.values():
        c.close()


def test_the_four_eyes_hold_for_the_signed_in_person(site, engine):
    both = local(site, "hgr")  # handler and reviewer
    r = both.post("/api/v1/requests/match", json=request("R-DP2", "socialt_boende", "akutboende", age=30))
    assert r.status_code == 200, r.text
    review = next(v["id"] for v in both.get("/api/v1/reviews").json() if v["request_id"] == "R-DP2")
    before = unchanged(engine)
    r = both.post(f"/api/v1/reviews/{review}/approve", json={"note": "ok"})
    assert r.status_code == 409, r.text
    assert "har själv handlagt förfrågan 'R-DP2'" in r.json()["message"]
    assert unchanged(engine) == before
    greta = local(site, "greta")
    r = greta.post(f"/api/v1/reviews/{review}/approve", json={"note": "rimligt pris"})
    assert r.status_code == 200, r.text
    shown = local(site, "rut").get(f"/api/v1/reviews/{review}").json()
    assert (shown["status"], shown["reviewer"]) == ("approved", "greta")


def role_label(role: str) -> str:
    from placering.labels import label

    text = label(role, "role")
    return text[0].lower() + text[1:]  # inside a sentence


def test_people_signed_in_through_openid_connect_have_the_mapped_roles(site, engine):
    handler, auditor = oidc(site, "oidc-hanna"), oidc(site, "oidc-rut")
    assert handler.get("/api/v1/auth/me").json()["roles"] == ["handler"]
    assert handler.get("/api/v1/units/U-1").status_code == 200
    assert auditor.get("/api/v1/units/U-1").status_code == 200
    before = unchanged(engine)
    r = auditor.post("/api/v1/tokens", json={"name": "x", "roles": ["auditor"]})
    assert r.status_code == 403 and r.json()["code"] == "not_permitted"
    assert unchanged(engine) == before
    # the cookie alone does not make a change: the CSRF token must come with it
    del handler.headers["X-CSRF-Token"]
    r = handler.post("/api/v1/tokens", json={"name": "min", "for_me": True})
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    handler.close()
    auditor.close()

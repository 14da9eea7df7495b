"""`placering login` by the device flow (RFC 8628, issue 17): the CLI asks the server for a code,
the person signs in on the server's page /enhet by any of its ways (here: the identity provider,
oidc-provider-mock on loopback, through the authorization-code redirect; and a local account),
approves the code, and the CLI's poll gets a token with that person's roles and municipality;
then commands run on the server as that person. Denied, expired, reused and wrong codes, and
polling too fast, are refused as RFC 8628 says. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from oidc_provider_mock import User, run_server_in_thread

from client_support import Person
from server_support import PASSWORD, add_people, client, live_server, signed_in
from test_matching_support import load_register, request, unit, write_request

ROLE_MAP = {"Placering-Handläggare": "handler", "Placering-Socialsekreterare": "social_worker"}
OIDC = {"oidc_client_id": "placering", "oidc_client_secret": "hemlig", "oidc_municipality_claim": "kommun",
        "oidc_role_map": ROLE_MAP}
GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture(scope="module")
def idp():
    users = [User(sub="karin", claims={"preferred_username": "karin.k", "roles": ["Placering-Handläggare"],
                                       "kommun": None}),
             User(sub="sara", claims={"preferred_username": "sara.s", "roles": ["Placering-Socialsekreterare"],
                                      "kommun": "Mölndal"})]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def register_db(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-D", "direktupphandling", 4600, free=6))
    return db_url


def browser_sign_in(browser: httpx.Client, sub: str, page: str) -> httpx.Response:
    """The person opens `page`, is sent to sign in, chooses the identity provider, signs in there
    and comes back: the page, signed in."""
    r = browser.get(page)
    assert r.status_code == 303 and r.headers["location"].startswith("/logga-in?nasta="), r.text
    r = browser.get(r.headers["location"])
    assert "Logga in med kommunens inloggning" in r.text
    start = re.search(r'href="(/auth/oidc/start\?next=[^"]+)"', r.text).group(1).replace("&amp;", "&")
    r = browser.get(start)
    assert r.status_code == 302
    back = httpx.post(r.headers["location"], data={"sub": sub}, follow_redirects=False)  # at the provider
    assert back.status_code == 302, back.text
    target = urlsplit(back.headers["location"])
    r = browser.get(f"{target.path}?{target.query}")
    assert r.status_code == 303
    return browser.get(r.headers["location"])


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_person_signed_in_through_the_identity_provider_approves_the_cli_which_then_works_as_them(
        register_db, idp, tmp_path, run):
    with live_server(register_db, oidc_issuer=idp, cookie_secure=False, **OIDC) as url:
        karin = Person(url, "karin.k", tmp_path / "karin")
        # the server says it signs in through the identity provider: `login` chooses the device flow
        cli, code, said = _login_process(url, karin.home)
        try:
            page = re.search(r"Öppna (\S+) i en webbläsare", said).group(1)
            assert page == url + "/enhet" and f"{url}/enhet?kod={code}" in said
            with httpx.Client(base_url=url) as browser:
                r = browser_sign_in(browser, "karin", f"/enhet?kod={code}")
                assert r.status_code == 200 and f'value="{code}"' in r.text and "karin.k" in r.text
                r = browser.post("/enhet", data={"kod": code.lower().replace("-", " "), "csrf_token": csrf_of(r.text)})
                # what is asking, and when
                assert r.status_code == 200 and "placering CLI på datorn" in r.text and "Frågade" in r.text
                r = browser.post("/enhet/beslut", data={"kod": code, "beslut": "godkann", "csrf_token": csrf_of(r.text)})
                assert r.status_code == 200 and "Inloggningen är godkänd" in r.text
            out, err = cli.communicate(timeout=60)
        finally:
            cli.kill() if cli.poll() is None else None
        assert cli.returncode == 0, err
        assert "Inloggad på" in out and "karin.k" in out and "Handläggare" in out
        path = karin.home / "login.json"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        saved = json.loads(path.read_text())
        assert (saved["server"], saved["login"], saved["roles"], saved["municipality"]) == \
            (url, "karin.k", ["handler"], None)
        # the CLI now works on the server as karin.k with her roles: a handler matches ...
        karin.logged_in = True
        r = karin.run("match", str(write_request(tmp_path, request("R-1"))))
        assert r.exit_code == 0, r.output
        r = karin.run("request", "show", "R-1", "--json")
        assert r.exit_code == 0 and "R-1" in r.stdout, r.output
        # ... and may not approve reviews (a reviewer's): refused with exit 6
        r = karin.run("review", "approve", "1", "--note", "ok")
        assert r.exit_code == 6, r.output
        # the change is the person's in history
        r = run("audit", "log", "--json")
        assert "karin.k" in r.stdout


def _start(c, **body):
    r = c.post("/api/v1/auth/device", json={"client_name": "placering CLI på datorn test", **body})
    assert r.status_code == 200, r.text
    return r.json()


def _poll(c, started):
    return c.post("/api/v1/auth/device/token", json={"device_code": started["device_code"], "grant_type": GRANT})


def _decide(c, code, choice):
    r = c.get("/enhet", params={"kod": code})
    r = c.post("/enhet", data={"kod": code, "csrf_token": csrf_of(r.text)})
    assert r.status_code == 200, r.text
    return c.post("/enhet/beslut", data={"kod": code, "beslut": choice, "csrf_token": csrf_of(r.text)})


def test_pending_slow_down_denied_expired_reused_and_wrong_codes(register_db, monkeypatch):
    from placering.access import device

    add_people(register_db, {"sven": (["social_worker"], "Mölndal"), "anna": (["handler"], None)})
    with client(register_db) as person, client(register_db) as cli:
        signed_in(person, "sven")
        assert cli.get("/api/v1/auth/methods").json() == {"oidc": False, "local_accounts": True, "device": True}
        started = _start(cli)
        assert re.fullmatch(r"[B-Z]{4}-[B-Z]{4}", started["user_code"]) and not set("AEIOUY") & set(started["user_code"])
        assert started["verification_uri"] == "https://testserver/enhet" and started["interval"] == 5
        # not approved yet; and asked again at once: slow down (the interval grows by 5 s)
        r = _poll(cli, started)
        assert (r.status_code, r.json()["error"]) == (400, "authorization_pending")
        assert "väntar på att koden godkänns" in r.json()["message"]
        r = _poll(cli, started)
        assert (r.status_code, r.json()["error"]) == (400, "slow_down") and "10 sekunder" in r.json()["message"]
        # approved by a social worker of Mölndal (a local account): the token is theirs, with their scope
        r = _decide(person, started["user_code"], "godkann")
        assert r.status_code == 200 and "godkänd" in r.text
        r = _poll(cli, started)
        assert r.status_code == 200, r.text
        token = r.json()
        assert (token["login"], token["roles"], token["municipality"], token["token_type"]) == \
            ("sven", ["social_worker"], "Mölndal", "Bearer")
        me = cli.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
        assert (me["login"], me["roles"], me["municipality"], me["via"]) == ("sven", ["social_worker"], "Mölndal",
                                                                             "token")
        # used once: a second poll gets nothing, and the code cannot be approved again
        assert _poll(cli, started).json()["error"] == "invalid_grant"
        r = person.post("/enhet", data={"kod": started["user_code"], "csrf_token": person.headers["X-CSRF-Token"]})
        assert r.status_code == 404 and "Ingen väntande inloggning" in r.text
        # the token is revocable like every token: revoked, it no longer works
        r = person.delete(f"/api/v1/tokens/{token['id']}")
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        assert cli.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401

        # denied: the CLI is told once, then the code is spent
        started = _start(cli)
        r = _decide(person, started["user_code"], "neka")
        assert r.status_code == 200 and "nekad" in r.text
        r = _poll(cli, started)
        assert (r.status_code, r.json()["error"]) == (400, "access_denied") and "nekades" in r.json()["message"]
        assert _poll(cli, started).json()["error"] == "invalid_grant"

        # expired: eleven minutes later neither the page nor the poll accepts it
        started = _start(cli)
        later = device.now() + timedelta(minutes=11)
        monkeypatch.setattr(device, "now", lambda: later)
        r = _poll(cli, started)
        assert (r.status_code, r.json()["error"]) == (400, "expired_token") and "hann gå ut" in r.json()["message"]
        r = person.post("/enhet", data={"kod": started["user_code"], "csrf_token": person.headers["X-CSRF-Token"]})
        assert r.status_code == 404
        monkeypatch.undo()

        # a device code nobody issued; a form without the session's CSRF token
        r = cli.post("/api/v1/auth/device/token", json={"device_code": "gissad"})
        assert (r.status_code, r.json()["error"]) == (400, "invalid_grant")
        started = _start(cli)
        r = person.post("/enhet/beslut", data={"kod": started["user_code"], "beslut": "godkann"},
                        headers={"X-CSRF-Token": ""})
        assert r.status_code == 403
        assert _poll(cli, started).json()["error"] == "authorization_pending"

        # wrong codes: said in Swedish beside the field; after ten in 15 minutes, throttled
        r = person.get("/enhet")
        assert r.status_code == 200 and 'for="kod"' in r.text
        for _ in range(device.WRONG_CODES - 3):  # two wrong ones above: the used and the expired code
            r = person.post("/enhet", data={"kod": "BBBB-BBBB", "csrf_token": person.headers["X-CSRF-Token"]})
            assert r.status_code == 404 and "Ingen väntande inloggning med koden" in r.text
        r = person.post("/enhet", data={"kod": started["user_code"], "csrf_token": person.headers["X-CSRF-Token"]})
        assert r.status_code == 200  # the right code still works until the limit
        person.post("/enhet", data={"kod": "BBBB-BBBB", "csrf_token": person.headers["X-CSRF-Token"]})
        r = person.post("/enhet", data={"kod": started["user_code"], "csrf_token": person.headers["X-CSRF-Token"]})
        assert r.status_code == 429 and "för många felaktiga koder" in r.text.lower()


def test_the_page_needs_a_signed_in_person(register_db):
    with client(register_db) as c:
        r = c.get("/enhet", params={"kod": "WDJB-MJHT"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/logga-in?nasta=%2Fenhet%3Fkod%3DWDJB-MJHT"
        r = c.post("/enhet", data={"kod": "WDJB-MJHT"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/logga-in")


def test_a_person_signed_in_by_the_trusted_proxy_approves_and_asking_is_throttled(register_db):
    """The proxy's person has no account here: the token carries the roles read at approval and
    lives at most 30 days (MAX_DAYS_WITHOUT_ACCOUNT); it is theirs, and revocable by an admin."""
    from fastapi.testclient import TestClient

    from placering.access import device
    from placering.clock import now
    from placering.server.app import create_app
    from server_support import settings

    app = create_app(settings(register_db, proxy_addresses=["10.0.0.0/24"], proxy_role_map={"SPINK-HANDL": "handler"}))
    headers = {"X-Remote-User": "britt", "X-Remote-Roles": "SPINK-HANDL"}
    with TestClient(app, base_url="https://testserver", client=("10.0.0.5", 40000)) as proxy, \
            TestClient(app, base_url="https://testserver", client=("192.0.2.8", 40000)) as cli:
        started = _start(cli, days=90)
        r = proxy.get("/enhet", params={"kod": started["user_code"]}, headers=headers)
        assert r.status_code == 200 and "britt" in r.text
        r = proxy.post("/enhet", data={"kod": started["user_code"], "csrf_token": csrf_of(r.text)}, headers=headers)
        assert r.status_code == 200, r.text
        r = proxy.post("/enhet/beslut", data={"kod": started["user_code"], "beslut": "godkann",
                                              "csrf_token": csrf_of(r.text)}, headers=headers)
        assert r.status_code == 200 and "godkänd" in r.text
        token = _poll(cli, started).json()
        assert (token["login"], token["roles"], token["via"]) == ("britt", ["handler"], "proxy")
        assert token["expires_in"] <= 30 * 86400
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        me = cli.get("/api/v1/auth/me", headers=bearer).json()
        assert (me["login"], me["roles"]) == ("britt", ["handler"])
        # britt sees her token among her own and revokes it (as with any token of hers)
        assert [t["id"] for t in cli.get("/api/v1/tokens", headers=bearer).json()] == [token["id"]]
        assert cli.delete(f"/api/v1/tokens/{token['id']}", headers=bearer).json()["state"] == "revoked"
        assert cli.get("/api/v1/auth/me", headers=bearer).status_code == 401
        # anyone may ask for a code: asking is throttled per address
        for _ in range(device.STARTS - 1):
            assert cli.post("/api/v1/auth/device", json={}).status_code == 200
        r = cli.post("/api/v1/auth/device", json={})
        assert r.status_code == 429 and "Retry-After" in r.headers
        assert proxy.post("/api/v1/auth/device", json={}).status_code == 200  # another address


def _login_process(url: str, home, *extra: str) -> tuple[subprocess.Popen, str, str]:
    """`placering login --server URL …` in its own process, up to where it waits: (process, code, what it said)."""
    person = Person(url, "x", home)
    env = {k: v for k, v in os.environ.items() if k not in person.env}
    env.update({k: v for k, v in person.env.items() if v is not None})
    cli = subprocess.Popen([str(Path(sys.executable).with_name("placering")), "login", "--server", url, *extra],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = ""
    while "väntar" not in said:
        line = cli.stderr.readline()
        if not line:
            cli.kill()
            raise AssertionError(said)
        said += line
    return cli, re.search(r"\b([B-Z]{4}-[B-Z]{4})\b", said).group(1), said


def test_login_with_device_on_a_server_of_local_accounts_and_a_denial_exits_6(register_db, tmp_path):
    add_people(register_db, {"sven": (["social_worker"], "Mölndal")})
    with live_server(register_db, cookie_secure=False) as url:
        cli, code, said = _login_process(url, tmp_path / "sven", "--device")
        try:
            with httpx.Client(base_url=url) as browser:
                r = browser.get("/logga-in")
                r = browser.post("/logga-in", data={"login": "sven", "password": PASSWORD, "nasta": f"/enhet?kod={code}"})
                r = browser.get(r.headers["location"])
                r = browser.post("/enhet", data={"kod": code, "csrf_token": csrf_of(r.text)})
                r = browser.post("/enhet/beslut", data={"kod": code, "beslut": "neka", "csrf_token": csrf_of(r.text)})
                assert r.status_code == 200 and "nekad" in r.text
            out, err = cli.communicate(timeout=60)
        finally:
            cli.kill() if cli.poll() is None else None
        assert cli.returncode == 6 and "Fel: inloggningen nekades på webbsidan" in err, err
        assert not (tmp_path / "sven" / "login.json").exists()

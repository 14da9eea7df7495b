"""`placering serve`: the demo on a fresh directory (created as `init --demo` does, one local
account to sign in with, printed), what the command refuses, and health when the database is
unreachable or its schema not current."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
from click.testing import CliRunner
from sqlalchemy import text

from placering.cli import cli
from placering.cli.serve import prepare_demo
from placering.storage import make_engine
from server_support import SECRET, client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_makes_the_demo_register_when_it_is_missing(tmp_path):
    # the same code as `placering init --demo` (a smaller register here, to keep the suite fast)
    info = prepare_demo(f"sqlite:///{tmp_path}/placering.db", units=40)
    assert info["created"] and info["login"] == "demo" and len(info["password"]) >= 12
    with client(info["database"]) as c:
        r = c.post("/api/v1/auth/session", json={"login": "demo", "password": info["password"]})
        assert r.status_code == 200, r.text
        assert c.get("/api/v1/units/U-1001").json()["unit_id"] == "U-1001"
    again = prepare_demo(info["database"])  # there already: kept, with a new password
    assert not again["created"] and again["password"] != info["password"]


def test_serve_demo_runs_the_server_and_prints_how_to_sign_in(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "placering.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLACERING_SERVER_")}
    env.pop("PLACERING_DATABASE_URL", None)
    env["PLACERING_CONFIG"] = str(tmp_path / "placering.toml")
    (tmp_path / "placering.toml").write_text("", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", "from placering.cli import main; main()", "serve", "--demo",
                             "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo server did not answer"
            time.sleep(0.3)
        said = proc.stderr.readline() + proc.stderr.readline()
        assert f"placering serverar på {url}/ (API: {url}/api/v1/docs)." in said
        assert "Demoregistret: sqlite:///placering.db (fanns redan)." in said
        password = re.search(r"Logga in som 'demo' med lösenordet (\S+)", said).group(1)
        with httpx.Client(base_url=url) as c:
            r = c.post("/api/v1/auth/session", json={"login": "demo", "password": password})
            assert r.status_code == 200, r.text
            # plain http on this machine only: the cookie is not marked Secure
            assert "secure" not in r.headers["set-cookie"].lower()
            assert c.get("/api/v1/auth/me").json()["login"] == "demo"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_without_a_secret_key_or_demo_off_this_machine(tmp_path, monkeypatch, db_url):
    monkeypatch.delenv("PLACERING_SERVER_SECRET_KEY", raising=False)
    runner = CliRunner()
    r = runner.invoke(cli, ["--db", db_url, "serve"])
    assert r.exit_code == 2
    assert r.stderr.startswith("Fel: fält 'PLACERING_SERVER_SECRET_KEY': ange en hemlig nyckel på minst 32 tecken")
    r = runner.invoke(cli, ["--db", db_url, "serve", "--demo", "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "--demo lyssnar bara på den här datorn" in r.stderr
    if db_url.startswith("postgresql"):
        r = runner.invoke(cli, ["--db", db_url, "serve", "--demo"])
        assert r.exit_code == 2 and "--demo serverar det inbyggda SQLite-demoregistret" in r.stderr
    monkeypatch.setenv("PLACERING_SERVER_SECRET_KEY", SECRET)
    r = runner.invoke(cli, ["--db", db_url, "serve", "--log-id", "anna.andersson"])
    assert r.exit_code == 0 and re.fullmatch(r"[0-9a-f]{16}\n", r.stdout)
    monkeypatch.setenv("PLACERING_SERVER_SECRET_KEY", "kort")
    r = runner.invoke(cli, ["--db", db_url, "serve"])
    assert r.exit_code == 2 and "den hemliga nyckeln är kortare än 32 tecken" in r.stderr


def test_health_says_when_the_schema_is_not_current_or_the_database_unreachable(db_url, tmp_path):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    engine.dispose()
    with client(db_url) as c:
        r = c.get("/api/v1/health")
        assert r.status_code == 503 and r.json()["code"] == "schema_not_current"
        assert r.json()["message"] == "databasschemat har revision 0009; kör 'placering init' för att uppgradera det"
    if db_url.startswith("sqlite"):
        with client(f"sqlite:///{tmp_path}/saknas/placering.db") as c:
            r = c.get("/api/v1/health")
            assert r.status_code == 503 and r.json()["code"] == "database_unavailable"
            assert "Traceback" not in r.text

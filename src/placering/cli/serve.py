"""`placering serve`: the application server (the JSON API under /api/v1 and the web pages) on
uvicorn. Its settings come from PLACERING_SERVER_* and the database URL (server/settings.py);
on PostgreSQL that URL is the one service login. `--demo` serves the embedded SQLite demo
register on this machine, creating it if it is missing, with one local account to sign in."""

from __future__ import annotations

import ipaddress
import secrets
import sys

import click

from . import cli
from .common import CliError, app
from ..i18n import msg

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def prepare_demo(db_url: str | None, password: str | None = None, *, units: int | None = None) -> dict:
    """The demo database (created as `placering init --demo` does when missing) and its one local
    account 'demo' (every role) with a new password. Returns the URL, login and password."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from ..access.acting import acting_as
    from ..access.policy import local_principal
    from ..access.users import add_user
    from ..demo import load_demo
    from ..storage import make_engine, require_current, transaction, upgrade
    from ..storage.database import database_url

    url = database_url(db_url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise CliError(msg("cli.serve.demo_sqlite_only"), 2)
    engine = make_engine(url)
    created = False
    if not parsed.database or not Path(parsed.database).exists():
        upgrade(engine)
        load_demo(engine, actor="demo", **({"units": units} if units else {}))
        created = True
    require_current(engine)
    password = password or secrets.token_urlsafe(12)
    with acting_as(local_principal("demo")), transaction(engine) as session:
        add_user(session, "demo", roles=["admin", "handler", "maintainer", "procurement", "reviewer", "auditor"],
                 password=password)
    engine.dispose()
    return {"database": url, "created": created, "login": "demo", "password": password}


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="The port.")
@click.option("--demo", is_flag=True, help="Serve the demo register (SQLite; created if missing) on this machine, "
              "with a local account 'demo' whose new password is printed; cookies over plain http.")
@click.option("--log-id", "log_login", metavar="LOGIN", help="Print the id under which LOGIN's requests are logged "
              "(with this server's secret key) and exit.")
def serve(host: str, port: int, demo: bool, log_login: str | None) -> None:
    """Run the application server: the JSON API (/api/v1) and the web pages, with sign-in."""
    from ..server.settings import load_settings

    ctx = app()
    settings = load_settings(database_url=ctx.db_url, demo=demo or None)
    if log_login:
        from ..server.logging import log_id

        settings.checked()
        click.echo(log_id(settings.secret_key, log_login))
        return
    if demo:
        if not _loopback(host):
            raise CliError(msg("cli.serve.demo_loopback_only"), 2)
        info = prepare_demo(settings.database_url)
        settings.database_url = info["database"]
        settings.cookie_secure = False
    settings.checked()
    from ..server.app import create_app
    from ..storage import require_current

    application = create_app(settings)
    require_current(application.state.engine)
    shown = f"[{host}]" if ":" in host else host
    from ..i18n import text

    click.echo(text("cli.out.serving", host=shown, port=port), err=True)
    if demo:
        where = text("cli.out.schema_created") if info["created"] else text("cli.out.demo_existed")
        click.echo(text("cli.out.serve_demo", database=info["database"], where=where, login=info["login"],
                        password=info["password"]), err=True)
    sys.stderr.flush()
    import uvicorn

    # proxy_headers off: the server decides itself which peers are trusted proxies (settings
    # PROXY_ADDRESSES), for the proxy sign-in header and the client address alike.
    # keep-alive longer than the proxy's (nginx keeps upstream connections 60 s): a connection the
    # server closed just as the proxy reused it fails the request ("server disconnected").
    uvicorn.run(application, host=host, port=port, proxy_headers=False, access_log=False, server_header=False,
                log_level="warning", timeout_keep_alive=75)

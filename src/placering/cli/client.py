"""`placering login` and `placering logout`: the CLI as a client of a placering server.

After `placering login --server URL` (a browser sign-in by the device flow, RFC 8628, when the
server uses the municipality's identity provider; else a local account) the handler, maintainer, reviewer and audit commands run
on that server (same options, output and exit codes as on a database here), as the signed-in
person: the server records every change under that login and refuses what its roles may not
do (exit 6). The login (server address and an API token, never the password) is kept in
login.json beside placering.toml in the user's config directory, readable by the user only
(mode 0600 from the moment it is created). `--db` (or PLACERING_DATABASE_URL) still runs a
command on a database here; `placering logout` forgets the login.
"""

from __future__ import annotations

import socket
import sys

import click

from . import cli
from .common import CliError, app, echo, json_option, print_json, wants_json
from .remote import Client, RemoteError, login_path, normal_server, read_login, remove_login, write_login
from ..i18n import msg, text


@cli.command()
@click.option("--server", "server_url", metavar="URL", help="The placering server (https://HOST or http://HOST:PORT); "
              "default: the global --server, or the server you last logged in to.")
@click.option("--device", "use_device", is_flag=True, help="Sign in in a web browser (the device flow): the "
              "default when the server signs people in through the municipality's identity provider.")
@click.option("--name", "login", metavar="NAME", help="Your user name on the server (a local account).")
@click.option("--password-stdin", is_flag=True, help="Read the local account's password from stdin (one line) "
              "instead of asking.")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How long the saved token is valid.")
@json_option
def login(server_url: str | None, use_device: bool, login: str | None, password_stdin: bool, days: int,
          json_output: bool) -> None:
    """Log in to a placering server: later commands run there as you.

    When the server signs people in through the municipality's identity provider (OpenID
    Connect), or with --device, it prints an address and a code: open the address in any web
    browser, sign in there as you usually do, type the code, and approve. The command waits
    for that (the code is valid for ten minutes) and saves the token it gets, with your roles.
    With --name (and --password-stdin) it signs in with a local account instead (the password is
    sent once and never saved). The token is kept in login.json in your config directory
    (mode 0600); 'placering logout' forgets it."""
    try:
        saved = read_login()
        url = server_url or app().server or (saved or {}).get("server")
        if not url:
            raise CliError(msg("cli.server_address_needed"), 2)
        url = normal_server(url)
        if use_device and (login or password_stdin):
            raise CliError(msg("cli.device_with_name"), 2)
        if not (use_device or login or password_stdin):
            try:
                use_device = bool(Client(url).request("GET", "/auth/methods").get("oidc"))
            except RemoteError as exc:
                if exc.exit_code != 3:  # a server without the device flow (404): name and password
                    raise
        if use_device:
            issued = _device_flow(url, days)
            login = issued["login"]
        else:
            issued = _password_login(url, login, password_stdin, days)
    except RemoteError as exc:
        raise CliError(exc.message, exc.exit_code, in_swedish=exc.in_swedish) from None
    record = {"server": url, "login": login, "token": issued["token"], "token_id": issued.get("id"),
              "roles": issued.get("roles", []), "municipality": issued.get("municipality"),
              "expires_at": issued.get("expires_at")}
    path = write_login(record)
    shown = {k: v for k, v in record.items() if k != "token"} | {"file": str(path)}
    if wants_json(json_output):
        print_json(shown)
        return
    from ..i18n import label_list

    roles = label_list(record["roles"], "role", capital=True).render() or text("cli.out.no_roles")
    where = f", {record['municipality']}" if record.get("municipality") else ""
    echo(text("cli.out.logged_in", url=url, login=login, roles=roles, where=where, path=path,
              expires=str(record["expires_at"] or "–")[:10]))
    echo(text("cli.out.logged_in_next"))


def _client_name() -> str:
    return text("cli.out.client_name", host=socket.gethostname())[:100]


def _password_login(url: str, login: str | None, password_stdin: bool, days: int) -> dict:
    if not login:
        login = click.prompt(text("cli.out.prompt_login"), err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(text("cli.out.prompt_password"), hide_input=True, err=True)
    if not password:
        raise CliError(msg("cli.no_password"), 2)
    return Client(url).request("POST", "/auth/token", json_body={
        "login": login, "password": password, "name": f"cli@{socket.gethostname()}"[:100], "days": days})


def _device_flow(url: str, days: int) -> dict:
    """RFC 8628: ask for a code, show it, poll until the person approves or denies it on the
    server's page (or it expires). What the poll answers is the server's (access/device.py)."""
    import time

    client = Client(url)
    started = client.request("POST", "/auth/device", json_body={"client_name": _client_name(), "days": days})
    interval = max(1, int(started.get("interval") or 5))
    deadline = time.monotonic() + int(started.get("expires_in") or 600)
    minutes = max(1, int(started.get("expires_in") or 600) // 60)
    click.echo(text("cli.out.device_code", uri=started["verification_uri"], code=started["user_code"],
                    complete=started["verification_uri_complete"], minutes=minutes), err=True)
    while True:
        time.sleep(interval)
        try:
            return client.request("POST", "/auth/device/token", json_body={
                "device_code": started["device_code"], "grant_type": "urn:ietf:params:oauth:grant-type:device_code"})
        except RemoteError as exc:
            if exc.code == "authorization_pending" and time.monotonic() < deadline + interval:
                continue
            if exc.code == "slow_down":
                interval += 5
                continue
            if exc.code in ("access_denied", "expired_token", "invalid_grant", "authorization_pending"):
                raise RemoteError(exc.message, 6, code=exc.code, in_swedish=True) from None
            raise


@cli.command()
@json_option
def logout(json_output: bool) -> None:
    """Log out: forget the saved login (commands run on a database here again)."""
    try:
        saved = read_login()
    except RemoteError:
        saved = None  # unreadable: remove it all the same
    removed = remove_login()
    if wants_json(json_output):
        print_json({"logged_out": removed, "server": (saved or {}).get("server"), "file": str(login_path())})
        return
    if removed:
        echo(text("cli.out.logged_out", server=(saved or {}).get("server") or text("cli.out.the_server"), path=login_path()))
    else:
        echo(text("cli.out.no_login"))

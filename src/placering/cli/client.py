"""`placering login` and `placering logout`: the CLI as a client of a placering server.

After `placering login --server URL` the handler, maintainer, reviewer and audit commands run
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


@cli.command()
@click.option("--server", "server_url", metavar="URL", help="The placering server (https://HOST or http://HOST:PORT); "
              "default: the global --server, or the server you last logged in to.")
@click.option("--name", "login", metavar="NAME", help="Your user name on the server (asked for when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line) instead of asking.")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How long the saved token is valid.")
@json_option
def login(server_url: str | None, login: str | None, password_stdin: bool, days: int, json_output: bool) -> None:
    """Log in to a placering server: later commands run there as you.

    Signs in with a local account (name and password; the password is sent once and never
    saved) and keeps the server's API token in your config directory (mode 0600). Sign-in
    with the municipality's identity provider (OpenID Connect) is a browser flow: the
    server's web pages issue a token to paste with PLACERING_TOKEN."""
    try:
        saved = read_login()
        url = server_url or app().server or (saved or {}).get("server")
        if not url:
            raise CliError("--server: give the server's address (placering login --server https://HOST)", 2)
        url = normal_server(url)
    except RemoteError as exc:
        raise CliError(exc.message, exc.exit_code, in_swedish=exc.in_swedish) from None
    if not login:
        login = click.prompt("Användarnamn", err=True)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Lösenord", hide_input=True, err=True)
    if not password:
        raise CliError("no password given", 2)
    try:
        issued = Client(url).request("POST", "/auth/token", json_body={
            "login": login, "password": password, "name": f"cli@{socket.gethostname()}"[:100], "days": days})
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
    from ..labels import label

    roles = ", ".join(label(r, "role") for r in record["roles"]) or "inga roller"
    where = f", {record['municipality']}" if record.get("municipality") else ""
    echo(f"Inloggad på {url} som {login} ({roles}{where}). Token sparad i {path}, giltig till "
         f"{str(record['expires_at'] or '–')[:10]}.")
    echo("Kommandona körs nu på servern; --db ADRESS kör ett kommando mot en databas här, 'placering logout' "
         "loggar ut.")


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
        echo(f"Utloggad från {(saved or {}).get('server') or 'servern'}: inloggningen i {login_path()} är borttagen.")
    else:
        echo("Ingen inloggning att ta bort.")

"""`placering admin user add/update/list/remove` and `placering admin token create/list/revoke`: the
people who sign in to the application server, and the API tokens of machine clients."""

from __future__ import annotations

import sys

import click

from ..access.roles import ROLE_DESCRIPTIONS, Role
from . import cli
from .params import Code
from .common import CliError, PlaceringGroup, app, json_option, print_json, print_table, wants_json
from ..i18n import label_list, msg, text

ROLE_HELP = "; ".join(f"{r.value}: {ROLE_DESCRIPTIONS[r]}" for r in Role)


@cli.group(cls=PlaceringGroup)
def admin() -> None:
    """Users, roles and API tokens of the application server (run by an admin)."""


@admin.group(cls=PlaceringGroup)
def user() -> None:
    """Add, update, list and remove the people who use the register, with their roles."""


def _engine():
    return app().engine()


# Start-up: the lists read without SQLAlchemy (`_direct`); the library's ORM functions and the
# transaction are imported by the commands that use them.
def _users():
    from ..access import users

    return users


def transaction(engine):
    from ..storage import transaction as in_transaction

    return in_transaction(engine)


def _direct(name: str):
    """The list read without SQLAlchemy (access/reads.py, the same rows and refusals), or None:
    the ORM view answers (a URL only SQLAlchemy reads, a person signed in)."""
    from ..access import reads

    opened = reads.open_admin_reader(app().url())
    if opened is None:
        return None
    reader, login = opened
    with reader:
        return getattr(reads, name)(reader, login)


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE", type=Code("role", list(ROLE_DESCRIPTIONS)),
              help=f"A role, code or label (repeat for several). {ROLE_HELP}.")
@click.option("--municipality", help="A social worker's municipality (required for social_worker).")
@click.option("--password-stdin", is_flag=True,
              help="Read the account's password from standard input: a local account, signing in with it "
              "(stored as an argon2 hash; on PostgreSQL also the database login's SCRAM-SHA-256 verifier). "
              "Without it the person signs in through the identity provider or the proxy.")
@json_option
def user_add(name: str, roles: tuple[str, ...], municipality: str | None, password_stdin: bool,
             json_output: bool) -> None:
    """Create the account NAME (an existing account only as it is, e.g. to set its password; 'update' changes it)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError(msg("cli.password_stdin_empty"), 2)
    with transaction(_engine()) as session:
        result = _users().add_user(session, name, roles=list(roles), municipality=municipality, password=password)
    if wants_json(json_output):
        print_json(result)
        return
    where = text("cli.out.municipality_part", municipality=result["municipality"]) if result["municipality"] else ""
    click.echo(text("cli.out.user_added", user=result["user"], where=where,
                    roles=label_list(result["roles"], "role", capital=True),
                    existed=text("cli.out.user_existed") if result["login_existed"] else "",
                    password=text("cli.out.user_password_set") if result["local_password"] else ""))


@user.command("update")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE", type=Code("role", list(ROLE_DESCRIPTIONS)),
              help="The roles the account is to have, code or label (repeat for several; replace the ones held).")
@click.option("--municipality", help="A social worker's new municipality (moves the person there).")
@json_option
def user_update(name: str, roles: tuple[str, ...], municipality: str | None, json_output: bool) -> None:
    """Change the roles and/or municipality of the existing account NAME (history says before and after)."""
    with transaction(_engine()) as session:
        result = _users().update_user(session, name, roles=list(roles) or None, municipality=municipality)
    if wants_json(json_output):
        print_json(result)
        return
    def said(roles_: list[str], municipality_: str | None) -> str:
        where = text("cli.out.municipality_part", municipality=municipality_) if municipality_ else ""
        return label_list(roles_, "role", capital=True).render() + where

    click.echo(text("cli.out.user_updated", user=result["user"],
                    before=said(result["roles_before"], result["municipality_before"]),
                    after=said(result["roles"], result["municipality"])))


@user.command("list")
@json_option
def user_list(json_output: bool) -> None:
    """The users of this register with their roles and municipality."""
    rows = _direct("users")
    if rows is None:
        with transaction(_engine()) as session:
            rows = _users().list_users(session)
    if wants_json(json_output):
        print_json(rows)
        return
    print_table(rows, [("user", "User"), ("roles", "Roles", "role"), ("municipality", "Municipality"),
                       ("can_log_in", "Can log in"), ("local_password", "Local password"), ("added_by", "Added by"),
                       ("added_at", "Added at")])


@user.command("remove")
@click.argument("name")
@json_option
def user_remove(name: str, json_output: bool) -> None:
    """Remove NAME's account and roles and revoke their API tokens; history keeps the name."""
    with transaction(_engine()) as session:
        result = _users().remove_user(session, name)
    if wants_json(json_output):
        print_json(result)
        return
    taken = label_list(result["roles_removed"], "role", capital=True).render() or text("cli.out.none")
    click.echo(text("cli.out.user_removed", user=result["user"], roles=taken))


@admin.group(cls=PlaceringGroup)
def token() -> None:
    """API tokens for machine clients (case-management systems, audit runs): create, list, revoke."""


def _admin_principal(session):
    """Who manages tokens: the signed-in person, the local user (SQLite), or on PostgreSQL the
    login, which must be an admin (or the installation account)."""
    from ..access.acting import current_principal
    from ..access.policy import local_principal

    return current_principal() or local_principal(_users().require_admin(session))


@token.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE", type=Code("role", list(ROLE_DESCRIPTIONS)),
              help=f"A role, code or label (repeat for several). {ROLE_HELP}.")
@click.option("--municipality", help="A social worker token's municipality (required for social_worker).")
@click.option("--days", type=click.IntRange(1, 366), default=90, show_default=True, help="Days until it expires.")
@json_option
def token_create(name: str, roles: tuple[str, ...], municipality: str | None, days: int, json_output: bool) -> None:
    """Create an API token for the machine client NAME; its secret is printed once."""
    from ..access.tokens import create_token

    with transaction(_engine()) as session:
        result = create_token(session, _admin_principal(session), name, roles=list(roles), municipality=municipality,
                              days=days)
    if wants_json(json_output):
        print_json(result)
        return
    from ..display import fmt_datetime

    click.echo(text("cli.out.token_created", id=result["id"], name=result["name"],
                    roles=label_list(result["roles"], "role", capital=True), expires=fmt_datetime(result["expires_at"])))
    click.echo(text("cli.out.token_secret_once"))
    click.echo(result["secret"])


@token.command("list")
@json_option
def token_list(json_output: bool) -> None:
    """Every API token: its client, roles, expiry and whether it is revoked (never the secret)."""
    rows = _direct("tokens")
    if rows is None:
        from ..access.tokens import list_tokens

        with transaction(_engine()) as session:
            rows = list_tokens(session, _admin_principal(session))
    if wants_json(json_output):
        print_json(rows)
        return
    print_table(rows, [("id", "Id"), ("name", "Name"), ("account", "Account"), ("roles", "Roles", "role"),
                       ("municipality", "Municipality"), ("expires_at", "Expires"), ("state", "State", "token_state"),
                       ("created_by", "Created by")])


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(1))
@json_option
def token_revoke(token_id: int, json_output: bool) -> None:
    """Revoke the API token TOKEN_ID at once (on every server instance)."""
    from ..access.tokens import revoke_token

    with transaction(_engine()) as session:
        result = revoke_token(session, _admin_principal(session), token_id)
    if wants_json(json_output):
        print_json(result)
        return
    click.echo(text("cli.out.token_revoked", id=result["id"], name=result["name"]))

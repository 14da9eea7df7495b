"""`placering admin user add/list/remove`: the people who work on the shared PostgreSQL server."""

from __future__ import annotations

import sys

import click

from ..access import users as lib
from ..access.roles import ROLE_DESCRIPTIONS, Role
from ..storage import transaction
from . import cli
from .common import CliError, PlaceringGroup, app, json_option, print_json, print_table, wants_json

ROLE_HELP = "; ".join(f"{r.value}: {ROLE_DESCRIPTIONS[r]}" for r in Role)


@cli.group(cls=PlaceringGroup)
def admin() -> None:
    """Users and roles on the shared PostgreSQL server (run by an admin)."""


@admin.group(cls=PlaceringGroup)
def user() -> None:
    """Add, list and remove the people who use the register, with their roles."""


def _engine():
    engine = app().engine()
    lib.require_postgresql(engine)
    return engine


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help=f"A role (repeat for several). {ROLE_HELP}.")
@click.option("--municipality", help="A social worker's municipality (required for social_worker).")
@click.option("--password-stdin", is_flag=True,
              help="Read the login's password from standard input (stored as a SCRAM-SHA-256 verifier). "
              "Without it the login has no password: PostgreSQL authenticates it through pg_hba.conf "
              "(LDAP, Kerberos/GSSAPI).")
@json_option
def user_add(name: str, roles: tuple[str, ...], municipality: str | None, password_stdin: bool,
             json_output: bool) -> None:
    """Create the login NAME (or give an existing login these roles)."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: standard input had no password", 2)
    with transaction(_engine()) as session:
        result = lib.add_user(session, name, roles=list(roles), municipality=municipality, password=password)
    if wants_json(json_output):
        print_json(result)
        return
    from ..labels import labels

    where = f", kommun {result['municipality']}" if result["municipality"] else ""
    click.echo(f"Användare {result['user']}: roller {', '.join(labels(result['roles'], 'role'))}{where}"
               f"{' (inloggningen fanns redan)' if result['login_existed'] else ''}.")


@user.command("list")
@json_option
def user_list(json_output: bool) -> None:
    """The users of this register with their roles and municipality."""
    with transaction(_engine()) as session:
        rows = lib.list_users(session)
    if wants_json(json_output):
        print_json(rows)
        return
    print_table(rows, [("user", "User"), ("roles", "Roles", "role"), ("municipality", "Municipality"),
                       ("can_log_in", "Can log in"), ("added_by", "Added by"), ("added_at", "Added at")])


@user.command("remove")
@click.argument("name")
@json_option
def user_remove(name: str, json_output: bool) -> None:
    """Take every placering role from NAME; the login stays, history keeps the name."""
    with transaction(_engine()) as session:
        result = lib.remove_user(session, name)
    if wants_json(json_output):
        print_json(result)
        return
    from ..labels import labels

    taken = ", ".join(labels(result["roles_removed"], "role")) or "inga"
    click.echo(f"Användare {result['user']} borttagen (roller som togs bort: {taken}).")

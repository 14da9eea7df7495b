"""The `placering` command: a thin layer over the library (see the README for the commands)."""

from __future__ import annotations

import click

from .. import __version__
from ..storage.database import upgrade
from ..storage.history import require_actor
from .common import AppContext, PlaceringGroup, app, by_option, json_option, print_json, wants_json


@click.group(cls=PlaceringGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="PLACERING_DATABASE_URL",
    help="Database URL (sqlite:///FILE or postgresql://USER@HOST/DB); or PLACERING_DATABASE_URL. "
    "Default: sqlite:///placering.db in the current directory.",
)
@click.option("--json", "json_output", is_flag=True, help="Print JSON instead of tables.")
@click.version_option(__version__, prog_name="placering")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, json_output: bool) -> None:
    """placering: supplier register and placement matching for municipal social services."""
    ctx.obj = AppContext(db_url=db_url, json_output=json_output)


@cli.command()
@click.option("--demo", is_flag=True, help="Also load the demo register (about 500 suppliers, 900 units).")
@by_option
@json_option
def init(demo: bool, actor: str | None, json_output: bool) -> None:
    """Create the database, or upgrade it to this version's schema. Never drops data."""
    engine = app().engine(check_schema=False)
    before, after = upgrade(engine)
    result: dict = {"database": engine.url.render_as_string(hide_password=True), "from": before, "to": after}
    if demo:
        from ..demo import load_demo

        result["demo"] = load_demo(engine, actor=require_actor(actor or "demo"))
    if wants_json(json_output):
        print_json(result)
        return
    state = "created" if before is None else ("already current" if before == after else f"upgraded from {before}")
    click.echo(f"Database {result['database']}: schema {after} ({state}).")
    if demo:
        d = result["demo"]
        click.echo(f"Demo register loaded: {d['suppliers']} suppliers, {d['units']} units.")


# Command groups live in their own modules; importing them attaches them to `cli`.
from . import register as _register  # noqa: E402,F401
from . import rules as _rules  # noqa: E402,F401
from . import matching as _matching  # noqa: E402,F401
from . import audit as _audit  # noqa: E402,F401
from . import bench as _bench  # noqa: E402,F401


def main() -> None:
    cli(prog_name="placering")

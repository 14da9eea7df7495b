"""The `placering` command: a thin layer over the library (see the README for the commands).

Start-up matters (`placering --help` and `--version` answer in well under 0.3 s): this module
imports click and nothing heavy. Each command group lives in its own module, imported only when
that command runs (LazyGroup); so `register show` never loads numpy, durable-rules, alembic or
the benchmarks, and `--help` lists the commands from the short texts below.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from .. import __version__
from .helptext import install as _install_click_words, tr
from .common import AppContext, CliError, PlaceringGroup, app, by_option, json_option, parse_date, print_json, wants_json
from ..i18n import msg

# command name -> (module that defines it, its short help as `--help` lists it). The short help
# is the first sentence of the command's docstring; tests/test_startup.py keeps them equal.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "admin": ("placering.cli.admin", "Users, roles and API tokens of the application server (run by an admin)."),
    "audit": ("placering.cli.audit", "Audits: paused suppliers, affected placements, yearly figures, the change log."),
    "complaint": ("placering.cli.casework", "Complaints (synpunkter) as cases: routed to INK (framework suppliers) or Spink."),
    "control": ("placering.cli.casework", "Deepened controls (fördjupade kontroller) of suppliers as cases."),
    "followup": ("placering.cli.casework", "Follow-ups: framework follow-ups after 12 and 30 months, the three-month HVB survey."),
    "placement": ("placering.cli.casework", "A placement's decision period, agreed price and placement agreement (placeringsavtal)."),
    "bench": ("placering.bench", "Benchmarks: print timing and memory figures for import, the rules engine, matching, audits."),
    "match": ("placering.cli.matching", "Decide placement requests: ranked recommendations, flags and every exclusion; stored."),
    "register": ("placering.cli.register", "The supplier register (utförarregister): import, search, status, checks, history."),
    "request": ("placering.cli.matching", "Stored placement requests: show, decline, choose, rematch, replay, schema."),
    "review": ("placering.cli.matching", "The direct-procurement review queue: list, show, approve, reject."),
    "rules": ("placering.cli.rules", "The rule files in rules/: list, show, lint, test, version, parameters."),
    "serve": ("placering.cli.serve", "Run the application server: the JSON API (/api/v1) and the web pages, with sign-in."),
    # issue 17: the CLI as a client of `placering serve`
    "login": ("placering.cli.client", "Log in to a placering server: later commands run there as you."),
    "logout": ("placering.cli.client", "Log out: forget the saved login (commands run on a database here again)."),
}


class LazyGroup(PlaceringGroup):
    """A group whose commands are imported on first use (LAZY_COMMANDS)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in LAZY_COMMANDS:
            module = importlib.import_module(LAZY_COMMANDS[name][0])
            # What the import built (modules, classes, SQLAlchemy's mappers: a few hundred
            # thousand objects) lives as long as the process (up to 0.2 s in one `match`).
            from ..memory import freeze_long_lived

            freeze_long_lived()
            if name not in self.commands:  # a package (bench) defines its group without attaching it
                self.add_command(getattr(module, name), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(n) for n in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                if self.commands[name].hidden:
                    continue
                text = self.commands[name].get_short_help_str(limit)
            else:
                text = _shorten(tr(LAZY_COMMANDS[name][1]), limit)
            rows.append((name, text))
        if rows:
            with formatter.section(tr("Commands")):
                formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    return click.Command(None, help=text).get_short_help_str(limit)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="PLACERING_DATABASE_URL",
    help="Database URL (sqlite:///FILE or postgresql://USER@HOST/DB); or PLACERING_DATABASE_URL. "
    "Default: sqlite:///placering.db in the current directory.",
)
@click.option("--server", "server", envvar="PLACERING_SERVER", metavar="URL",
              help="Run the command on this placering server (see 'placering login'); or PLACERING_SERVER. "
              "Default: the server you logged in to, unless --db is given.")
@click.option("--json", "json_output", is_flag=True, help="Print JSON instead of tables.")
@click.version_option(__version__, prog_name="placering")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, server: str | None, json_output: bool) -> None:
    """placering: supplier register and placement matching for municipal social services."""
    ctx.obj = AppContext(db_url=db_url, json_output=json_output, server=server)


@cli.command()
@click.option("--demo", is_flag=True, help="Also load the demo register (about 500 suppliers, 900 units) with "
              "six years of history before its date.")
@click.option("--as-of", "as_of", metavar="DATE",
              help="With --demo: the demo register's date, its history running up to it (default: today).")
@by_option
@json_option
def init(demo: bool, as_of: str | None, actor: str | None, json_output: bool) -> None:
    """Create the database, or upgrade it to this version's schema. Never drops data."""
    from ..memory import age_all, gc_paused
    from ..storage.database import upgrade
    from ..storage.entries import require_actor  # (storage.history's: that module loads the models)

    # The collector stays off from the start, as it does while the demo loads (demo/load.py): the
    # modules, the migrations and the demo make objects with few cycles.
    with gc_paused():
        engine = app().engine(check_schema=False)
        before, after = upgrade(engine)
        result: dict[str, Any] = {"database": engine.url.render_as_string(hide_password=True), "from": before,
                                  "to": after}
        if demo:
            from ..demo import load_demo
            from ..display import today

            day = parse_date(as_of, "--as-of")
            if day is not None and day > today():
                raise CliError(msg("cli.demo.as_of_future", day=day.isoformat()), 2)
            result["demo"] = load_demo(engine, actor=require_actor(actor or "demo"), as_of=day)
            age_all()  # the collector back on scans none of it (memory.py)
    if wants_json(json_output):
        print_json(result)
        return
    from ..i18n import Number, text

    state = text("cli.out.schema_created") if before is None else (
        text("cli.out.schema_current") if before == after else text("cli.out.schema_upgraded", before=before))
    click.echo(text("cli.out.database_schema", database=result["database"], schema=after, state=state))
    if demo:
        d = result["demo"]
        if d["units_created"]:
            click.echo(text("cli.out.demo_loaded", suppliers=Number(d["suppliers"]), units=Number(d["units"]),
                            entries=Number(d["history_entries"]), as_of=d["as_of"]))
        else:
            click.echo(text("cli.out.demo_already"))


_install_click_words()


def main() -> None:
    cli(prog_name="placering")

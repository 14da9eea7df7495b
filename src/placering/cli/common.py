"""What every command shares: the database, --json/--csv output, --by, and error reporting.

The CLI only parses, calls the library and formats; known errors become a message on stderr
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import click

from ..errors import PlaceringError

# Start-up: `placering --help` must not load the database layer or rich; the commands that
# use them import them when they run (see cli/__init__.py, LazyGroup).
if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.engine import Engine


class CliError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@dataclass
class AppContext:
    db_url: str | None
    json_output: bool = False
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self, *, check_schema: bool = True) -> Engine:
        if self._engine is None:
            from ..storage import make_engine, require_current

            self._engine = make_engine(self.db_url)
            if check_schema:
                require_current(self._engine)
        return self._engine


def app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    return ctx.find_object(AppContext)


class PlaceringGroup(click.Group):
    """A group that turns library errors into clear messages with their own exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlaceringError as exc:
            raise CliError(str(exc), exc.exit_code) from None
        except Exception as exc:
            from sqlalchemy.exc import SQLAlchemyError

            if not isinstance(exc, SQLAlchemyError):
                raise
            detail = getattr(exc, "orig", None) or exc
            raise CliError(f"database error: {str(detail).strip().splitlines()[0]}", 5) from None


def json_option(f: Callable) -> Callable:
    return click.option("--json", "json_output", is_flag=True, help="Print one JSON document on stdout.")(f)


def csv_option(f: Callable) -> Callable:
    return click.option("--csv", "csv_output", is_flag=True, help="Print CSV on stdout.")(f)


def by_option(f: Callable) -> Callable:
    return click.option(
        "--by",
        "actor",
        envvar="PLACERING_ACTOR",
        help="Who makes this change (recorded in history); or set PLACERING_ACTOR.",
    )(f)


def rules_option(f: Callable) -> Callable:
    """`--rules DIR`: the one spelling of the rules directory on every command that reads rules."""
    return click.option(
        "--rules", "rules_dir", metavar="DIR", envvar="PLACERING_RULES_DIR",
        type=click.Path(file_okay=False, path_type=Path),
        help="Rules directory (default: the project's rules/; or set PLACERING_RULES_DIR).",
    )(f)


def wants_json(json_output: bool) -> bool:
    return json_output or app().json_output


def to_jsonable(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def print_json(data: Any) -> None:
    click.echo(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2))


def print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    click.echo(buf.getvalue(), nl=False)


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def console() -> "Console":
    from rich.console import Console

    # Created per call so CliRunner's captured stdout is the one written to.
    width = int(os.environ.get("COLUMNS", "0") or 0) or None
    return Console(file=sys.stdout, width=width or 160, soft_wrap=False)


def print_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    title: str | None = None,
    empty: str = "(none)",
) -> None:
    """A table for people: columns are (key, header) pairs."""
    from rich.table import Table

    rows = list(rows)
    if not rows:
        if title:
            click.echo(title)
        click.echo(empty)
        return
    table = Table(title=title, show_lines=False, title_justify="left")
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*[_cell(row.get(key)) for key, _ in columns])
    console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: '{value}' is not a date (YYYY-MM-DD)", 2) from None

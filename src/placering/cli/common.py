"""What every command shares: the database, --json/--csv output, --by, and error reporting.

The CLI only parses, calls the library and formats; known errors become a message on stderr
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import click

from .. import boundary
from ..display import fmt_datetime, fmt_number, parse_decimal, safe, safe_json
from ..errors import NotPermitted, PlaceringError
from ..i18n import Number, msg, text
from .helptext import PlaceringCommand, Translated, tr

# Start-up: `placering --help` must not load the database layer or rich; the commands that
# use them import them when they run (see cli/__init__.py, LazyGroup).
if TYPE_CHECKING:
    from rich.console import Console

    from ..i18n import Message
    from sqlalchemy.engine import Engine

    from .remote import Client


class CliError(click.ClickException):
    def __init__(self, message: "str | Message", exit_code: int = 1, *, in_swedish: bool = False):
        super().__init__(str(message))
        self.exit_code = exit_code
        self.in_swedish = in_swedish  # the server's refusal: already through the catalogue
        self.said = message if hasattr(message, "render") else None  # a message with an id

    def show(self, file=None) -> None:
        from ..i18n import text as said

        # a message with an id from the gettext catalogue (placering.i18n): Swedish for people,
        # English when the locale asks for it; a text without an id as it is
        text = self.said.render() if self.said is not None else self.format_message()
        click.echo(f"{said('error.prefix')}: {safe(text)}", err=True)


@dataclass
class AppContext:
    db_url: str | None
    json_output: bool = False
    server: str | None = None  # --server URL (or PLACERING_SERVER): run the command on that server
    _engine: Engine | None = field(default=None, repr=False)

    _checked: bool = field(default=False, repr=False)
    _client: Any = field(default=None, repr=False)

    def client(self) -> "Client | None":
        """The server the command runs on, or None to run it here on the database.

        --server URL wins; else --db (or PLACERING_DATABASE_URL) runs it here; else a saved
        login (`placering login`) runs it on that server; else here (the embedded SQLite default)."""
        if self._client is None:
            self._client = _client_for(self.server, self.db_url) or False
        return self._client or None

    def url(self) -> str | None:
        """The database URL the command works on (--db, PLACERING_DATABASE_URL, the config file)."""
        from ..config import setting

        return self.db_url or setting("database")

    def act_locally(self) -> None:
        """A command on the embedded SQLite register acts as its one local user, the local
        principal (access/policy.py). On PostgreSQL a direct login is nobody signed in: the
        database's own privileges and row-level security (session_user) govern it."""
        from ..access.acting import current_principal, set_default_principal
        from ..access.policy import local_principal

        if current_principal() is None:
            set_default_principal(local_principal())

    def engine(self, *, check_schema: bool = True) -> Engine:
        from ..storage import make_engine, require_current

        if self._engine is None:
            self._engine = make_engine(self.url())
            if self._engine.dialect.name == "sqlite":
                self.act_locally()
        if check_schema and not self._checked:
            _refuse_missing_sqlite_file(self._engine.url)
            require_current(self._engine)
            self._checked = True
        return self._engine


    def database(self):
        """The database a write that takes one (`takes_database`: storage.writes) runs on through
        its own driver, without SQLAlchemy; None when the URL needs SQLAlchemy (the engine then)."""
        from ..storage.writes import Database

        url = self.url()
        if not Database.takes(url):
            return None
        db = Database(url, engine_factory=self.engine)
        if db.dialect == "sqlite":
            self.act_locally()
        return db

    def reader(self):
        """A read connection without SQLAlchemy (storage.reads: the read commands' start-up),
        or None when the URL needs SQLAlchemy (the caller then uses the engine)."""
        from ..config import setting
        from ..storage.reads import can_read, open_reader

        url = self.db_url or setting("database")
        return open_reader(url) if can_read(url) else None


def _client_for(server: str | None, db_url: str | None) -> "Client | None":
    import os

    from .remote import Client, RemoteError, normal_server, read_login

    try:
        login = read_login() if server or not db_url else None
        if server:
            server = normal_server(server)
        elif db_url or login is None:
            return None
        else:
            server = login["server"]
    except RemoteError as exc:
        raise CliError(exc.message, exc.exit_code, in_swedish=exc.in_swedish) from None
    same = login is not None and login.get("server") == server
    token = os.environ.get("PLACERING_TOKEN") or (login["token"] if same else None)
    return Client(server, token, login.get("login") if same else None)


def call(local: str, *args: Any, http: tuple, **kwargs: Any) -> Any:
    """The command's one call to the library: here, `placering.<module>:<function>(engine,
    *args, **kwargs)`; on the server (`app().client()`), `http` = (method, path, params[, body])
    where body is JSON data, or bytes (a file sent as it is). Both give the same document."""
    client = app().client()
    if client is not None:
        from .remote import RemoteError

        method, path, *rest = http
        params = rest[0] if rest else {}
        body = rest[1] if len(rest) > 1 else None
        try:
            if isinstance(body, (bytes, bytearray)):
                return client.request(method, path, params, body=bytes(body))
            return client.request(method, path, params, json_body=body if method != "GET" else None)
        except RemoteError as exc:
            raise CliError(exc.message, exc.exit_code, in_swedish=exc.in_swedish) from None
    import importlib

    module, name = local.split(":")
    function = getattr(importlib.import_module(f"placering.{module}"), name)
    if getattr(function, "takes_database", False):
        # A write on the database's own driver (storage/writes.py: start-up without the ORM).
        database = app().database()
        if database is not None:
            return function(database, *args, **kwargs)
    orm_view = getattr(function, "orm_view", None)
    if orm_view:
        # A read that storage.reads answers without SQLAlchemy (start-up, register/reads.py);
        # what it does not answer (None) the ORM view does, with its errors and suggestions.
        reader = app().reader()
        if reader is not None:
            with reader:
                result = function(reader, *args, **kwargs)
            if result is not None:
                return result
        module, name = orm_view.split(":")
        function = getattr(importlib.import_module(f"placering.{module}"), name)
    return function(app().engine(), *args, **kwargs)


def local_only(option: str, given: Any) -> None:
    """An option that names something on this machine (a rules directory) cannot go to a server."""
    if given not in (None, False, (), "") and app().client() is not None:
        raise CliError(msg("cli.local_only", option=option), 2)


def _refuse_missing_sqlite_file(parsed) -> None:
    """Only `placering init` creates a database: a command run in the wrong directory must not
    leave an empty placering.db behind (SQLite creates the file on first connect)."""
    from ..storage.database import DatabaseError

    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if not path.exists():
        raise DatabaseError(msg("cli.no_database", path=str(path.resolve())))


def _show_usage_error(exc: click.UsageError) -> None:
    from ..i18n import language, text as said
    from .messages import swedish

    ctx = exc.ctx
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = tr("Try '{command} {option}' for help.").format(
                command=ctx.command_path, option=ctx.help_option_names[0]) + "\n"
        click.echo(f"{ctx.get_usage()}\n{hint}", err=True)
    # click's words come from the catalogue (cli/helptext.py)
    if ctx is not None:  # the parameter named in the message with its metavar in Swedish (ENHET)
        from .helptext import translated

        with translated(ctx, ctx.command):
            message = exc.format_message()
    else:
        message = exc.format_message()
    click.echo(f"{said('error.prefix')}: {safe(message)}", err=True)


def app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    return ctx.find_object(AppContext)


class PlaceringGroup(Translated, click.Group):
    """A group that turns library errors into clear messages with their own exit codes; its
    help, and its commands', in the people's language (cli/helptext.py)."""

    command_class = PlaceringCommand

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra) -> Any:
        # click prints its own usage errors ("Error: Missing option …") in English; a person reads
        # them in Swedish like every other refusal (the usage line and --help stay click's).
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            _show_usage_error(exc)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            from ..i18n import text as said

            click.echo(said("cli.aborted"), err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # Every argument is input: a control character, NUL or an undecodable byte (a lone
        # surrogate after Python's surrogateescape) is refused before any command sees it.
        if ctx.parent is None:
            for i, arg in enumerate(args, start=1):
                problem = boundary.bad_character(arg) if isinstance(arg, str) else None
                if problem:
                    raise CliError(msg("cli.bad_argument", i=i, problem=problem), 2)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        if ctx.parent is None:
            _warnings_to_stderr()
        try:
            if ctx.parent is None:  # one language for the whole command (i18n.in_one_language)
                from ..i18n import in_one_language

                with in_one_language():
                    return self._invoke_retrying(ctx)
            return self._invoke_retrying(ctx)
        except PlaceringError as exc:
            from ..i18n import text as said
            from .messages import said as said_in

            for note in getattr(exc, "notes", None) or []:  # what a person should know with the refusal
                click.echo(f"{said('note.prefix')}: {safe(said_in(note))}", err=True)
            # A message with an id is said from the gettext catalogue (placering.i18n).
            if exc.message is not None:
                raise CliError(exc.message.render(), exc.exit_code, in_swedish=True) from None
            raise CliError(str(exc), exc.exit_code) from None
        except Exception as exc:
            if isinstance(exc, click.ClickException):
                raise  # a refusal already worded
            if not _database_error(exc):
                raise  # not the database's (or the client path: no database here)
            from ..storage.writes import busy_error, is_busy

            if is_busy(exc):
                raise CliError(busy_error().message, 5) from None
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501":
                raise CliError(_refusal(ctx, exc), NotPermitted.exit_code) from None
            detail = getattr(exc, "orig", None) or exc
            raise CliError(msg("cli.database_error", detail=str(detail).strip().splitlines()[0]), 5) from None


    def _invoke_retrying(self, ctx: click.Context) -> Any:
        """Run the command; after a serialization failure or deadlock (PostgreSQL) run it again
        from the start: its transaction was rolled back whole and nothing was printed (commands
        print after committing). Never more than RETRY_ATTEMPTS times; then a clear error."""
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return super().invoke(ctx)
            except Exception as exc:
                if isinstance(exc, click.ClickException) or not _database_error(exc):
                    raise
                from ..storage.writes import collided, is_retryable

                if not is_retryable(exc):
                    raise
                if attempt == RETRY_ATTEMPTS:
                    raise collided(attempt) from None


RETRY_ATTEMPTS = 3


def _database_error(exc: Exception) -> bool:
    """The database refused or failed a statement: SQLAlchemy's error, or the driver's on a
    write that runs without SQLAlchemy (storage.writes.DriverError)."""
    writes = sys.modules.get("placering.storage.writes")
    if writes is not None and isinstance(exc, writes.DriverError):
        return True
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError)


def _warnings_to_stderr() -> None:
    """What the library logs as a warning (a stored snapshot that failed its sha256 and was built
    again, say) a person reads on stderr, in the people's language; the server logs it its own way."""
    import logging

    logger = logging.getLogger("placering")
    if any(getattr(h, "placering_cli", False) for h in logger.handlers):
        return

    class ToStderr(logging.Handler):
        placering_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            from .messages import said as said_in

            command = click.get_current_context(silent=True)
            if command is None or command.command.name == "serve":
                return  # outside a command, or the server (which logs JSON lines of its own)
            from ..i18n import text as said

            # a warning logged with a Message (logger.warning(msg(…))) is said from the catalogue
            what = record.msg if hasattr(record.msg, "render") and not record.args else record.getMessage()
            click.echo(f"{said('warning.prefix')}: {safe(said_in(what))}", err=True)

    logger.addHandler(ToStderr(logging.WARNING))


def _refusal(ctx: click.Context, exc: Exception):
    """PostgreSQL refused the statement for this login: say who, with which roles, and what."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..access.roles import login_info, people_read_only, writes_as

    detail = str(exc.orig).strip().splitlines()[0]
    try:
        with app(ctx).engine(check_schema=False).connect() as conn:
            login, _superuser, roles = login_info(conn)
            if writes_as(conn)[1] == "person":
                return people_read_only(login)
        if roles:
            return msg("access.database_refused_roles", login=login, roles=", ".join(roles), detail=detail)
        return msg("access.database_refused_no_role", login=login, detail=detail)
    except SQLAlchemyError:
        return msg("access.database_refused_you", detail=detail)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "json_output", is_flag=True, help="Print one JSON document on stdout.")(f)


def csv_option(f: Callable) -> Callable:
    return click.option("--csv", "csv_output", is_flag=True, help="Print CSV on stdout.")(f)


def _actor(ctx: click.Context, _param, value: str | None, *, reading: bool = False) -> str | None:
    client = app(ctx).client()
    if client is not None:
        # On the server a change is recorded under the signed-in person: a typed --by that is
        # someone else is refused here, as the server would (it never takes an actor from a client).
        from ..text import nfc

        if value and client.login and nfc(value.strip()) != client.login:
            raise CliError(msg("cli.by_on_server", by=value, login=client.login), 2)
        return client.login or value
    # Start-up (issue 22): who acts is resolved without SQLAlchemy (access/actor.py): SQLite
    # takes the typed name, PostgreSQL asks the login through the database's own driver.
    from ..access.actor import dialect_of, resolve_actor

    url = app(ctx).url()
    dialect, engine = dialect_of(url), None
    if dialect is None:  # a URL only SQLAlchemy reads (or none placering takes: the engine says so)
        engine = app(ctx).engine(check_schema=False)
        dialect = engine.dialect.name
    if dialect == "sqlite":
        app(ctx).act_locally()
    if ctx.info_name == "init" and dialect == "postgresql":
        from ..access.roles import require_installer

        with app(ctx).engine(check_schema=False).connect() as conn:  # init is the installer's: say so first
            require_installer(conn)
    actor, kind = resolve_actor(url, value, reading=reading, engine=engine)
    if actor and kind in ("service", "superuser"):
        # The service login (or the installation account) writes for the person --by names:
        # every transaction of this command tells PostgreSQL so (access/acting.py), until the
        # command's context closes. A person's own login reads as itself (row-level security
        # keys on that login).
        from ..access.acting import acting_as, current_principal
        from ..access.policy import local_principal

        acting = current_principal()
        if acting is None or acting.via == "cli-local":  # a signed-in person is never replaced by --by
            ctx.with_resource(acting_as(local_principal(actor)))
    return actor


def _from_config(key: str):
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value not in (None, ""):
            return value
        from ..config import setting

        found = setting(key)
        if found is not None and key == "rules":
            return Path(found)
        return found if found is not None else value
    return callback


def _by(callback: Callable, help: str) -> Callable:
    """The one `--by` option (PLACERING_ACTOR, else 'actor' in the config file)."""
    return click.option("--by", "actor", envvar="PLACERING_ACTOR", type=boundary.ACTOR_OR_EMPTY, help=help,
                        callback=lambda ctx, param, value: callback(ctx, param, _from_config("actor")(ctx, param, value)))


def by_option(f: Callable) -> Callable:
    return _by(_actor, "Who makes this change (recorded in history); or set PLACERING_ACTOR, or 'actor' in the "
               "config file. On the shared PostgreSQL server only the service login writes, naming the person with "
               "--by.")(f)


def _reader(ctx: click.Context, param, value: str | None) -> str | None:
    """--by on a command that only reads (a protected case's reader is logged): a person's own
    database login on PostgreSQL reads as itself, where a change would be refused."""
    return _actor(ctx, param, value, reading=True)


def reader_option(f: Callable) -> Callable:
    """`--by` on a read: who reads (logged for a protected case), never a refusal of the read."""
    return _by(_reader, "Who reads (a protected person's request: the reading is logged); or PLACERING_ACTOR, or "
               "'actor' in the config file. A person's own database login reads as itself.")(f)


def rules_option(f: Callable) -> Callable:
    """`--rules DIR`: the one spelling of the rules directory on every command that reads rules."""
    return click.option(
        "--rules", "rules_dir", metavar="DIR", envvar="PLACERING_RULES_DIR",
        type=click.Path(file_okay=False, path_type=Path), callback=_from_config("rules"),
        help="Rules directory (default: the project's rules/; or set PLACERING_RULES_DIR, or 'rules' in the "
        "config file).",
    )(f)


def wants_json(json_output: bool) -> bool:
    return json_output or app().json_output


from ..jsondata import to_jsonable  # noqa: E402,F401  (the one spelling of JSON data; re-exported)


def echo(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo for text that carries data: control characters are shown, never obeyed."""
    click.echo(safe(message), err=err, nl=nl)


def echo_wrapped(message: str, indent: str = "  ") -> None:
    """Prose (a reason, a summary) wrapped at word boundaries to the terminal's width."""
    import textwrap

    width = text_width()
    click.echo("\n".join(textwrap.wrap(safe(message), width=width, subsequent_indent=indent,
                                        break_long_words=False, break_on_hyphens=False)) or "")


def print_json(data: Any) -> None:
    from ..jsondata import dumps  # json.dumps(…, ensure_ascii=False, indent=2)'s text, quicker

    click.echo(safe_json(dumps(to_jsonable(data))))


def print_json_line(data: Any) -> None:
    click.echo(safe_json(json.dumps(to_jsonable(data), ensure_ascii=False)))


# --- CSV: plain, and the dialect Swedish Excel opens and saves ------------------------------

# OWASP "CSV Injection": a cell a spreadsheet could take for a formula gets a leading quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_cell(value: Any, dialect: str = "plain") -> str:
    """One value as a CSV cell: codes as they are, numbers with the dialect's decimal mark,
    lists joined by ';', text safe from spreadsheet formulas and terminal control characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
        return text.replace(".", ",") if dialect == "excel" else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        value = ";".join(str(v) for v in value)
    return neutralise_formula(safe(value))


def csv_text(rows: Iterable[dict[str, Any]], columns: Sequence[str], dialect: str = "plain") -> str:
    """CSV text: plain (comma, UTF-8, decimal point) or excel (semicolon, UTF-8 with a
    byte-order mark, decimal comma), the form Swedish Excel reads and writes."""
    buf = io.StringIO()
    if dialect == "excel":
        buf.write("\ufeff")
    writer = csv.writer(buf, delimiter=";" if dialect == "excel" else ",", lineterminator="\r\n"
                        if dialect == "excel" else "\n")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([csv_cell(row.get(k), dialect) for k in columns])
    return buf.getvalue()


def print_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str], dialect: str = "plain") -> None:
    click.echo(csv_text(rows, columns, dialect), nl=False)


# --- tables for people ----------------------------------------------------------------------

TABLE_ROWS = 40  # rows a table shows before it summarises; --all shows every row

_NUMERIC = (int, float)


def to_terminal() -> bool:
    """Is the output read on a screen of a known width? A file or a pipe is not (unless COLUMNS
    says how wide its reader is): there a table keeps every column, whole."""
    import os

    if os.environ.get("COLUMNS"):
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


UNLIMITED_WIDTH = 100_000


def text_width() -> int:
    """The width prose and next steps are written to: console().width, without loading rich
    for a file or pipe (start-up: a write prints no table)."""
    return console().width if to_terminal() else UNLIMITED_WIDTH


def console(width: int | None = None) -> "Console":
    from rich.console import Console

    # Created per call so CliRunner's captured stdout is the one written to. Rich finds the
    # width itself: the terminal's, else $COLUMNS; a file or pipe gets the width its text needs.
    if width is None and not to_terminal():
        width = UNLIMITED_WIDTH
    return Console(file=sys.stdout, soft_wrap=False, markup=False, emoji=False, highlight=False, width=width)


def _cell(value: Any, kind: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_cell(v, kind) for v in value)
    if isinstance(value, bool):
        return text("cli.out.yes") if value else text("cli.out.no")
    if isinstance(value, _NUMERIC):
        return fmt_number(value)
    if isinstance(value, datetime):
        return fmt_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if kind:
        from ..labels import label

        return label(value, kind)
    return str(value)


def _is_token(text: str) -> bool:
    # An id, a code, a date, an org number, an amount: one word (a no-break space does not
    # count), never worth splitting.
    return " " not in text and "\n" not in text and (len(text) <= 24 or _is_id(text))


def _min_width(cells: list[str], head: str, no_wrap: bool, cap: int = 24) -> int:
    words = [len(w) for w in head.split()] or [0]
    if no_wrap:
        # The header whole when it is short ("Gäller från" over a date), else its longest word.
        return max([len(head) if " " not in head or len(head) <= 16 else max(words)] + [len(c) for c in cells])
    # Long Swedish compounds (Rekommendationsstopp, Behandlingsinsatser) stay whole; only longer
    # words (a pasted address, a URL in a note) may fold; an id (ELIG-AGREEMENT-NOT-STARTED,
    # REVIEW-PRICE-ABOVE-REFERENCE) never does.
    longest = max([len(w) if _is_id(w) else min(len(w), cap) for c in cells for w in c.split()] or [0])
    return max(max(words), longest, 4)


_ID_WORD = re.compile(r"[A-ZÅÄÖ0-9][A-ZÅÄÖ0-9_./:-]*[A-ZÅÄÖ0-9][,;.)]?")
# a name of the rule files (a parameter, audit_agreement_followup_lookahead_days) is an id too
_NAME_WORD = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+[,;.)]?")


def _is_id(word: str) -> bool:
    return bool(_ID_WORD.fullmatch(word) or _NAME_WORD.fullmatch(word))


def column_header(head: str) -> str:
    """A column's header in the people's language: Swedish (labels.po's headers name the
    English ones); in English, the Swedish header's msgctxt "header" entry of the catalogue (read
    only when English is asked for), else the header the column was given."""
    from ..i18n import language
    from ..labels import header

    swedish = header(head)
    if language() != "en":
        return swedish
    from ..i18n import translations

    catalogue = translations("en")
    english = catalogue.pgettext("header", swedish)
    if english == swedish and f"header\x04{swedish}" not in getattr(catalogue, "_catalog", {}):
        return head  # a header the catalogue does not know: as the column gives it
    return english


def print_table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple],
    *,
    title: str | None = None,
    empty: str | None = None,
    limit: int | None = None,
    hint: str | None = None,
    expanded: bool = False,
    only: Sequence[str] | None = None,
) -> None:
    """A table for people that fits the terminal it is printed in.

    columns: (key, header) or (key, header, label_kind) — a label kind shows each code's
    Swedish label. Numbers are right-aligned; ids, dates, org numbers and amounts are never
    split; columns that do not fit are left out and named below the table. With `limit`, a
    longer list shows its first rows and says how many there are and how to get them all.

    Which columns go when the terminal is too narrow: first those that say nothing, then the
    plain ones from the right, and only then the ones that say why (reason, note, change, rule,
    what is missing); the first column and ids never go. Into a file or a pipe nothing is left
    out. `expanded` prints one field per line per record (as psql's \\x); `only` keeps the
    columns named (by key or header, see `select_columns`).
    """
    from rich.text import Text

    from collections.abc import Sequence as _Sequence

    header = column_header
    # A sequence is sliced, not listed: a lazy one (cli/register.py) makes only the rows shown
    rows = rows if isinstance(rows, _Sequence) else list(rows)
    if only:
        columns = select_columns(columns, only)
    out = console()
    if expanded and rows:
        _print_expanded(out, rows, columns, title=title, limit=limit, hint=hint)
        return
    if not rows:
        if title:
            out.print(Text(safe(title)))
        out.print(Text(safe(text("cli.out.table_empty") if empty is None else empty)))
        return
    total = len(rows)
    if limit is not None and total > limit:
        rows = rows[:limit]
    rows = list(rows)
    specs = []
    for col in columns:
        key, head = col[0], header(col[1])
        kind = col[2] if len(col) > 2 else None
        values = [r.get(key) for r in rows]
        cells = [safe(_cell(v, kind)) for v in values]
        present = [v for v in values if v not in (None, "", [], ())]
        numeric = bool(present) and all(isinstance(v, _NUMERIC) and not isinstance(v, bool) for v in present)
        no_wrap = numeric or all(_is_token(c) for c in cells) or all(isinstance(v, (date, datetime))
                                                                     for v in present) and bool(present)
        rank = KEEP if not specs else column_rank(key)
        specs.append({"head": head, "cells": cells, "numeric": numeric, "no_wrap": no_wrap,
                      "empty": not present, "rank": rank,
                      "min": _min_width(cells, head, no_wrap) if not kind else
                      # a label ("Kunde inte göras") is never split; a list of them wraps between them
                      max(_min_width(cells, head, no_wrap), *(len(p) for c in cells for p in c.split(", ")))})
    width = out.width
    hidden: list[str] = []

    def build(specs: list[dict], widths: list[int] | None = None) -> "Table":
        from rich import box
        from rich.table import Table

        table = Table(title=Text(safe(title)) if title else None, title_justify="left", show_lines=False,
                      box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
        for n, s in enumerate(specs):
            # The header wraps at its words even over a column that never wraps (ids, dates).
            table.add_column(Text(safe(s["head"]), no_wrap=False, overflow="fold"),
                             justify="right" if s["numeric"] else "left",
                             no_wrap=s["no_wrap"], min_width=s["min"], width=widths[n] if widths else None,
                             overflow="ellipsis" if s["no_wrap"] else "fold")
        for i in range(len(rows)):
            table.add_row(*[Text(s["cells"][i]) for s in specs])
        return table

    def layout(specs: list[dict]) -> list[int] | None:
        """Each column's width, or None when even their narrowest do not fit. Every column gets
        its narrowest (ids, dates and amounts whole, words unbroken), and the room left is shared
        in proportion to what each needs for its longest cell: rich's own shrinking would cut ids."""
        table = build(specs)
        try:  # the separators and padding as rich counts them (private API; else two spaces a gap)
            overhead = table._extra_width + sum(table._get_padding_width(i) for i in range(len(specs)))
        except Exception:  # noqa: BLE001
            overhead = 2 * (len(specs) - 1)
        room = width - overhead
        least = [s["min"] for s in specs]
        if sum(least) > room:
            return None
        natural = [max(s["natural"], s["min"]) for s in specs]
        if sum(natural) <= room:
            return natural
        # The widest columns give way first: every column as wide as it needs up to a level,
        # the highest level at which the columns fit (short columns such as a type stay whole).
        lo, hi = 0, max(natural)
        while lo < hi:
            level = (lo + hi + 1) // 2
            if sum(max(m, min(n, level)) for m, n in zip(least, natural)) <= room:
                lo = level
            else:
                hi = level - 1
        widths = [max(m, min(n, lo)) for m, n in zip(least, natural)]
        spare = room - sum(widths)
        for i in sorted(range(len(widths)), key=lambda i: natural[i] - widths[i], reverse=True):
            if spare <= 0:
                break
            if natural[i] > widths[i]:
                widths[i] += 1
                spare -= 1
        return widths

    for s in specs:
        s["natural"] = max([len(s["head"])] + [len(line) for c in s["cells"] for line in (c.splitlines() or [""])])
    natural = sum(s["natural"] for s in specs) + 2 * (len(specs) - 1)
    plain = _plain_table(out, title, specs) if natural <= width else None
    if plain is not None:  # what rich prints for a table that fits, without its layout engine
        out.file.write(plain)
        out.file.flush()
    else:
        _rich_table(out, specs, rows, title, width, natural, build, layout)
    if total > len(rows):
        out.print(Text(text("cli.out.table_showing", shown=len(rows), total=Number(total),
                            hint=text("cli.out.table_hint") if hint is None else hint)))


def _plain_table(out: "Console", title: str | None, specs: list[dict]) -> str | None:
    """The table as rich prints it (box SIMPLE_HEAD without edges, columns two spaces apart,
    each as wide as its widest cell or its least width, numbers right-aligned, the title on a
    line of the table's width) when that is all there is to it: no colours (a file, a pipe),
    every column at its natural width within the console's, one line per cell, every character
    one column wide, no tab, and a title no wider than the table. None otherwise (rich then
    lays it out). Rich's layout costs a read command more than its read at 40 rows by 13
    columns; tests/test_output.py compares the two."""
    if out.color_system is not None:
        return None
    from rich.cells import cell_len

    widths = [max(s["natural"], s["min"]) for s in specs]
    total = sum(widths) + 2 * (len(widths) - 1)
    if total > out.width:
        return None
    texts = [s["head"] for s in specs] + [c for s in specs for c in s["cells"]] + ([title] if title else [])
    for t in texts:
        if "\n" in t or "\t" in t or "\r" in t or cell_len(t) != len(t) or (t and (t[0].isspace() or t[-1].isspace())):
            return None
    if title is not None and len(title) > total:
        return None

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if s["numeric"] else c.ljust(w) for c, w, s in zip(cells, widths, specs))

    lines = [title.ljust(total)] if title else []
    lines.append(line([s["head"] for s in specs]))
    lines.append("─" * total)
    lines.extend(line([s["cells"][i] for s in specs]) for i in range(len(specs[0]["cells"])))
    return "\n".join(lines) + "\n"


def _rich_table(out, specs, rows, title, width, natural, build, layout) -> None:
    from rich.text import Text

    hidden: list[str] = []
    widths = None
    if natural > width:  # first the columns that say nothing, then plain ones, then the why
        order = [s["head"] for s in specs]
        specs = [s for s in specs if not s["empty"]] or specs
        while (widths := layout(specs)) is None:
            droppable = [i for i, s in enumerate(specs) if s["rank"] in (DROP_FIRST, DROP_LAST)]
            if not droppable or len(specs) <= 2:
                break
            plain = [i for i in droppable if specs[i]["rank"] == DROP_FIRST]
            hidden.append(specs.pop((plain or droppable)[-1])["head"])
        hidden.sort(key=order.index)
    table = build(specs, widths)
    out.print(table)
    if hidden:
        out.print(Text(text("cli.out.table_hidden", width=width, columns=", ".join(hidden))))


# Which column goes first when a table is too wide (see print_table): ids stay (never dropped,
# never split), the columns that say why go last.
KEEP, DROP_FIRST, DROP_LAST = 0, 1, 2
ID_KEYS = frozenset({"id", "unit", "entity", "request", "org_nr", "dnr", "seq", "proposal", "user"})
WHY_KEYS = frozenset({"reason", "reasons", "note", "notes", "change", "changes", "action", "rule", "rule_id",
                      "rules", "missing", "why", "explanation", "message", "flags", "last", "status_reason",
                      "excluded", "refusal", "outcome", "decision_reason", "detail", "details", "status_label",
                      "result", "passed"})


def column_rank(key: str) -> int:
    if key in WHY_KEYS or key.endswith(("_reason", "_note", "_why")):
        return DROP_LAST
    if key in ID_KEYS or (key.endswith("_id") and key != "rule_id") or key.endswith("_org_nr"):
        return KEEP
    return DROP_FIRST


def select_columns(columns: Sequence[tuple], wanted: Sequence[str]) -> list[tuple]:
    """The columns named in `wanted` (a key such as `reason` or a header as shown, `Orsak`;
    case and diacritics do not matter), in the order named; an unknown name is refused with
    the names there are."""
    from ..labels import header
    from ..text import fold

    by_name: dict[str, tuple] = {}
    for col in columns:
        by_name.setdefault(fold(col[0]), col)
        by_name.setdefault(fold(header(col[1])), col)
        by_name.setdefault(fold(col[1]), col)
        by_name.setdefault(fold(column_header(col[1])), col)
    chosen: list[tuple] = []
    for name in wanted:
        col = by_name.get(fold(name.strip()))
        if col is None:
            known = ", ".join(f"{column_header(c[1])} ({c[0]})" for c in columns)
            raise CliError(msg("cli.no_such_column", column=name.strip(), known=known), 2)
        if col not in chosen:
            chosen.append(col)
    return chosen


def _print_expanded(out, rows: list[dict[str, Any]], columns: Sequence[tuple], *, title: str | None,
                    limit: int | None, hint: str | None) -> None:
    """One record per block, one field per line (psql's \\x): nothing is left out, however
    narrow the terminal; long values wrap under their own field."""
    import textwrap

    from rich.text import Text

    heads = [safe(column_header(c[1])) for c in columns]
    pad = max(len(h) for h in heads)
    room = max(out.width - pad - 3, 20)
    total = len(rows)
    if limit is not None and total > limit:
        rows = rows[:limit]
    if title:
        out.print(Text(safe(title)))
    for n, row in enumerate(rows, start=1):
        out.print(Text(f"-[ {text('cli.out.record')} {n} ]" + "-" * max(pad - 8, 4)))
        for col, head in zip(columns, heads):
            cell = safe(_cell(row.get(col[0]), col[2] if len(col) > 2 else None))
            lines = [seg for part in (cell.splitlines() or [""]) for seg in
                     (textwrap.wrap(part, room, break_long_words=False, break_on_hyphens=False) or [""])]
            out.print(Text(f"{head.ljust(pad)} | {lines[0]}"))
            for more in lines[1:]:
                out.print(Text(f"{' ' * pad} | {more}"))
    if total > len(rows):
        out.print(Text(text("cli.out.records_showing", shown=len(rows), total=Number(total),
                            hint=text("cli.out.table_hint") if hint is None else hint)))


# --- the same output options on every command that lists data ------------------------------


@dataclass
class Section:
    """One list in a report: key (the CSV section and JSON-lines tag), title, rows, columns for
    the table, and the CSV's columns (codes; default: the table's keys)."""

    key: str
    title: str | None
    rows: list[dict[str, Any]]
    columns: Sequence[tuple]
    csv_columns: Sequence[str] | None = None
    empty: str | None = None  # None: cli.out.table_empty, "(inga)" in the people's language


@dataclass
class Output:
    """What the user asked for: a table (default), --json, --jsonl, --csv or --excel; --all."""

    json: bool = False
    jsonl: bool = False
    csv: bool = False
    excel: bool = False
    all: bool = False
    expanded: bool = False
    columns: tuple[str, ...] = ()
    xlsx: Path | None = None

    @property
    def machine(self) -> bool:
        return self.json or self.jsonl or self.csv or self.excel or self.xlsx is not None

    @property
    def codes(self) -> bool:
        """Output for programs (JSON, CSV), which keeps codes; a table and an Excel workbook are
        read by people, in Swedish."""
        return self.json or self.jsonl or self.csv or self.excel

    @property
    def dialect(self) -> str:
        return "excel" if self.excel else "plain"

    @property
    def table_limit(self) -> int | None:
        return None if self.all else TABLE_ROWS

    def emit(self, data: Any, sections: Sequence[Section], *, before: Callable[[], None] | None = None) -> None:
        """JSON (the whole `data`), JSON lines (one row per line, tagged with its section when
        there are several), CSV (every section's rows, with a `section` column when there are
        several), or tables for people (`before` prints what comes above them)."""
        many = len(sections) > 1
        if self.columns:
            sections = [_only_columns(sec, self.columns) for sec in sections]
        if self.xlsx is not None:
            from .spreadsheet import write_sections

            from ..i18n import text

            count = write_sections(self.xlsx, sections)
            click.echo(text("rows.written", n=count, file=safe(str(self.xlsx))), err=True)
            return
        if self.json:
            print_json(data)
            return
        if self.jsonl:
            for sec in sections:
                for row in sec.rows:
                    print_json_line({"section": sec.key, **row} if many else row)
            return
        if self.csv or self.excel:
            columns: list[str] = ["section"] if many else []
            rows: list[dict[str, Any]] = []
            for sec in sections:
                for k in sec.csv_columns or [c[0] for c in sec.columns]:
                    if k not in columns:
                        columns.append(k)
                rows += [{**r, "section": sec.key} for r in sec.rows] if many else sec.rows
            print_csv(rows, columns, self.dialect)
            return
        if before:
            before()
        for i, sec in enumerate(sections):
            if i:
                click.echo("")
            print_table(sec.rows, sec.columns, title=sec.title, empty=sec.empty, limit=self.table_limit,
                        expanded=self.expanded)

    def listing(self, rows: list[dict[str, Any]], columns: Sequence[tuple], *, title: str | None = None,
                csv_columns: Sequence[str] | None = None, empty: str | None = None, data: Any = None) -> None:
        """One list: `data` for --json defaults to the rows."""
        self.emit(rows if data is None else data,
                  [Section("rows", title, rows, columns, csv_columns, empty)])


def _only_columns(sec: Section, wanted: Sequence[str]) -> Section:
    """The section with the columns named by --columns (table and CSV alike)."""
    chosen = select_columns(sec.columns, wanted)
    return Section(sec.key, sec.title, sec.rows, chosen, [c[0] for c in chosen], sec.empty)


OUTPUT_OPTION_NAMES = ("--json", "--jsonl", "--csv", "--excel", "--all", "--expanded", "--columns", "--xlsx")


def output_options(f: Callable) -> Callable:
    """--json, --jsonl, --csv, --excel and --all on a command that lists data, the same on every
    one; the command receives them as `out: Output`."""

    @functools.wraps(f)
    def wrapper(*args, json_output: bool, jsonl_output: bool, csv_output: bool, excel_output: bool,
                show_all: bool, expanded: bool, columns: str | None, xlsx: Path | None, **kwargs):
        json_output = json_output or app().json_output
        if sum([json_output, jsonl_output, csv_output, excel_output, xlsx is not None]) > 1:
            raise CliError(msg("cli.one_output_format"), 2)
        wanted = tuple(c for c in (columns or "").split(",") if c.strip())
        out = Output(json=json_output, jsonl=jsonl_output, csv=csv_output, excel=excel_output, all=show_all,
                     expanded=expanded, columns=wanted, xlsx=xlsx)
        return f(*args, out=out, **kwargs)

    for decorate in reversed([
        click.option("--json", "json_output", is_flag=True, help="Print one JSON document (codes, not labels)."),
        click.option("--jsonl", "jsonl_output", is_flag=True,
                     help="Print JSON lines: one object per row, for large results and streaming."),
        click.option("--csv", "csv_output", is_flag=True,
                     help="Print CSV (comma, UTF-8, decimal point; codes, not labels)."),
        click.option("--excel", "excel_output", is_flag=True,
                     help="Print CSV for Swedish Excel (semicolon, UTF-8 with BOM, decimal comma)."),
        click.option("--all", "show_all", is_flag=True,
                     help=f"Show every row in the table (it shows {TABLE_ROWS} and a count otherwise)."),
        click.option("-x", "--expanded", "expanded", is_flag=True,
                     help="Show each row as a record, one field per line (as psql's \\x): nothing is left out."),
        click.option("--columns", "columns", metavar="KOLUMNER",
                     help="Only these columns, comma-separated, by code or header (e.g. 'unit,reason' or "
                     "'Enhet,Orsak'); for the table, CSV and Excel."),
        click.option("--xlsx", "xlsx", metavar="FIL", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write an Excel workbook (.xlsx) with Swedish headers and labels to FIL."),
    ]):
        wrapper = decorate(wrapper)
    wrapper.__placering_output__ = True
    return wrapper


class DecimalType(click.ParamType):
    """A number as a Swede types it: 12,5 or 12.5."""

    name = "number"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            number = parse_decimal(value)
        except ValueError:
            from ..i18n import text

            self.fail(text("cli.not_a_number", value=value), param, ctx)
        return number  # finite or not is the library's rule (one rule for import and commands)


DECIMAL = DecimalType()


def parse_date(value: str | None, option: str, *, past: bool = False) -> date | None:
    """An option's date; `past=True` when it dates something that happened (not after today)."""
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise CliError(msg("cli.not_a_date", option=option, value=value), 2) from None
    if past:
        try:
            boundary.not_future(day)
        except ValueError as exc:  # boundary.Refused: a catalogue message
            raise CliError(msg("cli.option_problem", option=option, problem=getattr(exc, "message", None) or str(exc)), 2) from None
    return day

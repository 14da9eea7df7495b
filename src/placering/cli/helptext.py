"""`--help` and click's own words in the people's language (issue 19).

Our help texts stay English in the decorators and docstrings (the message ids); what a person
reads is said from the gettext catalogue `locale/<lang>/LC_MESSAGES/cli.po` when the help is
formatted (`Translated`, mixed into every command and group), so English is there when the
locale asks for it (PLACERING_LANG=en, see i18n.language). Click's own strings ("Usage:",
"No such option", "Invalid value for …") come from click's calls of the stdlib `gettext`: `install`
points them at the same catalogue, whose first part holds click's msgids.

Start-up: nothing is read until a text is said (a help page or a refusal); a command that
succeeds never loads the catalogue. The few strings click builds while it parses or at import
(the --help and --version options' help) are said when the help is formatted, not then.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Iterator

import click

DOMAIN = "cli"

# Strings click asks for while it builds options (at import or while parsing every command):
# left as they are then, and said when the help that shows them is formatted.
# (click.Path's name "file" is not shown: the Swedish messages about a path leave it out.)
_AT_FORMAT_TIME = frozenset({"Show this message and exit.", "Show the version and exit.",
                             "%(prog)s, version %(version)s", "file", "directory", "path"})


def _catalogue():
    from ..i18n import language

    lang = language()
    if lang == "en":
        return None
    from ..i18n import translations

    return translations(lang, DOMAIN)


def tr(text: str | None) -> str | None:
    """The text in the people's language (a text the catalogue does not know, as it is)."""
    if not text:
        return text
    t = _catalogue()
    return text if t is None else t.gettext(text)


def tr_doc(text: str | None) -> str | None:
    """A command's help (its docstring) by its text without the source's indentation."""
    if not text:
        return text
    import inspect

    said = tr(inspect.cleandoc(text))
    return text if said == inspect.cleandoc(text) else said


def _click_gettext(message: str) -> str:
    if message in _AT_FORMAT_TIME:
        return message
    return tr(message) or message


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    t = _catalogue()
    if t is None:
        return singular if n == 1 else plural
    return t.ngettext(singular, plural, n)


def install() -> None:
    """Click's own strings through the catalogue: click's modules bound the stdlib's `gettext`
    and `ngettext` when they were imported; those names are pointed here (cheap: no file is read)."""
    import click.core
    import click.decorators
    import click.exceptions
    import click.formatting
    import click.parser
    import click.termui
    import click.types
    import click.utils

    for module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser,
                   click.termui, click.types, click.utils):
        if hasattr(module, "_"):
            module._ = _click_gettext
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext


_METAVAR_WORD = re.compile(r"\b[A-Z][A-Z_]+\b")


def metavar(text: str) -> str:
    """'DATE' → 'DATUM', '[IDENT]...' → '[ID]...': each upper-case word from the catalogue."""
    return _METAVAR_WORD.sub(lambda m: tr(m.group(0)) or m.group(0), text)


@contextmanager
def translated(ctx: click.Context, command: click.Command) -> Iterator[None]:
    """While help is formatted: the command's texts, its options' help and metavars said in the
    people's language; put back afterwards (a process may format help in both languages)."""
    if _catalogue() is None:
        yield
        return
    saved: list[tuple[Any, str, Any]] = []

    def put(obj: Any, name: str, value: Any) -> None:
        saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    try:
        for name in ("help", "short_help", "epilog", "options_metavar", "subcommand_metavar"):
            value = getattr(command, name, None)
            if isinstance(value, str) and value:
                put(command, name, metavar(value) if name.endswith("metavar") else tr_doc(value))
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                if param.help:
                    put(param, "help", tr(param.help))
                if not param.is_flag and not param.count:
                    put(param, "metavar", metavar(param.make_metavar(ctx)))
                if isinstance(param.show_default, str):
                    put(param, "show_default", tr(param.show_default))
            elif isinstance(param, click.Argument):
                put(param, "metavar", metavar(param.make_metavar(ctx)))
        yield
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


class Translated:
    """Mixed into click.Command / click.Group: help said from the catalogue."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with translated(ctx, self):  # type: ignore[arg-type]
            super().format_help(ctx, formatter)  # type: ignore[misc]

    def get_usage(self, ctx: click.Context) -> str:
        with translated(ctx, self):  # type: ignore[arg-type]
            return super().get_usage(ctx)  # type: ignore[misc]

    def get_short_help_str(self, limit: int = 45) -> str:
        if _catalogue() is None:
            return super().get_short_help_str(limit)  # type: ignore[misc]
        saved = self.help, self.short_help  # type: ignore[attr-defined]
        try:
            self.help, self.short_help = tr_doc(self.help), tr(self.short_help)  # type: ignore[attr-defined]
            return super().get_short_help_str(limit)  # type: ignore[misc]
        finally:
            self.help, self.short_help = saved  # type: ignore[attr-defined]


class PlaceringCommand(Translated, click.Command):
    """Every command of placering: its help in the people's language."""

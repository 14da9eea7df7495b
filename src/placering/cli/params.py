"""Options that take a code take what a person is shown: the code (`fail`) or its Swedish label
(`underkänd`, `Underkand`), in any case, with or without å, ä, ö. One type for every such
option and argument (issue 19): `Code("check_result", CheckResult)`.

The codes come from the enum (or a list), the labels from locale/sv/LC_MESSAGES/labels.po; a value that
is neither is refused naming both, so a person sees what to type.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterable

import click


class Code(click.ParamType):
    """A code of one kind, given as the code or its label; converted to the code."""

    name = "code"

    def __init__(self, kind: str, codes: Iterable[Any] | type[Enum] | None = None, *, metavar: str | None = None):
        self.kind = kind
        self._codes = codes
        self._metavar = metavar

    @property
    def codes(self) -> list[str]:
        if self._codes is None:
            from ..labels import catalogue

            return list(catalogue().get(self.kind, {}))
        return [str(getattr(c, "value", c)) for c in self._codes]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str | None:
        return self._metavar or self.kind.upper()

    def shell_complete(self, ctx, param, incomplete: str):
        from click.shell_completion import CompletionItem

        return [CompletionItem(c) for c in self.codes if c.startswith(incomplete)]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, Enum):
            return value
        from ..labels import code_for

        code = code_for(value, self.kind, known=self.codes)
        if code is None:
            # As the library refuses an unknown code (exit 2, the same words in every path); the
            # option's help says the labels are taken too.
            from .common import CliError

            from ..i18n import msg

            from ..i18n import labels

            raise CliError(msg("cli.unknown_code", what=msg("unknown." + self.kind), value=value,
                               known=labels(self.codes, self.kind)), 2)
        return code


def code_option_help(kind: str, codes: Iterable[Any] | type[Enum] | None = None) -> str:
    """'code (Label), …' for a help text: what the option takes."""
    return ", ".join(f"{c}" for c in Code(kind, codes).codes)

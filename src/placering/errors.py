"""Errors a user can act on. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One thing wrong with an input, and where it is (file, line or record, field)."""

    message: str
    file: str | None = None
    line: int | None = None
    record: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.record:
            where.append(self.record)
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class PlaceringError(Exception):
    """Base of every error shown to a user as a message rather than a traceback.

    Raised with a `placering.i18n.Message` (an id and parameters), a person reads it from the
    gettext catalogue in their language (`message`); `str()` is the English text."""

    exit_code = 1
    message = None  # the Message, when raised with one

    def __init__(self, *args):
        from .i18n import Message

        if args and isinstance(args[0], Message):
            self.message = args[0]
            args = (str(args[0]), *args[1:])
        super().__init__(*args)


class ValidationError(PlaceringError):
    """Input was rejected; nothing was written. Carries every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: "list[Problem] | Problem | str | Message"):
        from .i18n import Message

        if isinstance(problems, Message):  # one refusal said from the catalogue (placering.i18n)
            self.problems = [Problem(str(problems))]
            super(ValidationError, self).__init__(problems)
            return
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFound(PlaceringError):
    """A supplier, unit, agreement, request or rule that the user named does not exist."""

    exit_code = 3


class InvariantViolation(PlaceringError):
    """A change the register's authority rules forbid (e.g. order stop on a non-framework route)."""

    exit_code = 4


@dataclass
class Located:
    """A value with where it came from, for error messages during multi-record input."""

    value: object
    file: str | None = None
    line: int | None = None
    extra: dict = field(default_factory=dict)


class NotPermitted(PlaceringError):
    """The login's roles do not allow this (on the shared PostgreSQL server)."""

    exit_code = 6

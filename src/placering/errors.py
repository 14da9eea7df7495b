"""Errors a user can act on. The CLI prints them without a traceback and exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .i18n import Message


@dataclass
class Problem:
    """One thing wrong with an input, and where it is (file, line or record, field).

    `message` (and `record`) may be a `placering.i18n.Message`: a person then reads it from the
    gettext catalogue (`render`); `str()` is the English text, for logs and programs."""

    message: "str | Message"
    file: str | None = None
    line: int | None = None
    record: "str | Message | None" = None
    field: str | None = None

    def render(self, lang: str | None = None) -> str:
        """Where and what, in the people's language (words such as 'line' and 'field' too)."""
        from .i18n import Message, language, text_in

        lang = lang or language()
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            where.append(text_in(lang, "problem.line", line=self.line))
        if self.record:
            where.append(_said(self.record, lang))
        if self.field:
            where.append(text_in(lang, "problem.field", field=self.field))
        what = _said(self.message, lang)
        return f"{', '.join(where)}: {what}" if where else what

    def __str__(self) -> str:
        return self.render("en")

    @property
    def has_id(self) -> bool:
        from .i18n import Message

        return isinstance(self.message, Message) or isinstance(self.record, Message)


def _said(value, lang: str) -> str:
    """A Message (or anything said in words) from the catalogue; any other text as it is."""
    if hasattr(value, "render") and not isinstance(value, (str, type)):
        return value.render(lang)
    return str(value)


class Problems:
    """Several problems said together, one a line: what ValidationError carries as its `message`
    when any problem has a message id (rendered like a Message)."""

    def __init__(self, problems: "list[Problem]"):
        self.problems = problems

    def render(self, lang: str | None = None) -> str:
        return "\n".join(p.render(lang) for p in self.problems)

    def __str__(self) -> str:
        return self.render("en")


class PlaceringError(Exception):
    """Base of every error shown to a user as a message rather than a traceback.

    Raised with a `placering.i18n.Message` (an id and parameters), a person reads it from the
    gettext catalogue in their language (`message`); `str()` is the English text."""

    exit_code = 1
    message = None  # the Message, when raised with one

    def __init__(self, *args):
        from .i18n import English, Message

        if args and isinstance(args[0], English):  # a text without an id (an exception's own words)
            args = (str(args[0]), *args[1:])
        if args and isinstance(args[0], Message):
            self.message = args[0]
            args = (str(args[0]), *args[1:])
        super().__init__(*args)


class ValidationError(PlaceringError):
    """Input was rejected; nothing was written. Carries every problem found, not only the first."""

    exit_code = 2

    def __init__(self, problems: "list[Problem] | Problem | str | Message"):
        from .i18n import English, Message

        if isinstance(problems, English):
            problems = str(problems)
        if isinstance(problems, Message):  # one refusal said from the catalogue (placering.i18n)
            self.problems = [Problem(problems)]
            super(ValidationError, self).__init__(problems)
            return
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = problems
        super().__init__("\n".join(str(p) for p in problems))
        if any(p.has_id for p in problems):  # said from the catalogue (placering.i18n)
            self.message = Problems(problems)


class Refused(ValueError):
    """A value refused, with a catalogue message (`message`; str() is the English text): what
    validators raise where a ValueError is expected (pydantic, the boundary's checks)."""

    def __init__(self, message: "Message"):
        super().__init__(message)
        self.message = message


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


_OS_REASONS = {"ENOENT": "os.no_such_file", "EACCES": "os.permission_denied", "EPERM": "os.permission_denied",
               "EISDIR": "os.is_a_directory", "ENOTDIR": "os.not_a_directory", "ENOSPC": "os.disk_full",
               "EROFS": "os.read_only", "EEXIST": "os.exists", "ELOOP": "os.symlink_loop",
               "ENAMETOOLONG": "os.name_too_long"}


def os_reason(exc: OSError) -> "Message":
    """Why the operating system refused, in words (never Python's English strerror for people)."""
    import errno

    from .i18n import msg

    name = errno.errorcode.get(exc.errno or 0, "")
    return msg(_OS_REASONS[name]) if name in _OS_REASONS else msg("os.other", reason=exc.strerror or str(exc))

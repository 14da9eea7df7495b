"""Messages by id, in Swedish (default) or English, from gettext catalogues (issue 19).

The library raises errors carrying a `Message`: an id (`unit.not_found`) and its parameters.
What a person reads comes from `locale/<lang>/LC_MESSAGES/placering.po` (the source in the
repository; Babel reads it and compiles it to a .mo once, kept in the user's cache directory
until the .po changes), with plurals by the catalogue's Plural-Forms. Swedish unless the
locale asks for English: PLACERING_LANG, else LANGUAGE, else LC_MESSAGES starting with `en`
(LANG is left alone: a machine set up in English still shows Swedish to its Swedish users).

`str(message)` is the English text (for logs, programs and the library's tests); a message id
the catalogues do not know shows the id and its parameters, never nothing. There is no other
catalogue: the English-text one (registry/messages.yaml) is gone; a text without an id (an
exception of another library, a person's note) is shown as it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator

DOMAIN = "placering"
LANGUAGES = ("sv", "en")


_REQUEST_LANGUAGE: ContextVar[str | None] = ContextVar("placering_language", default=None)


def language() -> str:
    """'sv' or 'en': the language people are answered in (an API request's own language, set
    with `answering_in`, before the environment's)."""
    asked = _REQUEST_LANGUAGE.get()
    if asked:
        return asked
    for var in ("PLACERING_LANG", "LANGUAGE", "LC_MESSAGES"):
        value = os.environ.get(var, "")
        if value:
            first = value.split(":")[0].lower()
            return "en" if first.startswith("en") else "sv"
    return "sv"


@contextmanager
def in_one_language() -> Iterator[None]:
    """Within: the people's language as the environment says it now, decided once (a command
    runs in one language; `language()` then reads no environment variable for each of the
    90,000 labels and messages of an audit at 20,000 units)."""
    token = _REQUEST_LANGUAGE.set(language())
    try:
        yield
    finally:
        _REQUEST_LANGUAGE.reset(token)


def answering_in(lang: str | None):
    """Answer in `lang` ('sv' or 'en') in this context (an API request); returns the token to
    reset with `_REQUEST_LANGUAGE.reset`."""
    return _REQUEST_LANGUAGE.set(lang if lang in LANGUAGES else None)


def from_accept_language(header: str | None) -> str:
    """'en' when an HTTP Accept-Language header prefers English over Swedish, else 'sv'
    (Swedish by default: no header, '*', or a language placering does not speak)."""
    best, best_q = "sv", -1.0
    for part in (header or "").split(","):
        tag, _, params = part.strip().partition(";")
        lang = tag.strip().lower().split("-")[0]
        if lang not in LANGUAGES:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q and q > 0:
            best, best_q = lang, q
    return best


def _po_path(lang: str, domain: str = DOMAIN) -> Path:
    return Path(__file__).resolve().parent / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=None)
def translations(lang: str, domain: str = DOMAIN):
    """The language's gettext translations, compiled from the .po (cached as a .mo). The domain
    `cli` (cli/helptext.py) holds click's strings and the help texts, by their English text."""
    import gettext
    import io

    po = _po_path(lang, domain)
    stat = po.stat()
    cache = _cache_dir() / f"{domain}-{lang}-{stat.st_mtime_ns}-{stat.st_size}.mo"
    try:
        return gettext.GNUTranslations(io.BytesIO(cache.read_bytes()))
    except OSError:
        pass
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=domain)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    data = buf.getvalue()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache: compiled again next time
    return gettext.GNUTranslations(io.BytesIO(data))


def _cache_dir() -> Path:
    override = os.environ.get("PLACERING_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("placering"))


def catalogue_ids(lang: str) -> set[str]:
    from babel.messages.pofile import read_po

    with _po_path(lang).open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


@dataclass(frozen=True)
class Message:
    """A message id, its parameters (values may be Messages themselves) and, for a plural, the
    count `n` (also a parameter)."""

    id: str
    params: dict[str, Any] = field(default_factory=dict)
    n: int | None = None

    def render(self, lang: str | None = None) -> str:
        lang = lang or language()
        t = translations(lang)
        if self.n is None:
            template = t.gettext(self.id)
        else:
            template = t.ngettext(self.id, self.id + ".plural", self.n)
        if template in (self.id, self.id + ".plural"):  # not in the catalogue: the id, never nothing
            template = self.id + "".join(f" {k}={{{k}}}" for k in self.params)
        values = {k: _value(v, lang, t) for k, v in self.params.items()}
        if self.n is not None:
            values.setdefault("n", self.n)
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            return template

    def __str__(self) -> str:
        return self.render("en")


@dataclass(frozen=True)
class Label:
    """A code inside a message: its label in the message's language (Swedish: locale/sv/LC_MESSAGES/labels.po,
    English: locale/en/LC_MESSAGES/labels.po), lower-case inside a sentence unless `capital`."""

    code: Any
    kind: str | None = None
    capital: bool = False

    def render(self, lang: str | None = None) -> str:
        from .labels import label

        said = label(self.code, self.kind, lang or language())
        if not self.capital and len(said) > 1 and said[1].islower():  # 'Publicerad' → 'publicerad'; 'IVO' stays
            said = said[0].lower() + said[1:]
        return said

    def __str__(self) -> str:
        return self.render("en")


def labels(codes, kind: str | None = None) -> list[Label]:
    return [Label(c, kind) for c in codes]


def _value(v: Any, lang: str, t) -> Any:
    if isinstance(v, (Message, Label)) or (hasattr(v, "render") and not isinstance(v, type)):
        return v.render(lang)
    if isinstance(v, bool):  # a yes or no in words, never True/False
        return t.gettext("value.yes" if v else "value.no")
    if isinstance(v, (list, tuple)):  # 'A', 'A eller B', 'A, B eller C'
        items = [str(_value(x, lang, t)) for x in v]
        if len(items) < 2:
            return "".join(items)
        return t.gettext("list.or").format(head=", ".join(items[:-1]), last=items[-1])
    return v


def msg(message_id: str, /, n: int | None = None, **params: Any) -> Message:
    return Message(message_id, params, n)


def text(message_id: str, /, n: int | None = None, **params: Any) -> str:
    """The message in the people's language, now."""
    return Message(message_id, params, n).render()


def text_in(lang: str | None, message_id: str, /, n: int | None = None, **params: Any) -> str:
    """The message in the given language (None: the people's)."""
    return Message(message_id, params, n).render(lang)


def said(value: Any, lang: str | None = None) -> str:
    """A Message (or Label) in the people's language; anything else as text."""
    return value.render(lang) if isinstance(value, (Message, Label)) else str(value)


@dataclass(frozen=True)
class Joined:
    """Values (Labels, Messages, numbers) said one after another, 'A, B, C' (not 'A, B eller C')."""

    items: tuple
    sep: str = ", "

    def render(self, lang: str | None = None) -> str:
        lang = lang or language()
        t = translations(lang)
        return self.sep.join(str(_value(x, lang, t)) for x in self.items)

    def __str__(self) -> str:
        return self.render("en")


def label_list(codes, kind: str | None = None, sep: str = ", ", capital: bool = False) -> Joined:
    """Codes in words, one after another: 'administratör, socialsekreterare' ('Administratör,
    Socialsekreterare' with `capital`, as a label stands alone)."""
    return Joined(tuple(Label(c, kind, capital) for c in codes or ()), sep)


@dataclass(frozen=True)
class Number:
    """A number said in the message's language: '1 234,5' in Swedish, '1,234.5' in English."""

    value: Any
    decimals: int | None = None

    def render(self, lang: str | None = None) -> str:
        if not isinstance(self.value, (int, float)):
            return str(self.value)
        from .display import fmt_number

        return fmt_number(self.value, self.decimals, lang or language())

    def __str__(self) -> str:
        return self.render("en")


@dataclass(frozen=True)
class English:
    """A text without a message id (what another library's exception says, e.g. the operating
    system's): shown as it is in every language."""

    text: str

    def render(self, lang: str | None = None) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=None)
def _ids() -> frozenset:
    return frozenset(catalogue_ids("sv"))


def known_id(message_id: str) -> bool:
    """Whether the catalogue has the message id."""
    return message_id in _ids()


def reason(exc: BaseException) -> "Message | English | Any":
    """What an exception says, as a message or message parameter: the Message (or anything said
    in words) it carries, else its text as it is."""
    message = getattr(exc, "message", None)
    if message is not None and hasattr(message, "render"):
        return message
    first = exc.args[0] if exc.args else None
    if first is not None and hasattr(first, "render") and not isinstance(first, str):
        return first
    return English(str(exc))

"""The library's messages as a person reads them. Every message has an id (placering.i18n.Message)
and its words come from the gettext catalogues (locale/<lang>/LC_MESSAGES/placering.po): Swedish
by default, English when the locale asks for it; --json keeps codes. Every error the CLI prints
(`Fel: …`) and every note it writes to stderr passes through `said` (or `swedish`).

The English-text catalogue that once translated messages by regular expressions
(registry/messages.yaml, issue 11) is gone (issue 19): a text without an id is shown as it is
(a person's own note, a file name, a value), never rewritten by matching its English.
"""

from __future__ import annotations


def said(thing, lang: str | None = None) -> str:
    """What a person reads, in `lang` (default: the people's language): a Message, a value in
    words or an error from the gettext catalogue (a PlaceringError by its message, a Problem
    where and what); any other text as it is."""
    from ..errors import PlaceringError, Problem
    from ..i18n import language

    lang = lang or language()
    if isinstance(thing, Problem):
        return thing.render(lang)
    if isinstance(thing, PlaceringError):
        if thing.message is not None:
            return thing.message.render(lang)
        return str(thing)
    if not isinstance(thing, (str, BaseException)) and hasattr(thing, "render"):
        return thing.render(lang)
    return str(thing)


def swedish(message) -> str:
    """The message in Swedish: a Message (or anything said in words) from the gettext catalogue,
    a text as it is."""
    return said(message, "sv")

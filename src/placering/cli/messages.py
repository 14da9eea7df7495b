"""The library's messages as a person reads them: English (for programs, logs and tests of the
library) in, Swedish out, by the catalogue `registry/messages.yaml`. Every error the CLI prints
(`Fel: …`) and every note it writes to stderr passes through `swedish`; --json keeps codes.

A message the catalogue does not know is shown as it is: a person still reads what went wrong,
and tests/test_messages.py lists the messages people meet most, so a reworded one is noticed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..labels import label
from ..paths import registry_dir

_FIELD = re.compile(r"\{(\w+)(?:\|(\w+))?\}")


@lru_cache(maxsize=1)
def _catalogue() -> tuple[list[tuple[re.Pattern, str]], list[tuple[str, str]], dict[str, str]]:
    from ..yamlio import load_yaml, plain  # read only when a message is shown

    doc = plain(load_yaml(registry_dir() / "messages.yaml"))
    messages = [(re.compile(m["en"]), m["sv"]) for m in doc.get("messages") or []]
    phrases = list((doc.get("phrases") or {}).items())
    nouns = dict(doc.get("nouns") or {})
    nouns["\0neuter"] = "\0".join(doc.get("neuter") or [])
    return messages, phrases, nouns


def _in_sentence(text: str) -> str:
    """'Publicerad' → 'publicerad' inside a sentence; 'IVO' and 'HVB barn och unga' keep theirs."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _value(text: str, kind: str | None, nouns: dict[str, str]) -> str:
    if kind is None:
        return text
    if kind == "unknown":
        word = nouns.get(text, text)
        neuter = word in nouns.get("\0neuter", "").split("\0")
        return ("okänt " if neuter else "okänd ") + word
    if kind in ("noun", "noun_"):
        word = nouns.get(text, text)
        return word + " " if kind == "noun_" and word else word
    if kind == "free":
        return "inga" if text == "no" else text
    parts = [p.strip() for p in text.split(",")]
    return ", ".join(_in_sentence(label(p, kind)) for p in parts)


def said(thing, lang: str | None = None) -> str:
    """What a person reads, in `lang` (default: the people's language): a Message, a value in
    words or an error from the gettext catalogue (a PlaceringError by its message, a Problem
    where and what); an English text through this module's catalogue in Swedish, as it is in
    English."""
    from ..errors import PlaceringError, Problem
    from ..i18n import language

    lang = lang or language()
    if isinstance(thing, Problem):
        return thing.render(lang)
    if isinstance(thing, PlaceringError):
        if thing.message is not None:
            return thing.message.render(lang)
        thing = str(thing)
    elif not isinstance(thing, (str, BaseException)) and hasattr(thing, "render"):
        return thing.render(lang)
    text = str(thing)
    return swedish(text) if lang == "sv" else text


def swedish(message: str) -> str:
    """The message in Swedish, as far as the catalogue knows it (the message as it is if the
    catalogue cannot be read: an error is never hidden behind another). A message with an id
    (placering.i18n.Message) is said from the gettext catalogue."""
    if not isinstance(message, str):
        return said(message, "sv")
    text = str(message)
    try:
        messages, phrases, nouns = _catalogue()
    except Exception:  # noqa: BLE001 - a broken catalogue must not turn a refusal into a traceback
        return text
    for pattern, template in messages:
        if pattern.search(text):
            text = pattern.sub(lambda m: _FIELD.sub(
                lambda f: _value(m.group(f.group(1)) or "", f.group(2), nouns), template).replace("\\n", "\n"), text)
    for en, sv in phrases:
        text = text.replace(en, sv)
    return text

"""Labels for codes, from the gettext catalogues `locale/{sv,en}/LC_MESSAGES/labels.po` (keyed
by kind, msgctxt, and code, msgid) and the taxonomy's insatser, sub-categories and target
groups: one lookup for everything a person is shown.

The Swedish catalogue is read once into the per-user cache (diskcache: a warm start reads no
.po); the English one (PLACERING_LANG=en, an API request's Accept-Language: en) only when
English is asked for.

`label(code, kind)` names the kind when a code means different things (`active` is an
agreement's "Aktivt" but a permit's "Gällande"); without a kind the first section that has the
code answers. Unknown codes come back unchanged: showing a code is better than hiding it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .i18n import language
from .paths import registry_dir


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    from .diskcache import cached

    from .i18n import _po_path

    d = registry_dir()
    return cached("labels", [_po_path("sv", "labels"), d / "message_fields.yaml", d / "taxonomy.yaml",
                             d / "municipalities.yaml"], _build)


def _build() -> dict[str, dict[str, str]]:
    from babel.messages.pofile import read_po  # parsed only when the per-user cache is cold

    from .i18n import _po_path
    from .yamlio import load_yaml, plain

    cat: dict[str, dict[str, str]] = {}
    with _po_path("sv", "labels").open("rb") as fh:
        for message in read_po(fh, locale="sv", domain="labels"):
            if message.id and message.context:
                cat.setdefault(message.context, {})[str(message.id)] = str(message.string)
    fields = plain(load_yaml(registry_dir() / "message_fields.yaml"))["message_fields"]
    cat["message_fields"] = {str(k): str(v) for k, v in fields.items()}
    from .taxonomy import load_taxonomy

    tax = load_taxonomy()
    cat["insats"] = {code: i.label for code, i in tax.insatser.items()}
    cat["subcategory"] = {sub: text for i in tax.insatser.values() for sub, text in i.subcategories.items()}
    cat["target_group"] = dict(tax.target_groups)
    cat["area"] = dict(tax.areas)
    # Municipalities by their comparison key (`göteborg`, as agreements' buyers are kept): the name.
    cat["municipality"] = {key: m.name for key, m in tax.municipalities.items()}
    return cat


_NOT_CODES = ("headers", "message_fields", "history_field", "register_column", "fact_field")

# Codes of a known kind that were shown without a label: (kind, code). A person should never
# read a bare code; tests/test_output.py fails when one reaches a table or a sentence.
_unlabelled: set[tuple[str, str]] = set()


def unlabelled() -> set[tuple[str, str]]:
    """The (kind, code) pairs asked for since the last `forget_unlabelled()` that had no label."""
    return set(_unlabelled)


def forget_unlabelled() -> None:
    _unlabelled.clear()


def label(code: Any, kind: str | None = None, lang: str | None = None) -> str:
    """The label of a code (of this kind, if given) in `lang` (default: the people's language,
    placering.i18n.language); the code itself when unknown."""
    if code is None:
        return ""
    text = str(code)
    cat = catalogue()
    if kind is not None:
        section = cat.get(kind)
        if section is None or text not in section:
            _unlabelled.add((kind, text))
            return text
        said = section[text]
    else:
        for kind, labels in cat.items():
            if kind not in _NOT_CODES and text in labels:
                said = labels[text]
                break
        else:
            return text
    if (lang or language()) == "en":
        return english(kind, text, said)
    return said


def english(kind: str, code: str, swedish: str | None = None) -> str:
    """The English label of a code of a kind (locale/en/LC_MESSAGES/labels.po); the Swedish
    label when the catalogue has none (a municipality's name is its name in every language)."""
    return _english_labels().get((kind, code), swedish if swedish is not None else code)


@lru_cache(maxsize=1)
def _english_labels() -> dict[tuple[str, str], str]:
    from .i18n import translations

    found: dict[tuple[str, str], str] = {}
    for key, value in translations("en", "labels")._catalog.items():
        if isinstance(key, str) and "\x04" in key:
            kind, _, code = key.partition("\x04")
            found[(kind, code)] = value
    return found


def has_english_label(code: str, kind: str) -> bool:
    return (kind, code) in _english_labels()


def labels(codes, kind: str | None = None) -> list[str]:
    return [label(c, kind) for c in codes or []]


def header(text: str) -> str:
    """A column header in Swedish (headers already in Swedish pass through)."""
    return catalogue()["headers"].get(text, text)


def message_field_kind(path: str) -> str | None:
    """Which kind of code a rule message's {field} holds (None: not a code)."""
    return catalogue()["message_fields"].get(path)


def has_label(code: str, kind: str) -> bool:
    return code in catalogue().get(kind, {})


def _match_key(text: str) -> str:
    from .text import plain_letters

    return " ".join(plain_letters(str(text)).replace("_", " ").replace("-", " ").split())


@lru_cache(maxsize=None)
def _reverse(kind: str) -> dict[str, str]:
    """A kind's codes by their match key and by their labels' match keys (codes first: a code
    is never shadowed by another code's label)."""
    section = catalogue().get(kind, {})
    out: dict[str, str] = {}
    for code, text in section.items():
        out.setdefault(_match_key(text), code)
    for code in section:
        out[_match_key(code)] = code
    return out


@lru_cache(maxsize=None)
def _reverse_english(kind: str) -> dict[str, str]:
    return {_match_key(text): code for (k, code), text in _english_labels().items() if k == kind}


def code_for(text: Any, kind: str, known: Any = None) -> str | None:
    """The code a person means by `text`, given as the code or as its Swedish (or English) label, in any
    case and with or without å, ä, ö (`underkänd`, `Underkand`, `fail` → `fail`); None when
    nothing of this kind is meant. `known` (codes) limits the answer to those codes; a code
    outside the catalogue is still accepted when it is among them."""
    if text is None:
        return None
    key = _match_key(text)
    code = _reverse(kind).get(key)
    if code is None:  # an English label, as English output shows it (read only then)
        code = _reverse_english(kind).get(key)
    if known is not None:
        known = [str(k) for k in known]
        if code not in known:
            code = next((k for k in known if _match_key(k) == key), None)
    return code


# Which label kind a fact's value is when message_fields does not say (the parameters' lists).
_FACT_KIND = {"param.permit_required_insatser": "insats", "request.avoid_municipality_keys": "municipality",
              "unit.municipality_key": "municipality", "supplier.legal_form": "legal_form"}


def fact_value(path: str, value: Any, lang: str | None = None) -> str:
    """A rule's fact as a person reads it: labels for codes, ja/nej, Swedish numbers and dates,
    `saknas` for nothing (never Python's True, None or ['a', 'b']); in English yes/no, English
    numbers and labels, `missing`."""
    from .display import fmt_number

    lang = lang or language()
    english = lang == "en"
    kind = message_field_kind(path) or _FACT_KIND.get(path)
    if value is None:
        return "missing" if english else "saknas"
    if isinstance(value, bool):
        return ("yes" if value else "no") if english else ("ja" if value else "nej")
    if isinstance(value, (int, float)):
        return fmt_number(value, lang=lang)
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(fact_value(path, v, lang) for v in value) or ("none" if english else "inga")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {fact_value(path, v, lang)}" for k, v in value.items())
    return label(value, kind, lang) if kind else str(value)


def fact_text(values: dict[str, Any] | None, lang: str | None = None) -> str:
    """`behov: Missbruk, Psykisk ohälsa; IVO-tillstånd finns: nej` for a rule's values."""
    if not values:
        return ""
    lang = lang or language()
    names = catalogue().get("fact_field", {})
    return "; ".join(f"{label(k, 'fact_field', lang) if k in names else k}: {fact_value(k, v, lang)}"
                     for k, v in values.items())

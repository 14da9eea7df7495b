"""Citations as people read them: a rule's or parameter's source names the document by its
title and section (registry/sources.yaml), never a file of this project (`sources/000`,
`DOMAIN.md`). One place maps the references the rule files use to the documents' titles."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .paths import registry_dir

_REF = re.compile(r"(?:\.\./)?sources/(\d{3})(?:_[0-9a-f]+\.txt)?|\b(DOMAIN|CONTRACT)\.md\b")
_PATH = re.compile(r"\s*\((?:/work|/srv|\.\.?)/[^)]*\)")


@lru_cache(maxsize=1)
def _registry() -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(documents by reference, section headings English -> Swedish) of registry/sources.yaml,
    kept in the per-user cache (diskcache.py) under the file's bytes and the code: a command
    that cites a source (`rules show`, `--explain`) parses no YAML while the file is unchanged."""
    path = registry_dir() / "sources.yaml"
    if not path.exists():
        return {}, []

    def build() -> tuple[dict[str, str], list[tuple[str, str]]]:
        from .yamlio import load_yaml, plain

        doc = plain(load_yaml(path))
        return ({str(k): str(v) for k, v in (doc.get("documents") or {}).items()},
                [(str(k), str(v)) for k, v in (doc.get("sections") or {}).items()])

    from .diskcache import cached

    return cached("sources", [path], build, extra=str(path))


def documents() -> dict[str, str]:
    return _registry()[0]


def _title(match: re.Match) -> str:
    key = f"sources/{match.group(1)}" if match.group(1) else f"{match.group(2)}.md"
    return documents().get(key, match.group(0))


def cite_text(text: str | None) -> str:
    """A citation with every project file replaced by the document's title: a parenthesis
    that only repeats the file of a document already named is dropped, and a document named
    twice is named once."""
    if not text:
        return ""
    text = _PATH.sub("", str(text))
    parts = []
    for seg in (s.strip() for s in text.split(";")):
        if not seg:
            continue

        def paren(m: re.Match) -> str:
            inner = m.group(1)
            head = seg[:m.start()].strip()
            refs = list(_REF.finditer(inner))
            if not refs:
                return m.group(0)
            rest = _REF.sub("", inner).strip(" ,")
            if head and not _REF.search(head):  # "Nordost årsrapport 2022 (sources/000)": named already
                return f" ({rest})" if rest else ""
            titles = "; ".join(_title(r) for r in refs)
            return f" ({titles}{', ' + rest if rest else ''})"

        seg = re.sub(r"\s*\(([^()]*)\)", paren, seg)
        seg = _REF.sub(_title, seg).strip()
        if seg and seg not in parts:
            parts.append(seg)
    return "; ".join(parts)


def _sections() -> list[tuple[str, str]]:
    return _registry()[1]


_DECISION_CODE = re.compile(r"(Matchningsbeslut): ([A-Z_]+)\b")


def section_text(text: str | None) -> str:
    """A section heading of the project's summaries in Swedish (registry/sources.yaml); the
    documents' own Swedish headings pass unchanged."""
    if not text:
        return ""
    from .labels import label

    out = str(text)
    for en, sv in _sections():
        out = out.replace(en, sv)
    return _DECISION_CODE.sub(lambda m: f"{m.group(1)}: {label(m.group(2), 'exclusion')}", out)


def cite(source: Any) -> str:
    """A source (a rule's Source, its dict form, or text) as a person reads it: document and
    section, law, note."""
    if not source:
        return ""
    if isinstance(source, str):
        return section_text(cite_text(source))
    get = source.get if isinstance(source, dict) else (lambda k: getattr(source, k, None))
    parts = []
    if get("document"):
        parts.append(cite_text(get("document")) + (f", {section_text(get('section'))}" if get("section") else ""))
    if get("law"):
        parts.append(str(get("law")))
    text = "; ".join(parts)
    return f"{text} ({cite_text(get('note'))})" if get("note") else text

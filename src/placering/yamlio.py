"""Strict YAML reading shared by the taxonomy, rule files and rule tests.

ruamel's round-trip loader keeps line numbers (so every error can name file and line) and
rejects duplicate keys, which PyYAML would silently resolve to the last value. On top of it:
- anchors and aliases are refused: a few hundred bytes of nested aliases expand to billions of
  nodes when the document is hashed or copied ("billion laughs"), and no file here needs them;
- nesting is bounded (MAX_DEPTH), so a deep document is an error, not a RecursionError;
- a date that is not a calendar date (2020-13-01, 2020-02-30) is an error naming the line,
  not a ValueError from deep inside the YAML library;
- files larger than MAX_BYTES are refused before they are parsed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

# ruamel is imported when a file is parsed (`_strict_classes`), not with this module: a command
# whose rules, taxonomy and labels come from the per-user cache (diskcache.py) parses no YAML.
from .boundary import MAX_DEPTH  # one nesting limit for every input (JSON and YAML)
from .errors import Problem, ValidationError, os_reason
from .i18n import msg

MAX_BYTES = 2 * 1024 * 1024  # the largest YAML file the project ships is ~16 kB


def _said(exc: Exception, message) -> Exception:
    """A YAML error of our own with its catalogue message (load_yaml says it to people)."""
    exc.said = message
    return exc


_DATE_REASONS = {"month must be in 1..12": msg("date.month_range"), "day is out of range for month": msg("date.day_range")}


@lru_cache(maxsize=1)
def _strict_classes() -> tuple[type, type]:
    """The composer and constructor of `load_yaml` (built once, on the first file parsed)."""
    from ruamel.yaml.composer import Composer, ComposerError
    from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
    from ruamel.yaml.events import AliasEvent

    class _StrictComposer(Composer):
        """Refuses anchors and aliases, and nesting deeper than MAX_DEPTH."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
                raise _said(ComposerError(None, None, "YAML anchors (&name) and aliases (*name) are not allowed: "
                                          "write the value out", event.start_mark), msg("yaml.anchor"))
            self._strict_depth = getattr(self, "_strict_depth", 0) + 1
            try:
                if self._strict_depth > MAX_DEPTH:
                    raise _said(ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark),
                                msg("json.too_deep", depth=MAX_DEPTH))
                return super().compose_node(parent, index)
            finally:
                self._strict_depth -= 1

    class _StrictConstructor(RoundTripConstructor):
        def construct_yaml_timestamp(self, node: Any, values: Any = None) -> Any:
            try:
                return super().construct_yaml_timestamp(node, values)
            except ValueError as exc:
                raise _said(ConstructorError(None, None, f"invalid date {node.value}: {exc}", node.start_mark),
                            msg("yaml.invalid_date", value=node.value,
                                reason=_DATE_REASONS.get(str(exc), str(exc)))) from None

    _StrictConstructor.add_constructor("tag:yaml.org,2002:timestamp", _StrictConstructor.construct_yaml_timestamp)
    return _StrictComposer, _StrictConstructor


def load_yaml(path: Path) -> Any:
    """Load one YAML file; duplicate keys and syntax errors are ValidationErrors naming the line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.Composer, yaml.Constructor = _strict_classes()
    yaml.allow_duplicate_keys = False
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValidationError(Problem(msg("file.too_large", mib=MAX_BYTES // (1024 * 1024)),
                                          file=str(path)))
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(Problem(msg("file.not_utf8", byte=f"0x{exc.object[exc.start]:02X}", offset=exc.start), file=str(path))) from None
    except OSError as exc:
        raise ValidationError(Problem(msg("file.cannot_read", reason=os_reason(exc)), file=str(path))) from None
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        said = getattr(exc, "said", None)
        if said is None:
            detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
            if ("duplicate key" in detail or "found duplicate key" in str(exc)) and '"' in (exc.problem or ""):
                said = msg("yaml.duplicate_key", key=exc.problem.split('"')[1])
            else:
                said = msg("yaml.syntax", detail=detail)
        raise ValidationError(Problem(said, file=str(path), line=line)) from None
    except YAMLError as exc:
        raise ValidationError(Problem(msg("yaml.syntax", detail=str(exc)), file=str(path))) from None
    except ValueError:  # a number of more digits than Python converts (4300): no number a rule needs
        import re

        m = re.search(r"\d{4300,}", text)
        raise ValidationError(Problem(msg("yaml.number_too_long"), file=str(path),
                                      line=text.count("\n", 0, m.start()) + 1 if m else None)) from None
    problems = non_finite(doc, str(path))
    if problems:
        raise ValidationError(problems)
    return doc


def non_finite(doc: Any, file: str) -> list[Problem]:
    """Every .nan, .inf and -.inf in a document, with its line (issue 21): no rule, parameter or
    test decides anything on a number that is not one."""
    import math

    problems: list[Problem] = []
    stack = [(doc, None, None)]
    while stack:
        node, parent, key = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            field = str(key) if isinstance(key, str) else None
            problems.append(Problem(msg("value.not_finite", value=str(node)), file=file,
                                    line=line_of(parent, key) if parent is not None else None, field=field))
        elif isinstance(node, dict):
            stack.extend((v, node, k) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, node, i) for i, v in enumerate(node))
    return sorted(problems, key=lambda p: p.line or 0)


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping key (or of the node itself) in the file it was loaded from."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq  # loaded already when there are nodes

    try:
        if key is not None and isinstance(node, CommentedMap):
            return node.lc.key(key)[0] + 1
        if key is not None and isinstance(node, CommentedSeq):
            return node.lc.item(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def plain(node: Any) -> Any:
    """Convert ruamel containers to plain dicts and lists (for hashing, JSON, the engine)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [plain(v) for v in node]
    return node

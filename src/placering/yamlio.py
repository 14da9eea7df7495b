"""Strict YAML reading shared by the taxonomy, rule files and rule tests.

ruamel's round-trip loader keeps line numbers (so every error can name file and line) and
rejects duplicate keys, which PyYAML would silently resolve to the last value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import Problem, ValidationError


def load_yaml(path: Path) -> Any:
    """Load one YAML file; duplicate keys and syntax errors are ValidationErrors naming the line."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(Problem(f"not UTF-8 text ({exc.reason})", file=str(path))) from None
    except OSError as exc:
        raise ValidationError(Problem(f"cannot read: {exc.strerror}", file=str(path))) from None
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "duplicate key" in msg or "found duplicate key" in str(exc):
            msg = "duplicate key: " + (exc.problem or msg).split('"')[1] if '"' in (exc.problem or "") else msg
        raise ValidationError(Problem(msg, file=str(path), line=line)) from None
    except YAMLError as exc:
        raise ValidationError(Problem(str(exc), file=str(path))) from None


def line_of(node: Any, key: Any = None) -> int | None:
    """1-based line of a mapping key (or of the node itself) in the file it was loaded from."""
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

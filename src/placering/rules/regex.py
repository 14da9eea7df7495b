"""Regular expressions of rule conditions (`matches: [path, "pattern"]`), run in linear time.

Python's `re` backtracks: `(a|a)*b` against a long text of a's takes exponential time, so a
rule file could hang every evaluation. The Python evaluators (reference and columnar) run
patterns with RE2 (google-re2), whose automaton guarantees time linear in the text; the
loader accepts only a subset that RE2, Python's `re` and durable-rules read the same way
(`loader.check_pattern`), so all three evaluators agree on every match.
"""

from __future__ import annotations

from functools import lru_cache

import re2

# Memory for one compiled pattern's automaton: rule patterns are short; a pattern needing more
# is refused by the loader rather than silently falling back to a slower matcher.
_MAX_MEM = 8 << 20


def _options() -> "re2.Options":
    options = re2.Options()
    options.log_errors = False  # errors are reported through the loader, not on stderr
    options.max_mem = _MAX_MEM
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """The compiled RE2 pattern (use `.fullmatch(text)`); raises re2.error when invalid."""
    return re2.compile(pattern, _options())


def pattern_error(pattern: str) -> str | None:
    """None when RE2 compiles the pattern, else what is wrong."""
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        from ..i18n import msg

        return msg("rules.invalid_pattern", detail=detail)
    return None


def full_match(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).fullmatch(text) is not None

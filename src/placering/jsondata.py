"""Data as JSON carries it: dates and times as ISO text, tuples and sets as lists.

The library's documents (what `--json` prints and the API returns) pass through `to_jsonable`,
so a command formats the same data whether the library ran in its own process or on the server.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


_PLAIN = frozenset({str, int, float, bool, type(None)})


class JsonList(list):
    """A list whose items were made as JSON data (ISO dates, lists, text keys): `to_jsonable`
    keeps it as it is instead of walking it again (an import's summary holds one entry per
    history row: 86,649 at 20,000 units)."""

    __slots__ = ()


def to_jsonable(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:  # most values (an import's summary holds millions)
        return value
    if kind is dict:  # the next most (no isinstance chain for them)
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN else to_jsonable(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _PLAIN else to_jsonable(v) for v in value]
    if kind is JsonList:
        return value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k if type(k) is str else str(k): v if type(v) in _PLAIN else to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v if type(v) in _PLAIN else to_jsonable(v) for v in value]
    return value

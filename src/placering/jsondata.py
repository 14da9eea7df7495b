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


# --- JSON text as json.dumps(data, ensure_ascii=False, indent=2) writes it, quicker -----------
# json.dumps with an indent runs the pure-Python encoder (a generator per container: 0.45 s of
# `register history --json`'s 16,000 entries). Here a container whose items are all plain values
# (most of a document: an entry's fields, a [before, after] pair) is written by the C encoder
# with the separators of its depth, and only the others by Python: the same bytes.

_ENCODERS: dict[int, Any] = {}


def _encoder(depth: int) -> Any:
    """The C encoder (json.dumps' own, without an indent) writing a container at `depth`:
    its items each on a line of their own."""
    found = _ENCODERS.get(depth)
    if found is None:
        from json.encoder import c_make_encoder, encode_basestring

        if c_make_encoder is None:  # a Python without the C accelerator: its own encoder
            import json

            encode = json.JSONEncoder(ensure_ascii=False, separators=(",\n" + "  " * depth, ": ")).encode
        else:
            made = c_make_encoder(None, None, encode_basestring, None, ": ", ",\n" + "  " * depth, False, False, True)

            def encode(value: Any, made: Any = made) -> str:
                return "".join(made(value, 0))
        found = _ENCODERS[depth] = encode
    return found


def _scalars(values: Any) -> bool:
    for v in values:
        if type(v) not in _PLAIN:
            return False
    return True


class _Other(Exception):
    """A value `dumps` does not write itself (a tuple, a date, a key that is not text)."""


def _leaf(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float:
        return _encoder(0)(value)  # NaN, Infinity as json.dumps writes them
    raise _Other


def _indented(value: Any, depth: int, out: list) -> None:
    kind = type(value)
    if kind is dict or kind is JsonList or kind is list:
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        inner = ",\n" + "  " * (depth + 1)
        if kind is dict:
            if not _scalars(value.values()):
                out.append("{")
                sep = inner[1:]
                run: dict = {}
                for k, v in value.items():
                    if type(k) is not str:
                        raise _Other
                    if type(v) in _PLAIN:
                        run[k] = v
                        continue
                    if run:  # the plain values before it, written by the C encoder
                        out.append(sep + _encoder(depth + 1)(run)[1:-1])
                        sep = inner
                        run = {}
                    out.append(sep + _string(k) + ": ")
                    _indented(v, depth + 1, out)
                    sep = inner
                if run:
                    out.append(sep + _encoder(depth + 1)(run)[1:-1])
                out.append("\n" + "  " * depth + "}")
                return
        elif not _scalars(value):
            out.append("[")
            sep = inner[1:]
            for v in value:
                if type(v) in _PLAIN:
                    out.append(sep + _leaf(v))
                else:
                    out.append(sep)
                    _indented(v, depth + 1, out)
                sep = inner
            out.append("\n" + "  " * depth + "]")
            return
        text = _encoder(depth + 1)(value)  # '{"a": 1,\n    "b": 2}': the brackets' lines added
        out.append(text[0] + inner[1:] + text[1:-1] + "\n" + "  " * depth + text[-1])
        return
    out.append(_leaf(value))


def dumps(data: Any) -> str:
    """json.dumps(data, ensure_ascii=False, indent=2) of JSON data (what `to_jsonable` gives:
    text keys, plain values, dicts and lists), the same text; anything else goes to json.dumps."""
    import json

    out: list[str] = []
    try:
        _indented(data, 0, out)
    except _Other:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return "".join(out)


def _string(value: str) -> str:
    from json.encoder import encode_basestring

    global _string
    _string = encode_basestring  # the C function json.dumps(ensure_ascii=False) uses
    return encode_basestring(value)

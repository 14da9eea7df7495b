"""pydantic's refusals as a person reads them (issue 19): each error said by its `type` from the
gettext catalogue (`pydantic.<type>` in locale/<lang>/LC_MESSAGES/placering.po), never pydantic's
English ("Input should be a valid number, unable to parse string as a number").

One function for every place a pydantic ValidationError reaches a person: request, entry and
register files through the CLI (matching/request.py, register/schema.py), the API's 422 bodies
and the web forms (server/app.py), the server's settings (server/settings.py).
"""

from __future__ import annotations

import re
from typing import Any

from .i18n import Message, msg

# Every type pydantic-core can raise for the models of this project has a message; a type not
# listed here (a future pydantic) is said as `pydantic.other` ("is not valid"), never in English.
TYPES = frozenset({
    "missing", "extra_forbidden", "string_type", "string_too_short", "string_too_long",
    "string_pattern_mismatch", "string_unicode", "int_type", "int_parsing", "int_parsing_size",
    "int_from_float", "float_type", "float_parsing", "finite_number", "bool_type", "bool_parsing",
    "date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact", "date_past",
    "date_future", "datetime_type", "datetime_parsing", "datetime_from_date_parsing", "time_type",
    "time_parsing", "decimal_type", "decimal_parsing", "decimal_max_digits", "decimal_max_places",
    "decimal_whole_digits", "greater_than", "greater_than_equal", "less_than", "less_than_equal",
    "multiple_of", "literal_error", "enum", "too_short", "too_long", "list_type", "tuple_type",
    "set_type", "frozen_set_type", "dict_type", "model_type", "model_attributes_type",
    "dataclass_type", "json_invalid", "json_type", "none_required", "url_type", "url_parsing",
    "url_scheme", "uuid_type", "uuid_parsing", "bytes_type", "is_instance_of", "union_tag_invalid",
    "union_tag_not_found", "value_error", "assertion_error", "iterable_type", "mapping_type",
    "callable_type", "frozen_field", "frozen_instance", "missing_keyword_only_argument",
    "unexpected_keyword_argument", "no_such_attribute", "string_not_ascii", "other",
})

# the types of our own PydanticCustomErrors (server/api/models.py)
CUSTOM = frozenset({"control_character"})

# the parameters a message may show (ctx of the error), under the names the catalogue uses
_PARAMS = ("gt", "ge", "lt", "le", "min_length", "max_length", "multiple_of", "max_digits",
           "decimal_places", "whole_digits", "pattern", "expected", "actual_length")


def _expected(text: str) -> list[str]:
    """pydantic's "'a', 'b' or 'c'" as the list ['a', 'b', 'c'] (said 'a', 'b' eller 'c')."""
    head, sep, last = text.rpartition(" or ")
    items = [p.strip() for p in head.split(",")] if sep else []
    return [p for p in items if p] + [last.strip()] if sep else [text]


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value


def message_of(err: dict[str, Any], overrides: dict[str, Message] | None = None) -> Message | str:
    """One pydantic error (an item of `exc.errors()`) as a Message by its type; `overrides` says
    some types the caller's way (an unknown field of a request: no names or identity numbers).

    A validator of ours that raised with a Message (a PlaceringError) or an English text (a
    ValueError's own text) keeps its own words."""
    kind = err.get("type") or "other"
    if overrides and kind in overrides:
        return overrides[kind]
    ctx = err.get("ctx") or {}
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        if error is not None:  # its Message, or its own text
            from .i18n import reason

            return reason(error)
        return re.sub(r"^(Value|Assertion) error, ", "", str(err.get("msg", "")))
    if kind not in TYPES:
        if kind in CUSTOM:  # our own PydanticCustomError: its Message (ctx 'said'), else its text
            said = ctx.get("said")
            return said if hasattr(said, "render") else str(err.get("msg", ""))
        kind = "other"
    params: dict[str, Any] = {}
    for name in _PARAMS:
        if name in ctx:
            value = ctx[name]
            params[name] = _expected(value) if name == "expected" and isinstance(value, str) else _number(value)
    if kind in ("too_short", "too_long", "string_too_short", "string_too_long"):
        n = ctx.get("min_length") if kind.endswith("short") else ctx.get("max_length")
        return msg(f"pydantic.{kind}", n=n if isinstance(n, int) else 1, **params)
    return msg(f"pydantic.{kind}", **params)


def problems_of(exc: Any, *, file: str | None = None, line: int | None = None, record: str | None = None,
                base: str | None = None, overrides: dict[str, Message] | None = None,
                field_prefix: str = "", upper: bool = False) -> list:
    """Every error of a pydantic ValidationError as a Problem (errors.Problem), located as the
    caller's files are: `record` for the whole document, or `base` + the path inside it (a
    register document: units[3].routes[0], field 'daily_price'); else the field is the path."""
    from .errors import Problem

    problems = []
    for err in exc.errors():
        loc = list(err.get("loc") or ())
        rec = record
        if base is not None:
            field = None
            if loc and isinstance(loc[-1], str):
                field = loc.pop()
            elif len(loc) >= 2 and isinstance(loc[-1], int) and isinstance(loc[-2], str):
                idx = loc.pop()
                field = f"{loc.pop()}[{idx}]"
            rec = base + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        else:
            field = field_path(loc) or None
        if field and field_prefix:
            field = field_prefix + field
        if field and upper:
            field = field.upper()
        problems.append(Problem(message_of(err, overrides), file=file, line=line, record=rec, field=field))
    return problems


def field_path(loc: tuple | list, skip: tuple[str, ...] = ("body", "query", "path", "header")) -> str:
    """('offers', 2, 'insats') → 'offers[2].insats'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in skip:
            out += ("." if out else "") + str(part)
    return out


# json's reasons (json.decoder), by their English text, which the module has kept since Python 3.5
_JSON_REASONS = {"Expecting value": "value", "Expecting property name enclosed in double quotes": "name",
                 "Expecting ',' delimiter": "comma", "Expecting ':' delimiter": "colon",
                 "Unterminated string starting at": "unterminated", "Invalid control character at": "control",
                 "Extra data": "extra", "Invalid \\escape": "escape",
                 "Illegal trailing comma before end of object": "trailing_comma",
                 "Illegal trailing comma before end of array": "trailing_comma"}


def json_problem(exc) -> Message:
    """'not valid JSON: <why> (column N)' for a json.JSONDecodeError, the why in the people's words."""
    reason = "escape" if exc.msg.startswith("Invalid \\u") else _JSON_REASONS.get(exc.msg)
    return msg("json.invalid", reason=msg(f"json.{reason}") if reason else exc.msg, column=exc.colno)

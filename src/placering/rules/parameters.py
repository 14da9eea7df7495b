"""Dated parameters (`rules/parameters/*.yaml`): named values with their source.

    parameters:
      credit_rating_notification_level:
        description: "…"
        unit: rating
        values:
          - valid_from: 2020-01-01
            valid_to: null
            value: 40
            source: {document: "…", section: "…"}

A rule refers to a parameter with `{param: NAME}`; the value valid on the evaluation date is
used. Validity periods of one parameter may not overlap; every value names its source.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..yamlio import line_of
from .model import BOOL, DATE, INT, LIST, NUMBER, STR, Parameter, ParameterValue, Source
from ..i18n import Message, msg

PARAMETER_KEYS = ("description", "unit", "values")
VALUE_KEYS = ("valid_from", "valid_to", "value", "source")
SOURCE_KEYS = ("document", "section", "law", "note")
TABLE = "table"


def parse_date(value: Any) -> date | None:
    """A YAML date (unquoted 2024-04-01) or an ISO string; None when it is neither."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def parse_source(node: Any, problems: list[Problem], file: str, line: int | None, record: str | None,
                 field: str = "source") -> Source | None:
    if node is None:
        problems.append(Problem(msg("rules.source.missing"), file, line, record, field))
        return None
    if not isinstance(node, dict):
        problems.append(Problem(msg("rules.source.not_mapping"), file, line, record, field))
        return None
    ok = True
    for key in node:
        if key not in SOURCE_KEYS:
            problems.append(Problem(msg("rules.unknown_key_in", key=key, where="source", allowed=", ".join(SOURCE_KEYS)),
                                    file, line_of(node, key) or line, record, field))
            ok = False
    for key in SOURCE_KEYS:
        if key in node and node[key] is not None and not isinstance(node[key], str):
            problems.append(Problem(msg("rules.source.not_text", key=key), file, line_of(node, key) or line, record, field))
            ok = False
    if not (node.get("document") or node.get("law")):
        problems.append(Problem(msg("rules.source.needs_document"), file, line, record, field))
        ok = False
    if not ok:
        return None
    return Source(document=node.get("document"), section=node.get("section"), law=node.get("law"), note=node.get("note"))


def value_type(value: Any) -> str | None:
    """The fact-schema type of a parameter value or literal; None when unsupported."""
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return DATE
    if isinstance(value, str):
        return STR
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return LIST
    if isinstance(value, dict):
        return TABLE
    return None


def _merge_types(types: list[str]) -> str | None:
    kinds = set(types)
    if kinds <= {INT, NUMBER}:
        return NUMBER if NUMBER in kinds else INT
    return kinds.pop() if len(kinds) == 1 else None


def _plain_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_plain_value(v) for v in value)
    return value


# What a value of a parameter with this unit can be (issue 21): a distance band of 0 km or a
# validity of -3 days cannot be true, and a protected address would be located to the metre by
# a band of NaN. (low, high, low is excluded); every number in the value, tables and lists too.
UNIT_RANGES = {
    "km": (0, 20_000, True), "days": (0, 36_500, True), "months": (0, 1_200, True), "years": (0, 150, True),
    "placements": (0, 1_000_000, True), "complaints": (0, 1_000_000, True), "factor": (0, 100, True),
    "level": (0, 100, True), "rating": (0, 100, False), "share": (0, 1, False), "SEK": (0, 1e9, False),
}


def _numbers(value: Any):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)


def impossible_value(unit: Any, value: Any) -> str | None:
    """Why `value` cannot be a value of a parameter in `unit`, or None."""
    import math

    for number in _numbers(value):
        if not math.isfinite(number):
            return msg("value.not_finite", value=number)
        if unit in UNIT_RANGES:
            lo, hi, open_low = UNIT_RANGES[unit]
            if number < lo or (open_low and number == lo) or number > hi:
                return msg("rules.parameter.impossible_above" if open_low else "rules.parameter.impossible_at_least",
                           value=f"{number:g}", unit=unit, lo=f"{lo:g}", hi=f"{hi:g}")
    return None


def load_parameter_file(path: Path, doc: Any, problems: list[Problem]) -> list[Parameter]:
    file = str(path)
    if not isinstance(doc, dict) or set(doc) - {"parameters", "description"} or "parameters" not in doc:
        problems.append(Problem(msg("rules.parameter.file_is_mapping"),
                                file, line_of(doc) if doc is not None else None))
        return []
    out: list[Parameter] = []
    params = doc["parameters"]
    if not isinstance(params, dict):
        problems.append(Problem(msg("rules.parameter.not_a_mapping"), file, line_of(doc, "parameters")))
        return []
    for name, spec in params.items():
        line = line_of(params, name)
        rec = msg("rules.record.parameter", name=name)
        if not isinstance(spec, dict):
            problems.append(Problem(msg("rules.parameter.is_mapping"), file, line, rec))
            continue
        for key in spec:
            if key not in PARAMETER_KEYS:
                problems.append(Problem(msg("rules.unknown_key", key=key, allowed=", ".join(PARAMETER_KEYS)),
                                        file, line_of(spec, key), rec, str(key)))
        if not spec.get("description"):
            problems.append(Problem(msg("rules.missing_key", key="description"), file, line, rec, "description"))
        values_node = spec.get("values")
        if not isinstance(values_node, list) or not values_node:
            problems.append(Problem(msg("rules.parameter.missing_values"), file, line, rec, "values"))
            continue
        values: list[ParameterValue] = []
        types: list[str] = []
        for i, v in enumerate(values_node):
            vline = line_of(values_node, i)
            if not isinstance(v, dict):
                problems.append(Problem(msg("rules.parameter.value_is_mapping"), file, vline, rec))
                continue
            for key in v:
                if key not in VALUE_KEYS:
                    problems.append(Problem(msg("rules.unknown_key", key=key, allowed=", ".join(VALUE_KEYS)),
                                            file, line_of(v, key), rec, str(key)))
            vf = parse_date(v.get("valid_from"))
            if vf is None:
                problems.append(Problem(msg("rules.bad_valid_from"), file, vline, rec, "valid_from"))
            vt = None
            if v.get("valid_to") is not None:
                vt = parse_date(v.get("valid_to"))
                if vt is None:
                    problems.append(Problem(msg("rules.bad_valid_to"), file, line_of(v, "valid_to"), rec, "valid_to"))
            if vf and vt and vt < vf:
                problems.append(Problem(msg("rules.valid_to_before_from", valid_to=str(vt), valid_from=str(vf)), file, vline, rec, "valid_to"))
            if "value" not in v or v["value"] is None:
                problems.append(Problem(msg("rules.missing_key", key="value"), file, vline, rec, "value"))
                continue
            t = value_type(v["value"])
            if t is None:
                problems.append(Problem(msg("rules.parameter.unsupported_value", value=_v(v["value"])),
                                        file, line_of(v, "value"), rec, "value"))
                continue
            types.append(t)
            impossible = impossible_value(spec.get("unit"), v["value"])
            if impossible:
                problems.append(Problem(impossible, file, line_of(v, "value"), rec, "value"))
                continue
            src = parse_source(v.get("source"), problems, file, vline, rec)
            if vf is not None and src is not None:
                values.append(ParameterValue(vf, vt, _plain_value(v["value"]), src, vline))
        ptype = _merge_types(types) if types else None
        if types and ptype is None:
            problems.append(Problem(msg("rules.parameter.mixed_types", types=", ".join(sorted(set(types)))), file, line, rec, "values"))
        values.sort(key=lambda pv: pv.valid_from)
        for a, b in zip(values, values[1:]):
            if a.valid_to is None or a.valid_to >= b.valid_from:
                problems.append(Problem(
                    msg("rules.parameter.overlap", a=_period(a), b=_period(b), line=b.line), file, a.line, rec, "values"))
        if ptype is not None:
            out.append(Parameter(str(name), str(spec.get("description") or ""), ptype, tuple(values), file, line,
                                 spec.get("unit")))
    return out


def _period(v: Any) -> Message:
    return msg("rules.period", valid_from=str(v.valid_from), valid_to=str(v.valid_to) if v.valid_to else msg("rules.open_end"))


def _v(value: Any) -> str:
    """A value as written in the file (YAML flow style), never a Python repr."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)

"""The dated parameters the audits read (rules/parameters/*.yaml), never constants in Python.

The audits' own thresholds are in rules/parameters/audit.yaml; check validity and the
direct-procurement threshold belong to the rules engineer's files. All are read through the
rules package's parameter loader so the format and its checks are the same everywhere.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ..errors import Problem, ValidationError
from ..i18n import msg
from ..paths import rules_dir
from ..rules.model import Parameter, ParameterValue
from ..rules.parameters import load_parameter_file
from ..yamlio import load_yaml

_cache: dict[tuple, dict[str, Parameter]] = {}


def _parameters(directory: Path | None = None) -> dict[str, Parameter]:
    directory = (directory or rules_dir()) / "parameters"
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    key = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    if key in _cache:
        return _cache[key]

    def build() -> dict[str, Parameter]:
        problems: list[Problem] = []
        found: dict[str, Parameter] = {}
        for f in files:
            for p in load_parameter_file(f, load_yaml(f), problems):
                if p.name in found:
                    problems.append(Problem(msg("parameter.defined_twice", name=p.name, file=found[p.name].file),
                                            str(f), p.line, f"parameter {p.name}"))
                found[p.name] = p
        if problems:
            raise ValidationError(problems)
        return found

    # Parsed and checked in an earlier process: read back (diskcache.py; ruamel's parse of the
    # files was most of a short audit's CPU). Only a successful build is kept.
    from ..diskcache import cached

    found = cached("audit-parameters", files, build, extra=str(directory))
    _cache.clear()
    _cache[key] = found
    return found


def audit_param(name: str, on: date, *, required: bool = True) -> ParameterValue | None:
    """The value of parameter `name` valid on `on` (a ParameterValue, with its source)."""
    params = _parameters()
    p = params.get(name)
    value = p.value_on(on) if p else None
    if value is None and required:
        where = rules_dir() / "parameters"
        if p is None:
            raise ValidationError(msg("audit.parameter_missing", name=name, directory=where))
        raise ValidationError(msg("parameter.no_value_on", name=name, file=p.file, on=on.isoformat()))
    return value


def param_table(name: str, on: date, *, required: bool = True) -> dict[str, Any] | None:
    v = audit_param(name, on, required=required)
    if v is None:
        return None
    if not isinstance(v.value, dict):
        raise ValidationError(msg("audit.parameter_not_table", name=name, value=str(v.value)))
    return dict(v.value)


def listed_since(name: str, on: date, member: str) -> date | None:
    """Since when `member` has been in the list parameter `name` without a break, as of `on`
    (e.g. since when an insats has required an IVO permit); None if it is not listed on `on`."""
    p = _parameters().get(name)
    if p is None:
        return None
    values = sorted(p.values, key=lambda v: v.valid_from)
    current = p.value_on(on)
    if current is None or member not in (current.value or ()):
        return None
    since = current.valid_from
    for earlier in reversed([v for v in values if v.valid_from < current.valid_from]):
        contiguous = earlier.valid_to is not None and (since - earlier.valid_to).days <= 1
        if contiguous and member in (earlier.value or ()):
            since = earlier.valid_from
        else:
            break
    return since

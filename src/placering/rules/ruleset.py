"""`RuleSet`: the loaded rule files, ranking policies and dated parameters, with a content
hash (`version`) recorded with every decision and automatic status change."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import NotFound, ValidationError
from ..paths import rules_dir
from ..yamlio import plain
from .loader import load_directory, rules_directory
from .model import Parameter, ParameterValue, RankingPolicy, Rule
from ..i18n import msg

VERSION_LENGTH = 16


def _canonical(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def content_version(directory: Path, docs: dict[Path, Any]) -> str:
    """sha256 over the parsed content (not the bytes: comments and layout do not change it) of
    every rule and parameter file, keyed by its path relative to the rules directory."""
    h = hashlib.sha256()
    for path in sorted(docs, key=lambda p: p.relative_to(directory).as_posix()):
        rel = path.relative_to(directory).as_posix()
        body = json.dumps(_canonical(plain(docs[path])), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        h.update(rel.encode() + b"\0" + body.encode() + b"\0")
    return h.hexdigest()[:VERSION_LENGTH]


@dataclass(frozen=True)
class RuleSet:
    directory: Path
    rules: tuple[Rule, ...]
    policies: tuple[RankingPolicy, ...]
    parameters: dict[str, Parameter] = field(hash=False)
    version: str

    def rules_for(self, stage: str, on: date) -> list[Rule]:
        """The rules of a stage valid on a date, in file order."""
        return [r for r in self.rules if r.stage == stage and r.valid_on(on)]

    def versions(self, rule_id: str) -> list[Rule | RankingPolicy]:
        found = [r for r in (*self.rules, *self.policies) if r.id == rule_id]
        if not found:
            raise NotFound(msg("rule.not_found", id=rule_id, directory=str(self.directory)))
        return sorted(found, key=lambda r: r.valid_from)

    def rule(self, rule_id: str, on: date) -> Rule | RankingPolicy | None:
        for r in self.versions(rule_id):
            if r.valid_on(on):
                return r
        return None

    def param_value(self, name: str, on: date) -> ParameterValue:
        """The dated value of a parameter on a date (with its source)."""
        try:
            p = self.parameters[name]
        except KeyError:
            raise NotFound(msg("parameter.not_found", name=name, directory=str(self.directory / "parameters"))) from None
        v = p.value_on(on)
        if v is None:
            raise ValidationError(msg("rules.parameter.no_value_on", name=name, on=str(on), where=f"{p.file}:{p.line}"))
        return v

    def param(self, name: str, on: date) -> Any:
        """The value of a parameter valid on a date."""
        return self.param_value(name, on).value

    def policy(self, stage: str, on: date) -> RankingPolicy:
        """The ranking policy valid on a date (`policy("ranking", on)`)."""
        found = [p for p in self.policies if p.stage == stage and p.valid_on(on)]
        if not found:
            raise ValidationError(msg("rules.policy.none_valid", stage=stage, directory=str(self.directory), on=str(on)))
        if len(found) > 1:
            raise ValidationError(msg("rules.policy.several_valid", stage=stage, on=str(on), ids=", ".join(p.id for p in found)))
        return found[0]

    def permit_required(self, insats: str, on: date) -> bool:
        """Whether an insats needs an IVO permit on a date (parameter permit_required_insatser)."""
        return insats in self.param("permit_required_insatser", on)

    def permit_duty(self, insats: str, legal_form: str | None, on: date) -> str | None:
        """What the IVO permit duty asks of a unit offering `insats` on a date, from the one
        dated parameter permit_required_insatser: 'permit' (a private provider), 'notification'
        (a municipal or regional unit notifies IVO) or None (the insats is not permit-bound)."""
        if not self.permit_required(insats, on):
            return None
        return "notification" if legal_form in MUNICIPAL_LEGAL_FORMS else "permit"

    def permit_required_from(self, insats: str) -> date | None:
        """The day the insats became permit-bound when that is later than the parameter's first
        value (skyddat boende: 2024-04-01); None when it always was, or never is."""
        values = self.parameters["permit_required_insatser"].values
        listed = [v for v in values if insats in v.value]
        if not listed or listed[0] is values[0]:
            return None
        return listed[0].valid_from


# Legal forms whose units notify IVO instead of holding a permit (SoL 7 kap. 1 §).
MUNICIPAL_LEGAL_FORMS = ("kommun", "region")

_CACHE: dict[tuple[str, tuple], RuleSet] = {}


def _stamp(directory: Path) -> tuple:
    files = sorted(p for p in directory.rglob("*.yaml") if "tests" not in p.relative_to(directory).parts)
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def load_ruleset(directory: Path | str | None = None) -> RuleSet:
    """Load and validate the rules directory (default: the project's rules/). Raises
    ValidationError listing every problem. Cached until a file changes."""
    directory = rules_directory(Path(directory) if directory is not None else rules_dir())
    key = (str(directory), _stamp(directory))
    if key in _CACHE:
        return _CACHE[key]

    def build() -> RuleSet:
        rules, policies, params, docs = load_directory(directory)
        return RuleSet(directory, tuple(rules), tuple(policies), params, content_version(directory, docs))

    if directory.is_dir():  # parsed and validated in an earlier process: read back (diskcache.py)
        from ..diskcache import cached
        from .loader import parameter_files, rule_files

        rs = cached("ruleset", [*parameter_files(directory), *rule_files(directory)], build, extra=str(directory))
    else:
        rs = build()
    _CACHE[key] = rs
    return rs

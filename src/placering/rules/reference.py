"""The reference evaluator: plain Python interpreting the rule files, the test oracle for the
durable-rules adapter (both must give identical outcomes, reasons and flags).

Semantics per fact and rule (docs/ARCHITECTURE.md, "Rule files"):
1. a rule not valid on the evaluation date is skipped;
2. if a field read by `applies_when` (outside exists/missing) is null, the rule is
   **unevaluable**; else if `applies_when` is false the rule does not apply;
3. if a field read by `when` (outside exists/missing) is null, or a parameter has no value on
   the date, or a division by zero occurs, the rule is **unevaluable** with the missing fields
   named: never a silent pass or exclusion;
4. else, if `when` is true the outcome applies.
Conditions are compiled once per evaluation date into closures (parameters are constants then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from . import geo
from .facts import RegisterSnapshot
from .model import (
    All,
    Any as AnyOf,
    Arith,
    Compare,
    Condition,
    Distance,
    Exclude,
    Exists,
    Field,
    Flag,
    In,
    Literal,
    Matches,
    Missing,
    Not,
    Operand,
    Overlaps,
    Param,
    Rule,
    Subset,
    condition_fields,
    condition_presence_fields,
    uses_distance,
)
from .ruleset import RuleSet

Getter = Callable[[dict], Any]


@dataclass(frozen=True)
class Reason:
    """Why a rule fired (or could not be evaluated): its code, rule id, message, the values it
    compared (field path -> value, `param.NAME` -> value, `distance_km`), and its source."""

    code: str
    rule: str
    message: str
    values: dict = field(default_factory=dict, hash=False, compare=True)
    source: str = ""

    def as_dict(self) -> dict:
        return {"code": self.code, "rule": self.rule, "message": self.message, "values": self.values,
                "source": self.source}


@dataclass
class CandidateOutcome:
    unit_id: str
    org_nr: str
    route: str
    agreement_id: str | None
    daily_price: float | None
    distance_km: float | None
    exclusions: list[Reason]
    flags: list[Reason]
    unevaluable: list[Reason]
    fact: dict = field(repr=False, compare=False)

    @property
    def eligible(self) -> bool:
        """No exclusion and nothing that could not be evaluated."""
        return not self.exclusions and not self.unevaluable


@dataclass
class RequestEvaluation:
    candidates: list[CandidateOutcome]
    request_flags: list[Reason]
    unevaluable: list[Reason]
    rules_version: str = ""
    evaluated_on: date | None = None

    def candidate(self, unit_id: str) -> list[CandidateOutcome]:
        return [c for c in self.candidates if c.unit_id == unit_id]


class Unevaluable(Exception):
    """Raised inside a compiled condition (division by zero)."""


def getter(path: str) -> Getter:
    parts = path.split(".")
    if len(parts) == 2:
        a, b = parts
        return lambda f: (f.get(a) or {}).get(b)
    if len(parts) == 3:
        a, b, c = parts
        return lambda f: ((f.get(a) or {}).get(b) or {}).get(c)

    def deep(f: dict) -> Any:
        node: Any = f
        for p in parts:
            if not isinstance(node, dict):
                return None
            node = node.get(p)
        return node

    return deep


def _vectors(f: dict) -> tuple[geo.Vector, geo.Vector]:
    u, r = f["unit"], f["request"]
    return (u["geo_x"], u["geo_y"], u["geo_z"]), (r["home_x"], r["home_y"], r["home_z"])


def display_distance(fact: dict) -> float | None:
    """Haversine distance from the request's home to the unit, rounded to 0.1 km (for people)."""
    u, r = fact.get("unit") or {}, fact.get("request") or {}
    if None in (u.get("lat"), u.get("lon"), r.get("home_lat"), r.get("home_lon")):
        return None
    return round(geo.haversine_km(r["home_lat"], r["home_lon"], u["lat"], u["lon"]), 1)


class _Compiler:
    def __init__(self, params: dict[str, Any]):
        self.params = params

    def operand(self, op: Operand) -> Getter:
        if isinstance(op, Field):
            return getter(op.path)
        if isinstance(op, Literal):
            v = op.value
            return lambda f: v
        if isinstance(op, Param):
            v = self.params.get(op.name)
            return lambda f: v
        if isinstance(op, Arith):
            a, b = self.operand(op.left), self.operand(op.right)
            if op.op == "add":
                return lambda f: a(f) + b(f)
            if op.op == "sub":
                return lambda f: a(f) - b(f)
            if op.op == "mul":
                return lambda f: a(f) * b(f)

            def div(f: dict) -> Any:
                d = b(f)
                if d == 0:
                    raise Unevaluable("division by zero")
                return a(f) / d

            return div
        raise TypeError(f"operand {op!r} cannot be read directly")

    def condition(self, c: Condition) -> Callable[[dict], bool]:
        if isinstance(c, All):
            items = [self.condition(i) for i in c.items]
            return lambda f: all(i(f) for i in items)
        if isinstance(c, AnyOf):
            items = [self.condition(i) for i in c.items]
            return lambda f: any(i(f) for i in items)
        if isinstance(c, Not):
            inner = self.condition(c.item)
            return lambda f: not inner(f)
        if isinstance(c, Exists):
            g = getter(c.path)
            return lambda f: g(f) is not None
        if isinstance(c, Missing):
            g = getter(c.path)
            return lambda f: g(f) is None
        if isinstance(c, Compare):
            if isinstance(c.left, Distance):
                d = self.operand(c.right)
                op = c.op

                def distance(f: dict) -> bool:
                    u, h = _vectors(f)
                    return geo.compare_dot(op, geo.dot(u, h), geo.cos_threshold(d(f)))

                return distance
            a, b = self.operand(c.left), self.operand(c.right)
            return {
                "eq": lambda f: a(f) == b(f),
                "ne": lambda f: a(f) != b(f),
                "lt": lambda f: a(f) < b(f),
                "le": lambda f: a(f) <= b(f),
                "gt": lambda f: a(f) > b(f),
                "ge": lambda f: a(f) >= b(f),
            }[c.op]
        if isinstance(c, In):
            a, b = self.operand(c.item), self.operand(c.collection)
            return lambda f: a(f) in b(f)
        if isinstance(c, Subset):
            a, b = self.operand(c.left), self.operand(c.right)
            return lambda f: set(a(f)) <= set(b(f))
        if isinstance(c, Overlaps):
            a, b = self.operand(c.left), self.operand(c.right)
            return lambda f: not set(a(f)).isdisjoint(b(f))
        if isinstance(c, Matches):
            import re

            a, rx = self.operand(c.operand), re.compile(c.pattern)
            return lambda f: rx.fullmatch(a(f)) is not None
        raise TypeError(f"unknown condition {c!r}")


@dataclass
class CompiledRule:
    rule: Rule
    applies: Callable[[dict], bool] | None
    applies_fields: list[tuple[str, Getter]]
    when: Callable[[dict], bool]
    when_fields: list[tuple[str, Getter]]
    shown_fields: list[tuple[str, Getter]]
    params: dict[str, Any]
    missing_params: list[str]
    distance: bool
    source: str


def compile_rule(rule: Rule, ruleset: RuleSet, on: date) -> CompiledRule:
    params: dict[str, Any] = {}
    missing: list[str] = []
    for name in rule.params:
        v = ruleset.parameters[name].value_on(on)
        if v is None:
            missing.append(name)
        else:
            params[name] = v.value
    comp = _Compiler(params)
    af = condition_fields(rule.applies_when)
    wf = condition_fields(rule.when)
    shown: list[str] = []
    for p in af + condition_presence_fields(rule.applies_when) + wf + condition_presence_fields(rule.when):
        if p not in shown:
            shown.append(p)
    return CompiledRule(
        rule=rule,
        applies=comp.condition(rule.applies_when) if rule.applies_when is not None else None,
        applies_fields=[(p, getter(p)) for p in af],
        when=comp.condition(rule.when),
        when_fields=[(p, getter(p)) for p in wf],
        shown_fields=[(p, getter(p)) for p in shown],
        params=params,
        missing_params=missing,
        distance=uses_distance(rule.applies_when) or uses_distance(rule.when),
        source=str(rule.source),
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value) if value else "(inga)"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _message(template: str, fact: dict, cr: CompiledRule) -> str:
    out, i = [], 0
    while True:
        j = template.find("{", i)
        if j < 0:
            out.append(template[i:])
            break
        k = template.find("}", j)
        if k < 0:
            out.append(template[i:])
            break
        out.append(template[i:j])
        key = template[j + 1:k]
        if key == "distance_km":
            out.append(_fmt(display_distance(fact)))
        elif key.startswith("param."):
            out.append(_fmt(cr.params.get(key[6:])))
        else:
            out.append(_fmt(getter(key)(fact)))
        i = k + 1
    return "".join(out)


def _values(cr: CompiledRule, fact: dict) -> dict:
    values = {p: g(fact) for p, g in cr.shown_fields}
    if cr.distance:
        values["distance_km"] = display_distance(fact)
    for name, v in cr.params.items():
        values[f"param.{name}"] = v
    return values


def reason(cr: CompiledRule, fact: dict) -> Reason:
    return Reason(cr.rule.code, cr.rule.id, _message(cr.rule.outcome.message, fact, cr), _values(cr, fact), cr.source)


def unevaluable_reason(cr: CompiledRule, fact: dict, missing: list[str], why: str | None = None) -> Reason:
    values = _values(cr, fact)
    values["missing"] = list(missing)
    if why:
        text = why
    else:
        text = "uppgift saknas: " + ", ".join(
            f"parameter {m[6:]}" if m.startswith("param.") else m for m in missing)
    return Reason(cr.rule.code, cr.rule.id, f"{cr.rule.title}: kan inte bedömas ({text})", values, cr.source)


def run_rule(cr: CompiledRule, fact: dict) -> tuple[str, Reason | None]:
    """('fired' | 'passed' | 'skipped' | 'unevaluable', reason)."""
    if cr.applies is not None:
        missing = [p for p, g in cr.applies_fields if g(fact) is None]
        if missing:
            return "unevaluable", unevaluable_reason(cr, fact, missing)
        try:
            if not cr.applies(fact):
                return "skipped", None
        except Unevaluable as exc:
            return "unevaluable", unevaluable_reason(cr, fact, [], str(exc))
    missing = [p for p, g in cr.when_fields if g(fact) is None]
    missing += [f"param.{n}" for n in cr.missing_params]
    if missing:
        return "unevaluable", unevaluable_reason(cr, fact, missing)
    try:
        fired = cr.when(fact)
    except Unevaluable as exc:
        return "unevaluable", unevaluable_reason(cr, fact, [], str(exc))
    return ("fired", reason(cr, fact)) if fired else ("passed", None)


class ReferenceEvaluator:
    """Evaluate requests (and register events) against a RuleSet in plain Python."""

    name = "reference"

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.snapshot: RegisterSnapshot | None = None
        self._compiled: dict[tuple[str, date], list[CompiledRule]] = {}

    def load(self, snapshot: RegisterSnapshot) -> None:
        """Keep the register resident; later requests are evaluated without reloading it."""
        self.snapshot = snapshot

    def compiled(self, stage: str, on: date, scope: str | None = None) -> list[CompiledRule]:
        key = (stage, on)
        if key not in self._compiled:
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = [compile_rule(r, self.ruleset, on) for r in self.ruleset.rules_for(stage, on)]
        rules = self._compiled[key]
        return rules if scope is None else [cr for cr in rules if cr.rule.scope == scope]

    def evaluate(self, request_fact: dict, *, on: date) -> RequestEvaluation:
        """One CandidateOutcome per candidate (unit × route) of the requested insats, with
        exclusions (eligibility), flags (review) and unevaluable rules; request-level flags."""
        if self.snapshot is None:
            raise RuntimeError("load(snapshot) first")
        req = request_fact
        request_rules = self.compiled("review", on, "request")
        cand_rules = self.compiled("eligibility", on, "candidate") + self.compiled("review", on, "candidate")
        request_flags: list[Reason] = []
        request_unevaluable: list[Reason] = []
        rfact = {"request": req}
        for cr in request_rules:
            state, r = run_rule(cr, rfact)
            if state == "fired":
                request_flags.append(r)
            elif state == "unevaluable":
                request_unevaluable.append(r)
        out: list[CandidateOutcome] = []
        for cand in self.snapshot.candidates(req["insats"]):
            fact = dict(cand)
            fact["request"] = req
            exclusions: list[Reason] = []
            flags: list[Reason] = []
            unevaluable: list[Reason] = []
            for cr in cand_rules:
                state, r = run_rule(cr, fact)
                if state == "fired":
                    (exclusions if isinstance(cr.rule.outcome, Exclude) else flags).append(r)
                elif state == "unevaluable":
                    unevaluable.append(r)
            u, rt = cand["unit"], cand["route"]
            out.append(CandidateOutcome(
                unit_id=u["unit_id"], org_nr=u["org_nr"], route=rt["route"], agreement_id=rt["agreement_id"],
                daily_price=rt["daily_price"], distance_km=display_distance(fact),
                exclusions=exclusions, flags=flags, unevaluable=unevaluable, fact=fact))
        return RequestEvaluation(out, request_flags, request_unevaluable, self.ruleset.version, on)

    def evaluate_fact(self, stage: str, fact: dict, *, on: date) -> tuple[list[tuple[Rule, Reason]], list[Reason]]:
        """Run the rules of a stage on one fact: (fired rules with their reasons, unevaluable)."""
        fired: list[tuple[Rule, Reason]] = []
        unevaluable: list[Reason] = []
        for cr in self.compiled(stage, on):
            state, r = run_rule(cr, fact)
            if state == "fired":
                fired.append((cr.rule, r))
            elif state == "unevaluable":
                unevaluable.append(r)
        return fired, unevaluable


def is_flag(rule: Rule) -> bool:
    return isinstance(rule.outcome, Flag)





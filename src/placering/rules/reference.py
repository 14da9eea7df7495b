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
The rules in force on a date are turned into generated Python code once (parameters are
constants then); dates with the same rules and parameter values share it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from ..labels import label, message_field_kind
from ..display import fmt_number
from ..memory import freeze_long_lived
from . import geo
from .facts import RegisterSnapshot
from .regex import compile_pattern
from .model import (
    DISTANCE_FIELDS,
    All,
    Any as AnyOf,
    Arith,
    Compare,
    Condition,
    Distance,
    Exclude,
    Exists,
    Field,
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


class Reason:
    """Why a rule fired (or could not be evaluated): its code, rule id, message, the values it
    compared (field path -> value, `param.NAME` -> value, `distance_km`, and `missing` for an
    unevaluable rule), and its source.

    The message and values of a reason built by an evaluator are computed on first access:
    a large register yields tens of thousands of exclusions per request, and a caller that
    only ranks or counts codes should not pay for formatting them.
    """

    __slots__ = ("code", "rule", "source", "_message", "_values", "_lazy")

    def __init__(self, code: str, rule: str, message: str | None = None, values: dict | None = None,
                 source: str = "", *, lazy: tuple | None = None):
        self.code, self.rule, self.source = code, rule, source
        self._message, self._values, self._lazy = message, values, lazy

    def _resolve(self) -> None:
        if self._lazy is not None:
            cr, fact = self._lazy
            self._message, self._values = _message(fact, cr), _values(cr, fact)
            self._lazy = None
        if self._values is None:
            self._values = {}
        if self._message is None:
            self._message = ""

    @property
    def message(self) -> str:
        if self._message is None or self._lazy is not None:
            self._resolve()
        return self._message

    @property
    def values(self) -> dict:
        if self._values is None or self._lazy is not None:
            self._resolve()
        return self._values

    def _key(self) -> tuple:
        return (self.code, self.rule, self.message, self.values, self.source)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reason) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.code, self.rule, self.message, self.source))

    def __repr__(self) -> str:
        return (f"Reason(code={self.code!r}, rule={self.rule!r}, message={self.message!r}, "
                f"values={self.values!r}, source={self.source!r})")

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


def display_distance(fact: dict) -> float | None:
    """Distance in km from the request's home to the unit, rounded to 0.1 km (for people).

    Computed from the same unit-sphere vectors as the decision (R·acos of the dot product), so
    a displayed distance never contradicts it beyond the rounding. The evaluator stores it in the
    candidate fact as `distance_km` once computed."""
    if "distance_km" in fact:
        return fact["distance_km"]
    u, r = fact.get("unit") or {}, fact.get("request") or {}
    gx, hx = u.get("geo_x"), r.get("home_x")
    if gx is None or hx is None:
        return None
    d = (gx * hx + u["geo_y"] * r["home_y"]) + u["geo_z"] * r["home_z"]
    return round(geo.EARTH_RADIUS_KM * math.acos(max(-1.0, min(1.0, d))), 1)


POSITION_FIELDS = frozenset(DISTANCE_FIELDS)


class _CodeGen:
    """Generates one Python function that evaluates a list of rules on one fact.

    Every field the rules read is loaded once into a local variable; each rule becomes an
    if/elif block that appends (rule index, state) to `out`: 1 fired, 2 unevaluable (a field
    is null or a parameter has no value), 3 division by zero. Generated code is an order of
    magnitude faster than walking the condition tree per candidate, and there is still one
    interpreter of the semantics: this one.
    """

    def __init__(self) -> None:
        self.consts: list[Any] = []
        self.vars: dict[str, str] = {}
        self.uses_div = False

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"C[{len(self.consts) - 1}]"

    def var(self, path: str) -> str:
        if path not in self.vars:
            self.vars[path] = f"v{len(self.vars)}"
        return self.vars[path]

    def operand(self, op: Operand, params: dict[str, Any]) -> str:
        if isinstance(op, Field):
            return self.var(op.path)
        if isinstance(op, Literal):
            return self.const(op.value)
        if isinstance(op, Param):
            return self.const(params.get(op.name))
        if isinstance(op, Arith):
            a, b = self.operand(op.left, params), self.operand(op.right, params)
            if op.op == "div":
                self.uses_div = True
                return f"_div({a}, {b})"
            return f"({a} {dict(add='+', sub='-', mul='*')[op.op]} {b})"
        raise TypeError(f"operand {op!r} cannot be read directly")

    def condition(self, c: Condition, params: dict[str, Any]) -> str:
        if isinstance(c, All):
            return "(" + " and ".join(self.condition(i, params) for i in c.items) + ")"
        if isinstance(c, AnyOf):
            return "(" + " or ".join(self.condition(i, params) for i in c.items) + ")"
        if isinstance(c, Not):
            return f"(not {self.condition(c.item, params)})"
        if isinstance(c, Exists):
            return f"({self.var(c.path)} is not None)"
        if isinstance(c, Missing):
            return f"({self.var(c.path)} is None)"
        if isinstance(c, Compare):
            if isinstance(c.left, Distance):
                d = self.operand(c.right, params)
                for p in DISTANCE_FIELDS:
                    self.var(p)
                dot = "((GX * HX + GY * HY) + GZ * HZ)"  # the fixed summation order of geo.dot
                return f"_cmp_dot({c.op!r}, {dot}, _cos({d}))"
            sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[c.op]
            return f"({self.operand(c.left, params)} {sym} {self.operand(c.right, params)})"
        if isinstance(c, In):
            return f"({self.operand(c.item, params)} in {self.operand(c.collection, params)})"
        if isinstance(c, Subset):
            return f"set({self.operand(c.left, params)}).issubset({self.operand(c.right, params)})"
        if isinstance(c, Overlaps):
            return f"(not set({self.operand(c.left, params)}).isdisjoint({self.operand(c.right, params)}))"
        if isinstance(c, Matches):
            return f"({self.const(compile_pattern(c.pattern))}.fullmatch({self.operand(c.operand, params)}) is not None)"
        raise TypeError(f"unknown condition {c!r}")


def _null_test(gen: _CodeGen, fields: list[str]) -> str:
    return " or ".join(f"{gen.var(p)} is None" for p in fields) or "False"


def _div(a: Any, b: Any) -> Any:
    if b == 0:
        raise Unevaluable("division by zero")
    return a / b


def generate(rules: list["CompiledRule"]) -> Callable[[dict, list], None]:
    """One function `fn(fact, out)` evaluating every rule of the list (see _CodeGen)."""
    gen = _CodeGen()
    body: list[str] = []
    for i, cr in enumerate(rules):
        rule, params = cr.rule, cr.params
        gen.uses_div = False
        applies_null = _null_test(gen, cr.applies_field_names)
        applies = gen.condition(rule.applies_when, params) if rule.applies_when is not None else "True"
        when_null = "True" if cr.missing_params else _null_test(gen, cr.when_field_names)
        when = gen.condition(rule.when, params)
        block = [
            f"# {rule.id}",
            f"if {applies_null}:",
            f"    out.append(({i}, 2))",
            f"elif {applies}:",
            f"    if {when_null}:",
            f"        out.append(({i}, 2))",
            f"    elif {when}:",
            f"        out.append(({i}, 1))",
        ]
        if gen.uses_div:
            block = ["try:"] + ["    " + line for line in block] + [
                "except _Unevaluable:", f"    out.append(({i}, 3))"]
        body.extend(block)
    head = ["def _evaluate(f, out):"]
    namespaces = sorted({p.split(".", 1)[0] for p in gen.vars} | ({"unit", "request"} if any(
        p in DISTANCE_FIELDS for p in gen.vars) else set()))
    for ns in namespaces:
        head.append(f"    _{ns} = f.get({ns!r}) or _EMPTY")
    for path, name in gen.vars.items():
        parts = path.split(".")
        expr = f"_{parts[0]}"
        for part in parts[1:-1]:
            expr = f"({expr}.get({part!r}) or _EMPTY)"
        head.append(f"    {name} = {expr}.get({parts[-1]!r})")
    if any(p in DISTANCE_FIELDS for p in gen.vars):
        head.append("    GX, GY, GZ = _unit.get('geo_x'), _unit.get('geo_y'), _unit.get('geo_z')")
        head.append("    HX, HY, HZ = _request.get('home_x'), _request.get('home_y'), _request.get('home_z')")
    src = "\n".join(head + ["    " + line for line in body] + ["    return None"])
    namespace = {"C": gen.consts, "_EMPTY": {}, "_div": _div, "_Unevaluable": Unevaluable,
                 "_cmp_dot": geo.compare_dot, "_cos": geo.cos_threshold}
    exec(compile(src, f"<rules {', '.join(cr.rule.id for cr in rules[:3])}…>", "exec"), namespace)
    fn = namespace["_evaluate"]
    fn.source = src  # for debugging: print(fn.source)
    return fn


@dataclass
class CompiledRule:
    rule: Rule
    applies_field_names: list[str]
    applies_fields: list[tuple[str, Getter]]
    when_field_names: list[str]
    when_fields: list[tuple[str, Getter]]
    shown_fields: list[tuple[str, Getter]]
    params: dict[str, Any]
    missing_params: list[str]
    distance: bool
    source: str
    message_parts: list[tuple[str, Any]]
    code: str = ""
    is_exclusion: bool = False
    fn: Callable[[dict, list], None] | None = None


def _message_parts(template: str) -> list[tuple[str, Any]]:
    """Split a message into ('text', str) and ('field', getter) / ('distance', None) /
    ('param', name) parts once, so building a reason does not parse the template."""
    parts: list[tuple[str, Any]] = []
    i = 0
    for m in re.finditer(r"\{([^{}]*)\}", template):
        if m.start() > i:
            parts.append(("text", template[i:m.start()]))
        key = m.group(1)
        if key == "distance_km":
            parts.append(("distance", None))
        elif key.startswith("param."):
            parts.append(("param", key[6:]))
        else:  # a code shows its Swedish label (`kvinna/flicka`, not `female`); values keep the code
            parts.append(("field", (getter(key), message_field_kind(key))))
        i = m.end()
    if i < len(template):
        parts.append(("text", template[i:]))
    return parts


def compile_rule(rule: Rule, ruleset: RuleSet, on: date) -> CompiledRule:
    params: dict[str, Any] = {}
    missing: list[str] = []
    for name in rule.params:
        v = ruleset.parameters[name].value_on(on)
        if v is None:
            missing.append(name)
        else:
            params[name] = v.value
    af = condition_fields(rule.applies_when)
    wf = condition_fields(rule.when)
    shown: list[str] = []
    for p in af + condition_presence_fields(rule.applies_when) + wf + condition_presence_fields(rule.when):
        # Positions are never part of an explanation (protected units and people): a distance
        # rule shows distance_km instead.
        if p not in shown and p not in POSITION_FIELDS:
            shown.append(p)
    cr = CompiledRule(
        rule=rule,
        applies_field_names=af,
        applies_fields=[(p, getter(p)) for p in af],
        when_field_names=wf,
        when_fields=[(p, getter(p)) for p in wf],
        shown_fields=[(p, getter(p)) for p in shown],
        params=params,
        missing_params=missing,
        distance=uses_distance(rule.applies_when) or uses_distance(rule.when),
        source=str(rule.source),
        message_parts=_message_parts(rule.outcome.message),
        code=rule.code,
        is_exclusion=isinstance(rule.outcome, Exclude),
    )
    cr.fn = generate([cr])
    return cr


def message_value(value: Any) -> str:
    """A value in a rule's message, for people: Swedish numbers (`57,6`, `7 000`); the reason's
    `values` keep the numbers themselves. matching/privacy.py finds a distance in a message by
    this text, to put its band there."""
    t = type(value)
    if t is str:
        return value
    if t is int:  # Swedish whatever the locale: a rule's message is the rule file's Swedish, and is stored
        return str(value) if -1000 < value < 1000 else fmt_number(value, lang="sv")
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, float):
        return fmt_number(value, lang="sv")
    if isinstance(value, (list, tuple)):
        return ", ".join(message_value(v) for v in value) if value else "(inga)"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _message(fact: dict, cr: CompiledRule) -> str:
    out = []
    for kind, arg in cr.message_parts:
        if kind == "text":
            out.append(arg)
        elif kind == "field":
            get, code_kind = arg
            value = get(fact)
            if code_kind is not None and value is not None:
                value = label(value, code_kind, "sv") if isinstance(value, str) else (
                    [label(v, code_kind, "sv") for v in value] if isinstance(value, (list, tuple)) else value)
            out.append(message_value(value))
        elif kind == "param":
            out.append(message_value(cr.params.get(arg)))
        else:
            out.append(message_value(display_distance(fact)))
    return "".join(out)


def _values(cr: CompiledRule, fact: dict) -> dict:
    values = {p: g(fact) for p, g in cr.shown_fields}
    if cr.distance:
        values["distance_km"] = display_distance(fact)
    for name, v in cr.params.items():
        values[f"param.{name}"] = v
    return values


def reason(cr: CompiledRule, fact: dict) -> Reason:
    return Reason(cr.code, cr.rule.id, None, None, cr.source, lazy=(cr, fact))


def unevaluable_reason(cr: CompiledRule, fact: dict, missing: list[str], why: str | None = None) -> Reason:
    values = _values(cr, fact)
    values["missing"] = list(missing)
    if why:
        text = why
    else:
        text = "uppgift saknas: " + ", ".join(
            f"parameter {m[6:]}" if m.startswith("param.") else m for m in missing)
    return Reason(cr.code, cr.rule.id, f"{cr.rule.title}: kan inte bedömas ({text})", values, cr.source)


def _missing(cr: CompiledRule, fact: dict) -> list[str]:
    """Which fields (or parameters) made a rule unevaluable (the slow path, for the reason)."""
    missing = [p for p, g in cr.applies_fields if g(fact) is None]
    if missing:
        return missing
    return [p for p, g in cr.when_fields if g(fact) is None] + [f"param.{n}" for n in cr.missing_params]


def outcome_reason(cr: CompiledRule, fact: dict, state: int) -> tuple[str, Reason]:
    """Turn a generated function's (index, state) into ('fired' | 'unevaluable', reason)."""
    if state == 1:
        return "fired", reason(cr, fact)
    if state == 3:
        return "unevaluable", unevaluable_reason(cr, fact, [], "division by zero")
    return "unevaluable", unevaluable_reason(cr, fact, _missing(cr, fact))


def run_rule(cr: CompiledRule, fact: dict) -> tuple[str, Reason | None]:
    """('fired' | 'unevaluable' | 'no', reason) for one rule on one fact."""
    out: list[tuple[int, int]] = []
    cr.fn(fact, out)
    if not out:
        return "no", None
    return outcome_reason(cr, fact, out[0][1])


class ReferenceEvaluator:
    """Evaluate requests (and register events) against a RuleSet in plain Python."""

    name = "reference"

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        self.snapshot: RegisterSnapshot | None = None
        self._compiled: dict[tuple, list[CompiledRule]] = {}
        self._generated: dict[tuple, tuple[list[CompiledRule], Callable]] = {}
        self._epochs: dict[date, tuple] = {}

    def load(self, snapshot: RegisterSnapshot) -> None:
        """Keep the register resident; later requests are evaluated without reloading it."""
        self.snapshot = snapshot
        # The resident register lives as long as the evaluator (p99 latency).
        freeze_long_lived(collect=True)

    def _epoch(self, on: date) -> tuple:
        """Dates with the same rules and parameter values in force share compiled code (kept
        per date: an import asks for every register event it fires)."""
        epochs = self._epochs
        epoch = epochs.get(on)
        if epoch is None:
            if len(epochs) > 4096:
                epochs.clear()
            rules = tuple(r.id + str(r.valid_from) for r in self.ruleset.rules if r.valid_on(on))
            params = tuple(id(v) for p in self.ruleset.parameters.values() for v in p.values if v.valid_on(on))
            epoch = epochs[on] = (rules, params)
        return epoch

    def compiled(self, stage: str, on: date, scope: str | None = None) -> list[CompiledRule]:
        key = (stage, self._epoch(on))
        if key not in self._compiled:
            if len(self._compiled) > 256:
                self._compiled.clear()
            self._compiled[key] = [compile_rule(r, self.ruleset, on) for r in self.ruleset.rules_for(stage, on)]
        rules = self._compiled[key]
        return rules if scope is None else [cr for cr in rules if cr.rule.scope == scope]

    def _candidate_program(self, on: date) -> tuple[list[CompiledRule], Callable]:
        key = self._epoch(on)
        if key not in self._generated:
            if len(self._generated) > 64:
                self._generated.clear()
            rules = self.compiled("eligibility", on, "candidate") + self.compiled("review", on, "candidate")
            self._generated[key] = (rules, generate(rules))
        return self._generated[key]

    def evaluate(self, request_fact: dict, *, on: date) -> RequestEvaluation:
        """One CandidateOutcome per candidate (unit × route) of the requested insats, with
        exclusions (eligibility), flags (review) and unevaluable rules; request-level flags."""
        if self.snapshot is None:
            raise RuntimeError("load(snapshot) first")
        req = request_fact
        request_flags: list[Reason] = []
        request_unevaluable: list[Reason] = []
        rfact = {"request": req}
        for cr in self.compiled("review", on, "request"):
            state, r = run_rule(cr, rfact)
            if state == "fired":
                request_flags.append(r)
            elif state == "unevaluable":
                request_unevaluable.append(r)
        rules, program = self._candidate_program(on)
        out: list[CandidateOutcome] = []
        for cand in self.snapshot.candidates(req["insats"]):
            fact = dict(cand)
            fact["request"] = req
            distance = fact["distance_km"] = display_distance(fact)
            hits: list[tuple[int, int]] = []
            program(fact, hits)
            exclusions: list[Reason] = []
            flags: list[Reason] = []
            unevaluable: list[Reason] = []
            for i, state in hits:
                cr = rules[i]
                if state != 1:
                    unevaluable.append(outcome_reason(cr, fact, state)[1])
                elif cr.is_exclusion:
                    exclusions.append(Reason(cr.code, cr.rule.id, None, None, cr.source, lazy=(cr, fact)))
                else:
                    flags.append(Reason(cr.code, cr.rule.id, None, None, cr.source, lazy=(cr, fact)))
            u, rt = cand["unit"], cand["route"]
            out.append(CandidateOutcome(
                unit_id=u["unit_id"], org_nr=u["org_nr"], route=rt["route"], agreement_id=rt["agreement_id"],
                daily_price=rt["daily_price"], distance_km=distance,
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

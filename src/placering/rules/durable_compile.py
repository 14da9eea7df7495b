"""Compile validated rules (the loader's AST, never raw YAML) into durable-rules JSON rulesets,
and encode facts into the flat form those rulesets read.

Why the shapes below (measured on durable-rules 2.0.28, see docs/durable-rules-notes.md):

- `$or` over join tests gives wrong answers (one disjunct silently lost) and a join on an absent
  field fails the whole assert (error 311). So every condition is put in disjunctive normal form;
  each conjunction becomes one durable rule, and every field a rule reads is guarded with `$ex`
  in the alpha test of its own fact. Firings of the disjuncts are merged per candidate.
- `$iany`/`$iall` cannot refer to another fact. Lists are encoded as positions (`k_0 … k_{K-1}`,
  padded with a sentinel that no real value equals) plus a length `k_n` (present iff the list is
  not null), so `in`, `subset` and `overlaps` become equality tests between scalar fields.
- Strings compare bytes: text is NFC on the way in and ordering comparisons on text are refused.
  Dates are encoded as day numbers (`date.toordinal()`), so ordering them is integer ordering.
- Integer division in the C core truncates: operands of `div` are made floating point first.
- The left side of a durable comparison must be a field of the fact being matched. `a OP b`
  with arithmetic on both sides is compiled as `0 OP (b - a)` on a constant field `z = 0`;
  for finite IEEE doubles (and integers) the sign of `b - a` is exactly the order of a and b.
- Distance: `distance_km OP D` is `dot(unit, home) OP' cos(D/R)` (geo.py), compiled as
  `0 OP' (cos(D/R) - ((x*X + y*Y) + z*Z))` on the vectors facts.py precomputes, so the C core
  performs the same IEEE operations in the same order as the reference evaluator.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import Problem, ValidationError
from . import geo
from .model import (
    BOOL, DATE, FIELDS, INT, LIST, NUMBER, STR, All, Any as AnyOf, Arith, Compare, Condition, Distance,
    Exists, Field, In, Literal, Matches, Missing, Not, Overlaps, Param, Rule, Subset, condition_fields,
    condition_params, get_path,
)
from ..i18n import msg

# Namespaces held by the candidate fact; `request` is the request fact.
CANDIDATE_NS = ("unit", "route", "permit", "supplier")
# Sentinels padding list positions; a real value starting with \x01 is refused at encoding.
PAD = {"c": "\x01c", "r": "\x01r"}
MAX_CONJUNCTIONS = 64  # per rule; more means the condition does not suit the engine
MAX_DURABLE_RULES = 480  # a ruleset of 512 rules failed every assert; 513+ hung registration
NEGATE = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}
FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "gt": "lt", "le": "ge", "ge": "le"}
DURABLE_OP = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte", "ne": "$neq"}
# Regex atoms that match exactly one ASCII byte in durable's dialect and one character in
# Python's: with those only (no '.', no non-ASCII), byte and character matching agree.
_SAFE_PATTERN = re.compile(r"^[A-Za-z0-9_ ,:/@'\-\[\]()|*+?]*$")


class CompileError(ValidationError):
    """A rule cannot be compiled faithfully onto durable-rules (never evaluated differently)."""


def _fail(rule: Rule, message: str) -> CompileError:
    return CompileError(Problem(msg("rules.durable.cannot_compile", detail=message), rule.file, rule.line,
                                msg("rules.record.rule", id=rule.id)))


# ---------------------------------------------------------------------------------------------
# Fact encoding
# ---------------------------------------------------------------------------------------------

KEYS: dict[str, str] = {path: f"f{i}" for i, path in enumerate(sorted(FIELDS))}
GEO_C = ("unit.geo_x", "unit.geo_y", "unit.geo_z")
GEO_R = ("request.home_x", "request.home_y", "request.home_z", "request.distance_cos")
for _i, _p in enumerate(GEO_C + GEO_R):
    KEYS[_p] = f"g{_i}"  # precomputed by facts.py for the distance decision (geo.py)


def side(path: str) -> str:
    return "r" if path.split(".", 1)[0] == "request" else "c"


def ftype(path: str) -> str:
    return FIELDS[path].type if path in FIELDS else NUMBER


def encode_scalar(value: Any, t: str, where: str) -> Any:
    if t == DATE:
        if not isinstance(value, date):
            raise ValidationError(Problem(msg("rules.durable.expected", type=msg("rules.type.date"), got=_shown(value)), field=where))
        return value.toordinal()
    if t == STR:
        if not isinstance(value, str):
            raise ValidationError(Problem(msg("rules.durable.expected", type=msg("rules.type.str"), got=_shown(value)), field=where))
        s = _nfc_exact(value)
        if s.startswith("\x01"):
            raise ValidationError(Problem(msg("rules.durable.control_x01"), field=where))
        return s
    if t == BOOL:
        if not isinstance(value, bool):
            raise ValidationError(Problem(msg("rules.durable.expected", type=msg("rules.type.bool"), got=_shown(value)), field=where))
        return value
    if t in (INT, NUMBER):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError(Problem(msg("rules.durable.expected", type=msg("rules.type.number"), got=_shown(value)), field=where))
        return value
    raise ValidationError(Problem(msg("rules.durable.unsupported_type", type=t), field=where))


def _shown(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _nfc_exact(value: str) -> str:
    # Only normalise the form; white space is data the reference evaluator sees unchanged.
    import unicodedata
    return unicodedata.normalize("NFC", value)


def nfc_value(value: Any) -> Any:
    """NFC-normalise a string (without trimming, which would change values the reference sees)."""
    return _nfc_exact(value) if isinstance(value, str) else value


class Encoder:
    """Flat wire facts for durable-rules: short keys, lists as positions, dates as day numbers."""

    def __init__(self, capacities: dict[str, int], keep: frozenset[str] | None = None):
        self.capacities = capacities  # list field path -> number of positions
        # Only the keys the compiled rules read: every match carries its facts back as text,
        # so smaller facts are faster matches.
        self.keep = keep

    def encode(self, fact: dict, which: str, base: dict) -> dict:
        out = dict(base)
        out["z"] = 0
        if which == "r":
            fact = {"request": fact}  # the request fact is the request namespace itself
        prefixes = ("request",) if which == "r" else CANDIDATE_NS
        geo_paths = GEO_R if which == "r" else GEO_C
        for path, ft in FIELDS.items():
            if path.split(".", 1)[0] not in prefixes:
                continue
            value = get_path(fact, path)
            if value is None:
                continue
            key = KEYS[path]
            if ft.type == LIST:
                items = [encode_scalar(v, STR, path) for v in value]
                cap = self.capacities.get(path, 0)
                if len(items) > cap:
                    raise CapacityExceeded(path, len(items))
                out[key + "_n"] = len(items)
                for k in range(cap):
                    out[f"{key}_{k}"] = items[k] if k < len(items) else PAD[which]
            else:
                out[key] = encode_scalar(value, ft.type, path)
        for path in geo_paths:
            value = get_path(fact, path)
            if value is not None:
                out[KEYS[path]] = float(value)
        if self.keep is not None:
            out = {k: v for k, v in out.items() if k in base or k in self.keep}
        return out


class CapacityExceeded(Exception):
    """A list is longer than the positions the compiled ruleset has (the engine recompiles)."""

    def __init__(self, path: str, length: int):
        super().__init__(f"{path} has {length} items")
        self.path, self.length = path, length


# ---------------------------------------------------------------------------------------------
# Conditions to disjunctive normal form
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pos:
    """Position k of a list field (padded with the sentinel of its fact)."""

    path: str
    k: int


@dataclass(frozen=True)
class Pad:
    """The padding sentinel of the fact holding `path`."""

    path: str


@dataclass(frozen=True)
class Lit:
    """One literal of a conjunction: a comparison, a presence test or a regex match."""

    kind: str  # cmp | ex | nex | mt
    op: str = ""
    left: Any = None
    right: Any = None


TRUE: list[list[Lit]] = [[]]
FALSE: list[list[Lit]] = []


class _DNF:
    def __init__(self, rule: Rule, on: date, ruleset: Any, capacities: dict[str, int]):
        self.rule, self.on, self.ruleset, self.capacities = rule, on, ruleset, capacities

    def value(self, op: Any) -> Any:
        if isinstance(op, Param):
            v = self.ruleset.param(op.name, self.on)
            return Literal(tuple(v) if isinstance(v, list) else v)
        if isinstance(op, Arith):
            return Arith(op.op, self.value(op.left), self.value(op.right))
        return op

    def _and(self, parts: list[list[list[Lit]]]) -> list[list[Lit]]:
        out: list[list[Lit]] = [[]]
        for p in parts:
            out = [a + b for a in out for b in p]
            if len(out) > MAX_CONJUNCTIONS:
                raise _fail(self.rule, f"the condition expands to more than {MAX_CONJUNCTIONS} alternatives")
        return out

    def _or(self, parts: list[list[list[Lit]]]) -> list[list[Lit]]:
        out = [c for p in parts for c in p]
        if len(out) > MAX_CONJUNCTIONS:
            raise _fail(self.rule, f"the condition expands to more than {MAX_CONJUNCTIONS} alternatives")
        return out

    def cmp(self, op: str, left: Any, right: Any, neg: bool) -> list[list[Lit]]:
        if neg:
            op = NEGATE[op]
        if isinstance(left, Literal) and isinstance(right, Literal):
            return TRUE if _py_compare(op, left.value, right.value) else FALSE
        return [[Lit("cmp", op, left, right)]]

    def positions(self, path: str) -> list[Pos]:
        return [Pos(path, k) for k in range(self.capacities[path])]

    def dnf(self, c: Condition, neg: bool = False) -> list[list[Lit]]:
        if isinstance(c, All):
            parts = [self.dnf(i, neg) for i in c.items]
            return self._or(parts) if neg else self._and(parts)
        if isinstance(c, AnyOf):
            parts = [self.dnf(i, neg) for i in c.items]
            return self._and(parts) if neg else self._or(parts)
        if isinstance(c, Not):
            return self.dnf(c.item, not neg)
        if isinstance(c, Exists):
            return [[Lit("nex" if neg else "ex", left=c.path)]]
        if isinstance(c, Missing):
            return [[Lit("ex" if neg else "nex", left=c.path)]]
        if isinstance(c, Compare):
            left, right = self.value(c.left), self.value(c.right)
            if isinstance(left, Distance):
                return self.distance(c.op, right, neg)
            return self.cmp(c.op, left, right, neg)
        if isinstance(c, Matches):
            if neg:
                raise _fail(self.rule, "a negated 'matches' has no durable-rules equivalent")
            if "\\" in c.pattern:
                raise _fail(self.rule, f"pattern {c.pattern!r} uses a backslash escape: durable-rules rejects some "
                                       "(error 501) and matches '\\-' differently from Python")
            if not _SAFE_PATTERN.match(c.pattern) or "." in c.pattern:
                raise _fail(self.rule, f"pattern {c.pattern!r} uses '.' or non-ASCII characters, which durable-rules "
                                       "matches byte by byte (not character by character)")
            operand = self.value(c.operand)
            if not isinstance(operand, Field):
                raise _fail(self.rule, "'matches' on a computed value")
            return [[Lit("mt", left=operand, right=c.pattern)]]
        if isinstance(c, In):
            item, coll = self.value(c.item), self.value(c.collection)
            if isinstance(coll, Literal):
                alts = [self.cmp("eq", item, Literal(v), False) for v in coll.value]
            else:
                alts = [self.cmp("eq", p, item, False) for p in self.positions(coll.path)]
            return self._and([self.negate_plain(a) for a in alts]) if neg else self._or(alts)
        if isinstance(c, (Subset, Overlaps)):
            a, b = self.value(c.left), self.value(c.right)
            a_items = [Literal(v) for v in a.value] if isinstance(a, Literal) else self.positions(a.path)
            b_items = [Literal(v) for v in b.value] if isinstance(b, Literal) else self.positions(b.path)

            def is_pad(x: Any) -> list[list[Lit]]:
                return FALSE if isinstance(x, Literal) else self.cmp("eq", x, Pad(x.path), False)

            def member(x: Any) -> list[list[Lit]]:
                # x (a real element or a padding position of a) equals some real element of b
                return self._or([self.cmp("eq", x, y, False) for y in b_items] if not isinstance(x, Literal)
                                else [self.cmp("eq", y, x, False) for y in b_items])

            if isinstance(c, Subset):
                # every real element of a is in b
                per = [self._or([is_pad(x), member(x)]) for x in a_items]
                positive = per
                if neg:
                    return self._or([self._and([self.negate_plain(is_pad(x)), self.negate_plain(member(x))])
                                     for x in a_items])
                return self._and(positive)
            # overlaps: some real element of a equals some real element of b (pads never equal
            # a real value; a pad of a may equal a pad of b only when both are candidate lists)
            alts = [self._and([self.negate_plain(is_pad(x)), member(x)]) for x in a_items]
            if neg:
                return self._and([self.negate_plain(a_) for a_ in alts])
            return self._or(alts)
        raise _fail(self.rule, f"unsupported condition {type(c).__name__}")

    def negate_plain(self, d: list[list[Lit]]) -> list[list[Lit]]:
        """Negate a DNF whose literals are comparisons (De Morgan)."""
        parts = []
        for conj in d:
            parts.append([[Lit("cmp", NEGATE[l.op], l.left, l.right)] for l in conj])  # noqa: E741
        if not parts:
            return TRUE
        out = [[]]
        for p in parts:
            # not(conj) = any of negated literals
            out = [a + b for a in out for b in p]
            if len(out) > MAX_CONJUNCTIONS:
                raise _fail(self.rule, f"the condition expands to more than {MAX_CONJUNCTIONS} alternatives")
        return out if d else TRUE

    def distance(self, op: str, d: Any, neg: bool) -> list[list[Lit]]:
        if neg:
            op = NEGATE[op]
        return [[Lit("dist", geo.DOT_OP[op], None, d)]]


def _py_compare(op: str, a: Any, b: Any) -> bool:
    return {"eq": a == b, "ne": a != b}.get(op) if op in ("eq", "ne") else {
        "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


# ---------------------------------------------------------------------------------------------
# DNF literals to durable JSON
# ---------------------------------------------------------------------------------------------


def _paths(x: Any) -> list[str]:
    if isinstance(x, Field):
        return [x.path]
    if isinstance(x, (Pos, Pad)):
        return [x.path]
    if isinstance(x, Arith):
        return _paths(x.left) + _paths(x.right)
    return []


def presence_key(path: str) -> str:
    return KEYS[path] + "_n" if ftype(path) == LIST else KEYS[path]


class _Emit:
    """Turn one conjunction into the two patterns of a durable rule."""

    def __init__(self, rule: Rule):
        self.rule = rule
        self.alpha: dict[str, list] = {"r": [], "c": []}
        self.need: dict[str, list[str]] = {"r": [], "c": []}

    def need_path(self, path: str) -> None:
        s, key = side(path), presence_key(path)
        if key not in self.need[s]:
            self.need[s].append(key)

    def ref(self, x: Any, host: str) -> Any:
        """An operand as a durable right-hand value for a test on the `host` fact."""
        if isinstance(x, Literal):
            return _lit(x.value)
        if isinstance(x, Pad):
            return PAD[side(x.path)]
        if isinstance(x, (Field, Pos)):
            key = KEYS[x.path] if isinstance(x, Field) else f"{KEYS[x.path]}_{x.k}"
            return {"$m": key} if side(x.path) == host else {"r": key}
        if isinstance(x, Arith):
            left, right = self.ref(x.left, host), self.ref(x.right, host)
            if x.op == "div":
                if isinstance(x.right, Literal) and x.right.value == 0:
                    raise _fail(self.rule, "division by zero")
                left, right = _as_float(left, x.left), _as_float(right, x.right)
            return {"$" + x.op: {"$l": left, "$r": right}}
        raise _fail(self.rule, f"unsupported operand {x!r}")

    def own_key(self, x: Any, host: str) -> str | None:
        if isinstance(x, Field) and side(x.path) == host:
            return KEYS[x.path]
        if isinstance(x, Pos) and side(x.path) == host:
            return f"{KEYS[x.path]}_{x.k}"
        return None

    def add(self, lit: Lit) -> None:
        if lit.kind == "ex":
            self.need_path(lit.left)
            return
        if lit.kind == "nex":
            self.alpha[side(lit.left)].append({"$nex": {presence_key(lit.left): 1}})
            return
        if lit.kind == "mt":
            path = lit.left.path
            self.need_path(path)
            self.alpha[side(path)].append({"$mt": {KEYS[path]: lit.right}})
            return
        if lit.kind == "dist":
            for p in GEO_C + GEO_R[:3]:
                self.need_path(p)
            d = lit.right
            if isinstance(d, Literal):
                threshold: Any = float(geo.cos_threshold(d.value))
            elif isinstance(d, Field) and d.path == "request.max_distance_km":
                self.need_path(d.path)
                self.need_path("request.distance_cos")
                threshold = {"r": KEYS["request.distance_cos"]}
            else:
                raise _fail(self.rule, "distance_km is compared with something other than a number or "
                                       "request.max_distance_km")
            ux, uy, uz = ({"$m": KEYS[p]} for p in GEO_C)
            hx, hy, hz = ({"r": KEYS[p]} for p in GEO_R[:3])
            dot = _add(_add(_mul(ux, hx), _mul(uy, hy)), _mul(uz, hz))
            # dot OP threshold  <=>  0 OP (threshold - dot)
            self.alpha["c"].append({DURABLE_OP.get(lit.op, "$eq"): {"z": {"$sub": {"$l": threshold, "$r": dot}}}})
            return
        op, left, right = lit.op, lit.left, lit.right
        for p in _paths(left) + _paths(right):
            self.need_path(p)
        sides = {side(p) for p in _paths(left) + _paths(right)}
        host = "c" if "c" in sides else "r"
        types = {ftype(p) if not isinstance(x, (Pos, Pad)) else STR
                 for x in (left, right) for p in _paths(x)}
        if op not in ("eq", "ne") and (STR in types or BOOL in types
                                       or any(isinstance(x, Literal) and isinstance(x.value, (str, bool))
                                              for x in (left, right))):
            raise _fail(self.rule, "ordering comparison on text or booleans (durable-rules compares bytes)")
        if self.own_key(left, host) is None and self.own_key(right, host) is not None:
            op, left, right = FLIP[op], right, left
        key = self.own_key(left, host)
        if key is not None:
            value = self.ref(right, host)
            test = {key: value} if op == "eq" else {DURABLE_OP[op]: {key: value}}
        else:
            if STR in types or any(isinstance(x, Literal) and isinstance(x.value, str) for x in (left, right)):
                raise _fail(self.rule, "comparison of text without a field of the matched fact")
            # a OP b  <=>  0 OP (b - a)
            diff = {"$sub": {"$l": self.ref(right, host), "$r": self.ref(left, host)}}
            test = {"z": diff} if op == "eq" else {DURABLE_OP[op]: {"z": diff}}
        self.alpha[host].append(test)

    def patterns(self, kind_r: dict, kind_c: dict | None) -> list[dict]:
        r = [kind_r] + [{"$ex": {k: 1}} for k in self.need["r"]] + _unique(self.alpha["r"])
        out = [{"r": {"$and": r}}]
        if kind_c is not None:
            c = [kind_c] + [{"$ex": {k: 1}} for k in self.need["c"]] + _unique(self.alpha["c"])
            out.append({"c": {"$and": c}})
        elif self.need["c"] or self.alpha["c"]:
            raise _fail(self.rule, "a request rule reads candidate fields")
        return out


def _unique(tests: list) -> list:
    out, seen = [], set()
    for t in tests:
        key = json.dumps(t, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def _lit(v: Any) -> Any:
    if isinstance(v, date):
        return v.toordinal()
    if isinstance(v, str):
        return nfc_value(v)
    return v


def _as_float(v: Any, operand: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, dict):
        return {"$mul": {"$l": v, "$r": 1.0}}
    return v


def _add(a: Any, b: Any) -> dict:
    return {"$add": {"$l": a, "$r": b}}


def _mul(a: Any, b: Any) -> dict:
    return {"$mul": {"$l": a, "$r": b}}


# ---------------------------------------------------------------------------------------------
# Rules to a ruleset definition
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a durable rule name stands for: a rule's outcome or its unevaluable companion."""

    rule: Rule
    kind: str  # outcome | unevaluable
    missing_paths: tuple[str, ...]


def compile_rules(rules: list[Rule], on: date, ruleset: Any, capacities: dict[str, int],
                  *, tamper: Any = None) -> tuple[dict, dict[str, Target]]:
    """The durable ruleset definition (without actions) and what each rule name stands for.

    `tamper(rule, dnf)` lets a test break the compiled form of one rule (the differential
    test shows the search finds it); production never passes it."""
    definition: dict[str, dict] = {}
    targets: dict[str, Target] = {}
    for ri, rule in enumerate(rules):
        missing_params = [n for n in rule.params if ruleset.parameters[n].value_on(on) is None]
        if set(missing_params) & set(condition_params(rule.applies_when)):
            raise _fail(rule, f"applies_when uses parameter(s) {', '.join(missing_params)} with no value on {on}")
        _refuse_variable_division(rule)
        dn = _DNF(rule, on, ruleset, capacities)
        applies_fields = condition_fields(rule.applies_when)
        fields = condition_fields(rule.when)
        applies = dn.dnf(rule.applies_when) if rule.applies_when is not None else TRUE
        applies_ok = dn._and([[[Lit("ex", left=p) for p in applies_fields]], applies])
        # A parameter without a value on the date: wherever the rule applies it is unevaluable
        # (as in the reference evaluator), so `when` is not compiled at all.
        when = dn.dnf(rule.when) if not missing_params else FALSE
        if tamper is not None:
            when = tamper(rule, when)
        kind_r = {"k": "r"}
        kind_c = {"k": "c"} if rule.scope == "candidate" else None

        def emit(name: str, conjunctions: list[list[Lit]], target: Target) -> None:
            for ci, conj in enumerate(conjunctions):
                em = _Emit(rule)
                for lit in conj:
                    em.add(lit)
                definition[f"{name}_{ci}"] = {"all": em.patterns(kind_r, kind_c)}
                targets[f"{name}_{ci}"] = target

        # The outcome: applies_when's fields present and true, when's fields present and true.
        emit(f"o{ri}", dn._and([applies_ok, [[Lit("ex", left=p) for p in fields]], when]),
             Target(rule, "outcome", ()))
        # Unevaluable (reference semantics): a field of applies_when is null; or applies_when
        # holds and a field of when is null. One durable rule per field.
        for fi, path in enumerate(applies_fields):
            emit(f"a{ri}_{fi}", [[Lit("nex", left=path)]], Target(rule, "unevaluable", (path,)))
        if missing_params:
            emit(f"u{ri}_p", applies_ok, Target(rule, "unevaluable", ()))
        else:
            for fi, path in enumerate(fields):
                emit(f"u{ri}_{fi}", dn._and([applies_ok, [[Lit("nex", left=path)]]]),
                     Target(rule, "unevaluable", (path,)))
    # Anchors: a message matching no alpha node is not stored at all (MessageNotHandled), so
    # every candidate and every request matches one never-firing join; a session init fact
    # makes an action run in every session (delete_state on a session without one segfaults).
    definition["anchor_c"] = {"all": [{"c": {"k": "c"}}, {"x": {"k": "never"}}]}
    definition["anchor_r"] = {"all": [{"r": {"k": "r"}}, {"x": {"k": "never"}}]}
    definition["init"] = {"all": [{"i": {"k": "init"}}]}
    if len(definition) > MAX_DURABLE_RULES:
        raise CompileError(msg("rules.durable.too_many", on=str(on), count=len(definition), max=MAX_DURABLE_RULES))
    for name in definition:
        if name != "init":
            definition[name]["cap"] = 100000  # batch every match of one assert into one action call
    return definition, targets


def _refuse_variable_division(rule: Rule) -> None:
    """Division by a value known only at evaluation could be by zero, which the reference
    reports as unevaluable; durable-rules would compute inf. Only constant divisors compile."""
    def walk_operand(op: Any) -> None:
        if isinstance(op, Arith):
            if op.op == "div" and not isinstance(op.right, (Literal, Param)):
                raise _fail(rule, "division by a field (could be zero at evaluation time)")
            walk_operand(op.left)
            walk_operand(op.right)

    def walk(c: Any) -> None:
        if c is None:
            return
        for attr in ("left", "right", "item", "collection", "operand"):
            if hasattr(c, attr) and not isinstance(getattr(c, attr), str):
                walk_operand(getattr(c, attr))
        for ch in getattr(c, "items", ()) or ():
            walk(ch)
        if isinstance(c, Not):
            walk(c.item)

    walk(rule.applies_when)
    walk(rule.when)


def used_keys(definition: Any) -> frozenset[str]:
    """Every fact key a ruleset definition reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("r", "$m") and isinstance(v, str):
                    found.add(v)
                elif not k.startswith("$") and k not in ("all", "r", "c", "x", "i", "cap"):
                    found.add(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(definition)
    return frozenset(found)


def content_name(definition: dict) -> str:
    """Rulesets are named by content: registering a name twice raises."""
    body = json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "p" + hashlib.sha256(body.encode()).hexdigest()[:20]

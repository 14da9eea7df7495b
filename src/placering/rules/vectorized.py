"""The columnar evaluator: the same rule files evaluated on every candidate of an insats at once
with numpy, for matching at national scale (thousands of candidates per request).

Semantics are the reference evaluator's (`reference.py`, docs/ARCHITECTURE.md): per rule, a
null field read by `applies_when` makes it unevaluable; else a false `applies_when` means it
does not apply; else a null field read by `when`, a parameter without a value on the date, or a
division by zero (reached under the same short-circuit order as the generated Python) makes it
unevaluable; else a true `when` fires. Request-scope rules and everything a person reads
(reasons, messages, values, distances) are produced by the reference code itself, so they are
identical by construction.

At `load`, nothing is built; on the first request of an insats its candidates become a table
of columns (numbers, dates and bools as float64, text as integer codes of a per-table
dictionary, lists as bitsets over a per-table vocabulary, each with a null mask). The rules in
force on a date are compiled once into closures over numpy operations. The distance decision is
taken exactly as geo.py takes it: `(x*X + y*Y) + z*Z` in float64 against `geo.cos_threshold`.
A construct that cannot be vectorised faithfully raises `VectorizeError` naming the rule: it is
never evaluated differently.

`evaluate` returns a `VectorEvaluation`: it behaves like `RequestEvaluation` (`candidates`
materialises `CandidateOutcome`s on first access) and offers the matcher's fast path: the
eligible candidates' indices, per-candidate fired/unevaluable rule bitmasks, and single
candidates materialised on demand (`outcome(i)`).
"""

from __future__ import annotations

import operator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterator

import numpy as np

from ..errors import ValidationError
from . import geo
from .facts import RegisterSnapshot
from .regex import compile_pattern
from .model import (
    DATE,
    FIELDS,
    get_path,
    LIST,
    STR,
    All,
    Any as AnyOf,
    Arith,
    Compare,
    Condition,
    Distance,
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
)
from .reference import (
    CandidateOutcome,
    CompiledRule,
    Reason,
    ReferenceEvaluator,
    display_distance,
    outcome_reason,
    run_rule,
)
from .ruleset import RuleSet

Tamper = Callable[[Rule, Condition], Condition]

FIRED, UNEVALUABLE, DIV_ZERO = 1, 2, 3  # the reference's states
SHARED_STATE_BYTES = 32 << 20  # per table: rule states kept for the next requests (VectorizedEvaluator._shared_states)


class VectorizeError(ValidationError):
    """A rule uses a construct the columnar evaluator cannot reproduce exactly."""


def _ns(path: str) -> str:
    return path.split(".", 1)[0]


def _is_column(path: str) -> bool:
    return _ns(path) != "request"


def _kind(path: str) -> str:
    t = FIELDS[path].type if path in FIELDS else None
    if t == STR:
        return "str"
    if t == LIST:
        return "list"
    return "num"


def _num(v: Any) -> Any:
    """A scalar in the column representation of numbers (dates as day ordinals, bools 0/1)."""
    if isinstance(v, date):
        return float(v.toordinal())
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    return v


# ---------------------------------------------------------------------------------------------
# The columnar table of one insats' candidates
# ---------------------------------------------------------------------------------------------


class Table:
    """Columns of the candidates of one insats (built once per insats and register)."""

    def __init__(self, candidates: list[dict], paths: list[str]):
        self.cands = list(candidates)  # the candidate dicts this table was built from
        self.n = n = len(candidates)
        self.unit_ids = [c["unit"]["unit_id"] for c in candidates]
        self.routes = [c["route"]["route"] for c in candidates]
        # Units in first-appearance order: unit_code[i] is candidate i's unit, members its candidates.
        codes: dict[str, int] = {}
        self.unit_members: list[list[int]] = []
        for i, u in enumerate(self.unit_ids):
            k = codes.get(u)
            if k is None:
                k = codes[u] = len(codes)
                self.unit_members.append([])
            self.unit_members[k].append(i)
        self.unit_names = list(codes)
        self.unit_code = np.fromiter((codes[u] for u in self.unit_ids), dtype=np.int64, count=n)
        self._route_masks: dict[tuple, np.ndarray] = {}
        raw: dict[str, list] = {}
        for path in paths:
            a, b = path.split(".", 1)
            raw[path] = [(c.get(a) or {}).get(b) for c in candidates]
        # One text dictionary and one list vocabulary per table, so columns compare with each other.
        self.str_code: dict[str, int] = {}
        self.list_bit: dict[str, int] = {}
        for path, vals in raw.items():
            k = _kind(path)
            if k == "str":
                for v in vals:
                    if v is not None and v not in self.str_code:
                        self.str_code[v] = len(self.str_code)
            elif k == "list":
                for v in vals:
                    for x in v or ():
                        if x not in self.list_bit:
                            self.list_bit[x] = len(self.list_bit)
        self.str_vocab = list(self.str_code)
        self.words = max(1, (len(self.list_bit) + 63) // 64)
        # text code -> list bit (-1: the text is in no list), for `unit_field in route_list`.
        self.str_to_bit = np.array([self.list_bit.get(s, -1) for s in self.str_vocab] + [-1], dtype=np.int64)
        self.values: dict[str, np.ndarray] = {}
        self.null: dict[str, np.ndarray] = {}
        for path, vals in raw.items():
            null = np.fromiter((v is None for v in vals), dtype=bool, count=n)
            k = _kind(path)
            if k == "str":
                arr = np.fromiter((-1 if v is None else self.str_code[v] for v in vals), dtype=np.int64, count=n)
            elif k == "list":
                arr = np.zeros((n, self.words), dtype=np.uint64)
                rows, bits = [], []
                for i, v in enumerate(vals):
                    for x in v or ():
                        rows.append(i)
                        bits.append(self.list_bit[x])
                if rows:
                    b = np.asarray(bits, dtype=np.int64)
                    np.bitwise_or.at(arr, (np.asarray(rows), b // 64),
                                     np.left_shift(np.uint64(1), (b % 64).astype(np.uint64)))
            else:
                arr = np.fromiter((0.0 if v is None else _num(v) for v in vals), dtype=np.float64, count=n)
            self.values[path] = arr
            self.null[path] = null
        self.geo = [np.fromiter((0.0 if c["unit"].get(k) is None else c["unit"][k] for c in candidates),
                                dtype=np.float64, count=n) for k in ("geo_x", "geo_y", "geo_z")]
        self._regex: dict[str, np.ndarray] = {}
        self._lookups: dict[tuple, np.ndarray] = {}
        self.shared: dict[tuple, tuple] = {}  # (rule, request values) -> its states (VectorizedEvaluator)

    def route_mask(self, routes: tuple[str, ...]) -> np.ndarray:
        """Candidates whose route is one of `routes` (cached: policies rarely change)."""
        m = self._route_masks.get(routes)
        if m is None:
            m = self._route_masks[routes] = np.array([r in routes for r in self.routes], dtype=bool)
        return m

    def code(self, value: Any) -> int:
        return self.str_code.get(value, -2)  # -2: matches no column value (nulls are -1)

    def mask(self, values: Any) -> tuple[np.ndarray, bool]:
        """The bitset of a request/literal list, and whether it holds a value no column has."""
        m = np.zeros(self.words, dtype=np.uint64)
        unknown = False
        for x in values:
            b = self.list_bit.get(x)
            if b is None:
                unknown = True
            else:
                m[b // 64] |= np.uint64(1) << np.uint64(b % 64)
        return m, unknown

    def lookup(self, values: Any) -> np.ndarray:
        """Per text code, whether the text is one of `values` (last element: null, False)."""
        key = tuple(values)
        lut = self._lookups.get(key)
        if lut is None:
            lut = np.zeros(len(self.str_vocab) + 1, dtype=bool)
            for v in key:
                c = self.str_code.get(v)
                if c is not None:
                    lut[c] = True
            if len(self._lookups) > 4096:
                self._lookups.clear()
            self._lookups[key] = lut
        return lut

    def regex(self, pattern: str) -> np.ndarray:
        """Full match of the pattern per text code (last element: null, False)."""
        if pattern not in self._regex:
            rx = compile_pattern(pattern)
            self._regex[pattern] = np.array([rx.fullmatch(s) is not None for s in self.str_vocab] + [False])
        return self._regex[pattern]


    def __getstate__(self) -> dict:
        # Cached on disk without the candidate dicts (the snapshot has them) or the lazy caches.
        state = dict(self.__dict__, cands=None, _regex={}, _lookups={}, _route_masks={}, shared={})
        return state

    def attach(self, candidates: list[dict]) -> "Table":
        """A table read from the cache, joined to the candidate dicts it was built from."""
        if len(candidates) != self.n or [c["unit"]["unit_id"] for c in candidates] != self.unit_ids:
            raise ValueError("cached table and candidates differ")
        self.cands = list(candidates)
        self.shared = {}
        return self

    def patched(self, candidates: list[dict], units: frozenset[str], paths: list[str]) -> "Table | None":
        """This table (of the list `candidates` was derived from, read from the disk cache) with
        the rows of the changed `units` built again from `candidates`: what `Table(candidates,
        paths)` holds, codes aside (a text new to the table is coded after the others; codes are
        only compared for equality and looked up). None when the candidates are not row for row
        the same units (a unit gained or lost a route), or a changed row holds a list item no
        row had (the bitsets would widen): then the whole table is built."""
        unit_ids = [c["unit"]["unit_id"] for c in candidates]
        if len(unit_ids) != self.n or unit_ids != self.unit_ids or list(paths) != list(self.values):
            return None
        rows = [i for i, u in enumerate(unit_ids) if u in units]
        new = object.__new__(Table)
        new.__dict__.update(self.__dict__)
        new.cands = list(candidates)
        new._route_masks, new._regex, new._lookups = {}, {}, {}
        if not rows:
            return new
        sub = Table([candidates[i] for i in rows], paths)
        if any(x not in self.list_bit for x in sub.list_bit):
            return None
        at = np.asarray(rows, dtype=np.int64)
        new.routes = list(self.routes)
        for i in rows:
            new.routes[i] = candidates[i]["route"]["route"]
        new.str_code, new.str_vocab = dict(self.str_code), list(self.str_vocab)
        for v in sub.str_vocab:
            if v not in new.str_code:
                new.str_code[v] = len(new.str_vocab)
                new.str_vocab.append(v)
        if len(new.str_vocab) != len(self.str_vocab):
            new.str_to_bit = np.array([self.list_bit.get(v, -1) for v in new.str_vocab] + [-1], dtype=np.int64)
        recode = np.array([new.str_code[v] for v in sub.str_vocab] + [-1], dtype=np.int64)  # sub's -1 -> -1
        new.values, new.null = dict(self.values), dict(self.null)
        for path in paths:
            k = _kind(path)
            values, null = self.values[path].copy(), self.null[path].copy()
            null[at] = sub.null[path]
            if k == "str":
                values[at] = recode[sub.values[path]]
            elif k == "list":
                a, b = path.split(".", 1)
                values[at] = 0
                for i in rows:
                    for x in (candidates[i].get(a) or {}).get(b) or ():
                        bit = self.list_bit[x]
                        values[i, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
            else:
                values[at] = sub.values[path]
            new.values[path], new.null[path] = values, null
        new.geo = [g.copy() for g in self.geo]
        for g, s in zip(new.geo, sub.geo):
            g[at] = s
        return new

    def built_from(self, candidates: list[dict]) -> bool:
        """Whether `candidates` are still the dicts this table was built from (a refreshed
        register replaces a unit's candidate dicts, even in place in the same list)."""
        return len(candidates) == self.n and all(map(operator.is_, candidates, self.cands))


# ---------------------------------------------------------------------------------------------
# Compiling conditions into closures over a table and a request
# ---------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    t: Table
    req: dict
    root: dict  # {"request": req}
    err: Any = False  # rows where a division by zero was reached
    frozen: dict = field(default_factory=dict)  # request path -> its value as a key (_shared_states)


def _and(a: Any, b: Any) -> Any:
    if a is True:
        return b
    if b is True:
        return a
    if a is False or b is False:
        return False
    return a & b


def _or(a: Any, b: Any) -> Any:
    if a is False:
        return b
    if b is False:
        return a
    if a is True or b is True:
        return True
    return a | b


def _not(a: Any) -> Any:
    if isinstance(a, (bool, np.bool_)):
        return not a
    return ~a


def _none(mask: Any) -> bool:
    """No row is selected (a scalar False or an all-false array)."""
    if isinstance(mask, np.ndarray):
        return not mask.any()
    return not mask


def _put(state: np.ndarray, mask: Any, value: int) -> None:
    """state[mask] = value, for a mask disjoint from the rows already set."""
    if isinstance(mask, np.ndarray):
        state += mask.view(np.int8) * np.int8(value) if mask.dtype == bool else mask.astype(np.int8) * np.int8(value)
    elif mask:
        state += np.int8(value)


def _any_bits(x: np.ndarray) -> np.ndarray:
    return (x != 0).any(axis=1)


class _Compiler:
    """Compiles one rule's conditions; `operand` returns (fn(ctx, reach), kind, is_column)."""

    def __init__(self, rule: Rule, params: dict[str, Any]):
        self.rule, self.params = rule, params
        self.has_div = False
        self.has_distance = False  # reads the request's home position (not through a field path)

    def fail(self, what: str) -> VectorizeError:
        return VectorizeError(f"rule {self.rule.id} ({self.rule.file}): cannot vectorise {what}")

    # -- operands -------------------------------------------------------------------------
    def operand(self, op: Operand) -> tuple[Callable, str, bool]:
        if isinstance(op, Field):
            path = op.path
            if _is_column(path):
                if path not in FIELDS:
                    raise self.fail(f"unknown field {path}")
                return (lambda ctx, reach: ctx.t.values[path]), _kind(path), True
            return (lambda ctx, reach: get_path(ctx.root, path)), _kind(path), False
        if isinstance(op, Literal):
            v = op.value
            kind = "list" if isinstance(v, (list, tuple)) else "str" if isinstance(v, str) else "num"
            return (lambda ctx, reach: v), kind, False
        if isinstance(op, Param):
            if op.name not in self.params:
                raise self.fail(f"parameter {op.name} without a value")
            v = self.params[op.name]
            kind = "list" if isinstance(v, (list, tuple)) else "str" if isinstance(v, str) else "num"
            return (lambda ctx, reach: v), kind, False
        if isinstance(op, Arith):
            lf, lk, lc = self.operand(op.left)
            rf, rk, rc = self.operand(op.right)
            if lk != "num" or rk != "num":
                raise self.fail(f"arithmetic on {lk} and {rk}")
            if _has_date(op):
                raise self.fail("arithmetic on dates")
            name = op.op
            if name == "div":
                self.has_div = True
            if not lc and not rc:
                def scalar(ctx, reach):
                    a, b = lf(ctx, reach), rf(ctx, reach)
                    if name == "add":
                        return a + b
                    if name == "sub":
                        return a - b
                    if name == "mul":
                        return a * b
                    if b == 0:
                        ctx.err = _or(ctx.err, True if reach is None else reach)
                        return 0.0
                    return a / b
                return scalar, "num", False
            ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[name]

            def column(ctx, reach):
                a, b = lf(ctx, reach), rf(ctx, reach)
                if name == "div":
                    zero = b == 0
                    ctx.err = _or(ctx.err, zero if reach is None else _and(zero, reach))
                    with np.errstate(all="ignore"):
                        return ufunc(a, b)
                return ufunc(a, b)
            return column, "num", True
        if isinstance(op, Distance):
            raise self.fail("distance_km outside a comparison")
        raise self.fail(f"operand {op!r}")

    # -- conditions -----------------------------------------------------------------------
    def condition(self, c: Condition) -> Callable:
        if isinstance(c, (All, AnyOf)):
            items = [self.condition(i) for i in c.items]
            is_all = isinstance(c, All)

            def combine(ctx, reach):
                res: Any = is_all
                for f in items:
                    if res is (not is_all):
                        return res  # decided: later items are not evaluated (nor their divisions)
                    r = reach
                    if self.has_div and res is not is_all:
                        guard = res if is_all else _not(res)
                        r = guard if reach is None else _and(reach, guard)
                    v = f(ctx, r)
                    res = _and(res, v) if is_all else _or(res, v)
                return res
            return combine
        if isinstance(c, Not):
            f = self.condition(c.item)
            return lambda ctx, reach: _not(f(ctx, reach))
        if isinstance(c, (Exists, Missing)):
            path, present = c.path, isinstance(c, Exists)
            if _is_column(path):
                return (lambda ctx, reach: ~ctx.t.null[path]) if present else (lambda ctx, reach: ctx.t.null[path])
            return lambda ctx, reach: (get_path(ctx.root, path) is not None) is present
        if isinstance(c, Compare):
            return self.compare(c)
        if isinstance(c, In):
            return self.contains(c)
        if isinstance(c, (Subset, Overlaps)):
            return self.sets(c)
        if isinstance(c, Matches):
            f, k, col = self.operand(c.operand)
            if k != "str":
                raise self.fail("matches on a non-text operand")
            pattern = c.pattern
            if col:
                return lambda ctx, reach: ctx.t.regex(pattern)[f(ctx, reach)]
            rx = compile_pattern(pattern)
            return lambda ctx, reach: rx.fullmatch(f(ctx, reach)) is not None
        raise self.fail(f"condition {c!r}")

    def compare(self, c: Compare) -> Callable:
        op = c.op
        if isinstance(c.left, Distance):
            df, dk, dcol = self.operand(c.right)
            if dcol or dk != "num":
                raise self.fail("distance_km compared with a candidate field")
            ufunc = {"gt": np.less, "ge": np.less_equal, "lt": np.greater, "le": np.greater_equal}.get(op)
            if ufunc is None:
                raise self.fail(f"distance_km {op}")

            self.has_distance = True

            def distance(ctx, reach):
                gx, gy, gz = ctx.t.geo
                r = ctx.req
                hx, hy, hz = r.get("home_x"), r.get("home_y"), r.get("home_z")
                if hx is None:
                    return False  # the rule is unevaluable (request.home_* null) before this
                dot = (gx * hx + gy * hy) + gz * hz  # geo.dot's summation order
                return ufunc(dot, geo.cos_threshold(df(ctx, reach)))
            return distance
        if isinstance(c.right, Distance):
            raise self.fail("distance_km on the right of a comparison")
        lf, lk, lc = self.operand(c.left)
        rf, rk, rc = self.operand(c.right)
        if lk != rk or lk == "list":
            raise self.fail(f"'{op}' between {lk} and {rk}")
        if lk == "str" and op not in ("eq", "ne"):
            raise self.fail(f"'{op}' on text")
        py = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
              "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b}[op]
        uf = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
              "ge": np.greater_equal}[op]
        if not lc and not rc:
            return lambda ctx, reach: bool(py(lf(ctx, reach), rf(ctx, reach)))
        conv = (lambda ctx, v: ctx.t.code(v)) if lk == "str" else (lambda ctx, v: _num(v))

        def cmp(ctx, reach):
            a, b = lf(ctx, reach), rf(ctx, reach)
            if not lc:
                a = conv(ctx, a)
            if not rc:
                b = conv(ctx, b)
            return uf(a, b)
        return cmp

    def contains(self, c: In) -> Callable:
        itf, ik, icol = self.operand(c.item)
        cf, ck, ccol = self.operand(c.collection)
        if ik != "str" or ck != "list":
            raise self.fail(f"'in' of {ik} in {ck}")
        if not icol and not ccol:
            return lambda ctx, reach: itf(ctx, reach) in cf(ctx, reach)
        if not icol:
            def item_scalar(ctx, reach):
                b = ctx.t.list_bit.get(itf(ctx, reach))
                if b is None:
                    return False
                col = cf(ctx, reach)
                return ((col[:, b // 64] >> np.uint64(b % 64)) & np.uint64(1)).astype(bool)
            return item_scalar
        if not ccol:
            def coll_scalar(ctx, reach):
                return ctx.t.lookup(cf(ctx, reach))[itf(ctx, reach)]
            return coll_scalar

        def both(ctx, reach):
            t = ctx.t
            bits = t.str_to_bit[itf(ctx, reach)]
            ok = bits >= 0
            safe = np.where(ok, bits, 0)
            words = cf(ctx, reach)[np.arange(t.n), safe // 64]
            return ok & ((words >> (safe % 64).astype(np.uint64)) & np.uint64(1)).astype(bool)
        return both

    def sets(self, c: Subset | Overlaps) -> Callable:
        lf, lk, lcol = self.operand(c.left)
        rf, rk, rcol = self.operand(c.right)
        if lk != "list" or rk != "list":
            raise self.fail(f"'{type(c).__name__.lower()}' of {lk} and {rk}")
        subset = isinstance(c, Subset)
        if not lcol and not rcol:
            if subset:
                return lambda ctx, reach: set(lf(ctx, reach)).issubset(rf(ctx, reach))
            return lambda ctx, reach: not set(lf(ctx, reach)).isdisjoint(rf(ctx, reach))

        def run(ctx, reach):
            t = ctx.t
            a, b = lf(ctx, reach), rf(ctx, reach)
            if subset:
                if not lcol:  # request list ⊆ column: a value no column has is in none
                    m, unknown = t.mask(a)
                    return False if unknown else ((b & m) == m).all(axis=1)
                if not rcol:
                    m, _ = t.mask(b)
                    return ~_any_bits(a & ~m)
                return ~_any_bits(a & ~b)
            if not lcol:
                a, _ = t.mask(a)
            if not rcol:
                b, _ = t.mask(b)
            return _any_bits(a & b)
        return run


def _has_date(op: Operand) -> bool:
    if isinstance(op, Field):
        return op.path in FIELDS and FIELDS[op.path].type == DATE
    if isinstance(op, Literal):
        return isinstance(op.value, date)
    if isinstance(op, Arith):
        return _has_date(op.left) or _has_date(op.right)
    return False


@dataclass
class VRule:
    """One candidate rule compiled for a date: the reference's CompiledRule and its closures."""

    cr: CompiledRule
    applies: Callable | None
    when: Callable | None  # None: a parameter has no value, the rule is unevaluable where it applies
    applies_null: list[str]
    when_null: list[str]
    applies_div: bool
    when_div: bool
    # The request's fields the rule reads (its state over a table is a function of their values),
    # or None when it reads more (a distance: the home position) and is evaluated every time.
    request_paths: tuple[str, ...] | None = None


def compile_vrule(cr: CompiledRule, tamper: Tamper | None = None) -> VRule:
    rule = cr.rule
    # One compiler per condition: each closure consults its own tree's `has_div` at run time.
    comp = _Compiler(rule, cr.params)
    applies = comp.condition(rule.applies_when) if rule.applies_when is not None else None
    applies_div, distance = comp.has_div, comp.has_distance
    comp = _Compiler(rule, cr.params)
    when = None
    if not cr.missing_params:
        cond = tamper(rule, rule.when) if tamper else rule.when
        when = comp.condition(cond)
    paths = condition_fields(rule.applies_when) + condition_fields(rule.when) + \
        condition_presence_fields(rule.applies_when) + condition_presence_fields(rule.when)
    for p in paths:
        if p not in FIELDS:
            raise comp.fail(f"unknown field {p}")
    reads = None if distance or comp.has_distance or tamper else tuple(dict.fromkeys(p for p in paths if not _is_column(p)))
    return VRule(cr, applies, when, condition_fields(rule.applies_when), condition_fields(rule.when),
                 applies_div, comp.has_div, reads)


def _frozen(value: Any) -> Any:
    """A request value as part of a dictionary key, its type included (1, 1.0 and True are
    different values to a rule's text); NotImplemented for a value that cannot be one."""
    if value is None or isinstance(value, (str, int, float, date)):
        return (type(value), value)
    if isinstance(value, (list, tuple)):
        items = tuple(_frozen(v) for v in value)
        return NotImplemented if NotImplemented in items else (list, items)
    return NotImplemented


# ---------------------------------------------------------------------------------------------
# The evaluation result
# ---------------------------------------------------------------------------------------------


class VectorEvaluation:
    """A request's evaluation, materialised lazily (see module docstring).

    `states[r, i]` is 0 (no outcome), 1 (rule r fired on candidate i), 2 (unevaluable: null or
    missing parameter) or 3 (division by zero), as the reference's generated code records them.
    `eligible` (no exclusion, nothing unevaluable) is computed with the states; the other
    per-candidate figures on first use."""

    def __init__(self, table: Table, request: dict, rules: list[VRule], states: np.ndarray, eligible: np.ndarray,
                 request_flags: list[Reason], unevaluable: list[Reason], rules_version: str, on: date):
        self.table, self.request, self.rules, self.states = table, request, rules, states
        self.eligible = eligible
        self.request_flags, self.unevaluable = request_flags, unevaluable
        self.rules_version, self.evaluated_on = rules_version, on
        self._outcomes: list[CandidateOutcome | None] = [None] * table.n
        self._all: list[CandidateOutcome] | None = None
        self._excl = np.array([vr.cr.is_exclusion for vr in rules], dtype=bool)
        self._counts: tuple | None = None
        self.shared: list[dict | None] | None = None  # per rule, what requests sharing its states share (evaluate)
        # Per candidate: how many exclusion rules fired, and whether any rule was unevaluable.
        self.exclusion_count = np.zeros(table.n, dtype=np.int16)
        self.any_unevaluable = np.zeros(table.n, dtype=bool)

    def _stats(self) -> tuple:
        if self._counts is None:
            fired_excl = (self.states[self._excl] == FIRED) if self.rules else np.zeros((0, self.table.n), bool)
            unev = self.states > FIRED
            excl_count = fired_excl.sum(axis=0)
            first = np.full(self.table.n, -1, dtype=np.int64)
            excl_idx = np.flatnonzero(self._excl)
            for k in range(len(excl_idx) - 1, -1, -1):  # last to first: the first one wins
                first[fired_excl[k]] = excl_idx[k]
            self._counts = (excl_count, unev.sum(axis=0), first)
        return self._counts

    @property
    def unevaluable_count(self) -> np.ndarray:
        return self._stats()[1]

    @property
    def first_exclusion(self) -> np.ndarray:
        """Per candidate, the first exclusion rule (in rule order) that fired; -1 for none."""
        return self._stats()[2]

    def _bits(self, mask: np.ndarray) -> np.ndarray:
        if len(self.rules) > 64:
            raise ValueError("bitmasks hold at most 64 rules")
        out = np.zeros(self.table.n, dtype=np.uint64)
        for r in range(len(self.rules)):
            out |= mask[r].astype(np.uint64) << np.uint64(r)
        return out

    @property
    def fired_bits(self) -> np.ndarray:
        """Per candidate, bit r set when rule r (of `rules`) fired."""
        return self._bits(self.states == FIRED)

    @property
    def unevaluable_bits(self) -> np.ndarray:
        return self._bits(self.states > FIRED)

    @property
    def size(self) -> int:
        return self.table.n

    @property
    def unit_ids(self) -> list[str]:
        return self.table.unit_ids

    @property
    def routes(self) -> list[str]:
        return self.table.routes

    @property
    def eligible_indices(self) -> np.ndarray:
        return np.flatnonzero(self.eligible)

    def positions(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidates (sorted indices) where rule r fired, and where it could not be
        evaluated; computed once for the requests that share the rule's states."""
        derived = self.shared[r] if self.shared is not None else None
        if derived is not None:
            found = derived.get("positions")
            if found is not None:
                return found
        row = self.states[r]
        found = (np.flatnonzero(row == FIRED), np.flatnonzero(row > FIRED))
        if derived is not None:
            for a in found:
                a.flags.writeable = False
            derived["positions"] = found
        return found

    def rule_code(self, index: int) -> str:
        return self.rules[index].cr.code

    # -- the matcher's fast path ------------------------------------------------------------
    @property
    def unit_code(self) -> np.ndarray:
        """Per candidate, the index of its unit in `unit_names` (first-appearance order)."""
        return self.table.unit_code

    @property
    def unit_names(self) -> list[str]:
        return self.table.unit_names

    @property
    def unit_members(self) -> list[list[int]]:
        """Per unit, the indices of its candidates (routes)."""
        return self.table.unit_members

    def route_mask(self, routes: tuple[str, ...]) -> np.ndarray:
        return self.table.route_mask(tuple(routes))

    def only_exclusion(self, code: str) -> np.ndarray:
        """Candidates excluded by exactly one rule, of this code, and with nothing unevaluable."""
        hit: Any = False
        for r, vr in enumerate(self.rules):
            if vr.cr.is_exclusion and vr.cr.code == code:
                hit = _or(hit, self.states[r] == FIRED)
        return (self.exclusion_count == 1) & ~self.any_unevaluable & hit

    def reason_counts(self, mask: np.ndarray, unevaluable_code: str) -> dict[str, dict[str, int]]:
        """For the candidates in `mask`: per route (first-appearance order), how many have each
        exclusion code (once per candidate), or any unevaluable rule (`unevaluable_code`)."""
        by_code: dict[str, np.ndarray] = {}
        for r, vr in enumerate(self.rules):
            if vr.cr.is_exclusion:
                hit = self.states[r] == FIRED
                by_code[vr.cr.code] = by_code[vr.cr.code] | hit if vr.cr.code in by_code else hit
        by_code[unevaluable_code] = self.any_unevaluable
        out: dict[str, dict[str, int]] = {}
        idx = np.flatnonzero(mask)
        routes = self.table.routes
        for route in dict.fromkeys(routes[i] for i in idx):
            rm = mask & self.table.route_mask((route,))
            per = {code: int(np.count_nonzero(rm & hit)) for code, hit in by_code.items()}
            out[route] = {c: k for c, k in per.items() if k}
        return out

    def outcome(self, i: int) -> CandidateOutcome:
        """Candidate i as the reference builds it (reasons identical, formatted on access)."""
        o = self._outcomes[i]
        if o is None:
            col = self.states[:, i].tolist()
            o = self._build(i, [(r, st) for r, st in enumerate(col) if st])
        return o

    def materialise(self, indices: Any) -> None:
        """Build the outcomes of many candidates at once (one pass over their states)."""
        idx = np.asarray(indices, dtype=np.int64)
        idx = idx[[self._outcomes[i] is None for i in idx.tolist()]] if len(idx) else idx
        if not len(idx):
            return
        sub = self.states[:, idx].T  # candidates × rules
        pos, rules = np.nonzero(sub)
        vals = sub[pos, rules].tolist()
        hits: list[list[tuple[int, int]]] = [[] for _ in range(len(idx))]
        for p, r, v in zip(pos.tolist(), rules.tolist(), vals):
            hits[p].append((r, v))
        for i, h in zip(idx.tolist(), hits):
            self._build(i, h)

    def _build(self, i: int, hits: list[tuple[int, int]]) -> CandidateOutcome:
        cand = self.table.cands[i]
        fact = dict(cand)
        fact["request"] = self.request
        distance = fact["distance_km"] = display_distance(fact)
        exclusions: list[Reason] = []
        flags: list[Reason] = []
        unevaluable: list[Reason] = []
        rules = self.rules
        for r, state in hits:
            cr = rules[r].cr
            if state != FIRED:
                unevaluable.append(outcome_reason(cr, fact, state)[1])
            elif cr.is_exclusion:
                exclusions.append(Reason(cr.code, cr.rule.id, None, None, cr.source, lazy=(cr, fact)))
            else:
                flags.append(Reason(cr.code, cr.rule.id, None, None, cr.source, lazy=(cr, fact)))
        u, rt = cand["unit"], cand["route"]
        o = CandidateOutcome(
            unit_id=u["unit_id"], org_nr=u["org_nr"], route=rt["route"], agreement_id=rt["agreement_id"],
            daily_price=rt["daily_price"], distance_km=distance,
            exclusions=exclusions, flags=flags, unevaluable=unevaluable, fact=fact)
        self._outcomes[i] = o
        return o

    @property
    def candidates(self) -> list[CandidateOutcome]:
        if self._all is None:
            self.materialise(np.arange(self.table.n))
            self._all = list(self._outcomes)
        return self._all

    def candidate(self, unit_id: str) -> list[CandidateOutcome]:
        return [self.outcome(i) for i, u in enumerate(self.table.unit_ids) if u == unit_id]


# ---------------------------------------------------------------------------------------------
# The evaluator
# ---------------------------------------------------------------------------------------------


class VectorizedEvaluator:
    """Evaluate requests against a RuleSet column-wise with numpy (same interface as the
    reference; register events are evaluated by the reference code)."""

    name = "vectorized"

    def __init__(self, ruleset: RuleSet, *, tamper: Tamper | None = None):
        self.ruleset = ruleset
        self._ref = ReferenceEvaluator(ruleset)
        self.snapshot: RegisterSnapshot | None = None
        self._tables: dict[str, Table] = {}
        self._programs: dict[tuple, list[VRule]] = {}
        self._tamper = tamper
        self._settled = 0  # inside `unchanged()`
        self._checked: dict[str, list[dict]] = {}  # insats -> the candidate list its table was checked against
        paths: list[str] = []
        for rule in ruleset.rules:
            if rule.scope != "candidate":
                continue
            for p in condition_fields(rule.applies_when) + condition_fields(rule.when) + \
                    condition_presence_fields(rule.applies_when) + condition_presence_fields(rule.when):
                if _is_column(p) and p not in paths:
                    paths.append(p)
        self._paths = paths

    def load(self, snapshot: RegisterSnapshot) -> None:
        """Keep the register resident; tables are built per insats on first use and rebuilt
        when the snapshot's candidates of the insats change (`RegisterSnapshot.refresh`)."""
        self.snapshot = snapshot
        self._ref.snapshot = snapshot
        self._tables.clear()
        self._checked.clear()

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """While the caller does not change the snapshot's candidates (a batch decided on one
        stored snapshot, which is never changed), each insats' table is checked against its
        candidate list once, not at every request (at 20,000 units the check is a tenth of a
        request's evaluation). Outside it every request checks (`table`)."""
        self._settled += 1
        try:
            yield
        finally:
            self._settled -= 1
            if not self._settled:
                self._checked.clear()

    def table(self, insats: str) -> Table:
        cands = self.snapshot.candidates(insats)
        t = self._tables.get(insats)
        if t is not None and self._settled and self._checked.get(insats) is cands:
            return t
        if t is None or not t.built_from(cands):
            t = self._tables[insats] = self._build_table(insats, cands)
        if self._settled:
            self._checked[insats] = cands  # held: the same list object, checked
        return t

    def _build_table(self, insats: str, cands: list[dict]) -> Table:
        """Columns of an insats' candidates; read back from the disk cache when they come from a
        stored register snapshot that an earlier process built them from (diskcache.py)."""
        digest = (getattr(self.snapshot, "digests", None) or {}).get(insats)
        if not digest:
            return Table(cands, self._paths)
        from ..diskcache import cached_by_content, peek_by_content
        from ..matching.snapshots import derived_from

        def build() -> Table:
            # A list re-encoded after a register change or a new day (snapshots.py `_updated`):
            # the table of the list it came from, with the changed units' rows built again.
            derived = derived_from(digest)
            if derived is not None:
                base = peek_by_content("table", derived[0] + "\0" + "\0".join(self._paths))
                if isinstance(base, Table):
                    patched = base.patched(cands, derived[1], self._paths)
                    if patched is not None:
                        return patched
            return Table(cands, self._paths)

        table = cached_by_content("table", digest + "\0" + "\0".join(self._paths), build)
        try:
            return table.attach(cands)
        except ValueError:  # not what it claims to be: build it
            return Table(cands, self._paths)

    def program(self, on: date) -> list[VRule]:
        key = self._ref._epoch(on)
        if key not in self._programs:
            if len(self._programs) > 64:
                self._programs.clear()
            rules = self._ref.compiled("eligibility", on, "candidate") + self._ref.compiled("review", on, "candidate")
            self._programs[key] = [compile_vrule(cr, self._tamper) for cr in rules]
        return self._programs[key]

    def evaluate(self, request_fact: dict, *, on: date) -> VectorEvaluation:
        if self.snapshot is None:
            raise RuntimeError("load(snapshot) first")
        req = request_fact
        request_flags: list[Reason] = []
        request_unevaluable: list[Reason] = []
        rfact = {"request": req}
        for cr in self._ref.compiled("review", on, "request"):
            state, r = run_rule(cr, rfact)
            if state == "fired":
                request_flags.append(r)
            elif state == "unevaluable":
                request_unevaluable.append(r)
        rules = self.program(on)
        t = self.table(req["insats"])
        states = np.zeros((len(rules), t.n), dtype=np.int8)
        excluded = np.zeros(t.n, dtype=np.int16)  # exclusion rules fired
        unevaluable = np.zeros(t.n, dtype=bool)
        shared: list[dict | None] = [None] * len(rules)
        if t.n:
            ctx = _Ctx(t, req, rfact)
            for j, vr in enumerate(rules):
                states[j], shared[j] = self._shared_states(vr, ctx)
            unevaluable = (states > FIRED).any(axis=0)
            exclusion = np.fromiter((vr.cr.is_exclusion for vr in rules), dtype=bool, count=len(rules))
            excluded = (states[exclusion] == FIRED).sum(axis=0, dtype=np.int16)
        ev = VectorEvaluation(t, req, rules, states, (excluded == 0) & ~unevaluable, request_flags,
                              request_unevaluable, self.ruleset.version, on)
        ev.exclusion_count, ev.any_unevaluable = excluded, unevaluable
        ev.shared = shared
        return ev

    def _shared_states(self, vr: VRule, ctx: _Ctx) -> tuple[np.ndarray, dict | None]:
        """`_states`, shared by the requests that give the rule's request fields the same values
        (a batch has many requests of one insats with the same age, gender, sub-category ...):
        computed once per table, rule and values, with a dict of what is derived from them (None
        when not shared). A rule that reads the request's position is computed for every request."""
        if vr.request_paths is None:
            return self._states(vr, ctx), None
        known = ctx.frozen  # the request's values as keys, read once per request
        key = tuple(known[p] if p in known else known.setdefault(p, _frozen(get_path(ctx.root, p)))
                    for p in vr.request_paths)
        if NotImplemented in key:
            return self._states(vr, ctx), None
        memo = ctx.t.shared
        slot = memo.get((id(vr), key))
        if slot is not None and slot[0] is vr:  # the same compiled rule (its program is kept while held here)
            return slot[1], slot[2]
        state = self._states(vr, ctx)
        state.flags.writeable = False  # shared: copied into each evaluation's matrix, never changed
        if len(memo) >= max(64, SHARED_STATE_BYTES // max(ctx.t.n, 1)):
            memo.clear()
        derived: dict[str, Any] = {}  # what is computed from the states, shared with them (VectorEvaluation.positions)
        memo[(id(vr), key)] = (vr, state, derived)
        return state, derived

    @staticmethod
    def _null(paths: list[str], ctx: _Ctx) -> Any:
        out: Any = False
        for p in paths:
            if _is_column(p):
                out = _or(out, ctx.t.null[p])
            elif get_path(ctx.root, p) is None:
                return True
        return out

    def _states(self, vr: VRule, ctx: _Ctx) -> np.ndarray:
        """The reference's per-rule decision, for every candidate at once (masks are disjoint:
        unevaluable before applies, division by zero, unevaluable in when, fired)."""
        n = ctx.t.n
        state = np.zeros(n, dtype=np.int8)
        an = self._null(vr.applies_null, ctx)
        _put(state, an, UNEVALUABLE)
        open_: Any = _not(an)  # rows still undecided
        if _none(open_):
            return state
        if vr.applies is not None:
            ctx.err = False
            ap = vr.applies(ctx, None if open_ is True else open_)
            err = _and(ctx.err, open_)
            if err is not False:
                _put(state, err, DIV_ZERO)
                open_ = _and(open_, _not(err))
            open_ = _and(open_, ap)
            if _none(open_):
                return state
        if vr.when is None:  # a parameter has no value on the date
            _put(state, open_, UNEVALUABLE)
            return state
        wn = self._null(vr.when_null, ctx)
        if wn is not False:
            _put(state, _and(open_, wn), UNEVALUABLE)
            open_ = _and(open_, _not(wn))
            if _none(open_):
                return state
        ctx.err = False
        w = vr.when(ctx, None if open_ is True else open_)
        err = _and(ctx.err, open_)
        if err is not False:
            _put(state, err, DIV_ZERO)
            open_ = _and(open_, _not(err))
        _put(state, _and(open_, w), FIRED)
        return state

    def evaluate_fact(self, stage: str, fact: dict, *, on: date):
        """One fact at a time (register events): the reference's code."""
        return self._ref.evaluate_fact(stage, fact, on=on)

    def compiled(self, stage: str, on: date, scope: str | None = None) -> list[CompiledRule]:
        return self._ref.compiled(stage, on, scope)

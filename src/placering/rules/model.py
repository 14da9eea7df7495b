"""The rule-file model: condition AST, operands, outcomes, rules, parameters and the fact schema.

Everything here is a frozen dataclass so a loaded RuleSet cannot be changed by an evaluator.
The loader (`loader.py`) builds these from YAML and validates them against `FIELDS`; both
evaluators (`reference.py`, `durable_engine.py`) interpret the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
import typing as t

# ---------------------------------------------------------------------------------------------
# Fact schema: every field path a rule may name, with its type and whether it may be null.
# Types: "str", "int", "number", "bool", "date", "list[str]". int and number compare with each
# other; a null value in a referenced field makes a rule unevaluable (ARCHITECTURE.md).
# ---------------------------------------------------------------------------------------------

STR, INT, NUMBER, BOOL, DATE, LIST = "str", "int", "number", "bool", "date", "list[str]"
SCALAR_TYPES = (STR, INT, NUMBER, BOOL, DATE)
NUMERIC = frozenset({INT, NUMBER})


@dataclass(frozen=True)
class FieldType:
    type: str
    nullable: bool = False
    doc: str = ""


def _f(t: str, nullable: bool = False, doc: str = "") -> FieldType:
    return FieldType(t, nullable, doc)


FIELDS: dict[str, FieldType] = {
    # request.* (the placement request, derived by facts.request_fact)
    "request.request_id": _f(STR),
    "request.insats": _f(STR),
    "request.subcategory": _f(STR, True),
    "request.municipality_key": _f(STR, doc="folded buying municipality"),
    "request.requester": _f(STR, True),
    "request.urgency": _f(STR, True),
    "request.legal_basis": _f(STR, True),
    "request.network": _f(STR, doc="the first step of the priority order, the person's own network: considered, not_considered or not_recorded"),
    "request.submitted_on": _f(DATE, doc="decision date: rules and parameters valid then apply"),
    "request.start_on": _f(DATE),
    "request.places": _f(INT),
    "request.person.age": _f(INT),
    "request.person.gender": _f(STR, True),
    "request.person.needs": _f(LIST),
    "request.person.protected_identity": _f(BOOL),
    "request.max_distance_km": _f(NUMBER, True),
    "request.avoid_municipality_keys": _f(LIST),
    "request.max_daily_price": _f(NUMBER, True),
    "request.declined_units": _f(LIST),
    "request.insats_age_min": _f(INT),
    "request.insats_age_max": _f(INT, True, "null: the insats has no upper age"),
    "request.subcategory_age_min": _f(INT, True, "the sub-category's own age band, where the sources give one"),
    "request.subcategory_age_max": _f(INT, True, "null: no upper age of its own"),
    "request.reference_price": _f(NUMBER, True, "median of the active ramavtal daily prices and recent final direct-procurement prices of the insats"),
    "request.price_confirmed_since": _f(DATE, True, "decision day minus price_confirmation_months: a price confirmed before it is due for confirmation"),
    "request.home_lat": _f(NUMBER, True),
    "request.home_lon": _f(NUMBER, True),
    # unit.*
    "unit.unit_id": _f(STR),
    "unit.org_nr": _f(STR),
    "unit.status": _f(STR),
    "unit.municipality_key": _f(STR),
    "unit.protected_address": _f(BOOL),
    "unit.places": _f(INT),
    "unit.free_places": _f(INT),
    "unit.age_min": _f(INT),
    "unit.age_max": _f(INT),
    "unit.genders": _f(LIST),
    "unit.target_groups": _f(LIST),
    "unit.subcategories": _f(LIST, doc="sub-categories the unit offers of this candidate's insats"),
    "unit.lat": _f(NUMBER, True),
    "unit.lon": _f(NUMBER, True),
    "unit.complaints_12m": _f(INT, doc="complaints received in the 12 months up to the evaluation date"),
    # route.*
    "route.route": _f(STR),
    "route.insats": _f(STR),
    "route.agreement_id": _f(STR, True),
    "route.daily_price": _f(NUMBER, True),
    "route.valid_from": _f(DATE, True),
    "route.valid_to": _f(DATE, True),
    "route.buyers": _f(LIST, doc="folded municipality keys"),
    "route.status": _f(STR),
    "route.reserved_nonprofit": _f(BOOL),
    "route.price_confirmed_on": _f(DATE, True, "the day the price was last confirmed as current; null: never stated"),
    # permit.* (the unit's IVO permit for the candidate's insats; exists=false when none)
    "permit.exists": _f(BOOL),
    "permit.dnr": _f(STR, True),
    "permit.status": _f(STR, True),
    "permit.insats": _f(STR, True),
    "permit.target_groups": _f(LIST, True),
    "permit.decided_on": _f(DATE, True),
    # supplier.*
    "supplier.org_nr": _f(STR),
    "supplier.legal_form": _f(STR),
    "supplier.credit_rating": _f(NUMBER, True, "value of the latest credit_rating check"),
    "supplier.credit_rating_on": _f(DATE, True),
    "supplier.credit_rating_result": _f(STR, True),
    # event.* (register_status stage: what was just recorded)
    "event.kind": _f(STR, doc="check | permit | complaint"),
    "event.on": _f(DATE),
    "event.insats": _f(STR, True, "the permit's insats (permit events)"),
    "event.permit_required": _f(BOOL, True, "the permit's insats is permit-bound on event.on (permit events)"),
    "event.framework_agreement": _f(BOOL, True, "the unit takes the permit's insats through an active framework "
                                                "agreement (permit events)"),
    # check.* (register_status stage, event.kind == check)
    "check.kind": _f(STR, True),
    "check.result": _f(STR, True),
    "check.value": _f(NUMBER, True),
    "check.performed_on": _f(DATE, True),
    "check.previous_value": _f(NUMBER, True, "value of the previous check of the same kind"),
    "check.previous_result": _f(STR, True),
    # complaint.* (register_status stage, event.kind == complaint): similar complaints on the
    # same supplier (same category, any of its units) within the dated window up to event.on
    "complaint.category": _f(STR, True),
    "complaint.similar_on_supplier": _f(INT, True, "complaints of this category on the supplier's units in the window, this one included"),
    "complaint.similar_units": _f(INT, True, "how many of the supplier's units those complaints concern"),
    "complaint.window_months": _f(INT, True, "the window (parameter complaints_similar_window_months)"),
}

# Text fields that hold codes, and the vocabulary (vocabulary.py, or the taxonomy) a literal
# compared with them must come from: `eq: [unit.status, publised]` is a load error, not a rule
# that silently never fires.
FIELD_CODES: dict[str, str] = {
    "request.insats": "insats", "route.insats": "insats", "permit.insats": "insats", "event.insats": "insats",
    "request.subcategory": "subcategory", "unit.subcategories": "subcategory",
    "request.urgency": "urgency", "request.legal_basis": "legal_basis",
    "request.person.gender": "gender", "unit.genders": "gender",
    "request.person.needs": "target_group", "unit.target_groups": "target_group",
    "permit.target_groups": "target_group",
    "unit.status": "unit_status", "route.status": "agreement_status", "route.route": "route",
    "permit.status": "permit_status", "supplier.legal_form": "legal_form",
    "supplier.credit_rating_result": "check_result", "check.result": "check_result",
    "check.previous_result": "check_result", "check.kind": "check_kind", "event.kind": "event_kind",
}

NAMESPACES = frozenset(p.split(".", 1)[0] for p in FIELDS)
# Namespaces a rule of each scope may read.
SCOPE_NAMESPACES = {
    "candidate": frozenset({"request", "unit", "route", "permit", "supplier"}),
    "request": frozenset({"request"}),
    "event": frozenset({"event", "check", "complaint", "unit", "permit", "supplier"}),
}
# register_status rules name the event they react to; each event provides these namespaces.
EVENT_NAMESPACES = {
    "check": frozenset({"event", "check", "unit", "supplier"}),
    "permit": frozenset({"event", "permit", "unit", "supplier"}),
    "complaint": frozenset({"event", "complaint", "unit", "supplier"}),
}
STAGES = ("eligibility", "review", "register_status", "ranking")
STAGE_SCOPES = {
    "eligibility": frozenset({"candidate"}),
    "review": frozenset({"candidate", "request"}),
    "register_status": frozenset({"event"}),
}

# The computed operand `distance_km` needs these fields (unevaluable when any is null).
DISTANCE_FIELDS = ("unit.lat", "unit.lon", "request.home_lat", "request.home_lon")

# ---------------------------------------------------------------------------------------------
# Operands
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """A fact field by dotted path, e.g. `request.person.age`."""

    path: str


@dataclass(frozen=True)
class Param:
    """A named parameter; the value valid on the evaluation date is used."""

    name: str


@dataclass(frozen=True)
class Literal:
    """A constant: number, string, bool, date or list of strings (lists are tuples)."""

    value: t.Any


@dataclass(frozen=True)
class Arith:
    """`add | sub | mul | div` of two numeric operands."""

    op: str
    left: "Operand"
    right: "Operand"


@dataclass(frozen=True)
class Distance:
    """Great-circle distance in km from the request's home to the unit (see geo.py).

    Only valid as the left side of `gt | ge | lt | le` against a number; both evaluators decide
    it with geo.compare_distance so they agree to the last bit.
    """


Operand = t.Union[Field, Param, Literal, Arith, Distance]
ARITH_OPS = ("add", "sub", "mul", "div")

# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Any:
    items: tuple["Condition", ...]


@dataclass(frozen=True)
class Not:
    item: "Condition"


@dataclass(frozen=True)
class Compare:
    op: str  # eq ne lt le gt ge
    left: Operand
    right: Operand


@dataclass(frozen=True)
class In:
    item: Operand
    collection: Operand


@dataclass(frozen=True)
class Subset:
    """Every element of `left` is in `right` (an empty left is a subset of anything)."""

    left: Operand
    right: Operand


@dataclass(frozen=True)
class Overlaps:
    """`left` and `right` share at least one element."""

    left: Operand
    right: Operand


@dataclass(frozen=True)
class Exists:
    path: str


@dataclass(frozen=True)
class Missing:
    path: str


@dataclass(frozen=True)
class Matches:
    """Full match of a text field against a restricted regular expression."""

    operand: Operand
    pattern: str


Condition = t.Union[All, Any, Not, Compare, In, Subset, Overlaps, Exists, Missing, Matches]
COMPARE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")
CONDITION_KEYS = ("all", "any", "not", *COMPARE_OPS, "in", "subset", "overlaps", "exists", "missing", "matches")

# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exclude:
    """Eligibility: the candidate is excluded with this reason code."""

    code: str
    message: str


@dataclass(frozen=True)
class Flag:
    """Review: the candidate or the request is flagged with this code."""

    code: str
    message: str


@dataclass(frozen=True)
class Transition:
    """Register status: change the unit's status (and/or its agreements for the event's insats)."""

    message: str
    unit_status: str | None = None
    removal_reason: str | None = None
    agreement_status: str | None = None


@dataclass(frozen=True)
class Propose:
    """Register status: put a proposal (e.g. deepened_control) on the maintainers' worklist."""

    kind: str
    message: str


Outcome = t.Union[Exclude, Flag, Transition, Propose]
PROPOSAL_KINDS = ("deepened_control", "republish", "check_unavailable", "assess_removal", "order_stop")

# ---------------------------------------------------------------------------------------------
# Rules, policies, parameters
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a rule or parameter value comes from: a document and section, or a law."""

    document: str | None = None
    section: str | None = None
    law: str | None = None
    note: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.document:
            parts.append(self.document + (f", {self.section}" if self.section else ""))
        if self.law:
            parts.append(self.law)
        text = "; ".join(parts)
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    description: str
    stage: str
    scope: str
    source: Source
    valid_from: date
    valid_to: date | None
    applies_when: Condition | None
    when: Condition
    outcome: Outcome
    file: str
    line: int | None
    params: tuple[str, ...] = ()  # parameters the conditions or message refer to
    event: str | None = None  # register_status: check | permit | complaint

    def valid_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    @property
    def code(self) -> str:
        o = self.outcome
        if isinstance(o, (Exclude, Flag)):
            return o.code
        if isinstance(o, Propose):
            return o.kind
        return o.unit_status or o.agreement_status or "transition"


@dataclass(frozen=True)
class SortKey:
    key: str
    order: str  # asc | desc


@dataclass(frozen=True)
class RankingPolicy:
    """The priority order (stage: ranking): route order, last resort, sort keys, how many."""

    id: str
    title: str
    description: str
    source: Source
    valid_from: date
    valid_to: date | None
    route_order: tuple[str, ...]
    last_resort: tuple[str, ...]
    sort_keys: tuple[SortKey, ...]
    recommendations: int
    file: str
    line: int | None
    stage: str = "ranking"

    def valid_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


# The keys the matcher can rank eligible units on within a route (the route order itself is the
# policy's route_order, so it is not a sort key).
RANKING_SORT_KEYS = ("needs_fit", "daily_price", "distance_km", "unit_id", "org_nr", "free_places", "agreement_id")


@dataclass(frozen=True)
class ParameterValue:
    valid_from: date
    valid_to: date | None
    value: t.Any
    source: Source
    line: int | None = None

    def valid_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class Parameter:
    """A named, dated value with its source (credit-rating levels, price factor, …)."""

    name: str
    description: str
    type: str  # one of the field types, or "table" (a mapping: not usable in conditions)
    values: tuple[ParameterValue, ...]
    file: str
    line: int | None
    unit: str | None = None

    def value_on(self, on: date) -> ParameterValue | None:
        for v in self.values:
            if v.valid_on(on):
                return v
        return None


# ---------------------------------------------------------------------------------------------
# Walking conditions (used by the loader, both evaluators and `rules show`)
# ---------------------------------------------------------------------------------------------


def operand_fields(op: Operand) -> list[str]:
    """Field paths an operand reads (distance reads the four coordinates)."""
    if isinstance(op, Field):
        return [op.path]
    if isinstance(op, Arith):
        return operand_fields(op.left) + operand_fields(op.right)
    if isinstance(op, Distance):
        return list(DISTANCE_FIELDS)
    return []


def operand_params(op: Operand) -> list[str]:
    if isinstance(op, Param):
        return [op.name]
    if isinstance(op, Arith):
        return operand_params(op.left) + operand_params(op.right)
    return []


def _children(cond: Condition) -> list:
    if isinstance(cond, (All, Any)):
        return list(cond.items)
    if isinstance(cond, Not):
        return [cond.item]
    return []


def _operands(cond: Condition) -> list[Operand]:
    if isinstance(cond, Compare):
        return [cond.left, cond.right]
    if isinstance(cond, In):
        return [cond.item, cond.collection]
    if isinstance(cond, (Subset, Overlaps)):
        return [cond.left, cond.right]
    if isinstance(cond, Matches):
        return [cond.operand]
    return []


def condition_fields(cond: Condition | None) -> list[str]:
    """Field paths whose null value makes the condition unevaluable (not exists/missing), in
    first-use order without duplicates."""
    out: list[str] = []
    if cond is None:
        return out

    def walk(c: Condition) -> None:
        for op in _operands(c):
            for p in operand_fields(op):
                if p not in out:
                    out.append(p)
        for ch in _children(c):
            walk(ch)

    walk(cond)
    return out


def condition_presence_fields(cond: Condition | None) -> list[str]:
    """Field paths tested by exists/missing."""
    out: list[str] = []
    if cond is None:
        return out

    def walk(c: Condition) -> None:
        if isinstance(c, (Exists, Missing)) and c.path not in out:
            out.append(c.path)
        for ch in _children(c):
            walk(ch)

    walk(cond)
    return out


def condition_params(cond: Condition | None) -> list[str]:
    out: list[str] = []
    if cond is None:
        return out

    def walk(c: Condition) -> None:
        for op in _operands(c):
            for p in operand_params(op):
                if p not in out:
                    out.append(p)
        for ch in _children(c):
            walk(ch)

    walk(cond)
    return out


def uses_distance(cond: Condition | None) -> bool:
    if cond is None:
        return False
    if any(isinstance(op, Distance) or (isinstance(op, Arith) and _arith_has_distance(op)) for op in _operands(cond)):
        return True
    return any(uses_distance(ch) for ch in _children(cond))


def _arith_has_distance(op: Arith) -> bool:
    return any(
        isinstance(x, Distance) or (isinstance(x, Arith) and _arith_has_distance(x)) for x in (op.left, op.right)
    )


def get_path(fact: dict, path: str) -> t.Any:
    """The value at a dotted path in a nested fact dict; None when absent."""
    node: t.Any = fact
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
        if node is None:
            return None
    return node


def render_operand(op: Operand, words: dict[str, str] | None = None) -> str:
    if isinstance(op, Field):
        return op.path
    if isinstance(op, Param):
        return f"param:{op.name}"
    if isinstance(op, Distance):
        return "distance_km"
    if isinstance(op, Arith):
        sym = {"add": "+", "sub": "-", "mul": "×", "div": "/"}[op.op]
        return f"({render_operand(op.left, words)} {sym} {render_operand(op.right, words)})"
    v = op.value
    if isinstance(v, tuple):
        return "[" + ", ".join(v) + "]"
    if isinstance(v, bool):
        return (words or CONDITION_WORDS)["true" if v else "false"]
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}
# The words of a rendered condition: these (the rule language's own) for --json and programs;
# `rules show` passes the people's (cli/rules.py, from the message catalogue).
CONDITION_WORDS = {"and": "and", "or": "or", "not": "not", "in": "in", "overlaps": "overlaps", "exists": "exists",
          "missing": "missing", "matches": "matches", "true": "true", "false": "false"}


def render_condition(cond: Condition | None, words: dict[str, str] | None = None) -> str:
    """A condition as one line of text (`rules show`): field paths and parameters as the rule
    files write them, the connectives in `words` (the rule language's English by default)."""
    if cond is None:
        return ""
    w = words or CONDITION_WORDS
    again = lambda c: render_condition(c, words)  # noqa: E731
    operand = lambda o: render_operand(o, words)  # noqa: E731
    if isinstance(cond, All):
        return "(" + f" {w['and']} ".join(again(c) for c in cond.items) + ")"
    if isinstance(cond, Any):
        return "(" + f" {w['or']} ".join(again(c) for c in cond.items) + ")"
    if isinstance(cond, Not):
        return f"{w['not']} " + again(cond.item)
    if isinstance(cond, Compare):
        return f"{operand(cond.left)} {_SYMBOLS[cond.op]} {operand(cond.right)}"
    if isinstance(cond, In):
        return f"{operand(cond.item)} {w['in']} {operand(cond.collection)}"
    if isinstance(cond, Subset):
        return f"{operand(cond.left)} ⊆ {operand(cond.right)}"
    if isinstance(cond, Overlaps):
        return f"{operand(cond.left)} {w['overlaps']} {operand(cond.right)}"
    if isinstance(cond, Exists):
        return f"{cond.path} {w['exists']}"
    if isinstance(cond, Missing):
        return f"{cond.path} {w['missing']}"
    if isinstance(cond, Matches):
        return f'{operand(cond.operand)} {w["matches"]} "{cond.pattern}"'
    return repr(cond)


def source_json(source: t.Any) -> t.Any:
    """A rule's, policy's or parameter's source as JSON: a mapping of the fields that are set
    (matching.matcher re-exports it)."""
    if source is None or isinstance(source, (str, dict)):
        return source
    fields = ("document", "section", "law", "note")
    if any(hasattr(source, f) for f in fields):
        return {f: getattr(source, f) for f in fields if getattr(source, f, None)}
    return str(source)

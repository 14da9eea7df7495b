"""Strict loading of rule files: every problem is collected and reported with file, rule id
and line, so nothing unvalidated reaches an evaluator (durable-rules reports only numeric codes).

Checked: duplicate and unknown keys, unknown operators, unknown field paths, fields outside the
rule's scope, type mismatches (a date compared with a number, ordering on text), invalid or
unsupported patterns, duplicate rule ids, overlapping validity of two versions of one rule,
references to missing parameters, missing source or valid_from, unknown outcome codes.
"""

from __future__ import annotations

import errno
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import Problem, ValidationError, os_reason
from .. import vocabulary as vocab
from ..vocabulary import AgreementStatus, ExclusionCode, FlagCode, RemovalReason, Route, UnitStatus
from ..yamlio import line_of, load_yaml
from .model import (
    ARITH_OPS,
    COMPARE_OPS,
    CONDITION_KEYS,
    DATE,
    EVENT_NAMESPACES,
    FIELD_CODES,
    FIELDS,
    LIST,
    NAMESPACES,
    NUMERIC,
    PROPOSAL_KINDS,
    RANKING_SORT_KEYS,
    SCOPE_NAMESPACES,
    STAGE_SCOPES,
    STAGES,
    STR,
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
    Parameter,
    Propose,
    RankingPolicy,
    Rule,
    SortKey,
    Subset,
    Transition,
    condition_params,
)
from ..i18n import Message, msg
from .regex import pattern_error
from .parameters import TABLE, load_parameter_file, parse_date, parse_source, value_type

FILE_KEYS = ("stage", "description", "rules")
RULE_KEYS = ("id", "title", "description", "stage", "scope", "event", "source", "valid_from", "valid_to",
             "applies_when", "when", "outcome")
POLICY_KEYS = ("id", "title", "description", "source", "valid_from", "valid_to", "route_order",
               "last_resort", "sort_keys", "recommendations")
OUTCOME_KINDS = ("exclude", "flag", "transition", "proposal")
OUTCOME_KEYS = (*OUTCOME_KINDS, "message")
TRANSITION_KEYS = ("unit_status", "removal_reason", "agreement_status")
STAGE_OUTCOMES = {
    "eligibility": ("exclude",),
    "review": ("flag",),
    "register_status": ("transition", "proposal", "flag"),
}
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
CODE = re.compile(r"^[A-Z][A-Z0-9_]*$")
DISTANCE = "distance_km"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

# The regular-expression subset all three evaluators run alike (RE2 in the Python evaluators,
# durable-rules' own dialect): ASCII literal characters, classes like [a-z0-9_-] (no negation),
# the quantifiers * + ?, groups ( ) with alternation |. Matching is always a full match, so ^ and
# $ are not needed and not allowed; neither are {m,n}, \d, \w, lookarounds, '.', backslash
# escapes or non-ASCII characters, which durable-rules reads differently (byte by byte; its
# escapes), so a rule would decide differently, or not at all, on the default engine.
_RE_LITERAL = re.compile(r"[\w .,:/@'-]", re.UNICODE)
_RE_ESCAPABLE = set(".-+*?()[]|\\/")
MAX_PATTERN = 200


def check_pattern(pattern: str) -> Message | None:
    """None when the pattern is in the supported subset, else what is wrong."""
    if not pattern:
        return msg("rules.pattern.empty")
    for i, ch in enumerate(pattern):
        if ch == "\\":
            return msg("rules.pattern.backslash", pos=i + 1)
        if ch == ".":
            return msg("rules.pattern.dot", pos=i + 1)
        if not ch.isascii():
            return msg("rules.pattern.non_ascii", char=ch, pos=i + 1)
    depth = 0
    i = 0
    prev_atom = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1] not in _RE_ESCAPABLE:
                nxt = pattern[i + 1] if i + 1 < len(pattern) else "end"
                return msg("rules.pattern.escape", char=nxt, pos=i + 1)
            i += 2
            prev_atom = True
            continue
        if ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                return msg("rules.pattern.unclosed_class", pos=i + 1)
            body = pattern[i + 1:end]
            if not body:
                return msg("rules.pattern.empty_class", pos=i + 1)
            if body.startswith("^"):
                return msg("rules.pattern.negated_class", pos=i + 1)
            for c in body:
                if c in "[\\":
                    return msg("rules.pattern.in_class", char=c, pos=i + 1)
            i = end + 1
            prev_atom = True
            continue
        if ch == "(":
            if pattern.startswith("(?", i):
                return msg("rules.pattern.group_option", pos=i + 1)
            depth += 1
            prev_atom = False
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return msg("rules.pattern.unbalanced_close", pos=i + 1)
            prev_atom = True
        elif ch in "*+?":
            if not prev_atom:
                return msg("rules.pattern.nothing_to_repeat", char=ch, pos=i + 1)
            prev_atom = False
        elif ch == "|":
            prev_atom = False
        elif ch == ".":
            prev_atom = True
        elif ch in "^${}":
            return msg("rules.pattern.anchor", char=ch, pos=i + 1)
        elif _RE_LITERAL.fullmatch(ch):
            prev_atom = True
        else:
            return msg("rules.pattern.character", char=ch, pos=i + 1)
        i += 1
    if depth:
        return msg("rules.pattern.unbalanced_open")
    if len(pattern) > MAX_PATTERN:
        return msg("rules.pattern.too_long", max=MAX_PATTERN)
    return pattern_error(pattern)  # what RE2, which the evaluators run, accepts


_ENUMS = {
    "urgency": vocab.Urgency, "legal_basis": vocab.LegalBasis, "gender": vocab.Gender,
    "target_group": vocab.TargetGroup, "unit_status": vocab.UnitStatus, "agreement_status": vocab.AgreementStatus,
    "route": vocab.Route, "permit_status": vocab.PermitStatus, "legal_form": vocab.LegalForm,
    "check_result": vocab.CheckResult, "check_kind": vocab.CheckKind, "event_kind": vocab.EventKind,
}
OUTCOME_CODES = {"exclude": ExclusionCode, "flag": FlagCode}


def vocabulary(name: str) -> list[str]:
    """The codes a field of FIELD_CODES may hold (insatser and sub-categories: registry/taxonomy.yaml)."""
    if name in _ENUMS:
        return [e.value for e in _ENUMS[name]]
    from ..taxonomy import load_taxonomy

    tax = load_taxonomy()
    if name == "insats":
        return list(tax.insatser)
    return list(dict.fromkeys(s for ins in tax.insatser.values() for s in ins.subcategories))


def _literal_codes(ctx: "_Ctx", node: Any, *operands: Operand) -> None:
    """A literal compared with a code field must be one of that field's codes."""
    fields = [o.path for o in operands if isinstance(o, Field) and o.path in FIELD_CODES]
    literals = [o.value for o in operands if isinstance(o, Literal)]
    for path in fields:
        known = vocabulary(FIELD_CODES[path])
        for value in literals:
            for code in (value if isinstance(value, tuple) else (value,)):
                if isinstance(code, str) and code not in known:
                    ctx.error(msg("rules.unknown_code_compared", what=msg("unknown." + FIELD_CODES[path]), code=code, field=path,
                                  known=", ".join(known)), node)
                    raise _Bad


class _Ctx:
    """Where we are while parsing one rule, for error messages."""

    def __init__(self, file: str, rule_id: str | None, scope: str, params: dict[str, Parameter],
                 problems: list[Problem], line: int | None):
        self.file, self.rule_id, self.scope, self.params = file, rule_id, scope, params
        self.problems, self.line = problems, line
        self.namespaces = SCOPE_NAMESPACES[scope]

    def error(self, message: str, node: Any = None, key: Any = None, field: str | None = None) -> None:
        line = None
        if node is not None:
            line = line_of(node, key) if key is not None else line_of(node)
        self.problems.append(Problem(message, self.file, line or self.line,
                                     self.rule_id and msg("rules.record.rule", id=self.rule_id), field))


def _v(value: Any) -> str:
    """A value in a rule file as it is written there (YAML flow style), never a Python repr."""
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


def _t(type_name: str | None) -> Message:
    """A fact type (str, number, list[str] …) in words."""
    return msg(_TYPE_IDS.get(type_name, "rules.type.none"))


_TYPE_IDS = {"str": "rules.type.str", "int": "rules.type.int", "number": "rules.type.number", "bool": "rules.type.bool",
             "date": "rules.type.date", "list[str]": "rules.type.list", "table": "rules.type.table"}


class _Bad(Exception):
    """A sub-expression was rejected (its problem is already recorded)."""


def _operand(node: Any, ctx: _Ctx, parent: Any) -> tuple[Operand, str]:
    """Parse an operand and infer its type ('distance' for the computed distance)."""
    if isinstance(node, str):
        if node == DISTANCE:
            return Distance(), "distance"
        head = node.split(".", 1)[0]
        if "." in node and head in NAMESPACES:
            if node not in FIELDS:
                close = [p for p in FIELDS if p.startswith(head + ".")]
                ctx.error(msg("rules.unknown_field_path", path=node, head=head, fields=", ".join(close)), parent)
                raise _Bad
            if head not in ctx.namespaces:
                ctx.error(msg("rules.field_not_in_scope_ns", field=node, scope=ctx.scope,
                              namespaces=", ".join(sorted(ctx.namespaces))), parent)
                raise _Bad
            return Field(node), FIELDS[node].type
        return Literal(node), STR
    if isinstance(node, dict):
        if len(node) != 1:
            ctx.error(msg("rules.operand_one_key", ops=", ".join(ARITH_OPS), got=_v(list(node))), node)
            raise _Bad
        (key, val), = node.items()
        if key == "param":
            if not isinstance(val, str) or val not in ctx.params:
                ctx.error(msg("rules.missing_parameter", name=val), node)
                raise _Bad
            ptype = ctx.params[val].type
            if ptype == TABLE:
                ctx.error(msg("rules.parameter_is_table", name=val), node)
                raise _Bad
            return Param(val), ptype
        if key in ARITH_OPS:
            if not isinstance(val, list) or len(val) != 2:
                ctx.error(msg("rules.two_operands", op=key), node)
                raise _Bad
            left, lt = _operand(val[0], ctx, node)
            right, rt = _operand(val[1], ctx, node)
            for t, side in ((lt, val[0]), (rt, val[1])):
                if t not in NUMERIC:
                    ctx.error(msg("rules.needs_numbers", op=key, type=_t(t), value=_v(side)), node)
                    raise _Bad
            if key == "div" and isinstance(right, Literal) and right.value == 0:
                ctx.error(msg("rules.division_by_zero"), node)
                raise _Bad
            return Arith(key, left, right), "number"
        ctx.error(msg("rules.unknown_operand_operator", op=key, ops=", ".join(ARITH_OPS)), node)
        raise _Bad
    if node is None:
        ctx.error(msg("rules.null_literal"), parent)
        raise _Bad
    if isinstance(node, list):
        if not all(isinstance(v, str) for v in node):
            ctx.error(msg("rules.literal_list_text_only", got=_v(list(node))), parent)
            raise _Bad
        return Literal(tuple(node)), LIST
    t = value_type(node)
    if t is None or t in (TABLE, LIST):
        ctx.error(msg("rules.unsupported_literal", value=_v(node)), parent)
        raise _Bad
    return Literal(node), t


def _compatible(a: str, b: str) -> bool:
    return a == b or (a in NUMERIC and b in NUMERIC)


def _condition(node: Any, ctx: _Ctx, parent: Any = None) -> Condition:
    if not isinstance(node, dict) or len(node) != 1:
        ctx.error(msg("rules.condition_one_operator", ops=", ".join(CONDITION_KEYS)),
                  node if isinstance(node, dict) else parent)
        raise _Bad
    (op, arg), = node.items()
    if op not in CONDITION_KEYS:
        ctx.error(msg("rules.unknown_operator", op=op, ops=", ".join(CONDITION_KEYS)), node)
        raise _Bad
    if op in ("all", "any"):
        if not isinstance(arg, list) or not arg:
            ctx.error(msg("rules.needs_conditions", op=op), node)
            raise _Bad
        items, bad = [], False
        for item in arg:
            try:
                items.append(_condition(item, ctx, arg))
            except _Bad:
                bad = True
        if bad:
            raise _Bad
        return (All if op == "all" else AnyOf)(tuple(items))
    if op == "not":
        return Not(_condition(arg, ctx, node))
    if op in ("exists", "missing"):
        if not isinstance(arg, str) or arg not in FIELDS:
            ctx.error(msg("rules.needs_field_path", op=op, path=arg), node)
            raise _Bad
        if arg.split(".", 1)[0] not in ctx.namespaces:
            ctx.error(msg("rules.field_not_in_scope", field=arg, scope=ctx.scope), node)
            raise _Bad
        return (Exists if op == "exists" else Missing)(arg)
    if not isinstance(arg, list) or len(arg) != 2:
        ctx.error(msg("rules.two_operands", op=op), node)
        raise _Bad
    if op == "matches":
        operand, t = _operand(arg[0], ctx, node)
        if t != STR:
            ctx.error(msg("rules.matches_needs_text", type=_t(t)), node)
            raise _Bad
        if not isinstance(arg[1], str):
            ctx.error(msg("rules.matches_needs_pattern"), node)
            raise _Bad
        problem = check_pattern(arg[1])
        if problem:
            ctx.error(msg("rules.unsupported_pattern", pattern=arg[1], problem=problem), node)
            raise _Bad
        return Matches(operand, arg[1])
    left, lt = _operand(arg[0], ctx, node)
    right, rt = _operand(arg[1], ctx, node)
    if op in COMPARE_OPS:
        if rt == "distance" and lt != "distance":
            # Normalise `D < distance_km` into `distance_km > D`.
            flip = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
            if op not in flip:
                ctx.error(msg("rules.distance_operators", op=op), node)
                raise _Bad
            op, left, right, lt, rt = flip[op], right, left, rt, lt
        if lt == "distance":
            if op not in ("gt", "ge", "lt", "le"):
                ctx.error(msg("rules.distance_operators", op=op), node)
                raise _Bad
            if rt not in NUMERIC:
                ctx.error(msg("rules.distance_type", type=_t(rt)), node)
                raise _Bad
            if ctx.scope != "candidate":
                ctx.error(msg("rules.distance_candidates_only"), node)
                raise _Bad
            return Compare(op, left, right)
        if not _compatible(lt, rt):
            ctx.error(msg("rules.type_mismatch", op=op, left_type=_t(lt), left=_v(arg[0]), right_type=_t(rt), right=_v(arg[1])), node)
            raise _Bad
        if lt == LIST:
            ctx.error(msg("rules.cannot_compare_lists", op=op), node)
            raise _Bad
        if op not in ("eq", "ne") and not (lt in NUMERIC or lt == DATE):
            ctx.error(msg("rules.orders_numbers_dates", op=op, type=_t(lt), value=_v(arg[0])), node)
            raise _Bad
        _literal_codes(ctx, node, left, right)
        return Compare(op, left, right)
    if op == "in":
        if rt != LIST:
            ctx.error(msg("rules.in_needs_list", type=_t(rt), value=_v(arg[1])), node)
            raise _Bad
        if lt != STR:
            ctx.error(msg("rules.in_needs_text", type=_t(lt), value=_v(arg[0])), node)
            raise _Bad
        _literal_codes(ctx, node, left, right)
        return In(left, right)
    # subset / overlaps
    if lt != LIST or rt != LIST:
        ctx.error(msg("rules.compares_two_lists", op=op, left_type=_t(lt), right_type=_t(rt)), node)
        raise _Bad
    _literal_codes(ctx, node, left, right)
    return (Subset if op == "subset" else Overlaps)(left, right)


def _outcome(node: Any, stage: str, ctx: _Ctx, rule_node: Any) -> Any:
    if not isinstance(node, dict):
        ctx.error(msg("rules.missing_outcome"), rule_node, "outcome" if isinstance(rule_node, dict) and "outcome" in rule_node else None,
                  "outcome")
        raise _Bad
    for key in node:
        if key not in OUTCOME_KEYS:
            ctx.error(msg("rules.unknown_key_in", key=key, where="outcome", allowed=", ".join(OUTCOME_KEYS)), node, key, "outcome")
            raise _Bad
    kinds = [k for k in OUTCOME_KINDS if k in node]
    if len(kinds) != 1:
        ctx.error(msg("rules.outcome_one_kind", kinds=", ".join(OUTCOME_KINDS)), node, field="outcome")
        raise _Bad
    kind = kinds[0]
    if kind not in STAGE_OUTCOMES[stage]:
        ctx.error(msg("rules.outcome_not_in_stage", stage=stage, kind=kind, allowed=", ".join(STAGE_OUTCOMES[stage])),
                  node, kind, "outcome")
        raise _Bad
    message = node.get("message")
    if not isinstance(message, str) or not message.strip():
        ctx.error(msg("rules.outcome_needs_message"), node, field="outcome.message")
        raise _Bad
    for ph in PLACEHOLDER.findall(message):
        if ph == DISTANCE:
            continue
        if ph.startswith("param."):
            if ph[6:] not in ctx.params:
                ctx.error(msg("rules.message_missing_parameter", name=ph[6:]), node, "message", "outcome.message")
                raise _Bad
            continue
        if ph not in FIELDS or ph.split(".", 1)[0] not in ctx.namespaces:
            ctx.error(msg("rules.message_unknown_field", path=ph), node, "message", "outcome.message")
            raise _Bad
    value = node[kind]
    if kind in ("exclude", "flag"):
        if not isinstance(value, str) or not CODE.match(value):
            ctx.error(msg("rules.needs_reason_code", kind=kind, got=_v(value)), node, kind, "outcome")
            raise _Bad
        codes = OUTCOME_CODES[kind]
        if value not in codes.__members__.values():
            what = "exclusion reason" if kind == "exclude" else "flag"
            ctx.error(msg("rules.unknown_outcome_code", what=msg("unknown." + ("exclusion_reason" if kind == "exclude" else "flag")),
                          code=value, known=", ".join(c.value for c in codes), cls=codes.__name__), node, kind, "outcome")
            raise _Bad
        return (Exclude if kind == "exclude" else Flag)(value, message)
    if kind == "proposal":
        if value not in PROPOSAL_KINDS:
            ctx.error(msg("rules.unknown_proposal", value=value, known=", ".join(PROPOSAL_KINDS)), node, kind, "outcome")
            raise _Bad
        return Propose(value, message)
    if not isinstance(value, dict) or not value:
        ctx.error(msg("rules.transition_shape", keys=", ".join(TRANSITION_KEYS)), node, kind, "outcome")
        raise _Bad
    for key in value:
        if key not in TRANSITION_KEYS:
            ctx.error(msg("rules.unknown_key_in", key=key, where="transition", allowed=", ".join(TRANSITION_KEYS)), value, key, "outcome")
            raise _Bad
    checks = (("unit_status", UnitStatus), ("removal_reason", RemovalReason), ("agreement_status", AgreementStatus))
    for key, enum in checks:
        if key in value and value[key] not in enum.__members__.values():
            ctx.error(msg("rules.unknown_transition_value", what=msg("unknown." + key), value=value[key], known=", ".join(e.value for e in enum)), value, key, "outcome")
            raise _Bad
    if value.get("unit_status") == "removed" and not value.get("removal_reason"):
        ctx.error(msg("rules.removed_needs_reason"), value, field="outcome")
        raise _Bad
    return Transition(message, value.get("unit_status"), value.get("removal_reason"), value.get("agreement_status"))


def _validity(node: dict, ctx: _Ctx) -> tuple[date | None, date | None, bool]:
    ok = True
    vf = parse_date(node.get("valid_from"))
    if vf is None:
        ctx.error(msg("rules.bad_valid_from"), node, "valid_from" if "valid_from" in node else None, "valid_from")
        ok = False
    vt = None
    if node.get("valid_to") is not None:
        vt = parse_date(node["valid_to"])
        if vt is None:
            ctx.error(msg("rules.bad_valid_to"), node, "valid_to", "valid_to")
            ok = False
    if vf and vt and vt < vf:
        ctx.error(msg("rules.valid_to_before_from", valid_to=str(vt), valid_from=str(vf)), node, "valid_to", "valid_to")
        ok = False
    return vf, vt, ok


def _text(node: dict, key: str, ctx: _Ctx) -> str | None:
    value = node.get(key)
    if not isinstance(value, str) or not value.strip():
        ctx.error(msg("rules.missing_key", key=key), node, key if key in node else None, key)
        return None
    return value.strip()


def parse_rule(node: Any, stage: str, file: str, line: int | None, params: dict[str, Parameter],
               problems: list[Problem]) -> Rule | None:
    rule_id = node.get("id") if isinstance(node, dict) else None
    ctx = _Ctx(file, rule_id if isinstance(rule_id, str) else None, "candidate", params, problems, line)
    if not isinstance(node, dict):
        ctx.error(msg("rules.rule_is_mapping"))
        return None
    ok = True
    for key in node:
        if key not in RULE_KEYS:
            ctx.error(msg("rules.unknown_key", key=key, allowed=", ".join(RULE_KEYS)), node, key, str(key))
            ok = False
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        ctx.error(msg("rules.bad_rule_id", id=_v(rule_id)), node, "id" if "id" in node else None, "id")
        ok = False
    if node.get("stage", stage) != stage:
        ctx.error(msg("rules.stage_differs", rule_stage=node.get("stage"), stage=stage), node, "stage", "stage")
        ok = False
    default_scope = {"eligibility": "candidate", "review": "candidate", "register_status": "event"}[stage]
    scope = node.get("scope", default_scope)
    if scope not in STAGE_SCOPES[stage]:
        ctx.error(msg("rules.scope_not_in_stage", scope=scope, stage=stage, allowed=", ".join(sorted(STAGE_SCOPES[stage]))),
                  node, "scope", "scope")
        ok = False
        scope = default_scope
    ctx.scope = scope
    ctx.namespaces = SCOPE_NAMESPACES[scope]
    event = node.get("event")
    if stage == "register_status":
        if event not in EVENT_NAMESPACES:
            ctx.error(msg("rules.needs_event", events=", ".join(EVENT_NAMESPACES), got=_v(event)),
                      node, "event" if "event" in node else None, "event")
            ok = False
        else:
            ctx.namespaces = EVENT_NAMESPACES[event]
    elif event is not None:
        ctx.error(msg("rules.event_only_register_status"), node, "event", "event")
        ok = False
    title = _text(node, "title", ctx)
    description = _text(node, "description", ctx)
    source = parse_source(node.get("source"), problems, file, line_of(node, "source") if "source" in node else line,
                          ctx.rule_id and msg("rules.record.rule", id=ctx.rule_id))
    vf, vt, vok = _validity(node, ctx)
    applies = when = outcome = None
    try:
        if node.get("applies_when") is not None:
            applies = _condition(node["applies_when"], ctx, node)
    except _Bad:
        ok = False
    if "when" not in node:
        ctx.error(msg("rules.missing_when"), node, field="when")
        ok = False
    else:
        try:
            when = _condition(node["when"], ctx, node)
        except _Bad:
            ok = False
    try:
        outcome = _outcome(node.get("outcome"), stage, ctx, node)
    except _Bad:
        ok = False
    if scope == "request" and isinstance(outcome, Exclude):
        ctx.error(msg("rules.request_rule_flags_only"), node, "outcome", "outcome")
        ok = False
    if not (ok and vok and title and description and source and when is not None and outcome is not None):
        return None
    used = condition_params(applies) + [p for p in condition_params(when) if p not in condition_params(applies)]
    used += [ph[6:] for ph in PLACEHOLDER.findall(outcome.message) if ph.startswith("param.") and ph[6:] not in used]
    return Rule(rule_id, title, description, stage, scope, source, vf, vt, applies, when, outcome, file, line,
                tuple(used), event)


def parse_policy(node: Any, file: str, line: int | None, problems: list[Problem]) -> RankingPolicy | None:
    rule_id = node.get("id") if isinstance(node, dict) else None
    ctx = _Ctx(file, rule_id if isinstance(rule_id, str) else None, "candidate", {}, problems, line)
    if not isinstance(node, dict):
        ctx.error(msg("rules.policy_is_mapping"))
        return None
    ok = True
    for key in node:
        if key not in POLICY_KEYS:
            ctx.error(msg("rules.unknown_key", key=key, allowed=", ".join(POLICY_KEYS)), node, key, str(key))
            ok = False
    if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
        ctx.error(msg("rules.bad_policy_id", id=_v(rule_id)), node, field="id")
        ok = False
    title = _text(node, "title", ctx)
    description = _text(node, "description", ctx)
    source = parse_source(node.get("source"), problems, file, line_of(node, "source") if "source" in node else line,
                          ctx.rule_id and msg("rules.record.rule", id=ctx.rule_id))
    vf, vt, vok = _validity(node, ctx)
    routes = [r.value for r in Route]
    route_order = node.get("route_order")
    if not isinstance(route_order, list) or sorted(route_order) != sorted(set(route_order)) or \
            any(r not in routes for r in route_order) or not route_order:
        ctx.error(msg("rules.route_order", routes=", ".join(routes)), node,
                  "route_order" if "route_order" in node else None, "route_order")
        ok = False
        route_order = []
    last_resort = node.get("last_resort", [])
    if not isinstance(last_resort, list) or any(r not in route_order for r in last_resort):
        ctx.error(msg("rules.last_resort"), node,
                  "last_resort" if "last_resort" in node else None, "last_resort")
        ok = False
        last_resort = []
    keys: list[SortKey] = []
    sort_keys = node.get("sort_keys")
    if not isinstance(sort_keys, list) or not sort_keys:
        ctx.error(msg("rules.sort_keys"), node, field="sort_keys")
        ok = False
    else:
        for i, sk in enumerate(sort_keys):
            if not isinstance(sk, dict) or set(sk) != {"key", "order"} or sk["key"] not in RANKING_SORT_KEYS \
                    or sk["order"] not in ("asc", "desc"):
                ctx.error(msg("rules.sort_key", keys=", ".join(RANKING_SORT_KEYS), got=_v(sk)),
                          sort_keys, i, "sort_keys")
                ok = False
            else:
                keys.append(SortKey(sk["key"], sk["order"]))
    rec = node.get("recommendations")
    if not isinstance(rec, int) or isinstance(rec, bool) or rec < 1:
        ctx.error(msg("rules.recommendations", got=_v(rec)), node,
                  "recommendations" if "recommendations" in node else None, "recommendations")
        ok = False
    if not (ok and vok and title and description and source):
        return None
    return RankingPolicy(rule_id, title, description, source, vf, vt, tuple(route_order), tuple(last_resort),
                         tuple(keys), rec, file, line)


def _overlap(a: Any, b: Any) -> bool:
    a_end = a.valid_to or date.max
    b_end = b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def unreadable_paths(directory: Path) -> list[Problem]:
    """What in a rules directory cannot be read as a file (issue 21): a symbolic link that loops
    or points nowhere, where a rule, parameter or test file is expected. os.walk does not follow
    links into directories, so a directory linking to itself is walked once."""
    problems: list[Problem] = []

    def onerror(exc: OSError) -> None:
        problems.append(Problem(msg("file.cannot_read", reason=os_reason(exc)), str(exc.filename or directory)))

    for root, dirs, files in os.walk(directory, onerror=onerror):
        for name in sorted(files + dirs):
            if not name.endswith((".yaml", ".yml")) and name not in ("parameters", "tests"):
                continue
            path = Path(root) / name
            try:
                os.stat(path)  # follows the link: ELOOP or ENOENT when it loops or dangles
            except OSError as exc:
                what = (msg("os.symlink_loop") if exc.errno == errno.ELOOP else
                        msg("os.dangling_link") if path.is_symlink() else os_reason(exc))
                problems.append(Problem(msg("file.cannot_read", reason=what), str(path)))
    return problems


def rules_directory(directory: Path) -> Path:
    """The absolute rules directory, or a ValidationError when it cannot be read (a link loop,
    a file, nothing there): never a traceback from resolving or walking it."""
    try:
        resolved = directory.resolve(strict=True)
    except RuntimeError:  # pathlib's own symlink-loop error (Python 3.11)
        raise ValidationError(Problem(msg("rules.not_a_directory_because", reason=msg("os.symlink_loop")), str(directory))) from None
    except OSError as exc:
        reason = msg("os.symlink_loop") if exc.errno == errno.ELOOP else os_reason(exc)
        raise ValidationError(Problem(msg("rules.not_a_directory_because", reason=reason), str(directory))) from None
    if not resolved.is_dir():
        raise ValidationError(Problem(msg("rules.not_a_directory"), str(directory)))
    problems = unreadable_paths(resolved)
    if problems:
        raise ValidationError(problems)
    return resolved


def rule_files(directory: Path) -> list[Path]:
    """The rule files of a rules directory: its *.yaml files (not parameters/ or tests/)."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def parameter_files(directory: Path) -> list[Path]:
    return sorted((directory / "parameters").glob("*.yaml"))


_ID_LINE = re.compile(r"^\s*(?:-\s+)?id:\s*['\"]?([A-Za-z0-9-]+)")


def _with_rule_ids(path: Path, problems: list[Problem]) -> list[Problem]:
    """Name the rule of a YAML-level problem (e.g. a duplicate key): the nearest `id:` above it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return problems
    for p in problems:
        if p.line is None or p.record:
            continue
        for text in reversed(lines[:p.line]):
            m = _ID_LINE.match(text)
            if m:
                p.record = msg("rules.record.rule", id=m.group(1))
                break
    return problems


def load_directory(directory: Path) -> tuple[list[Rule], list[RankingPolicy], dict[str, Parameter], dict[Path, Any]]:
    """Load and validate everything; raise ValidationError with every problem found."""
    if not directory.is_dir():
        raise ValidationError(Problem(msg("rules.not_a_directory"), str(directory)))
    rules, policies, params, docs, problems = collect_directory(directory)
    if problems:
        raise ValidationError(problems)
    return rules, policies, params, docs


def collect_directory(directory: Path) -> tuple[list[Rule], list[RankingPolicy], dict[str, Parameter],
                                                dict[Path, Any], list[Problem]]:
    """Read and validate every file of the directory without stopping: the rules, policies and
    parameters that are valid, the parsed documents, and every problem found (`rules lint`)."""
    problems: list[Problem] = []
    docs: dict[Path, Any] = {}
    params: dict[str, Parameter] = {}
    for path in parameter_files(directory):
        try:
            doc = load_yaml(path)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        docs[path] = doc
        for p in load_parameter_file(path, doc, problems):
            if p.name in params:
                other = params[p.name]
                problems.append(Problem(msg("rules.duplicate_parameter", name=p.name, other=f"{other.file}:{other.line}"),
                                        p.file, p.line, msg("rules.record.parameter", name=p.name)))
            else:
                params[p.name] = p
    rules: list[Rule] = []
    policies: list[RankingPolicy] = []
    files = rule_files(directory)
    if not files:
        problems.append(Problem(msg("rules.no_rule_files"), str(directory)))
    for path in files:
        try:
            doc = load_yaml(path)
        except ValidationError as exc:
            problems.extend(_with_rule_ids(path, exc.problems))
            continue
        docs[path] = doc
        file = str(path)
        if not isinstance(doc, dict):
            problems.append(Problem(msg("rules.file_is_mapping"), file, 1))
            continue
        for key in doc:
            if key not in FILE_KEYS:
                problems.append(Problem(msg("rules.unknown_key", key=key, allowed=", ".join(FILE_KEYS)), file, line_of(doc, key),
                                        field=str(key)))
        stage = doc.get("stage")
        if stage not in STAGES:
            problems.append(Problem(msg("rules.bad_stage", stage=_v(stage), known=", ".join(STAGES)), file,
                                    line_of(doc, "stage") if "stage" in doc else 1, field="stage"))
            continue
        items = doc.get("rules")
        if not isinstance(items, list):
            problems.append(Problem(msg("rules.rules_not_list"), file, line_of(doc, "rules") if "rules" in doc else 1, field="rules"))
            continue
        for i, node in enumerate(items):
            line = line_of(items, i)
            if stage == "ranking":
                pol = parse_policy(node, file, line, problems)
                if pol:
                    policies.append(pol)
            else:
                rule = parse_rule(node, stage, file, line, params, problems)
                if rule:
                    rules.append(rule)
    # Versions of one rule id: same file and stage, validity periods must not overlap.
    by_id: dict[str, list[Any]] = {}
    for r in [*rules, *policies]:
        by_id.setdefault(r.id, []).append(r)
    for rid, versions in by_id.items():
        for i, a in enumerate(versions):
            for b in versions[i + 1:]:
                if a.file != b.file or a.stage != b.stage:
                    problems.append(Problem(msg("rules.duplicate_rule_id", id=rid, other=f"{a.file}:{a.line}"),
                                            b.file, b.line, msg("rules.record.rule", id=rid), "id"))
                elif _overlap(a, b):
                    problems.append(Problem(
                        msg("rules.overlapping_validity", a_from=str(a.valid_from), a_to=a.valid_to and str(a.valid_to) or msg("rules.open_end"),
                            a_line=a.line, b_from=str(b.valid_from), b_to=b.valid_to and str(b.valid_to) or msg("rules.open_end"),
                            b_line=b.line, id=rid),
                        b.file, b.line, msg("rules.record.rule", id=rid), "valid_from"))
    return rules, policies, params, docs, problems


def declared_rule_ids(docs: dict[Path, Any]) -> set[str]:
    """Every rule id written in the rule files, valid or not (a rule with an error keeps its id)."""
    ids: set[str] = set()
    for doc in docs.values():
        if isinstance(doc, dict) and isinstance(doc.get("rules"), list):
            ids |= {n["id"] for n in doc["rules"] if isinstance(n, dict) and isinstance(n.get("id"), str)}
    return ids

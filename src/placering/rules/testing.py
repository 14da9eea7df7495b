"""Rule test cases (`rules/tests/*.yaml`): a register fragment, a request or a register event,
the evaluation date and the expected outcome. Run by `placering rules test` and collected by
pytest (tests/test_rule_cases.py). Written for people who know the domain, not Python:

    description: "Tillstånd för skyddat boende"
    unit_defaults: {places: 4, free_places: 1, age_min: 18, age_max: 99, ...}   # merged into each unit
    request_defaults: {insats: skyddat_boende, municipality: Göteborg, ...}     # merged into each request
    register:                       # interchange format (placering-register/1), shared by the cases
      suppliers: [...]
    cases:
      - name: "Utan tillstånd före den nya lagen: behörig"
        on: 2024-03-31              # default: the later of the request's submitted_on and start_on, or the event's date
        request: {submitted_on: 2024-03-31, start_on: 2024-03-31}
        expect:
          eligible: [U-1]           # exactly these: no exclusion and nothing unevaluable
          excluded: {U-2: [ELIG-PERMIT-MISSING]}   # exactly these rules exclude the unit
          flagged: {U-1: []}        # exactly these review rules flag it
          unevaluable: {U-3: [ELIG-DISTANCE]}
          request_flags: [REVIEW-STODBOENDE-UNDER-18]
      - name: "Återkallat tillstånd: enheten tas bort"
        event: {kind: permit, unit_id: U-1, permit: {dnr: "…", status: revoked, insats: hvb_barn_unga, decided_on: 2024-05-01}}
        expect:                     # for events every list is exact; a missing list means none
          transitions: [{unit: U-1, status: removed, rule: STATUS-PERMIT-LOST},
                        {agreement: RA-1, status: order_stop, rule: STATUS-PERMIT-LOST}]
          proposals: [{kind: deepened_control, rule: STATUS-CHECK-FAILED}]
          unevaluable: []

A unit reference is a unit id (all its candidates) or `UNIT/route` (one route).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import Problem, ValidationError
from ..paths import rules_dir
from ..yamlio import line_of, load_yaml, plain
from .facts import _date
from .ruleset import RuleSet, load_ruleset
from ..i18n import Label, Message, msg

# Start-up: reading the cases (`rules show`, `rules lint`) needs no evaluator; the reference
# evaluator and the register-status rules (which load the database layer) are imported by the
# functions that run a case.

FILE_KEYS = ("description", "register", "unit_defaults", "request_defaults", "cases")
CASE_KEYS = ("name", "description", "on", "request", "declined", "event", "register", "expect")
REQUEST_EXPECT = ("eligible", "excluded", "flagged", "unevaluable", "request_flags", "request_unevaluable")
EVENT_EXPECT = ("transitions", "proposals", "unevaluable")


@dataclass
class RuleCase:
    file: str
    line: int | None
    name: str
    on: date | None
    register: dict
    request: dict | None
    declined: list[str]
    event: dict | None
    expect: dict

    @property
    def id(self) -> str:
        return f"{Path(self.file).stem}: {self.name}"


@dataclass
class CaseResult:
    case: RuleCase
    failures: list  # Messages (str() English; a person reads them from the catalogue)
    positive: set[str] = field(default_factory=set)  # rule ids the case expects to fire
    negative: set[str] = field(default_factory=set)  # rule ids the case expects not to fire

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return {"file": self.case.file, "line": self.case.line, "name": self.case.name, "passed": self.passed,
                "failures": [str(f) for f in self.failures]}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _with_unit_defaults(register: dict, defaults: dict) -> dict:
    register = copy.deepcopy(register)
    for s in register.get("suppliers") or []:
        s.setdefault("legal_form", "aktiebolag")
        s["units"] = [_merge(defaults, u) for u in s.get("units") or []]
    return register


def load_cases(directory: Path) -> list[RuleCase]:
    """Every case in directory/*.yaml, validated; a ValidationError lists every problem.

    Kept in the per-user cache (diskcache.py) under the bytes of every case file and
    placering's code, so running the cases again parses no YAML (ruamel's parse of the case
    files was a third of a `rules test`); files with problems are read again every time and
    report them with file and line (only a successful build is kept)."""
    from ..diskcache import cached

    def build() -> list[RuleCase]:
        cases, problems = collect_cases(directory)
        if problems:
            raise ValidationError(problems)
        return cases

    return cached("rule-cases", sorted(directory.glob("*.yaml")), build, extra=str(directory))


def collect_cases(directory: Path) -> tuple[list[RuleCase], list[Problem]]:
    """The valid cases of directory/*.yaml and every problem found, without stopping (lint)."""
    problems: list[Problem] = []
    cases: list[RuleCase] = []
    for path in sorted(directory.glob("*.yaml")):
        file = str(path)
        try:
            doc = load_yaml(path)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
            problems.append(Problem(msg("rules.test.file_is_mapping"), file, 1))
            continue
        for key in doc:
            if key not in FILE_KEYS:
                problems.append(Problem(msg("rules.unknown_key", key=key, allowed=", ".join(FILE_KEYS)), file,
                                        line_of(doc, key), field=str(key)))
        unit_defaults = plain(doc.get("unit_defaults") or {})
        request_defaults = plain(doc.get("request_defaults") or {})
        register = plain(doc.get("register") or {"suppliers": []})
        for i, node in enumerate(doc["cases"]):
            line = line_of(doc["cases"], i)
            if not isinstance(node, dict):
                problems.append(Problem(msg("rules.test.case_is_mapping"), file, line))
                continue
            name = str(node.get("name") or f"case {i + 1}")
            rec = msg("rules.record.case", name=name)
            for key in node:
                if key not in CASE_KEYS:
                    problems.append(Problem(msg("rules.unknown_key", key=key, allowed=", ".join(CASE_KEYS)), file,
                                            line_of(node, key), rec, str(key)))
            if ("request" in node) == ("event" in node):
                problems.append(Problem(msg("rules.test.request_or_event"), file, line, rec))
                continue
            expect = plain(node.get("expect") or {})
            allowed = REQUEST_EXPECT if "request" in node else EVENT_EXPECT
            if not isinstance(expect, dict) or not expect and "request" in node:
                problems.append(Problem(msg("rules.missing_key", key="expect"), file, line, rec, "expect"))
                continue
            for key in expect:
                if key not in allowed:
                    problems.append(Problem(msg("rules.test.unknown_expectation", key=key, allowed=", ".join(allowed)), file,
                                            line_of(node["expect"], key), rec, str(key)))
            on = None
            if node.get("on") is not None:
                on = _date(node["on"]) if not isinstance(node["on"], date) else node["on"]
            reg = plain(node["register"]) if "register" in node else register
            request = _merge(request_defaults, plain(node["request"])) if "request" in node else None
            cases.append(RuleCase(file, line, name, on, _with_unit_defaults(reg, unit_defaults), request,
                                  list(plain(node.get("declined") or [])),
                                  plain(node["event"]) if "event" in node else None, expect))
    return cases, problems


def tested_by_index(directory: Path) -> list[dict]:
    """Each case of directory/*.yaml as {file, line, name, rules: the rule ids it expects}, for
    `rules show`; kept in the per-user cache (diskcache.py) until a case file changes, so a
    read of one rule does not parse every case file again. Problems raise as in load_cases."""
    from ..diskcache import cached

    def build() -> list[dict]:
        return [{"file": Path(c.file).name, "line": c.line, "name": c.name, "rules": sorted(expected_rule_ids(c))}
                for c in load_cases(directory)]

    return cached("rule-tests-index", sorted(directory.glob("*.yaml")), build, extra=str(directory))


def expected_rule_ids(case: RuleCase) -> set[str]:
    """Every rule id a case's expectations name."""
    exp = case.expect
    ids: set[str] = set()
    for key in ("excluded", "flagged", "unevaluable"):
        value = exp.get(key) or {}
        if isinstance(value, dict):
            for rules in value.values():
                ids |= set(rules or [])
        elif isinstance(value, list):  # event cases: a list of rule ids
            ids |= set(value)
    ids |= set(exp.get("request_flags") or []) | set(exp.get("request_unevaluable") or [])
    ids |= {t.get("rule") for t in exp.get("transitions") or [] if isinstance(t, dict)}
    ids |= {p.get("rule") for p in exp.get("proposals") or [] if isinstance(p, dict)}
    return {i for i in ids if i}


def unknown_rule_ids(cases: list[RuleCase], ruleset: RuleSet | set[str]) -> list[Problem]:
    """Cases naming a rule the rule set (or the set of rule ids) does not have (a typo would
    only show as a failure)."""
    known = ruleset if isinstance(ruleset, set) else {r.id for r in ruleset.rules}
    return [Problem(msg("rules.test.unknown_rule_id", id=rid), c.file, c.line, msg("rules.record.case", name=c.name), "expect")
            for c in cases for rid in sorted(expected_rule_ids(c) - known)]


def _unit_ref(ref: str) -> tuple[str, str | None]:
    unit, _, route = str(ref).partition("/")
    return unit, route or None


def _run_request_case(case: RuleCase, ruleset: RuleSet, evaluator: Any = None) -> CaseResult:
    from ..taxonomy import load_taxonomy
    from .facts import RegisterSnapshot, request_fact
    from .reference import ReferenceEvaluator

    taxonomy = load_taxonomy()
    submitted = _date(case.request.get("submitted_on"))
    start = _date(case.request.get("start_on")) or submitted
    # As the matcher: the rules of the placement's start day, or of the decision day when later.
    on = case.on or max(d for d in (submitted, start) if d is not None)
    snap = RegisterSnapshot.from_document(case.register, on=on)
    # One evaluator for every case of a run (`run_rule_tests`): its compiled rules are those of
    # the rule set and the date, whatever the register; each case evaluates its own fragment.
    ev = evaluator if evaluator is not None else ReferenceEvaluator(ruleset)
    ev.snapshot = snap  # not load(): that freezes the heap for a resident register
    months = ruleset.param("direct_procurement_final_price_months", start)
    result = ev.evaluate(request_fact(case.request, snap, taxonomy, declined=case.declined,
                                      final_price_months=months,
                                      price_confirmation_months=ruleset.param("price_confirmation_months",
                                                                              submitted)), on=on)
    res = CaseResult(case, [])
    exp = case.expect
    elig_ids = {r.id for r in ruleset.rules_for("eligibility", on)}
    flag_ids = {r.id for r in ruleset.rules_for("review", on) if r.scope == "candidate"}
    req_flag_ids = {r.id for r in ruleset.rules_for("review", on) if r.scope == "request"}

    def cands(ref: str):
        unit, route = _unit_ref(ref)
        found = [c for c in result.candidates if c.unit_id == unit and (route is None or c.route == route)]
        if not found:
            res.failures.append(msg("rules.test.no_candidate", ref=ref, insats=Label(case.request.get("insats"), "insats")))
        return found

    def compare(label: str, ref: str, got: set[str], want: set[str]) -> None:
        if got != want:
            res.failures.append(msg(_COMPARED[label], ref=ref, got=_ids(got), want=_ids(want)))

    for ref in exp.get("eligible") or []:
        for c in cands(ref):
            bad = ([msg("rules.test.excluded_by", rule=r.rule) for r in c.exclusions]
                   + [msg("rules.test.unevaluable_rule", rule=r.rule) for r in c.unevaluable])
            if bad:
                res.failures.append(msg("rules.test.expected_eligible", ref=f"{ref}/{c.route}", why=_join(bad)))
        res.negative |= elig_ids
    if "eligible" in exp:  # the set is exact: a candidate eligible but not listed fails the case
        listed = {str(ref) for ref in exp.get("eligible") or []}
        for c in result.candidates:
            if not c.exclusions and not c.unevaluable and c.unit_id not in listed \
                    and f"{c.unit_id}/{c.route}" not in listed:
                res.failures.append(msg("rules.test.eligible_not_listed", ref=f"{c.unit_id}/{c.route}"))
    for ref, rules in (exp.get("excluded") or {}).items():
        found = cands(ref)
        if found:
            compare("excluded", ref, {r.rule for c in found for r in c.exclusions}, set(rules))
        res.positive |= set(rules)
        res.negative |= elig_ids - set(rules)
    for ref, rules in (exp.get("flagged") or {}).items():
        found = cands(ref)
        if found:
            compare("flagged", ref, {r.rule for c in found for r in c.flags}, set(rules or []))
        res.positive |= set(rules or [])
        res.negative |= flag_ids - set(rules or [])
    for ref, rules in (exp.get("unevaluable") or {}).items():
        found = cands(ref)
        if found:
            compare("unevaluable", ref, {r.rule for c in found for r in c.unevaluable}, set(rules or []))
        res.positive |= set(rules or [])
    if "request_flags" in exp:
        want = set(exp["request_flags"] or [])
        got = {r.rule for r in result.request_flags}
        if got != want:
            res.failures.append(msg("rules.test.request_flagged", got=_ids(got), want=_ids(want)))
        res.positive |= want
        res.negative |= req_flag_ids - want
    if "request_unevaluable" in exp:
        want = set(exp["request_unevaluable"] or [])
        got = {r.rule for r in result.unevaluable}
        if got != want:
            res.failures.append(msg("rules.test.request_unevaluable", got=_ids(got), want=_ids(want)))
        res.positive |= want
    return res


def _run_event_case(case: RuleCase, ruleset: RuleSet, evaluator: Any = None) -> CaseResult:
    from .register_status import document_event_facts, plan_register_event

    facts, event_on = document_event_facts(case.register, case.event, ruleset)
    on = case.on or event_on
    planned = plan_register_event(facts, on, case.event["kind"], ruleset, evaluator)
    res = CaseResult(case, [])
    exp = case.expect

    def norm_t(t: dict) -> tuple:
        return ("unit", t["unit"]) if "unit" in t else ("agreement", t.get("agreement")), t.get("status"), t.get("rule")

    got_t = sorted(
        (("unit", p.unit_id) if p.action == "unit_status" else ("agreement", p.agreement_id), p.status_to, p.rule)
        for p in planned if p.action in ("unit_status", "agreement_status"))
    want_t = sorted(norm_t(t) for t in exp.get("transitions") or [])
    if got_t != want_t:
        res.failures.append(msg("rules.test.transitions", got=_transitions(got_t), want=_transitions(want_t)))
    got_p = sorted((p.status_to, p.rule, p.unit_id) for p in planned if p.action == "proposal")
    want_p = sorted((p["kind"], p["rule"], p.get("unit")) for p in exp.get("proposals") or [])
    if got_p != want_p:
        res.failures.append(msg("rules.test.proposals", got=_proposals(got_p), want=_proposals(want_p)))
    got_u = sorted({p.rule for p in planned if p.action == "unevaluable"})
    want_u = sorted(set(exp.get("unevaluable") or []))
    if got_u != want_u:
        res.failures.append(msg("rules.test.unevaluable", got=_ids(got_u), want=_ids(want_u)))
    fired = {t[2] for t in want_t} | {p[1] for p in want_p} | set(want_u)
    res.positive |= fired
    res.negative |= {r.id for r in ruleset.rules_for("register_status", on) if r.event == case.event["kind"]} - fired
    return res


_COMPARED = {"excluded": "rules.test.compare_excluded", "flagged": "rules.test.compare_flagged",
             "unevaluable": "rules.test.compare_unevaluable"}


def _ids(ids) -> "str | Message":
    """Rule ids, comma-separated; 'none' in words."""
    return ", ".join(sorted(ids)) if ids else msg("rules.test.none")


def _join(items: list) -> Message:
    """Messages one after the other, comma-separated."""
    return msg("rules.test.list", first=items[0], rest=_join(items[1:])) if len(items) > 1 else items[0]


def _transitions(items: list) -> "str | Message":
    """(('unit', 'U-1'), 'watch', 'RULE') … as 'U-1 → bevakning (RULE)'."""
    if not items:
        return msg("rules.test.none")
    return _join([msg("rules.test.transition", target=t[0][1], status=Label(t[1], f"{t[0][0]}_status"), rule=t[2])
                  for t in items])


def _proposals(items: list) -> "str | Message":
    if not items:
        return msg("rules.test.none")
    return _join([msg("rules.test.proposal", kind=Label(k, "proposal_kind"), rule=rule, unit=unit or "–")
                  for k, rule, unit in items])


def run_case(case: RuleCase, ruleset: RuleSet, evaluator: Any = None) -> CaseResult:
    """Run one case; `evaluator`: a ReferenceEvaluator of `ruleset` shared by the cases of a run."""
    try:
        if case.request is not None:
            return _run_request_case(case, ruleset, evaluator)
        return _run_event_case(case, ruleset, evaluator)
    except (ValidationError, KeyError, ValueError, TypeError) as exc:
        return CaseResult(case, [msg("rules.test.cannot_run", reason=getattr(exc, "message", None) or str(exc))])


def run_rule_tests(directory: Path | str | None = None, *, ruleset: RuleSet | None = None,
                   cases: list[RuleCase] | None = None) -> list[CaseResult]:
    """Run every case of DIR/tests (DIR defaults to the project's rules/) against DIR's rules.

    Run on DIR's own files (no `ruleset` or `cases` given: `placering rules test`), a run in
    which every case passed is kept in the per-user cache (diskcache.py), as a clean `rules
    lint` is: under the bytes of every file the run reads (rule files, parameters, case files,
    the taxonomy, municipalities and message fields, the labels) and placering's code, and the
    day. Any change to any of them runs the cases again; a run with a failing case is never
    kept (it is run, and reported, every time)."""
    directory = Path(directory) if directory is not None else rules_dir()
    if ruleset is None and cases is None:
        return _run_kept(directory)
    ruleset = ruleset or load_ruleset(directory)
    cases = cases if cases is not None else load_cases(directory / "tests")
    from .reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(ruleset)
    return [run_case(c, ruleset, evaluator) for c in cases]


class _Failed(Exception):
    """A run with a failing case: reported, never kept in the cache."""

    def __init__(self, results: list[CaseResult]):
        self.results = results


def _run_kept(directory: Path) -> list[CaseResult]:
    from ..diskcache import cached
    from ..display import today
    from ..i18n import _po_path
    from ..paths import registry_dir
    from .loader import parameter_files, rule_files, rules_directory

    base = rules_directory(directory)
    tests = base / "tests"
    registry = registry_dir()
    files = [*parameter_files(base), *rule_files(base), *(sorted(tests.glob("*.yaml")) if tests.is_dir() else []),
             registry / "taxonomy.yaml", registry / "municipalities.yaml", registry / "message_fields.yaml",
             _po_path("sv", "labels"), _po_path("en", "labels")]

    def build() -> list[CaseResult]:
        results = run_rule_tests(directory, ruleset=load_ruleset(directory), cases=load_cases(directory / "tests"))
        if not results or not all(r.passed for r in results):
            raise _Failed(results)
        return results

    try:
        return cached("rule-test-results", files, build,
                      extra="\0".join([str(base), today().isoformat(), *map(str, files)]))
    except _Failed as failed:
        return failed.results

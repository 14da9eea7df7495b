"""`DurableEvaluator`: the rules evaluated on durable-rules, with the register resident.

Same interface and result types as `ReferenceEvaluator` (`load(snapshot)`, `evaluate(request_fact,
on=...)`), so callers can swap them; the differential test (tests/test_differential.py) holds
the two to identical outcomes. The engine decides which rules fire for which candidate (or are
unevaluable); the explanation of a decision (message, values, source) is then built by the
reference module's shared functions, so both evaluators word their reasons identically.

Guards against the defects measured in durable-rules 2.0.28 (docs: durable-rules-notes.md):
- requests are asserted as *facts* (an event is consumed by the first rule), matches collected
  in batches (`cap`), and the request retracted again;
- every fact has an explicit unique `id`, and after loading the engine must hold exactly as many
  facts as were asserted (facts were observed silently dropped);
- sessions (`sid`) are reused, never one per request (at most 1,024 live sids per ruleset): the
  candidates of an insats are spread over sessions of SESSION_SIZE facts, because asserting
  into a session costs time proportional to what it holds (20,000 units: loading and deciding
  several times faster than one session per insats); a request is asserted into each session
  of its insats and its request-level flags are merged;
- ruleset definitions are copied before registering (registering mutates them) and named by a
  content hash (registering a name twice raises);
- an action runs in every session at creation (delete_state on a session without one segfaulted),
  and state is deleted before its ruleset (deleting a ruleset alone leaked);
- one Host per evaluator, with its timer threads never started (they call into the unlocked
  binding), and one lock around every call into the binding;
- exceptions inside actions (swallowed by durable-rules into the state) are recorded and raised;
- a message no rule can hold (MessageNotHandled) is an error, not a silently ignored fact;
- the C core leaks about 35 bytes per match: the Host is recycled (state and rulesets deleted,
  register re-asserted lazily) after `recycle_matches` matches (default 4,000,000: about 140 MB
  of leaked C memory at most; a socialt_boende request at national size makes ~30,000 matches).
Text is NFC, ordering comparisons on text are refused at compile time (durable_compile.py).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

import durable_rules_engine
from durable import engine as durable_engine

from ..errors import InvariantViolation
from .durable_compile import Encoder, Target, compile_rules, content_name, used_keys
from .facts import RegisterSnapshot
from .model import Exclude, LIST, FIELDS, get_path
from .reference import (
    CandidateOutcome, CompiledRule, Reason, RequestEvaluation, compile_rule, display_distance, reason,
    unevaluable_reason,
)
from .ruleset import RuleSet

STAGES = ("eligibility", "review")
_DEFINITIONS: dict[tuple, tuple] = {}
# A matched candidate in a batch message: facts come back as the text we asserted (id first).
_CAND_ID = re.compile(r'"c":\{"id": "(c\d+)"')
MAX_SIDS = 1024
SESSION_SIZE = 250  # candidates per session (asserting into a session slows as it grows)
DEFAULT_REQUEST_LIST_CAPACITY = 4  # grows (recompiling) when a request has a longer list


class EngineError(InvariantViolation):
    """durable-rules misbehaved (dropped facts, an action error, an unhandled message)."""


class _Host(durable_engine.Host):
    """A Host whose dispatch timer threads never start: they would call into the binding
    outside our lock, and nothing here uses timers or queued actions."""

    def _run(self) -> None:
        pass


@dataclass
class _Sessions:
    """What is loaded in one registered ruleset: insatser whose candidates are asserted, and
    every session (sid) in which the init action has run (safe to delete_state)."""

    insats: set[str] = field(default_factory=set)
    sids: set[str] = field(default_factory=set)


@dataclass
class _Compiled:
    name: str
    targets: dict[str, Target]
    order: dict[str, int]  # rule id -> position in the reference's rule order
    compiled_rules: dict[str, CompiledRule]  # rule id -> reference explanation helpers
    encoder: Encoder
    sessions: _Sessions = field(default_factory=_Sessions)


class DurableEvaluator:
    """Evaluate requests against a RuleSet on durable-rules with the register resident."""

    name = "durable"

    def __init__(self, ruleset: RuleSet, *, recycle_matches: int = 4_000_000,
                 tamper: Callable | None = None):
        self.ruleset = ruleset
        self.snapshot: RegisterSnapshot | None = None
        self.recycle_matches = recycle_matches
        self._tamper = tamper  # tests only: break one rule's compiled form (differential test)
        self._lock = threading.RLock()
        self._host: _Host | None = None
        self._compiled: dict[tuple, _Compiled] = {}
        self._by_date: dict[date, tuple] = {}  # evaluation date -> compiled key
        self._residents: dict[str, list[tuple[str, dict]]] = {}  # insats -> [(id, candidate fact)]
        self._unit_insatser: dict[str, set[str]] = {}  # unit id -> insatser it has candidates in
        # Candidates of an insats are spread over sessions of at most SESSION_SIZE facts:
        # asserting into a session costs time proportional to the facts it holds.
        self._chunks: dict[str, list[str]] = {}  # insats -> its session ids
        self._sid_of: dict[str, str] = {}  # candidate id -> session id
        self._sid_count: dict[str, int] = {}  # session id -> candidates held
        self._seq = 0
        self._capacities: dict[str, int] = {}
        self._matches_since_recycle = 0
        self._action_errors: list[BaseException] = []
        self.recycles = 0

    # -- loading ------------------------------------------------------------------------------
    def load(self, snapshot: RegisterSnapshot) -> None:
        """Keep the register resident. A new snapshot replaces the old facts in the sessions
        already open (retract all, assert all: sessions and compiled rulesets are reused); the
        Host is only rebuilt when a list outgrows the positions the rulesets were compiled for."""
        with self._lock:
            old, old_sid_of = self._residents, self._sid_of
            self.snapshot = snapshot
            self._rebuild_residents()
            capacities = self._list_capacities()
            if self._host is None or capacities != self._capacities:
                self._capacities = capacities
                self._reset_host()
                return
            for comp in self._unique_compiled():
                for insats in sorted(comp.sessions.insats):
                    gone = self._by_sid(comp, old.get(insats, []), old_sid_of)
                    for sid, facts in gone.items():
                        self._batched(durable_rules_engine.retract_facts, comp, facts)
                comp.sessions.insats.clear()  # reloaded lazily, per insats, as requests come
                for sid in comp.sessions.sids:
                    self._check_count(comp, sid, expected=0)

    def update_unit(self, unit_id: str) -> None:
        """Re-read one unit's candidates from the (changed) snapshot: retract its old facts and
        assert the new ones in every loaded session (a register event)."""
        with self._lock:
            if self.snapshot is None:
                raise RuntimeError("load(snapshot) first")
            record = self.snapshot.units.get(unit_id)
            insatser = set(self._unit_insatser.get(unit_id, ()))
            insatser |= {r["insats"] for r in record.routes} if record is not None else set()
            present: set[str] = set()
            for insats in sorted(insatser):
                old = [(cid, c) for cid, c in self._residents.get(insats, []) if c["unit"]["unit_id"] == unit_id]
                new_cands = [c for c in self.snapshot.candidates(insats) if c["unit"]["unit_id"] == unit_id]
                if not old and not new_cands:
                    continue
                new = [(self._next_id(), c) for c in new_cands]
                if any(self._too_long(c) for _, c in new):
                    # A list outgrew the compiled positions: recompile with room for it.
                    self._rebuild_residents()
                    self._capacities = self._list_capacities()
                    self._reset_host()
                    return
                # The new facts go to the session of the old ones (or the insats' last session).
                target = self._sid_of[old[0][0]] if old else self._sessions_of(insats)[-1]
                affected = {self._sid_of[cid] for cid, _ in old} | {target}
                for cid, _ in new:
                    self._sid_of[cid] = target
                for comp in self._unique_compiled():
                    if insats in comp.sessions.insats:
                        for sid, facts in self._by_sid(comp, old, self._sid_of).items():
                            self._batched(durable_rules_engine.retract_facts, comp, facts)
                        if target not in comp.sessions.sids:
                            self._init_session(comp, target)
                        self._batched(durable_rules_engine.assert_facts, comp,
                                      [self._wire(comp.encoder, cid, c, target) for cid, c in new])
                for cid, _ in old:
                    self._sid_count[self._sid_of.pop(cid)] -= 1
                self._sid_count[target] += len(new)
                for comp in self._unique_compiled():
                    if insats in comp.sessions.insats:
                        for sid in affected:
                            self._check_count(comp, sid, expected=self._sid_count[sid])
                kept = {id(c): cid for cid, c in self._residents.get(insats, []) if c["unit"]["unit_id"] != unit_id}
                by_obj = {id(c): cid for cid, c in new}
                by_obj.update(kept)
                self._residents[insats] = [(by_obj[id(c)], c) for c in self.snapshot.candidates(insats)]
                if new:
                    present.add(insats)
            self._unit_insatser[unit_id] = present

    def _unique_compiled(self) -> list[_Compiled]:
        return list({c.name: c for c in self._compiled.values()}.values())

    def _by_sid(self, comp: _Compiled, cands: list[tuple[str, dict]], sid_of: dict[str, str]) -> dict[str, list]:
        out: dict[str, list] = {}
        for cid, c in cands:
            sid = sid_of[cid]
            out.setdefault(sid, []).append(self._wire(comp.encoder, cid, c, sid))
        return out

    def _batched(self, fn: Callable, comp: _Compiled, facts: list[dict]) -> None:
        for i in range(0, len(facts), 2000):
            if self._run(fn, comp.name, facts[i:i + 2000]):
                raise EngineError("asserting or retracting candidates fired rules without a request")

    def _rebuild_residents(self) -> None:
        assert self.snapshot is not None
        self._residents = {i: [(self._next_id(), c) for c in self.snapshot.candidates(i)]
                           for i in self.snapshot.by_insats}
        self._chunks, self._sid_of, self._sid_count = {}, {}, {}
        for insats, cands in self._residents.items():
            sids = self._chunks.setdefault(insats, [])
            for k in range(0, max(1, len(cands)), SESSION_SIZE):
                sid = f"{insats}#{k // SESSION_SIZE}"
                sids.append(sid)
                part = cands[k:k + SESSION_SIZE]
                self._sid_count[sid] = len(part)
                for cid, _ in part:
                    self._sid_of[cid] = sid
        if len(self._sid_count) > MAX_SIDS:
            raise EngineError(f"{len(self._sid_count)} sessions needed: durable-rules holds at most {MAX_SIDS}")
        self._index_units()

    def _index_units(self) -> None:
        index: dict[str, set[str]] = {}
        for insats, cands in self._residents.items():
            for _, c in cands:
                index.setdefault(c["unit"]["unit_id"], set()).add(insats)
        self._unit_insatser = index

    def _next_id(self) -> str:
        self._seq += 1
        return f"c{self._seq}"

    def _list_capacities(self) -> dict[str, int]:
        """Positions per list field: room for the longest list loaded (never fewer than before,
        so the compiled rulesets stay valid)."""
        caps: dict[str, int] = {}
        for path, ft in FIELDS.items():
            if ft.type != LIST:
                continue
            if path.startswith("request."):
                caps[path] = max(self._capacities.get(path, 0), DEFAULT_REQUEST_LIST_CAPACITY)
                continue
            longest = 0
            for cands in self._residents.values():
                for _, c in cands:
                    v = get_path(c, path)
                    if v is not None:
                        longest = max(longest, len(v))
            caps[path] = max(1, longest, self._capacities.get(path, 0))
        return caps

    def _too_long(self, cand: dict) -> bool:
        return any(len(get_path(cand, p) or ()) > n for p, n in self._capacities.items() if not p.startswith("request."))

    # -- the Host -----------------------------------------------------------------------------
    def _reset_host(self) -> None:
        """Delete state, then rulesets, then start a fresh Host (nothing loaded yet)."""
        if self._host is not None:
            done: set[str] = set()
            for comp in self._compiled.values():
                rs = self._host._ruleset_directory.get(comp.name)
                if rs is None or comp.name in done:
                    continue
                done.add(comp.name)
                for sid in comp.sessions.sids:  # each had its init action run
                    durable_rules_engine.delete_state(rs._handle, sid)
                durable_rules_engine.delete_ruleset(rs._handle)
        self._host = _Host()
        self._compiled = {}
        self._by_date = {}
        self._matches_since_recycle = 0

    def _wire(self, enc: Encoder, cid: str, cand: dict, insats: str) -> dict:
        return enc.encode(cand, "c", {"id": cid, "sid": insats, "k": "c"})

    def _action(self, rule_name: str) -> Callable:
        # Registered for form's sake: matches are collected by `_run` straight from the binding,
        # so no Python code ever runs inside durable-rules (which would swallow its exceptions).
        def run(c: Any) -> None:
            self._action_errors.append(RuntimeError(f"unexpected action call for {rule_name}"))
        return run

    def _handle(self, name: str) -> Any:
        return self._host.get_ruleset(name)._handle

    def _run(self, fn: Callable, name: str, payload: Any) -> list[tuple[str, list[str], int]]:
        """Call the binding (assert/retract), then collect every match batch it produces:
        [(rule name, candidate ids, number of matches)]."""
        handle = self._handle(name)
        code, state = fn(handle, json.dumps(payload, ensure_ascii=False))[:2]
        if code == 1:
            raise EngineError(f"durable-rules did not store a message (no rule can hold it): {str(payload)[:300]}")
        if code == 2:
            raise EngineError(f"durable-rules already holds this message: {str(payload)[:300]}")
        if code == 3:
            state = 0
        out: list[tuple[str, list[str], int]] = []
        result = durable_rules_engine.start_action_for_state(handle, state)
        if result and '"exception"' in result[0]:  # an action error swallowed into the state
            raise EngineError(f"durable-rules state records an action error: {result[0][:300]}")
        message = result[1] if result else None
        while message:
            rule_name = message[2:message.index('"', 2)]
            out.append((rule_name, _CAND_ID.findall(message), message.count('"r":{"id": ')))
            message = durable_rules_engine.complete_and_start_action(handle, state)
        self._raise_action_errors()
        return out

    def _raise_action_errors(self) -> None:
        if self._action_errors:
            exc = self._action_errors[0]
            self._action_errors.clear()
            raise EngineError(f"an action failed inside durable-rules: {exc!r}") from exc

    def _check_count(self, comp: _Compiled, sid: str, *, expected: int) -> None:
        # Counted on the raw text (facts come back as we wrote them, `"k": "c"` marks a
        # candidate): parsing every fact would make each register event cost a full parse.
        held = durable_rules_engine.get_facts(self._handle(comp.name), sid).count('"k": "c"')
        if held != expected:
            raise EngineError(f"durable-rules holds {held} candidate facts in session {sid}, {expected} were asserted "
                              "(facts dropped)")

    def _compiled_for(self, on: date) -> _Compiled:
        key = self._by_date.get(on)
        if key is not None and key in self._compiled:
            return self._compiled[key]
        rules = [r for s in STAGES for r in self.ruleset.rules_for(s, on)
                 if r.scope in ("candidate", "request")]
        params = tuple(sorted((n, repr(self.ruleset.parameters[n].value_on(on)))
                              for r in rules for n in r.params))
        key = (self.ruleset.version, tuple((r.id, r.valid_from) for r in rules), params,
               tuple(sorted(self._capacities.items())), id(self._tamper) if self._tamper else None)
        if len(self._by_date) > 4096:
            self._by_date.clear()
        self._by_date[on] = key
        if key in self._compiled:
            return self._compiled[key]
        # Compiled definitions are cached per set of valid rule versions (across Hosts).
        if key not in _DEFINITIONS:
            if len(_DEFINITIONS) > 64:
                _DEFINITIONS.clear()
            definition, targets = compile_rules(rules, on, self.ruleset, self._capacities, tamper=self._tamper)
            _DEFINITIONS[key] = (definition, targets, content_name(definition), used_keys(definition))
        definition, targets, name, keys = _DEFINITIONS[key]
        # Two keys can compile to the same definition (e.g. equal parameter values from two
        # dated entries): registering a name twice raises, so they share the ruleset and its
        # sessions, while explanations (message parameters) stay per key.
        shared = next((c for c in self._compiled.values() if c.name == name), None)
        if shared is None:
            copy = {}
            for rname, body in definition.items():
                body = _deepcopy(body)  # registering mutates the definition it is given
                body["run"] = self._action(rname)
                copy[rname] = body
            self._host.register_rulesets({name: copy})
        # Explanations: reference order = eligibility then review candidate rules, file order.
        order = {r.id: i for i, r in enumerate(rules)}
        comp = _Compiled(name, targets, order, {r.id: compile_rule(r, self.ruleset, on) for r in rules},
                         Encoder(dict(self._capacities), keys))
        if shared is not None:
            comp.sessions = shared.sessions
        self._compiled[key] = comp
        return comp

    def _init_session(self, comp: _Compiled, sid: str) -> None:
        # The init fact makes one action run in this session (delete_state is safe later).
        fired = self._run(durable_rules_engine.assert_fact, comp.name, {"id": "init", "sid": sid, "k": "init"})
        if [f[0] for f in fired] != ["init"]:
            raise EngineError(f"the session init of {sid} fired {fired!r}")
        comp.sessions.sids.add(sid)
        if len(comp.sessions.sids) > MAX_SIDS:
            raise EngineError(f"more than {MAX_SIDS} sessions in one ruleset")

    def _sessions_of(self, insats: str) -> list[str]:
        """The sessions of an insats (one, empty, for an insats without candidates: request
        rules still need a session to fire in)."""
        chunks = self._chunks.setdefault(insats, [])
        if not chunks:
            chunks.append(f"{insats}#0")
            self._sid_count[chunks[0]] = 0
        return chunks

    def _ensure_session(self, comp: _Compiled, insats: str) -> None:
        if insats in comp.sessions.insats:
            return
        sids = self._sessions_of(insats)
        for sid, facts in self._by_sid(comp, self._residents.get(insats, []), self._sid_of).items():
            if sid not in comp.sessions.sids:
                self._init_session(comp, sid)
            self._batched(durable_rules_engine.assert_facts, comp, facts)
        for sid in sids:
            if sid not in comp.sessions.sids:
                self._init_session(comp, sid)
            self._check_count(comp, sid, expected=self._sid_count[sid])
        comp.sessions.insats.add(insats)

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, request_fact: dict, *, on: date) -> RequestEvaluation:
        """One CandidateOutcome per candidate of the requested insats (same as the reference)."""
        with self._lock:
            comp, fired = self._decide(request_fact, on)
            return self._result(comp, request_fact, fired, on)

    def decide(self, request_fact: dict, *, on: date) -> dict[str | None, dict[str, str]]:
        """The engine's decision alone, without explanations: candidate id (None for the
        request) -> rule id -> 'outcome' | 'unevaluable'. For benchmarks and tests."""
        with self._lock:
            return self._decide(request_fact, on)[1]

    def _decide(self, request_fact: dict, on: date) -> tuple[_Compiled, dict[str | None, dict[str, str]]]:
        if self.snapshot is None:
            raise RuntimeError("load(snapshot) first")
        if self._matches_since_recycle >= self.recycle_matches:
            self.recycles += 1
            self._reset_host()
        insats = request_fact["insats"]
        for path, cap in list(self._capacities.items()):
            n = len(get_path({"request": request_fact}, path) or ()) if path.startswith("request.") else 0
            if n > cap:  # a longer list than compiled for: recompile with room for it
                self._capacities[path] = max(n, 2 * cap)
                self._reset_host()
        comp = self._compiled_for(on)
        self._ensure_session(comp, insats)
        wire_r = comp.encoder.encode(request_fact, "r", {"id": "request", "sid": "", "k": "r"})
        collected = []
        for sid in self._sessions_of(insats):  # the request meets each session's candidates
            wire_r["sid"] = sid
            collected += self._run(durable_rules_engine.assert_fact, comp.name, wire_r)
            if self._run(durable_rules_engine.retract_fact, comp.name, wire_r):
                raise EngineError("retracting the request fired rules")
        return comp, self._fired(comp, collected)

    def _fired(self, comp: _Compiled, collected: list) -> dict[str | None, dict[str, str]]:
        fired: dict[str | None, dict[str, str]] = {}  # candidate id (None: request) -> rule id -> kind
        matches = 0
        for rule_name, cids, count in collected:
            target = comp.targets.get(rule_name)
            if target is None:
                raise EngineError(f"durable-rules fired {rule_name!r}, which no rule compiled to")
            matches += count
            if target.rule.scope == "candidate" and len(cids) != count:
                raise EngineError(f"{rule_name}: {count} matches but {len(cids)} candidate ids")
            for cid in (cids if target.rule.scope == "candidate" else [None]):
                kinds = fired.setdefault(cid, {})
                prev = kinds.get(target.rule.id)
                if prev is not None and prev != target.kind:
                    raise EngineError(f"rule {target.rule.id} both fired and was unevaluable for one candidate")
                kinds[target.rule.id] = target.kind
        self._matches_since_recycle += matches
        return fired

    def _result(self, comp: _Compiled, req: dict, fired: dict, on: date) -> RequestEvaluation:
        insats = req["insats"]
        rfact = {"request": req}
        _, request_flags, request_unev = self._reasons(comp, fired.get(None, {}), rfact)
        out: list[CandidateOutcome] = []
        for cid, cand in self._residents.get(insats, []):
            fact = dict(cand)
            fact["request"] = req
            exclusions, flags, unev = self._reasons(comp, fired.get(cid, {}), fact)
            u, rt = cand["unit"], cand["route"]
            out.append(CandidateOutcome(
                unit_id=u["unit_id"], org_nr=u["org_nr"], route=rt["route"], agreement_id=rt["agreement_id"],
                daily_price=rt["daily_price"], distance_km=display_distance(fact),
                exclusions=exclusions, flags=flags, unevaluable=unev, fact=fact))
        return RequestEvaluation(out, request_flags, request_unev, self.ruleset.version, on)

    def _reasons(self, comp: _Compiled, kinds: dict[str, str], fact: dict) -> tuple[list, list, list]:
        exclusions: list[Reason] = []
        flags: list[Reason] = []
        unev: list[Reason] = []
        for rule_id in sorted(kinds, key=comp.order.__getitem__):
            cr = comp.compiled_rules[rule_id]
            if kinds[rule_id] == "outcome":
                (exclusions if isinstance(cr.rule.outcome, Exclude) else flags).append(reason(cr, fact))
            else:
                unev.append(unevaluable_reason(cr, fact, _missing(cr, fact)))
        return exclusions, flags, unev

    # -- introspection (tests, bench) ---------------------------------------------------------------
    def held_facts(self, on: date, insats: str) -> list[dict]:
        with self._lock:
            comp = self._compiled_for(on)
            self._ensure_session(comp, insats)
            return [f for sid in self._sessions_of(insats) for f in self._host.get_facts(comp.name, sid)]

    def close(self) -> None:
        with self._lock:
            self._reset_host()
            self._host = None


def _missing(cr: CompiledRule, fact: dict) -> list[str]:
    """Which fields the engine found absent, named as the reference names them."""
    missing = [p for p, g in cr.applies_fields if g(fact) is None]
    if missing:
        return missing
    return [p for p, g in cr.when_fields if g(fact) is None] + [f"param.{n}" for n in cr.missing_params]


def _deepcopy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deepcopy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deepcopy(v) for v in value]
    return value

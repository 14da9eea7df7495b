"""Compact decisions explained again (issue 20's compact form, matching/compact.py): the full
`excluded` entries of a stored decision and its units below the cut, rebuilt on demand from the
stored register snapshot, rule files, request, declines and price reference, every digest
checked (`expand`, `redecide`, `full_document`).

Above the matcher (it decides again with `matcher.decide`) and the compact form; below the
stored decisions (decisions.py reads a decision whole through here).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable

from ..i18n import msg

from .compact import candidate_sets, is_compact, is_derived, list_digest, outcome_keys, sets_digest, unpack_sets


def expand(session: Any, document: dict[str, Any], request: Any, *, unit_ids: Iterable[str] | None = None,
           ruleset: Any = None) -> list[dict[str, Any]]:
    """The full `excluded` entries of a compact document (of the given units only, when named),
    rebuilt from the stored register snapshot and rule files (module docstring)."""
    from ..rules.facts import RegisterSnapshot
    from ..rules.reference import ReferenceEvaluator
    from .matcher import excluded_entry
    from .privacy import band_width, protect_distances
    from .snapshots import SnapshotError

    block = document["excluded"]
    insats = document["insats"]
    only = None if unit_ids is None else set(unit_ids)
    if "sets" in block and not is_derived(block["held_back"]):  # the first encoding: the sets themselves
        inputs = _Inputs.of(session, document, request, ruleset)
        stored_sets, held = unpack_sets(block["sets"]), block["held_back"]
    else:
        again = redecide(session, document, request, ruleset=ruleset)
        inputs, stored_sets = again.inputs, again.sets
        held = block["held_back"] if not is_derived(block["held_back"]) else again.held_back
    cands = inputs.cands
    held_back = [e for e in held if only is None or e["unit_id"] in only]
    # The excluded units are those none of whose candidates is eligible: every one is in a
    # rule's set (the eligible ones are recommended, below the cut or held back).
    keys: list[set[str]] = [set() for _ in cands]
    for key, idx in stored_sets.items():
        for i in idx:
            keys[i].add(key)
    eligible_units = {c["unit"]["unit_id"] for c, k in zip(cands, keys) if not k}
    selected = [i for i, c in enumerate(cands)
                if c["unit"]["unit_id"] not in eligible_units and (only is None or c["unit"]["unit_id"] in only)]
    entries = list(held_back)
    if selected:
        evaluator = ReferenceEvaluator(inputs.ruleset)
        # Not load(): that freezes the heap for a resident register; this one is used once.
        evaluator.snapshot = RegisterSnapshot(on=inputs.snapshot.on, by_insats={insats: [cands[i] for i in selected]})
        evaluation = evaluator.evaluate(inputs.fact, on=inputs.on)
        by_unit: dict[str, list[Any]] = {}
        for i, c in zip(selected, evaluation.candidates):
            if outcome_keys(c) != keys[i]:
                raise SnapshotError(
                    f"decision {document.get('seq')} of '{document['request_id']}': unit {c.unit_id} "
                    "does not evaluate as stored; its explanation cannot be reproduced")
            by_unit.setdefault(c.unit_id, []).append(c)
        rebuilt = [excluded_entry(uid, cs) for uid, cs in by_unit.items()]
        # As at decision time: a protected pair's distances in bands (privacy.py).
        protect_distances(rebuilt, person_protected=request.person.protected_identity,
                          unit_protected=inputs.protected.__contains__, width=band_width(inputs.ruleset, inputs.on))
        entries += rebuilt
    entries.sort(key=lambda e: e["unit_id"])
    return entries


def excluded_as_stored(session: Any, document: dict[str, Any], request: Any, unit_id: str,
                       groups: list[dict[str, Any]], *, ruleset: Any = None) -> dict[str, Any] | None:
    """The `excluded` entry of one unit of a compact decision, from the excluded units by
    reason stored with it (`decision.excluded_units`, compact.decode_grouped) instead of
    deciding it again: what `expand(..., unit_ids=[unit_id])` gives, or None when this cannot
    say (the caller then asks `expand`, which decides again and checks every digest).

    `expand` explains a unit none of whose candidates is eligible by evaluating that unit's
    candidates, and only them, with the reference evaluator on the stored snapshot, rules,
    request facts and date; a candidate's outcome depends on its own facts and the request's
    only. This does the same evaluation. What `expand` learns from deciding again (that the
    unit is excluded, not eligible: below the cut or held back) the stored groups say: the
    unit is under its reason codes there, and under none of a held-back unit (LAST_RESORT).
    The evaluation must agree: no candidate of the unit eligible, and the same reason codes
    as stored at decision time; else None."""
    from ..rules.facts import RegisterSnapshot
    from ..rules.reference import ReferenceEvaluator
    from .matcher import LAST_RESORT, excluded_entry
    from .privacy import band_width, protect_distances

    codes = {g["code"] for g in groups if unit_id in g["units"]}
    if not codes or LAST_RESORT in codes:
        return None
    inputs = _Inputs.of(session, document, request, ruleset)
    insats = document["insats"]
    selected = [c for c in inputs.cands if c["unit"]["unit_id"] == unit_id]
    if not selected:
        return None
    evaluator = ReferenceEvaluator(inputs.ruleset)
    evaluator.snapshot = RegisterSnapshot(on=inputs.snapshot.on, by_insats={insats: selected})
    outcomes = evaluator.evaluate(inputs.fact, on=inputs.on).candidates
    if any(not c.exclusions and not c.unevaluable for c in outcomes):
        return None  # eligible now: not as stored (expand says what it is)
    entry = excluded_entry(unit_id, outcomes)
    said = {r["code"] for r in entry["reasons"]} | ({"UNEVALUABLE"} if entry["unevaluable"] else set())
    if said != codes:
        return None
    # As at decision time: a protected pair's distances in bands (privacy.py), as `expand` does.
    protect_distances([entry], person_protected=request.person.protected_identity,
                      unit_protected=inputs.protected.__contains__, width=band_width(inputs.ruleset, inputs.on))
    return entry


class _Inputs:
    """What a stored decision was decided on: the stored snapshot's candidates of the insats,
    the rules of its version, the request's facts with the declines and price reference then."""

    @classmethod
    def of(cls, session: Any, document: dict[str, Any], request: Any, ruleset: Any = None) -> "_Inputs":
        from ..rules.facts import request_fact
        from ..taxonomy import load_taxonomy
        from .snapshots import SnapshotError, ruleset_of_version, stored_snapshot

        block = document["excluded"]
        self = cls()
        self.snapshot = stored_snapshot(session, block["register_revision"], date.fromisoformat(block["as_of"]),
                                        document["insats"])
        self.cands = self.snapshot.candidates(document["insats"])
        if len(self.cands) != block["candidates"]:
            raise SnapshotError(msg("snapshot.candidates_differ", seq=document.get("seq"), request=document["request_id"],
                                    held=len(self.cands), decided=block["candidates"]))
        self.ruleset = ruleset_of_version(session, document["rules_version"], ruleset)
        self.fact = request_fact(request.payload(), self.snapshot, load_taxonomy(),
                                 declined=document.get("declined_units") or (),
                                 price_confirmation_months=self.ruleset.param("price_confirmation_months",
                                                                              request.submitted_on))
        # The price reference the decision used (framework and final prices then), not today's.
        # A float, as decided (facts.reference_price): a stored document may hold a whole
        # number of kronor as an integer (1280 for 1280.0), and a flag's values would differ.
        reference = document.get("reference_price")
        self.fact["reference_price"] = float(reference) if reference is not None else None
        self.on = date.fromisoformat(document["evaluated_on"])
        self.protected = {c["unit"]["unit_id"] for c in self.cands if c["unit"].get("protected_address")}
        return self


class Redecided:
    """A stored decision decided again on what it was decided on, checked against its digests."""

    def __init__(self, inputs: _Inputs, sets: dict[str, list[int]], below_cut: list[dict], held_back: list[dict]):
        self.inputs, self.sets, self.below_cut, self.held_back = inputs, sets, below_cut, held_back


_REDECIDED: dict[tuple, Redecided] = {}


def redecide(session: Any, document: dict[str, Any], request: Any, *, ruleset: Any = None) -> Redecided:
    """Decide a stored (digest-encoded) decision again: the columnar evaluator on the stored
    snapshot with the rules of its version, the request as stored, its declines and price
    reference then, ranked by the policy of its date. The per-rule sets, the units below the
    cut and the held-back units must have the stored digests, or it refuses (SnapshotError):
    an explanation is the one given at decision time or none. Kept per stored decision (a
    stored decision never changes), so one command asks once."""
    from ..rules.facts import RegisterSnapshot
    from ..rules.vectorized import VectorizedEvaluator
    from ..taxonomy import load_taxonomy
    from .matcher import Policy, decide
    from .privacy import protect_distances
    from .snapshots import SnapshotError

    block = document["excluded"]
    key = (document["request_id"], document.get("seq"), document["rules_version"], block.get("digest"),
           json.dumps(document.get("below_cut"), sort_keys=True, default=str),
           json.dumps(block.get("held_back"), sort_keys=True, default=str))
    found = _REDECIDED.get(key)
    if found is not None:
        return found
    inputs = _Inputs.of(session, document, request, ruleset)
    evaluator = VectorizedEvaluator(inputs.ruleset)
    evaluator.load(RegisterSnapshot(on=inputs.snapshot.on, by_insats={document["insats"]: inputs.cands},
                                    digests=dict(inputs.snapshot.digests)))
    evaluation = evaluator.evaluate(inputs.fact, on=inputs.on)
    sets = candidate_sets(evaluation, inputs.cands)
    policy = Policy.on(inputs.ruleset, inputs.on)
    again = decide(request, evaluation, policy, rules_version=inputs.ruleset.version, on=inputs.on,
                   limit=document.get("limit_requested"), declined=document.get("declined_units") or (),
                   reference_price=document.get("reference_price"), taxonomy=load_taxonomy(),
                   compact={"candidates": inputs.cands, "revision": block["register_revision"],
                            "as_of": date.fromisoformat(block["as_of"])})
    protect_distances(again, person_protected=request.person.protected_identity,
                      unit_protected=inputs.protected.__contains__, width=policy.distance_band_km)
    below_cut, held_back = again["below_cut"], again["excluded"]["held_back"]
    checks = [("digest" not in block or sets_digest(sets) == block["digest"]),
              (not is_derived(document.get("below_cut")) or list_digest(below_cut) == document["below_cut"]["digest"]),
              (not is_derived(block.get("held_back")) or list_digest(held_back) == block["held_back"]["digest"])]
    if not all(checks):
        raise SnapshotError(
            f"decision {document.get('seq')} of '{document['request_id']}': the rules no longer decide the stored "
            "register snapshot as they did at decision time; its explanation cannot be reproduced")
    if len(_REDECIDED) > 8:
        _REDECIDED.clear()
    found = _REDECIDED[key] = Redecided(inputs, sets, below_cut, held_back)
    return found


def below_cut_of(session: Any, document: dict[str, Any], request: Any, *, ruleset: Any = None) -> list[dict]:
    """The decision's eligible units below the cut, decided again when stored derived."""
    below = document.get("below_cut") or []
    return redecide(session, document, request, ruleset=ruleset).below_cut if is_derived(below) else below


def full_document(session: Any, document: dict[str, Any], request: Any, *, ruleset: Any = None) -> dict[str, Any]:
    """The document with its full `excluded` and `below_cut` lists (CONTRACT.md), from a compact one."""
    if not is_compact(document):
        return document
    return dict(document, excluded=expand(session, document, request, ruleset=ruleset),
                below_cut=below_cut_of(session, document, request, ruleset=ruleset))


def full_document_by_reference(session: Any, document: dict[str, Any], request: Any, *,
                                ruleset: Any = None) -> dict[str, Any]:
    """`full_document`, without numpy: the stored decision decided again by the reference
    evaluator instead of the columnar one (`redecide`), in one evaluation of every candidate
    that both decides it again and explains its excluded units (what `expand` does with the
    reference evaluator after the columnar one). Read commands on the database's own driver
    (`request show --json`, matching/reads.py) start without loading numpy and the columnar
    engine.

    The same checks: the per-rule sets, the units below the cut and the held-back units must
    have the digests stored with the decision. The excluded units' entries are the reference
    evaluator's, each candidate evaluated on its own facts and the request's (as `expand`
    does, a few at a time), protected as at decision time. When a digest differs, or the
    decision is of the first compact encoding, it is `full_document` that answers (deciding
    again with the columnar evaluator: its answer, or its refusal)."""
    from ..rules.facts import RegisterSnapshot
    from ..rules.reference import ReferenceEvaluator
    from ..taxonomy import load_taxonomy
    from .matcher import Policy, decide
    from .privacy import protect_distances

    if not is_compact(document):
        return document
    block = document["excluded"]
    if "sets" in block and not is_derived(block["held_back"]):
        return full_document(session, document, request, ruleset=ruleset)
    inputs = _Inputs.of(session, document, request, ruleset)
    evaluator = ReferenceEvaluator(inputs.ruleset)
    evaluator.snapshot = RegisterSnapshot(on=inputs.snapshot.on, by_insats={document["insats"]: inputs.cands})
    evaluation = evaluator.evaluate(inputs.fact, on=inputs.on)
    sets = candidate_sets(evaluation, inputs.cands)
    policy = Policy.on(inputs.ruleset, inputs.on)
    again = decide(request, evaluation, policy, rules_version=inputs.ruleset.version, on=inputs.on,
                   limit=document.get("limit_requested"), declined=document.get("declined_units") or (),
                   reference_price=document.get("reference_price"), taxonomy=load_taxonomy(), with_excluded=True)
    protect_distances(again, person_protected=request.person.protected_identity,
                      unit_protected=inputs.protected.__contains__, width=policy.distance_band_km)
    excluded = again["excluded"]
    held_back = [e for e in excluded if "eligible" in e]  # the units held back as the last resort
    below = document.get("below_cut")
    checks = [("digest" not in block or sets_digest(sets) == block["digest"]),
              (not is_derived(below) or list_digest(again["below_cut"]) == below["digest"]),
              (not is_derived(block.get("held_back")) or list_digest(held_back) == block["held_back"]["digest"])]
    if not all(checks):
        return full_document(session, document, request, ruleset=ruleset)
    if not is_derived(block["held_back"]):  # a list stored in full is given as stored (as `expand` does)
        stored = {e["unit_id"]: e for e in block["held_back"]}
        excluded = [stored.get(e["unit_id"], e) if "eligible" in e else e for e in excluded]
    return dict(document, excluded=excluded, below_cut=again["below_cut"] if is_derived(below) else (below or []))


def grouped_document(session: Any, document: dict[str, Any], request: Any, *, ruleset: Any = None) -> dict[str, Any]:
    """The document as stored, with every excluded unit's id under each of its reason codes
    (`excluded.by_reason`, as `compact.excluded_by_reason` groups the full document's list):
    what a person's `match` prints. From the per-rule sets of a decision made in this process,
    else decided again (`redecide`); no explanation is built (at 20,000 units building them all
    was most of a match)."""
    from .compact import decided_here, units_by_reason

    if not is_compact(document):
        return document
    block = document["excluded"]
    here = decided_here(document)
    if here is not None:
        sets, cands, held = here
    elif "sets" in block and not is_derived(block["held_back"]):  # the first encoding: the sets themselves
        cands = _Inputs.of(session, document, request, ruleset).cands
        sets, held = unpack_sets(block["sets"]), block["held_back"]
    else:
        again = redecide(session, document, request, ruleset=ruleset)
        cands, sets = again.inputs.cands, again.sets
        held = block["held_back"] if not is_derived(block["held_back"]) else again.held_back
    groups = units_by_reason(sets, cands, held)
    count = len({u for g in groups for u in g["units"]})
    return dict(document, excluded=dict(block, by_reason=groups, count=count))


def is_candidate(session: Any, document: dict[str, Any], unit_id: str) -> bool:
    """Whether the unit had a candidate of the insats in the snapshot the decision was made on."""
    from .snapshots import stored_snapshot

    block = document["excluded"]
    snap = stored_snapshot(session, block["register_revision"], date.fromisoformat(block["as_of"]), document["insats"])
    return any(c["unit"]["unit_id"] == unit_id for c in snap.candidates(document["insats"]))

"""Ranking by the priority order: from the rules' evaluation of a request to a decision document.

The rules (`rules/eligibility*.yaml`, `rules/review*.yaml`) decide, per candidate (one unit and
one route of the requested insats), whether it is excluded, flagged, or could not be evaluated.
This module only ranks what the rules left eligible, by the ranking policy
(`rules/ranking.yaml`, `RANK-PRIORITY-ORDER`):

1. **Route order** (`route_order`): egen regi, then ramavtal, then IOP. A unit appears once,
   under its best eligible route; its other routes are shown as `other_routes`.
2. **Last resort** (`last_resort`: direktupphandling): used only when no unit of the other
   routes is eligible, or when every eligible one has declined. Otherwise a unit eligible only
   through direct procurement is listed in `excluded` with reason `LAST_RESORT` and its
   `eligible` route (it is held back, not silently dropped). A decision that recommends direct
   procurement carries the `DIRECT_PROCUREMENT` flag with its reason, citing the policy:
   `all_declined` (eligible units of the other routes exist but all declined),
   `no_framework_for_insats` (the taxonomy has no ramavtal route for the insats, e.g.
   nödbistånd), or `no_eligible_framework_unit`.
3. **Within a route**, the policy's `sort_keys` (by default needs fit desc, daily price asc,
   distance asc, unit id asc: unit id makes every tie deterministic). Missing values (a unit
   without a price or a position) sort last, whatever the order.

**needs_fit** (`NEEDS_FIT_DEFINITION`), computed from the candidate's facts:
  the number of the person's needs named among the target groups of the unit's IVO permit for
  the insats (when the unit holds one; otherwise among the unit's own target groups), plus 1
  when the request names a sub-category and the unit offers it. Under today's eligibility rules
  (ELIG-TARGET-GROUP, ELIG-PERMIT-TARGET-GROUP, ELIG-SUBCATEGORY) every eligible unit covers all
  needs and offers the sub-category, so needs_fit is then equal for all of them and price and
  distance decide; it separates units as soon as a rule is relaxed into a preference (e.g. a
  rules copy without ELIG-SUBCATEGORY: tests/test_matching_priority.py). It is shown in every
  recommendation's `keys` either way.

Every recommendation shows the keys it was ranked on (`keys`); there is no opaque score.
Distances are rounded to 0.1 km before ranking, so the order follows from the shown keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from ..errors import ValidationError
from ..i18n import msg
from ..memory import gc_paused
from ..rules.model import RANKING_SORT_KEYS, get_path
from ..taxonomy import Taxonomy, load_taxonomy
from ..vocabulary import ExclusionCode, FlagCode, Route
from .privacy import band_floor, band_width, protect_distances

if TYPE_CHECKING:  # a request matched is the model's or the fast check's (request.Request): no pydantic here
    from .request import PlacementRequestIn

NEEDS_FIT_DEFINITION = (
    "number of the person's needs among the target groups of the unit's IVO permit for the insats "
    "(the unit's own target groups when it holds no permit), plus 1 when the requested sub-category is offered"
)

# Decision-level flag and reason codes this module raises (the rules raise the others).
DIRECT_PROCUREMENT = FlagCode.DIRECT_PROCUREMENT.value
NO_ELIGIBLE_UNIT = FlagCode.NO_ELIGIBLE_UNIT.value
LAST_RESORT = FlagCode.LAST_RESORT.value
DECLINED = ExclusionCode.DECLINED.value

DP_ALL_DECLINED = "all_declined"
DP_NO_FRAMEWORK = "no_framework_for_insats"
DP_NO_ELIGIBLE_FRAMEWORK = "no_eligible_framework_unit"

_DP_MESSAGES = {
    DP_ALL_DECLINED: "Alla enheter i egen regi, ramavtal eller IOP som kunde ta emot har tackat nej: direktupphandling krävs och ska granskas",
    DP_NO_FRAMEWORK: "Insatsen har inget ramavtal: extern placering sker genom direktupphandling och ska granskas",
    DP_NO_ELIGIBLE_FRAMEWORK: "Ingen enhet i egen regi, ramavtal eller IOP kan ta emot: direktupphandling krävs och ska granskas",
}

SORTABLE_KEYS = RANKING_SORT_KEYS  # one list: the loader accepts exactly what the matcher ranks on


from ..rules.model import source_json  # noqa: E402,F401  (one definition, light: review show's direct read)


def _jsonable(value: Any) -> Any:
    kind = type(value)
    if value is None or kind is int or kind is str:  # most prices and ids: nothing to convert
        return value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value) if abs(value) < 2**53 else value
    return value


# Positions never leave the matcher: a protected unit's location and a protected person's home
# must not be printed, and no reason needs them (distance_km says what the rule compared).
HIDDEN_VALUES = frozenset({"unit.lat", "unit.lon", "request.home_lat", "request.home_lon",
                           "unit.geo_x", "unit.geo_y", "unit.geo_z", "request.home_x", "request.home_y",
                           "request.home_z", "request.distance_cos"})


def _plain_values(values: dict[str, Any] | None) -> dict[str, Any]:
    """A reason's values as JSON, without positions (HIDDEN_VALUES). Values are scalars, dates
    or lists of codes, and only dates need converting; the evaluators build a fresh dict per
    reason, so one with neither is used as it is (this runs for every reason of every excluded
    unit: keep it cheap)."""
    if not values:
        return {}
    for k, v in values.items():
        if type(v) is date or k in HIDDEN_VALUES:
            return {k: (v.isoformat() if type(v) is date else v) for k, v in values.items() if k not in HIDDEN_VALUES}
    return values


def reason_json(reason: Any, **extra: Any) -> dict[str, Any]:
    """A rules `Reason` (code, rule, message, values, source) as a JSON object."""
    out = {
        "code": reason.code,
        "rule": reason.rule,
        "message": reason.message,
        "values": _plain_values(reason.values),
        "source": reason.source if type(reason.source) is str else source_json(reason.source),
    }
    if extra:
        out.update(extra)
    return out


def needs_fit(candidate: Any, request: PlacementRequestIn, needs: Sequence[str] | None = None) -> int:
    """See NEEDS_FIT_DEFINITION (module docstring). `needs`: the person's needs' codes, when the
    caller read them once for all candidates."""
    fact = candidate.fact  # every evaluator's fact is a plain dict: read the namespaces directly (runs per eligible unit)
    if needs is None:
        needs = [n.value for n in request.person.needs]
    permit, unit = fact.get("permit") or {}, fact.get("unit") or {}
    groups = (permit.get("target_groups") if permit.get("exists") else unit.get("target_groups")) or ()
    subcategories = unit.get("subcategories") or ()
    fit = sum(1 for n in needs if n in groups)
    if request.subcategory is not None and request.subcategory in subcategories:
        fit += 1
    return fit


class _Desc:
    """Reverses the order of a comparable value (for `order: desc` on text)."""

    __slots__ = ("v",)

    def __init__(self, v: Any):
        self.v = v

    def __lt__(self, other: "_Desc") -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v


@dataclass
class Ranked:
    """One eligible unit under its best route, with the keys it is ranked on."""

    candidate: Any
    keys: dict[str, Any]
    sort: tuple
    others: list[Any] = field(default_factory=list)  # the unit's other candidates (routes)


@dataclass
class Policy:
    """The ranking policy as this module uses it (from `ruleset.policy("ranking", on)`)."""

    id: str
    source: Any
    route_order: tuple[str, ...]
    last_resort: tuple[str, ...]
    sort_keys: tuple[tuple[str, str], ...]
    recommendations: int
    # Width of the distance bands of protected pairs (privacy.py); None: no parameter on the date.
    distance_band_km: float | None = None

    @classmethod
    def of(cls, policy: Any, *, distance_band_km: float | None = None) -> "Policy":
        keys = tuple((k.key, k.order) if hasattr(k, "key") else (k["key"], k["order"]) for k in policy.sort_keys)
        unknown = [k for k, _ in keys if k not in SORTABLE_KEYS]
        if unknown:
            raise ValidationError(msg("ranking.unknown_keys", n=len(unknown), policy=policy.id, keys=", ".join(unknown),
                                      known=", ".join(SORTABLE_KEYS)))
        return cls(policy.id, policy.source, tuple(policy.route_order), tuple(policy.last_resort), keys,
                   int(policy.recommendations), distance_band_km)

    @classmethod
    def on(cls, ruleset: Any, on: date) -> "Policy":
        """The ranking policy and the protected distance band valid on a date."""
        return cls.of(ruleset.policy("ranking", on), distance_band_km=band_width(ruleset, on))

    def describe(self) -> dict[str, Any]:
        return {
            "rule": self.id,
            "route_order": list(self.route_order),
            "last_resort": list(self.last_resort),
            "sort_keys": [{"key": k, "order": o} for k, o in self.sort_keys],
            "needs_fit": NEEDS_FIT_DEFINITION,
            "source": source_json(self.source),
        }


def _ranker(request: PlacementRequestIn, policy: Policy, needs: Sequence[str]) -> Any:
    """`c -> (keys, sort)` for one request: the keys an eligible candidate is ranked on (shown
    in its recommendation) and its sort tuple (route priority, then the policy's keys, missing
    values last whatever the order), in one pass per eligible candidate (hundreds per request
    at 20,000 units), the request's and policy's parts read once."""
    priority: dict[str, int] = {}
    for i, route in enumerate(policy.route_order):
        priority.setdefault(route, i + 1)  # the first place, as route_order.index
    unlisted = len(policy.route_order) + 1
    person_protected = request.person.protected_identity
    subcategory = request.subcategory
    band = policy.distance_band_km
    sort_keys = policy.sort_keys

    def rank(c: Any) -> tuple[dict[str, Any], tuple]:
        route_priority = priority.get(c.route, unlisted)
        keys: dict[str, Any] = {"route": c.route, "route_priority": route_priority}
        sort: list[Any] = [route_priority]
        for name, order in sort_keys:
            if name == "needs_fit":  # needs_fit(c, request, needs)
                fact = c.fact
                permit, unit = fact.get("permit") or {}, fact.get("unit") or {}
                groups = (permit.get("target_groups") if permit.get("exists") else unit.get("target_groups")) or ()
                v = 0
                for n in needs:
                    if n in groups:
                        v += 1
                if subcategory is not None and subcategory in (unit.get("subcategories") or ()):
                    v += 1
            elif name == "distance_km":
                distance = c.distance_km
                v = None if distance is None else round(float(distance), 1)
                if v is not None and (person_protected or bool((c.fact.get("unit") or {}).get("protected_address"))):
                    # Ranked by band, so that the order says no more than the printed bands.
                    v = band_floor(v, band) if band else None
            elif name == "daily_price":
                v = _jsonable(c.daily_price)
            elif name == "free_places":
                v = get_path(c.fact, "unit.free_places")
            else:
                v = getattr(c, name, None)
            keys[name] = v
            if v is None:
                sort.append((1, 0))  # missing values last, whatever the order
            elif order == "desc":
                sort.append((0, -v if isinstance(v, (int, float)) else _Desc(v)))
            else:
                sort.append((0, v))
        return keys, tuple(sort)
    return rank


def _route_tag(reason: Any, candidate: Any) -> dict[str, Any]:
    """reason_json plus the route the reason concerns (inlined: it runs per excluded reason)."""
    source = reason.source
    return {
        "code": reason.code,
        "rule": reason.rule,
        "message": reason.message,
        "values": _plain_values(reason.values),
        "source": source if type(source) is str else source_json(source),
        "route": candidate.route,
        "agreement_id": candidate.agreement_id,
    }


def _candidate_summary(c: Any, keys: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "unit_id": c.unit_id,
        "org_nr": c.org_nr,
        "route": c.route,
        "agreement_id": c.agreement_id,
        "daily_price": _jsonable(c.daily_price),
        "distance_km": None if c.distance_km is None else round(float(c.distance_km), 1),
    }
    if keys is not None:
        out["keys"] = keys
    return out


# The JSON of a held-back unit's entry but for its reasons (`_held_back_json`), per candidate and
# ranking policy: what differs between requests (the distance, needs_fit) filled in per request.
_HELD_BACK_TEXT: dict[tuple, tuple] = {}
_DISTANCE, _NEEDS_FIT = "\x00distance_km\x00", "\x00needs_fit\x00"  # placeholders: no value is either
_FILL_DISTANCE, _FILL_NEEDS_FIT = object(), object()  # where they were, among the text's pieces


def _scalar_json(value: Any, entry_json: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # finite: written as repr, as json writes it
        return float.__repr__(value)
    return entry_json(value)


def _held_back_json(c: Any, keys: dict[str, Any], policy: Policy, entry_json: Any) -> tuple[str, str]:
    """(the JSON of a held-back unit's entry up to its reasons' list, after it), as `entry_json`
    writes the whole entry (keys sorted): built once per candidate and policy with placeholders
    for the request's values (its distance, needs_fit), which are filled in. `c`: a _Light,
    whose distance is not in bands (neither it nor the person is protected)."""
    static = tuple((k, v) for k, v in keys.items() if k != "distance_km" and k != "needs_fit")
    cache_key = (id(c.fact), policy.route_order, policy.sort_keys)
    kept = _HELD_BACK_TEXT.get(cache_key)
    if kept is None or kept[0] is not c.fact or kept[1] != static:
        shape = dict(keys)
        for name, placeholder in (("distance_km", _DISTANCE), ("needs_fit", _NEEDS_FIT)):
            if name in shape:
                shape[name] = placeholder
        summary = _candidate_summary(c, shape)
        summary["distance_km"] = _DISTANCE
        text = "".join(('{"eligible":', entry_json(summary), ',"org_nr":', entry_json(c.org_nr), ',"reasons":[\x01',
                        '],"unevaluable":[],"unit_id":', entry_json(c.unit_id), "}"))
        pieces: list[Any] = []
        for i, part in enumerate(text.split(entry_json(_DISTANCE))):
            if i:
                pieces.append(_FILL_DISTANCE)
            for j, bit in enumerate(part.split(entry_json(_NEEDS_FIT))):
                if j:
                    pieces.append(_FILL_NEEDS_FIT)
                pieces.append(bit)
        if len(_HELD_BACK_TEXT) > 100_000:
            _HELD_BACK_TEXT.clear()
        kept = _HELD_BACK_TEXT[cache_key] = (c.fact, static, pieces)
    distance = _scalar_json(None if c.distance_km is None else round(float(c.distance_km), 1), entry_json)
    needs = _scalar_json(keys.get("needs_fit"), entry_json)
    text = "".join(distance if p is _FILL_DISTANCE else needs if p is _FILL_NEEDS_FIT else p for p in kept[2])
    head, tail = text.split("\x01")
    return head, tail


def _eligible(c: Any) -> bool:
    return not c.exclusions and not c.unevaluable


def _network_step(request: PlacementRequestIn) -> str:
    """The first step of the priority order, before every route: the person's own network
    ('först den enskildes nätverk', sources/000 l. 432-436), as the request records it."""
    value = getattr(request, "network_considered", None)
    return {True: "considered", False: "not_considered"}.get(value, "not_recorded")


def decide(
    request: PlacementRequestIn,
    evaluation: Any,
    policy: Policy,
    *,
    rules_version: str,
    on: date | None = None,
    decided_on: date | None = None,
    limit: int | None = None,
    declined: Sequence[str] = (),
    reference_price: float | None = None,
    taxonomy: Taxonomy | None = None,
    with_excluded: bool = True,
    compact: dict[str, Any] | None = None,
    protected: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The decision document (CONTRACT.md, "Match decision") for one evaluated request.

    `with_excluded=False` leaves out the `excluded` list (its size grows with the register);
    replay, which compares recommendations, flags and review only, does without it.
    `compact={"candidates": …, "revision": …, "as_of": …}` (the snapshot's candidates of the
    insats and where they are stored) gives `excluded` in its compact stored form
    (matching/compact.py) without building the excluded units' reasons.

    `protected` (the protected units among the insats' candidates, with `compact`): the
    document is to be stored, and its held-back units are kept only as their count and digest
    (`excluded.held_back` derived, as `storing.stored_form` stores it): their digest is taken
    of each entry's JSON as the whole list's would be (compact.entries_digest), protected
    pairs' distances in bands as `protect_distances` gives them, and the columnar
    evaluator's eligible candidates that no rule flagged, of a unit with no other route, are
    ranked and listed without building their outcomes (`_Light`). The stored bytes are the
    same as without it (tests/test_compact_decisions.py).
    """
    tax = taxonomy or load_taxonomy()
    limit_requested = limit
    limit = policy.recommendations if limit is None else limit
    if limit < 1:
        raise ValidationError(msg("match.limit"))
    last_resort_routes = policy.last_resort
    lean = compact is not None and protected is not None
    if lean:
        from .compact import entry_json
    units = _fast_units(evaluation, last_resort_routes, lean=lean) if _has_fast_path(evaluation) else \
        _units(evaluation, last_resort_routes)
    eligible_units = units.eligible
    declined_eligible = units.declined_eligible

    primary: list[Ranked] = []
    last_resort: list[Ranked] = []
    needs = [n.value for n in request.person.needs]  # read once, not per eligible candidate
    rank = _ranker(request, policy, needs)
    for unit_id, eligible in eligible_units.items():
        ranked = []
        for c in eligible:
            keys, sort = rank(c)
            ranked.append(Ranked(c, keys, sort))
        best = ranked[0] if len(ranked) == 1 else min(ranked, key=lambda r: r.sort)
        cands = units.candidates(unit_id)
        if len(cands) > 1:
            best.others = [c for c in cands if c is not best.candidate]
        (last_resort if best.candidate.route in last_resort_routes else primary).append(best)

    flags: list[dict[str, Any]] = []
    for r in evaluation.request_flags:
        flags.append(reason_json(r))
    held_back: list[Ranked] = []
    dp_reason: str | None = None
    if primary:
        ranked_all = sorted(primary, key=lambda r: r.sort)
        held_back = sorted(last_resort, key=lambda r: r.sort)
    else:
        ranked_all = sorted(last_resort, key=lambda r: r.sort)
        if ranked_all:
            if declined_eligible:
                dp_reason = DP_ALL_DECLINED
            elif Route.RAMAVTAL.value not in tax.insats(request.insats).routes:
                dp_reason = DP_NO_FRAMEWORK
            else:
                dp_reason = DP_NO_ELIGIBLE_FRAMEWORK
    for i, r in enumerate(ranked_all, start=1):
        r.keys["rank"] = i

    def rec(r: Ranked) -> dict[str, Any]:
        out = _candidate_summary(r.candidate, r.keys)
        out["rank"] = r.keys["rank"]
        out["flags"] = [reason_json(f) for f in r.candidate.flags]
        others = []
        for o in r.others:
            entry: dict[str, Any] = {"route": o.route, "agreement_id": o.agreement_id,
                                     "eligible": _eligible(o)}
            if o.exclusions:
                entry["reasons"] = [reason_json(x) for x in o.exclusions]
            if o.unevaluable:
                entry["unevaluable"] = [reason_json(x) for x in o.unevaluable]
            others.append(entry)
        if others:
            out["other_routes"] = others
        return out

    recommendations = [rec(r) for r in ranked_all[:limit]]
    below_cut = [rec(r) for r in ranked_all[limit:]]
    for r in recommendations:
        for f in r["flags"]:
            flags.append({**f, "unit_id": r["unit_id"]})
    if dp_reason is not None:
        counts = units.exclusion_counts(policy)
        flags.append({
            "code": DIRECT_PROCUREMENT,
            "rule": policy.id,
            "message": _DP_MESSAGES[dp_reason],
            "reason": dp_reason,
            "values": {"reason": dp_reason, "insats_routes": list(tax.insats(request.insats).routes),
                       "declined_eligible_units": declined_eligible, "excluded_by_route": counts},
            "source": source_json(policy.source),
        })
    if not recommendations:
        flags.append({
            "code": NO_ELIGIBLE_UNIT,
            "rule": policy.id,
            "message": "Ingen enhet i registret kan ta emot personen enligt reglerna",
            "values": {"units_of_insats": units.count, "declined_units": len(declined)},
            "source": source_json(policy.source),
        })

    excluded: list[dict[str, Any]] = []
    others_count = len(primary)
    # The same for every unit held back (thousands at 20,000 units): built once.
    last_resort_message = ("Direktupphandling används bara när ingen enhet i "
                           f"{', '.join(x for x in policy.route_order if x not in policy.last_resort)} kan ta emot")
    policy_source = source_json(policy.source) if held_back else None
    texts: list[tuple[str, str]] | None = [] if lean else None  # (unit id, the entry's JSON as digested)
    last_resort_texts: dict[tuple, str] = {}
    person_protected = bool(request.person.protected_identity)
    for r in held_back if with_excluded or compact is not None else ():
        c = r.candidate
        if texts is not None and type(c) is _Light and not person_protected and c.unit_id not in protected:
            # Its entry's JSON (keys sorted, as compact.list_digest writes it), the reason the
            # same for every unit of its route and agreement: only the unit's codes are kept.
            key = (c.route, c.agreement_id)
            reason = last_resort_texts.get(key)
            if reason is None:
                reason = last_resort_texts[key] = entry_json({
                    "code": LAST_RESORT, "rule": policy.id, "message": last_resort_message,
                    "values": {"route": c.route, "eligible_units_other_routes": others_count},
                    "source": policy_source, "route": c.route, "agreement_id": c.agreement_id})
            head, tail = _held_back_json(c, r.keys, policy, entry_json)
            texts.append((c.unit_id, head + reason + tail))
            excluded.append({"unit_id": c.unit_id, "reasons": [{"code": LAST_RESORT}], "unevaluable": []})
            continue
        excluded.append({
            "unit_id": c.unit_id,
            "org_nr": c.org_nr,
            "eligible": _candidate_summary(c, r.keys),
            "reasons": [{
                "code": LAST_RESORT,
                "rule": policy.id,
                "message": last_resort_message,
                "values": {"route": c.route, "eligible_units_other_routes": others_count},
                "source": dict(policy_source) if isinstance(policy_source, dict) else policy_source,
                "route": c.route,
                "agreement_id": c.agreement_id,
            }] + [_route_tag(x, o) for o in r.others for x in o.exclusions],
            "unevaluable": [_route_tag(x, o) for o in r.others for x in o.unevaluable],
        })
        if texts is not None:
            entry = excluded[-1]
            if person_protected or c.unit_id in protected:  # as protect_distances bands them in the document
                protect_distances(entry, person_protected=person_protected, unit_protected=protected.__contains__,
                                  width=policy.distance_band_km)
            texts.append((c.unit_id, entry_json(entry)))
    if compact is not None:
        with_excluded = False
    for unit_id, cands in units.excluded() if with_excluded else ():
        excluded.append(excluded_entry(unit_id, cands))
    excluded.sort(key=lambda e: e["unit_id"])

    document = {
        "request_id": request.request_id,
        "insats": request.insats,
        "subcategory": request.subcategory,
        "rules_version": rules_version,
        "evaluated_on": (on or request.rules_day).isoformat(),
        "decided_on": (decided_on or on or request.submitted_on).isoformat(),  # evaluated_on: the rules' day
        "review_required": dp_reason is not None,
        "limit": limit,
        "limit_requested": limit_requested,  # None: the policy's number (replay follows a changed policy)
        "ranking": dict(policy.describe(), network=_network_step(request)),
        "reference_price": _jsonable(reference_price),
        "recommendations": recommendations,
        "flags": flags,
        "below_cut": below_cut,
        **({"excluded": excluded} if with_excluded else {}),
        "unevaluable": [reason_json(r) for r in getattr(evaluation, "unevaluable", ()) or ()],
        "declined_units": sorted(declined),
        "counts": {
            "units": units.count,
            "eligible": len(ranked_all) + len(held_back),
            "recommended": len(recommendations),
            "below_cut": len(below_cut),
            "excluded": units.count - len(eligible_units) + len(held_back),
        },
    }
    if compact is not None:
        from .compact import compact_block, derived_of_texts

        held_derived = None
        if texts is not None:
            texts.sort(key=lambda t: t[0])  # as `excluded` is sorted
            held_derived = derived_of_texts([t for _u, t in texts])
        document["excluded"] = compact_block(document, evaluation, compact["candidates"], excluded,
                                             revision=compact["revision"], as_of=compact["as_of"],
                                             held_derived=held_derived)
    return document


def excluded_entry(unit_id: str, cands: list[Any]) -> dict[str, Any]:
    """An excluded unit with every reason of every one of its candidates (routes)."""
    return {
        "unit_id": unit_id,
        "org_nr": cands[0].org_nr,
        "reasons": [_route_tag(x, c) for c in cands for x in c.exclusions],
        "unevaluable": [_route_tag(x, c) for c in cands for x in c.unevaluable],
    }


class _Units:
    """The candidates of one evaluation grouped by unit, as `decide` reads them."""

    def __init__(self, by_unit: dict[str, list[Any]], eligible: dict[str, list[Any]], declined_eligible: int):
        self.by_unit, self.eligible, self.declined_eligible = by_unit, eligible, declined_eligible
        self.count = len(by_unit)

    def candidates(self, unit_id: str) -> list[Any]:
        return self.by_unit[unit_id]

    def excluded(self) -> Iterable[tuple[str, list[Any]]]:
        return ((uid, cands) for uid, cands in self.by_unit.items() if uid not in self.eligible)

    def exclusion_counts(self, policy: Policy) -> dict[str, dict[str, int]]:
        return _exclusion_counts(self.by_unit, policy)


def _units(evaluation: Any, last_resort_routes: Sequence[str]) -> _Units:
    """One pass over every candidate (thousands on a large register): keep it lean."""
    by_unit: dict[str, list[Any]] = {}
    eligible_units: dict[str, list[Any]] = {}
    declined_units_seen: set[str] = set()  # units of a preferred route eligible but for their decline
    for c in evaluation.candidates:
        uid = c.unit_id
        cands = by_unit.get(uid)
        if cands is None:
            by_unit[uid] = [c]
        else:
            cands.append(c)
        exclusions = c.exclusions
        if not exclusions and not c.unevaluable:
            e = eligible_units.get(uid)
            if e is None:
                eligible_units[uid] = [c]
            else:
                e.append(c)
        elif (exclusions and not c.unevaluable and exclusions[0].code == DECLINED and len(exclusions) == 1
              and c.route not in last_resort_routes):
            declined_units_seen.add(uid)
    return _Units(by_unit, eligible_units, len(declined_units_seen))


def _has_fast_path(evaluation: Any) -> bool:
    """The columnar evaluator's result (rules/vectorized.py): arrays instead of outcomes."""
    return hasattr(evaluation, "eligible_indices") and hasattr(evaluation, "outcome")


class _Light:
    """An eligible candidate that no rule flagged, of a unit with no other candidate, as ranking
    and a decision's entries read it: the fields of its outcome (rules.reference.CandidateOutcome)
    without the outcome (a copy of its facts with the request's), no reasons, no flags. `fact`
    is the snapshot's candidate itself (ranking reads the unit's and the permit's facts)."""

    __slots__ = ("unit_id", "org_nr", "route", "agreement_id", "daily_price", "distance_km", "fact")
    exclusions: tuple = ()
    flags: tuple = ()
    unevaluable: tuple = ()

    def __init__(self, cand: dict[str, Any], request: dict[str, Any], display_distance: Any):
        u, rt = cand["unit"], cand["route"]
        self.unit_id, self.org_nr, self.route = u["unit_id"], u["org_nr"], rt["route"]
        self.agreement_id, self.daily_price = rt["agreement_id"], rt["daily_price"]
        # As the outcome's (VectorEvaluation._build: display_distance of the candidate with the request).
        self.distance_km = cand["distance_km"] if "distance_km" in cand else \
            display_distance({"unit": u, "request": request})
        self.fact = cand


class _FastUnits(_Units):
    """Like _Units, from the columnar evaluation: only the candidates a decision shows are
    materialised (eligible units' routes; excluded units' when the `excluded` list is built).
    `lean`: an eligible unit with one candidate that no rule flagged is not materialised
    either (`_Light`: its entry has no reasons to show)."""

    def __init__(self, evaluation: Any, last_resort_routes: Sequence[str], lean: bool = False):
        self.ev = evaluation
        self.names, self.members = evaluation.unit_names, evaluation.unit_members
        self.count = len(self.names)
        codes = evaluation.unit_code
        outcome = evaluation.outcome
        self.eligible = {}
        self._eligible_codes: set[int] = set()
        self._code_of: dict[str, int] = {}
        eligible_idx = evaluation.eligible_indices
        members = self.members
        light: set[int] = set()  # candidates given as _Light
        if lean and len(eligible_idx):
            # An eligible candidate has no exclusion and nothing unevaluable: any state left is a flag.
            states = evaluation.states
            flagged = states[:, eligible_idx].any(axis=0).tolist() if states.shape[0] else [False] * len(eligible_idx)
            light = {i for i, f in zip(eligible_idx.tolist(), flagged) if not f and len(members[codes[i]]) == 1}
        # Every candidate of an eligible unit is shown (ranked, or as one of its other routes).
        # (sorted(set()), not np.unique: that imports numpy.ma, 10 ms of a short process.)
        evaluation.materialise([i for k in sorted(set(codes[eligible_idx].tolist())) for i in members[k]
                                if i not in light])
        cands, request = (evaluation.table.cands, evaluation.request) if light else (None, None)
        if light:
            from ..rules.reference import display_distance
        for i in eligible_idx.tolist():
            k = int(codes[i])
            uid = self.names[k]
            o = _Light(cands[i], request, display_distance) if i in light else outcome(i)
            e = self.eligible.get(uid)
            if e is None:
                self.eligible[uid] = [o]
                self._eligible_codes.add(k)
                self._code_of[uid] = k
            else:
                e.append(o)
        declined = evaluation.only_exclusion(DECLINED) & ~evaluation.route_mask(tuple(last_resort_routes))
        self.declined_eligible = len(set(codes[declined].tolist()))

    def candidates(self, unit_id: str) -> list[Any]:
        """All candidates of an eligible unit (its other routes are shown with it)."""
        members = self.members[self._code_of[unit_id]]
        if len(members) == 1:
            return self.eligible[unit_id]
        return [self.ev.outcome(i) for i in members]

    def excluded(self) -> Iterable[tuple[str, list[Any]]]:
        outcome = self.ev.outcome
        self.ev.materialise([i for k, m in enumerate(self.members) if k not in self._eligible_codes for i in m])
        for k, uid in enumerate(self.names):
            if k not in self._eligible_codes:
                yield uid, [outcome(i) for i in self.members[k]]

    def exclusion_counts(self, policy: Policy) -> dict[str, dict[str, int]]:
        ev = self.ev
        mask = ~ev.eligible & ~ev.route_mask(tuple(policy.last_resort))
        return ev.reason_counts(mask, "UNEVALUABLE")


def _fast_units(evaluation: Any, last_resort_routes: Sequence[str], lean: bool = False) -> _Units:
    return _FastUnits(evaluation, last_resort_routes, lean)


def _exclusion_counts(by_unit: dict[str, list[Any]], policy: Policy) -> dict[str, dict[str, int]]:
    """For the candidates of the preferred (not last-resort) routes that are not eligible: how
    many were excluded by each reason code, per route (why no such unit could take the person)."""
    out: dict[str, dict[str, int]] = {}
    for cands in by_unit.values():
        for c in cands:
            if c.route in policy.last_resort or _eligible(c):
                continue
            codes = {x.code for x in c.exclusions} | ({"UNEVALUABLE"} if c.unevaluable else set())
            per = out.setdefault(c.route, {})
            for code in codes:
                per[code] = per.get(code, 0) + 1
    return out


def flag_codes(document: dict[str, Any]) -> list[str]:
    return sorted({f["code"] for f in document["flags"]})


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every difference that matters to a handler between two decisions of one request:
    recommendations (unit, route, rank), flags (code, unit, reason), review_required."""
    diffs: list[dict[str, Any]] = []

    def recs(doc: dict[str, Any]) -> list[tuple]:
        return [(r["rank"], r["unit_id"], r["route"]) for r in doc["recommendations"]]

    if recs(old) != recs(new):
        diffs.append({"what": "recommendations",
                      "old": [f"{u} ({route})" for _, u, route in recs(old)],
                      "new": [f"{u} ({route})" for _, u, route in recs(new)]})

    def flags(doc: dict[str, Any]) -> list[str]:
        return sorted({f"{f['code']}" + (f"[{f['unit_id']}]" if f.get("unit_id") else "")
                       + (f":{f['reason']}" if f.get("reason") else "") for f in doc["flags"]})

    if flags(old) != flags(new):
        diffs.append({"what": "flags", "old": flags(old), "new": flags(new)})
    if bool(old["review_required"]) != bool(new["review_required"]):
        diffs.append({"what": "review_required", "old": old["review_required"], "new": new["review_required"]})
    return diffs


def iter_units(document: dict[str, Any]) -> Iterable[str]:
    for part in ("recommendations", "below_cut", "excluded"):
        for e in document.get(part, []):
            yield e["unit_id"]


# ---------------------------------------------------------------------------------------------
# Evaluating and deciding: the register resident in memory, one evaluator, many requests.
# ---------------------------------------------------------------------------------------------

ENGINES = ("durable", "reference", "vectorized")


def load_evaluator(kind: str, ruleset: Any, snapshot: Any) -> Any:
    """An evaluator of the rules with the register snapshot resident (`durable`, `reference` or
    `vectorized`, the columnar numpy evaluator for large registers)."""
    if kind not in ENGINES:
        raise ValidationError(msg("option.unknown_value", option="--engine", value=kind, known=", ".join(ENGINES)))
    from .. import rules

    if kind == "vectorized":
        from ..rules.vectorized import VectorizedEvaluator as cls
    else:
        cls = rules.DurableEvaluator if kind == "durable" else rules.ReferenceEvaluator
    evaluator = cls(ruleset)
    evaluator.load(snapshot)
    return evaluator


@dataclass
class MatchContext:
    """What deciding needs, loaded once for any number of requests."""

    ruleset: Any
    evaluator: Any
    snapshot: Any
    taxonomy: Taxonomy
    _policies: dict[date, Policy] = field(default_factory=dict)
    revision: int | None = None  # the stored register snapshot (revision, as_of) decided on
    as_of: date | None = None
    unit_labels: dict[str, tuple] = field(default_factory=dict)  # unit id -> (name, municipality)

    @classmethod
    @gc_paused()  # a decoded candidate list is tens of thousands of small acyclic objects (memory.py)
    def load(cls, source: Any, *, engine: str = "durable", ruleset: Any = None, rules_dir: Any = None,
             insatser: Iterable[str] | None = None, store: bool = True) -> "MatchContext":
        """The rules and the register's facts (only of `insatser`, when given), read from the
        stored register snapshot of the current revision (matching/snapshots.py), which is built
        and stored first when there is none. `source` is an Engine, or a write transaction
        (storage.writes.Tx: read and stored in it); load it before the session
        that stores decisions reads anything (on SQLite a read transaction that saw an older
        commit cannot write afterwards)."""
        from ..rules import load_ruleset
        from .snapshots import load_snapshot

        from .resident import cache_of

        if hasattr(source, "rows"):  # a write transaction (storage.writes.Tx): read, and stored, in it
            from .snapshots import _cache

            bind, cache = source, (_cache(source) if insatser is not None else None)
        else:
            bind = source.get_bind() if hasattr(source, "get_bind") else source
            cache = cache_of(bind) if insatser is not None else None
        ruleset = ruleset or load_ruleset(rules_dir)
        snapshot, revision, as_of = load_snapshot(bind, insatser=insatser, store=store)
        evaluator = load_evaluator(engine, ruleset, snapshot) if cache is None else \
            cache.evaluator(revision, as_of, snapshot, ruleset, engine, lambda: load_evaluator(engine, ruleset, snapshot))
        return cls(ruleset, evaluator, snapshot, load_taxonomy(), revision=revision, as_of=as_of)

    def preload_unit_labels(self, session: Any) -> None:
        """Read every unit's name and municipality at once, for a batch: one query instead of
        one per request (each of which would also flush the requests stored so far)."""
        from sqlalchemy import select

        from ..storage.models import Unit

        T = Unit.__table__.c
        self.unit_labels.update((uid, (name, municipality)) for uid, name, municipality in
                                session.execute(select(T.unit_id, T.name, T.municipality)))

    def batch(self) -> Any:
        """A context for deciding many requests on this context's snapshot, which nothing changes
        meanwhile (the evaluator checks its columns against the candidates once)."""
        from contextlib import nullcontext

        unchanged = getattr(self.evaluator, "unchanged", None)
        return unchanged() if unchanged is not None else nullcontext()

    def policy(self, on: date) -> Policy:
        if on not in self._policies:
            self._policies[on] = Policy.on(self.ruleset, on)
        return self._policies[on]

    def decide(self, request: PlacementRequestIn, *, declined: Sequence[str] = (), limit: int | None = None,
               on: date | None = None, with_excluded: bool = True, compact: bool = False) -> dict[str, Any]:
        """The decision document; `compact=True` gives `excluded` in its stored form (the
        context must come from `load`, so the snapshot it was decided on is stored), its
        held-back units as stored (count and digest: `decide`'s `protected`)."""
        spec = None
        if compact:
            if self.revision is None:
                raise RuntimeError("a compact decision needs the context's stored snapshot (MatchContext.load)")
            spec = {"candidates": self.snapshot.candidates(request.insats), "revision": self.revision,
                    "as_of": self.as_of}
        return evaluate_and_decide(request, evaluator=self.evaluator, ruleset=self.ruleset, snapshot=self.snapshot,
                                   taxonomy=self.taxonomy, declined=declined, limit=limit, on=on,
                                   policy=self.policy(on or request.rules_day), with_excluded=with_excluded,
                                   compact=spec, digest_lists=compact)


def evaluate_and_decide(request: PlacementRequestIn, *, evaluator: Any, ruleset: Any, snapshot: Any,
                        taxonomy: Taxonomy | None = None, declined: Sequence[str] = (), limit: int | None = None,
                        on: date | None = None, policy: Policy | None = None,
                        with_excluded: bool = True, compact: dict[str, Any] | None = None,
                        digest_lists: bool = False) -> dict[str, Any]:
    """Evaluate the rules for one request and rank the outcome (nothing is stored).
    `digest_lists` (with `compact`): the held-back units only as what is stored of them
    (`decide`'s `protected`)."""
    from ..rules import request_fact

    tax = taxonomy or load_taxonomy()
    decided_on = on or request.submitted_on
    on = on or request.rules_day
    fact = request_fact(request.payload(), snapshot, tax, declined=declined,
                        final_price_months=ruleset.param("direct_procurement_final_price_months", request.start_on),
                        price_confirmation_months=ruleset.param("price_confirmation_months", request.submitted_on))
    evaluation = evaluator.evaluate(fact, on=on)
    policy = policy or Policy.on(ruleset, on)
    protected = _protected_units(snapshot.candidates(request.insats))
    document = decide(request, evaluation, policy, rules_version=ruleset.version, on=on, decided_on=decided_on,
                      limit=limit,
                      declined=declined, reference_price=fact.get("reference_price"), taxonomy=tax,
                      with_excluded=with_excluded, compact=compact,
                      protected=protected if compact is not None and digest_lists else None)

    if not protected and not request.person.protected_identity:
        return document  # no protected pair among these candidates: nothing to band
    return protect_distances(document, person_protected=request.person.protected_identity,
                             unit_protected=protected.__contains__, width=policy.distance_band_km)


def _protected_units(cands: list[dict]) -> frozenset[str]:
    """The protected units among an insats' candidates: the candidates' own facts say which (a
    stored snapshot holds only them). Kept per candidate list (memory.per_list): at 20,000 units
    the scan costs more than the rest of the ranking."""
    from ..memory import per_list

    return per_list("protected", cands, lambda cs: frozenset(
        c["unit"]["unit_id"] for c in cs if c["unit"]["protected_address"]))

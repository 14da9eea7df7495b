"""Compact, exact decisions: what can be decided again is stored as counts and digests.

A decision's `excluded` list names every unit the rules left out, each with every reason
(rule, message, values compared, source). At 20,000 units that is about 18,000 reasons and
over 100 KB per decision; the eligible units below the cut and those held back as a last
resort add up to 29 KB more. All of it is a function of what the decision was made on: the
stored register snapshot (matching/snapshots.py, by register revision), the rule files of
the decision's rules version (stored in `rule_set`), the request, its declines and the price
reference. So what is stored (`ENCODING`) is only:

- `register_revision`, `as_of`: the stored snapshot, and `candidates`, how many candidates
  of the insats it holds;
- `rules`: per rule, how many candidates it excluded (`exclude:CODE:RULE`) or could not
  evaluate (`unevaluable:RULE`);
- `digest`: sha256 of those per-rule sets of candidates (positions in the snapshot's list);
- `held_back` (in the block) and the document's `below_cut`: count and sha256 (`DERIVED`);
- `count` and `summary` (excluded units per reason code), which the decision's overview shows.

`redecide` decides the stored decision again on those inputs (the columnar evaluator, the
ranking policy of its date, the privacy bands) and checks every digest; `expand` then explains
the excluded units asked for with the reference evaluator, which must agree unit by unit.
When anything differs it refuses to answer rather than give another explanation. So the
explanation from storage equals the one given at decision time, also after the register or
the rule files have changed, and a decision is 3–5 KB at 20,000 units.

Decisions stored before are read as they were stored: the first encoding
(`placering-compact/1`) kept the sets themselves, compressed, and both lists in full.
"""

from __future__ import annotations

from array import array
import base64
import json
import zlib
from datetime import date
from typing import Any, Iterable

ENCODING = "placering-compact/2"
ENCODINGS = ("placering-compact/1", ENCODING)  # /1 stored the sets themselves


def is_compact(document: dict[str, Any]) -> bool:
    ex = document.get("excluded")
    return isinstance(ex, dict) and ex.get("encoding") in ENCODINGS


def sets_digest(sets: dict[str, Any]) -> str:
    """sha256 of per-rule sets of candidate positions (order and duplicates do not matter).

    The positions a batch's requests share (read-only arrays: `VectorEvaluation.positions`) are
    encoded once, and the hash of the leading shared sets (in key order) is started once for the
    requests that share all of them."""
    import hashlib

    keys = sorted(k for k, v in sets.items() if len(v))
    lead = 0  # the leading sets that are shared arrays
    while lead < len(keys) and _shared(sets[keys[lead]]):
        lead += 1
    prefix = tuple((k, id(sets[k])) for k in keys[:lead])
    kept = _PREFIXES.get(prefix) if lead else None
    if kept is not None and all(a is sets[k] for a, k in zip(kept[1], keys)):
        h = kept[0].copy()
    else:
        h = hashlib.sha256()
        for key in keys[:lead]:
            h.update(key.encode() + b"\0" + _chunk(sets[key]))
        if lead:
            if len(_PREFIXES) >= _KEPT_PREFIXES:
                _PREFIXES.clear()
            _PREFIXES[prefix] = (h.copy(), tuple(sets[k] for k in keys[:lead]))  # held: their ids stay theirs
    for key in keys[lead:]:
        h.update(key.encode() + b"\0" + _chunk(sets[key]))
    return "sha256:" + h.hexdigest()


_PREFIXES: dict[tuple, tuple] = {}  # the leading shared sets (key, id) -> (sha256 after them, the arrays)
_KEPT_PREFIXES = 256
_CHUNKS: dict[int, tuple] = {}  # id of a shared array -> (the array, its encoding)
_CHUNK_BYTES = [0]
_KEPT_CHUNK_BYTES = 64 << 20


def _shared(value: Any) -> bool:
    flags = getattr(value, "flags", None)
    return flags is not None and not flags.writeable


def _chunk(value: Any) -> bytes:
    """One set as hashed: its length and positions (sorted, without repeats), little-endian u32."""
    if type(value) is list:  # a set of the reference evaluator (candidate_sets): the same bytes, without numpy
        import struct

        idx = value if all(a < b for a, b in zip(value, value[1:])) else sorted(set(value))
        return len(idx).to_bytes(4, "little") + struct.pack(f"<{len(idx)}I", *idx)
    import numpy as np

    shared = _shared(value)
    if shared:
        kept = _CHUNKS.get(id(value))
        if kept is not None and kept[0] is value:
            return kept[1]
    idx = np.asarray(value, dtype="<u4")
    if idx.size > 1 and not (idx[1:] > idx[:-1]).all():  # candidate_sets gives them sorted
        idx = np.unique(idx)
    out = len(idx).to_bytes(4, "little") + idx.tobytes()
    if shared:
        if _CHUNK_BYTES[0] > _KEPT_CHUNK_BYTES:
            _CHUNKS.clear()
            _CHUNK_BYTES[0] = 0
        _CHUNKS[id(value)] = (value, out)
        _CHUNK_BYTES[0] += len(out)
    return out


DERIVED = "placering-derived/1"  # a list stored as its count and digest, decided again on demand


def json_bytes(value: Any, *, sort_keys: bool = False, default_str: bool = False) -> bytes:
    """`json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
    default=str if default_str else None).encode("utf-8")`, the same bytes, made by orjson when
    it gives them (a fifth of json's time for a list of ten entries or more; slower for one
    small entry, so `entry_json` keeps json): orjson writes a float below 1e-4 otherwise (`0.0000999`
    for json's `9.99e-05`, `1e-7` for `1e-07`), so output holding `e-` or `0.0000` anywhere is
    made by json again, and so is output holding `null` when the value may hold a NaN or an
    infinity (orjson's `null`, json's `NaN`, `Infinity`: `_maybe_not_finite`); what orjson refuses or would write its own way (a date or time, a
    dataclass, a subclass of str/int/dict/list, a key not a str, an integer past 64 bits, a lone
    surrogate, anything else json hands to `default`) raises in orjson and is made by json.
    orjson sorts keys by their UTF-8 bytes, which is code point order, as json's sort_keys.
    (A plain Enum member, neither str nor int, would be its value in orjson and str() in json:
    decision entries hold none; they are JSON values, StrEnum codes at most.)"""
    import orjson

    try:
        out = orjson.dumps(value, default=_exact_str if default_str else None,
                           option=_orjson_option(sort_keys))
    except TypeError:  # orjson.JSONEncodeError
        out = None
    if out is None or b"e-" in out or b"0.0000" in out or (b"null" in out and _maybe_not_finite(value)):
        out = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys,
                         default=str if default_str else None).encode("utf-8")
    return out


# A float in a pickle is BINFLOAT ("G") and its 8 bytes big-endian, the first time the object
# is met: a NaN's or an infinity's exponent bits are all set (0x7ff / 0xfff).
_NOT_FINITE = None


def _maybe_not_finite(value: Any) -> bool:
    """False only if `value` holds no NaN or infinity (a match in a string's bytes, or what
    pickle refuses, says True: json makes it)."""
    import pickle
    import re

    global _NOT_FINITE
    if _NOT_FINITE is None:
        _NOT_FINITE = re.compile(rb"G[\x7f\xff][\xf0-\xff]")
    try:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return True
    return _NOT_FINITE.search(data) is not None


def _exact_str(value: Any) -> str:
    """json's default=str for a date, datetime or time (orjson hands them over: passthrough);
    anything else is made by json (TypeError)."""
    from datetime import datetime, time

    if type(value) in (date, datetime, time):
        return str(value)
    raise TypeError(type(value).__name__)


def _orjson_option(sort_keys: bool) -> int:
    import orjson

    option = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
    return option | orjson.OPT_SORT_KEYS if sort_keys else option


def list_digest(items: list[Any]) -> str:
    """sha256 of a list of decision entries as JSON (keys sorted)."""
    import hashlib

    return "sha256:" + hashlib.sha256(json_bytes(items, sort_keys=True, default_str=True)).hexdigest()


def entry_json(value: Any) -> str:
    """One entry (or value) of a list as `list_digest` writes it: the list's JSON is "[", its
    entries' joined by ",", "]" (`derived_of_texts`). json's own encoder: one entry is small,
    where orjson and json_bytes's checks cost more than they save."""
    return _ENTRY_ENCODER.encode(value)


# json.dumps with these options makes an encoder per call: one, for the entries of every decision.
_ENTRY_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def derived_of_texts(texts: list[str]) -> dict[str, Any]:
    """`derived` of a list given as its entries' JSON (`entry_json`, in the list's order): the
    same count and digest, without the entries (a batch at 20,000 units holds back dozens of
    units per decision, each entry the same reason but for a few values)."""
    import hashlib

    text = "[" + ",".join(texts) + "]"
    return {"encoding": DERIVED, "count": len(texts), "digest": "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()}


def derived(items: list[Any] | dict[str, Any]) -> dict[str, Any]:
    if is_derived(items):  # derived already (matcher.decide of a decision to store)
        return dict(items)
    return {"encoding": DERIVED, "count": len(items), "digest": list_digest(items)}


def is_derived(value: Any) -> bool:
    return isinstance(value, dict) and value.get("encoding") == DERIVED


def count_of(value: Any) -> int:
    """How many entries a list of a decision has, stored in full or derived."""
    return value["count"] if is_derived(value) else len(value or [])


def candidate_sets(evaluation: Any, cands: list[dict]) -> dict[str, list[int]]:
    """Per rule, the positions (in `cands`, the snapshot's candidates of the insats) of the
    candidates it excluded or could not evaluate."""
    arrays = _candidate_arrays(evaluation, cands)
    if arrays is not None:
        return {k: v.tolist() for k, v in arrays.items()}
    sets: dict[str, list[int]] = {}
    outcomes = evaluation.candidates
    if len(outcomes) != len(cands):
        raise RuntimeError("evaluation and snapshot differ in their candidates")
    for i, c in enumerate(outcomes):
        if c.unit_id != cands[i]["unit"]["unit_id"] or c.route != cands[i]["route"]["route"]:
            raise RuntimeError("evaluation and snapshot list candidates in different orders")
        for x in c.exclusions:
            sets.setdefault(f"exclude:{x.code}:{x.rule}", []).append(i)
        for x in c.unevaluable:
            sets.setdefault(f"unevaluable:{x.rule}", []).append(i)
    return sets


def _candidate_arrays(evaluation: Any, cands: list[dict]) -> dict[str, Any] | None:
    """`candidate_sets` of the columnar evaluator as sorted numpy arrays (a batch decides
    thousands of requests: no list of positions is built); None for another evaluator."""
    if not (hasattr(evaluation, "states") and hasattr(evaluation, "rules")):
        return None
    import numpy as np

    states = evaluation.states
    if states.shape[1] != len(cands):
        raise RuntimeError("columnar evaluation and snapshot differ in their candidates")
    parts: dict[str, list[Any]] = {}
    rules = evaluation.rules
    positions = getattr(evaluation, "positions", None)
    if positions is not None and len(cands):
        # Per rule, the positions it marked: shared by the requests that share its states.
        for r in range(len(rules)):
            fired, failed = positions(r)
            cr = rules[r].cr
            if cr.is_exclusion and len(fired):
                parts.setdefault(f"exclude:{cr.code}:{cr.rule.id}", []).append(fired)
            if len(failed):
                parts.setdefault(f"unevaluable:{cr.rule.id}", []).append(failed)
        return {k: v[0] if len(v) == 1 else np.sort(np.concatenate(v), kind="stable") for k, v in parts.items()}
    if len(cands):
        # Only the rules that marked some candidate (most mark none), found in one pass.
        fired = set(np.flatnonzero((states == 1).any(axis=1)).tolist())
        failed = set(np.flatnonzero((states > 1).any(axis=1)).tolist())
    else:
        fired = failed = set()
    for r in sorted(fired | failed):
        cr = rules[r].cr
        if cr.is_exclusion and r in fired:
            parts.setdefault(f"exclude:{cr.code}:{cr.rule.id}", []).append(np.flatnonzero(states[r] == 1))
        if r in failed:
            parts.setdefault(f"unevaluable:{cr.rule.id}", []).append(np.flatnonzero(states[r] > 1))
    # One rule's positions come sorted; a key of several rules is their sorted concatenation
    # (repeats kept: the stored `rules` counts them as the lists did).
    return {k: v[0] if len(v) == 1 else np.sort(np.concatenate(v), kind="stable") for k, v in parts.items()}


def outcome_keys(c: Any) -> set[str]:
    return {f"exclude:{x.code}:{x.rule}" for x in c.exclusions} | {f"unevaluable:{x.rule}" for x in c.unevaluable}


def unpack_sets(data: str) -> dict[str, list[int]]:
    """The per-rule sets of a decision stored in the first encoding: one code per candidate, the
    index of its combination of rules, compressed."""
    doc = json.loads(data)
    raw = zlib.decompress(base64.b64decode(doc["codes"]))
    codes = list(raw) if doc["width"] == 1 else array("I", raw).tolist()
    combos = doc["combinations"]
    out: dict[str, list[int]] = {key: [] for key in doc["keys"]}
    keys = doc["keys"]
    for i, code in enumerate(codes):
        for k in combos[code]:
            out[keys[k]].append(i)
    return out


def shown_units(document: dict[str, Any], held_back: Iterable[dict]) -> set[str]:
    """Units the document lists outside the excluded sets at decision time (its lists in full):
    ranked, below the cut, held back."""
    return ({r["unit_id"] for r in document.get("recommendations", [])}
            | {r["unit_id"] for r in document.get("below_cut", [])} | {e["unit_id"] for e in held_back})


def compact_block(document: dict[str, Any], evaluation: Any, cands: list[dict], held_back: list[dict], *,
                  revision: int, as_of: date, held_derived: dict[str, Any] | None = None) -> dict[str, Any]:
    """The compact `excluded` block. `held_derived`: the held-back units as stored (`derived`),
    when `held_back` gives only each unit's id and reason codes (matcher.decide)."""
    import numpy as np

    sets = _candidate_arrays(evaluation, cands)
    if sets is None:
        sets = candidate_sets(evaluation, cands)
    names, unit_code = _units_of(cands)
    position = _unit_positions(cands)
    excluded_unit = np.ones(len(names), dtype=bool)
    excluded_unit[[position[u] for u in shown_units(document, held_back) if u in position]] = False
    marked: dict[str, Any] = {}  # code -> which units it excluded (each unit counts once per code)
    for key, idx in sets.items():
        kind, rest = key.split(":", 1)
        code = rest.split(":", 1)[0] if kind == "exclude" else "UNEVALUABLE"
        mask = marked.get(code)
        if mask is None:
            mask = marked[code] = np.zeros(len(names), dtype=bool)
        mask[unit_code[np.asarray(idx, dtype=np.int64)]] = True
    counts = {code: int(np.count_nonzero(mask & excluded_unit)) for code, mask in marked.items()}
    for e in held_back:  # shown units: not among the excluded ones above
        codes = {r["code"] for r in e.get("reasons", [])} | ({"UNEVALUABLE"} if e.get("unevaluable") else set())
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    excluded_units = int(excluded_unit.sum())
    summary = sorted(((code, n) for code, n in counts.items() if n), key=lambda kv: (-kv[1], kv[0]))
    digest = sets_digest(sets)
    remember_decided(document, revision, as_of, digest, sets, cands, held_back)
    return {
        "encoding": ENCODING,
        "register_revision": revision,
        "as_of": as_of.isoformat(),
        "candidates": len(cands),
        "count": excluded_units + len(held_back),
        "summary": [[code, n] for code, n in summary],
        "held_back": held_back if held_derived is None else held_derived,
        "rules": {key: len(idx) for key, idx in sorted(sets.items())},
        "digest": digest,
    }


# The per-rule sets of the decisions made in this process (the last few): a person's `match`
# prints the decision it just stored, grouped by reason, without deciding it again.
_DECIDED: dict[tuple, tuple[dict[str, list[int]], list[dict], list[dict]]] = {}
_DECIDED_KEPT = 8


def _decided_key(document: dict[str, Any], revision: int, as_of: Any, digest: str) -> tuple:
    return (document["request_id"], document["insats"], document["rules_version"], document["evaluated_on"],
            revision, str(as_of), digest)


def remember_decided(document: dict[str, Any], revision: int, as_of: date, digest: str,
                     sets: dict[str, list[int]], cands: list[dict], held_back: list[dict]) -> None:
    if len(_DECIDED) >= _DECIDED_KEPT:
        _DECIDED.pop(next(iter(_DECIDED)))
    _DECIDED[_decided_key(document, revision, as_of, digest)] = (sets, cands, held_back)


def decided_here(document: dict[str, Any]) -> tuple[dict[str, list[int]], list[dict], list[dict]] | None:
    """The per-rule sets, candidates and held-back units of a compact decision made in this
    process (None when it was not: `rebuild.grouped_document` decides it again)."""
    block = document["excluded"]
    found = _DECIDED.get(_decided_key(document, block["register_revision"], block["as_of"], block.get("digest")))
    if found is None or len(found[1]) != block["candidates"]:
        return None
    return found


def _reason_code(key: str) -> str:
    kind, rest = key.split(":", 1)
    return rest.split(":", 1)[0] if kind == "exclude" else "UNEVALUABLE"


def units_by_reason(sets: dict[str, list[int]], cands: list[dict], held_back: Iterable[dict]) -> list[dict[str, Any]]:
    """The excluded units grouped by reason code, most first: {code, count, units (sorted)}, as
    the full `excluded` list groups them (`excluded_by_reason` of `rebuild.expand`'s entries):
    the units none of whose candidates is eligible, under every code of each of their
    candidates (UNEVALUABLE for a rule that could not be evaluated), and the held-back units
    under theirs. Only unit ids: no explanation is built."""
    import numpy as np

    names, marks = _reason_marks(sets, cands, held_back)
    named = np.array(names, dtype=object)
    units = {code: named[mask].tolist() for code, mask in marks.items()}
    return [{"code": code, "count": len(u), "units": sorted(u)}
            for code, u in sorted(units.items(), key=lambda kv: (-len(kv[1]), kv[0])) if u]


def _reason_marks(sets: dict[str, list[int]], cands: list[dict], held_back: Iterable[dict]) -> tuple[list[str], dict]:
    """(the insats' unit names, per reason code the boolean mask of the units it excludes): a
    unit none of whose candidates is eligible is marked by every code of each of its candidates
    (UNEVALUABLE for a rule that could not be evaluated); a held-back unit by its own codes."""
    import numpy as np

    names, unit_code = _units_of(cands)
    keyed = np.zeros(len(cands), dtype=bool)  # candidates some rule excluded or could not evaluate
    marked: dict[str, Any] = {}  # code -> the units it marks (through any of their candidates)
    for key, idx in sets.items():
        positions = np.asarray(idx, dtype=np.int64)
        keyed[positions] = True
        code = _reason_code(key)
        mask = marked.get(code)
        if mask is None:
            mask = marked[code] = np.zeros(len(names), dtype=bool)
        mask[unit_code[positions]] = True
    excluded = np.ones(len(names), dtype=bool)
    excluded[unit_code[~keyed]] = False  # a unit with an eligible candidate is not excluded
    marks = {code: mask & excluded for code, mask in marked.items()}
    if held_back:
        position = _unit_positions(cands)
        for e in held_back:
            codes = {r["code"] for r in e.get("reasons", [])} | ({"UNEVALUABLE"} if e.get("unevaluable") else set())
            for code in codes:
                mask = marks.get(code)
                if mask is None:
                    mask = marks[code] = np.zeros(len(names), dtype=bool)
                mask[position[e["unit_id"]]] = True
    return names, marks


def _unit_positions(cands: list[dict]) -> dict[str, int]:
    """Each unit's index in `_units_of`'s names (kept per candidate list)."""
    from ..memory import per_list

    return per_list("unit_positions", cands, lambda cs: {u: i for i, u in enumerate(_units_of(cs)[0])})


def _units_of(cands: list[dict]) -> tuple[list[str], Any]:
    """The unit names of an insats' candidates and each candidate's index among them (kept per
    candidate list: a batch decides many requests on the same snapshot)."""
    from ..memory import per_list

    def build(cs: list[dict]) -> tuple[list[str], Any]:
        import numpy as np

        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(c["unit"]["unit_id"], len(index)) for c in cs), dtype=np.int64,
                            count=len(cs))
        return list(index), codes

    return per_list("units", cands, build)


def summary(document: dict[str, Any]) -> list[tuple[str, int]]:
    """Excluded units per reason code, most first (compact or full document)."""
    if is_compact(document):
        return [(code, n) for code, n in document["excluded"]["summary"]]
    return exclusion_summary(document)


def excluded_by_reason(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The excluded units grouped by reason code, most first: {code, count, units} (a unit
    with several reasons is under each). A compact document names the units only where it
    keeps them (those held back); for the others `units` is None: `--explain UNIT` or
    `full_document` rebuilds them (`rebuild.grouped_document` names them all: `by_reason`)."""
    if is_compact(document) and "by_reason" in document["excluded"]:
        return document["excluded"]["by_reason"]
    if is_compact(document):
        held: dict[str, list[str]] = {}
        held_back = document["excluded"].get("held_back")
        for e in held_back if isinstance(held_back, list) else []:
            if not isinstance(e, dict):
                continue
            for code in {r["code"] for r in e.get("reasons", [])}:
                held.setdefault(code, []).append(e["unit_id"])
        return [{"code": code, "count": n, "units": held.get(code) if len(held.get(code) or []) == n else None}
                for code, n in summary(document)]
    units: dict[str, list[str]] = {}
    for e in document.get("excluded") or []:
        codes = dict.fromkeys([r["code"] for r in e.get("reasons", [])]
                              + (["UNEVALUABLE"] if e.get("unevaluable") else []))
        for code in codes:
            units.setdefault(code, []).append(e["unit_id"])
    return [{"code": code, "count": n, "units": sorted(units.get(code, []))} for code, n in summary(document)]


def excluded_count(document: dict[str, Any]) -> int:
    ex = document.get("excluded")
    return ex["count"] if is_compact(document) else len(ex or [])


def exclusion_summary(document: dict[str, Any]) -> list[tuple[str, int]]:
    """Number of excluded units per reason code (a unit counts once per code), most first."""
    counts: dict[str, int] = {}
    for e in document["excluded"]:
        codes = {r["code"] for r in e.get("reasons", [])}
        if e.get("unevaluable"):
            codes.add("UNEVALUABLE")
        for code in codes:
            counts[code] = counts.get(code, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# --- the excluded units by reason, stored with the decision (issue 22) ------------------------
#
# `request show` lists the latest decision's excluded units under each reason (`by_reason`,
# issue 19). Deciding the decision again to list them (`rebuild.grouped_document`) loads numpy
# and the columnar rules engine: most of a `request show`. So the groups are stored with the
# decision (`decision.excluded_units`, migration 0015) as `units_by_reason` gave them at
# decision time: the excluded units' ids in order, each with the set of its reason codes, the
# ids of a run like U-1101, U-1102 kept as the step from the one before, all zlib-compressed
# (about 0.5 KB at 900 units). A decision stored before has none: it is grouped as before.

GROUPED = "placering-grouped/1"
_DIGITS = "0123456789"


def _split_number(unit_id: str) -> tuple[str, str] | None:
    """(prefix, trailing digits) of an id ending in ASCII digits, else None."""
    prefix = unit_id.rstrip(_DIGITS)
    return (prefix, unit_id[len(prefix):]) if len(prefix) < len(unit_id) else None


def encode_grouped(groups: list[dict[str, Any]]) -> bytes:
    """`units_by_reason`'s groups as stored: {"format", "codes", "units": per excluded unit (in
    order) its id, or the step from the one before (same prefix, same number of digits), and
    "reasons": per unit the bit mask of its codes}, JSON, zlib-compressed. A few milliseconds
    at 20,000 units: it runs for every decision stored."""
    codes = sorted(g["code"] for g in groups)
    bit = {code: 1 << i for i, code in enumerate(codes)}
    masks: dict[str, int] = {}
    for g in groups:
        b = bit[g["code"]]
        for u in g["units"]:
            masks[u] = masks.get(u, 0) | b
    ordered = sorted(masks)
    units: list[Any] = []
    prefix, width, number = None, 0, 0
    for u in ordered:
        p = u.rstrip(_DIGITS)
        digits = len(u) - len(p)
        if digits:
            n = int(u[len(p):])
            if p == prefix and digits == width and n > number:
                units.append(n - number)
            else:
                units.append(u)
            prefix, width, number = p, digits, n
        else:
            units.append(u)
            prefix, width, number = None, 0, 0
    return _pack_grouped(codes, units, [masks[u] for u in ordered])


def _pack_grouped(codes: list[str], units: list[Any], reasons: list[int]) -> bytes:
    # zlib level 1: a tenth of level 6's time (4 ms at 9,000 excluded units, for every decision
    # stored) for about a fifth more bytes.
    doc = {"format": GROUPED, "codes": codes, "units": units, "reasons": reasons}
    return zlib.compress(json_bytes(doc), 1)


def decode_grouped(data: bytes, blob: Any = None) -> list[dict[str, Any]]:
    """The groups stored with a decision (`grouped_of`, or `encode_grouped` before), as
    `units_by_reason` gave them: {code, count, units (sorted)}, most first. `blob(digest)`: the
    data of a `snapshot_blob` (None when not stored), for the unit index groups stored as bit
    sets name; `GroupsLost` when it is not stored."""
    raw = zlib.decompress(bytes(data))
    if raw.startswith(_MAGIC):
        return _decode_bits(raw, blob)
    doc = json.loads(raw)
    if doc.get("format") != GROUPED:
        raise ValueError(f"excluded units stored as {doc.get('format')!r}, not {GROUPED!r}")
    codes = doc["codes"]
    units: dict[str, list[str]] = {code: [] for code in codes}
    before: tuple[str, str] | None = None
    for entry, mask in zip(doc["units"], doc["reasons"]):
        if isinstance(entry, int):
            prefix, digits = before
            unit_id = prefix + str(int(digits) + entry).zfill(len(digits))
        else:
            unit_id = entry
        before = _split_number(unit_id)
        for i, code in enumerate(codes):
            if mask >> i & 1:
                units[code].append(unit_id)
    return [{"code": code, "count": len(u), "units": u}
            for code, u in sorted(units.items(), key=lambda kv: (-len(kv[1]), kv[0])) if u]


def _id_order(cands: list[dict]) -> Any:
    """The positions of the candidate list's units (`_units_of`'s names) in id order (kept per
    candidate list: a batch decides many requests on one snapshot)."""
    from ..memory import per_list

    def build(cs: list[dict]) -> Any:
        import numpy as np

        names = _units_of(cs)[0]
        return np.asarray(sorted(range(len(names)), key=names.__getitem__), dtype=np.int64)

    return per_list("id_order", cands, build)


# --- the groups as bit sets over the snapshot's units (issue 22 item 3) -------------------------
#
# Storing each excluded unit's id (placering-grouped/1) cost a batch a few milliseconds a
# decision at 20,000 units (9,000 ids through JSON and zlib) and 16 KB. A decision is made on a
# stored register snapshot, whose candidate list of the insats names its units; the ids of those
# units, in id order, are stored once (`unit_index`: a blob of `snapshot_blob`, by its sha256,
# shared by every decision on that list), and a decision stores per reason code one bit per unit
# of that index (numpy.packbits, zlib): microseconds. Reading them back needs no numpy: the bits
# of each byte are looked up (`_BITS`), and the ids come from the index blob, checked against its
# sha256 as every snapshot blob is.

GROUPED_BITS = "placering-grouped/2"
UNIT_INDEX = "placering-units/1"
_MAGIC = GROUPED_BITS.encode("ascii") + b"\n"
_BITS = tuple(tuple(i for i in range(8) if byte >> i & 1) for byte in range(256))  # bitorder "little"


_INDEXES: dict[str, list[str]] = {}  # unit indexes read or stored by this process (by sha256: checked)


def _remember_index(digest: str, names: list[str]) -> list[str]:
    if len(_INDEXES) >= 16:
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[digest] = names
    return names


class GroupsLost(Exception):
    """The unit index stored groups name is not stored (or fails its sha256): the decision is
    grouped as one stored without its groups (decided again)."""


def unit_index(cands: list[dict]) -> tuple[str, bytes]:
    """(sha256, data) of the candidate list's units in id order, as stored in `snapshot_blob`
    (kept per candidate list: a batch stores it once)."""
    from ..memory import per_list

    def build(cs: list[dict]) -> tuple[str, bytes]:
        import hashlib

        names = _units_of(cs)[0]
        doc = {"format": UNIT_INDEX, "units": [names[i] for i in _id_order(cs).tolist()]}
        data = zlib.compress(json_bytes(doc), 6)
        digest = hashlib.sha256(data).hexdigest()
        _remember_index(digest, doc["units"])  # this process reads back what it stores without a query
        return digest, data

    return per_list("unit_index", cands, build)


def grouped_index(document: dict[str, Any]) -> tuple[str, bytes] | None:
    """The unit index (`unit_index`) the groups `grouped_of` gives for this document name: to
    be stored with the decision (None when it has no groups stored)."""
    if not is_compact(document):
        return None
    here = decided_here(document)
    return None if here is None else unit_index(here[1])


def grouped_of(document: dict[str, Any]) -> bytes | None:
    """The excluded units by reason of a compact decision made in this process, to store with
    it (None for another document: it is grouped when shown, as before): per reason code the
    bit set of its units over the unit index of the decision's candidate list
    (`grouped_index`, stored beside it). The grouping of `units_by_reason` (a unit none of whose
    candidates is eligible under every code of each of its candidates, a held-back unit under
    its own codes), in a few numpy operations on one array of codes by units."""
    if not is_compact(document):
        return None
    here = decided_here(document)
    if here is None:
        return None
    import numpy as np

    sets, cands, held_back = here
    cand_rank, unit_rank = _ranks(cands)
    keys = [k for k, v in sets.items() if len(v)]
    key_code = [_CODES.get(k) or _CODES.setdefault(k, _reason_code(k)) for k in keys]
    held = [(e["unit_id"], {r["code"] for r in e.get("reasons", [])} | ({"UNEVALUABLE"} if e.get("unevaluable") else set()))
            for e in held_back]
    codes = sorted(set(key_code).union(*(c for _u, c in held)))
    column = {code: i for i, code in enumerate(codes)}
    marks = np.zeros((len(codes), len(unit_rank)), dtype=bool)
    if keys:
        positions = np.concatenate([np.asarray(sets[k], dtype=np.int64) for k in keys])
        rows = np.repeat(np.array([column[c] for c in key_code], dtype=np.int64), [len(sets[k]) for k in keys])
        keyed = np.zeros(len(cands), dtype=bool)
        keyed[positions] = True
        excluded = np.ones(len(unit_rank), dtype=bool)
        excluded[cand_rank[~keyed]] = False  # a unit with an eligible candidate is not excluded
        marks.reshape(-1)[rows * len(unit_rank) + cand_rank[positions]] = True  # flat: one pass
        marks &= excluded
    for unit_id, unit_codes in held:
        for code in unit_codes:
            marks[column[code], unit_rank[unit_id]] = True
    present = marks.any(axis=1)
    digest, _data = unit_index(cands)
    header = json.dumps({"units": digest, "count": len(unit_rank), "codes": [c for c, p in zip(codes, present) if p]},
                        separators=(",", ":"))
    bits = np.packbits(marks[present], axis=1, bitorder="little").tobytes()
    # zlib level 1: half of level 6's time at 20,000 units for 2 % more bytes
    return zlib.compress(_MAGIC + header.encode("ascii") + b"\n" + bits, 1)


_CODES: dict[str, str] = {}  # a key of the per-rule sets -> its reason code


def _ranks(cands: list[dict]) -> tuple[Any, dict[str, int]]:
    """Per candidate its unit's position in the unit index (units in id order), and each unit's
    position by id (kept per candidate list)."""
    from ..memory import per_list

    def build(cs: list[dict]) -> tuple[Any, dict[str, int]]:
        import numpy as np

        names, unit_code = _units_of(cs)
        order = _id_order(cs)
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names), dtype=np.int64)
        return rank[unit_code], {names[p]: r for r, p in enumerate(order.tolist())}

    return per_list("ranks", cands, build)


def grouped_units(data: bytes) -> str | None:
    """The sha256 of the unit index stored groups name (None for groups of the first format,
    which name their units themselves)."""
    raw = zlib.decompress(bytes(data))
    if not raw.startswith(_MAGIC):
        return None
    return json.loads(raw[len(_MAGIC):raw.index(b"\n", len(_MAGIC))])["units"]


def _decode_bits(raw: bytes, blob: Any) -> list[dict[str, Any]]:
    import hashlib

    end = raw.index(b"\n", len(_MAGIC))
    head = json.loads(raw[len(_MAGIC):end])
    names = _INDEXES.get(head["units"])
    if names is None:
        data = blob(head["units"]) if blob is not None else None
        if data is None or hashlib.sha256(bytes(data)).hexdigest() != head["units"]:
            raise GroupsLost(head["units"])
        index = json.loads(zlib.decompress(bytes(data)))
        if index.get("format") != UNIT_INDEX:
            raise GroupsLost(head["units"])
        names = _remember_index(head["units"], index["units"])
    if len(names) != head["count"]:
        raise GroupsLost(head["units"])
    width = (head["count"] + 7) // 8
    bits = memoryview(raw)[end + 1:]
    groups = []
    for k, code in enumerate(head["codes"]):
        units: list[str] = []
        add = units.append
        for i, byte in enumerate(bits[k * width:(k + 1) * width]):
            if byte:
                base = i * 8
                for b in _BITS[byte]:
                    add(names[base + b])
        if units:
            groups.append({"code": code, "count": len(units), "units": units})
    groups.sort(key=lambda g: (-g["count"], g["code"]))
    return groups


def with_groups(document: dict[str, Any], groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The document as stored with its excluded units' ids under each reason code (what
    `rebuild.grouped_document` gives)."""
    count = len({u for g in groups for u in g["units"]})
    return dict(document, excluded=dict(document["excluded"], by_reason=groups, count=count))


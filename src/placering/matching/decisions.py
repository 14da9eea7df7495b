"""Decisions are records: stored requests, numbered decisions, declines and the handler's choice.

- A request is stored once, as validated. Re-submitting the same `request_id` with identical
  content re-matches it; with different content it is an error (a request is not edited).
- Each decision is stored with its request, rules version and evaluation date under seq 1, 2, …
  and never changed; history records `matched`.
- `decline` records that a unit said no (history `declined`); the next decision leaves it out.
- `choose` turns the handler's choice into a `Placement` (history `chosen`):
  * a unit recommended in the latest decision: no reason needed;
  * a unit that was eligible but not recommended (below the cut, or held back because direct
    procurement is the last resort): `reason` required;
  * a unit the latest decision excluded, or whose rules could not be evaluated, or that
    declined: refused. The rules said it may not take the person (or could not say that it
    may); fix the register or the request and match again rather than override the rules;
  * a direct-procurement choice whose review was rejected: refused;
  * a direct-procurement choice needs an approved review: until then the placement is
    `pending_review` (choosing opens the review when none is open; a unit held back as the last
    resort gets a review of its own); a rejected review removes the placement and frees its place;
  * every choice re-checks the unit on the day of choosing (`recheck`) and takes its places
    atomically (`take_places`); ending a placement gives them back (`free_places`);
  * stödboende for a 16- or 17-year-old (flag STODBOENDE_UNDER_18) needs the special reason.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date
from typing import Any, Iterable

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..boundary import field_text
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Joined, Label, Number, msg
from ..storage.database import lock_row
from ..storage.history import entry_values, record, require_actor
from ..storage.models import Decision, Decline, History, Placement, PlacementRequest, Review, Supplier, Unit, utcnow
from ..text import nfc
from ..vocabulary import Route
from .request import PlacementRequestIn


def find_request(session: Session, request_id: str) -> PlacementRequest | None:
    return session.scalars(select(PlacementRequest).where(PlacementRequest.request_id == nfc(request_id))).first()


def get_request(session: Session, request_id: str, *, lock: bool = False) -> PlacementRequest:
    """The stored request; with `lock`, its row locked until the transaction ends, so a
    decline, choice or end of the same request by someone else waits and then sees this one."""
    if lock:
        row = lock_row(session, select(PlacementRequest).where(PlacementRequest.request_id == nfc(request_id)))
    else:
        row = find_request(session, request_id)
    if row is None:
        raise NotFound(msg("request.not_found", id=request_id))
    return row


def request_model(row: PlacementRequest) -> PlacementRequestIn:
    """The stored request as the model (it was validated when stored)."""
    return PlacementRequestIn.model_validate(row.payload)


def _diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(_diff(a, b, path + "."))
        elif a != b:
            out.append(path)
    return out


def stored_requests(session: Session, request_ids: Iterable[str]) -> dict[str, PlacementRequest]:
    """The stored rows of these request ids, in one query per thousand."""
    from ..storage.database import chunks

    found: dict[str, PlacementRequest] = {}
    for batch in chunks(sorted({nfc(r) for r in request_ids})):
        found.update((r.request_id, r) for r in session.scalars(
            select(PlacementRequest).where(PlacementRequest.request_id.in_(batch))))
    return found


def check_new_content(session: Session, requests: list[PlacementRequestIn], ruleset: Any = None) -> None:
    """Before a batch writes anything (it commits in chunks): a request_id stored, or given
    earlier in the batch, with different content is an error (a request is not edited); a
    request starting long before it was submitted too (request.check_start, a dated limit in
    the rules' parameters: those of `ruleset`, else the current rules)."""
    from ..storage.database import chunks
    from .request import check_start

    check_start(requests, ruleset)

    seen: dict[str, dict[str, Any]] = {}
    T = PlacementRequest.__table__.c
    for batch in chunks(sorted({nfc(r.request_id) for r in requests})):
        for rid, payload in session.execute(select(T.request_id, T.payload).where(T.request_id.in_(batch))):
            seen[rid] = payload
    for r in requests:
        payload = r.payload()
        old = seen.setdefault(r.request_id, payload)
        changed = _diff(old, payload)
        if changed:
            raise ValidationError(msg("request.resubmitted_different", id=r.request_id, fields=", ".join(changed)))


NOT_LOOKED_UP: Any = object()  # store_request looks the request up itself


def store_request(session: Session, request: PlacementRequestIn, *, actor: str,
                  stored: PlacementRequest | None = NOT_LOOKED_UP,
                  batch: "BatchWriter | None" = None) -> tuple[PlacementRequest, bool]:
    """Store a new request, or return the stored one if identical. Returns (row, created).
    `stored`: the stored row (or None), when the caller looked it up already (a batch reads its
    chunk's rows in one query). `batch`: the new row is written with the batch's other rows
    (`BatchWriter.flush`), and the row returned carries its values until then."""
    payload = request.payload()
    row = find_request(session, request.request_id) if stored is NOT_LOOKED_UP else stored
    if row is not None:
        changed = _diff(row.payload, payload)
        if changed:
            raise ValidationError(msg("request.resubmitted_different", id=request.request_id, fields=", ".join(changed)))
        return row, False
    values = dict(
        request_id=request.request_id,
        submitted_on=request.submitted_on,
        municipality=request.municipality,
        requester=request.requester,
        insats=request.insats,
        subcategory=request.subcategory,
        payload=payload,
        created_by=require_actor(actor),
    )
    if batch is not None:
        return batch.add_request(values), True
    row = PlacementRequest(**values)
    session.add(row)  # written with its decision (record_decision), in the chunk's flush
    return row, True


class NewRequest:
    """A request a batch stores (`BatchWriter`): its values, and its id once written."""

    __slots__ = ("id", "request_id", "payload", "values")

    def __init__(self, values: dict[str, Any]):
        self.id: int | None = None
        self.request_id = values["request_id"]
        self.payload = values["payload"]
        self.values = values


class BatchWriter:
    """The rows a batch of matches stores (`decide_all`: a committed chunk of requests), written
    in a few executemany statements instead of an ORM object and a flush per row: the new
    requests, their decisions, the history entries (`matched`, checked as `record` checks them)
    and the reviews of the decisions that need one. The same functions decide what is written
    (`match_request`, `store_request`, `record_decision`); only when it is written differs.
    `flush` writes what was added, in the caller's transaction; `match_request`'s documents then
    carry their `review_id`."""

    def __init__(self, session: Session):
        self.session = session
        self.requests: list[NewRequest] = []
        self.decisions: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []  # (request row, values, document)
        self.history: list[dict[str, Any]] = []

    def add_request(self, values: dict[str, Any]) -> NewRequest:
        row = NewRequest(values)
        self.requests.append(row)
        return row

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows (executemany, batched by the driver: insertmanyvalues); their ids in order."""
        if not rows:
            return []
        result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        return [r[0] for r in result]

    def flush(self) -> None:
        if not (self.requests or self.decisions):
            return
        self.session.flush()  # anything the session holds comes first, as in one ORM flush
        now = utcnow()
        for row, pk in zip(self.requests, self._insert(
                PlacementRequest.__table__, [dict(r.values, created_at=now) for r in self.requests])):
            row.id = pk
        ids = self._insert(Decision.__table__, [dict(values, request_id=row.id, created_at=now)
                                                for row, values, _ in self.decisions])
        if self.history:
            self.session.execute(insert(History.__table__), self.history)
        reviews = [(pk, row, values, doc) for pk, (row, values, doc) in zip(ids, self.decisions)
                   if values["review_required"]]
        review_ids = self._insert(Review.__table__, [
            {"request_id": row.id, "decision_id": pk, "status": "pending", "unit_id": None, "created_at": now}
            for pk, row, _, _ in reviews])
        for review_id, (_pk, _row, _values, doc) in zip(review_ids, reviews):
            doc["review_id"] = review_id
        if reviews:
            T = Decision.__table__
            self.session.execute(update(T).where(T.c.id == bindparam("b_id")).values(document=bindparam("b_doc")),
                                 [{"b_id": pk, "b_doc": dict(values["document"], review_id=review_id)}
                                  for review_id, (pk, _row, values, _doc) in zip(review_ids, reviews)])
        self.requests, self.decisions, self.history = [], [], []


def declined_units(session: Session, row: PlacementRequest) -> list[str]:
    return sorted(session.scalars(select(Decline.unit_id).where(Decline.request_id == row.id)))


def decisions_of(session: Session, row: PlacementRequest) -> list[Decision]:
    return list(session.scalars(select(Decision).where(Decision.request_id == row.id).order_by(Decision.seq)))


def latest_decision(session: Session, row: PlacementRequest) -> Decision | None:
    return session.scalars(
        select(Decision).where(Decision.request_id == row.id).order_by(Decision.seq.desc()).limit(1)
    ).first()


# The `excluded` list of a decision names every other unit of the insats with all its reasons.
# It is stored compact (matching/compact.py: per rule the candidates it excluded, explained
# again from the stored register snapshot). Decisions stored before that kept the whole list
# zlib-compressed (LEGACY_PACKED); they are read as they were stored.
LEGACY_PACKED = "zlib+base64+json"


# The lists of eligible units that are not recommended (`below_cut`, and the held-back units
# of a compact `excluded`) grow with the register; they are stored zlib-compressed the same way.
PACKED = LEGACY_PACKED


def _pack(items: list[Any]) -> dict[str, Any]:
    raw = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {"encoding": PACKED, "count": len(items), "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii")}


def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and value.get("encoding") == PACKED:
        return json.loads(zlib.decompress(base64.b64decode(value["data"])).decode("utf-8"))
    return value


def _stored_form(document: dict[str, Any]) -> dict[str, Any]:
    from .compact import derived

    if isinstance(document.get("excluded"), dict):  # compact (matching/compact.py)
        # The eligible units not recommended are decided again when asked for (rebuild.redecide):
        # at 20,000 units they were most of a stored decision (9 KB of 10, up to 29 KB).
        out = dict(document, below_cut=derived(document.get("below_cut") or []))
        out["excluded"] = dict(out["excluded"], held_back=derived(out["excluded"]["held_back"]))
        return out
    return dict(document, below_cut=_pack(document.get("below_cut") or []))


def shown_document(session: Session, row: PlacementRequest, document: dict[str, Any]) -> dict[str, Any]:
    """A stored decision for output. Decisions are stored with protected distances in bands
    (privacy.py); one stored before that has its exact protected distances left out here."""
    import copy

    from .privacy import protect_distances

    person_protected = bool((row.payload.get("person") or {}).get("protected_identity"))
    protected_units = set(session.scalars(select(Unit.unit_id).where(Unit.protected_address.is_(True))))
    if not person_protected and not protected_units:
        return dict(document)
    return protect_distances(copy.deepcopy(document), person_protected=person_protected,
                             unit_protected=protected_units.__contains__, width=None)


def stored_document(decision: Decision) -> dict[str, Any]:
    """A stored decision's document as decided, except that `excluded` is in its compact
    stored form (`full_document` rebuilds the list); a decision stored before compact
    decisions has its full list."""
    doc = dict(decision.document)
    doc["below_cut"] = _unpack(doc.get("below_cut") or [])  # a derived list stays as stored (compact.py)
    ex = doc.get("excluded")
    if isinstance(ex, dict):
        doc["excluded"] = _unpack(ex) if ex.get("encoding") == PACKED else dict(ex, held_back=_unpack(ex["held_back"]))
    return doc


def full_document(session: Session, row: PlacementRequest, document: dict[str, Any]) -> dict[str, Any]:
    """The decision with its full `excluded` list (CONTRACT.md), rebuilt as it was decided."""
    from .rebuild import full_document as expand_all

    return expand_all(session, document, request_model(row))


def grouped_document(session: Session, row: PlacementRequest, document: dict[str, Any]) -> dict[str, Any]:
    """The decision as stored with its excluded units' ids grouped by reason (what `match`
    prints for a person; rebuild.grouped_document)."""
    from .rebuild import grouped_document as grouped

    return grouped(session, document, request_model(row))


def record_decision(session: Session, row: PlacementRequest, document: dict[str, Any], *,
                    actor: str, first: bool = False,
                    batch: BatchWriter | None = None) -> tuple[Decision | None, dict[str, Any]]:
    """Store a decision document under the next seq (1 when the request was stored just now:
    `first`); open a review when it needs one.
    Returns the stored row and the document (with its seq, decided_by and review_id). With
    `batch`, the decision, its history entry and its review are written by `batch.flush()`
    (the row returned is None; the document gets its review_id then)."""
    actor = require_actor(actor)
    last = 0 if first else session.scalar(select(func.max(Decision.seq)).where(Decision.request_id == row.id)) or 0
    seq = last + 1
    document = dict(document)
    document["seq"] = seq
    document["decided_by"] = actor
    values = dict(
        seq=seq,
        rules_version=document["rules_version"],
        evaluated_on=date.fromisoformat(document["evaluated_on"]),
        review_required=bool(document["review_required"]),
        document=_stored_form(document),
        created_by=actor,
    )
    entry = dict(
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="matched",
        effective_on=_decided_on(values["document"], values["evaluated_on"]),
        changes={
            "seq": seq,
            "recommendations": [r["unit_id"] for r in document["recommendations"]],
            "flags": sorted({f["code"] for f in document["flags"]}),
            "review_required": values["review_required"],
        },
        rules_version=values["rules_version"],
    )
    if batch is not None:
        batch.decisions.append((row, values, document))
        batch.history.append(entry_values(**entry))
        return None, document
    decision = Decision(request=row, **values)
    session.add(decision)  # flushed with the next write (a batch's next request), or for its review
    record(session, **entry)
    if decision.review_required:
        session.flush()  # the review names the decision by its id
        review = open_review(session, row, decision)
        document["review_id"] = review.id
        decision.document = dict(decision.document, review_id=review.id)
    return decision, document


def decline(session: Session, request_id: str, unit_id: str, *, reason: str, actor: str) -> Decline:
    """The unit said no to this request; the next match leaves it out."""
    actor = require_actor(actor)
    reason = field_text(reason or "", "--reason", optional=True) or ""
    if not reason:
        raise ValidationError(msg("decline.reason_needed"))
    row = get_request(session, request_id, lock=True)
    unit = session.scalars(select(Unit).where(Unit.unit_id == nfc(unit_id))).first()
    if unit is None:
        raise NotFound(msg("unit.not_in_register", id=unit_id))
    if session.scalars(select(Placement).where(Placement.request_id == row.id)).first() is not None:
        raise InvariantViolation(msg("decline.placed", id=row.request_id))
    if session.scalars(select(Decline).where(Decline.request_id == row.id, Decline.unit_id == unit.unit_id)).first():
        raise InvariantViolation(msg("decline.already", unit=unit.unit_id, request=row.request_id))
    entry = Decline(request_id=row.id, unit_id=unit.unit_id, reason=reason, by=actor)
    session.add(entry)
    org_nr = session.scalar(select(Supplier.org_nr).where(Supplier.id == unit.supplier_id))
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="declined",
        effective_on=sweden_today(),
        changes={"unit_id": unit.unit_id},
        unit_id=unit.unit_id,
        org_nr=org_nr,
        note=reason,
    )
    session.flush()
    return entry


def _find_in_decision(document: dict[str, Any], unit_id: str, *, session: Session | None = None,
                      row: PlacementRequest | None = None) -> tuple[str, dict[str, Any] | None]:
    for rec in document.get("recommendations", []):
        if rec["unit_id"] == unit_id:
            return "recommended", rec
    from .compact import is_compact, is_derived
    from .rebuild import below_cut_of, expand

    below = document.get("below_cut", [])
    if is_derived(below):
        if session is None or row is None:
            raise RuntimeError("a compact decision is looked into with its session and request")
        below = below_cut_of(session, document, request_model(row))
    for rec in below:
        if rec["unit_id"] == unit_id:
            return "below_cut", rec

    if is_compact(document):
        if session is None or row is None:
            raise RuntimeError("a compact decision is looked into with its session and request")
        entries = expand(session, document, request_model(row), unit_ids=[unit_id])
    else:
        entries = [ex for ex in document.get("excluded", []) if ex["unit_id"] == unit_id]
    for ex in entries:
        return ("held_back" if ex.get("eligible") else "excluded"), ex
    return "not_a_candidate", None


_RECHECK: dict[str, Any] = {}  # rules version -> the evaluator that re-checks choices


def decided_on(decision: Decision) -> date:
    """The day a decision was made. Its `evaluated_on` is the day whose rules decided it (the
    placement's start day when that is later: issue 20 item 12); decisions stored before that
    change have only `evaluated_on`, which was then the decision day."""
    return _decided_on(decision.document, decision.evaluated_on)


def _decided_on(document: dict[str, Any] | None, evaluated_on: date) -> date:
    value = (document or {}).get("decided_on")
    return date.fromisoformat(value) if value else evaluated_on


def recheck(session: Session, row: PlacementRequest, unit_id: str, route: str, agreement_id: str | None, *,
            on: date, ruleset: Any = None) -> list[dict[str, Any]]:
    """Evaluate the chosen unit again against today's register and rules (status, agreement,
    permit, age, capacity, …) for this request and route. Returns the reasons it is no longer
    eligible (exclusions and rules that could not be evaluated); empty when it still is."""
    from ..rules import ReferenceEvaluator, RegisterSnapshot, load_ruleset, request_fact
    from ..rules.facts import register_document
    from ..taxonomy import load_taxonomy

    ruleset = ruleset or load_ruleset()
    unit = session.scalars(select(Unit).where(Unit.unit_id == unit_id)).first()
    if unit is None:
        return [{"code": "NOT_IN_REGISTER", "rule": None, "message": f"unit {unit_id} is no longer in the register"}]
    doc = register_document(session, supplier_ids=[unit.supplier_id])
    for s in doc["suppliers"]:
        s["units"] = [u for u in s.get("units") or [] if u["unit_id"] == unit_id]
    snapshot = RegisterSnapshot.from_document(doc, on=on)
    evaluator = _RECHECK.get(ruleset.version)
    if evaluator is None or evaluator.ruleset is not ruleset:
        # One per rule set: its rules are compiled once, not again for every choice (the demo's
        # history makes 75).
        evaluator = _RECHECK[ruleset.version] = ReferenceEvaluator(ruleset)
    evaluator.snapshot = snapshot  # one unit: no need to keep it resident (load() freezes the heap)
    fact = request_fact(row.payload, snapshot, load_taxonomy(), declined=declined_units(session, row),
                        price_confirmation_months=ruleset.param(
                            "price_confirmation_months", date.fromisoformat(str(row.payload["submitted_on"]))))
    # The snapshot holds one unit: the price reference (all framework and final prices of the
    # insats) is the one the decision computed.
    decided = latest_decision(session, row)
    if decided is not None:
        fact["reference_price"] = decided.document.get("reference_price")
    # The rules of the later of the day of choosing and the placement's start day (issue 20 item 12).
    start = date.fromisoformat(str(row.payload["start_on"]))
    evaluation = evaluator.evaluate(fact, on=max(on, start))
    outcome = next((c for c in evaluation.candidates if c.unit_id == unit_id and c.route == route
                    and c.agreement_id == agreement_id), None)
    if outcome is None:
        return [{"code": "ROUTE", "rule": None,
                 "message": f"unit {unit_id} no longer offers {row.insats} through {route}"
                            + (f" ({agreement_id})" if agreement_id else "")}]
    out = [{"code": r.code, "rule": r.rule, "message": r.message} for r in outcome.exclusions]
    out += [{"code": "UNEVALUABLE", "rule": r.rule, "message": r.message} for r in outcome.unevaluable]
    return out


def take_places(session: Session, unit_id: str, places: int) -> tuple[int, int]:
    """Take places at a unit in one conditional UPDATE, so two handlers choosing the last place
    at once cannot both get it (the database decides: the second update matches no row).
    Returns (free before, free after); refuses when the unit has too few free places."""
    table = Unit.__table__
    result = session.execute(
        update(table).where(table.c.unit_id == unit_id, table.c.free_places >= places)
        .values(free_places=table.c.free_places - places))
    if result.rowcount != 1:
        free = session.scalar(select(table.c.free_places).where(table.c.unit_id == unit_id))
        raise InvariantViolation(msg("choose.no_free_place", n=free or 0, unit=unit_id, places=places))
    after = session.scalar(select(table.c.free_places).where(table.c.unit_id == unit_id))
    return after + places, after


def free_places(session: Session, unit_id: str, places: int) -> tuple[int, int] | None:
    """Give places back (a placement ended or was rejected), never above the unit's places.
    Returns (free before, free after), or None when the unit is no longer in the register."""
    table = Unit.__table__
    before = session.scalar(select(table.c.free_places).where(table.c.unit_id == unit_id))
    if before is None:
        return None
    session.execute(update(table).where(table.c.unit_id == unit_id).values(free_places=case(
        (table.c.free_places + places > table.c.places, table.c.places), else_=table.c.free_places + places)))
    after = session.scalar(select(table.c.free_places).where(table.c.unit_id == unit_id))
    return before, after


SPECIAL_REASON_FLAG = "STODBOENDE_UNDER_18"
PENDING_REVIEW = "pending_review"
ACTIVE = "active"


def _review_for(session: Session, decision: Decision, unit_id: str, where: str) -> Review | None:
    """The review that decides this direct-procurement choice: the decision's own review when the
    unit was recommended, else the review opened for this very unit."""
    reviews = list(session.scalars(select(Review).where(Review.decision_id == decision.id).order_by(Review.id)))
    if where == "recommended":
        own = [r for r in reviews if r.unit_id is None]
        if own:
            return own[-1]
    mine = [r for r in reviews if r.unit_id == unit_id]
    return mine[-1] if mine else None


PRICE_NOT_RECOMMENDED = "PRICE_NOT_RECOMMENDED"


def _price_step_choice(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The direct-procurement choice of an excluded unit whose only reason on that route is the
    price model's first step (PRICE_NOT_RECOMMENDED), else None. The price model says which
    prices 'inte ska rekommenderas vidare i ett första steg' (004 l. 1477-1482): not
    recommended, but not a ban (issue 20 item 4)."""
    dp = Route.DIREKTUPPHANDLING.value
    reasons = [r for r in entry.get("reasons", []) if r.get("route") == dp]
    if not reasons or any(r["code"] != PRICE_NOT_RECOMMENDED for r in reasons):
        return None
    if any(r.get("route") == dp for r in entry.get("unevaluable", [])):
        return None
    values = reasons[0].get("values") or {}
    return {"route": dp, "org_nr": entry["org_nr"], "agreement_id": None,
            "daily_price": values.get("route.daily_price"), "rank": None}


def choose(session: Session, request_id: str, unit_id: str, *, actor: str, reason: str | None = None,
           special_reason: str | None = None, on: date | None = None, ruleset: Any = None,
           negotiated_price: float | None = None) -> Placement:
    """The handler's choice: create the placement (see the module docstring for what is allowed).

    The unit is evaluated again on the day of choosing (`on`, default today) against the register
    and the rules; a unit no longer eligible is refused with the reasons. The placement takes the
    request's places at the unit at once (refused when there are not enough free places). A
    direct-procurement choice needs an approved review: without one the placement is
    `pending_review` (a review is opened if none is open for the choice)."""
    actor = require_actor(actor)
    reason = field_text(reason, "--reason", optional=True)
    special_reason = field_text(special_reason, "--special-reason", optional=True)
    on = on or sweden_today()
    row = get_request(session, request_id, lock=True)
    if session.scalars(select(Placement).where(Placement.request_id == row.id)).first() is not None:
        raise InvariantViolation(msg("choose.already_placed", id=row.request_id))
    decision = latest_decision(session, row)
    if decision is None:
        raise InvariantViolation(msg("request.no_decision", id=row.request_id))
    if on < decided_on(decision):
        raise ValidationError(msg("choose.on_before_decision", on=on.isoformat(), seq=decision.seq,
                                  made=decided_on(decision).isoformat()))
    unit_id = nfc(unit_id).strip()
    if unit_id in declined_units(session, row):
        raise InvariantViolation(msg("choose.declined", unit=unit_id, request=row.request_id))
    doc = stored_document(decision)
    where, entry = _find_in_decision(doc, unit_id, session=session, row=row)
    if where == "not_a_candidate":
        raise InvariantViolation(msg("choose.not_candidate", unit=unit_id, insats=Label(row.insats, "insats"),
                                     seq=decision.seq, request=row.request_id))
    price_step = _price_step_choice(entry) if where == "excluded" else None
    if price_step is not None:
        if not reason or negotiated_price is None:
            raise ValidationError(msg("choose.price_not_recommended", unit=unit_id, seq=decision.seq,
                                      price=Number(price_step['daily_price'])))
        where = "price_not_recommended"
    if where == "excluded":
        codes = sorted({r["code"] for r in entry.get("reasons", [])} | {f"unevaluable:{r['rule']}" for r in entry.get("unevaluable", [])})
        raise InvariantViolation(msg("choose.excluded", unit=unit_id, seq=decision.seq, reasons=Joined(tuple(
            Label(c, "exclusion") if not c.startswith("unevaluable:") else msg("choose.unevaluable", rule=c.split(":", 1)[1])
            for c in codes))))
    if where != "recommended" and not reason:
        raise ValidationError(msg("choose.reason_below_cut" if where == "below_cut" else "choose.reason_last_resort",
                                  unit=unit_id, seq=decision.seq))
    flags = {f["code"] for f in doc.get("flags", [])}
    if SPECIAL_REASON_FLAG in flags and not special_reason:
        raise ValidationError(msg("choose.special_reason", id=row.request_id, age=row.payload['person']['age']))
    choice = (price_step if price_step is not None else
              entry if where in ("recommended", "below_cut") else entry["eligible"])
    problems = recheck(session, row, unit_id, choice["route"], choice.get("agreement_id"), on=on, ruleset=ruleset)
    if price_step is not None:
        problems = [p for p in problems if p["code"] != PRICE_NOT_RECOMMENDED]
    if problems:
        raise InvariantViolation(msg("choose.no_longer_eligible", unit=unit_id, request=row.request_id, on=on.isoformat(),
                                     seq=decision.seq, made=decided_on(decision).isoformat(),
                                     problems=Joined(tuple(msg("choose.problem", code=Label(p["code"], "exclusion"),
                                                               message=p["message"]) for p in problems), "; ")))
    status = ACTIVE
    review = None
    if choice["route"] == Route.DIREKTUPPHANDLING.value:
        review = _review_for(session, decision, unit_id, where)
        if review is not None and review.status == "rejected":
            raise InvariantViolation(msg("choose.review_rejected", id=review.id, seq=decision.seq, note=review.note))
        if review is None:
            review = open_review(session, row, decision, unit_id=None if where == "recommended" else unit_id)
        if review.status != "approved":
            status = PENDING_REVIEW
    request = request_model(row)
    free_before, free_after = take_places(session, unit_id, request.places)
    placement = Placement(
        request_id=row.id,
        unit_id=unit_id,
        org_nr=choice["org_nr"],
        insats=row.insats,
        route=choice["route"],
        agreement_id=choice.get("agreement_id"),
        daily_price=choice.get("daily_price"),
        start_on=request.start_on,
        person_age=request.person.age,
        municipality=row.municipality,
        recommended=where == "recommended",
        reason=reason,
        special_reason=special_reason,
        chosen_on=on,
        by=actor,
        status=status,
        places=request.places,
        **({"agreed_price": float(negotiated_price), "agreed_by": actor} if negotiated_price is not None else {}),
    )
    session.add(placement)
    try:
        session.flush()
    except IntegrityError:
        # Someone else chose for the same request at the same moment: the unique request_id decides.
        raise InvariantViolation(msg("choose.raced", id=row.request_id)) from None
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="chosen",
        effective_on=request.start_on,
        changes={
            "seq": decision.seq,
            "unit_id": unit_id,
            "route": placement.route,
            "agreement_id": placement.agreement_id,
            "daily_price": placement.daily_price,
            "recommended": placement.recommended,
            "rank": choice.get("rank"),
            "status": status,
            "review_id": review.id if review is not None else None,
            "places": request.places,
            "free_places": [free_before, free_after],
            "checked_on": on,
            **({"special_reason": special_reason} if special_reason else {}),
            **({"negotiated_price": float(negotiated_price), "price_not_recommended": True}
               if price_step is not None else
               {"negotiated_price": float(negotiated_price)} if negotiated_price is not None else {}),
        },
        unit_id=unit_id,
        org_nr=placement.org_nr,
        note=reason,
        rules_version=decision.rules_version,
    )
    session.flush()
    return placement


def end_placement(session: Session, request_id: str, *, end_on: date, actor: str, reason: str | None = None) -> Placement:
    """The placement ends (utskrivning, omplacering): it no longer counts as active after
    `end_on`, which audits of affected placements and direct purchases read. Its places at the
    unit are free again from now."""
    actor = require_actor(actor)
    row = get_request(session, request_id, lock=True)
    placement = session.scalars(select(Placement).where(Placement.request_id == row.id)).first()
    if placement is None:
        raise InvariantViolation(msg("end.no_placement", id=row.request_id))
    if placement.status == PENDING_REVIEW:
        raise InvariantViolation(msg("end.waits_review", id=row.request_id, unit=placement.unit_id))
    if placement.end_on is not None:
        raise InvariantViolation(msg("end.already", id=row.request_id, unit=placement.unit_id,
                                     on=placement.end_on.isoformat()))
    if end_on < placement.start_on:
        raise ValidationError(msg("survey.before_start", on=end_on.isoformat(), start=placement.start_on.isoformat()))
    placement.end_on = end_on
    session.add(placement)
    freed = free_places(session, placement.unit_id, placement.places)
    record(
        session,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="ended",
        effective_on=end_on,
        changes={"end_on": [None, end_on.isoformat()], **({"free_places": list(freed)} if freed else {})},
        unit_id=placement.unit_id,
        org_nr=placement.org_nr,
        note=field_text(reason, "--reason", optional=True),
    )
    session.flush()
    return placement


def placement_dict(p: Placement) -> dict[str, Any]:
    return {
        "unit_id": p.unit_id,
        "org_nr": p.org_nr,
        "insats": p.insats,
        "route": p.route,
        "agreement_id": p.agreement_id,
        "daily_price": p.daily_price,
        "start_on": p.start_on.isoformat(),
        "end_on": p.end_on.isoformat() if p.end_on else None,
        "recommended": p.recommended,
        "status": p.status,
        "places": p.places,
        "reason": p.reason,
        "special_reason": p.special_reason,
        "by": p.by,
        "at": p.at.isoformat(),
    }


def shown_payload(payload: dict[str, Any], *, show_protected: bool = False) -> dict[str, Any]:
    """The stored request for output: a protected person's home position is hidden unless asked."""
    if show_protected or not payload.get("person", {}).get("protected_identity") or not payload.get("home_location"):
        return payload
    return dict(payload, home_location=None, home_location_hidden=True)


def request_overview(session: Session, request_id: str, *, show_protected: bool = False,
                     full: bool | str = True) -> dict[str, Any]:
    """The request with every decision, decline, review and the placement (`request show`).
    `full=False` leaves each decision's `excluded` in its stored, compact form (counts per
    code); `full=True` rebuilds every excluded unit's reasons; `full="grouped"` (what a person's
    table prints) gives the latest decision's excluded units' ids by reason and leaves the
    earlier ones as stored, so no explanation is built."""
    row = get_request(session, request_id)
    decisions = decisions_of(session, row)
    reviews = {r.decision_id: r for r in session.scalars(select(Review).where(Review.request_id == row.id))}
    declines = session.scalars(select(Decline).where(Decline.request_id == row.id).order_by(Decline.at, Decline.id))
    placement = session.scalars(select(Placement).where(Placement.request_id == row.id)).first()
    out_decisions = []
    for i, d in enumerate(decisions):
        doc = shown_document(session, row, stored_document(d))
        if full == "grouped":
            if i == len(decisions) - 1:
                doc = grouped_document(session, row, doc)
        elif full:
            doc = full_document(session, row, doc)
        review = reviews.get(d.id)
        if review is not None:
            doc["review"] = {"id": review.id, "status": review.status, "reviewer": review.reviewer, "note": review.note}
        doc["created_at"] = d.created_at.isoformat()
        out_decisions.append(doc)
    return {
        "request": shown_payload(row.payload, show_protected=show_protected),
        "submitted_by": row.created_by,
        "decisions": out_decisions,
        "declines": [
            {"unit_id": d.unit_id, "reason": d.reason, "by": d.by, "at": d.at.isoformat()} for d in declines
        ],
        "placement": placement_dict(placement) if placement else None,
    }


def explain(document: dict[str, Any], unit_id: str, *, session: Session | None = None,
            row: PlacementRequest | None = None) -> dict[str, Any]:
    """Where a unit stands in a decision: recommended, below the cut, held back, excluded, or
    absent. A stored (compact) decision needs its session and request row: the excluded
    unit's reasons are rebuilt from the register snapshot it was decided on."""
    unit_id = nfc(unit_id.strip())  # as typed on a command line, like `choose`
    where, entry = _find_in_decision(document, unit_id, session=session, row=row)
    out: dict[str, Any] = {"unit_id": unit_id, "request_id": document["request_id"], "seq": document.get("seq"),
                           "status": where}
    if where in ("recommended", "below_cut"):
        out.update({"rank": entry["rank"], "route": entry["route"], "keys": entry["keys"], "flags": entry.get("flags", []),
                    "other_routes": entry.get("other_routes", [])})
        if where == "below_cut":
            out["cut"] = len(document["recommendations"])
    elif where in ("held_back", "excluded"):
        out.update({"reasons": entry.get("reasons", []), "unevaluable": entry.get("unevaluable", [])})
        if where == "held_back":
            out["eligible"] = entry["eligible"]
        elif entry.get("unevaluable"):
            out["status"] = "unevaluable" if not entry.get("reasons") else "excluded"
    return out


# --- deciding and storing (the matcher decides; this module stores) --------------------------


def open_review(session: Session, row: PlacementRequest, decision: Decision, *, unit_id: str | None = None) -> Review:
    """A pending review of a decision's direct-procurement recommendations, or (unit_id) of one
    unit chosen outside them (held back as the last resort, or ranked below the cut)."""
    review = Review(request_id=row.id, decision_id=decision.id, status="pending", unit_id=unit_id)
    session.add(review)
    session.flush()
    return review


def match_request(session: Any, request: PlacementRequestIn, *, context: "MatchContext | None", actor: str | None,
                  limit: int | None = None, on: date | None = None, again: bool = False,
                  known: dict[str, Any] | None = None,
                  batch: BatchWriter | None = None) -> tuple[dict[str, Any], bool]:
    """Store the request (or find it, if identical) and its decision; returns (the stored
    decision document, whether it was decided now).

    A request already decided is not decided again: its latest decision is returned as stored
    (running a batch file twice adds nothing), unless `again` (`request rematch`), which
    decides it anew leaving out the units that declined it since. A decision that goes to
    direct procurement opens a review. `excluded` is stored compact (matching/compact.py).
    `known`: the stored rows of the caller's requests, by request id, when it read them already
    (a batch reads a chunk's in one query); a request not in it is not stored. `batch`: what
    is stored is written by `batch.flush()` (a batch's chunk at once), the review_id of the
    document returned set then."""
    from .snapshots import store_ruleset

    row, created = store_request(session, request, actor=actor,
                                 stored=NOT_LOOKED_UP if known is None else known.get(request.request_id),
                                 batch=batch)
    if not created and not again:
        previous = latest_decision(session, row)
        if previous is not None and (limit is None or previous.document.get("limit_requested") == limit):
            return stored_document(previous), False
    if context is None:
        raise RuntimeError(f"request '{request.request_id}' needs deciding, and no match context was loaded")
    store_ruleset(session, context.ruleset)
    # A request stored just now has no declines and no decision yet: two queries fewer per request.
    declined = [] if created else declined_units(session, row)
    document = context.decide(request, declined=declined, limit=limit, on=on, compact=True)
    _add_unit_labels(session, document, context.unit_labels)
    _decision, stored = record_decision(session, row, document, actor=actor, first=created, batch=batch)
    return stored, True


def _add_unit_labels(session: Any, document: dict[str, Any], names: dict[str, tuple] | None = None) -> None:
    """Unit names and municipalities of the recommendations, for people. A protected unit shows
    its municipality only: no position or address is ever put in a decision. `names` keeps
    what was read for the next requests of a batch (decided on one register snapshot)."""
    from sqlalchemy import select

    from ..storage.models import Unit

    names = {} if names is None else names
    ids = [r["unit_id"] for r in document["recommendations"] if r["unit_id"] not in names]
    if ids:
        T = Unit.__table__.c
        names.update((uid, (name, municipality)) for uid, name, municipality in session.execute(
            select(T.unit_id, T.name, T.municipality).where(T.unit_id.in_(ids))))
    for r in document["recommendations"]:
        name, municipality = names.get(r["unit_id"], (None, None))
        r["name"] = name
        r["municipality"] = municipality

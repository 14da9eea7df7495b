"""The handler's choice (`request choose`, the API's and the web's): the placement created; and
the other changes of a placement's life that need no ORM: a unit's decline (`request decline`)
and the placement's end (`request end`).

What is allowed is matching/decisions.py's module docstring: a recommended unit needs no
reason, one eligible but not recommended needs --reason, an excluded, unevaluable or declined
unit is refused, the unit is checked again on the day of choosing (`recheck`), the placement
takes its places at the unit in one conditional UPDATE (`take_places`), a direct-procurement
choice waits for an approved review, stödboende for a 16- or 17-year-old needs the special
reason, and history records `chosen` (who, when, why, which rules).

It is written in plain SQL on a write transaction (storage/writes.py): the database's own
driver for the CLI (no SQLAlchemy, SQLModel or pydantic: about 0.6 s of a choice's start-up,
issue 22), or the caller's session (the server, the web, the demo): one function, one
transaction, the same rules either way. Rebuilding a compact decision's below-the-cut and
held-back units needs the ORM (matching/rebuild.py): a choice of such a unit on the driver
asks for the session before it writes anything and runs again in one (storage.writes.run_write).
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import Joined, Label, Number, msg
from ..storage.entries import record, require_actor, utcnow
from ..storage.reads import as_date, as_json
from ..storage.writes import Tx, as_tx, run_write
from ..text import nfc
from ..vocabulary import Route
from .reads import placement_dict  # one form of a placement for every document

SPECIAL_REASON_FLAG = "STODBOENDE_UNDER_18"
PENDING_REVIEW = "pending_review"
ACTIVE = "active"
PRICE_NOT_RECOMMENDED = "PRICE_NOT_RECOMMENDED"
LEGACY_PACKED = "zlib+base64+json"
PACKED = LEGACY_PACKED


# --- the stored rows, as plain objects ----------------------------------------------------------

class Row:
    """A stored row's columns as attributes (a request, a decision, a review, a placement)."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Row({self.__dict__!r})"


def request_row(tx: Tx, request_id: str, *, lock: bool = False) -> Row:
    """The stored request; with `lock`, its row locked until the transaction ends, so a
    decline, choice or end of the same request by someone else waits and then sees this one."""
    found = tx.rows("SELECT id, request_id, payload, insats, municipality FROM placement_request "
                    "WHERE request_id = :r" + (tx.for_update if lock else ""), {"r": nfc(request_id)})
    if not found:
        raise NotFound(msg("request.not_found", id=request_id))
    r = found[0]
    return Row(id=r.id, request_id=r.request_id, payload=as_json(r.payload), insats=r.insats,
               municipality=r.municipality)


def latest_decision_row(tx: Tx, row: Row) -> Row | None:
    found = tx.rows("SELECT id, seq, rules_version, evaluated_on, document FROM decision WHERE request_id = :r "
                    "ORDER BY seq DESC LIMIT 1", {"r": row.id})
    if not found:
        return None
    d = found[0]
    return Row(id=d.id, seq=d.seq, rules_version=d.rules_version, evaluated_on=as_date(d.evaluated_on),
               document=as_json(d.document))


def declined_unit_ids(tx: Tx, row: Row) -> list[str]:
    return sorted(r[0] for r in tx.rows("SELECT unit_id FROM decline WHERE request_id = :r", {"r": row.id}))


# --- a stored decision (shared with matching/decisions.py) ----------------------------------------

def _unpack(value: Any) -> Any:
    if isinstance(value, dict) and value.get("encoding") == PACKED:
        return json.loads(zlib.decompress(base64.b64decode(value["data"])).decode("utf-8"))
    return value


def stored_document(decision: Any) -> dict[str, Any]:
    """A stored decision's document as decided, except that `excluded` is in its compact
    stored form (`full_document` rebuilds the list); a decision stored before compact
    decisions has its full list."""
    doc = dict(decision.document)
    doc["below_cut"] = _unpack(doc.get("below_cut") or [])  # a derived list stays as stored (compact.py)
    ex = doc.get("excluded")
    if isinstance(ex, dict):
        doc["excluded"] = _unpack(ex) if ex.get("encoding") == PACKED else dict(ex, held_back=_unpack(ex["held_back"]))
    return doc


def decided_on(decision: Any) -> date:
    """The day a decision was made. Its `evaluated_on` is the day whose rules decided it (the
    placement's start day when that is later: issue 20 item 12); decisions stored before that
    change have only `evaluated_on`, which was then the decision day."""
    return _decided_on(decision.document, decision.evaluated_on)


def _decided_on(document: dict[str, Any] | None, evaluated_on: date) -> date:
    value = (document or {}).get("decided_on")
    return date.fromisoformat(value) if value else evaluated_on


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


def _where_in_decision(tx: Tx, document: dict[str, Any], unit_id: str, row: Row) -> tuple[str, dict[str, Any] | None]:
    """Where the unit stands in the decision (decisions._find_in_decision): a recommended unit
    is read from the document; any other is looked up with the ORM (a compact decision's
    below-the-cut and held-back units are rebuilt from the stored register snapshot)."""
    for rec in document.get("recommendations", []):
        if rec["unit_id"] == unit_id:
            return "recommended", rec
    from .decisions import _find_in_decision

    return _find_in_decision(document, unit_id, session=tx.session(), row=row)


# --- the unit checked again, its places ----------------------------------------------------------

_RECHECK: dict[str, Any] = {}  # rules version -> the evaluator that re-checks choices
_UNREAD: Any = object()


def recheck(tx: Any, row: Any, unit_id: str, route: str, agreement_id: str | None, *,
            on: date, ruleset: Any = None, declined: list[str] | None = None,
            decision: Any = _UNREAD) -> list[dict[str, Any]]:
    """Evaluate the chosen unit again against today's register and rules (status, agreement,
    permit, age, capacity, …) for this request and route. Returns the reasons it is no longer
    eligible (exclusions and rules that could not be evaluated); empty when it still is.
    `tx`: a write transaction (storage.writes) or a session. `declined` (declined_unit_ids) and
    `decision` (latest_decision_row): as the caller read them in this transaction, else read here."""
    from ..rules.facts import RegisterSnapshot, register_document_of, request_fact
    from ..rules.reference import ReferenceEvaluator
    from ..rules.ruleset import load_ruleset
    from ..taxonomy import load_taxonomy

    tx = as_tx(tx)
    ruleset = ruleset or load_ruleset()
    # The chosen unit alone under its supplier (a municipality's own supplier has hundreds of
    # units), whoever chooses: the CLI's transaction, or a session (the server, the web, the demo).
    # No supplier in it: the unit is no longer in the register (the document reads the unit's
    # supplier first and stops there when there is none).
    doc = register_document_of(tx, [], [unit_id])
    if not doc["suppliers"]:
        return [{"code": "NOT_IN_REGISTER", "rule": None, "message": f"unit {unit_id} is no longer in the register"}]
    for s in doc["suppliers"]:
        s["units"] = [u for u in s.get("units") or [] if u["unit_id"] == unit_id]
    snapshot = RegisterSnapshot.from_document(doc, on=on)
    evaluator = _RECHECK.get(ruleset.version)
    if evaluator is None or evaluator.ruleset is not ruleset:
        # One per rule set: its rules are compiled once, not again for every choice (the demo's
        # history makes 75).
        evaluator = _RECHECK[ruleset.version] = ReferenceEvaluator(ruleset)
    evaluator.snapshot = snapshot  # one unit: no need to keep it resident (load() freezes the heap)
    payload = row.payload
    fact = request_fact(payload, snapshot, load_taxonomy(),
                        declined=declined_unit_ids(tx, row) if declined is None else declined,
                        price_confirmation_months=ruleset.param(
                            "price_confirmation_months", date.fromisoformat(str(payload["submitted_on"]))))
    # The snapshot holds one unit: the price reference (all framework and final prices of the
    # insats) is the one the decision computed.
    decided = latest_decision_row(tx, row) if decision is _UNREAD else decision
    if decided is not None:
        fact["reference_price"] = decided.document.get("reference_price")
    # The rules of the later of the day of choosing and the placement's start day (issue 20 item 12).
    start = date.fromisoformat(str(payload["start_on"]))
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


def take_places(tx: Any, unit_id: str, places: int) -> tuple[int, int]:
    """Take places at a unit in one conditional UPDATE, so two handlers choosing the last place
    at once cannot both get it (the database decides: the second update matches no row).
    Returns (free before, free after); refuses when the unit has too few free places."""
    tx = as_tx(tx)
    # The free places after it come back with the UPDATE (SQLite >= 3.35 and PostgreSQL).
    taken = tx.rows("UPDATE unit SET free_places = free_places - :n WHERE unit_id = :u AND free_places >= :n "
                    "RETURNING free_places", {"u": unit_id, "n": places})
    if len(taken) != 1:
        free = tx.scalar("SELECT free_places FROM unit WHERE unit_id = :u", {"u": unit_id})
        raise InvariantViolation(msg("choose.no_free_place", n=free or 0, unit=unit_id, places=places))
    after = taken[0][0]
    return after + places, after


def free_places(tx: Any, unit_id: str, places: int) -> tuple[int, int] | None:
    """Give places back (a placement ended or was rejected), never above the unit's places.
    Returns (free before, free after), or None when the unit is no longer in the register."""
    tx = as_tx(tx)
    before = tx.scalar("SELECT free_places FROM unit WHERE unit_id = :u", {"u": unit_id})
    if before is None:
        return None
    tx.execute("UPDATE unit SET free_places = CASE WHEN free_places + :n > places THEN places "
               "ELSE free_places + :n END WHERE unit_id = :u", {"u": unit_id, "n": places})
    after = tx.scalar("SELECT free_places FROM unit WHERE unit_id = :u", {"u": unit_id})
    return before, after


# --- reviews --------------------------------------------------------------------------------------

def _review_for(tx: Tx, decision: Row, unit_id: str, where: str) -> Row | None:
    """The review that decides this direct-procurement choice: the decision's own review when the
    unit was recommended, else the review opened for this very unit."""
    reviews = [Row(**r._asdict()) for r in tx.rows(
        "SELECT id, status, unit_id, note FROM review WHERE decision_id = :d ORDER BY id", {"d": decision.id})]
    if where == "recommended":
        own = [r for r in reviews if r.unit_id is None]
        if own:
            return own[-1]
    mine = [r for r in reviews if r.unit_id == unit_id]
    return mine[-1] if mine else None


def open_review(tx: Tx, row: Any, decision: Any, *, unit_id: str | None = None) -> Row:
    """A pending review of a decision's direct-procurement recommendations, or (unit_id) of one
    unit chosen outside them (held back as the last resort, or ranked below the cut)."""
    pk = tx.insert("review", {"request_id": row.id, "decision_id": decision.id, "status": "pending",
                              "unit_id": unit_id, "created_at": utcnow()})
    return Row(id=pk, status="pending", unit_id=unit_id, note=None)


# --- the choice -----------------------------------------------------------------------------------

def _is_integrity_error(exc: BaseException) -> bool:
    """A unique (or other integrity) constraint refused the statement: sqlite3's, psycopg's or
    SQLAlchemy's IntegrityError, or storage.writes.DriverError carrying one."""
    orig = getattr(exc, "orig", None) or exc
    return any(c.__name__ == "IntegrityError" for c in type(exc).__mro__ + type(orig).__mro__)


def create_placement(tx: Any, request_id: str, unit_id: str, *, actor: str, reason: str | None = None,
                     special_reason: str | None = None, on: date | None = None, ruleset: Any = None,
                     negotiated_price: float | None = None) -> Row:
    """The handler's choice: create the placement (see the module docstring for what is allowed).

    The unit is evaluated again on the day of choosing (`on`, default today) against the register
    and the rules; a unit no longer eligible is refused with the reasons. The placement takes the
    request's places at the unit at once (refused when there are not enough free places). A
    direct-procurement choice needs an approved review: without one the placement is
    `pending_review` (a review is opened if none is open for the choice). `tx`: a write
    transaction (storage.writes) or the caller's session. Returns the placement's columns."""
    from ..boundary import field_text
    from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back

    tx = as_tx(tx)
    actor = require_actor(actor)
    reason = field_text(reason, "--reason", optional=True)
    special_reason = field_text(special_reason, "--special-reason", optional=True)
    on = on or sweden_today()
    row = request_row(tx, request_id, lock=True)
    if tx.rows("SELECT id FROM placement WHERE request_id = :r", {"r": row.id}):
        raise InvariantViolation(msg("choose.already_placed", id=row.request_id))
    decision = latest_decision_row(tx, row)
    if decision is None:
        raise InvariantViolation(msg("request.no_decision", id=row.request_id))
    if on < decided_on(decision):
        raise ValidationError(msg("choose.on_before_decision", on=on.isoformat(), seq=decision.seq,
                                  made=decided_on(decision).isoformat()))
    unit_id = nfc(unit_id).strip()
    declined = declined_unit_ids(tx, row)
    if unit_id in declined:
        raise InvariantViolation(msg("choose.declined", unit=unit_id, request=row.request_id))
    doc = stored_document(decision)
    where, entry = _where_in_decision(tx, doc, unit_id, row)
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
    problems = recheck(tx, row, unit_id, choice["route"], choice.get("agreement_id"), on=on, ruleset=ruleset,
                       declined=declined, decision=decision)
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
        review = _review_for(tx, decision, unit_id, where)
        if review is not None and review.status == "rejected":
            raise InvariantViolation(msg("choose.review_rejected", id=review.id, seq=decision.seq, note=review.note))
        if review is None:
            review = open_review(tx, row, decision, unit_id=None if where == "recommended" else unit_id)
        if review.status != "approved":
            status = PENDING_REVIEW
    # The request as stored (validated then; request.PlacementRequestIn's defaults in it).
    payload = row.payload
    places = int(payload.get("places") or 1)
    start_on = date.fromisoformat(str(payload["start_on"]))
    free_before, free_after = take_places(tx, unit_id, places)
    values = dict(
        request_id=row.id,
        unit_id=unit_id,
        org_nr=choice["org_nr"],
        insats=row.insats,
        route=choice["route"],
        agreement_id=choice.get("agreement_id"),
        daily_price=_float(choice.get("daily_price")),
        start_on=start_on,
        end_on=None,
        person_age=payload["person"]["age"],
        municipality=row.municipality,
        recommended=where == "recommended",
        reason=reason,
        by=actor,
        at=utcnow(),
        status=status,
        places=places,
        special_reason=special_reason,
        decision_from=None,
        decision_to=None,
        agreed_price=float(negotiated_price) if negotiated_price is not None else None,
        agreed_by=actor if negotiated_price is not None else None,
        chosen_on=on,
    )
    try:
        pk = tx.insert("placement", values)
    except Exception as exc:
        if not _is_integrity_error(exc):
            raise
        # Someone else chose for the same request at the same moment: the unique request_id decides.
        raise InvariantViolation(msg("choose.raced", id=row.request_id)) from None
    record(
        tx,
        actor=actor,
        entity_kind="request",
        entity_id=row.request_id,
        action="chosen",
        effective_on=start_on,
        changes={
            "seq": decision.seq,
            "unit_id": unit_id,
            "route": values["route"],
            "agreement_id": values["agreement_id"],
            "daily_price": choice.get("daily_price"),
            "recommended": values["recommended"],
            "rank": choice.get("rank"),
            "status": status,
            "review_id": review.id if review is not None else None,
            "places": places,
            "free_places": [free_before, free_after],
            "checked_on": on,
            **({"special_reason": special_reason} if special_reason else {}),
            **({"negotiated_price": float(negotiated_price), "price_not_recommended": True}
               if price_step is not None else
               {"negotiated_price": float(negotiated_price)} if negotiated_price is not None else {}),
        },
        unit_id=unit_id,
        org_nr=values["org_nr"],
        note=reason,
        rules_version=decision.rules_version,
    )
    return Row(id=pk, **values)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- the document the CLI, the API and the web answer with ---------------------------------------

def choose(where: Any, request_id: str, unit_id: str, *, actor: str | None, reason: str | None = None,
           special_reason: str | None = None, on=None, rules_dir: Path | None = None,
           negotiated_price: float | None = None) -> dict[str, Any]:
    """`request choose R UNIT`: the placement created. `where`: an SQLAlchemy engine (the server,
    the web) or a storage.writes.Database (the CLI: the database's own driver)."""
    from ..jsondata import to_jsonable
    from ..rules.ruleset import load_ruleset

    ruleset = load_ruleset(rules_dir)

    def work(tx: Tx) -> dict[str, Any]:
        _request_in_scope(tx, request_id, "request.choose")
        p = create_placement(tx, request_id, unit_id, actor=actor, reason=reason, special_reason=special_reason,
                             on=on, ruleset=ruleset, negotiated_price=negotiated_price)
        return to_jsonable(dict(placement_dict(p), request_id=request_id))

    return run_write(where, work)


choose.takes_database = True  # the CLI passes a storage.writes.Database: no SQLAlchemy


def _request_in_scope(tx: Tx, request_id: str, action: str) -> Row:
    """The stored request, refused outside the signed-in person's municipality scope (views._row)."""
    from .scope import _not_in_municipality, _scope, social_worker_scope

    try:
        row = request_row(tx, request_id)
    except NotFound:
        # Row-level security hides another municipality's request from a social worker: say so.
        if social_worker_scope(action) is not None:
            raise _not_in_municipality(request_id) from None
        raise
    _scope((row.payload or {}).get("municipality"), action, request_id)
    return row


# --- a unit's decline, the placement's end --------------------------------------------------------

def record_decline(tx: Any, request_id: str, unit_id: str, *, reason: str, actor: str) -> Row:
    """The unit said no to this request; the next match leaves it out. `tx`: a write
    transaction (storage.writes) or the caller's session. Returns the decline's columns."""
    from ..boundary import field_text
    from ..display import today as sweden_today

    tx = as_tx(tx)
    actor = require_actor(actor)
    reason = field_text(reason or "", "--reason", optional=True) or ""
    if not reason:
        raise ValidationError(msg("decline.reason_needed"))
    row = request_row(tx, request_id, lock=True)
    found = tx.rows("SELECT u.unit_id, s.org_nr FROM unit u JOIN supplier s ON s.id = u.supplier_id "
                    "WHERE u.unit_id = :u", {"u": nfc(unit_id)})
    if not found:
        raise NotFound(msg("unit.not_in_register", id=unit_id))
    unit, org_nr = found[0]
    if tx.rows("SELECT id FROM placement WHERE request_id = :r", {"r": row.id}):
        raise InvariantViolation(msg("decline.placed", id=row.request_id))
    if tx.rows("SELECT id FROM decline WHERE request_id = :r AND unit_id = :u", {"r": row.id, "u": unit}):
        raise InvariantViolation(msg("decline.already", unit=unit, request=row.request_id))
    values = {"request_id": row.id, "unit_id": unit, "reason": reason, "by": actor, "at": utcnow()}
    pk = tx.insert("decline", values)
    record(tx, actor=actor, entity_kind="request", entity_id=row.request_id, action="declined",
           effective_on=sweden_today(), changes={"unit_id": unit}, unit_id=unit, org_nr=org_nr, note=reason)
    return Row(id=pk, **values)


_PLACEMENT = ("id, request_id, unit_id, org_nr, insats, route, agreement_id, daily_price, start_on, end_on, "
              'recommended, status, places, reason, special_reason, "by", at')


def placement_row(tx: Tx, row: Row) -> Row | None:
    found = tx.rows(f"SELECT {_PLACEMENT} FROM placement WHERE request_id = :r", {"r": row.id})
    if not found:
        return None
    p = found[0]._asdict()
    p.update(start_on=as_date(p["start_on"]), end_on=as_date(p["end_on"]), at=_as_datetime(p["at"]),
             recommended=bool(p["recommended"]))
    return Row(**p)


def _as_datetime(value: Any) -> Any:
    """A DateTime column's value (SQLite gives 'YYYY-MM-DD HH:MM:SS.ffffff' text)."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def end_placement(tx: Any, request_id: str, *, end_on: date, actor: str, reason: str | None = None) -> Row:
    """The placement ends (utskrivning, omplacering): it no longer counts as active after
    `end_on`, which audits of affected placements and direct purchases read. Its places at the
    unit are free again from now. `tx`: a write transaction or the caller's session."""
    from ..boundary import field_text

    tx = as_tx(tx)
    actor = require_actor(actor)
    row = request_row(tx, request_id, lock=True)
    placement = placement_row(tx, row)
    if placement is None:
        raise InvariantViolation(msg("end.no_placement", id=row.request_id))
    if placement.status == PENDING_REVIEW:
        raise InvariantViolation(msg("end.waits_review", id=row.request_id, unit=placement.unit_id))
    if placement.end_on is not None:
        raise InvariantViolation(msg("end.already", id=row.request_id, unit=placement.unit_id,
                                     on=placement.end_on.isoformat()))
    if end_on < placement.start_on:
        raise ValidationError(msg("survey.before_start", on=end_on.isoformat(), start=placement.start_on.isoformat()))
    tx.execute("UPDATE placement SET end_on = :e WHERE id = :p", {"e": end_on, "p": placement.id})
    placement.end_on = end_on
    freed = free_places(tx, placement.unit_id, placement.places)
    record(
        tx,
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
    return placement


def decline(where: Any, request_id: str, unit_id: str, *, reason: str, actor: str | None) -> dict[str, Any]:
    """`request decline R UNIT`: the decline recorded (see `choose` for `where`)."""

    def work(tx: Tx) -> dict[str, Any]:
        _request_in_scope(tx, request_id, "request.decline")
        d = record_decline(tx, request_id, unit_id, reason=reason, actor=actor)
        return {"request_id": request_id, "unit_id": d.unit_id, "reason": d.reason, "by": d.by}

    return run_write(where, work)


decline.takes_database = True


def end(where: Any, request_id: str, *, end_on, actor: str | None, reason: str | None = None) -> dict[str, Any]:
    """`request end R --on DATE`: the placement ended (see `choose` for `where`)."""
    from ..jsondata import to_jsonable

    def work(tx: Tx) -> dict[str, Any]:
        _request_in_scope(tx, request_id, "request.end")
        p = end_placement(tx, request_id, end_on=end_on, actor=actor, reason=reason)
        return to_jsonable(dict(placement_dict(p), request_id=request_id))

    return run_write(where, work)


end.takes_database = True

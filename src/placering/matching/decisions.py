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

from sqlalchemy import func, select
from sqlmodel import Session

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..boundary import field_text
from ..errors import InvariantViolation, NotFound, ValidationError
from ..i18n import msg
from ..storage.database import lock_row
from ..storage.history import entry_values, require_actor
from ..storage.models import Decision, Decline, Placement, PlacementRequest, Review, Supplier, Unit
from ..text import nfc
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


from .storing import diff as _diff  # noqa: E402  (one definition: matching/storing.py)


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
    request starting long before it was submitted too (matching/storing.py: one definition)."""
    from .storing import check_new_content as check

    check(session, requests, ruleset)


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
    from .storing import request_values

    values = request_values(request, actor)
    if batch is not None:
        return batch.add_request(values), True
    row = PlacementRequest(**values)
    session.add(row)  # written with its decision (record_decision), in the chunk's flush
    return row, True


from .storing import NewRequest  # noqa: E402  (a request a batch stores)


class BatchWriter:
    """The rows a batch of matches stores on a session (`decide_all`: a committed chunk of
    requests; a decision alone: a batch of one), written in a few multi-row statements instead
    of an ORM object and a flush per row: the new requests, their decisions, the history entries
    (`matched`, checked as `record` checks them) and the reviews of the decisions that need one.
    The same functions decide what is written (`match_request`, `store_request`,
    `record_decision`), and the same one writes it (storing.write_chunk, as a batch on a write
    transaction); only when it is written differs. `flush` writes what was added, in the
    caller's transaction; `match_request`'s documents then carry their `review_id`."""

    def __init__(self, session: Session):
        self.session = session
        self.requests: list[NewRequest] = []
        self.decisions: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []  # (request row, values, document)
        self.history: list[dict[str, Any]] = []
        self.blobs: dict[str, bytes] = {}  # the unit indexes the decisions' groups name

    def add_request(self, values: dict[str, Any]) -> NewRequest:
        row = NewRequest(values)
        self.requests.append(row)
        return row

    def flush(self) -> None:
        if not (self.requests or self.decisions):
            return
        from ..storage.writes import SessionTx
        from .storing import write_chunk

        self.session.flush()  # anything the session holds comes first, as in one ORM flush
        write_chunk(SessionTx(self.session), self.requests, self.decisions, self.history, self.blobs)
        self.requests, self.decisions, self.history, self.blobs = [], [], [], {}


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


from .storing import _pack, stored_form as _stored_form  # noqa: E402,F401  (one definition)


def shown_document(session: Session, row: PlacementRequest, document: dict[str, Any]) -> dict[str, Any]:
    """A stored decision for output. Decisions are stored with protected distances in bands
    (privacy.py); one stored before that has its exact protected distances left out here."""
    from .reads import shown

    person_protected = bool((row.payload.get("person") or {}).get("protected_identity"))
    protected_units = set(session.scalars(select(Unit.unit_id).where(Unit.protected_address.is_(True))))
    return shown(document, person_protected=person_protected, protected_units=protected_units)


def stored_document(decision: Decision) -> dict[str, Any]:
    """A stored decision's document as decided, except that `excluded` is in its compact
    stored form (`full_document` rebuilds the list); a decision stored before compact
    decisions has its full list."""
    from .reads import stored_form

    return stored_form(decision.document)


def full_document(session: Session, row: PlacementRequest, document: dict[str, Any]) -> dict[str, Any]:
    """The decision with its full `excluded` list (CONTRACT.md), rebuilt as it was decided."""
    from .rebuild import full_document as expand_all

    return expand_all(session, document, request_model(row))


def grouped_document(session: Session, row: PlacementRequest, document: dict[str, Any],
                     stored: bytes | None = None) -> dict[str, Any]:
    """The decision as stored with its excluded units' ids grouped by reason (what `match`
    prints for a person): as stored with the decision (`stored`: its `excluded_units`), else
    rebuild.grouped_document (a decision stored before those were)."""
    from .compact import is_compact, with_groups
    from .reads import stored_groups

    groups = stored_groups(stored, lambda digest: blob_data(session, digest)) if is_compact(document) else None
    if groups is not None:
        return with_groups(document, groups)
    from .rebuild import grouped_document as grouped

    return grouped(session, document, request_model(row))


def blob_data(session: Session, digest: str) -> bytes | None:
    """The data of a `snapshot_blob` (None when not stored)."""
    from ..storage.models import SnapshotBlob

    data = session.scalar(select(SnapshotBlob.data).where(SnapshotBlob.digest == digest))
    return None if data is None else bytes(data)


def store_blobs(session: Session, blobs: dict[str, bytes]) -> None:
    """Store content-addressed blobs (digest -> data) not stored yet: the unit indexes the
    decisions' stored groups name (compact.grouped_index); matching/storing.py (one definition)."""
    from .storing import store_blobs as store

    store(session, blobs)


def record_decision(session: Session, row: PlacementRequest, document: dict[str, Any], *,
                    actor: str, first: bool = False,
                    batch: BatchWriter | None = None) -> tuple[Decision | None, dict[str, Any]]:
    """Store a decision document under the next seq (1 when the request was stored just now:
    `first`); open a review when it needs one.
    Returns (None, the document with its seq, decided_by and review_id). The decision, its
    history entry, its review and the unit index its stored groups name are written by a
    `BatchWriter`: `batch`'s `flush()` (the document gets its review_id then), else one of its
    own, now. What is stored is decided in matching/storing.py (`decision_values`), which a
    short file's match writes on a transaction."""
    from .compact import grouped_index
    from .storing import decision_values

    actor = require_actor(actor)
    last = 0 if first else session.scalar(select(func.max(Decision.seq)).where(Decision.request_id == row.id)) or 0
    values, entry, document = decision_values(row.request_id, document, actor=actor, seq=last + 1)
    # ... as bit sets over the unit index of the decision's candidate list, stored beside it
    index = grouped_index(document) if values["excluded_units"] is not None else None
    # One write path: a decision alone is written as a batch of one (the same statements).
    writer = BatchWriter(session) if batch is None else batch
    if index is not None:
        writer.blobs.setdefault(*index)
    writer.decisions.append((row, values, document))
    writer.history.append(entry_values(**entry))
    if batch is None:
        writer.flush()
    return None, document


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


# The choice (`request choose`), a unit's decline and a placement's end: matching/choice.py,
# written on a write transaction (the database's own driver for the CLI, or this session)
# without the ORM; the same functions here.
from .choice import (ACTIVE, PENDING_REVIEW, PRICE_NOT_RECOMMENDED, SPECIAL_REASON_FLAG,  # noqa: E402,F401
                     _decided_on, _price_step_choice, create_placement as choose, decided_on, end_placement,
                     free_places, recheck, record_decline as decline, take_places)


def placement_dict(p: Placement) -> dict[str, Any]:
    from .reads import placement_dict as as_dict

    return as_dict(p)


def shown_payload(payload: dict[str, Any], *, show_protected: bool = False) -> dict[str, Any]:
    """The stored request for output: a protected person's home position is hidden unless asked."""
    from .reads import shown_payload as shown

    return shown(payload, show_protected=show_protected)


def request_overview(session: Session, request_id: str, *, show_protected: bool = False,
                     full: bool | str = True) -> dict[str, Any]:
    """The request with every decision, decline, review and the placement (`request show`).
    `full=False` leaves each decision's `excluded` in its stored, compact form (counts per
    code); `full=True` rebuilds every excluded unit's reasons; `full="grouped"` (what a person's
    table prints) gives the latest decision's excluded units' ids by reason (as stored with it,
    or for a decision stored before that, decided again) and leaves the earlier ones as
    stored, so no explanation is built. The same read as the CLI's direct one (reads.overview),
    on this session's connection and transaction."""
    from ..storage.reads import connection_reader
    from .reads import overview

    row = get_request(session, request_id)
    return overview(connection_reader(session.connection()), row, show_protected=show_protected, full=full,
                    grouped=lambda doc: grouped_document(session, row, doc),
                    expand=lambda doc: full_document(session, row, doc))


def explain(document: dict[str, Any], unit_id: str, *, session: Session | None = None,
            row: PlacementRequest | None = None) -> dict[str, Any]:
    """Where a unit stands in a decision: recommended, below the cut, held back, excluded, or
    absent. A stored (compact) decision needs its session and request row: the excluded
    unit's reasons are rebuilt from the register snapshot it was decided on."""
    from .reads import explanation

    unit_id = nfc(unit_id.strip())  # as typed on a command line, like `choose`
    where, entry = _find_in_decision(document, unit_id, session=session, row=row)
    return explanation(document, unit_id, where, entry)  # one answer: the direct read's too (reads.py)


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

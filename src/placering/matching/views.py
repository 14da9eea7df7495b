"""The handlers' and reviewers' answers and changes as documents: what `placering match`,
`request …` and `review …` print with --json, and what the API's request and review routes
return. The CLI (here or through the server) and the server call these same functions.

Each function takes an engine, opens its own session (or transaction) and returns plain JSON
data (dates as ISO text); the caller only formats it. When a signed-in person is set
(`access.acting.acting_as`, the server), a case is shown or changed only within the person's
municipality scope (a social worker: its own municipality's requests).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import InvariantViolation, ValidationError
from ..i18n import msg
from ..jsondata import to_jsonable


def open_session(engine):  # noqa: the storage layer (SQLAlchemy) only when a view uses it
    from ..storage import open_session as opened

    return opened(engine)


def transaction(engine):  # noqa: as open_session
    from ..storage import transaction as begun

    return begun(engine)


COMMIT_EVERY = 200  # requests per committed chunk of a batch
LARGE_BATCH = 20  # requests: a batch this long preloads unit labels and collects before it runs


# Whose cases a signed-in person may see and change (light: matching/scope.py; a choice's start-up).
from .scope import _in_scope, _not_in_municipality, _scope, social_worker_scope  # noqa: E402,F401


def _row(session, request_id: str, action: str, *, lock: bool = False):
    from ..errors import NotFound
    from .decisions import get_request

    try:
        row = get_request(session, request_id, lock=lock)
    except NotFound:
        # Row-level security hides another municipality's request from a social worker: say so.
        if social_worker_scope(action) is not None:
            raise _not_in_municipality(request_id) from None
        raise
    _scope((row.payload or {}).get("municipality"), action, request_id)
    return row


def known_unit(engine, unit_id: str | None) -> str | None:
    """The unit to --explain, as the register spells it; an unknown unit is an error (exit 3,
    with the closest names suggested) before anything is decided."""
    if unit_id is None:
        return None
    from ..errors import NotFound
    from ..register.service import get_unit, resolve_id

    with open_session(engine) as session:
        try:
            return get_unit(session, unit_id).unit_id
        except NotFound as not_found:
            # A unit's name works here as in `register show` (one unit of that name); else the
            # unit's own refusal, with the closest names.
            try:
                what, obj = resolve_id(session, unit_id)
            except NotFound:
                raise not_found from None
            if what != "unit":
                raise
            return obj.unit_id


# --- match -----------------------------------------------------------------------------------------


def summary(d: dict[str, Any], decided_now: bool) -> dict[str, Any]:
    """One request of a batch, as `match --json` lists it."""
    from .compact import excluded_count

    return {"request_id": d["request_id"], "insats": d["insats"], "seq": d["seq"], "decided_now": decided_now,
            "recommendations": [{"unit_id": r["unit_id"], "route": r["route"]} for r in d["recommendations"]],
            "flags": [{"code": f["code"]} for f in d["flags"]], "review_required": d["review_required"],
            "excluded": excluded_count(d)}


def _undecided(engine, requests: list[Any]) -> list[Any]:
    """The requests that have no stored decision yet."""
    from sqlalchemy import select

    from ..storage.database import chunks
    from ..storage.models import Decision, PlacementRequest

    decided: set[str] = set()
    with open_session(engine) as session:
        for batch in chunks(sorted({r.request_id for r in requests})):
            decided.update(session.scalars(
                select(PlacementRequest.request_id).join(Decision, Decision.request_id == PlacementRequest.id)
                .where(PlacementRequest.request_id.in_(batch))))
    return [r for r in requests if r.request_id not in decided]


def decide_all(engine, requests: list[Any], *, evaluator: str = "vectorized", rules_dir: Path | None = None,
               limit: int | None = None, actor: str | None, commit_every: int = COMMIT_EVERY, again: bool = False,
               progress: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Decide and store every request, committing every `commit_every`; a summary of each."""
    from ..memory import freeze_long_lived, gc_paused
    from ..storage.database import chunks
    from .decisions import stored_requests
    from .decisions import BatchWriter, match_request
    from .matcher import MatchContext

    pending = requests if again or limit is not None else _undecided(engine, requests)
    # Nothing to decide (a batch run again): no rules, register or evaluator to load.
    ctx = MatchContext.load(engine, engine=evaluator, rules_dir=rules_dir, insatser={r.insats for r in pending}) \
        if pending else None
    if ctx is not None and len(pending) >= LARGE_BATCH:
        with open_session(engine) as session:
            ctx.preload_unit_labels(session)
    # The register snapshot lives until the call ends; a long run collects first.
    freeze_long_lived(collect=len(pending) >= LARGE_BATCH)
    summaries: list[dict[str, Any]] = []
    for chunk in chunks(requests, commit_every):
        # A chunk's documents hold no reference cycles: the collector is off while they are made
        # (it would scan them again and again, about a tenth of a batch), and on between chunks.
        # The snapshot stays as it is while a chunk is decided: the evaluator checks it once (ctx.batch).
        with gc_paused(), ctx.batch() if ctx is not None else nullcontext(), transaction(engine) as session:
            rows = stored_requests(session, [r.request_id for r in chunk])  # one query, not one per request
            # The chunk's requests, decisions, history and reviews are written together at its end.
            writer = BatchWriter(session)
            done = []
            for request in chunk:  # request ids are unique in a batch (read_requests refuses repeats)
                done.append(match_request(session, request, context=ctx, actor=actor, limit=limit, again=again,
                                          known=rows, batch=writer))
                if progress is not None:
                    progress()
            writer.flush()
            session.flush()
            summaries.extend(summary(doc, new) for doc, new in done)
        session.expunge_all()  # committed; let the documents go
    return summaries


def documents(engine, request_ids: Iterable[str], *, full: bool | str) -> Iterable[dict[str, Any]]:
    """The latest decision of each request, read back from storage one at a time: whole
    (CONTRACT.md, every excluded unit with its reasons), as stored (`full=False`), or as stored
    with the excluded units' ids grouped by reason (`full="grouped"`: what `match` prints)."""
    from .decisions import full_document, get_request, grouped_document, latest_decision, stored_document

    with open_session(engine) as session:
        for rid in request_ids:
            row = get_request(session, rid)
            decision = latest_decision(session, row)
            doc = stored_document(decision)
            if full == "grouped":  # the ids added are plain already: not walked again
                yield grouped_document(session, row, to_jsonable(doc), decision.excluded_units)
            else:
                yield to_jsonable(full_document(session, row, doc) if full else doc)
            session.expunge_all()


def explain_new(engine, request: Any, unit_id: str, *, evaluator: str = "vectorized",
                rules_dir: Path | None = None, limit: int | None = None) -> dict[str, Any]:
    """`match REQUEST --explain UNIT`, read-only: from the stored decision when the request is
    decided, else from a decision made now and not stored."""
    from .decisions import explain, find_request, latest_decision, stored_document
    from .matcher import MatchContext

    with open_session(engine) as session:
        row = find_request(session, request.request_id)
        decision = latest_decision(session, row) if row is not None else None
        if decision is not None:
            return to_jsonable(explain(stored_document(decision), unit_id, session=session, row=row))
    ctx = MatchContext.load(engine, engine=evaluator, rules_dir=rules_dir, insatser=[request.insats], store=False)
    return to_jsonable(explain(ctx.decide(request, limit=limit), unit_id))


def match(where, data: bytes, name: str, *, actor: str | None, evaluator: str = "vectorized",
          rules_dir: Path | None = None, limit: int | None = None, explain_unit: str | None = None,
          commit_every: int = COMMIT_EVERY, documents_as: str | None = "full",
          progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """`placering match FILE` on a file's bytes (one request, or JSON lines): validate every
    request first, decide and store those not yet decided, and answer
    {"single": one request file, "results": a summary per request, "documents": their latest
    decisions (`documents_as` "full", "stored", "grouped" (as stored, the excluded units' ids by
    reason), or None for none)}; with `explain_unit`,
    {"explain": where that unit stands}, and nothing is stored.

    `where`: an engine (the server, the web), or a storage.writes.Database (the CLI). A file of
    fewer than LARGE_BATCH requests is stored on a write transaction (matching/storing.py: on the
    CLI the database's own driver, no SQLAlchemy); a longer one in committed chunks of a batch,
    each on a write transaction too (storing.match_batch). Both store the rows `decide_all`
    stores (tests/test_match_writes.py)."""
    from ..storage.writes import Database

    engine = where.engine if isinstance(where, Database) else (lambda: where)
    if explain_unit is not None:
        return _match_orm(engine(), data, name, actor=actor, evaluator=evaluator, rules_dir=rules_dir, limit=limit,
                          explain_unit=explain_unit, commit_every=commit_every, documents_as=documents_as,
                          progress=progress)
    from .request import parse_requests

    requests = parse_requests(data, name)
    if len(requests) >= LARGE_BATCH:
        return _match_batch(where, engine, requests, actor=actor, evaluator=evaluator, rules_dir=rules_dir,
                            limit=limit, commit_every=commit_every, documents_as=documents_as, progress=progress)
    from .reads import stored_form
    from .storing import match_few

    for request, _line in requests:
        _scope(request.municipality, "request.match")
    # Each document is read in the transaction that stored it (the whole one rebuilt there).
    stored = match_few(where, [r for r, _ in requests], actor=actor, evaluator=evaluator, rules_dir=rules_dir,
                       limit=limit, commit_every=commit_every, progress=progress, documents_as=documents_as)
    results = [summary(stored_form(s.document), s.decided_now) for s in stored]
    single = len(requests) == 1 and requests[0][1] is None
    return {"single": single, "results": results,
            "documents": iter([s.shown for s in stored]) if documents_as else iter(())}


match.takes_database = True  # the CLI passes a storage.writes.Database: no SQLAlchemy for a short file


def _match_batch(where, engine: Callable[[], Any], requests: list, *, actor: str | None, evaluator: str,
                 rules_dir: Path | None, limit: int | None, commit_every: int, documents_as: str | None,
                 progress: Callable[[], None] | None) -> dict[str, Any]:
    """`match` of a long file (a batch): on write transactions (matching/storing.match_batch: on
    the CLI the database's own driver, no SQLAlchemy), in committed chunks; the documents are
    read afterwards only when asked for (one at a time: a year's batch need not fit in memory)."""
    from ..storage.entries import require_actor
    from .storing import match_batch

    for request, _line in requests:
        _scope(request.municipality, "request.match")
    actor = require_actor(actor)
    results = match_batch(where, [r for r, _ in requests], actor=actor, evaluator=evaluator, rules_dir=rules_dir,
                          limit=limit, commit_every=commit_every, progress=progress, large=LARGE_BATCH)

    def docs() -> Iterable[dict[str, Any]]:
        yield from documents(engine(), [s["request_id"] for s in results],
                             full="grouped" if documents_as == "grouped" else documents_as == "full")

    return {"single": False, "results": results, "documents": docs() if documents_as else iter(())}


def _match_orm(engine, data: bytes, name: str, *, actor: str | None, evaluator: str = "vectorized",
               rules_dir: Path | None = None, limit: int | None = None, explain_unit: str | None = None,
               commit_every: int = COMMIT_EVERY, documents_as: str | None = "full",
               progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """`match` with --explain: in sessions on an engine; nothing is stored."""
    from .decisions import check_new_content
    from .request import parse_requests

    explain_unit = known_unit(engine, explain_unit)
    requests = parse_requests(data, name)
    if len(requests) != 1:
        raise ValidationError(msg("match.explain_one"))
    for request, _line in requests:
        _scope(request.municipality, "request.match")
    with open_session(engine) as session:
        from ..rules import load_ruleset

        check_new_content(session, [r for r, _ in requests], load_ruleset(rules_dir) if rules_dir else None)
    return {"explain": explain_new(engine, requests[0][0], explain_unit, evaluator=evaluator,
                                   rules_dir=rules_dir, limit=limit)}


def rematch(engine, request_id: str, *, actor: str | None, evaluator: str = "vectorized",
            rules_dir: Path | None = None, limit: int | None = None, explain_unit: str | None = None,
            full: bool = True) -> dict[str, Any]:
    """`request rematch R`: a new decision, leaving out the units that declined. The decision
    document (whole, or as stored with `full=False`), or with `explain_unit` where it stands."""
    from ..storage.history import require_actor
    from .decisions import explain, find_request, latest_decision, request_model, stored_document

    actor = require_actor(actor)
    explain_unit = known_unit(engine, explain_unit)
    with open_session(engine) as session:
        request = request_model(_row(session, request_id, "request.match"))
    decide_all(engine, [request], evaluator=evaluator, rules_dir=rules_dir, limit=limit, actor=actor,
               commit_every=1, again=True)
    if explain_unit:
        with open_session(engine) as session:
            row = find_request(session, request.request_id)
            return to_jsonable(explain(stored_document(latest_decision(session, row)), explain_unit,
                                       session=session, row=row))
    return next(iter(documents(engine, [request.request_id], full=full)))


# --- requests --------------------------------------------------------------------------------------


def request_show(engine, request_id: str, *, show_protected: bool = False, full: bool | str = True,
                 reader: str | None = None) -> dict[str, Any]:
    """`request show R`: the request with every decision, decline, review and the placement.
    Reading a protected person's request is logged, and refused outside a time-limited grant
    (access/protected_cases.py)."""
    from ..access.protected_cases import check_and_log
    from .decisions import request_overview

    with transaction(engine) as session:
        row = _row(session, request_id, "request.read")
        check_and_log(session, row, what="show", actor=reader)
        return to_jsonable(request_overview(session, request_id, show_protected=show_protected, full=full))


def request_explain(engine, request_id: str, unit_id: str, *, reader: str | None = None) -> dict[str, Any]:
    """`request show R --explain UNIT`: where the unit stood in the latest decision."""
    from ..access.protected_cases import check_and_log
    from .decisions import explain, latest_decision, shown_document, stored_document

    unit_id = known_unit(engine, unit_id)
    with transaction(engine) as session:
        row = _row(session, request_id, "request.read")
        check_and_log(session, row, what="explain", actor=reader)
        decision = latest_decision(session, row)
        if decision is None:
            raise InvariantViolation(msg("request.no_decision", id=request_id))
        return to_jsonable(explain(shown_document(session, row, stored_document(decision)), unit_id,
                                   session=session, row=row))


# `request choose R UNIT`, `request decline R UNIT` and `request end R --on DATE`: on the
# caller's engine or (the CLI) on the database's own driver (matching/choice.py).
from .choice import choose, decline, end  # noqa: E402,F401


# --- reviews ---------------------------------------------------------------------------------------


def review_list(engine, *, status: str | None = None) -> list[dict[str, Any]]:
    """`review list`: a signed-in social worker sees its own municipality's reviews only."""
    from ..access.acting import current_principal
    from ..access.policy import municipality_scope
    from .review import list_reviews

    principal = current_principal()
    scope = municipality_scope(principal, "review.read") if principal is not None else None
    with open_session(engine) as session:
        return to_jsonable(list_reviews(session, status, municipality=scope))


def review_show(engine, review_id: str) -> dict[str, Any]:
    from ..rules import load_ruleset
    from .review import review_detail

    with open_session(engine) as session:
        data = review_detail(session, review_id, load_ruleset())
        _scope(data["request"]["municipality"], "review.read")
        return to_jsonable(data)


def review_decide(engine, review_id: str, *, approve: bool, actor: str | None, note: str) -> dict[str, Any]:
    from .review import decide_review

    with transaction(engine) as session:
        r = decide_review(session, review_id, approve=approve, actor=actor, note=note)
        return {"id": r.id, "status": r.status, "reviewer": r.reviewer, "note": r.note}

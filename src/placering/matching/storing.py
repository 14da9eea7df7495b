"""A match stored on a write transaction (storage/writes.py): `placering match` of one request,
or of a short file of them, and the API's and the web's match of the same.

What is stored is decided here once: the request as validated (`request_values`), its decision
under the next seq with its excluded units by reason and its history entry `matched`
(`decision_values`), and the review a decision that goes to direct procurement needs. A
batch's chunk (`decisions.BatchWriter`) writes the same values in a few statements; a short
file writes them here, one request after the other, in plain SQL on the transaction it is given:
the database's own driver for the CLI (no SQLAlchemy, SQLModel or pydantic: about 0.6 s of a
single match's start-up, issue 22), or the caller's session (the server). The register's facts
are read, and a register snapshot stored when there is none yet, in the same transaction
(matching/snapshots.py); on PostgreSQL it reads one view of the database (REPEATABLE READ).
tests/test_match_writes.py compares the rows stored this way with a batch's, on both databases.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date
from pathlib import Path
from typing import Any, Callable

from ..errors import ValidationError
from ..i18n import msg
from ..storage.entries import entry_values, require_actor, utcnow
from ..storage.reads import as_json
from ..storage.writes import Tx
from ..text import nfc
from .choice import LEGACY_PACKED, Row, _decided_on

PACKED = LEGACY_PACKED


# --- the values stored (shared with decisions.py's session and batch path) -----------------------

def _pack(items: list[Any]) -> dict[str, Any]:
    from .compact import json_bytes

    raw = json_bytes(items)
    return {"encoding": PACKED, "count": len(items), "data": base64.b64encode(zlib.compress(raw, 6)).decode("ascii")}


def stored_form(document: dict[str, Any]) -> dict[str, Any]:
    """A decision document as it is stored: a compact decision's eligible units that are not
    recommended are derived again when asked for (rebuild.redecide), a full one's packed."""
    from .compact import derived

    if isinstance(document.get("excluded"), dict):  # compact (matching/compact.py)
        # The eligible units not recommended are decided again when asked for (rebuild.redecide):
        # at 20,000 units they were most of a stored decision (9 KB of 10, up to 29 KB).
        out = dict(document, below_cut=derived(document.get("below_cut") or []))
        out["excluded"] = dict(out["excluded"], held_back=derived(out["excluded"]["held_back"]))
        return out
    return dict(document, below_cut=_pack(document.get("below_cut") or []))


def diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """The field paths in which two stored requests differ."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.extend(diff(a, b, path + "."))
        elif a != b:
            out.append(path)
    return out


def request_values(request: Any, actor: str) -> dict[str, Any]:
    """A new request's columns (created_at is added when it is written)."""
    return dict(
        request_id=request.request_id,
        submitted_on=request.submitted_on,
        municipality=request.municipality,
        requester=request.requester,
        insats=request.insats,
        subcategory=request.subcategory,
        payload=request.payload(),
        created_by=require_actor(actor),
    )


def decision_values(request_id: str, document: dict[str, Any], *, actor: str,
                    seq: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(the decision's columns, its history entry's arguments, the document with its seq and
    decided_by) of a decision of the request `request_id` stored under `seq`."""
    from .compact import grouped_of

    actor = require_actor(actor)
    document = dict(document)
    document["seq"] = seq
    document["decided_by"] = actor
    values = dict(
        seq=seq,
        rules_version=document["rules_version"],
        evaluated_on=date.fromisoformat(document["evaluated_on"]),
        review_required=bool(document["review_required"]),
        document=stored_form(document),
        created_by=actor,
        excluded_units=grouped_of(document),  # the excluded units by reason, for `request show`
    )
    entry = dict(
        actor=actor,
        entity_kind="request",
        entity_id=request_id,
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
    return values, entry, document


# --- reading and writing on a transaction --------------------------------------------------------

def stored_requests(tx: Any, request_ids: list[str]) -> dict[str, Row]:
    """The stored requests of these ids (id, request_id, payload), by request id."""
    found: dict[str, Row] = {}
    ids = sorted({nfc(r) for r in request_ids})
    for i in range(0, len(ids), 500):
        keys = {f"r{n}": v for n, v in enumerate(ids[i:i + 500])}
        for r in tx.rows(f"SELECT id, request_id, payload FROM placement_request WHERE request_id IN "
                         f"({', '.join(':' + k for k in keys)})", keys):
            found[r.request_id] = Row(id=r.id, request_id=r.request_id, payload=as_json(r.payload))
    return found


def check_new_content(tx: Any, requests: list[Any], ruleset: Any = None) -> None:
    """Before a batch writes anything (it commits in chunks): a request_id stored, or given
    earlier in the batch, with different content is an error (a request is not edited); a
    request starting long before it was submitted too (request.check_start, a dated limit in
    the rules' parameters: those of `ruleset`, else the current rules). `tx`: a transaction, a
    reader or a session."""
    from ..storage.writes import queryable
    from .request import check_start

    check_start(requests, ruleset)
    seen: dict[str, dict[str, Any]] = {rid: row.payload for rid, row in
                                       stored_requests(queryable(tx), [r.request_id for r in requests]).items()}
    for r in requests:
        payload = r.payload()
        old = seen.setdefault(r.request_id, payload)
        changed = diff(old, payload)
        if changed:
            raise ValidationError(msg("request.resubmitted_different", id=r.request_id, fields=", ".join(changed)))


def unit_labels(tx: Tx, document: dict[str, Any], names: dict[str, tuple]) -> None:
    """Unit names and municipalities of the recommendations, for people (decisions._add_unit_labels:
    a protected unit shows its municipality only)."""
    ids = [r["unit_id"] for r in document["recommendations"] if r["unit_id"] not in names]
    if ids:
        keys = {f"u{n}": v for n, v in enumerate(ids)}
        names.update((r.unit_id, (r.name, r.municipality)) for r in tx.rows(
            f"SELECT unit_id, name, municipality FROM unit WHERE unit_id IN ({', '.join(':' + k for k in keys)})", keys))
    for r in document["recommendations"]:
        name, municipality = names.get(r["unit_id"], (None, None))
        r["name"] = name
        r["municipality"] = municipality


def store_blobs(tx: Any, blobs: dict[str, bytes]) -> None:
    """Store content-addressed blobs (digest -> data) not stored yet: the unit indexes the
    decisions' stored groups name (compact.grouped_index). A blob another process stored first
    stays (same content). `tx`: a transaction or a session."""
    from ..storage.writes import queryable
    from .snapshots import _insert_ignore

    if not blobs:
        return
    tx = queryable(tx)
    keys = {f"d{n}": v for n, v in enumerate(sorted(blobs))}
    have = {r[0] for r in tx.rows(f"SELECT digest FROM snapshot_blob WHERE digest IN "
                                  f"({', '.join(':' + k for k in keys)})", keys)}
    now = utcnow()
    _insert_ignore(tx, "snapshot_blob",
                   [{"digest": d, "data": data, "created_at": now} for d, data in sorted(blobs.items()) if d not in have])


def blob_data(tx: Any, digest: str) -> bytes | None:
    """The data of a `snapshot_blob` (None when not stored)."""
    found = tx.rows("SELECT data FROM snapshot_blob WHERE digest = :d", {"d": digest})
    return None if not found or found[0].data is None else bytes(found[0].data)


class Stored:
    """One request of a match: its latest decision as stored (document, excluded_units)."""

    __slots__ = ("request_id", "document", "excluded_units", "decided_now", "payload", "shown")

    def __init__(self, request_id: str, document: dict[str, Any], excluded_units: Any, decided_now: bool,
                 payload: dict[str, Any]):
        self.request_id, self.document, self.excluded_units = request_id, document, excluded_units
        self.decided_now, self.payload = decided_now, payload
        self.shown: dict[str, Any] | None = None  # the document answered (`document_of`), when asked for


def _latest(tx: Tx, pk: int) -> Any:
    found = tx.rows("SELECT id, seq, document, excluded_units FROM decision WHERE request_id = :r "
                    "ORDER BY seq DESC LIMIT 1", {"r": pk})
    return found[0] if found else None


def match_requests(tx: Tx, requests: list[Any], *, context: Callable[[], Any], actor: str,
                   limit: int | None = None) -> list[Stored]:
    """Store each request (or find it, if identical) and, unless it is decided already, its
    decision (decisions.match_request's rules: a request already decided is not decided again,
    unless asked for another number of recommendations). `context()` gives the MatchContext,
    loaded on this transaction when the first request needs deciding."""
    from ..memory import gc_paused
    from .compact import grouped_index
    from .snapshots import store_ruleset

    actor = require_actor(actor)
    known = stored_requests(tx, [r.request_id for r in requests])
    out: list[Stored] = []
    ctx = None
    for request in requests:
        row = known.get(request.request_id)
        payload = request.payload()
        if row is not None:
            changed = diff(row.payload, payload)
            if changed:
                raise ValidationError(msg("request.resubmitted_different", id=request.request_id,
                                          fields=", ".join(changed)))
            previous = _latest(tx, row.id)
            if previous is not None:
                doc = as_json(previous.document)
                if limit is None or doc.get("limit_requested") == limit:
                    out.append(Stored(request.request_id, doc, _bytes(previous.excluded_units), False, row.payload))
                    continue
        if ctx is None:
            ctx = context()
            store_ruleset(tx, ctx.ruleset)
        now = utcnow()
        declined = [] if row is None else sorted(r[0] for r in tx.rows(
            "SELECT unit_id FROM decline WHERE request_id = :r", {"r": row.id}))
        with gc_paused():
            document = ctx.decide(request, declined=declined, limit=limit, compact=True)
        unit_labels(tx, document, ctx.unit_labels)
        if row is None:
            values = request_values(request, actor)
            row = Row(id=tx.insert("placement_request", dict(values, created_at=now)), request_id=request.request_id,
                      payload=values["payload"])
            seq = 1
        else:
            seq = (tx.scalar("SELECT MAX(seq) FROM decision WHERE request_id = :r", {"r": row.id}) or 0) + 1
        values, entry, document = decision_values(row.request_id, document, actor=actor, seq=seq)
        # ... its groups as bit sets over the unit index of its candidate list, stored beside it
        index = grouped_index(document) if values["excluded_units"] is not None else None
        if index is not None:
            store_blobs(tx, dict([index]))
        pk = tx.insert("decision", dict(values, request_id=row.id, created_at=now))
        tx.insert("history", entry_values(**entry))
        if values["review_required"]:
            review_id = tx.insert("review", {"request_id": row.id, "decision_id": pk, "status": "pending",
                                             "unit_id": None, "created_at": now})
            document["review_id"] = review_id
            tx.execute("UPDATE decision SET document = :doc WHERE id = :id",
                       {"id": pk, "doc": dict(values["document"], review_id=review_id)})
        stored = _latest(tx, row.id)  # as it is read back (JSON types, as every later read)
        out.append(Stored(request.request_id, as_json(stored.document), _bytes(stored.excluded_units), True,
                          row.payload))
    return out


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def document_of(tx: Any, stored: Stored, documents_as: str | None) -> dict[str, Any] | None:
    """The document `views.documents` gives for this stored decision, read through `tx`: whole
    ("full": every excluded unit with its reasons, rebuilt from the stored register snapshot and
    rules, as decisions.full_document), as stored ("stored"), or as stored with the excluded
    units' ids by reason ("grouped": as stored with the decision, else grouped again as
    decisions.grouped_document does); None for None."""
    from ..jsondata import to_jsonable
    from .compact import is_compact, with_groups
    from .reads import stored_form as as_stored, stored_groups
    from .request import Request

    if documents_as is None:
        return None
    doc = as_stored(stored.document)
    if documents_as == "full":
        from .rebuild import full_document

        return to_jsonable(full_document(tx, doc, Request(stored.payload)))
    doc = to_jsonable(doc)
    if documents_as != "grouped":
        return doc
    groups = stored_groups(stored.excluded_units, lambda digest: blob_data(tx, digest)) if is_compact(doc) else None
    if groups is not None:
        return with_groups(doc, groups)
    from .rebuild import grouped_document

    return grouped_document(tx, doc, Request(stored.payload))


def match_few(where: Any, requests: list[Any], *, actor: str, evaluator: str, rules_dir: Path | None,
              limit: int | None, commit_every: int, progress: Callable[[], None] | None,
              documents_as: str | None = None) -> list[Stored]:
    """`views.match` of a short file on `where` (a storage.writes.Database, an engine or a
    session): each chunk of `commit_every` requests in one write transaction, in which each
    stored decision's document is read too (`document_of`: `documents_as`)."""
    from ..memory import freeze_long_lived, gc_paused
    from ..storage.writes import Database, run_write
    from .matcher import MatchContext

    ruleset = None
    if rules_dir:
        from ..rules import load_ruleset

        ruleset = load_ruleset(rules_dir)
    out: list[Stored] = []
    one_process = isinstance(where, Database)
    for i in range(0, len(requests), commit_every):
        chunk = requests[i:i + commit_every]

        def work(tx: Tx, chunk: list[Any] = chunk, first: bool = i == 0) -> list[Stored]:
            if first:  # every request checked before anything is stored
                check_new_content(tx, requests, ruleset)

            def context() -> Any:
                # One command's process (the CLI: a Database): the decoded candidate lists and
                # their tables (tens of thousands of acyclic objects) live until it ends, so they
                # are moved out of the collector's generations before it is on again, as
                # decide_all does (else its collections scan them all: ~0.4 s CPU of a match at
                # 20,000 units). Not in a server, whose later garbage cycles would stay.
                if not one_process:
                    return MatchContext.load(tx, engine=evaluator, ruleset=ruleset, rules_dir=rules_dir,
                                             insatser={r.insats for r in chunk})
                with gc_paused():
                    ctx = MatchContext.load(tx, engine=evaluator, ruleset=ruleset, rules_dir=rules_dir,
                                            insatser={r.insats for r in chunk})
                    freeze_long_lived()
                    return ctx
            done = match_requests(tx, chunk, context=context, actor=actor, limit=limit)
            for s in done:
                s.shown = document_of(tx, s, documents_as)
            return done

        done = run_write(where, work, repeatable_read=True)
        out.extend(done)
        for _ in done:
            if progress is not None:
                progress()
    return out


# --- a batch: committed chunks on write transactions, their rows in a few statements ------------

ROWS_PER_INSERT = 100  # rows of one multi-row INSERT (SQLite: at most 32,766 parameters a statement)


def insert_rows(tx: Any, table: str, rows: list[dict[str, Any]], *, returning: bool = True) -> list[int]:
    """INSERT rows (each with the same columns) in multi-row statements, in the order given;
    their ids in that order (`returning`). One statement per ROWS_PER_INSERT rows instead of
    one per row; the values are converted as `Tx.insert` converts them (storage.writes.to_db).
    Both databases give a statement's rows their ids in the order of its VALUES, so the ids
    returned, sorted, are the rows' in order."""
    ids: list[int] = []
    if not rows:
        return ids
    names = list(rows[0])
    columns = ", ".join(f'"{n}"' if n in ("by",) else n for n in names)
    for i in range(0, len(rows), ROWS_PER_INSERT):
        part = rows[i:i + ROWS_PER_INSERT]
        params: dict[str, Any] = {}
        groups = []
        for j, row in enumerate(part):
            keys = []
            for n in names:
                key = f"{n}_{j}"
                params[key] = row[n]
                keys.append(":" + key)
            groups.append(f"({', '.join(keys)})")
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join(groups)}"
        if returning:
            found = sorted(r[0] for r in tx.rows(sql + " RETURNING id", params))
            if len(found) != len(part):
                raise RuntimeError(f"{table}: {len(part)} rows inserted, {len(found)} ids returned")
            ids.extend(found)
        else:
            tx.execute(sql, params)
    return ids


def _undecided(tx: Any, requests: list[Any]) -> list[Any]:
    """The requests that have no stored decision yet (views._undecided in plain SQL)."""
    decided: set[str] = set()
    ids = sorted({r.request_id for r in requests})
    for i in range(0, len(ids), 500):
        keys = {f"r{n}": v for n, v in enumerate(ids[i:i + 500])}
        decided.update(r[0] for r in tx.rows(
            "SELECT placement_request.request_id FROM placement_request JOIN decision "
            "ON decision.request_id = placement_request.id WHERE placement_request.request_id IN "
            f"({', '.join(':' + k for k in keys)})", keys))
    return [r for r in requests if r.request_id not in decided]


class NewRequest:
    """A request a batch stores: its values, and its id once written (`write_chunk`)."""

    __slots__ = ("id", "request_id", "payload", "values")

    def __init__(self, values: dict[str, Any]):
        self.id: int | None = None
        self.request_id = values["request_id"]
        self.payload = values["payload"]
        self.values = values


def write_chunk(tx: Any, requests: list[NewRequest], decisions: list[tuple[Any, dict[str, Any], dict[str, Any]]],
                history: list[dict[str, Any]], blobs: dict[str, bytes]) -> None:
    """Write what a chunk of a batch stores, in a few multi-row statements and in this order:
    the unit indexes its decisions' groups name (`blobs`), the new requests (their ids set),
    the decisions (request row, `decision_values`' columns, document), the history entries
    (`entry_values`), the reviews of the decisions that need one, and those decisions'
    documents with their review_id (set in the document too). The one way a batch writes
    (`match_batch` on a write transaction, decisions.BatchWriter on a session)."""
    store_blobs(tx, blobs)
    now = utcnow()
    for row, pk in zip(requests, insert_rows(tx, "placement_request",
                                             [dict(r.values, created_at=now) for r in requests])):
        row.id = pk
    pks = insert_rows(tx, "decision", [dict(values, request_id=row.id, created_at=now)
                                       for row, values, _doc in decisions])
    insert_rows(tx, "history", history, returning=False)
    reviews = [(pk, row, values, document) for pk, (row, values, document) in zip(pks, decisions)
               if values["review_required"]]
    review_ids = insert_rows(tx, "review", [
        {"request_id": row.id, "decision_id": pk, "status": "pending", "unit_id": None, "created_at": now}
        for pk, row, _v, _d in reviews])
    for review_id, (pk, _row, values, document) in zip(review_ids, reviews):
        document["review_id"] = review_id
        tx.execute("UPDATE decision SET document = :doc WHERE id = :id",
                   {"id": pk, "doc": dict(values["document"], review_id=review_id)})


def match_batch(where: Any, requests: list[Any], *, actor: str, evaluator: str, rules_dir: Path | None,
                limit: int | None, commit_every: int, progress: Callable[[], None] | None = None,
                large: int = 20) -> list[dict[str, Any]]:
    """`views.match` of a long file (a batch) on `where` (a storage.writes.Database: the
    database's own driver, no SQLAlchemy; an engine; a session): every request checked first,
    then each chunk of `commit_every` requests decided and stored in one write transaction,
    committed (a batch stopped half-way is finished by running it again); a summary of each
    request (views.summary). The same rows as `views.decide_all` and `match_requests` store
    (tests/test_match_writes.py), written at each chunk's end in a few statements (`write_chunk`)."""
    from contextlib import nullcontext

    from ..memory import freeze_long_lived, gc_paused
    from ..storage.writes import run_write
    from .compact import grouped_index
    from .matcher import MatchContext
    from .snapshots import store_ruleset
    from .views import summary

    actor = require_actor(actor)
    ruleset = None
    if rules_dir:
        from ..rules import load_ruleset

        ruleset = load_ruleset(rules_dir)
    state: dict[str, Any] = {"ctx": None}
    out: list[dict[str, Any]] = []
    for i in range(0, len(requests), commit_every):
        chunk = requests[i:i + commit_every]

        def work(tx: Tx, chunk: list[Any] = chunk, first: bool = i == 0) -> list[dict[str, Any]]:
            if first:  # every request checked before anything is stored
                check_new_content(tx, requests, ruleset)
                pending = requests if limit is not None else _undecided(tx, requests)
                state["ctx"] = None
                if pending:  # nothing to decide (a batch run again): no rules, register or evaluator
                    ctx = MatchContext.load(tx, engine=evaluator, ruleset=ruleset, rules_dir=rules_dir,
                                            insatser={r.insats for r in pending})
                    if len(pending) >= large:  # every unit's label at once, not one query per request
                        ctx.unit_labels.update((r.unit_id, (r.name, r.municipality)) for r in tx.rows(
                            "SELECT unit_id, name, municipality FROM unit"))
                    state["ctx"] = ctx
                # The register snapshot lives until the call ends; a long run collects first.
                freeze_long_lived(collect=len(pending) >= large)
            ctx = state["ctx"]
            known = stored_requests(tx, [r.request_id for r in chunk])
            new: list[NewRequest] = []
            decisions: list[tuple[Any, dict[str, Any], dict[str, Any]]] = []
            history: list[dict[str, Any]] = []
            blobs: dict[str, bytes] = {}
            done: list[tuple[dict[str, Any], bool]] = []  # (document, decided now)
            ruleset_stored = False
            # A chunk's documents hold no reference cycles: the collector is off while they are
            # made, and the evaluator checks the snapshot's columns once (ctx.batch), as decide_all.
            with gc_paused(), ctx.batch() if ctx is not None else nullcontext():
                for request in chunk:
                    row = known.get(request.request_id)
                    if row is not None:
                        changed = diff(row.payload, request.payload())
                        if changed:
                            raise ValidationError(msg("request.resubmitted_different", id=request.request_id,
                                                      fields=", ".join(changed)))
                        previous = _latest(tx, row.id)
                        if previous is not None:
                            doc = as_json(previous.document)
                            if limit is None or doc.get("limit_requested") == limit:
                                done.append((_stored_form(doc), False))
                                if progress is not None:
                                    progress()
                                continue
                    if ctx is None:
                        raise RuntimeError(f"request '{request.request_id}' needs deciding, and no match "
                                           "context was loaded")
                    if not ruleset_stored:
                        store_ruleset(tx, ctx.ruleset)
                        ruleset_stored = True
                    declined = [] if row is None else sorted(r[0] for r in tx.rows(
                        "SELECT unit_id FROM decline WHERE request_id = :r", {"r": row.id}))
                    document = ctx.decide(request, declined=declined, limit=limit, compact=True)
                    unit_labels(tx, document, ctx.unit_labels)
                    if row is None:
                        row = NewRequest(request_values(request, actor))
                        new.append(row)
                        seq = 1
                    else:
                        seq = (tx.scalar("SELECT MAX(seq) FROM decision WHERE request_id = :r", {"r": row.id})
                               or 0) + 1
                    values, entry, document = decision_values(row.request_id, document, actor=actor, seq=seq)
                    # ... its groups as bit sets over the unit index of its candidate list, stored beside it
                    index = grouped_index(document) if values["excluded_units"] is not None else None
                    if index is not None:
                        blobs.setdefault(*index)
                    decisions.append((row, values, document))
                    history.append(entry_values(**entry))
                    done.append((document, True))
                    if progress is not None:
                        progress()
                if decisions:
                    write_chunk(tx, new, decisions, history, blobs)
            # The documents decided now carry their review_id (flush): summarised as decide_all does.
            return [summary(d, new) for d, new in done]

        out.extend(run_write(where, work, repeatable_read=True))
    return out


def _stored_form(document: dict[str, Any]) -> dict[str, Any]:
    from .reads import stored_form as as_stored

    return as_stored(document)

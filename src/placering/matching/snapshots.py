"""The register's facts and the rule files, stored once per version and read back exactly.

- **Register snapshots** (table `register_snapshot`): the candidate facts of each insats at one
  register revision (`storage.history.current_revision`: the newest register history id) as of
  one date. Matching reads them instead of rebuilding the facts from every table in every
  process (at 20,000 units that rebuild is most of a `placering match`), and a single match
  reads only its insats. A stored decision names its revision and date, so its excluded units
  are explained later from the register as it was, not as it is.
- **Rule sets** (table `rule_set`): the rule and parameter files of each rules version a
  decision was made with, so it is explained with its own rules after the files changed.

Both are written once and never changed (insert, or nothing when another process was first).
What is read back is checked: a candidate list whose content does not match its sha256 (the
key it is stored under) is not used: it is logged, discarded, and the snapshot is built again
from the register tables; stored rule files that do not load as their version are refused, and
replaced when this process has the files of that version. (On PostgreSQL only the service
writes these tables, and a trigger refuses a blob that does not match its digest: access/roles.py.)

They are read and written in plain SQL through a transaction (storage.writes.Tx: the database's
own driver for the CLI's match of a request, no SQLAlchemy; a session's connection for the
server and a batch) or a reader: the same SQL whichever runs it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import zlib
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import PlaceringError
from ..i18n import msg
from ..memory import gc_paused
from ..rules.facts import RegisterSnapshot
from .resident import cache_of

FORMAT = "placering-facts/1"
COMPLETE = ""  # the row under this insats lists every insats of the snapshot: it is complete

# Fact fields holding dates (JSON holds them as ISO text). tests/test_compact_decisions.py
# checks that a snapshot read back equals the one written, field by field.
log = logging.getLogger(__name__)

def _date_fields() -> dict[str, tuple[str, ...]]:
    """The route, permit and supplier facts the rule language types as dates (rules/model.py
    FIELDS): one list, so a new date field is never read back as text (route.price_confirmed_on
    was, and a stored snapshot's match then compared text with a date)."""
    from ..rules.model import DATE, FIELDS

    return {kind: tuple(path.split(".", 1)[1] for path, f in FIELDS.items()
                        if path.startswith(kind + ".") and f.type == DATE)
            for kind in ("route", "permit", "supplier")}


_DATE_FIELDS = _date_fields()


class SnapshotError(PlaceringError):
    """A stored snapshot or rule set is missing or does not reproduce what was decided."""

    exit_code = 5


class TamperedSnapshot(SnapshotError):
    """A stored candidate list does not match its sha256: it is not used."""

    def __init__(self, message, digests: set[str]):
        super().__init__(message)
        self.digests = digests


def _iso(v: Any) -> Any:
    """A fact's date as JSON holds it (json's `default`: called for dates only)."""
    if isinstance(v, date):
        return v.isoformat()
    raise TypeError(f"not a fact value: {type(v).__name__}")


def encode_candidates(cands: list[dict]) -> bytes:
    """One insats' candidates, with the unit, supplier and permit facts they share stored once.
    The facts are written as they are (their dates by json's `default`), not copied field by
    field: a list re-encoded after a change costs a third less (the bytes are the same)."""
    tables: dict[str, list[dict]] = {"unit": [], "supplier": [], "permit": []}
    units, suppliers, permits = tables["unit"], tables["supplier"], tables["permit"]
    unit_at: dict[int, int] = {}
    supplier_at: dict[int, int] = {}
    permit_at: dict[int, int] = {}
    rows = []
    for c in cands:
        obj = c["unit"]
        u = unit_at.get(id(obj))
        if u is None:
            u = unit_at[id(obj)] = len(units)
            units.append(obj)
        obj = c["supplier"]
        s = supplier_at.get(id(obj))
        if s is None:
            s = supplier_at[id(obj)] = len(suppliers)
            suppliers.append(obj)
        obj = c["permit"]
        p = permit_at.get(id(obj))
        if p is None:
            p = permit_at[id(obj)] = len(permits)
            permits.append(obj)
        rows.append([u, s, p, c["route"]])
    doc = {"format": FORMAT, **tables, "candidates": rows}
    # Level 3: 2.5 times quicker than 6 (a list of 9,000 candidates, 7.6 MB of JSON: 0.03 s, not
    # 0.08 s), 16 % larger. Within a version a list always encodes to the same bytes; a list
    # stored by an older version keeps its digest and decodes to the same candidates.
    return zlib.compress(_dumps(doc), 3)


def _dumps(doc: dict) -> bytes:
    """Compact UTF-8 JSON, dates as ISO text: orjson's bytes are json.dumps's (ensure_ascii off,
    no spaces) for every fact value, at a tenth of the time (a list of 9,000 candidates: 0.1 s
    -> 0.01 s); json for what orjson refuses (an integer past 64 bits)."""
    import orjson

    try:
        return orjson.dumps(doc)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=_iso).encode("utf-8")


def _dates(obj: dict, fields: tuple[str, ...]) -> dict:
    for f in fields:
        v = obj.get(f)
        if v is not None:
            obj[f] = date.fromisoformat(v)
    return obj


def decode_candidates(data: bytes) -> list[dict]:
    with gc_paused():  # tens of thousands of small acyclic dicts at once (memory.py)
        return _decode_candidates(data)


def _decode_candidates(data: bytes) -> list[dict]:
    import orjson

    doc = orjson.loads(zlib.decompress(data))  # a third of json.loads's time
    if doc.get("format") != FORMAT:
        raise SnapshotError(msg("snapshot.format", format=str(doc.get("format")), expected=FORMAT))
    units = doc["unit"]
    suppliers = [_dates(s, _DATE_FIELDS["supplier"]) for s in doc["supplier"]]
    permits = [_dates(p, _DATE_FIELDS["permit"]) for p in doc["permit"]]
    route_dates = _DATE_FIELDS["route"]
    return [{"unit": units[u], "route": _dates(r, route_dates), "permit": permits[p], "supplier": suppliers[s]}
            for u, s, p, r in doc["candidates"]]


def _insert_ignore(tx: Any, table: str, rows: list[dict]) -> None:
    """Insert rows; a row another process wrote first stays as it is (same content)."""
    for row in rows:
        names = list(row)
        tx.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)}) "
                   "ON CONFLICT DO NOTHING", row)


def current_revision(tx: Any) -> int:
    """storage.history.current_revision in plain SQL (the same query; on PostgreSQL through the
    view that row-level security does not narrow: the revision is everyone's)."""
    if tx.dialect == "postgresql":
        from ..access.roles import REVISION_VIEW

        return tx.scalar(f"SELECT revision FROM {REVISION_VIEW}") or 0
    # Newest first by primary key: stops at the first such entry (no scan of all history).
    return tx.scalar("SELECT id FROM history WHERE NOT (entity_kind = 'request' AND action = 'matched') "
                     "ORDER BY id DESC LIMIT 1") or 0


def _tx(where: Any) -> Any:
    """A session as a storage.writes.SessionTx; a Tx or a reader as it is."""
    from ..storage.writes import queryable

    return queryable(where)


def _cache(tx: Any) -> Any:
    """The resident cache of the database a session's transaction works on (the server's, a
    batch's); none on the database's own driver (one process, one match)."""
    session = getattr(tx, "_session", None)
    return cache_of(session.get_bind()) if session is not None else None


def load_snapshot(source: Any, *, insatser: Iterable[str] | None = None, on: date | None = None,
                  store: bool = True) -> tuple[RegisterSnapshot, int, date]:
    """The register's candidate facts as of `on` (default today) at the current revision:
    only the given insatser (all when None). Read from the stored snapshot of this revision and
    date; built from the register tables and stored (unless `store=False`: read-only commands)
    when there is none yet. Returns (snapshot, revision, on). `source`: an Engine (read in a
    session of its own, stored in a transaction of its own) or a write transaction
    (storage.writes.Tx: read and stored in it; on PostgreSQL it reads one view of the database,
    REPEATABLE READ, as the engine's reading session does)."""
    on = on or sweden_today()
    wanted = None if insatser is None else sorted(set(insatser))
    if hasattr(source, "rows"):
        cache = _cache(source) if wanted is not None else None
        found = _load(source, on, wanted, cache)
        if found[2] is not None and found[2][0] and store:
            with gc_paused():
                if found[2][1]:
                    _discard(source, found[1], on, found[2][1])
                store_snapshot(source, found[0], found[1])
        return _narrowed(found, on, wanted, cache)
    from ..storage import open_session, transaction
    from ..storage.writes import SessionTx

    engine = source
    cache = cache_of(engine) if wanted is not None else None
    with open_session(engine) as session:
        if engine.dialect.name == "postgresql":
            # One view of the database for the whole read (as SQLite's read transaction has):
            # under READ COMMITTED a change committed while the register was read moved the
            # revision, the snapshot was not stored, and the decision made on it named a
            # revision whose snapshot was missing ("… is not stored" when it was shown;
            # found by `bench web`: a third of the matches under concurrent checks).
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        found = _load(SessionTx(session), on, wanted, cache)
    if found[2] is not None and found[2][0] and store:  # nothing committed while reading: the facts are those of `revision`
        with transaction(engine) as session, gc_paused():
            tx = SessionTx(session)
            if found[2][1]:
                _discard(tx, found[1], on, found[2][1])
            store_snapshot(tx, found[0], found[1])
    return _narrowed(found, on, wanted, cache)


def _load(tx: Any, on: date, wanted: list[str] | None, cache: Any) -> tuple[RegisterSnapshot, int, Any]:
    """(snapshot, revision, None) when read (stored, or kept by `cache`); else (the whole
    register's snapshot, revision, (unchanged: nothing committed while reading, the digests to
    discard)) to store."""
    discard: set[str] = set()
    revision = current_revision(tx)  # every call: a change by anyone moves it (resident.py)
    if cache is not None:
        kept = cache.snapshot(revision, on, wanted)
        if kept is not None:
            return kept, revision, None
    try:
        snap = _read(tx, revision, on, wanted)
    except TamperedSnapshot as exc:
        log.warning(msg("snapshot.rebuilt", problem=exc.message or str(exc)))
        discard |= exc.digests
        snap = None
    if snap is not None:
        return (cache.put(revision, snap, wanted) if cache is not None else snap), revision, None
    with gc_paused():  # the whole register as small dicts (memory.py): about half the time at 20,000 units
        full = None
        try:
            full = _updated(tx, revision, on, wanted)
        except TamperedSnapshot as exc:
            log.warning(msg("snapshot.rebuilt", problem=exc.message or str(exc)))
            discard |= exc.digests
        full = full or RegisterSnapshot.from_session(tx, on=on)
    unchanged = current_revision(tx) == revision
    return full, revision, (unchanged, discard)


def _narrowed(found: tuple[RegisterSnapshot, int, Any], on: date, wanted: list[str] | None,
              cache: Any) -> tuple[RegisterSnapshot, int, date]:
    full, revision, built = found
    if built is None:
        return full, revision, on
    if wanted is not None:
        full = RegisterSnapshot(on=on, by_insats={i: full.candidates(i) for i in wanted},
                                final_prices=full.final_prices,
                                digests={i: full.digests[i] for i in wanted if i in full.digests})
        if built[0] and cache is not None:  # the facts of `revision` exactly: kept for the next request
            full = cache.put(revision, full, wanted)
    return full, revision, on


# Changes that change no candidate's facts: users and their sign-in tokens, review decisions (the
# places a rejection frees are recorded on the request, with the unit), and the register-status
# rules' proposals (created, accepted or dismissed on the maintainers' worklist: the change itself
# is made and recorded by `register status`).
_NO_FACTS = {"user", "token", "review", "proposal"}
# Changes that name a unit and change only that unit's own rows (the unit, its offers, routes,
# permits, complaints, free places): the unit alone is read again, not its supplier's every unit.
# A kind not listed here that names a supplier re-reads the whole supplier (a check or a supplier's
# update changes the supplier's facts, which all its units share; an agreement changes routes of
# many units). A unit read again whose supplier's facts differ from those its supplier's other
# candidates carry means this list is wrong: the whole register is read (`_updated`).
UNIT_ONLY = {"unit", "permit", "complaint", "request", "placement", "entry", "visit"}
# Past this many changed suppliers and units, reading the whole register is about as quick.
UPDATE_AT_MOST = 500


def register_changes(session: Any, since: int, revision: int) -> tuple[set[str], set[str]] | None:
    """What the register changes after revision `since` up to `revision` may have changed in the
    candidate facts: (suppliers (org numbers) whose every unit is read again, units (unit ids) read
    again alone); None when a change cannot be tied to suppliers or units (an agreement-wide
    change, say), so the whole register must be read again."""
    from ..storage.writes import queryable

    tx = queryable(session)
    if tx.dialect == "postgresql":
        # Through a view that row-level security does not narrow (access/roles.py): another
        # municipality's choice changed a unit's free places for everyone.
        from ..access.roles import CHANGES_VIEW

        rows = tx.rows(f"SELECT entity_kind, org_nr, unit_id FROM {CHANGES_VIEW} "
                       "WHERE id > :since AND id <= :revision", {"since": since, "revision": revision})
    else:
        rows = tx.rows("SELECT entity_kind, org_nr, unit_id FROM history WHERE id > :since AND id <= :revision "
                       "AND NOT (entity_kind = 'request' AND action = 'matched')", {"since": since, "revision": revision})
    orgs: set[str] = set()
    units: set[str] = set()
    unowned: set[str] = set()  # units named without their supplier
    for kind, org_nr, unit_id in rows:
        if kind in _NO_FACTS:
            continue
        if unit_id and kind in UNIT_ONLY:
            units.add(unit_id)
        elif org_nr:
            orgs.add(org_nr)
        elif unit_id:
            unowned.add(unit_id)
        else:
            return None
    if unowned:
        keys = {f"u{i}": v for i, v in enumerate(sorted(unowned))}
        found = dict((r[0], r[1]) for r in tx.rows(
            "SELECT u.unit_id, s.org_nr FROM unit u JOIN supplier s ON s.id = u.supplier_id "
            f"WHERE u.unit_id IN ({', '.join(':' + k for k in keys)})", keys))
        if set(found) != unowned:
            return None
        orgs |= set(found.values())
    return orgs, units


def _base(session: Any, revision: int, on: date) -> tuple[int, date] | None:
    """The stored snapshot to start from: the newest of the same day, else of the latest day
    before (revision, as_of); None when none is stored."""
    session = _tx(session)
    from ..storage.reads import as_date

    found = session.rows("SELECT revision, as_of FROM register_snapshot WHERE insats = :complete "
                         "AND revision <= :revision AND as_of <= :on ORDER BY as_of DESC, revision DESC LIMIT 1",
                         {"complete": COMPLETE, "revision": revision, "on": on})
    return (found[0].revision, as_date(found[0].as_of)) if found else None


def _stored_lists(session: Any, revision: int, on: date) -> dict[str, tuple[str, bytes]] | None:
    """The stored snapshot's candidate lists, still encoded: insats -> (digest, data)."""
    session = _tx(session)
    rows = session.rows("SELECT t.insats, t.digest, b.data FROM register_snapshot t "
                        "LEFT OUTER JOIN snapshot_blob b ON b.digest = t.digest "
                        "WHERE t.revision = :revision AND t.as_of = :on", {"revision": revision, "on": on})
    lists = {r.insats: (r.digest, bytes(r.data) if r.data is not None else None) for r in rows}
    # Every list used (decoded, or named again by its digest) is checked against its sha256.
    bad = {d for d, data in lists.values() if data is not None and hashlib.sha256(data).hexdigest() != d}
    if bad:
        raise TamperedSnapshot(msg("snapshot.tampered", revision=revision, on=on.isoformat(),
                                   digests=", ".join(sorted(bad))), bad)
    marker = lists.pop(COMPLETE, None)
    if marker is None or marker[1] is None:
        return None
    names = json.loads(zlib.decompress(marker[1]))
    if set(names) != set(lists) or any(data is None for _d, data in lists.values()):
        raise SnapshotError(msg("snapshot.lists_lost", revision=revision, on=on.isoformat()))
    return lists


def _updated(session: Any, revision: int, on: date, wanted: list[str] | None = None) -> RegisterSnapshot | None:
    """The snapshot of `revision` as of `on` built from the newest stored one of the same day,
    else of the latest day before, with only the suppliers and units re-read whose facts may
    differ: those the register history since that snapshot names (`register_changes`: a choice
    re-reads its unit, a check its supplier) and, across days, the suppliers whose dated facts
    changed in between (`facts.day_changes`: complaints entering or leaving the 12 months, a
    credit rating becoming the latest). Only the candidate lists those are in (before or now)
    and the `wanted` ones (all when None) are decoded; every other list keeps its stored digest
    (named again, not decoded, encoded or stored again). None when there is nothing stored to
    start from or the changes cannot be tied to suppliers or units. The result equals reading
    the whole register (tests/test_compact_decisions.py compares them, byte for byte)."""
    session = _tx(session)
    from ..rules.facts import SupplierChanged, day_changes, suppliers_document

    base = _base(session, revision, on)
    if base is None:
        return None
    base_revision, base_on = base
    changes = register_changes(session, base_revision, revision) if base_revision < revision else (set(), set())
    if changes is None:
        return None
    orgs, units = changes
    changed_orgs = set(orgs)  # by the register: their units may have gained or lost routes
    if base_on != on:
        orgs |= day_changes(session, base_on, on)
    if len(orgs) + len(units) > UPDATE_AT_MOST:
        return None
    stored = _stored_lists(session, base_revision, base_on)
    if stored is None:
        return None
    doc = suppliers_document(session, orgs, units) if orgs or units else {"suppliers": []}
    units -= {u["unit_id"] for s in doc["suppliers"] if s["org_nr"] in orgs for u in s.get("units") or []}
    decode = set(stored) if wanted is None else {i for i in wanted if i in stored}
    # The lists the changed suppliers and units have candidates in now (the units' offered routes) ...
    for supplier in doc["suppliers"]:
        for unit in supplier.get("units") or []:
            offered = {o["insats"] for o in unit.get("offers") or []}
            decode |= {r["insats"] for r in unit.get("routes") or [] if r["insats"] in offered and r["insats"] in stored}
    # ... and those they had candidates in: their org numbers or unit ids are in the list's text.
    # A supplier only the date changed (no register change since the stored snapshot) has its
    # candidates in the same lists as then: those are the lists above, no list is searched.
    needles = [json.dumps(o).encode("utf-8") for o in sorted(changed_orgs)]
    needles += [b'"unit_id":' + json.dumps(u, ensure_ascii=False).encode("utf-8") for u in sorted(units)]
    for insats, (_digest, data) in stored.items():
        if insats not in decode and needles:
            text = zlib.decompress(data)
            if any(n in text for n in needles):
                decode.add(insats)
    snap = RegisterSnapshot(on=on, by_insats={i: decode_candidates(stored[i][1]) for i in sorted(decode)})
    snap.load_final_prices(session)
    touched: set[str] = set()
    # Every unit whose candidates `refresh_insatser` replaces (as it finds them): a list's other
    # rows are the stored list's, so its columns are patched, not built (`derived_from`).
    changed = frozenset(units | {u["unit_id"] for s in doc["suppliers"] for u in s.get("units") or []}
                        | {c["unit"]["unit_id"] for cands in snap.by_insats.values() for c in cands
                           if c["supplier"]["org_nr"] in orgs})
    if orgs or units:
        try:
            _count, touched = snap.refresh_insatser(session, org_nrs=orgs, unit_ids=units, doc=doc)
        except SupplierChanged:  # a change of a supplier's facts recorded as a unit's: read everything
            return None
    for insats in [i for i, cands in snap.by_insats.items() if not cands]:
        del snap.by_insats[insats]  # as read from the tables: an insats without candidates is not listed
    snap.digests = {i: digest for i, (digest, _data) in stored.items()
                    if i not in touched and (i not in decode or i in snap.by_insats)}
    snap.derived = {i: (stored[i][0], changed) for i in touched if i in stored and i in snap.by_insats}
    return snap


# A list encoded in this process from a stored one after a change: its digest -> (the stored
# list's digest, the units whose candidates were read again). The columnar evaluator patches the
# stored list's table (its disk cache) instead of building the whole table (rules/vectorized.py).
_DERIVED: dict[str, tuple[str, frozenset[str]]] = {}


def derived_from(digest: str) -> tuple[str, frozenset[str]] | None:
    return _DERIVED.get(digest)


def _remember_derived(snapshot: RegisterSnapshot) -> None:
    derived = getattr(snapshot, "derived", None) or {}
    if len(_DERIVED) > 256:
        _DERIVED.clear()
    for insats, base in derived.items():
        digest = snapshot.digests.get(insats)
        if digest is not None and digest != base[0]:
            _DERIVED[digest] = base


def _read(session: Any, revision: int, on: date, wanted: list[str] | None) -> RegisterSnapshot | None:
    session = _tx(session)

    def rows(insatser: list[str]) -> Any:
        # The list is the blob of the row's digest (migration 0009 moved the older rows' lists).
        keys = {f"i{n}": v for n, v in enumerate(insatser)}
        found = session.rows("SELECT t.insats, t.digest, b.data FROM register_snapshot t "
                             "LEFT OUTER JOIN snapshot_blob b ON b.digest = t.digest "
                             "WHERE t.revision = :revision AND t.as_of = :on "
                             f"AND t.insats IN ({', '.join(':' + k for k in keys)})",
                             dict(keys, revision=revision, on=on))
        return [r._replace(data=bytes(r.data)) if r.data is not None else r for r in found]

    def check(found: list) -> None:
        bad = {r.digest for r in found if r.data is not None and hashlib.sha256(r.data).hexdigest() != r.digest}
        if bad:
            raise TamperedSnapshot(msg("snapshot.tampered", revision=revision, on=on.isoformat(),
                                       digests=", ".join(sorted(bad))), bad)

    markers = rows([COMPLETE])
    if not markers:
        return None
    marker = markers[0]
    check([marker])
    present = json.loads(zlib.decompress(marker.data))
    names = [i for i in (present if wanted is None else wanted) if i in present]
    by_insats: dict[str, list[dict]] = {i: [] for i in (wanted or [])}
    digests: dict[str, str] = {}
    found = list(rows(names)) if names else []
    check(found)
    for row in found:
        if row.data is None:
            raise SnapshotError(msg("snapshot.list_lost", revision=revision, insats=row.insats, digest=row.digest))
        by_insats[row.insats] = decode_candidates(row.data)
        digests[row.insats] = row.digest
    snap = RegisterSnapshot(on=on, by_insats=by_insats, digests=digests)
    # Final prices of direct-procurement placements (the reference price) are read from the
    # placements: every change to them is register history, so at this revision they are as
    # they were when the snapshot was stored.
    snap.load_final_prices(session)
    return snap


def _discard(session: Any, revision: int, on: date, digests: set[str]) -> None:
    """Remove candidate lists that failed their sha256, and this revision's and date's rows
    naming them, so that the snapshot built again is stored in their place."""
    session = _tx(session)
    keys = {f"d{i}": v for i, v in enumerate(sorted(digests))}
    session.execute(f"DELETE FROM snapshot_blob WHERE digest IN ({', '.join(':' + k for k in keys)})", keys)
    session.execute("DELETE FROM register_snapshot WHERE revision = :revision AND as_of = :on",
                    {"revision": revision, "on": on})


def store_snapshot(session: Any, snapshot: RegisterSnapshot, revision: int) -> None:
    """Store the snapshot's rows, each naming its candidate list by sha256; a list stored
    already (another day, another revision with the same candidates) is not stored again."""
    session = _tx(session)
    from ..storage.entries import utcnow

    now = utcnow()
    # A list read from storage and unchanged (snapshot.digests) is stored already: name it. A
    # snapshot built from a stored one may name such lists without having decoded them.
    digests = dict(snapshot.digests)
    names = sorted(set(snapshot.by_insats) | set(digests))
    blobs: dict[str, bytes] = {}
    for insats in names:
        if insats not in digests:
            data = encode_candidates(snapshot.by_insats[insats])
            digests[insats] = hashlib.sha256(data).hexdigest()
            blobs[digests[insats]] = data
    marker = zlib.compress(json.dumps(names).encode("utf-8"))
    marker_digest = hashlib.sha256(marker).hexdigest()
    blobs[marker_digest] = marker
    keys = {f"d{i}": v for i, v in enumerate(blobs)}
    have = {r[0] for r in session.rows(f"SELECT digest FROM snapshot_blob WHERE digest IN "
                                       f"({', '.join(':' + k for k in keys)})", keys)}
    _insert_ignore(session, "snapshot_blob",
                   [{"digest": d, "data": data, "created_at": now} for d, data in blobs.items() if d not in have])
    _insert_ignore(session, "register_snapshot",
                   [{"revision": revision, "as_of": snapshot.on, "insats": insats, "digest": digest, "data": None,
                     "created_at": now}
                    for insats, digest in [*((i, digests[i]) for i in names), (COMPLETE, marker_digest)]])
    snapshot.digests = {i: digests[i] for i in names}
    _remember_derived(snapshot)


def stored_snapshot(session: Any, revision: int, on: date, insats: str) -> RegisterSnapshot:
    """The stored snapshot a decision was made on (one insats); an error when it is missing."""
    from ..storage.writes import queryable

    tx = queryable(session)
    cache = _cache(tx)
    if cache is not None:
        kept = cache.snapshot(revision, on, [insats])
        if kept is not None:
            return kept
    snap = _read(tx, revision, on, [insats])
    if snap is None:
        raise SnapshotError(msg("snapshot.missing", revision=revision, on=on.isoformat()))
    return cache.put(revision, snap, [insats]) if cache is not None else snap


# -- rule sets ---------------------------------------------------------------------------------

def ruleset_files(ruleset: Any) -> dict[str, str]:
    """The rule and parameter files of a rule set (not its tests), by relative path."""
    directory = Path(ruleset.directory)
    files = sorted(p for p in directory.rglob("*.yaml") if "tests" not in p.relative_to(directory).parts)
    return {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8") for p in files}


_FILES: dict[tuple[str, str], dict[str, str]] = {}


def store_ruleset(session: Any, ruleset: Any) -> None:
    """Store the rule files of this version once (a batch asks for every request: the session
    remembers what it stored or found)."""
    from ..storage.entries import utcnow
    from ..storage.reads import as_json
    from ..storage.writes import queryable

    info = getattr(session, "info", None)  # a session remembers; a write transaction stores once anyway
    if info is not None:
        seen = info.setdefault("placering_rulesets", set())
        if ruleset.version in seen:
            return
        seen.add(ruleset.version)
    tx = queryable(session)

    key = (str(ruleset.directory), ruleset.version)
    files = _FILES.get(key)
    if files is None:  # read once per process (the server stores the rules of every match)
        files = _FILES[key] = ruleset_files(ruleset)
    found = tx.rows("SELECT files FROM rule_set WHERE version = :v", {"v": ruleset.version})
    if found and as_json(found[0].files) != files:
        # The version is a digest of the files: stored files that differ were changed after
        # they were stored. This process has the true ones: they replace them.
        log.warning(msg("snapshot.rules_replaced", version=ruleset.version))
        tx.execute("DELETE FROM rule_set WHERE version = :v", {"v": ruleset.version})
        found = []
    if not found:
        _insert_ignore(tx, "rule_set", [{"version": ruleset.version, "files": files, "created_at": utcnow()}])


_RULESETS: dict[str, Any] = {}


def ruleset_of_version(session: Any, version: str, current: Any = None) -> Any:
    """The rule set of a stored decision: the current one when its version matches, else the
    stored files of that version, loaded and checked to give the same version."""
    from ..rules import load_ruleset

    if current is not None and current.version == version:
        return current
    if version in _RULESETS:
        return _RULESETS[version]
    default = load_ruleset()
    if default.version == version:
        return default
    from ..storage.reads import as_json
    from ..storage.writes import queryable

    found = queryable(session).rows("SELECT files FROM rule_set WHERE version = :v", {"v": version})
    if not found:
        raise SnapshotError(msg("snapshot.rules_missing", version=version))
    with tempfile.TemporaryDirectory(prefix="placering-rules-") as tmp:
        for rel, text in as_json(found[0].files).items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        ruleset = load_ruleset(tmp)
    if ruleset.version != version:
        raise SnapshotError(msg("snapshot.rules_other_version", version=version, loaded=ruleset.version))
    _RULESETS[version] = ruleset
    return ruleset

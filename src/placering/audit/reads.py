"""Audit reads without SQLAlchemy (storage.reads): `audit log`.

The same document as `audit.views.log` (what the server returns), read through the database's
own driver for start-up, as `register history` is (register/reads.py). What ends in an error
(a period backwards, --limit 0, a malformed organisation number, an unknown --kind or
--action) returns None, and the CLI asks the ORM view (`orm_view`), which says what is wrong.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ..jsondata import to_jsonable
from ..register.reads import _datetime, _iso_day, _iso_utc, _json_texts
from ..storage.reads import Reader, as_date, as_json, chunks_of
from ..text import canonical_org_nr, nfc
from .log import KNOWN_ACTIONS, KNOWN_KINDS, LogReport, hide_location, what_changed


def _known(reader: Reader, value: str | None, column: str, known: tuple[str, ...]) -> bool:
    return value is None or value in known or reader.scalar(
        f"SELECT 1 FROM history WHERE {column} = :v LIMIT 1", {"v": value}) is not None


def log(reader: Reader, *, actor: str | None = None, unit: str | None = None, supplier: str | None = None,
        kind: str | None = None, action: str | None = None, since: date | None = None, until: date | None = None,
        summary: bool = False, limit: int | None = None, show_protected: bool = False) -> dict[str, Any] | None:
    """`audit log` (audit.log.audit_log through audit.views.log), read without SQLAlchemy; None
    when the ORM view must answer (see the module)."""
    if (since and until and since > until) or (limit is not None and limit < 1):
        return None
    org_nr = None
    if supplier is not None:
        try:
            org_nr = canonical_org_nr(supplier)
        except ValueError:
            return None
    if not _known(reader, kind, "entity_kind", KNOWN_KINDS) or not _known(reader, action, "action", KNOWN_ACTIONS):
        return None
    unit = nfc(unit) if unit else unit
    filters = {"actor": actor, "unit": unit, "supplier": org_nr, "kind": kind, "action": action,
               "since": since, "until": until}
    where: list[str] = []
    params: dict[str, Any] = {}
    if actor:
        where.append("actor = :actor")
        params["actor"] = nfc(actor)
    if unit:
        agreements = [r[0] for r in reader.rows(
            "SELECT DISTINCT r.agreement_id FROM unit_route r JOIN unit u ON u.id = r.unit_id "
            "WHERE u.unit_id = :unit AND r.agreement_id IS NOT NULL", {"unit": unit})] or [""]
        names = []
        for k, a in enumerate(agreements):
            params[f"a{k}"] = a
            names.append(f":a{k}")
        where.append("(unit_id = :unit OR (entity_kind = 'unit' AND entity_id = :unit) OR "
                     f"(entity_kind = 'agreement' AND entity_id IN ({', '.join(names)})))")
        params["unit"] = unit
    if org_nr:
        where.append("org_nr = :org")
        params["org"] = org_nr
    if kind:
        where.append("entity_kind = :kind")
        params["kind"] = kind
    if action:
        where.append("action = :action")
        params["action"] = action
    sqlite = reader.dialect == "sqlite"
    if since:
        where.append("effective_on >= :since")
        params["since"] = since.isoformat() if sqlite else since
    if until:
        where.append("effective_on <= :until")
        params["until"] = until.isoformat() if sqlite else until
    condition = (" WHERE " + " AND ".join(where)) if where else ""

    if summary:
        groups: dict[tuple[str, str, str], dict[str, Any]] = {}
        total = 0
        for r in reader.rows("SELECT actor, entity_kind, action, effective_on, entity_id FROM history"
                             + condition + " ORDER BY effective_on, id", params):
            total += 1
            day = as_date(r.effective_on)
            g = groups.setdefault((r.actor, r.entity_kind, r.action), {
                "actor": r.actor, "kind": r.entity_kind, "action": r.action, "changes": 0,
                "first": day, "last": day, "entities": set()})
            g["changes"] += 1
            g["last"] = day
            g["entities"].add(r.entity_id)
        rows = []
        for key in sorted(groups):
            g = groups[key]
            g["entities"] = len(g["entities"])
            rows.append(g)
        return to_jsonable(LogReport([], rows, filters, total).to_dict())

    # --limit keeps the latest N (as the ORM path does), still listed oldest first. The count,
    # the entries and the protected units in one round trip (Reader.many).
    counted, found, *hidden = reader.many([
        ("SELECT COUNT(*) FROM history" + condition, params),
        ("SELECT id, at, effective_on, actor, entity_kind, entity_id, action, "
         + ("changes" if sqlite else "changes::text AS changes")  # JSON text: one parse of them all below
         + ", reason, note, rule_id, unit_id, org_nr FROM history" + condition
         + (f" ORDER BY effective_on DESC, id DESC LIMIT {int(limit)}" if limit else " ORDER BY effective_on, id"),
         params)] + ([] if show_protected else [
             ("SELECT unit_id FROM unit WHERE protected_address = :yes", {"yes": True})]))
    total = (counted[0][0] if counted else None) or 0
    if limit:
        found.reverse()
    protected = set() if show_protected else {r[0] for r in hidden[0]}
    changes_of = _json_texts([r.changes for r in found])  # `changes` as JSON text: one parse of them all
    if reader.dialect == "sqlite":  # dates and times as text
        effective = [_iso_day(r.effective_on) for r in found]
        recorded = [_iso_utc(r.at) for r in found]
    else:
        effective = [as_date(r.effective_on) for r in found]
        recorded = [_datetime(r.at) for r in found]
    entries: list[dict[str, Any]] = []
    for r, changes, effective_on, recorded_at in zip(found, changes_of, effective, recorded):
        changes = changes if show_protected else hide_location(changes, r.unit_id, protected)
        entries.append({
            "id": r.id, "effective_on": effective_on, "recorded_at": recorded_at, "actor": r.actor,
            "kind": r.entity_kind, "entity_id": r.entity_id, "action": r.action,
            "what": what_changed(r.action, changes), "reason": r.reason, "rule_id": r.rule_id,
            "note": r.note, "unit_id": r.unit_id, "org_nr": r.org_nr, "changes": changes,
        })
    return to_jsonable(LogReport(entries, None, filters, total).to_dict())


log.orm_view = "audit.views:log"


# --- audit paused ------------------------------------------------------------------------------

_UNIT_STATES = """
WITH h AS {materialized}(
    SELECT id, effective_on, entity_id, {status} AS status FROM history
    WHERE effective_on <= :as_of AND entity_kind = 'unit' AND action IN ('created', 'updated', 'status')
), w AS (
    SELECT id, effective_on, entity_id, status,
           LAG(status) OVER (PARTITION BY entity_id ORDER BY effective_on, id) AS prev,
           MIN(effective_on) OVER (PARTITION BY entity_id) AS first_on
    FROM h WHERE status IS NOT NULL
), c AS (
    SELECT id, effective_on, entity_id, status, first_on,
           ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY effective_on DESC, id DESC) AS rn
    FROM w WHERE prev IS NULL OR prev != status
)
SELECT c.effective_on, c.entity_id, c.status, c.first_on, x.id, x.reason, x.note, x.actor, x.rule_id,
       x.rules_version, x.org_nr, x.unit_id
FROM c JOIN history x ON x.id = c.id
WHERE c.rn = 1 AND c.status IN ({wanted})
"""


def _in_list(values, params: dict[str, Any], prefix: str) -> str:
    names = []
    for k, v in enumerate(values):
        params[f"{prefix}{k}"] = v
        names.append(f":{prefix}{k}")
    return ", ".join(names)


def _states(reader: Reader, as_of: date, statuses: frozenset[str]):
    """timeline.register_states(…, statuses=…) in the database's own SQL: the same window
    query over the units' status entries, and the agreements' entries folded as there."""
    from .timeline import StatusState, fold_agreement_entries

    sqlite = reader.dialect == "sqlite"
    day = as_of.isoformat() if sqlite else as_of
    new_status = """json_extract(changes, '$."status"[1]')""" if sqlite else "(changes #>> '{status,1}')"
    params: dict[str, Any] = {"as_of": day}
    wanted = _in_list(sorted(statuses), params, "s")
    units: dict[str, Any] = {}
    # PostgreSQL: the status is taken from each entry's JSON once (MATERIALIZED); inlined, the
    # planner extracts it again in the window steps, about twice the query's time.
    materialized = "" if sqlite else "MATERIALIZED "
    states, entries = reader.many([  # one round trip on PostgreSQL
        (_UNIT_STATES.format(status=new_status, wanted=wanted, materialized=materialized), params),
        ("SELECT id, effective_on, entity_id, org_nr, actor, reason, note, rule_id, rules_version, changes "
         "FROM history WHERE effective_on <= :as_of AND entity_kind = 'agreement' AND action = 'agreement_status' "
         "ORDER BY effective_on, id", {"as_of": day})])
    for r in states:
        units[r[1]] = StatusState(
            status=r[2], since=as_date(r[0]), reason=r[5], note=r[6], actor=r[7], rule_id=r[8], rules_version=r[9],
            history_id=r[4], org_nr=r[10], unit_id=r[11], created_on=as_date(r[3]))
    agreements = fold_agreement_entries(
        (r[0], as_date(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], as_json(r[9])) for r in entries)
    agreements = {aid: st for aid, st in agreements.items()
                  if st.status in statuses or any(p.status in statuses for p in (st.participants or {}).values())}
    return units, agreements


def _load_units(reader: Reader, unit_ids: set[str], routes: bool):
    """audit.common.load_units for the given units."""
    from .common import UnitInfo

    out: dict[str, Any] = {}
    pk: dict[int, Any] = {}
    for batch in chunks_of(sorted(unit_ids)):
        params: dict[str, Any] = {}
        for r in reader.rows(
                "SELECT u.id, u.unit_id, u.name, u.municipality, u.municipality_key, s.org_nr, s.name, s.legal_form "
                "FROM unit u JOIN supplier s ON s.id = u.supplier_id WHERE u.unit_id IN ("
                + _in_list(batch, params, "u") + ")", params):
            info = UnitInfo(*r[1:])
            out[info.unit_id] = info
            pk[r[0]] = info
    for batch in chunks_of(sorted(pk)):
        params = {}
        names = _in_list(batch, params, "p")
        offers, *unit_routes = reader.many(  # one round trip on PostgreSQL
            [(f"SELECT unit_id, insats FROM offer WHERE unit_id IN ({names}) ORDER BY unit_id, position", params)]
            + ([(f"SELECT unit_id, route, insats, agreement_id FROM unit_route WHERE unit_id IN ({names}) "
                 "ORDER BY unit_id, position", params)] if routes else []))
        for unit_pk, insats in offers:
            pk[unit_pk].insatser.append(insats)
        if routes:
            for unit_pk, route, insats, agreement_id in unit_routes[0]:
                info = pk[unit_pk]
                info.routes.append(f"{route}:{insats}")
                if agreement_id and agreement_id not in info.agreements:
                    info.agreements.append(agreement_id)
    return out


def _load_agreements(reader: Reader, agreement_ids: set[str]):
    """audit.common.load_agreements for the given agreements."""
    from .common import add_agreement_route

    out: dict[str, Any] = {}
    for batch in chunks_of(sorted(agreement_ids)):
        params: dict[str, Any] = {}
        for aid, insats, vfrom, vto, route, unit_id, mkey, org_nr, sname in reader.rows(
                "SELECT r.agreement_id, r.insats, r.valid_from, r.valid_to, r.route, u.unit_id, u.municipality_key, "
                "s.org_nr, s.name FROM unit_route r JOIN unit u ON u.id = r.unit_id "
                "JOIN supplier s ON s.id = u.supplier_id WHERE r.agreement_id IN ("
                + _in_list(batch, params, "a") + ") ORDER BY r.agreement_id, u.unit_id", params):
            add_agreement_route(out, aid, insats, as_date(vfrom), as_date(vto), route, unit_id, mkey, org_nr, sname)
    return out


def paused(reader: Reader, *, as_of: date | None = None, insats: str | None = None, route: str | None = None,
           municipality: str | None = None, status: str | None = None) -> dict[str, Any] | None:
    """`audit paused` (audit.paused.paused through audit.views.paused), read without
    SQLAlchemy; None when the ORM view must answer (an unknown insats, route, status or
    municipality: it says which)."""
    from ..clock import today
    from ..errors import ValidationError
    from ..taxonomy import load_taxonomy
    from ..text import fold
    from .common import check_insats, check_route, check_status
    from .paused import STATUSES, report

    try:
        check_insats(insats)
        check_route(route)
        check_status(status)
    except ValidationError:
        return None
    mkey = None
    if municipality is not None:
        mkey = fold(municipality)
        if load_taxonomy().municipality(municipality) is None and reader.scalar(
                "SELECT 1 FROM unit WHERE municipality_key = :k LIMIT 1", {"k": mkey}) is None:
            return None
    day = as_of or today()
    units, agreements = _states(reader, day, STATUSES)
    found = report(day, units, agreements, lambda ids, routes: _load_units(reader, ids, routes),
                   lambda ids: _load_agreements(reader, ids), insats=insats, route=route, mkey=mkey, status=status)
    return to_jsonable(found.to_dict())


paused.orm_view = "audit.views:paused"


# --- protected-reads ---------------------------------------------------------------------------


def protected_reads(db: Reader, *, request_id: str | None = None, reader: str | None = None,
                    since: date | None = None, until: date | None = None) -> list[dict] | None:
    """`audit protected-reads` (access.protected_cases.reads_view), read without SQLAlchemy:
    who read which protected case, when (Swedish days; read_at is stored in UTC). None for a
    person signed in to the server (the ORM view, which the server calls)."""
    from datetime import datetime, time, timezone

    from ..clock import STOCKHOLM
    from ..matching.reads import _signed_in, utc

    if _signed_in():
        return None
    where, params = [], {}
    if request_id:
        where.append("request_id = :request_id")
        params["request_id"] = nfc(request_id)
    if reader:
        where.append("reader = :reader")
        params["reader"] = nfc(reader)
    for name, day, edge, op in (("since", since, time.min, ">="), ("until", until, time.max, "<=")):
        if day:
            at = datetime.combine(day, edge, tzinfo=STOCKHOLM).astimezone(timezone.utc)
            # SQLite holds UTC as text, as SQLAlchemy writes it (and compares it)
            params[name] = at.strftime("%Y-%m-%d %H:%M:%S.%f") if db.dialect == "sqlite" else at
            where.append(f"read_at {op} :{name}")
    rows = db.rows("SELECT request_id, reader, read_at, what FROM case_access_log"
                   + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY read_at, id", params)
    return to_jsonable([{"request_id": r.request_id, "reader": r.reader, "read_at": utc(r.read_at), "what": r.what}
                        for r in rows])


protected_reads.orm_view = "access.protected_cases:reads_view"


# --- audit checks-due (helper audita, issue 22 item 1) ------------------------------------------

# timeline.register_states without `statuses`: every unit's state (the query of `audit paused`
# without its status filter).
_ALL_UNIT_STATES = _UNIT_STATES.replace(" AND c.status IN ({wanted})", "")
assert _ALL_UNIT_STATES != _UNIT_STATES


def _register_states(reader: Reader, as_of: date):
    """timeline.register_states(session, as_of): (unit states, agreement states), every one."""
    from .timeline import StatusState, fold_agreement_entries

    sqlite = reader.dialect == "sqlite"
    day = as_of.isoformat() if sqlite else as_of
    new_status = """json_extract(changes, '$."status"[1]')""" if sqlite else "(changes #>> '{status,1}')"
    states, entries = reader.many([  # one round trip on PostgreSQL
        (_ALL_UNIT_STATES.format(status=new_status, materialized="" if sqlite else "MATERIALIZED "), {"as_of": day}),
        ("SELECT id, effective_on, entity_id, org_nr, actor, reason, note, rule_id, rules_version, changes "
         "FROM history WHERE effective_on <= :as_of AND entity_kind = 'agreement' AND action = 'agreement_status' "
         "ORDER BY effective_on, id", {"as_of": day})])
    units = {r[1]: StatusState(status=r[2], since=as_date(r[0]), reason=r[5], note=r[6], actor=r[7], rule_id=r[8],
                               rules_version=r[9], history_id=r[4], org_nr=r[10], unit_id=r[11],
                               created_on=as_date(r[3]))
             for r in states}
    agreements = fold_agreement_entries(
        (r[0], as_date(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], as_json(r[9])) for r in entries)
    return units, agreements


def _all_agreements(reader: Reader):
    """audit.common.load_agreements(session): every agreement, as its routes describe it."""
    from .common import add_agreement_route

    out: dict[str, Any] = {}
    for aid, insats, vfrom, vto, route, unit_id, mkey, org_nr, sname in reader.rows(
            "SELECT r.agreement_id, r.insats, r.valid_from, r.valid_to, r.route, u.unit_id, u.municipality_key, "
            "s.org_nr, s.name FROM unit_route r JOIN unit u ON u.id = r.unit_id "
            "JOIN supplier s ON s.id = u.supplier_id WHERE r.agreement_id IS NOT NULL "
            "ORDER BY r.agreement_id, u.unit_id"):
        add_agreement_route(out, aid, insats, as_date(vfrom), as_date(vto), route, unit_id, mkey, org_nr, sname)
    return out


def checks_due(reader: Reader, *, as_of: date | None = None, kind: str | None = None,
               supplier: str | None = None) -> dict[str, Any] | None:
    """`audit checks-due` (audit.checks.checks_due through audit.views.checks_due), read
    without SQLAlchemy; None when the ORM view must answer (an unknown --kind, a malformed
    --supplier: it says what is wrong)."""
    from ..clock import today
    from ..errors import ValidationError
    from .checks import ChecksDueReport, check_options, check_rows, followup_rows, in_register, suppliers_of

    day = as_of or today()
    try:
        validity, org_filter = check_options(day, kind, supplier)
    except ValidationError:
        return None
    units, agreements = _register_states(reader, day)
    present = in_register(units)
    suppliers = suppliers_of(_load_units(reader, set(present), True) if present else {}, org_filter)
    param = day.isoformat() if reader.dialect == "sqlite" else day
    checks, done = reader.many([
        ("SELECT s.org_nr, c.kind, c.result, c.value, c.performed_on FROM supplier_check c "
         "JOIN supplier s ON s.id = c.supplier_id WHERE c.performed_on <= :day ORDER BY c.performed_on, c.id",
         {"day": param}),
        ("SELECT agreement_id, months FROM agreement_followup", None)])
    rows = check_rows(day, suppliers, validity, ((o, k, r, v, as_date(p)) for o, k, r, v, p in checks))
    followups = followup_rows(day, agreements, _all_agreements(reader), {(a, m) for a, m in done})
    return to_jsonable(ChecksDueReport(day, rows, followups, len(suppliers), validity).to_dict())


checks_due.orm_view = "audit.views:checks_due"


# --- audit prices-due --------------------------------------------------------------------------


def prices_due(reader: Reader, *, as_of: date | None = None, supplier: str | None = None) -> dict[str, Any] | None:
    """`audit prices-due` (audit.prices.prices_due through audit.views.prices_due), read
    without SQLAlchemy; None when the ORM view must answer (a malformed or unknown --supplier:
    it says which)."""
    from ..clock import today
    from ..rules import load_ruleset
    from ..vocabulary import AgreementStatus, UnitStatus
    from .prices import price_rows

    day = as_of or today()
    params: dict[str, Any] = {"active": AgreementStatus.ACTIVE.value, "removed": UnitStatus.REMOVED.value}
    where = ""
    if supplier:
        try:
            params["org"] = canonical_org_nr(supplier)
        except ValueError:
            return None
        if reader.scalar("SELECT 1 FROM supplier WHERE org_nr = :org", params) is None:
            return None
        where = " AND s.org_nr = :org"
    months = int(load_ruleset().param("price_confirmation_months", day))
    routes = reader.rows(
        "SELECT r.route, r.insats, r.agreement_id, r.daily_price, r.price_confirmed_on, u.unit_id, u.name, u.status, "
        "s.org_nr, s.name FROM unit_route r JOIN unit u ON u.id = r.unit_id JOIN supplier s ON s.id = u.supplier_id "
        "WHERE r.daily_price IS NOT NULL AND r.status = :active AND u.status != :removed" + where
        + " ORDER BY s.org_nr, u.unit_id, r.position, r.id", params)
    return to_jsonable(price_rows(day, months, ((*r[:4], as_date(r[4]), *r[5:]) for r in routes)))


prices_due.orm_view = "audit.views:prices_due"


# --- audit affected-placements -----------------------------------------------------------------


def _permit_states(reader: Reader, as_of: date):
    """timeline.permit_states(session, as_of) in the database's own SQL."""
    from .timeline import fold_permit_entries

    sqlite = reader.dialect == "sqlite"
    status, insats = ((r"""json_extract(changes, '$."status"[1]')""", r"""json_extract(changes, '$."insats"')""")
                      if sqlite else ("(changes #>> '{status,1}')", "(changes ->> 'insats')"))
    rows = reader.rows(
        f"SELECT id, effective_on, entity_id, unit_id, actor, note, reason, {status} AS status, {insats} AS insats "
        "FROM history WHERE effective_on <= :as_of AND entity_kind = 'permit' AND action = 'permit' "
        "ORDER BY effective_on, id", {"as_of": as_of.isoformat() if sqlite else as_of})
    return fold_permit_entries(r._replace(effective_on=as_date(r.effective_on)) for r in rows)


def affected_placements(reader: Reader, *, as_of: date | None = None) -> dict[str, Any] | None:
    """`audit affected-placements` (audit.placements.affected_placements through
    audit.views.affected_placements), read without SQLAlchemy."""
    from types import SimpleNamespace

    from ..clock import today
    from .placements import PAUSED_STATUSES, AffectedReport, affected

    day = as_of or today()
    param = day.isoformat() if reader.dialect == "sqlite" else day
    running = [
        (SimpleNamespace(id=r.id, unit_id=r.unit_id, org_nr=r.org_nr, insats=r.insats, route=r.route,
                         agreement_id=r.agreement_id, start_on=as_date(r.start_on), status=r.status,
                         person_age=r.person_age, municipality=r.municipality), r.request_id, r.requester)
        for r in reader.rows(
            "SELECT p.id, p.unit_id, p.org_nr, p.insats, p.route, p.agreement_id, p.start_on, p.status, p.person_age, "
            "p.municipality, q.request_id, q.requester FROM placement p JOIN placement_request q ON q.id = p.request_id "
            "WHERE (p.start_on <= :day OR p.chosen_on <= :day) AND (p.end_on IS NULL OR p.end_on > :day) "
            "ORDER BY p.id", {"day": param})]
    if not running:
        return to_jsonable(AffectedReport(day, []).to_dict())
    units, agreements = _states(reader, day, PAUSED_STATUSES)
    report = affected(day, running, units, agreements, _permit_states(reader, day),
                      lambda ids: _load_units(reader, ids, True))
    return to_jsonable(report.to_dict())


affected_placements.orm_view = "audit.views:affected_placements"


# --- audit visits ------------------------------------------------------------------------------


def visits(reader: Reader, *, as_of: date | None = None, level: int | None = None) -> dict[str, Any] | None:
    """`audit visits` (audit.visits.visits through audit.views.visits), read without
    SQLAlchemy; None when the ORM view must answer (an unknown --level: it says so)."""
    from ..clock import today
    from ..errors import ValidationError
    from .visits import present_units, visit_rows, visit_windows

    day = as_of or today()
    try:
        w = visit_windows(day, level)
    except ValidationError:
        return None
    units, agreements = _register_states(reader, day)
    present = present_units(units)
    info = _load_units(reader, set(present), True) if present else {}
    sqlite = reader.dialect == "sqlite"
    d = (lambda x: x.isoformat()) if sqlite else (lambda x: x)
    flags = """json_extract(d.document, '$."flags"')""" if sqlite else "(d.document -> 'flags')"
    requests, decisions, placed, complaints, checks, visited = reader.many([  # one round trip on PostgreSQL
        ("SELECT submitted_on, insats FROM placement_request WHERE submitted_on > :lo AND submitted_on <= :day",
         {"lo": d(w.before_start), "day": d(day)}),
        (f"SELECT q.insats, {flags} AS flags FROM decision d JOIN placement_request q ON q.id = d.request_id "
         "WHERE d.evaluated_on > :lo AND d.evaluated_on <= :day", {"lo": d(w.period_start), "day": d(day)}),
        ("SELECT unit_id FROM placement WHERE start_on <= :day AND (end_on IS NULL OR end_on > :lo)",
         {"lo": d(w.period_start), "day": d(day)}),
        ("SELECT u.unit_id FROM unit u JOIN complaint c ON c.unit_id = u.id "
         "WHERE c.received_on > :lo AND c.received_on <= :day", {"lo": d(w.signal_start), "day": d(day)}),
        ("SELECT s.org_nr, c.kind, c.result FROM supplier_check c JOIN supplier s ON s.id = c.supplier_id "
         "WHERE c.performed_on > :lo AND c.performed_on <= :day ORDER BY c.performed_on, c.id",
         {"lo": d(w.signal_start), "day": d(day)}),
        ("SELECT u.unit_id, MAX(v.visited_on) FROM unit u JOIN visit v ON v.unit_id = u.id "
         "WHERE v.visited_on <= :day GROUP BY u.unit_id", {"day": d(day)})])
    report = visit_rows(w, present, agreements, info, ((as_date(s), i) for s, i in requests),
                        ((i, as_json(f)) for i, f in decisions), (r[0] for r in placed), (r[0] for r in complaints),
                        checks, {u: as_date(v) for u, v in visited})
    return to_jsonable(report.to_dict())


visits.orm_view = "audit.views:visits"


# --- audit entries -----------------------------------------------------------------------------


def entries(reader: Reader, *, since: date | None = None, until: date | None = None,
            period: str = "half") -> dict[str, Any] | None:
    """`audit entries` (audit.entries.entries_report through audit.views.entries), read
    without SQLAlchemy; None when the ORM view must answer (an unknown --period, a period
    backwards: it says what is wrong)."""
    from ..errors import ValidationError
    from .entries import check_entries_options, entries_table

    try:
        check_entries_options(since, until, period)
    except ValidationError:
        return None
    sqlite = reader.dialect == "sqlite"
    where, params = "", {}
    for name, day, op in (("since", since, ">="), ("until", until, "<=")):
        if day:
            where += f" AND effective_on {op} :{name}"
            params[name] = day.isoformat() if sqlite else day
    rows = reader.rows(
        "SELECT effective_on, action, unit_id, org_nr, actor, note FROM history WHERE entity_kind = 'entry' "
        "AND action IN ('entry_approved', 'entry_rejected')" + where + " ORDER BY effective_on, id", params)
    return to_jsonable(entries_table(since, until, period, ((as_date(r[0]), *r[1:]) for r in rows)))


entries.orm_view = "audit.views:entries"


# --- audit removals ----------------------------------------------------------------------------


def removals(reader: Reader, *, year: int | None = None) -> dict[str, Any] | None:
    """`audit removals` (audit.yearly.removals through audit.views.removals), read without
    SQLAlchemy; None when the ORM view must answer (a year out of range: it says which)."""
    from ..clock import today
    from ..errors import ValidationError
    from .common import check_year
    from .removals import is_removal, removal_table

    year = year if year is not None else today().year
    try:
        check_year(year)
    except ValidationError:
        return None
    first, last = date(year, 1, 1), date(year, 12, 31)
    sqlite = reader.dialect == "sqlite"
    found = [r._replace(effective_on=as_date(r.effective_on)) for r in reader.rows(
        "SELECT id, effective_on, entity_id, changes, reason, actor, note, rule_id FROM history "
        "WHERE entity_kind = 'unit' AND action IN ('status', 'updated') AND effective_on >= :first "
        "AND effective_on <= :last ORDER BY effective_on, id",
        {"first": first.isoformat() if sqlite else first, "last": last.isoformat() if sqlite else last})
        if is_removal(as_json(r.changes))]
    info = _load_units(reader, {r.entity_id for r in found}, True) if found else {}
    return to_jsonable(removal_table(year, found, info).to_dict())


removals.orm_view = "audit.views:removals"


# --- audit placement-agreements ----------------------------------------------------------------


def placement_agreements(reader: Reader, *, as_of: date, all_rows: bool = False) -> dict[str, Any] | None:
    """`audit placement-agreements` (casework.placements.agreement_audit through
    casework.views.placement_agreements), read without SQLAlchemy."""
    from types import SimpleNamespace

    from ..casework.agreement_check import ACTIVE, agreement_rows

    found = []
    for r in reader.rows(
            "SELECT q.request_id, p.unit_id, p.org_nr, p.insats, p.route, p.municipality, p.start_on, p.end_on, "
            "p.daily_price, p.agreed_price, p.agreed_by, p.decision_from, p.decision_to, a.id AS agreement, "
            "a.period_from, a.period_to, a.daily_price AS agreement_price, a.signed_on "
            "FROM placement_request q JOIN placement p ON p.request_id = q.id "
            "LEFT JOIN placement_agreement a ON a.placement_id = p.id "
            "WHERE p.start_on <= :day AND p.status = :active ORDER BY p.start_on, q.request_id",
            {"day": as_of.isoformat() if reader.dialect == "sqlite" else as_of, "active": ACTIVE}):
        p = SimpleNamespace(unit_id=r.unit_id, org_nr=r.org_nr, insats=r.insats, route=r.route,
                            municipality=r.municipality, start_on=as_date(r.start_on), end_on=as_date(r.end_on),
                            daily_price=r.daily_price, agreed_price=r.agreed_price, agreed_by=r.agreed_by,
                            decision_from=as_date(r.decision_from), decision_to=as_date(r.decision_to))
        a = None if r.agreement is None else SimpleNamespace(
            period_from=as_date(r.period_from), period_to=as_date(r.period_to), daily_price=r.agreement_price,
            signed_on=as_date(r.signed_on))
        found.append((r.request_id, p, a))
    return to_jsonable({"as_of": as_of, "placements": agreement_rows(as_of, found, all_rows=all_rows)})


placement_agreements.orm_view = "casework.views:placement_agreements"

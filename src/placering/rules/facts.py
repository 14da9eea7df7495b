"""Facts the rules read, built from the register: one **candidate** per (unit, route) for each
insats the unit offers, and the **request** namespace derived from a placement request.

Facts are plain dicts nested by namespace (`{"unit": {...}, "route": {...}, ...}`), text NFC,
municipality keys folded (`text.fold`), so both evaluators see exactly the same values.
Besides the fields of `model.FIELDS`, a unit carries its unit-sphere vector (`geo_x, geo_y,
geo_z`) and the request its home vector (`home_x, home_y, home_z`) and `distance_cos`
(cos(max_distance_km / R)), precomputed once for the distance decision (geo.py).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from ..display import today as sweden_today  # Europe/Stockholm: a UTC server would date early changes a day back
from ..errors import ValidationError
from ..taxonomy import Taxonomy
from ..text import fold, nfc
from . import geo
from ..i18n import msg


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(msg("value.not_a_date", value=value)) from None


def year_before(on: date) -> date:
    try:
        return on.replace(year=on.year - 1)
    except ValueError:  # 29 February
        return on.replace(year=on.year - 1, day=28)


def _num(v: Any) -> Any:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _latest(items: Iterable[dict], key: str, on: date | None) -> dict | None:
    best = None
    for i, item in enumerate(items):
        d = _date(item.get(key))
        if on is not None and d is not None and d > on:
            continue
        if best is None or (d or date.min, i) >= (best[0], best[1]):
            best = (d or date.min, i, item)
    return best[2] if best else None


def no_permit() -> dict:
    return {"exists": False, "dnr": None, "status": None, "insats": None, "target_groups": None, "decided_on": None}


def permit_fact(permit: dict | None) -> dict:
    if not permit:
        return no_permit()
    return {
        "exists": True,
        "dnr": nfc(permit["dnr"]) if permit.get("dnr") else None,
        "status": permit.get("status"),
        "insats": permit.get("insats"),
        "target_groups": list(permit.get("target_groups") or []),
        "decided_on": _date(permit.get("decided_on")),
    }


def supplier_fact(supplier: dict, on: date | None) -> dict:
    rating = _latest([c for c in supplier.get("checks") or [] if c.get("kind") == "credit_rating"], "performed_on", on)
    return {
        "org_nr": supplier["org_nr"],
        "legal_form": supplier.get("legal_form"),
        "credit_rating": _num(rating.get("value")) if rating else None,
        "credit_rating_on": _date(rating.get("performed_on")) if rating else None,
        "credit_rating_result": rating.get("result") if rating else None,
    }


def unit_fact(unit: dict, org_nr: str, on: date | None) -> dict:
    loc = unit.get("location") or {}
    lat, lon = loc.get("lat"), loc.get("lon")
    if lat is not None and lon is not None and unit.get("protected_address"):
        lat, lon = geo.coarse_point(float(lat), float(lon))  # never the address itself (geo.py)
    vec = geo.unit_vector(float(lat), float(lon)) if lat is not None and lon is not None else (None, None, None)
    since = year_before(on) if on else None
    complaints = 0
    for c in unit.get("complaints") or []:
        d = _date(c.get("received_on"))
        if on is None or (d is not None and since < d <= on):
            complaints += 1
    return {
        "unit_id": unit["unit_id"],
        "org_nr": org_nr,
        "status": unit.get("status", "published"),
        "municipality_key": fold(unit.get("municipality") or ""),
        "protected_address": bool(unit.get("protected_address", False)),
        "places": int(unit.get("places", 0)),
        "free_places": int(unit.get("free_places", 0)),
        "age_min": int(unit.get("age_min", 0)),
        "age_max": int(unit.get("age_max", 0)),
        "genders": list(unit.get("genders") or []),
        "target_groups": list(unit.get("target_groups") or []),
        "subcategories": [],
        "lat": _num(lat),
        "lon": _num(lon),
        "complaints_12m": complaints,
        "geo_x": vec[0],
        "geo_y": vec[1],
        "geo_z": vec[2],
    }


def route_fact(route: dict, unit_municipality: str | None = None) -> dict:
    """The route namespace of a candidate.

    An egen regi route that lists no buyers belongs to the municipality the unit is in: with ten
    municipalities in one register (PRIIS), one municipality's own services are not another's.
    """
    buyers = list(route.get("buyers") or [])
    if not buyers and route["route"] == "egen_regi" and unit_municipality:
        buyers = [unit_municipality]
    return {
        "route": route["route"],
        "insats": route["insats"],
        "agreement_id": route.get("agreement_id"),
        "daily_price": _num(route.get("daily_price")),
        "valid_from": _date(route.get("valid_from")),
        "valid_to": _date(route.get("valid_to")),
        "buyers": [fold(b) for b in buyers],
        "status": route.get("status") or "active",
        "reserved_nonprofit": bool(route.get("reserved_nonprofit", False)),
        "price_confirmed_on": _date(route.get("price_confirmed_on")),
    }


class SupplierChanged(Exception):
    """A unit read again alone carries other supplier facts than its supplier's other candidates."""


def _share_suppliers(cands: list[dict]) -> None:
    """One supplier fact object per supplier in a candidate list, as a whole read builds it (a
    stored list keeps each supplier's facts once); SupplierChanged when two differ."""
    first: dict[str, dict] = {}
    for c in cands:
        fact = c["supplier"]
        seen = first.setdefault(fact["org_nr"], fact)
        if seen is not fact:
            if seen != fact:
                raise SupplierChanged(fact["org_nr"])
            c["supplier"] = seen


@dataclass
class UnitRecord:
    """One unit as the register-status rules see it: its facts, routes and permits by insats."""

    unit: dict
    supplier: dict
    routes: list[dict]
    permits: dict[str, dict]  # insats -> permit fact (the latest decision)
    offers: dict[str, list[str]]  # insats -> sub-categories


@dataclass
class RegisterSnapshot:
    """The register resident in memory as facts; candidates grouped by insats."""

    on: date | None
    units: dict[str, UnitRecord] = field(default_factory=dict)
    by_insats: dict[str, list[dict]] = field(default_factory=dict)
    _reference: dict[tuple[str, date], float | None] = field(default_factory=dict, repr=False)
    # Active framework routes with a price, per insats: (valid_from, valid_to, price). A replay
    # asks for thousands of (insats, date) pairs; scanning only these beats scanning candidates.
    _framework_prices: dict[str, list[tuple]] = field(default_factory=dict, repr=False)
    # Final prices of direct-procurement placements, per insats: [(start_on, daily price)]
    # ("modell utgående från ramavtalspris och slutpris", Spink 2024, 4.4).
    final_prices: dict[str, list[tuple]] = field(default_factory=dict, repr=False)
    # Per insats, the sha256 of the stored snapshot its candidates were read from (snapshots.py):
    # what was built from them (the columnar table) can be cached under it.
    digests: dict[str, str] = field(default_factory=dict, repr=False)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def from_document(cls, doc: dict, *, on: date | None = None, candidates: bool = True) -> "RegisterSnapshot":
        """From a register in the interchange format (placering-register/1). Units may also
        carry `complaints: [{received_on, ...}]` (used for complaints_12m). Without
        `candidates`, only the unit records (`units`) are built (a register event's facts)."""
        snap = cls(on=on)
        for supplier in doc.get("suppliers") or []:
            sfact = supplier_fact(supplier, on)
            for unit in supplier.get("units") or []:
                snap._add_unit(unit, sfact, candidates)
        for cands in snap.by_insats.values():
            cands.sort(key=lambda c: (c["unit"]["unit_id"], c["route"]["route"], c["route"]["agreement_id"] or ""))
        for fp in doc.get("final_prices") or []:
            if fp.get("daily_price") is not None:
                snap.final_prices.setdefault(fp["insats"], []).append((_date(fp["start_on"]), float(fp["daily_price"])))
        return snap

    def _add_unit(self, unit: dict, sfact: dict, candidates: bool = True) -> None:
        base = unit_fact(unit, sfact["org_nr"], self.on)
        offers = {o["insats"]: list(o.get("subcategories") or []) for o in unit.get("offers") or []}
        permits: dict[str, dict] = {}
        for insats in {p.get("insats") for p in unit.get("permits") or []}:
            permits[insats] = permit_fact(_latest([p for p in unit["permits"] if p.get("insats") == insats],
                                                  "decided_on", None))
        routes = [route_fact(r, unit.get("municipality")) for r in unit.get("routes") or []]
        self.units[base["unit_id"]] = UnitRecord(base, sfact, routes, permits, offers)
        if not candidates:
            return
        per_insats: dict[str, dict] = {}
        for r in routes:
            if r["insats"] not in offers:
                continue  # a route for an insats the unit does not offer is not a candidate
            ufact = per_insats.get(r["insats"])
            if ufact is None:
                ufact = dict(base, subcategories=offers[r["insats"]])
                per_insats[r["insats"]] = ufact
            self.by_insats.setdefault(r["insats"], []).append({
                "unit": ufact,
                "route": r,
                "permit": permits.get(r["insats"]) or no_permit(),
                "supplier": sfact,
            })

    @classmethod
    def from_session(cls, session: Any, *, on: date | None = None) -> "RegisterSnapshot":
        """Read the whole register from the database (one query per table)."""
        from ..storage.writes import queryable

        tx = queryable(session)  # a session, a write transaction or a reader: plain SQL
        snap = cls.from_document(register_document_of(tx, None), on=on or sweden_today())
        snap.load_final_prices(tx)
        return snap

    def load_final_prices(self, session: Any) -> None:
        """The final (agreed) prices of direct-procurement placements, for the reference price.
        `session`: an SQLAlchemy session, a write transaction (storage.writes.Tx) or a reader."""
        from ..storage.reads import as_date
        from ..storage.writes import queryable

        tx = queryable(session)
        self.final_prices.clear()
        self._reference.clear()
        if tx.dialect == "postgresql":
            # Through a view that row-level security does not narrow (access/roles.py): a social
            # worker sees its municipality's placements only, but the reference price is everyone's.
            from ..access.roles import FINAL_PRICES_VIEW

            rows = tx.rows(f"SELECT insats, start_on, price, NULL AS listed FROM {FINAL_PRICES_VIEW}")
        else:
            rows = tx.rows("SELECT insats, start_on, agreed_price, daily_price FROM placement "
                           "WHERE route = 'direktupphandling' AND status = 'active'")
        for insats, start_on, agreed, listed in rows:
            price = agreed if agreed is not None else listed
            if price is not None:
                self.final_prices.setdefault(insats, []).append((as_date(start_on), float(price)))

    def refresh(self, session: Any, *, org_nrs: Iterable[str]) -> int:
        """Re-read some suppliers (e.g. after a register event) and replace their units'
        candidates, so a resident register follows changes without a full reload. Returns the
        number of units re-read."""
        return self.refresh_insatser(session, org_nrs=org_nrs)[0]

    def refresh_insatser(self, session: Any, *, org_nrs: Iterable[str], doc: dict | None = None,
                         unit_ids: Iterable[str] = ()) -> tuple[int, set[str]]:
        """`refresh`, returning also the insatser whose candidate lists it changed. `unit_ids`:
        units read again alone (their supplier's other units kept as they are). `doc`: those
        suppliers and units as `suppliers_document` read them, when the caller has read them
        already. A unit read again alone shares its supplier's facts with the supplier's kept
        candidates (the same facts, so a list is stored as one read from every table is); when
        they differ, the supplier changed too and SupplierChanged is raised."""
        org_nrs, unit_ids = set(org_nrs), set(unit_ids)
        if doc is None:
            doc = suppliers_document(session, org_nrs, unit_ids)
        gone = {uid for uid, rec in self.units.items() if rec.supplier["org_nr"] in org_nrs} | unit_ids
        gone |= {u["unit_id"] for s in doc["suppliers"] for u in s.get("units") or []}
        # A snapshot read from storage has candidates, not unit records: their supplier says.
        gone |= {c["unit"]["unit_id"] for cands in self.by_insats.values() for c in cands
                 if c["supplier"]["org_nr"] in org_nrs}
        for uid in gone:
            self.units.pop(uid, None)
        touched = set()
        for insats, cands in self.by_insats.items():
            kept = [c for c in cands if c["unit"]["unit_id"] not in gone]
            if len(kept) != len(cands):
                self.by_insats[insats] = kept
                touched.add(insats)
        count = 0
        for supplier in doc["suppliers"]:
            sfact = supplier_fact(supplier, self.on)
            for unit in supplier.get("units") or []:
                self._add_unit(unit, sfact)
                touched |= {r["insats"] for r in unit.get("routes") or []}
                count += 1
        for insats in touched:
            cands = self.by_insats.get(insats, [])
            if unit_ids:
                _share_suppliers(cands)
            cands.sort(key=lambda c: (c["unit"]["unit_id"], c["route"]["route"], c["route"]["agreement_id"] or ""))
        self._reference.clear()
        self._framework_prices.clear()
        return count, touched

    # -- reading --------------------------------------------------------------------------
    def candidates(self, insats: str) -> list[dict]:
        """The candidate facts (without the request) of an insats, ordered by unit and route."""
        return self.by_insats.get(insats, [])

    def __len__(self) -> int:
        return sum(len(c) for c in self.by_insats.values())

    def reference_price(self, insats: str, on: date, final_since: date | None = None) -> float | None:
        """The reference daily price of an insats on a date: the median daily price of the
        framework (ramavtal) routes of the insats that are active and valid on that date
        (one value per unit route), together with the final prices of direct-procurement
        placements of the insats that started from `final_since` up to the date (none when
        `final_since` is None). None when there is no price at all: no reference exists."""
        key = (insats, on, final_since)
        if key not in self._reference:
            if insats not in self._framework_prices:
                # The prices grouped by their validity (a register has few distinct periods):
                # a date's prices are those of the periods holding it, the same values (the
                # median does not depend on their order).
                periods: dict[tuple, list] = {}
                for r in (c["route"] for c in self.candidates(insats)):
                    if r["route"] == "ramavtal" and r["status"] == "active" and r["daily_price"] is not None:
                        periods.setdefault((r["valid_from"], r["valid_to"]), []).append(r["daily_price"])
                self._framework_prices[insats] = list(periods.items())
            prices = []
            for (valid_from, valid_to), period_prices in self._framework_prices[insats]:
                if (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to):
                    prices += period_prices
            if final_since is not None:
                prices += [price for start_on, price in self.final_prices.get(insats, [])
                           if final_since <= start_on <= on]
            self._reference[key] = float(statistics.median(prices)) if prices else None
        return self._reference[key]


def request_fact(request: dict, snapshot: RegisterSnapshot, taxonomy: Taxonomy, *,
                 declined: Iterable[str] = (), final_price_months: int | None = None,
                 price_confirmation_months: int | None = None) -> dict:
    """The `request` namespace for a validated placement request (CONTRACT.md format).

    The home position is `home_location`, or the seat of `home_municipality`
    (registry/municipalities.yaml); without either, distance rules are unevaluable.
    `final_price_months` (parameter direct_procurement_final_price_months): how far back final
    prices of direct-procurement placements count in the reference price.
    `price_confirmation_months` (parameter price_confirmation_months): a price last confirmed
    before `price_confirmed_since` (that many months before the decision day) is flagged.
    """
    person = request.get("person") or {}
    insats = taxonomy.insats(request["insats"])
    start_on = _date(request.get("start_on")) or _date(request.get("submitted_on"))
    submitted_on = _date(request.get("submitted_on")) or start_on
    lat = lon = None
    home = request.get("home_location")
    if home and home.get("lat") is not None and home.get("lon") is not None:
        lat, lon = float(home["lat"]), float(home["lon"])
    elif request.get("home_municipality"):
        m = taxonomy.municipality(request["home_municipality"])
        if m is not None:
            lat, lon = m.lat, m.lon
    if lat is not None and person.get("protected_identity"):
        lat, lon = geo.coarse_point(lat, lon)  # never the home itself (geo.py)
    vec = geo.unit_vector(lat, lon) if lat is not None else (None, None, None)
    max_km = _num(request.get("max_distance_km"))
    sub_age = insats.subcategory_ages.get(request.get("subcategory") or "", (None, None))
    declined_units = [nfc(u) for u in (request.get("declined_units") or [])]
    declined_units += [nfc(u) for u in declined if nfc(u) not in declined_units]
    return {
        "request_id": nfc(str(request.get("request_id") or "")),
        "insats": insats.code,
        "subcategory": request.get("subcategory") or None,
        "municipality_key": fold(request.get("municipality") or ""),
        "requester": nfc(request["requester"]) if request.get("requester") else None,
        "urgency": request.get("urgency"),
        "legal_basis": request.get("legal_basis"),
        "network": {True: "considered", False: "not_considered"}.get(request.get("network_considered"), "not_recorded"),
        "submitted_on": submitted_on,
        "start_on": start_on,
        "places": int(request.get("places") or 1),
        "person": {
            "age": int(person["age"]) if person.get("age") is not None else None,
            "gender": person.get("gender"),
            "needs": [nfc(n) for n in person.get("needs") or []],
            "protected_identity": bool(person.get("protected_identity", False)),
        },
        "max_distance_km": max_km,
        "avoid_municipality_keys": [fold(m) for m in request.get("avoid_municipalities") or []],
        "max_daily_price": _num(request.get("max_daily_price")),
        "declined_units": declined_units,
        "insats_age_min": insats.age_min,
        "insats_age_max": insats.age_max,
        "subcategory_age_min": sub_age[0],
        "subcategory_age_max": sub_age[1],
        "reference_price": snapshot.reference_price(
            insats.code, start_on, _months_back(start_on, final_price_months)) if start_on else None,
        "price_confirmed_since": _months_back(submitted_on, price_confirmation_months) if submitted_on else None,
        "home_lat": lat,
        "home_lon": lon,
        "home_x": vec[0],
        "home_y": vec[1],
        "home_z": vec[2],
        "distance_cos": geo.cos_threshold(max_km) if max_km is not None else None,
    }


def _months_back(on: date, months: int | None) -> date | None:
    if months is None:
        return None
    from ..clock import add_months

    return add_months(on, -int(months))


def suppliers_document(session: Any, org_nrs: Iterable[str], unit_ids: Iterable[str] = ()) -> dict:
    """`register_document` of the suppliers with these organisation numbers (every unit of
    theirs) and of the units with these ids (each under its supplier, without the supplier's
    other units). `session`: an SQLAlchemy session, a write transaction or a reader (plain SQL:
    register_document_of)."""
    from ..storage.writes import queryable

    tx = queryable(session)
    org_nrs, unit_ids = sorted(set(org_nrs)), sorted(set(unit_ids))
    keys = {f"o{i}": v for i, v in enumerate(org_nrs)}
    ids = [r[0] for r in tx.rows(f"SELECT id FROM supplier WHERE org_nr IN ({', '.join(':' + k for k in keys)})",
                                 keys)] if org_nrs else []
    return register_document_of(tx, ids, unit_ids or None)


def day_changes(session: Any, since: date, on: date) -> set[str]:
    """The suppliers (organisation numbers) whose candidate facts as of `on` may differ from
    those as of `since` with no change to the register but the date: the facts that read the
    snapshot's date are `unit.complaints_12m` (complaints received in the 12 months up to it:
    one received in between enters the window, one received a year before leaves it) and the
    supplier's latest credit rating (a check performed in between becomes the latest). Every
    other fact (routes with their validity dates, permits, statuses, places) is the same on
    any date. A new fact that reads the date must be added here:
    tests/test_compact_decisions.py compares a snapshot built from the day before's with one
    read from every table, across a day where each kind of dated fact changes. `session`: an
    SQLAlchemy session, a write transaction or a reader (plain SQL)."""
    from ..storage.writes import queryable

    lo, hi = sorted((since, on))
    if lo == hi:
        return set()
    tx = queryable(session)
    windows = [(lo, hi), (year_before(lo), year_before(hi))]
    params = {"lo": lo, "hi": hi}
    within = []
    for i, (a, b) in enumerate(windows):
        params[f"a{i}"], params[f"b{i}"] = a, b
        within.append(f"(k.received_on > :a{i} AND k.received_on <= :b{i})")
    complained = tx.rows("SELECT s.org_nr FROM supplier s JOIN unit u ON u.supplier_id = s.id "
                         f"JOIN complaint k ON k.unit_id = u.id WHERE {' OR '.join(within)}", params)
    rated = tx.rows("SELECT s.org_nr FROM supplier s JOIN supplier_check c ON c.supplier_id = s.id "
                    "WHERE c.kind = 'credit_rating' AND c.performed_on > :lo AND c.performed_on <= :hi",
                    {"lo": lo, "hi": hi})
    return {r[0] for r in complained} | {r[0] for r in rated}


def register_document(session: Any, *, supplier_ids: Iterable[int] | None = None,
                      unit_ids: Iterable[str] | None = None) -> dict:
    """The register (or some suppliers of it, with every unit of theirs, and some units, each
    under its supplier) as interchange-shaped dicts, with each unit's complaints, read with one
    Core query per table (ORM objects would cost seconds at national size)."""
    from sqlalchemy import or_, select

    from ..storage.models import Complaint, Offer, Permit, Supplier, SupplierCheck, Unit, UnitRoute

    only = set(supplier_ids) if supplier_ids is not None else None
    S, C, U = Supplier.__table__.c, SupplierCheck.__table__.c, Unit.__table__.c
    O, R, P, K = Offer.__table__.c, UnitRoute.__table__.c, Permit.__table__.c, Complaint.__table__.c
    unit_filter = None
    if unit_ids is not None:
        named = sorted(set(unit_ids))
        owners = set(session.scalars(select(U.supplier_id).where(U.unit_id.in_(named)))) if named else set()
        unit_filter = or_(U.supplier_id.in_(sorted(only or ())), U.unit_id.in_(named))
        only = (only or set()) | owners

    def rows(stmt: Any, column: Any = None, keys: Any = None) -> Any:
        if keys is not None:
            stmt = stmt.where(column.in_(keys))
        return session.execute(stmt)

    suppliers: dict[int, dict] = {}
    for s in rows(select(S.id, S.org_nr, S.legal_form).order_by(S.org_nr), S.id, only):
        suppliers[s.id] = {"org_nr": s.org_nr, "legal_form": s.legal_form, "checks": [], "units": []}
    for c in rows(select(C.supplier_id, C.kind, C.result, C.value, C.performed_on)
                  .order_by(C.performed_on, C.id), C.supplier_id, only):
        suppliers[c.supplier_id]["checks"].append(
            {"kind": c.kind, "result": c.result, "value": c.value, "performed_on": c.performed_on})
    units: dict[int, dict] = {}
    unit_rows = select(U.id, U.supplier_id, U.unit_id, U.municipality, U.lat, U.lon, U.protected_address, U.places,
                       U.free_places, U.age_min, U.age_max, U.genders, U.target_groups, U.status).order_by(U.unit_id)
    if unit_filter is not None:
        unit_rows = unit_rows.where(unit_filter)
    for u in rows(unit_rows, U.supplier_id, only):
        units[u.id] = {
            "unit_id": u.unit_id, "municipality": u.municipality,
            "location": {"lat": u.lat, "lon": u.lon} if u.lat is not None and u.lon is not None else None,
            "protected_address": u.protected_address, "places": u.places, "free_places": u.free_places,
            "age_min": u.age_min, "age_max": u.age_max, "genders": u.genders, "target_groups": u.target_groups,
            "status": u.status, "offers": [], "routes": [], "permits": [], "complaints": [],
        }
        suppliers[u.supplier_id]["units"].append(units[u.id])
    unit_keys = None if only is None else set(units)
    for o in rows(select(O.unit_id, O.insats, O.subcategories).order_by(O.position, O.id), O.unit_id, unit_keys):
        units[o.unit_id]["offers"].append({"insats": o.insats, "subcategories": o.subcategories})
    for r in rows(select(R.unit_id, R.route, R.insats, R.agreement_id, R.daily_price, R.valid_from, R.valid_to,
                         R.buyers, R.status, R.reserved_nonprofit, R.price_confirmed_on).order_by(R.position, R.id), R.unit_id, unit_keys):
        units[r.unit_id]["routes"].append({
            "route": r.route, "insats": r.insats, "agreement_id": r.agreement_id, "daily_price": r.daily_price,
            "valid_from": r.valid_from, "valid_to": r.valid_to, "buyers": r.buyers, "status": r.status,
            "reserved_nonprofit": r.reserved_nonprofit, "price_confirmed_on": r.price_confirmed_on})
    for p in rows(select(P.unit_id, P.dnr, P.insats, P.status, P.target_groups, P.decided_on)
                  .order_by(P.decided_on, P.id), P.unit_id, unit_keys):
        units[p.unit_id]["permits"].append({
            "dnr": p.dnr, "insats": p.insats, "status": p.status, "target_groups": p.target_groups,
            "decided_on": p.decided_on})
    for c in rows(select(K.unit_id, K.received_on), K.unit_id, unit_keys):
        units[c.unit_id]["complaints"].append({"received_on": c.received_on})
    return {"suppliers": list(suppliers.values())}


def register_document_of(tx: Any, supplier_ids: Iterable[int] | None,
                         unit_ids: Iterable[str] | None = None) -> dict:
    """`register_document` read through a transaction or a reader (storage.writes.Tx: the
    database's own driver, or a session's connection; storage.reads.Reader) in plain SQL,
    without SQLAlchemy: what a choice re-checks its unit against (matching/choice.py), and the
    register a match reads its facts from (matching/snapshots.py). `supplier_ids` None: every
    supplier; `unit_ids`: those units too, each under its supplier (not the supplier's other
    units). The same document, value for value (tests/test_writes.py compares the two)."""
    from ..storage.reads import as_date, as_json

    ids = None if supplier_ids is None else sorted(set(supplier_ids))
    named = sorted(set(unit_ids)) if unit_ids is not None else None
    unit_where = ""
    unit_params: dict[str, Any] = {}
    if named is not None:
        ids = ids or []
        names = {f"n{i}": v for i, v in enumerate(named)}
        unit_params.update(names)
        if named:
            owners = [r[0] for r in tx.rows(
                f"SELECT supplier_id FROM unit WHERE unit_id IN ({', '.join(':' + k for k in names)})", names)]
        else:
            owners = []
        only = {f"o{i}": v for i, v in enumerate(ids)}
        unit_params.update(only)
        parts = [f"supplier_id IN ({', '.join(':' + k for k in only)})"] if only else []
        if named:
            parts.append(f"unit_id IN ({', '.join(':' + k for k in names)})")
        unit_where = " AND (" + (" OR ".join(parts) or "1 = 0") + ")"
        ids = sorted(set(ids) | set(owners))
    if ids is not None and not ids:
        return {"suppliers": []}
    keys = {} if ids is None else {f"s{i}": v for i, v in enumerate(ids)}
    within = "1 = 1" if ids is None else f"supplier_id IN ({', '.join(':' + k for k in keys)})"

    def flag(value: Any) -> Any:
        return None if value is None else bool(value)

    suppliers: dict[int, dict] = {}
    for s in tx.rows("SELECT id, org_nr, legal_form FROM supplier WHERE " + within.replace("supplier_id", "id")
                     + " ORDER BY org_nr", keys):
        suppliers[s.id] = {"org_nr": s.org_nr, "legal_form": s.legal_form, "checks": [], "units": []}
    for c in tx.rows("SELECT supplier_id, kind, result, value, performed_on FROM supplier_check "
                     f"WHERE {within} ORDER BY performed_on, id", keys):
        suppliers[c.supplier_id]["checks"].append(
            {"kind": c.kind, "result": c.result, "value": c.value, "performed_on": as_date(c.performed_on)})
    units: dict[int, dict] = {}
    for u in tx.rows("SELECT id, supplier_id, unit_id, municipality, lat, lon, protected_address, places, free_places, "
                     "age_min, age_max, genders, target_groups, status FROM unit "
                     f"WHERE {within}{unit_where} ORDER BY unit_id", dict(keys, **unit_params)):
        units[u.id] = {
            "unit_id": u.unit_id, "municipality": u.municipality,
            "location": {"lat": u.lat, "lon": u.lon} if u.lat is not None and u.lon is not None else None,
            "protected_address": flag(u.protected_address), "places": u.places, "free_places": u.free_places,
            "age_min": u.age_min, "age_max": u.age_max, "genders": as_json(u.genders),
            "target_groups": as_json(u.target_groups), "status": u.status,
            "offers": [], "routes": [], "permits": [], "complaints": [],
        }
        suppliers[u.supplier_id]["units"].append(units[u.id])
    if units:
        if ids is None:
            unit_keys: dict[str, Any] = {}
            of_units = "1 = 1"
        else:
            unit_keys = {f"u{i}": v for i, v in enumerate(sorted(units))}
            of_units = f"unit_id IN ({', '.join(':' + k for k in unit_keys)})"
        for o in tx.rows(f"SELECT unit_id, insats, subcategories FROM offer WHERE {of_units} ORDER BY position, id",
                         unit_keys):
            units[o.unit_id]["offers"].append({"insats": o.insats, "subcategories": as_json(o.subcategories)})
        for r in tx.rows("SELECT unit_id, route, insats, agreement_id, daily_price, valid_from, valid_to, buyers, status, "
                         f"reserved_nonprofit, price_confirmed_on FROM unit_route WHERE {of_units} ORDER BY position, id",
                         unit_keys):
            units[r.unit_id]["routes"].append({
                "route": r.route, "insats": r.insats, "agreement_id": r.agreement_id, "daily_price": r.daily_price,
                "valid_from": as_date(r.valid_from), "valid_to": as_date(r.valid_to), "buyers": as_json(r.buyers),
                "status": r.status, "reserved_nonprofit": flag(r.reserved_nonprofit),
                "price_confirmed_on": as_date(r.price_confirmed_on)})
        for p in tx.rows(f"SELECT unit_id, dnr, insats, status, target_groups, decided_on FROM permit WHERE {of_units} "
                         "ORDER BY decided_on, id", unit_keys):
            units[p.unit_id]["permits"].append({
                "dnr": p.dnr, "insats": p.insats, "status": p.status, "target_groups": as_json(p.target_groups),
                "decided_on": as_date(p.decided_on)})
        for c in tx.rows(f"SELECT unit_id, received_on FROM complaint WHERE {of_units}", unit_keys):
            units[c.unit_id]["complaints"].append({"received_on": as_date(c.received_on)})
    return {"suppliers": list(suppliers.values())}

"""The canonical dictionaries of the register's records: the one shape both import (from a
document) and export (from the database) produce, so that comparing them decides "unchanged"
and round-trips exactly. Plain functions without pydantic (`register.schema` re-exports them):
`register show` builds them from rows read without SQLAlchemy too (register/reads.py).
"""

from __future__ import annotations

from datetime import date
from typing import Any

FORMAT = "placering-register/1"  # the interchange document's format (register.schema re-exports it)


def num(value: float | int | None) -> float | int | None:
    """4200.0 → 4200: prices and values stored as floats come back as the document wrote them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _put(out: dict, key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


def check_dict(kind, result, value, performed_on, source) -> dict:
    out: dict = {"kind": kind, "result": result}
    _put(out, "value", num(value))
    out["performed_on"] = _iso(performed_on)
    _put(out, "source", source)
    return out


def offer_dict(insats, subcategories) -> dict:
    return {"insats": insats, "subcategories": list(subcategories)}


def route_dict(route, insats, agreement_id, daily_price, valid_from, valid_to, buyers, status,
               reserved_nonprofit, price_confirmed_on=None) -> dict:
    out: dict = {"route": route, "insats": insats}
    _put(out, "agreement_id", agreement_id)
    _put(out, "daily_price", num(daily_price))
    _put(out, "price_confirmed_on", _iso(price_confirmed_on))
    _put(out, "valid_from", _iso(valid_from))
    _put(out, "valid_to", _iso(valid_to))
    out["buyers"] = list(buyers)
    out["status"] = status
    if reserved_nonprofit:
        out["reserved_nonprofit"] = True
    return out


def permit_dict(dnr, insats, status, target_groups, decided_on) -> dict:
    return {"dnr": dnr, "insats": insats, "status": status, "target_groups": list(target_groups),
            "decided_on": _iso(decided_on)}


def unit_dict(*, unit_id, name, municipality, lat, lon, protected_address, places, free_places,
              age_min, age_max, genders, target_groups, offers, routes, permits, status,
              removal_reason, status_note) -> dict:
    out: dict = {"unit_id": unit_id, "name": name, "municipality": municipality}
    if lat is not None and lon is not None:
        out["location"] = {"lat": num(lat), "lon": num(lon)}
    out.update({
        "protected_address": bool(protected_address), "places": places, "free_places": free_places,
        "age_min": age_min, "age_max": age_max, "genders": list(genders),
        "target_groups": list(target_groups), "offers": offers, "routes": routes,
    })
    if permits is not None:
        out["permits"] = permits
    out["status"] = status
    _put(out, "removal_reason", removal_reason)
    _put(out, "status_note", status_note)
    return out

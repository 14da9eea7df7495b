"""Nothing inferable about protected people and units (issue 13 item 3).

A protected unit (`protected_address`) and a protected person (`person.protected_identity`)
enter every computation only by the centre of their grid cell (`rules/geo.coarse_point`,
applied when the facts are built), and every distance between a protected pair is printed
only as a band of `protected_distance_band_km` (a dated parameter in
rules/parameters/privacy.yaml): in `match --json`, `request show --json`, `--explain`, tables,
reasons and their messages, and in the stored decision itself. Ranking of a protected pair
uses the band too, so the rank order reveals no more than the bands do.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Callable


def band_width(ruleset: Any, on: date) -> float | None:
    """`protected_distance_band_km` valid on a date; None when the rules have none."""
    from ..errors import PlaceringError

    try:
        return float(ruleset.param("protected_distance_band_km", on))
    except (PlaceringError, TypeError, ValueError):
        return None  # no band: protected distances are left out (protect_distances)


def band_floor(km: float, width: float) -> float:
    """The lower edge of the band a distance falls in (ranking sorts on it)."""
    return math.floor(km / width) * width


def band_label(km: float, width: float) -> str:
    """'20–30' for 27.4 km with bands of 10 km (the field name says km)."""
    lo = band_floor(km, width)
    return f"{_num(lo)}–{_num(lo + width)}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _shown(value: Any) -> str:
    from ..rules.reference import message_value  # as the evaluators print it in a message

    return message_value(value)


def protect_distances(document: dict[str, Any], *, person_protected: bool, unit_protected: Callable[[str], bool],
                      width: float | None) -> dict[str, Any]:
    """Replace every distance of a protected pair in a decision document by its band, in place.

    A number under `distance_km` (candidate summaries, ranking keys, reason values) becomes a
    band label; a reason message that printed the number prints the band. Without a band
    width (no parameter valid on the date) the distance is left out altogether: nothing is
    printed rather than too much. Idempotent: a band label is left as it is.
    """

    def coarse(km: Any) -> Any:
        if isinstance(km, bool) or not isinstance(km, (int, float)):
            return km
        return band_label(float(km), width) if width else None

    def walk(node: Any, unit_id: str | None) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, unit_id)
            return
        if not isinstance(node, dict):
            return
        if isinstance(node.get("unit_id"), str):
            unit_id = node["unit_id"]
        protected = person_protected or (unit_id is not None and unit_protected(unit_id))
        if protected:
            if "distance_km" in node:
                node["distance_km"] = coarse(node["distance_km"])
            values = node.get("values")
            if isinstance(values, dict) and isinstance(values.get("distance_km"), (int, float)):
                exact = values["distance_km"]
                values["distance_km"] = coarse(exact)
                if isinstance(node.get("message"), str):
                    node["message"] = node["message"].replace(_shown(exact), values["distance_km"] or "–", 1)
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                walk(value, unit_id)

    walk(document, None)
    return document

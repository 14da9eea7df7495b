"""Distance between a request's home and a unit, decided identically by both evaluators.

Display uses the haversine formula (`haversine_km`). The *decision* `distance_km > D` is not
taken on that float: it is taken on unit-sphere vectors, `dot(unit, home) < cos(D / R)`, which
needs only multiplications, additions and one comparison. Every unit's vector is computed once
when the register is loaded (facts.py), the request's vector and the threshold once per request,
so the durable-rules adapter can compile the same test to arithmetic on precomputed numbers
(`$add`/`$mul` on `unit.geo_x, geo_y, geo_z` and the request's `home_x, home_y, home_z` and
`cos_threshold`) and get the same IEEE result as Python, bit for bit. The dot product is always
summed in the order `(x*X + y*Y) + z*Z`.

At the boundary the decision and the displayed haversine figure can differ in the last
decimals; the decision is authoritative.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)

Vector = tuple[float, float, float]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (for display)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def unit_vector(lat: float, lon: float) -> Vector:
    """The point on the unit sphere for a latitude/longitude in degrees."""
    p, lam = math.radians(lat), math.radians(lon)
    cp = math.cos(p)
    return (cp * math.cos(lam), cp * math.sin(lam), math.sin(p))


def dot(a: Vector, b: Vector) -> float:
    """Cosine of the central angle; summed in this fixed order (see module docstring)."""
    return (a[0] * b[0] + a[1] * b[1]) + a[2] * b[2]


def cos_threshold(distance_km: float) -> float:
    """cos(D / R) with D clamped to [0, half the circumference]."""
    angle = min(max(float(distance_km), 0.0) / EARTH_RADIUS_KM, math.pi)
    return math.cos(angle)


# distance OP D  <=>  dot OP' cos(D/R): cosine falls as distance grows, so the order flips.
DOT_OP = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}


def compare_dot(op: str, d: float, threshold: float) -> bool:
    """The decision on precomputed numbers: `op` is the distance operator (gt, ge, lt, le)."""
    if op == "gt":
        return d < threshold
    if op == "ge":
        return d <= threshold
    if op == "lt":
        return d > threshold
    if op == "le":
        return d >= threshold
    raise ValueError(f"distance supports gt, ge, lt, le, not {op!r}")


def compare_distance(op: str, unit: Vector, home: Vector, distance_km: float) -> bool:
    """Decide `distance(unit, home) OP distance_km`, e.g. compare_distance('gt', u, h, 150)."""
    return compare_dot(op, dot(unit, home), cos_threshold(distance_km))


def beyond(unit: Vector, home: Vector, distance_km: float) -> bool:
    """`distance_km > D`: the unit lies farther than D km from home."""
    return compare_distance("gt", unit, home, distance_km)


# A protected position (a unit's protected address, a protected person's home) enters every
# computation only as the centre of its cell in this grid: 0.1° of latitude by 0.2° of
# longitude, about 11 × 11–13 km in Sweden. Whatever is derived from it (the distances shown,
# distance rules, ranking) can reveal the cell at most, never the address, however many
# requests an attacker makes (issue 13; README "Data protection").
PROTECTED_CELL_DEG = (0.1, 0.2)


def coarse_point(lat: float, lon: float) -> tuple[float, float]:
    """The centre of the grid cell a protected position lies in."""
    dlat, dlon = PROTECTED_CELL_DEG
    clat = (math.floor(lat / dlat) + 0.5) * dlat
    clon = (math.floor(lon / dlon) + 0.5) * dlon
    return (min(max(round(clat, 6), -90.0), 90.0), round((clon + 180.0) % 360.0 - 180.0, 6))

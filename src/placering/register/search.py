"""Finding suppliers and units: an organisation number or unit_id exactly, else names fuzzily.

Order of results: the supplier with that exact organisation number (either form), then the
unit with that exact unit_id, then fuzzy name matches (rapidfuzz WRatio over `text.fold()`ed
unit and supplier names) best first, whole-word matches before matches inside a word. Folding keeps å, ä and ö as letters of their own, so
"Ängen" matches "ängen" exactly while "angen" is only similar to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz import fuzz, process

from ..errors import ValidationError
from ..i18n import msg, reason
from ..text import canonical_org_nr, fold, looks_like_org_nr, nfc, plain_letters, sv_sort_key
from ..vocabulary import Route, UnitStatus

# Below this WRatio score a name is not offered as a match (0–100).
SCORE_CUTOFF = 70


@dataclass
class SearchHit:
    match: str  # org_nr, unit_id or name
    score: float
    org_nr: str
    supplier_name: str
    unit_id: str | None
    unit_name: str | None
    municipality: str | None
    status: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def _rows(source: Any, sql: str, params: dict) -> list[Any]:
    """Rows of `sql` from a `storage.reads.Reader` (the CLI's, without SQLAlchemy) or a session."""
    if hasattr(source, "rows"):
        return source.rows(sql, params)
    from sqlalchemy import text

    return list(source.execute(text(sql), params).all())


_UNITS = ("SELECT u.id, u.unit_id, u.name, u.name_key, u.municipality, u.status, "
          "s.org_nr, s.name AS supplier_name, s.name_key AS supplier_name_key "
          "FROM unit u JOIN supplier s ON s.id = u.supplier_id")


def _filtered_units(source: Any, *, insats, route, status, municipality) -> list[Any]:
    where, params = [], {}
    if status:
        where.append("u.status = :status")
        params["status"] = status
    if municipality:
        where.append("u.municipality_key = :municipality")
        params["municipality"] = fold(municipality)
    if insats:
        where.append("u.id IN (SELECT o.unit_id FROM offer o WHERE o.insats = :insats)")
        params["insats"] = insats
    if route:
        where.append("u.id IN (SELECT r.unit_id FROM unit_route r WHERE r.route = :route"
                     + (" AND r.insats = :insats)" if insats else ")"))
        params["route"] = route
    sql = _UNITS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY u.id"
    return _rows(source, sql, params)


def search(
    source: Any,
    text: str,
    *,
    insats: str | None = None,
    route: str | None = None,
    status: str | None = None,
    municipality: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Units (with their supplier) matching `text`, exact keys first; filters apply to units.
    `source`: a session, or a `storage.reads.Reader` (what the CLI reads with)."""
    try:
        if insats or route or status:
            from .schema import check_code, insats_code  # pydantic: only for a filter
        if insats:
            insats = insats_code(insats)
        if route:
            route = check_code(route, Route, "route")
        if status:
            status = check_code(status, UnitStatus, "unit status")
    except ValueError as exc:
        raise ValidationError(reason(exc)) from None
    if limit < 1:
        raise ValidationError(msg("option.limit_at_least_1"))
    text = nfc(text or "")
    if not text:
        raise ValidationError(msg("search.nothing_given"))
    candidates = _filtered_units(source, insats=insats, route=route, status=status,
                                 municipality=municipality)
    hits: list[SearchHit] = []
    seen: set[int] = set()

    def add(match: str, score: float, unit: Any) -> None:
        if unit.id in seen:
            return
        seen.add(unit.id)
        hits.append(SearchHit(match, round(score, 1), unit.org_nr, unit.supplier_name, unit.unit_id,
                              unit.name, unit.municipality, unit.status))

    if looks_like_org_nr(text):
        try:
            org_nr = canonical_org_nr(text)
        except ValueError:
            org_nr = None
        if org_nr:
            for unit in candidates:
                if unit.org_nr == org_nr:
                    add("org_nr", 100.0, unit)
            if not any(h.org_nr == org_nr for h in hits) and not (insats or route or status or municipality):
                # A supplier without units is still found by its number.
                found = _rows(source, "SELECT org_nr, name FROM supplier WHERE org_nr = :org_nr", {"org_nr": org_nr})
                if found:
                    hits.append(SearchHit("org_nr", 100.0, found[0].org_nr, found[0].name, None, None, None, None))
    key = fold(text)
    for unit in candidates:
        if fold(unit.unit_id) == key:
            add("unit_id", 100.0, unit)

    unit_names = {i: u.name_key for i, u in enumerate(candidates)}
    supplier_names = {i: u.supplier_name_key for i, u in enumerate(candidates)}
    best: dict[int, float] = {}
    for choices in (unit_names, supplier_names):
        for _, score, i in process.extract(key, choices, scorer=fuzz.WRatio, score_cutoff=SCORE_CUTOFF,
                                           limit=None):
            best[i] = max(best.get(i, 0.0), score)
    # Typed without å, ä, ö ('angen'): a name that matches once both lose their diacritics
    # ('Boende Ängen') ranks just below an exact match, above names that only look alike
    # ('Boende Tranhagen').
    plain_key = plain_letters(text)
    if plain_key != key:
        plain = plain_key
    else:
        plain = key
    for names in (unit_names, supplier_names):
        plain_names = {i: plain_letters(n) for i, n in names.items()}
        for _, score, i in process.extract(plain, plain_names, scorer=fuzz.WRatio, score_cutoff=SCORE_CUTOFF,
                                           limit=None):
            whole = fuzz.token_set_ratio(plain, plain_names[i]) == 100
            adjusted = score - (0.5 if whole else 5.0)  # never above the same name with its letters right
            best[i] = max(best.get(i, 0.0), adjusted)

    # Equal WRatio scores are common (a partial match inside a longer word scores like a whole
    # word): among them a whole-word match ('HVB Ängen' for 'ängen', not 'Aspängen') comes first.
    def words(i: int) -> float:
        unit = candidates[i]
        return max(fuzz.token_set_ratio(key, unit.name_key), fuzz.token_set_ratio(key, unit.supplier_name_key))

    ranked = sorted(best.items(), key=lambda kv: (-kv[1], -words(kv[0]), sv_sort_key(candidates[kv[0]].name),
                                                  candidates[kv[0]].unit_id))
    for i, score in ranked:
        add("name", score, candidates[i])
    return hits[:limit]

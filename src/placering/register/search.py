"""Finding suppliers and units: an organisation number or unit_id exactly, else names fuzzily.

Order of results: the supplier with that exact organisation number (either form), then the
unit with that exact unit_id, then fuzzy name matches (rapidfuzz WRatio over `text.fold()`ed
unit and supplier names) best first, whole-word matches before matches inside a word. Folding keeps å, ä and ö as letters of their own, so
"Ängen" matches "ängen" exactly while "angen" is only similar to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select

from ..errors import ValidationError
from ..storage.models import Offer, Supplier, Unit, UnitRoute
from ..text import canonical_org_nr, fold, looks_like_org_nr, nfc, plain_letters, sv_sort_key
from ..vocabulary import Route, UnitStatus
from .schema import check_code, insats_code

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


def _filtered_units(session, *, insats, route, status, municipality) -> list[tuple[Unit, Supplier]]:
    stmt = select(Unit, Supplier).join(Supplier, Unit.supplier_id == Supplier.id)
    if status:
        stmt = stmt.where(Unit.status == status)
    if municipality:
        stmt = stmt.where(Unit.municipality_key == fold(municipality))
    if insats:
        stmt = stmt.where(Unit.id.in_(select(Offer.unit_id).where(Offer.insats == insats)))
    if route:
        sub = select(UnitRoute.unit_id).where(UnitRoute.route == route)
        if insats:
            sub = sub.where(UnitRoute.insats == insats)
        stmt = stmt.where(Unit.id.in_(sub))
    return [(u, s) for u, s in session.execute(stmt.order_by(Unit.id))]


def search(
    session,
    text: str,
    *,
    insats: str | None = None,
    route: str | None = None,
    status: str | None = None,
    municipality: str | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Units (with their supplier) matching `text`, exact keys first; filters apply to units."""
    try:
        if insats:
            insats = insats_code(insats)
        if route:
            route = check_code(route, Route, "route")
        if status:
            status = check_code(status, UnitStatus, "unit status")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    if limit < 1:
        raise ValidationError("--limit must be at least 1")
    text = nfc(text or "")
    if not text:
        raise ValidationError("give a name, organisation number or unit_id to search for")
    candidates = _filtered_units(session, insats=insats, route=route, status=status,
                                 municipality=municipality)
    hits: list[SearchHit] = []
    seen: set[int] = set()

    def add(match: str, score: float, unit: Unit, supplier: Supplier) -> None:
        if unit.id in seen:
            return
        seen.add(unit.id)
        hits.append(SearchHit(match, round(score, 1), supplier.org_nr, supplier.name, unit.unit_id,
                              unit.name, unit.municipality, unit.status))

    if looks_like_org_nr(text):
        try:
            org_nr = canonical_org_nr(text)
        except ValueError:
            org_nr = None
        if org_nr:
            for unit, supplier in candidates:
                if supplier.org_nr == org_nr:
                    add("org_nr", 100.0, unit, supplier)
            if not any(h.org_nr == org_nr for h in hits) and not (insats or route or status or municipality):
                # A supplier without units is still found by its number.
                supplier = session.scalars(select(Supplier).where(Supplier.org_nr == org_nr)).first()
                if supplier is not None:
                    hits.append(SearchHit("org_nr", 100.0, supplier.org_nr, supplier.name, None, None, None, None))
    key = fold(text)
    for unit, supplier in candidates:
        if fold(unit.unit_id) == key:
            add("unit_id", 100.0, unit, supplier)

    unit_names = {i: u.name_key for i, (u, _) in enumerate(candidates)}
    supplier_names = {i: s.name_key for i, (_, s) in enumerate(candidates)}
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
        unit, supplier = candidates[i]
        return max(fuzz.token_set_ratio(key, unit.name_key), fuzz.token_set_ratio(key, supplier.name_key))

    ranked = sorted(best.items(), key=lambda kv: (-kv[1], -words(kv[0]), sv_sort_key(candidates[kv[0]][0].name),
                                                  candidates[kv[0]][0].unit_id))
    for i, score in ranked:
        unit, supplier = candidates[i]
        add("name", score, unit, supplier)
    return hits[:limit]

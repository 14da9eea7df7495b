"""The register interchange document `placering-register/1` (CONTRACT.md): models and validation.

`parse_document` checks a whole document and either returns it in canonical form (the exact
shape `export_document` writes, so import and export compare like with like) or raises one
`ValidationError` carrying every problem found, each naming the file, the record
(`suppliers[3].units[1].routes[0]`) and the field.

Additions to the contract's format (the contract allows new fields):
- unit `removal_reason` (a removal reason code; required when `status` is `removed`, forbidden
  otherwise) and `status_note` (why the unit has its status; required for `removed`: the
  overall assessment, samlad bedömning);
- route `reserved_nonprofit` (a framework agreement reserved for non-profits; default false).
A key left out of a supplier (`checks`) or unit (`permits`) means "keep what the register
has" (the flat CSV carries neither); an empty list replaces them with nothing.
"""

from __future__ import annotations

import math

from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictFloat, StrictInt
from pydantic import ValidationError as PydanticError, field_validator, model_validator

from ..boundary import INT_MAX, MAX_AMOUNT, clean_text, in_sweden, not_future
from ..errors import Problem, ValidationError
from ..i18n import Joined, Label, Number, known_id, label_list as labels, msg, reason
from ..taxonomy import load_taxonomy
from ..text import canonical_org_nr
from ..vocabulary import (
    AgreementStatus,
    CheckKind,
    CheckResult,
    Gender,
    LegalForm,
    PermitStatus,
    RemovalReason,
    Route,
    TargetGroup,
    UnitStatus,
)

from .canonical import FORMAT  # noqa: E402,F401  (defined without pydantic: csvio, register/reads.py)

# Routes that need no daily price in the document (CONTRACT.md).
PRICELESS_ROUTES = frozenset({Route.EGEN_REGI.value, Route.IOP.value})


@lru_cache(maxsize=None)
def _known(enum: type[StrEnum]) -> tuple[frozenset, str]:
    return frozenset(m.value for m in enum), ", ".join(m.value for m in enum)


# Nouns that take "okänt", not "okänd" in Swedish ("okänt kön").
_NEUTER = frozenset({"gender", "genders", "check result", "check_result", "complaint outcome", "complaint_outcome",
                     "control outcome", "stage"})


def noun(what: str):
    """An English noun of a message ('unit status') in the message's language (noun.* in the
    catalogue; the word as it is when the catalogue has none)."""
    key = "noun." + what.strip("-").replace(" ", "_").replace("'", "")
    return msg(key) if known_id(key) else what


def unknown_code(what: str, value: Any, listing: str):
    """'unknown unit status 'x' (known: …)' as a message."""
    return msg("code.unknown_neuter" if what in _NEUTER else "code.unknown", what=noun(what), code=value,
               known=listing)


def check_code(value: Any, enum: type[StrEnum], what: str) -> str:
    """A code from the vocabulary, or a ValueError naming the known codes."""
    known, listing = _known(enum)
    if not isinstance(value, str) or value not in known:
        raise ValueError(unknown_code(what, value, listing))
    return value


# Which fields are free text (checked for personal identity numbers) and how long each may be
# (boundary.MAX_LENGTH); identifiers and codes are checked for characters and length only.
_TEXT_KINDS = {
    "unit_id": ("id", True), "agreement_id": ("id", True), "dnr": ("id", True),
    "name": ("name", True), "municipality": ("name", False), "buyer municipality": ("name", False),
    "source": ("note", True), "status_note": ("note", True),
}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(msg("value.must_be_text", what=noun(what)))
    if type(value) is str and len(value) <= 64:
        return _short_text(value, what)  # a register repeats its sources, agreements and buyers
    kind, free = _TEXT_KINDS[what]
    return clean_text(value, kind=kind, free=free)


@lru_cache(maxsize=16384)
def _short_text(value: str, what: str) -> str:
    kind, free = _TEXT_KINDS[what]
    return clean_text(value, kind=kind, free=free)


def _shown(value: Any) -> str:
    """A value as a person typed it: text in quotes, a number as it is (no Python repr)."""
    return f"'{value}'" if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _iso_date(value: Any) -> Any:
    """A date is written YYYY-MM-DD (JSON text, CSV cell); a number is no date (issue 21: strict
    types; pydantic alone would read 1700000000 as seconds since 1970)."""
    if isinstance(value, date) or value is None:
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(msg("date.not_iso", value=_shown(value)))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(msg("value.not_in_calendar", value=value)) from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]


def municipality_name(value: Any, what: str = "municipality") -> str:
    """One of Sweden's 290 municipalities (registry/municipalities.yaml), by its canonical name."""
    if type(value) is str:
        return _municipality_name(value, what)  # a register names a few hundred, thousands of times
    return _municipality_name.__wrapped__(value, what)


@lru_cache(maxsize=4096)
def _municipality_name(value: Any, what: str) -> str:
    name = _text(value, what)
    m = load_taxonomy().municipality(name)
    if m is None:
        raise ValueError(msg("municipality.unknown", name=name))
    return m.name


def _happened(value: date, what: str) -> date:
    return not_future(value, what)


def _codes(values: list, enum: type[StrEnum], what: str) -> list[str]:
    out: list[str] = []
    for v in values:
        code = check_code(v, enum, what)
        if code in out:
            raise ValueError(msg("code.listed_twice", what=noun(what), code=code))
        out.append(code)
    return out


def insats_code(value: Any) -> str:
    insatser = load_taxonomy().insatser
    if not isinstance(value, str) or value not in insatser:
        raise ValueError(unknown_code("insats", value, ", ".join(insatser)))
    return value


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationDoc(_Doc):
    lat: StrictFloat = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: StrictFloat = Field(ge=-180, le=180, allow_inf_nan=False)

    @model_validator(mode="after")
    def _in_sweden(self) -> "LocationDoc":
        problem = in_sweden(self.lat, self.lon)
        if problem:
            raise ValueError(problem)
        return self


def check_value_error(kind: str, value: float | None):
    """What is wrong with a check's value, or None. One rule for import and `register check`."""
    if value is None:
        return None
    if not math.isfinite(value):
        # NaN and infinity are no measurement, and not valid JSON in the history.
        return msg("check.value_not_number", value=str(value))
    if kind == CheckKind.CREDIT_RATING.value and not 0 <= value <= 100:
        return msg("check.credit_rating_range", value=Number(value))
    return None


class CheckDoc(_Doc):
    kind: str
    result: str
    value: StrictFloat | None = None
    performed_on: IsoDate
    source: str | None = None

    _kind = field_validator("kind")(lambda cls, v: check_code(v, CheckKind, "check kind"))
    _result = field_validator("result")(lambda cls, v: check_code(v, CheckResult, "check result"))
    _source = field_validator("source")(lambda cls, v: None if v is None else _text(v, "source"))
    _performed = field_validator("performed_on")(lambda cls, v: _happened(v, "performed_on"))

    @field_validator("value")
    @classmethod
    def _value(cls, v: float | None, info) -> float | None:
        error = check_value_error(info.data.get("kind", ""), v)
        if error:
            raise ValueError(error)
        return v


class OfferDoc(_Doc):
    insats: str
    subcategories: list[str] = []

    _insats = field_validator("insats")(lambda cls, v: insats_code(v))

    @field_validator("subcategories")
    @classmethod
    def _subcategories(cls, v: list[str]) -> list[str]:
        seen: list[str] = []
        for s in v:
            if s in seen:
                raise ValueError(msg("code.listed_twice", what=noun("sub-category"), code=s))
            seen.append(s)
        return seen


class RouteDoc(_Doc):
    route: str
    insats: str
    agreement_id: str | None = None
    daily_price: StrictFloat | None = Field(default=None, ge=0, le=MAX_AMOUNT, allow_inf_nan=False)
    price_confirmed_on: IsoDate | None = None  # the day the price was last confirmed as current (004 l. 1203)
    valid_from: IsoDate | None = None
    valid_to: IsoDate | None = None
    buyers: list[str] = []
    status: str = AgreementStatus.ACTIVE.value
    reserved_nonprofit: StrictBool = False

    _route = field_validator("route")(lambda cls, v: check_code(v, Route, "route"))
    _insats = field_validator("insats")(lambda cls, v: insats_code(v))
    _agreement = field_validator("agreement_id")(lambda cls, v: None if v is None else _text(v, "agreement_id"))
    _status = field_validator("status")(lambda cls, v: check_code(v, AgreementStatus, "agreement status"))

    @field_validator("buyers")
    @classmethod
    def _buyers(cls, v: list) -> list[str]:
        out: list[str] = []
        for b in v:
            b = municipality_name(b, "buyer municipality")
            if b in out:
                raise ValueError(msg("code.listed_twice", what=noun("buyer"), code=b))
            out.append(b)
        return out


class PermitDoc(_Doc):
    dnr: str
    insats: str
    status: str
    target_groups: list[str] = []
    decided_on: IsoDate

    _dnr = field_validator("dnr")(lambda cls, v: _text(v, "dnr"))
    _insats = field_validator("insats")(lambda cls, v: insats_code(v))
    _status = field_validator("status")(lambda cls, v: check_code(v, PermitStatus, "permit status"))
    _groups = field_validator("target_groups")(lambda cls, v: _codes(v, TargetGroup, "target group"))
    _decided = field_validator("decided_on")(lambda cls, v: _happened(v, "decided_on"))


class UnitDoc(_Doc):
    unit_id: str
    name: str
    municipality: str
    location: LocationDoc | None = None
    protected_address: StrictBool = False
    places: StrictInt = Field(ge=0, le=INT_MAX)
    free_places: StrictInt = Field(ge=0, le=INT_MAX)
    age_min: StrictInt = Field(ge=0, le=120)
    age_max: StrictInt = Field(ge=0, le=120)
    genders: list[str] = Field(min_length=1)
    target_groups: list[str] = []
    offers: list[OfferDoc] = []
    routes: list[RouteDoc] = []
    permits: list[PermitDoc] | None = None
    status: str
    removal_reason: str | None = None
    status_note: str | None = None

    _unit_id = field_validator("unit_id")(lambda cls, v: _text(v, "unit_id"))
    _name = field_validator("name")(lambda cls, v: _text(v, "name"))
    _municipality = field_validator("municipality")(lambda cls, v: municipality_name(v))
    _genders = field_validator("genders")(lambda cls, v: _codes(v, Gender, "gender"))
    _groups = field_validator("target_groups")(lambda cls, v: _codes(v, TargetGroup, "target group"))
    _status = field_validator("status")(lambda cls, v: check_code(v, UnitStatus, "unit status"))
    _reason = field_validator("removal_reason")(
        lambda cls, v: None if v is None else check_code(v, RemovalReason, "removal reason")
    )
    _note = field_validator("status_note")(lambda cls, v: None if v is None else _text(v, "status_note"))


class SupplierHead(_Doc):
    """A supplier without its units (units are validated one by one, to report every problem)."""

    org_nr: str
    name: str
    legal_form: str
    checks: list[CheckDoc] | None = None
    units: list[Any] = []

    @field_validator("org_nr", mode="before")
    @classmethod
    def _org_nr(cls, v: Any) -> str:
        return canonical_org_nr(v)

    _name = field_validator("name")(lambda cls, v: _text(v, "name"))
    _legal_form = field_validator("legal_form")(lambda cls, v: check_code(v, LegalForm, "legal form"))


# --- canonical dictionaries: the one shape both import (from a document) and export (from
# --- the database) produce, so that comparing them decides "unchanged" and round-trips exactly.


from .canonical import (  # noqa: E402,F401  (without pydantic: register/reads.py builds them too)
    _iso,
    _put,
    check_dict,
    num,
    offer_dict,
    permit_dict,
    route_dict,
    unit_dict,
)


def _unit_canonical(u: UnitDoc) -> dict:
    return unit_dict(
        unit_id=u.unit_id, name=u.name, municipality=u.municipality,
        lat=u.location.lat if u.location else None, lon=u.location.lon if u.location else None,
        protected_address=u.protected_address, places=u.places, free_places=u.free_places,
        age_min=u.age_min, age_max=u.age_max, genders=u.genders, target_groups=u.target_groups,
        offers=[offer_dict(o.insats, o.subcategories) for o in u.offers],
        routes=[route_dict(r.route, r.insats, r.agreement_id, r.daily_price, r.valid_from, r.valid_to,
                           r.buyers, r.status, r.reserved_nonprofit, r.price_confirmed_on) for r in u.routes],
        permits=None if u.permits is None else [
            permit_dict(p.dnr, p.insats, p.status, p.target_groups, p.decided_on) for p in u.permits
        ],
        status=u.status, removal_reason=u.removal_reason, status_note=u.status_note,
    )


# --- validation ---------------------------------------------------------------------------


def _pydantic_problems(exc: PydanticError, file: str, base: str) -> list[Problem]:
    # said by each error's type (fielderrors: the one place pydantic's refusals are worded)
    from ..fielderrors import problems_of
    from ..i18n import msg

    return problems_of(exc, file=file, base=base, overrides={"extra_forbidden": msg("pydantic.register_extra")})


def _unit_problems(u: UnitDoc, file: str, rec: str) -> list[Problem]:
    """Checks that span fields of one unit."""
    tax = load_taxonomy()
    out: list[Problem] = []

    def bad(said, field: str | None, record: str = rec) -> None:
        out.append(Problem(said, file=file, record=record, field=field))

    if u.age_min > u.age_max:
        bad(msg("unit.age_min_above_max", min=u.age_min, max=u.age_max), "age_min")
    if u.free_places > u.places:
        bad(msg("unit.free_above_places", free=u.free_places, places=u.places), "free_places")
    offered: list[str] = []
    for i, o in enumerate(u.offers):
        orec = f"{rec}.offers[{i}]"
        if o.insats in offered:
            bad(msg("unit.insats_twice", insats=Label(o.insats, "insats")), "insats", orec)
        offered.append(o.insats)
        known = tax.insatser[o.insats].subcategories
        for s in o.subcategories:
            if s not in known:
                bad(msg("unit.subcategory_unknown", code=s, insats=Label(o.insats, "insats"), known=", ".join(known))
                    if known else msg("unit.subcategory_none", code=s, insats=Label(o.insats, "insats")),
                    "subcategories", orec)
    seen_routes: set[tuple] = set()
    for i, r in enumerate(u.routes):
        rrec = f"{rec}.routes[{i}]"
        if r.insats not in offered:
            bad(msg("unit.route_insats_not_offered", insats=Label(r.insats, "insats"),
                    offers=labels(offered, "insats") if offered else "–"), "insats", rrec)
        allowed = tax.insatser[r.insats].routes
        if r.route not in allowed:
            bad(msg("unit.route_not_for_insats", route=Label(r.route, "route"), insats=Label(r.insats, "insats"),
                    allowed=labels(allowed, "route")), "route", rrec)
        if r.daily_price is None and r.route not in PRICELESS_ROUTES:
            bad(msg("unit.daily_price_required", route=Label(r.route, "route")), "daily_price", rrec)
        if r.route == Route.RAMAVTAL and r.agreement_id is None:
            bad(msg("unit.agreement_id_required"), "agreement_id", rrec)
        elif r.route == Route.RAMAVTAL and (r.valid_from is None or not r.buyers):
            # The interchange has no list of agreements: an agreement is defined by the terms its
            # routes carry (AGREEMENT_FIELDS), the same on every route of it, in the file and in
            # the register. A route without them names an agreement the file does not define.
            missing = [k for k, v in (("valid_from", r.valid_from), ("buyers", r.buyers)) if not v]
            bad(msg("unit.agreement_not_defined", agreement=r.agreement_id,
                    missing=missing[0] if len(missing) == 1 else msg("words.valid_from_and_buyers")),
                missing[0], rrec)
        if r.valid_from and r.valid_to and r.valid_from > r.valid_to:
            bad(msg("unit.valid_from_after_to", start=r.valid_from.isoformat(), end=r.valid_to.isoformat()),
                "valid_from", rrec)
        if r.status != AgreementStatus.ACTIVE and r.route != Route.RAMAVTAL:
            bad(msg("unit.status_framework_only", status=Label(r.status, "agreement_status"),
                    route=Label(r.route, "route")), "status", rrec)
        key = (r.route, r.insats, r.agreement_id)
        if key in seen_routes:
            bad(msg("unit.route_twice", route=Joined(tuple(x for x in (Label(r.route, "route"), Label(r.insats, "insats"),
                                                                       r.agreement_id) if x is not None))),
                "route", rrec)
        seen_routes.add(key)
    dnrs: set[str] = set()
    for i, p in enumerate(u.permits or []):
        if p.dnr in dnrs:
            bad(msg("code.listed_twice", what=noun("permit dnr"), code=p.dnr), "dnr", f"{rec}.permits[{i}]")
        dnrs.add(p.dnr)
    if u.status == UnitStatus.REMOVED:
        if u.removal_reason is None:
            bad(msg("unit.removed_needs_reason", known=", ".join(m.value for m in RemovalReason)), "removal_reason")
        if u.status_note is None:
            bad(msg("unit.removed_needs_note"), "status_note")
    elif u.removal_reason is not None:
        bad(msg("unit.reason_only_removed", status=Label(u.status, "unit_status")), "removal_reason")
    if u.status == UnitStatus.RECOMMENDATION_STOP and not any(
        r.route == Route.DIREKTUPPHANDLING for r in u.routes
    ):
        bad(msg("unit.recommendation_stop_no_direct"), "status")
    return out


class ParsedDocument:
    """A valid document in canonical form, with where each unit and route came from."""

    def __init__(self, suppliers: list[dict], file: str):
        self.suppliers = suppliers
        self.file = file

    def units(self):
        """(supplier index, unit index, org_nr, unit dict) for every unit, in document order."""
        for si, s in enumerate(self.suppliers):
            for ui, u in enumerate(s["units"]):
                yield si, ui, s["org_nr"], u


AGREEMENT_FIELDS = ("insats", "route", "valid_from", "valid_to", "buyers")


def agreement_terms(route: dict) -> dict:
    """What every route of one agreement_id must agree on. The status is not among them: an order
    stop or termination applies to one supplier's participation (INK decides), so it need only
    agree among the routes of one supplier."""
    return {k: route.get(k) for k in AGREEMENT_FIELDS}


def parse_document(doc: Any, *, source: str = "<input>", locate=None) -> ParsedDocument:
    """Validate a whole interchange document; raise ValidationError with every problem.

    `locate(record) -> (file, line)` lets a caller that built the document from another file
    (the CSV reader) name its own file and line instead of the record path.
    """
    problems: list[Problem] = []
    if not isinstance(doc, dict):
        raise ValidationError(Problem(msg("import.not_object"), file=source))
    if doc.get("format") != FORMAT:
        problems.append(Problem(msg("import.format", format=FORMAT, got=_shown(doc.get("format"))), file=source,
                                field="format"))
    extra = sorted(set(doc) - {"format", "suppliers", "revision"})
    revision = doc.get("revision")
    if revision is not None and (not isinstance(revision, int) or isinstance(revision, bool) or revision < 0):
        problems.append(Problem(msg("import.revision_not_number", value=_shown(revision)), file=source,
                                field="revision"))
    for key in extra:
        problems.append(Problem(msg("import.unknown_field"), file=source, field=key))
    suppliers_in = doc.get("suppliers")
    if not isinstance(suppliers_in, list):
        problems.append(Problem(msg("import.suppliers_missing"), file=source, field="suppliers"))
        raise ValidationError(problems)

    suppliers: list[dict] = []
    org_seen: dict[str, int] = {}
    unit_seen: dict[str, str] = {}
    agreements: dict[str, tuple[str, str, dict]] = {}  # agreement_id → (record, unit_id, terms)
    participation: dict[tuple[str, int], tuple[str, str, str]] = {}  # (agreement_id, supplier) → (rec, unit, status)
    for si, s in enumerate(suppliers_in):
        srec = f"suppliers[{si}]"
        if not isinstance(s, dict):
            problems.append(Problem(msg("import.supplier_not_object"), file=source, record=srec))
            continue
        try:
            head = SupplierHead.model_validate(s)
        except PydanticError as exc:
            problems.extend(_pydantic_problems(exc, source, srec))
            head = None
        if head is not None:
            if head.org_nr in org_seen:
                problems.append(Problem(msg("import.org_twice", org=head.org_nr, where=f"suppliers[{org_seen[head.org_nr]}]"),
                                        file=source, record=srec, field="org_nr"))
            org_seen.setdefault(head.org_nr, si)
        units: list[dict] = []
        raw_units = s.get("units", [])
        if not isinstance(raw_units, list):
            continue  # reported by SupplierHead
        for ui, u in enumerate(raw_units):
            urec = f"{srec}.units[{ui}]"
            try:
                unit = UnitDoc.model_validate(u)
            except PydanticError as exc:
                problems.extend(_pydantic_problems(exc, source, urec))
                continue
            problems.extend(_unit_problems(unit, source, urec))
            if unit.unit_id in unit_seen:
                problems.append(Problem(msg("import.unit_twice", unit=unit.unit_id, where=unit_seen[unit.unit_id]),
                                        file=source, record=urec, field="unit_id"))
            unit_seen.setdefault(unit.unit_id, urec)
            canon = _unit_canonical(unit)
            for ri, r in enumerate(canon["routes"]):
                aid = r.get("agreement_id")
                if aid is None:
                    continue
                rrec = f"{urec}.routes[{ri}]"
                if aid in agreements:
                    first_rec, first_unit, first = agreements[aid]
                    diff = [k for k in AGREEMENT_FIELDS if first.get(k) != r.get(k)]
                    if diff:
                        problems.append(Problem(msg("import.agreement_differs", agreement=aid, unit=unit.unit_id,
                                                    other=first_unit, where=first_rec, fields=", ".join(diff),
                                                    terms=", ".join(AGREEMENT_FIELDS)),
                                                file=source, record=rrec, field=diff[0]))
                else:
                    agreements[aid] = (rrec, unit.unit_id, agreement_terms(r))
                seen = participation.setdefault((aid, si), (rrec, unit.unit_id, r["status"]))
                if seen[2] != r["status"]:
                    problems.append(Problem(msg("import.agreement_status_differs", agreement=aid, unit=unit.unit_id,
                                                status=Label(r["status"], "agreement_status"),
                                                other_status=Label(seen[2], "agreement_status"), other=seen[1],
                                                where=seen[0]), file=source, record=rrec, field="status"))
            units.append(canon)
        if head is not None:
            out: dict = {"org_nr": head.org_nr, "name": head.name, "legal_form": head.legal_form}
            out["checks"] = None if head.checks is None else [
                check_dict(c.kind, c.result, c.value, c.performed_on, c.source) for c in head.checks
            ]
            out["units"] = units
            suppliers.append(out)
    if locate is not None:
        problems = [locate(p) for p in problems]
    if problems:
        raise ValidationError(problems)
    return ParsedDocument(suppliers, source)

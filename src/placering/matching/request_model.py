"""The placement request's pydantic model (`PlacementRequestIn`): what CONTRACT.md fixes,
with its JSON Schema and its refusals worded field by field (matching/request.py's
`validate_request`). Imported only when a request is refused, or a caller asks for the model:
a request the fast check accepts (request.plain_request) is matched without pydantic."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

from ..boundary import MAX_AMOUNT, clean_text, finite, in_sweden
from ..i18n import Label, msg
from ..taxonomy import load_taxonomy
from ..vocabulary import Gender, LegalBasis, TargetGroup, Urgency
from .request import _canonical_municipality, home_point_of

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: Any) -> Any:
    """Dates are written YYYY-MM-DD; pydantic alone would also take numbers (epoch seconds)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(msg("date.not_iso", value=f"'{value}'" if isinstance(value, str) else str(value)))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(msg("value.not_in_calendar", value=value)) from None


def _text(value: Any) -> Any:
    # Codes and names; personal identity numbers are looked for in every string (below).
    return clean_text(value, kind="name", free=False)


def _number(value: Any) -> Any:
    # Finite, and within what any amount or distance can be (boundary.MAX_AMOUNT).
    return finite(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Text = Annotated[str, BeforeValidator(_text)]
Number = Annotated[float, BeforeValidator(_number)]
MunicipalityName = Annotated[str, BeforeValidator(_text), AfterValidator(_canonical_municipality)]

_STRICT = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Location(BaseModel):
    """A position (WGS 84). Only used to measure distance; never printed for a protected person."""

    model_config = _STRICT
    lat: Number = Field(ge=-90, le=90)
    lon: Number = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _in_sweden(self) -> "Location":
        problem = in_sweden(self.lat, self.lon)
        if problem:
            raise ValueError(problem)
        return self


class Person(BaseModel):
    """What the match needs to know about the person; nothing that identifies them."""

    model_config = _STRICT
    age: StrictInt = Field(ge=0, le=120, description="Age in whole years on the start date.")
    gender: Gender
    needs: list[TargetGroup] = Field(
        default_factory=list,
        description="The person's needs as target-group codes; all must be among a unit's target groups.",
    )
    protected_identity: StrictBool = Field(
        default=False, description="Skyddade personuppgifter: keep addresses hidden, honour avoid_municipalities."
    )

    @field_validator("needs")
    @classmethod
    def _no_repeats(cls, needs: list[TargetGroup]) -> list[TargetGroup]:
        seen: set[str] = set()
        for n in needs:
            if n in seen:
                raise ValueError(msg("request.need_twice", need=Label(n.value, "target_group")))
            seen.add(n)
        return needs


class PlacementRequestIn(BaseModel):
    """A placement request as CONTRACT.md fixes it (JSON). No identity number or name."""

    model_config = _STRICT
    request_id: Annotated[str, BeforeValidator(lambda v: clean_text(v, kind="id", free=False))] = Field(max_length=64, description="The requester's stable id of this request.")
    submitted_on: IsoDate = Field(description="The decision date; the rules and parameters valid on the later of it and start_on apply.")
    municipality: MunicipalityName = Field(description="The buying municipality (an agreement's buyers must include it).")
    requester: Annotated[str, BeforeValidator(lambda v: clean_text(v, kind="actor", free=False))] = Field(max_length=120, description="The administration within the municipality.")
    insats: Text = Field(description="Insats code (registry/taxonomy.yaml).")
    subcategory: Text | None = Field(default=None, description="Sub-category code of that insats.")
    person: Person
    legal_basis: LegalBasis
    urgency: Urgency
    start_on: IsoDate
    places: StrictInt = Field(default=1, ge=1, le=20)
    home_municipality: MunicipalityName | None = Field(
        default=None, description="Where the person lives; distance is measured from its seat when no home_location."
    )
    home_location: Location | None = None
    max_distance_km: Number | None = Field(default=None, gt=0, le=2000)
    avoid_municipalities: list[MunicipalityName] = Field(
        default_factory=list, description="Municipalities where the person must not be placed (e.g. protected identity)."
    )
    max_daily_price: Number | None = Field(default=None, gt=0, le=MAX_AMOUNT)
    network_considered: StrictBool | None = Field(
        default=None, description="Whether the person's own network was considered first: the first step of the "
        "priority order ('först den enskildes nätverk', sources/000 l. 432-436). Not given: not recorded.")

    @property
    def rules_day(self) -> date:
        """The day whose rules and parameters decide the request: the placement's start day, or
        the decision day when the placement started before it. A rule that takes effect between
        the decision and the start (skyddat boende's permit duty from 2024-04-01) applies to the
        placement at match time (issue 20 item 12)."""
        return max(self.submitted_on, self.start_on)

    @field_validator("insats")
    @classmethod
    def _known_insats(cls, code: str) -> str:
        tax = load_taxonomy()
        if code not in tax.insatser:
            raise ValueError(msg("code.unknown", what=msg("noun.insats"), code=code, known=", ".join(sorted(tax.insatser))))
        return code

    @field_validator("avoid_municipalities")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        return list(dict.fromkeys(names))

    @model_validator(mode="after")
    def _consistent(self) -> "PlacementRequestIn":
        tax = load_taxonomy()
        insats = tax.insatser[self.insats]
        if self.subcategory is not None and self.subcategory not in insats.subcategories:
            known = ", ".join(sorted(insats.subcategories))
            raise _FieldError("subcategory", msg("request.subcategory_unknown", code=self.subcategory,
                                                 insats=Label(self.insats, "insats"), known=known) if known else
                              msg("request.subcategory_none", code=self.subcategory, insats=Label(self.insats, "insats")))
        if self.max_distance_km is not None and self.home_location is None and self.home_municipality is None:
            raise _FieldError("max_distance_km", msg("request.distance_needs_home"))
        return self

    # Convenience for the matcher and the facts builder.
    def home_point(self) -> tuple[float, float] | None:
        """Where distance is measured from: home_location, else the seat of home_municipality."""
        return home_point_of(self.home_location, self.home_municipality)

    def payload(self) -> dict[str, Any]:
        """The request as stored (JSON types, canonical names)."""
        out = self.model_dump(mode="json")
        if out.get("network_considered") is None:
            out.pop("network_considered", None)  # not recorded: requests stored before it look the same
        return out


class _FieldError(ValueError):
    """A cross-field problem that belongs to one named field."""

    def __init__(self, field: str, message):
        super().__init__(message)
        self.field = field

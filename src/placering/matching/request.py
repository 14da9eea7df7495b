"""The placement request (placeringsförfrågan): its model, validation and reading from files.

A request is validated against `PlacementRequestIn` before anything else happens:

- unknown fields are refused at every level (`extra="forbid"`), so an identity number or a
  name cannot ride along in a field the model does not know;
- any text that looks like a personal identity number (personnummer) is refused as well,
  wherever it appears;
- codes (insats, its sub-category, gender, needs, urgency, legal basis) are checked against
  the vocabulary and `registry/taxonomy.yaml`; municipalities against
  `registry/municipalities.yaml` (and stored under their canonical name);
- ages are whole years 0–120; dates are ISO dates (YYYY-MM-DD).

Errors are `placering.errors.ValidationError`s whose problems name the file, line (for
JSON-lines input), request id and field path (e.g. `person.age`).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Iterable

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from ..fielderrors import message_of

from ..errors import Problem, ValidationError
from ..i18n import Label, msg, reason
from ..taxonomy import load_taxonomy
from ..boundary import MAX_AMOUNT, clean_text, contains_personnummer, finite, in_sweden, load_json
from ..vocabulary import Gender, LegalBasis, TargetGroup, Urgency

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


def _canonical_municipality(name: str) -> str:
    m = load_taxonomy().municipality(name)
    if m is None:
        raise ValueError(msg("municipality.unknown", name=name))
    return m.name


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
        if self.home_location is not None:
            return (self.home_location.lat, self.home_location.lon)
        if self.home_municipality is not None:
            m = load_taxonomy().municipality(self.home_municipality)
            if m is not None:
                return (m.lat, m.lon)
        return None

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


def _personnummer_paths(value: Any, path: str = "") -> Iterable[str]:
    """Field paths of every string (or key) that looks like a personal identity number."""
    if isinstance(value, str):
        if contains_personnummer(value):
            yield path or "(document)"
    elif isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and contains_personnummer(k):
                yield sub
            yield from _personnummer_paths(v, sub)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _personnummer_paths(v, f"{path}.{i}" if path else str(i))


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def validate_request(data: Any, *, file: str | None = None, line: int | None = None) -> PlacementRequestIn:
    """Validate one request document; every problem found is reported, with its field path."""
    record = data.get("request_id") if isinstance(data, dict) and isinstance(data.get("request_id"), str) else None
    if not isinstance(data, dict):
        raise ValidationError(Problem(msg("request.not_object"), file=file, line=line))
    problems: list[Problem] = []
    for path in _personnummer_paths(data):
        problems.append(
            Problem(msg("request.personnummer"), file=file, line=line, record=record, field=path)
        )
    try:
        request = PlacementRequestIn.model_validate(data)
    except PydanticValidationError as exc:
        for err in exc.errors():
            field = _loc(err["loc"])
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _FieldError):
                field = ctx_err.field
                message = reason(ctx_err)
            else:  # said by the error's type (fielderrors: the one place pydantic's refusals are worded)
                message = message_of(err, {"extra_forbidden": msg("pydantic.request_extra")})
            problems.append(Problem(message, file=file, line=line, record=record, field=field or None))
        raise ValidationError(problems) from None
    if problems:
        raise ValidationError(problems)
    return request


START_LIMIT = "request_start_max_days_before_submission"


def check_start(requests: Iterable[PlacementRequestIn], ruleset: Any = None) -> None:
    """A request asks for a placement that starts about when it is asked for: one starting more
    than the dated parameter's days before it was submitted cannot be true (issue 21: a start six
    years back). The parameter valid on the submission date decides; every such request is named."""
    if ruleset is None:
        from ..rules import load_ruleset

        ruleset = load_ruleset()
    problems = []
    for r in requests:
        limit = int(ruleset.param(START_LIMIT, r.submitted_on))
        if (r.submitted_on - r.start_on).days > limit:
            problems.append(Problem(msg("request.start_too_early", start=r.start_on.isoformat(),
                                        days=(r.submitted_on - r.start_on).days, submitted=r.submitted_on.isoformat(),
                                        limit=limit, parameter=START_LIMIT), record=r.request_id, field="start_on"))
    if problems:
        raise ValidationError(problems)


JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")


def read_requests(path: Path) -> list[tuple[PlacementRequestIn, int | None]]:
    """Read one request (a JSON object) or many (JSON lines) from a file; all valid or an error.

    Returns (request, line) pairs; line is None for a single-document file. A `.jsonl` or
    `.ndjson` file is always read as JSON lines (even with one line). Every bad line is
    reported, and a request id given twice in one file is an error.
    """
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(Problem(msg("file.unreadable", error=exc.strerror), file=name)) from None
    return parse_requests(data, name)


def parse_requests(data: bytes, name: str) -> list[tuple[PlacementRequestIn, int | None]]:
    """`read_requests` of a file's bytes (sent to the server as they are); `name` is the file's
    name, for its suffix (.jsonl, .ndjson) and the problems."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(Problem(msg("request.not_utf8", byte=f"0x{exc.object[exc.start]:02X}", offset=exc.start),
                                      file=name)) from None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ValidationError(Problem(msg("request.file_empty"), file=name))
    single: Any = None
    if Path(name).suffix.lower() not in JSON_LINES_SUFFIXES:
        try:
            single = load_json(text, file=name)
        except ValidationError as exc:
            # Refused for what it holds (duplicate keys, Infinity, depth): say so. Not JSON as
            # a whole: perhaps JSON lines, read below.
            if not str(exc.problems[0].message).startswith("not valid JSON"):
                raise
            single = None
    if isinstance(single, dict):
        return [(validate_request(single, file=name), None)]
    if isinstance(single, list):
        raise ValidationError(Problem(msg("request.file_array"), file=name, line=1))
    if single is not None and "\n" not in text.strip():
        raise ValidationError(Problem(msg("request.not_object"), file=name, line=1))

    problems: list[Problem] = []
    out: list[tuple[PlacementRequestIn, int | None]] = []
    seen: dict[str, int] = {}
    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = load_json(raw, file=name, line=no)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        try:
            req = validate_request(data, file=name, line=no)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        if req.request_id in seen:
            problems.append(
                Problem(msg("request.id_twice", line=seen[req.request_id]),
                        file=name, line=no, record=req.request_id, field="request_id")
            )
            continue
        seen[req.request_id] = no
        out.append((req, no))
    if problems:
        raise ValidationError(problems)
    return out


def request_schema() -> dict[str, Any]:
    """The JSON Schema of a request, with the code lists filled in from the taxonomy."""
    tax = load_taxonomy()
    schema = PlacementRequestIn.model_json_schema()
    schema["title"] = "Placement request (placeringsförfrågan)"
    schema["$id"] = "placering-request/1"
    props = schema["properties"]
    props["insats"]["enum"] = sorted(tax.insatser)
    subs = sorted({s for i in tax.insatser.values() for s in i.subcategories})
    props["subcategory"] = {
        "anyOf": [{"type": "string", "enum": subs}, {"type": "null"}],
        "default": None,
        "description": "Sub-category code; must belong to the insats (see registry/taxonomy.yaml).",
    }
    names = sorted(m.name for m in tax.municipalities.values())
    props["municipality"]["enum"] = names
    props["home_municipality"] = {"anyOf": [{"type": "string", "enum": names}, {"type": "null"}], "default": None,
                                  "description": props["home_municipality"].get("description", "")}
    props["avoid_municipalities"]["items"] = {"type": "string", "enum": names}
    for key in ("submitted_on", "start_on"):
        props[key]["format"] = "date"
    return schema

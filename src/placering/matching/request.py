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
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import Problem, ValidationError
from ..i18n import msg, reason
from ..taxonomy import load_taxonomy
from ..boundary import MAX_AMOUNT, clean_text, contains_personnummer, finite, in_sweden, load_json
from ..vocabulary import Gender, LegalBasis, TargetGroup, Urgency

if TYPE_CHECKING:
    from .request_model import PlacementRequestIn

_MODEL_NAMES = ("PlacementRequestIn", "Person", "Location", "_FieldError", "IsoDate", "Text", "Number",
                "MunicipalityName")


def __getattr__(name: str) -> Any:
    """The pydantic model and its parts (matching/request_model.py), imported on first use."""
    if name in _MODEL_NAMES:
        from . import request_model

        return getattr(request_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _canonical_municipality(name: str) -> str:
    m = load_taxonomy().municipality(name)
    if m is None:
        raise ValueError(msg("municipality.unknown", name=name))
    return m.name



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
    from pydantic import ValidationError as PydanticValidationError

    from ..fielderrors import message_of
    from .request_model import PlacementRequestIn, _FieldError

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


# --- the fast check: a request matched without pydantic ------------------------------------------
#
# `PlacementRequestIn` (request_model.py) is the one validator: what it refuses, and how it says
# so, is its own. Importing pydantic and building the model cost a single `placering match`
# about 0.2 s of its start-up (issue 22), so a request is first looked at by `plain_request`,
# which accepts only what it is sure the model accepts, and gives the same stored form
# (`payload`); anything else, unusual or wrong, goes to the model, which refuses it with its
# messages (or accepts it). tests/test_request_fast.py checks on valid and refused requests
# that whatever the fast check accepts the model accepts with the very same payload.

class _Unsure(Exception):
    """The fast check is not sure: the model decides."""


class _Location:
    __slots__ = ("lat", "lon")

    def __init__(self, lat: float, lon: float):
        self.lat, self.lon = lat, lon


class _Person:
    __slots__ = ("age", "gender", "needs", "protected_identity")

    def __init__(self, person: dict[str, Any]):
        self.age = person["age"]
        self.gender = Gender(person["gender"])
        self.needs = [TargetGroup(n) for n in person["needs"]]
        self.protected_identity = person["protected_identity"]


class Request:
    """A validated request as plain attributes: `PlacementRequestIn`'s, built from the stored
    form (`payload`) without pydantic. What the matcher and the store read of a request."""

    def __init__(self, payload: dict[str, Any]):
        self._payload = payload
        p = payload
        self.request_id: str = p["request_id"]
        self.submitted_on = date.fromisoformat(p["submitted_on"])
        self.municipality: str = p["municipality"]
        self.requester: str = p["requester"]
        self.insats: str = p["insats"]
        self.subcategory: str | None = p.get("subcategory")
        self.person = _Person(p["person"])
        self.legal_basis = LegalBasis(p["legal_basis"])
        self.urgency = Urgency(p["urgency"])
        self.start_on = date.fromisoformat(p["start_on"])
        self.places: int = p.get("places", 1)
        self.home_municipality: str | None = p.get("home_municipality")
        loc = p.get("home_location")
        self.home_location = _Location(loc["lat"], loc["lon"]) if loc is not None else None
        self.max_distance_km: float | None = p.get("max_distance_km")
        self.avoid_municipalities: list[str] = list(p.get("avoid_municipalities") or [])
        self.max_daily_price: float | None = p.get("max_daily_price")
        self.network_considered: bool | None = p.get("network_considered")

    @property
    def rules_day(self) -> date:
        """As `PlacementRequestIn.rules_day`: the later of the decision day and the start day."""
        return max(self.submitted_on, self.start_on)

    def home_point(self) -> tuple[float, float] | None:
        return home_point_of(self.home_location, self.home_municipality)

    def payload(self) -> dict[str, Any]:
        """The request as stored (a copy: the caller may change it)."""
        return _json_copy(self._payload)


def _json_copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists and scalars), as copy.deepcopy makes it: a year's batch
    copies every request's stored form a few times, and deepcopy's memo costs ~5 times more."""
    if type(value) is dict:
        return {k: _json_copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_json_copy(v) for v in value]
    return value


_FIELDS = ("request_id", "submitted_on", "municipality", "requester", "insats", "subcategory", "person",
           "legal_basis", "urgency", "start_on", "places", "home_municipality", "home_location", "max_distance_km",
           "avoid_municipalities", "max_daily_price", "network_considered")
_REQUIRED = frozenset({"request_id", "submitted_on", "municipality", "requester", "insats", "person", "legal_basis",
                       "urgency", "start_on"})
_PERSON_FIELDS = frozenset({"age", "gender", "needs", "protected_identity"})
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GENDERS = frozenset(g.value for g in Gender)
_NEEDS = frozenset(t.value for t in TargetGroup)
_BASES = frozenset(b.value for b in LegalBasis)
_URGENCIES = frozenset(u.value for u in Urgency)


def _sure(condition: bool) -> None:
    if not condition:
        raise _Unsure()


def _plain_text(value: Any, kind: str, limit: int | None = None) -> str:
    _sure(type(value) is str)
    out = clean_text(value, kind=kind, free=False).strip()
    _sure(bool(out) and (limit is None or len(out) <= limit))
    return out


def _plain_date(value: Any) -> str:
    _sure(type(value) is str and _ISO.match(value) is not None)
    return date.fromisoformat(value).isoformat()


def _plain_municipality(value: Any) -> str:
    m = load_taxonomy().municipality(_plain_text(value, "name"))
    _sure(m is not None)
    return m.name


def _plain_number(value: Any) -> float:
    _sure(type(value) in (int, float))
    return finite(value)


def _plain_int(value: Any, lo: int, hi: int) -> int:
    _sure(type(value) is int and lo <= value <= hi)
    return value


def plain_request(data: Any) -> Request | None:
    """The request when the fast check is sure `PlacementRequestIn` accepts it (its stored form
    the model's), else None: the model then says what is wrong (`validate_request`)."""
    try:
        return Request(_plain_payload(data))
    except Exception:  # noqa: anything doubtful, wrong or unusual is the model's to word
        return None


def _plain_payload(data: Any) -> dict[str, Any]:
    _sure(type(data) is dict and _REQUIRED <= data.keys() and data.keys() <= set(_FIELDS))
    _sure(next(iter(_personnummer_paths(data)), None) is None)
    tax = load_taxonomy()
    insats = _plain_text(data["insats"], "name")
    _sure(insats in tax.insatser)
    subcategory = data.get("subcategory")
    if subcategory is not None:
        subcategory = _plain_text(subcategory, "name")
        _sure(subcategory in tax.insatser[insats].subcategories)
    person = data["person"]
    _sure(type(person) is dict and {"age", "gender"} <= person.keys() and person.keys() <= _PERSON_FIELDS)
    needs = person.get("needs", [])
    _sure(type(needs) is list and all(type(n) is str and n in _NEEDS for n in needs) and len(set(needs)) == len(needs))
    protected = person.get("protected_identity", False)
    _sure(type(protected) is bool and type(person["gender"]) is str and person["gender"] in _GENDERS)
    for key, known in (("legal_basis", _BASES), ("urgency", _URGENCIES)):
        _sure(type(data[key]) is str and data[key] in known)
    home = data.get("home_municipality")
    home = None if home is None else _plain_municipality(home)
    location = data.get("home_location")
    if location is not None:
        _sure(type(location) is dict and location.keys() == {"lat", "lon"})
        lat, lon = _plain_number(location["lat"]), _plain_number(location["lon"])
        _sure(-90 <= lat <= 90 and -180 <= lon <= 180 and in_sweden(lat, lon) is None)
        location = {"lat": lat, "lon": lon}
    distance = data.get("max_distance_km")
    if distance is not None:
        distance = _plain_number(distance)
        _sure(0 < distance <= 2000 and (location is not None or home is not None))
    price = data.get("max_daily_price")
    if price is not None:
        price = _plain_number(price)
        _sure(0 < price <= MAX_AMOUNT)
    avoid = data.get("avoid_municipalities", [])
    _sure(type(avoid) is list)
    network = data.get("network_considered")
    _sure(network is None or type(network) is bool)
    payload = {
        "request_id": _plain_text(data["request_id"], "id", 64),
        "submitted_on": _plain_date(data["submitted_on"]),
        "municipality": _plain_municipality(data["municipality"]),
        "requester": _plain_text(data["requester"], "actor", 120),
        "insats": insats,
        "subcategory": subcategory,
        "person": {"age": _plain_int(person["age"], 0, 120), "gender": person["gender"], "needs": list(needs),
                   "protected_identity": protected},
        "legal_basis": data["legal_basis"],
        "urgency": data["urgency"],
        "start_on": _plain_date(data["start_on"]),
        "places": _plain_int(data.get("places", 1), 1, 20),
        "home_municipality": home,
        "home_location": location,
        "max_distance_km": distance,
        "avoid_municipalities": list(dict.fromkeys(_plain_municipality(a) for a in avoid)),
        "max_daily_price": price,
    }
    if network is not None:
        payload["network_considered"] = network
    return payload


def checked_request(data: Any, *, file: str | None = None, line: int | None = None) -> Any:
    """The request of one document: `plain_request`'s when the fast check is sure, else
    `validate_request`'s (the model's: its refusals, or its model)."""
    return plain_request(data) or validate_request(data, file=file, line=line)


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
        return [(checked_request(single, file=name), None)]
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
            req = checked_request(data, file=name, line=no)
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
    """The JSON Schema of a request, with the code lists filled in from the taxonomy. Kept in
    the per-user cache (diskcache.py) under the taxonomy's files and placering's code: it is a
    function of both, and building it (pydantic's schema of the model) was most of a
    `request schema`."""
    from ..diskcache import cached
    from ..i18n import language
    from ..paths import registry_dir

    directory = registry_dir()
    return cached("request-schema", [directory / "taxonomy.yaml", directory / "municipalities.yaml"], _schema,
                  extra=f"{directory}\0{language()}")


def _schema() -> dict[str, Any]:
    from .request_model import PlacementRequestIn

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


def home_point_of(location: Any, municipality: str | None) -> tuple[float, float] | None:
    """Where distance is measured from: the home location, else the seat of the home
    municipality (both request forms: the plain one and the pydantic model)."""
    if location is not None:
        return (location.lat, location.lon)
    if municipality is not None:
        m = load_taxonomy().municipality(municipality)
        if m is not None:
            return (m.lat, m.lon)
    return None

"""The insats taxonomy and municipalities, read from `registry/` (data, not code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import Problem, ValidationError
from .paths import registry_dir
from .text import fold, nfc
from .vocabulary import Route, TargetGroup
from .i18n import msg


@dataclass(frozen=True)
class Insats:
    code: str
    label: str
    area: str
    age_min: int
    age_max: int | None
    routes: tuple[str, ...]
    subcategories: dict[str, str]
    requests: dict[int, int]
    # A sub-category's own age band [min, max] where the sources give one (max None: no upper).
    subcategory_ages: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Municipality:
    name: str
    lat: float  # the seat's (centralort's) position
    lon: float
    gr: bool
    code: str = ""  # SCB municipality code
    county: str = ""
    demo: bool = False  # the demo register is generated in these (registry/municipalities.yaml)


@dataclass(frozen=True)
class Taxonomy:
    areas: dict[str, str]
    insatser: dict[str, Insats]
    target_groups: dict[str, str]
    administrations: dict[str, tuple[str, ...]]
    municipalities: dict[str, Municipality]  # keyed by fold(name)

    def insats(self, code: str) -> Insats:
        try:
            return self.insatser[code]
        except KeyError:
            raise ValidationError(msg("taxonomy.unknown_insats", code=code, known=", ".join(sorted(self.insatser)))) from None

    def municipality(self, name: str) -> Municipality | None:
        return self.municipalities.get(fold(name))

    def label(self, code: str) -> str:
        if code in self.insatser:
            return self.insatser[code].label
        return self.target_groups.get(code, code)


def _load(directory: Path) -> Taxonomy:
    from .yamlio import line_of, load_yaml, plain  # parsed only when the per-user cache is cold

    path = directory / "taxonomy.yaml"
    doc = load_yaml(path)
    problems: list[Problem] = []
    areas = {k: v["label"] for k, v in plain(doc.get("areas", {})).items()}
    insatser: dict[str, Insats] = {}
    for code, spec in doc.get("insatser", {}).items():
        line = line_of(doc["insatser"], code)
        routes = tuple(spec.get("routes", []))
        for r in routes:
            if r not in Route.__members__.values():
                problems.append(Problem(msg("taxonomy.unknown_route", route=r), str(path), line, code, "routes"))
        if spec.get("area") not in areas:
            problems.append(Problem(msg("taxonomy.unknown_area", area=str(spec.get("area"))), str(path), line, code, "area"))
        age = spec.get("age", [0, None])
        labels: dict[str, str] = {}
        sub_ages: dict[str, tuple[int | None, int | None]] = {}
        for sub, v in plain(spec.get("subcategories") or {}).items():
            if isinstance(v, dict):
                labels[sub] = nfc(v["label"])
                band = v.get("age")
                ok = (isinstance(band, list) and len(band) == 2 and isinstance(band[0], int)
                      and (band[1] is None or (isinstance(band[1], int) and band[1] >= band[0])))
                if not ok or not v.get("source"):
                    problems.append(Problem(msg("taxonomy.age_band"), str(path), line, f"{code}.{sub}", "age"))
                    continue
                sub_ages[sub] = (band[0], band[1])
            else:
                labels[sub] = nfc(v)
        insatser[code] = Insats(
            code=code,
            label=nfc(spec["label"]),
            area=spec["area"],
            age_min=int(age[0]),
            age_max=None if age[1] is None else int(age[1]),
            routes=routes,
            subcategories=labels,
            requests={int(k): int(v) for k, v in plain(spec.get("requests") or {}).items()},
            subcategory_ages=sub_ages,
        )
    target_groups = {k: nfc(v) for k, v in plain(doc.get("target_groups", {})).items()}
    for code in TargetGroup:
        if code.value not in target_groups:
            problems.append(Problem(msg("taxonomy.target_group_label", code=code.value), str(path)))
    administrations = {
        nfc(k): tuple(nfc(a) for a in v) for k, v in plain(doc.get("administrations", {})).items()
    }
    mpath = directory / "municipalities.yaml"
    mdoc = plain(load_yaml(mpath))
    municipalities = {
        fold(name): Municipality(nfc(name), float(v["lat"]), float(v["lon"]), bool(v.get("gr", False)),
                                 str(v.get("code", "")), nfc(str(v.get("county", ""))), bool(v.get("demo", False)))
        for name, v in mdoc["municipalities"].items()
    }
    if problems:
        raise ValidationError(problems)
    return Taxonomy(areas, insatser, target_groups, administrations, municipalities)


@lru_cache(maxsize=4)
def load_taxonomy(directory: Path | None = None) -> Taxonomy:
    from .diskcache import cached

    directory = directory or registry_dir()
    return cached("taxonomy", [directory / "taxonomy.yaml", directory / "municipalities.yaml"],
                  lambda: _load(directory), extra=str(directory))

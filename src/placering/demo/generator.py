"""The demo register and demo placement requests: deterministic, shaped by DOMAIN.md.

`generate_register()` builds a `placering-register/1` interchange document: about 500
suppliers and 900 units across the eleven insatser (or a national-size register of 20,000
units for benchmarks), with egen regi units run by municipalities, framework agreements with
plausible daily prices and validity dates, IOP for skyddat boende, direct procurement,
IVO permits, supplier checks and register statuses with the 2022 removal-reason mix.
`generate_requests()` builds placement requests with the insats mix of a year's request
volumes. `demo.load.load_demo()` writes it with its history (`placering init --demo`).

Everything is drawn from one `random.Random(seed)` in a fixed order, so the same arguments
give a byte-identical document. The shapes (prices, shares, age options, target groups) are
data in `registry/demo_profiles.yaml`; names are built from `registry/demo_names.yaml`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from ..errors import Problem, ValidationError
from ..paths import registry_dir
from ..taxonomy import Municipality, Taxonomy, load_taxonomy
from ..text import fold, luhn_check_digit
from ..yamlio import load_yaml, plain
from ..i18n import msg

FORMAT = "placering-register/1"
DEMO_SEED = 2024
DEMO_UNITS = 900
DEMO_AS_OF = date(2024, 12, 31)


# --- material ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Material:
    names: dict
    profiles: dict


@lru_cache(maxsize=2)
def _material() -> _Material:
    """The names and profiles, checked against the taxonomy; parsed once per user while the
    files (and placering) are unchanged (diskcache.py), like the taxonomy and the rules."""
    from ..diskcache import cached

    directory = registry_dir()
    files = [directory / f for f in ("demo_names.yaml", "demo_profiles.yaml", "taxonomy.yaml", "municipalities.yaml")]
    return cached("demo_material", files, lambda: _build_material(directory), extra=str(directory))


def _build_material(directory) -> _Material:
    names = plain(load_yaml(directory / "demo_names.yaml"))
    profiles = plain(load_yaml(directory / "demo_profiles.yaml"))
    tax = load_taxonomy()
    problems: list[Problem] = []
    path = str(directory / "demo_profiles.yaml")
    for code, prof in profiles["insatser"].items():
        if code not in tax.insatser:
            problems.append(Problem(msg("taxonomy.unknown_insats_plain", code=code), file=path, record=code))
            continue
        for route in prof["routes"]:
            if route not in tax.insatser[code].routes:
                problems.append(Problem(msg("demo.route_not_allowed", route=route, code=code),
                                        file=path, record=code, field="routes"))
    for code in tax.insatser:
        if code not in profiles["insatser"]:
            problems.append(Problem(msg("demo.no_profile", code=code), file=path))
    if problems:
        raise ValidationError(problems)
    return _Material(names, profiles)


# --- small helpers -------------------------------------------------------------------------


def _apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` in proportion to `weights` (largest remainder; ties in key order)."""
    wsum = sum(weights.values())
    if total <= 0 or wsum <= 0:
        return {k: 0 for k in weights}
    exact = {k: total * w / wsum for k, w in weights.items()}
    out = {k: int(math.floor(v)) for k, v in exact.items()}
    left = total - sum(out.values())
    order = sorted(weights, key=lambda k: (-(exact[k] - out[k]), list(weights).index(k)))
    for k in order[:left]:
        out[k] += 1
    return out


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


def _pick_weighted(rng: random.Random, options: list) -> Any:
    """options: [[value..., weight]]: the value (everything but the last element)."""
    chosen = rng.choices(options, weights=[o[-1] for o in options])[0]
    return chosen[0] if len(chosen) == 2 else chosen[:-1]


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else x


def _near(rng: random.Random, m: Municipality, radius_km: float) -> dict:
    """A point within radius_km of the municipality's seat (uniform over the disc)."""
    r = radius_km * math.sqrt(rng.random())
    a = rng.random() * 2 * math.pi
    lat = m.lat + (r * math.sin(a)) / 111.0
    lon = m.lon + (r * math.cos(a)) / (111.0 * math.cos(math.radians(m.lat)))
    return {"lat": _num(round(lat, 4)), "lon": _num(round(lon, 4))}


def _km(a: Municipality, b: Municipality) -> float:
    dy = (a.lat - b.lat) * 111.0
    dx = (a.lon - b.lon) * 111.0 * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dx, dy)


def month_start_after(d: date, months: int) -> date:
    """The first day of the month `months` months after (or before) d's month."""
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def _price(rng: random.Random, lo: float, hi: float) -> int:
    return int(round(rng.uniform(lo, hi) / 10.0)) * 10


# --- the register --------------------------------------------------------------------------


@dataclass
class _Unit:
    insats: str
    route: str
    municipality: Municipality
    offers: list[tuple[str, list[str], str]]  # (insats, sub-categories, route)
    age_min: int
    age_max: int
    genders: list[str]
    target_groups: list[str]
    places: int
    free_places: int
    location: dict
    protected: bool
    nonprofit: bool = False
    supplier: "_Supplier | None" = None
    unit_id: str = ""
    name: str = ""
    status: str = "published"
    removal_reason: str | None = None
    status_note: str | None = None
    routes: list[dict] = field(default_factory=list)
    permits: list[dict] = field(default_factory=list)


@dataclass
class _Supplier:
    legal_form: str
    units: list[_Unit]
    municipality: Municipality | None = None  # for a municipal supplier (kommun)
    org_nr: str = ""
    name: str = ""
    place: str = ""
    credit: str = "normal"  # normal, low, watch, unpublished, economic
    checks: list[dict] = field(default_factory=list)


class _Names:
    """Unique Swedish-looking names drawn from registry/demo_names.yaml."""

    def __init__(self, rng: random.Random, material: dict):
        self.rng = rng
        self.m = material
        self.used_suppliers: set[str] = set()
        self.used_units: set[str] = set()

    def place(self) -> str:
        rng = self.rng
        if rng.random() < 0.2:
            return rng.choice(self.m["places"])
        return rng.choice(self.m["first_parts"]) + rng.choice(self.m["second_parts"])

    def supplier(self, legal_form: str, insats: str) -> tuple[str, str]:
        rng = self.rng
        patterns = self.m["supplier_patterns"].get(f"{legal_form}:{insats}") or self.m["supplier_patterns"][legal_form]
        for attempt in range(40):
            place = self.place()
            name = rng.choice(patterns).format(
                place=place, region=rng.choice(self.m["regions"]), trade=rng.choice(self.m["trades"][insats])
            )
            if attempt >= 30:
                name = f"{name} {attempt - 28}"
            if fold(name) not in self.used_suppliers:
                self.used_suppliers.add(fold(name))
                return name, place
        raise AssertionError("unreachable: numbered names are unique")

    def unit(self, insats: str, place_hint: str | None, municipality: str) -> str:
        rng = self.rng
        prefix = rng.choice(self.m["unit_prefixes"][insats])
        for attempt in range(30):
            place = place_hint if (attempt == 0 and place_hint) else self.place()
            name = f"{prefix} {place}"
            if attempt >= 20:
                name = f"{name} {municipality}" if attempt == 20 else f"{name} {municipality} {attempt - 19}"
            if fold(name) not in self.used_units:
                self.used_units.add(fold(name))
                return name
        raise AssertionError("unreachable: numbered names are unique")


class _Generator:
    def __init__(self, units: int, seed: int, as_of: date):
        if units < 11:
            raise ValidationError(msg("demo.too_few_units", units=units))
        self.n = units
        self.rng = random.Random(seed)
        self.as_of = as_of
        self.tax: Taxonomy = load_taxonomy()
        from ..rules import load_ruleset

        self.rules = load_ruleset()
        mat = _material()
        self.p = mat.profiles
        self.names = _Names(self.rng, mat.names)
        self.name_material = mat.names
        # The demo's region: the municipalities marked demo (the register knows all 290).
        self.munis: list[Municipality] = [m for m in self.tax.municipalities.values() if m.demo]
        self.by_name = {m.name: m for m in self.munis}
        self.goteborg = self.by_name["Göteborg"]
        self.gr = [m for m in self.munis if m.gr]
        self.national = units >= int(self.p["national_from_units"])
        self.tg_order = list(self.tax.target_groups)
        self._location_weights()

    # -- where units are --
    def _location_weights(self) -> None:
        p = self.p
        if self.national:
            w = p["national_weights"]
            weights = [float(w.get(m.name, w["default"])) for m in self.munis]
        else:
            w = p["location_weights"]
            west = set(p["west_municipalities"])
            weights = [
                float(w["Göteborg"]) if m is self.goteborg
                else float(w["gr"]) if m.gr
                else float(w["west"]) if m.name in west
                else float(w["rest"])
                for m in self.munis
            ]
        cum, total = [], 0.0
        for x in weights:
            total += x
            cum.append(total)
        self.cum_weights = cum
        # Nearest neighbours of each municipality, for buyers and home municipalities.
        self.nearest = {
            m.name: [o for o in sorted(self.munis, key=lambda o: (_km(m, o), o.name)) if o is not m]
            for m in self.munis
        }

    def municipality(self) -> Municipality:
        return self.rng.choices(self.munis, cum_weights=self.cum_weights)[0]

    def municipal_home(self) -> Municipality:
        """Where an egen regi unit is: mostly Göteborgs Stad at regional scale."""
        if self.national:
            return self.municipality()
        if self.rng.random() < float(self.p["municipal_unit_share_goteborg"]):
            return self.goteborg
        return self.rng.choice([m for m in self.gr if m is not self.goteborg])

    # -- step 1: units by insats --
    def insats_counts(self) -> dict[str, int]:
        volumes = {}
        for code, ins in self.tax.insatser.items():
            years = sorted(ins.requests)
            volumes[code] = float(ins.requests[max(y for y in years if y <= 2024)] if years else 1)
        k = len(volumes)
        floor = min(max(1, math.ceil(self.n * float(self.p["small_insats_floor"]))), self.n // k)
        counts = _apportion(self.n - floor * k, volumes)
        return {c: counts[c] + floor for c in volumes}

    def make_unit(self, insats: str) -> _Unit:
        rng, prof = self.rng, self.p["insatser"][insats]
        route = _pick(rng, prof["routes"])
        muni = self.municipal_home() if route == "egen_regi" else self.municipality()
        subs = list(_pick_weighted(rng, prof["offers"]))
        offers = [(insats, subs, route)]
        ages = list(_pick_weighted(rng, prof["ages"]))
        second = self.p["second_offers"].get(insats)
        if second and rng.random() < float(self.p["second_offer_share"]):
            s_code = second["insats"]
            s_prof = self.p["insatser"][s_code]
            s_route = route if route in s_prof["routes"] else "direktupphandling"
            offers.append((s_code, list(_pick_weighted(rng, s_prof["offers"])), s_route))
            if second.get("ages"):
                ages = list(second["ages"])
        for code, osubs, _ in offers:
            for s in osubs:
                raise_to = self.p["insatser"][code].get("sub_age_min", {}).get(s)
                if raise_to is not None:
                    ages[0] = max(ages[0], int(raise_to))
                    ages[1] = max(ages[1], ages[0])
        genders = {"both": ["female", "male"], "female": ["female"], "male": ["male"]}[_pick(rng, prof["genders"])]
        if "avhoppare" in subs and genders == ["female"]:
            genders = ["female", "male"]  # avhoppare are often men
        groups: set[str] = set()
        for code, osubs, _ in offers:
            op = self.p["insatser"][code]
            core = op.get("core_groups") or []
            if core:
                if op.get("core_any"):
                    groups.add(rng.choice(core))
                else:
                    groups.update(core)
            for s in osubs:
                groups.update(op.get("sub_groups", {}).get(s, []))
        for g, prob in prof["groups"].items():
            if rng.random() < float(prob):
                groups.add(g)
        if len(groups) < int(prof.get("min_groups", 1)):
            groups.add(max(prof["groups"], key=lambda g: prof["groups"][g]))
        places = rng.randint(*prof["places"])
        full = self.p["full_share"]
        free = 0 if rng.random() < float(full.get(route, full["default"])) else rng.randint(1, max(1, places // 3))
        return _Unit(
            insats=insats, route=route, municipality=muni, offers=offers,
            age_min=int(ages[0]), age_max=int(ages[1]), genders=genders,
            target_groups=[g for g in self.tg_order if g in groups],
            places=places, free_places=free, location=_near(rng, muni, 15.0),
            protected=bool(prof.get("protected", False)),
        )

    # -- step 2: suppliers --
    def make_suppliers(self, units: list[_Unit]) -> list[_Supplier]:
        rng, p = self.rng, self.p
        municipal: dict[str, _Supplier] = {}
        nonprofit: list[_Unit] = []
        companies: list[_Unit] = []
        for u in units:
            if u.route == "egen_regi":
                sup = municipal.get(u.municipality.name)
                if sup is None:
                    sup = municipal[u.municipality.name] = _Supplier("kommun", [], municipality=u.municipality)
                sup.units.append(u)
                u.supplier = sup
            elif u.route == "iop" or rng.random() < float(p["nonprofit_share"].get(u.insats, 0.0)):
                u.nonprofit = True
                nonprofit.append(u)
            else:
                companies.append(u)
        target = max(1, round(self.n * float(p["suppliers_per_unit"])))
        private = max(0, target - len(municipal))
        n_np, n_co = len(nonprofit), len(companies)
        k_np = min(n_np, max(1 if n_np else 0, round(private * n_np / max(1, n_np + n_co))))
        k_co = min(n_co, max(1 if n_co else 0, private - k_np))
        suppliers = [municipal[m.name] for m in self.munis if m.name in municipal]
        private_suppliers = self._group(nonprofit, k_np, True) + self._group(companies, k_co, False)
        rng.shuffle(private_suppliers)
        return suppliers + private_suppliers

    def _group(self, units: list[_Unit], k: int, nonprofit: bool) -> list[_Supplier]:
        """k suppliers over the units: most run one unit, a few chains run many (Pareto sizes)."""
        rng = self.rng
        if not units or k <= 0:
            return []
        rng.shuffle(units)
        area = {c: i for i, c in enumerate(self.tax.insatser)}
        units.sort(key=lambda u: area[u.insats])  # a chain mostly runs one insats
        extra = {i: rng.paretovariate(1.3) - 1.0 for i in range(k)}
        sizes = _apportion(len(units) - k, extra)
        out: list[_Supplier] = []
        pos = 0
        for i in range(k):
            size = 1 + sizes[i]
            chunk = units[pos:pos + size]
            pos += size
            if nonprofit:
                form = "ideell_forening" if rng.random() < 0.6 else "stiftelse"
            else:
                form = "aktiebolag" if rng.random() < 0.93 else "ekonomisk_forening"
            sup = _Supplier(form, chunk)
            for j, u in enumerate(chunk):
                u.supplier = sup
                if j and rng.random() < 0.6:
                    # A chain's homes are mostly near its first one.
                    home = chunk[0].municipality
                    u.municipality = home if rng.random() < 0.5 else rng.choice(self.nearest[home.name][:4])
                    u.location = _near(rng, u.municipality, 15.0)
            out.append(sup)
        return out

    # -- step 3: identities and names --
    def org_nr(self, prefix: str, used: set[str]) -> str:
        while True:
            nine = prefix + "".join(str(self.rng.randrange(10)) for _ in range(9 - len(prefix)))
            full = nine + luhn_check_digit(nine)
            org = f"{full[:6]}-{full[6:]}"
            if org not in used:
                used.add(org)
                return org

    def name_everything(self, suppliers: list[_Supplier]) -> None:
        used: set[str] = set()
        known = self.name_material["municipal_org_nr"]
        used.update(known.values())
        seq = 0
        for sup in suppliers:
            if sup.legal_form == "kommun":
                m = sup.municipality
                sup.name = self.name_material["municipal_names"].get(m.name) or _kommun_name(m.name)
                if m.name in known:
                    sup.org_nr = known[m.name]
                else:
                    sup.org_nr = self.org_nr("212000", used)
            else:
                prefix = {"aktiebolag": self.rng.choice(["556", "559"]), "ekonomisk_forening": "769",
                          "ideell_forening": "802", "stiftelse": "802"}[sup.legal_form]
                sup.org_nr = self.org_nr(prefix, used)
                sup.name, sup.place = self.names.supplier(sup.legal_form, sup.units[0].insats)
            for i, u in enumerate(sup.units):
                seq += 1
                u.unit_id = f"U-{1000 + seq}"
                hint = sup.place if (i == 0 and sup.place and self.rng.random() < 0.5) else None
                u.name = self.names.unit(u.insats, hint, u.municipality.name)

    # -- step 4: statuses --
    def assign_statuses(self, units: list[_Unit]) -> None:
        rng, p, n = self.rng, self.p, self.n
        pool = list(units)
        rng.shuffle(pool)
        per900 = n / 900.0

        def private(u: _Unit) -> bool:
            return u.supplier.legal_form != "kommun"

        def single(u: _Unit) -> bool:
            return private(u) and len(u.supplier.units) == 1

        def has(route: str):
            return lambda u: any(r == route for _, _, r in u.offers)

        def permit_bound(u: _Unit) -> bool:
            return private(u) and any(self._permit_rule(code, subs) for code, subs, _ in u.offers)

        def take(k: int, *tests) -> list[_Unit]:
            """k free units passing the first test that has enough of them (else the last)."""
            chosen: list[_Unit] = []
            seen: set[int] = set()
            for test in tests:
                for u in pool:
                    if len(chosen) >= k:
                        return chosen
                    if u.status == "published" and id(u) not in seen and test(u):
                        chosen.append(u)
                        seen.add(id(u))
            return chosen

        removals = _apportion(round(float(p["removed_per_900"]) * per900), p["removal_mix"])
        filters = {
            "fortida_upphorande": (lambda u: private(u) and has("ramavtal")(u),),
            "rekommendationsstopp": (has("direktupphandling"),),
            "ivo": (permit_bound,),
            "ekonomiska_brister": (single, private),
            "avradan_annan_myndighet": (private,),
            "osannolik_anvandning": (private,),
            "avvecklad": (lambda u: True,),
        }
        notes = self.name_material["status_notes"]
        for reason in filters:
            for u in take(removals.get(reason, 0), *filters[reason]):
                u.status, u.removal_reason = "removed", reason
                u.status_note = rng.choice(notes[reason]).format(year=self.as_of.year - rng.randrange(3))
                if reason == "ekonomiska_brister":
                    u.supplier.credit = "economic"
        for u in take(max(1, round(float(p["recommendation_stops_per_900"]) * per900)),
                      lambda u: private(u) and has("direktupphandling")(u)):
            u.status = "recommendation_stop"
            u.status_note = rng.choice(notes["recommendation_stop"])
        for status in ("unpublished", "watch"):
            k = round(float(p["status_shares"][status]) * n)
            for u in take(k, single, private):
                u.status = status
                if len(u.supplier.units) == 1 and u.supplier.credit == "normal":
                    u.supplier.credit = status
                    u.status_note = notes[status][0]
                else:
                    u.status_note = notes[status][1]
        low = float(p["credit"]["low_share"])
        for u in pool:
            if u.status == "published" and private(u) and u.supplier.credit == "normal" and rng.random() < low:
                u.supplier.credit = "low"

    # -- step 5: routes and agreements --
    def round_dates(self) -> dict[str, dict[str, tuple[date, date]]]:
        """Per insats: the current, previous (expired) and next (future) procurement rounds."""
        years = int(self.p["agreement_years"])
        out = {}
        first_of_month = self.as_of.replace(day=1)
        for code in self.tax.insatser:
            start = month_start_after(first_of_month, -self.rng.randint(6, 40))
            nxt = month_start_after(first_of_month, self.rng.randint(1, 4))
            out[code] = {
                "current": (start, month_start_after(start, 12 * years) - timedelta(days=1)),
                "expired": (month_start_after(start, -12 * years), start - timedelta(days=1)),
                "future": (nxt, month_start_after(nxt, 12 * years) - timedelta(days=1)),
            }
        return out

    def buyers(self, m: Municipality) -> list[str]:
        rng, p = self.rng, self.p
        chosen: list[Municipality]
        if self.national and not m.gr:
            chosen = [m] + self.nearest[m.name][: rng.randint(0, 3)]
            if rng.random() < 0.1:
                chosen.append(self.goteborg)
        elif rng.random() < float(p["other_buyer_share"]):
            chosen = [rng.choice([g for g in self.gr if g is not self.goteborg])]
        else:
            chosen = [self.goteborg]
            if rng.random() < float(p["gr_buyers_share"]):
                others = [g for g in self.gr if g is not self.goteborg]
                chosen += rng.sample(others, rng.randint(1, 6))
        names = {c.name for c in chosen}
        return [x.name for x in self.munis if x.name in names]  # in municipalities.yaml order

    def price_range(self, insats: str, subs: list[str]) -> tuple[float, float]:
        prof = self.p["insatser"][insats]
        for s in subs:
            if s in prof.get("sub_prices", {}):
                lo, hi = prof["sub_prices"][s]
                return float(lo), float(hi)
        lo, hi = prof["price"]
        return float(lo), float(hi)

    def direct_price(self, insats: str, subs: list[str]) -> int:
        rng, p = self.rng, self.p
        lo, hi = self.price_range(insats, subs)
        if "ramavtal" not in self.tax.insatser[insats].routes:
            return _price(rng, lo, hi)  # no framework to compare with (nödbistånd)
        base = rng.uniform(lo, hi)
        f_lo, f_hi = (float(x) for x in p["direct_factor"])
        factor = rng.uniform(max(1.05, f_lo), f_hi) if rng.random() < float(p["direct_above_share"]) else rng.uniform(f_lo, 1.05)
        return int(round(base * factor / 10.0)) * 10

    def make_routes(self, suppliers: list[_Supplier]) -> None:
        rng, p = self.rng, self.p
        rounds = self.round_dates()
        round_shares = p["agreement_rounds"]
        seq: dict[tuple[str, int], int] = {}
        agreements: list[dict] = []  # shared term dicts, one per agreement

        def new_id(kind: str, abbr: str, start: date) -> str:
            key = (f"{kind}-{abbr}", start.year % 100)
            seq[key] = seq.get(key, 0) + 1
            return f"{kind}-{abbr}-{start.year % 100:02d}-{seq[key]:02d}"

        for sup in suppliers:
            open_agreements: dict[str, dict] = {}
            for u in sup.units:
                for code, subs, route in u.offers:
                    abbr = p["insatser"][code]["abbr"]
                    if route == "egen_regi":
                        u.routes.append({"route": route, "insats": code, "buyers": [], "status": "active"})
                    elif route == "direktupphandling":
                        u.routes.append({"route": route, "insats": code, "daily_price": self.direct_price(code, subs),
                                         "buyers": [], "status": "active"})
                    elif route == "iop":
                        terms = open_agreements.get("iop")
                        if terms is None:
                            start, end = rounds[code]["current"]
                            terms = open_agreements["iop"] = {
                                "agreement_id": new_id("IOP", abbr, start),
                                "valid_from": start.isoformat(), "valid_to": end.isoformat(),
                                "buyers": self.buyers(u.municipality), "status": "active",
                            }
                        u.routes.append({"route": "iop", "insats": code, "agreement_id": terms["agreement_id"],
                                         "valid_from": terms["valid_from"], "valid_to": terms["valid_to"],
                                         "buyers": terms["buyers"], "status": "active"})
                    else:  # ramavtal
                        own = u.removal_reason == "fortida_upphorande" or rng.random() < float(p["split_agreement_share"])
                        key = f"{code}:{u.unit_id}" if own else code
                        terms = open_agreements.get(key)
                        if terms is None:
                            which = "current" if u.removal_reason == "fortida_upphorande" else _pick(rng, round_shares)
                            start, end = rounds[code][which]
                            lo, hi = self.price_range(code, subs)
                            terms = open_agreements[key] = {
                                "agreement_id": new_id("RA", abbr, start),
                                "daily_price": _price(rng, lo, hi),
                                "valid_from": start.isoformat(), "valid_to": end.isoformat(),
                                "buyers": self.buyers(u.municipality),
                                "status": "terminated" if u.removal_reason == "fortida_upphorande" else "active",
                                "reserved_nonprofit": u.nonprofit and rng.random() < 0.5,
                                "round": which, "routes": [],
                            }
                            agreements.append(terms)
                        r = {"route": "ramavtal", "insats": code, "agreement_id": terms["agreement_id"],
                             "daily_price": terms["daily_price"], "valid_from": terms["valid_from"],
                             "valid_to": terms["valid_to"], "buyers": terms["buyers"], "status": terms["status"]}
                        if terms["reserved_nonprofit"]:
                            r["reserved_nonprofit"] = True
                        terms["routes"].append(r)
                        u.routes.append(r)
        # Order stop (beställningsstopp): INK had ten framework suppliers paused at 2024/25.
        k = round(float(p["order_stops_per_900"]) * self.n / 900.0)
        candidates = [a for a in agreements if a["round"] == "current" and a["status"] == "active"]
        for a in rng.sample(candidates, min(k, len(candidates))):
            a["status"] = "order_stop"
            for r in a["routes"]:
                r["status"] = "order_stop"

    # -- step 6: permits --
    def _permit_rule(self, code: str, subs: list[str]) -> bool:
        """Whether the insats is permit-bound on the register's date: the rules' one dated
        parameter permit_required_insatser (RuleSet.permit_required), not a setting of the demo."""
        return self.rules.permit_required(code, self.as_of)

    def _permit_from(self, code: str) -> date | None:
        return self.rules.permit_required_from(code)

    def make_permits(self, units: list[_Unit]) -> None:
        rng, p = self.rng, self.p
        shares = p["permit_shares"]
        dnr = 10000
        for u in units:
            municipal = u.supplier.legal_form == "kommun"
            for code, subs, _ in u.offers:
                if not self._permit_rule(code, subs):
                    continue
                start = self._permit_from(code)
                if (start is not None and not municipal and u.removal_reason != "ivo"
                        and rng.random() < float(p["skyddat_without_permit"])):
                    continue  # applied, IVO has not decided yet
                if start is not None:
                    span = max(1, (self.as_of - start).days - 14)
                    decided = start + timedelta(days=rng.randrange(span))
                else:
                    decided = self.as_of - timedelta(days=rng.randint(30, 15 * 365))
                groups = list(u.target_groups)
                if municipal:
                    status = "notified"
                elif u.removal_reason == "ivo":
                    status = "revoked" if rng.random() < 0.7 else "banned"
                else:
                    x = rng.random()
                    status = ("revoked" if x < shares["revoked"]
                              else "banned" if x < shares["revoked"] + shares["banned"]
                              else "expired" if x < shares["revoked"] + shares["banned"] + shares["expired"]
                              else "active")
                    if len(groups) >= 2 and rng.random() < float(shares["narrower"]):
                        groups.pop(rng.randrange(len(groups)))  # IVO's target group is narrower
                dnr += rng.randint(1, 40)
                u.permits.append({"dnr": f"8.1-{dnr}/{decided.year}", "insats": code, "status": status,
                                  "target_groups": groups, "decided_on": decided.isoformat()})

    # -- step 7: checks --
    def make_checks(self, suppliers: list[_Supplier]) -> None:
        rng, p = self.rng, self.p
        unavailable = float(p["check_unavailable"])

        def on() -> str:
            return (self.as_of - timedelta(days=rng.randint(0, 150))).isoformat()

        for sup in suppliers:
            if sup.legal_form == "kommun":
                sup.checks = [
                    {"kind": "tax_registration", "result": "pass", "performed_on": on(), "source": "Skatteverket"},
                    {"kind": "employer_registration", "result": "pass", "performed_on": on(), "source": "Skatteverket"},
                ]
                continue
            lo, hi = {"normal": (40, 100), "low": (30, 39), "watch": (36, 46),
                      "unpublished": (22, 34), "economic": (20, 30)}[sup.credit]
            value = rng.randint(lo, hi) if sup.credit != "normal" else min(100, int(rng.triangular(40, 100, 78)))
            checks = []
            if sup.credit == "normal" and rng.random() < unavailable:
                checks.append({"kind": "credit_rating", "result": "unavailable", "performed_on": on(),
                               "source": "kreditupplysning"})
            else:
                checks.append({"kind": "credit_rating", "result": "pass" if value >= 40 else "fail",
                               "value": value, "performed_on": on(), "source": "kreditupplysning"})
            for kind in ("tax_registration", "employer_registration"):
                x = rng.random()
                result = "unavailable" if x < unavailable else "fail" if x < unavailable + 0.01 else "pass"
                checks.append({"kind": kind, "result": result, "performed_on": on(), "source": "Skatteverket"})
            if sup.credit == "economic" or rng.random() < 0.3:
                checks.append({"kind": "enforcement_debt", "result": "fail" if sup.credit == "economic" else "pass",
                               "performed_on": on(), "source": "Kronofogden"})
            if rng.random() < 0.25:
                checks.append({"kind": "annual_report", "result": "pass", "performed_on": on(),
                               "source": "Bolagsverket"})
            sup.checks = checks

    # -- all of it --
    def document(self) -> dict:
        counts = self.insats_counts()
        units = [self.make_unit(code) for code, k in counts.items() for _ in range(k)]
        suppliers = self.make_suppliers(units)
        self.name_everything(suppliers)
        ordered = [u for s in suppliers for u in s.units]
        self.assign_statuses(ordered)
        self.make_routes(suppliers)
        self.make_permits(ordered)
        self.make_checks(suppliers)
        return {"format": FORMAT, "suppliers": [_supplier_doc(s) for s in suppliers]}


def _kommun_name(name: str) -> str:
    """'Kungälv' -> 'Kungälvs kommun', 'Ale' -> 'Ale kommun' (no genitive s after a vowel or s)."""
    if name[-1].lower() in "aeiouyåäösxz":
        return f"{name} kommun"
    return f"{name}s kommun"


def _unit_doc(u: _Unit) -> dict:
    out: dict = {
        "unit_id": u.unit_id, "name": u.name, "municipality": u.municipality.name, "location": u.location,
        "protected_address": u.protected, "places": u.places, "free_places": u.free_places,
        "age_min": u.age_min, "age_max": u.age_max, "genders": u.genders, "target_groups": u.target_groups,
        "offers": [{"insats": code, "subcategories": subs} for code, subs, _ in u.offers],
        "routes": u.routes, "permits": u.permits, "status": u.status,
    }
    if u.removal_reason:
        out["removal_reason"] = u.removal_reason
    if u.status_note:
        out["status_note"] = u.status_note
    return out


def _supplier_doc(s: _Supplier) -> dict:
    return {"org_nr": s.org_nr, "name": s.name, "legal_form": s.legal_form, "checks": s.checks,
            "units": [_unit_doc(u) for u in s.units]}


def generate_register(units: int = DEMO_UNITS, *, seed: int = DEMO_SEED, as_of: date = DEMO_AS_OF) -> dict:
    """A deterministic demo register (`placering-register/1`) of about `units` units.

    Same arguments, same document (byte-identical as JSON). About 0.55 suppliers per unit;
    from `national_from_units` (demo_profiles.yaml) units spread over all municipalities
    instead of mostly Göteborgsregionen. `as_of` is the register's date: agreement rounds,
    permit dates and checks are placed relative to it.
    """
    return _Generator(units, seed, as_of).document()


def document_json(doc: dict) -> str:
    """The document as the stable JSON text the determinism promise is about."""
    return json.dumps(doc, ensure_ascii=False, indent=1)


# --- placement requests --------------------------------------------------------------------


def _volume_year(tax: Taxonomy, year: int) -> int:
    years = sorted({y for ins in tax.insatser.values() for y in ins.requests})
    if not years:
        raise ValidationError(msg("demo.no_request_volumes"))
    earlier = [y for y in years if y <= year]
    return earlier[-1] if earlier else years[0]


def request_mix(count: int, year: int = 2024) -> dict[str, int]:
    """How many of `count` requests fall on each insats: the year's request volumes (taxonomy.yaml)."""
    tax = load_taxonomy()
    y = _volume_year(tax, year)
    return _apportion(count, {code: float(ins.requests.get(y, 0)) for code, ins in tax.insatser.items()})


def generate_requests(count: int, *, year: int = 2024, seed: int = 7, municipality: str = "Göteborg") -> list[dict]:
    """`count` placement requests (CONTRACT.md format) with the insats mix of `year`.

    Deterministic. Sub-categories, ages, needs, urgency and distances follow
    registry/demo_profiles.yaml; requesters are the municipality's administrations
    (taxonomy.yaml). No names and no identity numbers: a request carries none.
    """
    if count < 0:
        raise ValidationError(msg("demo.negative_requests", count=count))
    tax = load_taxonomy()
    buyer = tax.municipality(municipality)
    if buyer is None:
        raise ValidationError(Problem(msg("demo.unknown_municipality", name=municipality),
                                      field="municipality"))
    profiles = _material().profiles["insatser"]
    rng = random.Random(f"requests:{seed}:{year}:{buyer.name}")
    admins = list(tax.administrations.get(buyer.name, ()))
    support = [a for a in admins if fold(a).startswith("funktionsst")]
    social = [a for a in admins if a not in support] or ["Socialförvaltningen"]
    support = support or ["Förvaltningen för funktionsstöd"]
    munis = [m for m in tax.municipalities.values() if m.demo]  # the demo's region
    neighbours = [o for o in sorted(munis, key=lambda o: (_km(buyer, o), o.name)) if o is not buyer][:6]

    codes = [c for c, k in request_mix(count, year).items() for _ in range(k)]
    rng.shuffle(codes)
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    submitted = sorted(date(year, 1, 1) + timedelta(days=rng.randrange(days)) for _ in codes)
    width = max(4, len(str(count)))
    out = []
    for i, (code, on) in enumerate(zip(codes, submitted), start=1):
        prof = profiles[code]["requests"]
        ins = tax.insatser[code]
        sub = _pick(rng, prof["subcategories"]) if prof.get("subcategories") else None
        age = rng.randint(*_pick_weighted(rng, prof["ages"]))
        if sub == "forstarkt_familjehem_vuxna":
            age = max(age, 21)  # förstärkt familjehemsvård vuxna: from 21 years
        age = max(age, ins.age_min)
        if ins.age_max is not None:
            age = min(age, ins.age_max)
        male = float(prof["male"]) if sub != "avhoppare" else 0.7
        needs: list[str] = list((prof.get("sub_needs") or {}).get(sub, []))
        for need, prob in prof["needs"].items():
            if len(needs) < int(prof["max_needs"]) and need not in needs and rng.random() < float(prob):
                needs.append(need)
        needs = [g for g in tax.target_groups if g in needs]
        protected = rng.random() < float(prof.get("protected", 0.0))
        akut = sub in ("akut", "akutboende") or rng.random() < float(prof["akut"])
        start = on + timedelta(days=rng.randint(0, 2) if akut else rng.randint(3, 21))
        home = buyer if rng.random() < 0.9 else rng.choice(neighbours)
        places = int(_pick(rng, {str(k): v for k, v in prof["places"].items()})) if prof.get("places") else 1
        request = {
            "request_id": f"R-{year}-{i:0{width}d}",
            "submitted_on": on.isoformat(),
            "municipality": buyer.name,
            "requester": rng.choice(support if prof["requester"] == "funktionsstod" else social),
            "insats": code,
            "subcategory": sub,
            "person": {"age": age, "gender": "male" if rng.random() < male else "female",
                       "needs": needs, "protected_identity": protected},
            "legal_basis": _pick(rng, prof["legal_basis"]),
            "urgency": "akut" if akut else "planerad",
            "start_on": start.isoformat(),
            "places": places,
            "home_municipality": home.name,
        }
        if not protected and rng.random() < 0.5:
            request["home_location"] = _near(rng, home, 8.0)
        request["max_distance_km"] = _pick_weighted(rng, prof["distance"])
        avoid: list[str] = []
        if protected:  # away from where the threat is
            avoid = [home.name] + ([rng.choice(neighbours).name] if rng.random() < 0.3 else [])
            avoid = list(dict.fromkeys(avoid))
        request["avoid_municipalities"] = avoid
        cap = None
        if rng.random() < 0.08 and "ramavtal" in ins.routes:
            cap = int(math.ceil(float(profiles[code]["price"][1]) * 1.1 / 100.0)) * 100
        request["max_daily_price"] = cap
        out.append(request)
    return out

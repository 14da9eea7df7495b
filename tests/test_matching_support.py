"""Small registers and requests for the matching tests, built as interchange documents and
loaded through `placering register import`, the way a register keeper would.

Each test builds the register its path needs: units are described by a few keywords and get
a supplier of their own (a municipality for egen regi, a non-profit for IOP, a company
otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from placering.text import luhn_check_digit

ENGINES = ["durable", "reference", "vectorized"]

HOME = {"lat": 57.7089, "lon": 11.9746}  # Göteborg


@pytest.fixture(params=ENGINES)
def rules_engine(request) -> str:
    return request.param


def org_nr(n: int, *, municipal: bool = False) -> str:
    first = f"{'2120' if municipal else '5566'}{n:05d}"
    return f"{first[:6]}-{first[6:]}{luhn_check_digit(first)}"


_LEGAL_FORM = {"egen_regi": "kommun", "iop": "ideell_forening"}
_SUBS = {"hvb_barn_unga": ["akut", "behandling"], "skyddat_boende": ["vinr_heder", "avhoppare"],
         "socialt_boende": ["akutboende"], "korttidsboende": ["fysisk", "psykisk"]}


def unit(uid: str, route: str = "ramavtal", price: float | None = 4000, *, insats: str = "hvb_barn_unga",
         subs: list[str] | None = None, municipality: str = "Göteborg", loc: tuple[float, float] | None = (57.70, 11.97),
         protected: bool = False, places: int = 6, free: int = 2, age: tuple[int, int] = (13, 17),
         genders: tuple[str, ...] = ("female", "male"),
         groups: tuple[str, ...] = ("missbruk", "kriminalitet", "psykisk_ohalsa"),
         permit: str | None = "active", permit_groups: tuple[str, ...] | None = None, status: str = "published",
         agreement: str | None = None, agreement_status: str = "active",
         valid: tuple[str | None, str | None] = ("2022-01-01", "2026-12-31"), buyers: tuple[str, ...] = ("Göteborg",),
         extra_routes: list[dict] | None = None, removal_reason: str | None = None) -> dict[str, Any]:
    """One unit with one route (and optionally more), as an interchange unit."""
    r: dict[str, Any] = {"route": route, "insats": insats}
    if route in ("ramavtal", "direktupphandling") or price is not None:
        r["daily_price"] = price
    if route == "ramavtal":
        r.update(agreement_id=agreement or f"RA-{uid}", valid_from=valid[0], valid_to=valid[1], buyers=list(buyers),
                 status=agreement_status)
    elif route == "iop":
        r.update(agreement_id=agreement or f"IOP-{uid}", valid_from=valid[0], valid_to=valid[1], buyers=list(buyers))
    doc: dict[str, Any] = {
        "unit_id": uid,
        "name": f"Enhet {uid}",
        "municipality": municipality,
        "protected_address": protected,
        "places": places,
        "free_places": free,
        "age_min": age[0],
        "age_max": age[1],
        "genders": list(genders),
        "target_groups": list(groups),
        "offers": [{"insats": insats, "subcategories": _SUBS.get(insats, []) if subs is None else subs}],
        "routes": [r] + list(extra_routes or []),
        "permits": [],
        "status": status,
    }
    if loc is not None:
        doc["location"] = {"lat": loc[0], "lon": loc[1]}
    if permit is not None:
        doc["permits"].append({
            "dnr": f"8.1-{uid}/2020", "insats": insats,
            "status": "notified" if (route == "egen_regi" and permit == "active") else permit,
            "target_groups": list(permit_groups if permit_groups is not None else groups),
            "decided_on": "2020-06-01",
        })
    if removal_reason:
        doc["removal_reason"] = removal_reason
        doc["status_note"] = "samlad bedömning"
    return doc


def register_doc(*units: dict[str, Any], checks: dict[str, list[dict]] | None = None) -> dict[str, Any]:
    suppliers = []
    for i, u in enumerate(units, start=1):
        route = u["routes"][0]["route"]
        nr = org_nr(i, municipal=route == "egen_regi")
        suppliers.append({
            "org_nr": nr,
            "name": f"Leverantör {u['unit_id']}" if route != "egen_regi" else f"Göteborgs Stad ({u['unit_id']})",
            "legal_form": _LEGAL_FORM.get(route, "aktiebolag"),
            "checks": (checks or {}).get(u["unit_id"], []),
            "units": [u],
        })
    return {"format": "placering-register/1", "suppliers": suppliers}


def supplier_of(doc: dict[str, Any], unit_id: str) -> str:
    for s in doc["suppliers"]:
        if any(u["unit_id"] == unit_id for u in s["units"]):
            return s["org_nr"]
    raise KeyError(unit_id)


def load_register(run, tmp_path: Path, *units: dict[str, Any], checks: dict | None = None) -> dict[str, Any]:
    doc = register_doc(*units, checks=checks)
    path = tmp_path / "register.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    # The register is first loaded from an earlier system: its statuses are the maintainer's decision.
    result = run("register", "import", str(path), "--apply-status", "--by", "registervård")
    assert result.exit_code == 0, result.output
    return doc


def request(rid: str = "R-1", insats: str = "hvb_barn_unga", subcategory: str | None = "akut", *, age: int = 15,
            gender: str = "female", needs: tuple[str, ...] = ("missbruk",), **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "request_id": rid,
        "submitted_on": "2024-09-01",
        "municipality": "Göteborg",
        "requester": "Nordost",
        "insats": insats,
        "subcategory": subcategory,
        "person": {"age": age, "gender": gender, "needs": list(needs), "protected_identity": False},
        "legal_basis": "SoL",
        "urgency": "akut",
        "start_on": "2024-09-02",
        "places": 1,
        "home_municipality": "Göteborg",
        "home_location": dict(HOME),
        "max_distance_km": 150,
        "avoid_municipalities": [],
        "max_daily_price": None,
    }
    doc.update(kw)
    return doc


def write_request(tmp_path: Path, req: dict[str, Any] | list[dict[str, Any]], name: str | None = None) -> Path:
    if isinstance(req, list):
        path = tmp_path / (name or "requests.jsonl")
        path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in req) + "\n", encoding="utf-8")
    else:
        path = tmp_path / (name or f"{req['request_id']}.json")
        path.write_text(json.dumps(req, ensure_ascii=False), encoding="utf-8")
    return path


def match_json(run, tmp_path: Path, req: dict[str, Any] | list, engine: str, *args: str) -> Any:
    """`placering match FILE --json` (with --full for a list: whole documents, not summaries);
    returns the parsed decision (or list of decisions)."""
    path = write_request(tmp_path, req)
    full = ("--full",) if isinstance(req, list) else ()
    result = run("match", str(path), "--engine", engine, "--by", "handläggare", "--json", *full, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ranked(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["unit_id"], r["route"]) for r in decision["recommendations"]]


def excluded(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["unit_id"]: e for e in decision["excluded"]}


def codes(entry: dict[str, Any]) -> set[str]:
    return {r["code"] for r in entry["reasons"]}


def flag(decision: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((f for f in decision["flags"] if f["code"] == code), None)


def rules_copy(tmp_path: Path, edit) -> Path:
    """A copy of the project's rules/ with `edit(relative_path, text) -> text` applied to each file
    (relative_path like 'eligibility.yaml' or 'parameters/procurement.yaml')."""
    import shutil

    from placering.paths import rules_dir

    target = tmp_path / "rules-copy"
    shutil.copytree(rules_dir(), target)
    for path in target.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        new = edit(path.relative_to(target).as_posix(), text)
        if new != text:
            path.write_text(new, encoding="utf-8")
    return target


def drop_rule(text: str, rule_id: str) -> str:
    """Remove one rule (from its `- id:` line to the next rule) from a rule file's text."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- id: {rule_id}")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(indent + "- id:")), len(lines))
    return "".join(lines[:start] + lines[end:])

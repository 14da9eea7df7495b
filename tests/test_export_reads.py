"""`register export` reads without SQLAlchemy (register/reads.export, issue 22 item 1): the
interchange JSON, --show-protected, --csv, --excel and --out give the bytes the ORM view
(register.views.export: the server's) gives, on SQLite and PostgreSQL; a protected address's
coordinates stay out unless asked for; and JSON output (jsondata.dumps) is json.dumps' text."""

from __future__ import annotations

import json
import random

import pytest

from placering.cli import common
from placering.jsondata import JsonList, dumps
from test_matching_support import load_register, unit
from test_startup import ENGINES_AND_TOOLS, ORM, loaded_by


@pytest.fixture
def register(run, tmp_path):
    iop = unit("U-4", route="iop", price=None, insats="skyddat_boende", age=(18, 99), protected=True)
    iop["routes"][0]["reserved_nonprofit"] = True
    priced = unit("U-5", price=4123.5, extra_routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                      "daily_price": 3900, "buyers": ["Göteborg"]}])
    priced["routes"][0]["price_confirmed_on"] = "2025-03-01"
    checks = {"U-1": [{"kind": "credit_rating", "result": "pass", "value": 80, "performed_on": "2025-01-02",
                       "source": "UC"},
                      {"kind": "tax_registration", "result": "unavailable", "performed_on": "2025-02-01"}]}
    load_register(run, tmp_path, unit("U-1", agreement="RA-9"), unit("U-2", route="direktupphandling", price=2000, loc=None),
                  unit("U-3", route="egen_regi", price=None, protected=True, status="removed",
                       removal_reason="avvecklad"), iop, priced, checks=checks)
    assert run("register", "status", "U-1", "watch", "--note", "bevakas", "--by", "registervård").exit_code == 0


def test_export_read_directly_is_the_orm_views(register, run, monkeypatch, tmp_path):
    real = common.AppContext.reader
    for args in ((), ("--json",), ("--show-protected",), ("--csv",), ("--excel",), ("--csv", "--show-protected")):
        monkeypatch.setattr(common.AppContext, "reader", real)
        read = run("register", "export", *args)
        monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
        orm = run("register", "export", *args)
        assert read.exit_code == 0 and (read.stdout, read.stderr) == (orm.stdout, orm.stderr), args
    doc = json.loads(run("register", "export").stdout)
    units = {u["unit_id"]: u for s in doc["suppliers"] for u in s["units"]}
    assert "location" not in units["U-3"] and "location" not in units["U-4"] and "location" in units["U-1"]
    assert units["U-4"]["routes"][0]["reserved_nonprofit"] is True and units["U-3"]["removal_reason"] == "avvecklad"
    assert units["U-5"]["routes"][0]["daily_price"] == 4123.5 and units["U-1"]["status"] == "watch"
    assert [c["kind"] for c in doc["suppliers"][0]["checks"]] == ["credit_rating", "tax_registration"]
    shown = json.loads(run("register", "export", "--show-protected").stdout)
    assert "location" in {u["unit_id"]: u for s in shown["suppliers"] for u in s["units"]}["U-4"]
    for to_orm in (False, True):  # --out: the same file
        monkeypatch.setattr(common.AppContext, "reader", (lambda self: None) if to_orm else real)
        assert run("register", "export", "--out", str(tmp_path / f"x{to_orm}.json")).exit_code == 0
    assert (tmp_path / "xFalse.json").read_bytes() == (tmp_path / "xTrue.json").read_bytes()


def test_export_reads_without_sqlalchemy(register, tmp_path, db_url):
    for args in (["register", "export"], ["register", "export", "--csv"]):
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        assert not (ORM | ENGINES_AND_TOOLS) & set(loaded), args


def _value(rng: random.Random, depth: int):
    r = rng.random()
    if depth > 4 or r < 0.4:
        return rng.choice([1, -3, 2.5, 1e-7, 10**20, float("nan"), float("inf"), None, True, False, "", "å\n\"\\\u2028"])
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["a", "ö", "k\n", "x"]) + str(i): _value(rng, depth + 1) for i in range(rng.randint(0, 5))}


def test_json_output_is_json_dumps_text():
    """jsondata.dumps writes json.dumps(…, ensure_ascii=False, indent=2)'s text, and what it does
    not write itself (a tuple, a key that is not text) json.dumps writes."""
    rng = random.Random(22)
    for _ in range(3000):
        value = _value(rng, 0)
        assert dumps(value) == json.dumps(value, ensure_ascii=False, indent=2), value
    for value in ({}, [], {"a": (1, 2), "b": [1]}, {1: 2, "b": [3]}, {"a": [1], 2: [3]}, JsonList([{"a": 1}, {"b": []}]),
                  {"a": 1, "b": [2], "c": 3, "d": {"e": []}, "f": "g"}):
        assert dumps(value) == json.dumps(value, ensure_ascii=False, indent=2), value

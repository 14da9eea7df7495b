"""Placement requests: the schema, bad requests (field path, nothing stored), JSON-lines batches."""

from __future__ import annotations

import json

import pytest
from conftest import snapshot

from test_matching_support import load_register, match_json, ranked, request, unit, write_request


def test_request_schema_is_json_schema_with_codes():
    from click.testing import CliRunner

    from placering.cli import cli

    r = CliRunner().invoke(cli, ["request", "schema"])
    assert r.exit_code == 0
    schema = json.loads(r.stdout)
    props = schema["properties"]
    assert schema["additionalProperties"] is False
    assert "hvb_barn_unga" in props["insats"]["enum"] and "Göteborg" in props["municipality"]["enum"]
    assert "personnummer" not in props and "name" not in props
    assert schema["$defs"]["Person"]["additionalProperties"] is False
    assert set(schema["required"]) >= {"request_id", "submitted_on", "insats", "person", "start_on"}


BAD = [
    (lambda r: r.update(personnummer="19800101-1234"), "personnummer", "okänt fält"),
    (lambda r: r["person"].update(name="Anna Andersson"), "person.name", "okänt fält (en förfrågan har inga namn eller personnummer"),
    (lambda r: r.update(requester="Nordost 800101-1234"), "requester", "ser ut som ett personnummer"),
    (lambda r: r.update(insats="hvb"), "insats", "okänd insats 'hvb'"),
    (lambda r: r.update(subcategory="jourhem"), "subcategory", "'jourhem' är ingen delkategori av HVB barn och unga"),
    (lambda r: r["person"].update(gender="x"), "person.gender", "värdet ska vara 'female' eller 'male'"),
    (lambda r: r["person"].update(needs=["missbruk", "ensam"]), "person.needs.1", "värdet ska vara"),
    (lambda r: r["person"].update(age=130), "person.age", "värdet ska vara högst 120"),
    (lambda r: r.update(urgency="snart"), "urgency", "värdet ska vara 'akut' eller 'planerad'"),
    (lambda r: r.update(legal_basis="LOU"), "legal_basis", "värdet ska vara"),
    (lambda r: r.update(start_on="2024-02-30"), "start_on", "'2024-02-30' är inget datum i kalendern"),
    (lambda r: r.update(submitted_on="1 sep 2024"), "submitted_on", "är inte ett datum (ÅÅÅÅ-MM-DD)"),
    (lambda r: r.update(municipality="Gotham"), "municipality", "okänd kommun 'Gotham'"),
    (lambda r: r.update(avoid_municipalities=["Mölndal", "Atlantis"]), "avoid_municipalities.1", "okänd kommun"),
    (lambda r: r.pop("person"), "person", "obligatoriskt fält saknas"),
]


@pytest.mark.parametrize("mutate, field, message", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_bad_request_names_the_field_and_stores_nothing(run, engine, tmp_path, mutate, field, message):
    load_register(run, tmp_path, unit("U-1"))
    before = snapshot(engine)
    req = request()
    mutate(req)
    path = write_request(tmp_path, req)
    r = run("match", str(path), "--engine", "reference", "--by", "h")
    assert r.exit_code == 2, r.output
    assert f"fält '{field}'" in r.stderr and message in r.stderr and str(path) in r.stderr
    assert "Traceback" not in r.output
    assert snapshot(engine) == before


def test_jsonl_batch(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1", price=3000), unit("U-2", price=3500), unit("U-D", "direktupphandling", 3000))
    reqs = [request("R-1"), request("R-2", age=16), request("R-3", age=19)]
    decisions = match_json(run, tmp_path, reqs, "reference")
    assert [d["request_id"] for d in decisions] == ["R-1", "R-2", "R-3"]
    assert ranked(decisions[0]) == [("U-1", "ramavtal"), ("U-2", "ramavtal")]
    assert decisions[2]["recommendations"] == [] and decisions[2]["flags"][0]["code"] == "NO_ELIGIBLE_UNIT"
    one = match_json(run, tmp_path, [request("R-4")], "reference")  # a .jsonl file of one: still a list
    assert isinstance(one, list) and one[0]["request_id"] == "R-4"
    human = run("match", str(write_request(tmp_path, reqs, "again.jsonl")), "--engine", "reference", "--by", "h")
    assert human.exit_code == 0
    assert "3 förfrågningar; nya beslut sparade: 0; beslutade tidigare: 3" in human.stdout
    assert "ingen möjlig enhet: 1" in human.stdout


def test_jsonl_batch_with_bad_lines_stores_nothing(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    before = snapshot(engine)
    path = tmp_path / "batch.jsonl"
    bad = request("R-2")
    bad["person"]["age"] = -1
    path.write_text("\n".join([json.dumps(request("R-1")), "{not json", json.dumps(bad), json.dumps(request("R-1"))])
                    + "\n", encoding="utf-8")
    r = run("match", str(path), "--engine", "reference", "--by", "h", "--json")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert f"{path}:2" in r.stderr and "inte giltig JSON" in r.stderr
    assert f"{path}:3, R-2, fält 'person.age'" in r.stderr
    assert f"{path}:4, R-1, fält 'request_id': request_id finns två gånger i filen" in r.stderr
    assert snapshot(engine) == before


def test_unreadable_or_empty_request_file(run, engine, tmp_path):
    load_register(run, tmp_path, unit("U-1"))
    empty = tmp_path / "empty.json"
    empty.write_text("", encoding="utf-8")
    array = tmp_path / "array.json"
    array.write_text(json.dumps([request()], indent=2), encoding="utf-8")
    for path, message in ((tmp_path / "missing.json", "kan inte läsa"), (empty, "innehåller ingen förfrågan"),
                          (array, "den här innehåller en JSON-lista")):
        r = run("match", str(path), "--by", "h")
        assert r.exit_code == 2 and message in r.stderr
    r = run("match", str(write_request(tmp_path, request())), "--engine", "reference")
    assert r.exit_code == 2 and "--by" in r.stderr

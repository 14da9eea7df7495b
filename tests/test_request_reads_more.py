"""`request show --json`, `request show R --explain UNIT` of an excluded unit, `placement show`,
`request schema` and `rules test` as read commands (issue 22 item 1).

- `request show --json` and `--explain` of an excluded unit read through the database's own
  driver (matching/reads.py): every compact decision decided again by the reference evaluator
  (rebuild.full_document_by_reference, checked against its stored digests), one excluded unit
  explained by evaluating that unit's candidates only (rebuild.excluded_as_stored). What they
  give is the ORM view's (the server's) document, for every excluded unit of several requests.
- `placement show` reads directly (casework/placement_read.py): the ORM view's document.
- `request schema` and a clean `rules test` are kept in the per-user cache under the bytes of
  every file they read and the code; a failing run is never kept.
What they import: tests/test_startup.py.
"""

from __future__ import annotations

import json
import random

import pytest

from test_matching_support import load_register, request, unit, write_request

# Three recommended and two below the cut (limit 3), one held back (direct procurement while
# framework units are eligible), excluded ones with one or several reasons and routes, a
# protected unit (its distances in bands), a unit without a position (a distance unevaluable).
UNITS = [unit("U-1", price=3000), unit("U-2", price=3100), unit("U-3", price=3200), unit("U-4", price=3300),
         unit("U-5", price=3400), unit("U-AGE", age=(16, 20)), unit("U-FULL", free=0), unit("U-D", "direktupphandling", 2000),
         unit("U-P", protected=True, age=(16, 20)), unit("U-D12", "direktupphandling", 2500, age=(11, 12)),
         unit("U-FAR", loc=(67.85, 20.22), municipality="Kiruna", age=(18, 20)),
         unit("U-TWO", age=(19, 20), extra_routes=[{"route": "direktupphandling", "insats": "hvb_barn_unga",
                                                    "daily_price": 2600}]),
         unit("U-NOLOC", loc=None, free=0)]
REQUESTS = [request("R-1"), request("R-2", age=16), request("R-3", age=12), request("R-4", age=19, gender="male"),
            request("R-5", max_daily_price=3150)]


@pytest.fixture
def decided(run, tmp_path):
    load_register(run, tmp_path, *UNITS)
    assert run("match", str(write_request(tmp_path, REQUESTS)), "--by", "h").exit_code == 0
    assert run("request", "decline", "R-2", "U-1", "--reason", "Ingen plats", "--by", "h").exit_code == 0
    assert run("request", "rematch", "R-2", "--by", "h").exit_code == 0
    assert run("request", "choose", "R-1", "U-1", "--by", "h").exit_code == 0
    return [r["request_id"] for r in REQUESTS]


def _forget_this_process():
    from placering.matching import compact, rebuild

    compact._DECIDED.clear()
    compact._INDEXES.clear()
    rebuild._REDECIDED.clear()


def _no_columnar_deciding_again(monkeypatch):
    """The direct reads decide nothing again with the columnar evaluator (`redecide`), nor
    explain through `expand`: they answered by the reference evaluator, or not at all."""
    from placering.matching import rebuild

    def refuse(*args, **kwargs):
        raise AssertionError("decided again with the columnar evaluator")

    monkeypatch.setattr(rebuild, "redecide", refuse)
    monkeypatch.setattr(rebuild, "expand", refuse)


def test_request_show_json_and_every_excluded_units_explanation_are_the_orm_views(decided, engine, db_url,
                                                                                  monkeypatch):
    from placering.matching import views
    from placering.matching.reads import request_explain, request_show
    from placering.storage.reads import open_reader

    orm = {}
    for r in decided:
        _forget_this_process()
        orm[r] = views.request_show(engine, r, full=True)
    latest = orm["R-1"]["decisions"][-1]
    assert len(latest["recommendations"]) == 3 and latest["below_cut"] and latest["excluded"]
    assert any(e.get("eligible") for e in latest["excluded"])  # U-D held back
    assert len(orm["R-2"]["decisions"]) == 2 and orm["R-2"]["declines"]
    assert any(e["unevaluable"] for d in orm.values() for e in d["decisions"][-1]["excluded"])
    explained = 0
    with monkeypatch.context() as m:
        _no_columnar_deciding_again(m)
        with open_reader(db_url) as db:
            for r in decided:
                _forget_this_process()
                assert json.dumps(request_show(db, r, full=True)) == json.dumps(orm[r]), r
                for entry in orm[r]["decisions"][-1]["excluded"]:
                    if entry.get("eligible"):
                        continue  # held back: listed with the decision or decided again (the ORM view)
                    _forget_this_process()
                    got = request_explain(db, r, entry["unit_id"])
                    assert got is not None, (r, entry["unit_id"])  # answered without deciding again
                    m.undo()
                    _forget_this_process()
                    expected = views.request_explain(engine, r, entry["unit_id"])
                    _no_columnar_deciding_again(m)
                    assert json.dumps(got) == json.dumps(expected), (r, entry["unit_id"])
                    assert got["status"] in ("excluded", "unevaluable") and got["reasons"] + got["unevaluable"]
                    explained += 1
    assert explained >= 25


def test_an_excluded_unit_the_rules_now_explain_otherwise_is_left_to_the_orm_view(decided, db_url, monkeypatch):
    """The stored reason codes are the check: when the unit's candidates evaluate to other
    codes than those stored with the decision (here: stored codes changed), or to an eligible
    candidate, the direct read does not answer (the ORM view decides again, with its digests)."""
    from placering.matching import compact
    from placering.matching.reads import request_explain
    from placering.storage.reads import open_reader

    real = compact.decode_grouped

    def other_codes(data, blob=None):
        return [dict(g, code="CAPACITY") if g["code"] == "AGE" else g for g in real(data, blob)]

    monkeypatch.setattr(compact, "decode_grouped", other_codes)
    _forget_this_process()
    with open_reader(db_url) as db:
        assert request_explain(db, "R-1", "U-AGE") is None
        assert request_explain(db, "R-1", "U-D") is None  # held back: not an excluded unit


def test_the_cli_says_what_the_orm_view_says(decided, run, monkeypatch):
    """Text and JSON, Swedish and English, through the direct reads and through the ORM view
    (no reader): the same bytes and exit codes."""
    from placering.cli import common

    real = common.AppContext.reader
    questions = [("request", "show", "R-2", "--json"), ("--json", "request", "show", "R-4"),
                 ("request", "show", "R-1", "--explain", "U-AGE"), ("request", "show", "R-4", "--explain", "U-P"),
                 ("request", "show", "R-1", "--explain", "U-NOLOC", "--json"),
                 ("request", "show", "R-2", "--explain", "U-1"), ("request", "show", "R-1", "--explain", "U-D"),
                 ("placement", "show", "R-1"), ("placement", "show", "R-1", "--json"), ("placement", "show", "R-2"),
                 ("placement", "show", "R-404")]
    for args in questions:
        for env in ({}, {"PLACERING_LANG": "en"}):
            monkeypatch.setattr(common.AppContext, "reader", real)
            _forget_this_process()
            read = run(*args, env=env)
            monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
            _forget_this_process()
            orm = run(*args, env=env)
            assert (read.exit_code, read.output) == (orm.exit_code, orm.output), (args, env)


def test_placement_show_reads_the_orm_views_document(decided, run, engine, db_url):
    from placering.casework import views
    from placering.casework.placement_read import placement_show
    from placering.storage.reads import open_reader

    with open_reader(db_url) as db:
        assert placement_show(db, "R-1") == views.placement_show(engine, "R-1")  # no agreement yet
        assert placement_show(db, "R-2") is None and placement_show(db, "R-404") is None  # the ORM view's errors
    done = run("placement", "decision", "R-1", "--from", "2024-09-02", "--by", "h")
    assert done.exit_code == 0, done.output
    assert run("placement", "agreement", "R-1", "--from", "2024-09-02", "--to", "2025-03-01", "--price", "3100",
               "--signed-on", "2024-09-01", "--by", "h").exit_code == 0
    with open_reader(db_url) as db:
        row = placement_show(db, "R-1")
    assert row == views.placement_show(engine, "R-1")
    assert row["agreement_price"] == 3100 and row["problems"] == ["period_differs", "price_differs"]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_list_of_positions_is_hashed_as_its_array(seed):
    """compact.sets_digest of the reference evaluator's sets (lists, hashed without numpy) is
    the columnar evaluator's (numpy arrays): sorted, unsorted, repeated and empty sets."""
    import numpy as np

    from placering.matching.compact import sets_digest

    rng = random.Random(seed)
    sets = {f"exclude:X:R{i}": sorted(rng.sample(range(5000), rng.randrange(0, 300))) for i in range(8)}
    sets["exclude:Y:R9"] = [7, 3, 3, 9, 1]
    sets["unevaluable:R10"] = [4]
    assert sets_digest(sets) == sets_digest({k: np.asarray(v, dtype=np.int64) for k, v in sets.items()})


def test_request_schema_is_kept_as_built():
    from placering.matching.request import _schema, request_schema

    assert json.dumps(request_schema()) == json.dumps(_schema())
    assert json.dumps(request_schema()) == json.dumps(_schema())  # read back from the cache


def test_a_clean_rules_test_run_is_kept_and_a_failing_one_never(tmp_path, monkeypatch):
    """Kept under every file the run reads: a case file changed so that a case fails runs the
    cases again and reports the failure, every time; changed back, the kept clean run answers."""
    from placering.paths import rules_dir
    from placering.rules import testing
    from test_matching_support import rules_copy

    monkeypatch.setenv("PLACERING_CACHE_DIR", str(tmp_path / "cache"))
    copy = rules_copy(tmp_path, lambda rel, text: text)
    clean = testing.run_rule_tests(copy)
    assert clean and all(r.passed for r in clean)
    assert [r.case.id for r in testing.run_rule_tests(copy)] == [r.case.id for r in clean]
    assert len(list((tmp_path / "cache").glob("rule-test-results-*"))) == 1
    case_file = copy / "tests" / "eligibility.yaml"
    original = case_file.read_text(encoding="utf-8")
    assert "ELIG-AGE" in original
    case_file.write_text(original.replace("ELIG-AGE", "ELIG-CAPACITY"), encoding="utf-8")
    runs = 0
    real = testing.run_case

    def counted(*args, **kwargs):
        nonlocal runs
        runs += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(testing, "run_case", counted)
    for _ in range(2):
        failed = [r for r in testing.run_rule_tests(copy) if not r.passed]
        assert failed and all(r.failures for r in failed)
    assert runs == 2 * len(clean)  # run both times: a failing run is not kept
    assert len(list((tmp_path / "cache").glob("rule-test-results-*"))) == 1
    case_file.write_text(original, encoding="utf-8")
    runs = 0
    assert all(r.passed for r in testing.run_rule_tests(copy)) and runs == 0  # the clean run kept
    assert rules_dir() != copy

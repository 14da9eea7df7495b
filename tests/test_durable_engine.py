"""The durable-rules adapter: same outcomes as the reference evaluator, and every guard against
the defects in durable-rules-notes.md (dropped facts, sessions, mutated definitions, action
errors, unhandled messages, text, threads, memory recycling, unit updates)."""

from __future__ import annotations

import threading
import unicodedata
from datetime import date

import pytest

from placering.errors import ValidationError
from placering.demo import generate_register, generate_requests
from placering.rules import load_ruleset
from placering.rules.durable_compile import CompileError, compile_rules
from placering.rules.durable_engine import DurableEvaluator, EngineError
from placering.rules.facts import RegisterSnapshot, request_fact
from placering.rules.model import (
    Arith, Compare, Exclude, Field, Literal, Matches, Not, Rule, Source,
)
from placering.rules.reference import ReferenceEvaluator
from placering.taxonomy import load_taxonomy

ON = date(2024, 9, 1)


def outcome_key(ev) -> tuple:
    """Everything a user sees of an evaluation: per candidate its reasons, and request flags."""
    return (
        [(c.unit_id, c.route, c.agreement_id, c.exclusions, c.flags, c.unevaluable) for c in ev.candidates],
        ev.request_flags,
        ev.unevaluable,
    )


@pytest.fixture(scope="module")
def world():
    rs, tax = load_ruleset(), load_taxonomy()
    snap = RegisterSnapshot.from_document(generate_register(units=900), on=ON)
    reqs = [request_fact(q, snap, tax) for q in generate_requests(40)]
    return rs, tax, snap, reqs


@pytest.fixture
def durable(world):
    rs, _, snap, _ = world
    ev = DurableEvaluator(rs)
    ev.load(snap)
    yield ev
    ev.close()


def _unit(uid: str, **over) -> dict:
    unit = {
        "unit_id": uid, "name": f"Enhet {uid}", "municipality": "Göteborg",
        "location": {"lat": 57.71, "lon": 11.97}, "protected_address": False,
        "places": 8, "free_places": 2, "age_min": 13, "age_max": 17,
        "genders": ["female", "male"], "target_groups": ["missbruk", "kriminalitet"],
        "offers": [{"insats": "hvb_barn_unga", "subcategories": ["akut", "behandling"]}],
        "routes": [{"route": "ramavtal", "insats": "hvb_barn_unga", "agreement_id": f"RA-{uid}",
                    "daily_price": 4200, "valid_from": "2022-05-01", "valid_to": "2026-04-30",
                    "buyers": ["Göteborg"], "status": "active"}],
        "permits": [{"dnr": f"8.1-{uid}", "insats": "hvb_barn_unga", "status": "active",
                     "target_groups": ["missbruk", "kriminalitet"], "decided_on": "2019-06-01"}],
        "status": "published",
    }
    unit.update(over)
    return unit


def _snapshot(*units: dict) -> RegisterSnapshot:
    doc = {"format": "placering-register/1", "suppliers": [
        {"org_nr": "556677-8899", "name": "Vårdbolaget Ängen AB", "legal_form": "aktiebolag",
         "checks": [], "units": list(units)}]}
    return RegisterSnapshot.from_document(doc, on=ON)


def _request(tax, snap, **over) -> dict:
    req = {
        "request_id": "R-1", "submitted_on": "2024-09-01", "municipality": "Göteborg", "requester": "Nordost",
        "insats": "hvb_barn_unga", "subcategory": "akut",
        "person": {"age": 15, "gender": "female", "needs": ["missbruk"], "protected_identity": False},
        "legal_basis": "SoL", "urgency": "akut", "start_on": "2024-09-02", "places": 1,
        "home_municipality": "Göteborg", "home_location": {"lat": 57.71, "lon": 11.97},
        "max_distance_km": 150, "avoid_municipalities": [], "max_daily_price": None,
    }
    req.update(over)
    return request_fact(req, snap, tax)


def _both(rs, snap, rf, on=ON):
    ref = ReferenceEvaluator(rs)
    ref.load(snap)
    dur = DurableEvaluator(rs)
    dur.load(snap)
    try:
        return ref.evaluate(rf, on=on), dur.evaluate(rf, on=on)
    finally:
        dur.close()


def codes(outcome) -> list[str]:
    return [r.rule for r in outcome.exclusions + outcome.flags + outcome.unevaluable]


# -- agreement with the reference ------------------------------------------------------------------

@pytest.mark.parametrize("session_size", [500, 7])
def test_demo_register_requests_agree_with_reference(world, monkeypatch, session_size):
    """Also with the candidates of an insats spread over many small sessions (the request is
    asserted into each; request-level flags must still come once)."""
    import placering.rules.durable_engine as engine_module

    monkeypatch.setattr(engine_module, "SESSION_SIZE", session_size)
    rs, _, snap, reqs = world
    durable = DurableEvaluator(rs)
    durable.load(snap)
    ref = ReferenceEvaluator(rs)
    ref.load(snap)
    excluded = 0
    for rf in reqs:
        a, b = ref.evaluate(rf, on=ON), durable.evaluate(rf, on=ON)
        assert outcome_key(b) == outcome_key(a), rf["request_id"]
        excluded += sum(1 for c in b.candidates if c.exclusions)
    assert excluded > 0  # the requests do exercise exclusions
    if session_size == 7:
        assert max(len(v) for v in durable._chunks.values()) > 10
        unit_id = snap.candidates("socialt_boende")[3]["unit"]["unit_id"]
        for cand in snap.candidates("socialt_boende"):
            if cand["unit"]["unit_id"] == unit_id:
                cand["unit"]["status"] = "removed"
        durable.update_unit(unit_id)
        rf = next(r for r in reqs if r["insats"] == "socialt_boende")
        b = durable.evaluate(rf, on=ON)
        assert outcome_key(b) == outcome_key(ref.evaluate(rf, on=ON))
        assert "ELIG-STATUS" in codes(b.candidate(unit_id)[0])
    durable.close()


def test_effective_dating_skyddat_boende_permit_from_2024_04_01(world):
    rs, tax, _, _ = world
    no_permit = _unit("U-1", offers=[{"insats": "skyddat_boende", "subcategories": []}], permits=[],
                      routes=[{"route": "egen_regi", "insats": "skyddat_boende", "buyers": [], "status": "active"}],
                      age_min=18, age_max=99)
    snap = _snapshot(no_permit)
    for day, permit_required in ((date(2024, 3, 31), False), (date(2024, 4, 1), True)):
        rf = _request(tax, snap, insats="skyddat_boende", subcategory=None, submitted_on=day.isoformat(),
                      start_on=day.isoformat(), person={"age": 30, "gender": "female", "needs": ["vald"]})
        a, b = _both(rs, snap, rf, on=day)
        assert outcome_key(a) == outcome_key(b)
        assert ("ELIG-PERMIT-MISSING" in codes(b.candidates[0])) is permit_required


def test_missing_location_is_unevaluable_not_excluded(world):
    rs, tax, _, _ = world
    snap = _snapshot(_unit("U-1", location=None), _unit("U-2"))
    rf = _request(tax, snap)
    a, b = _both(rs, snap, rf)
    assert outcome_key(a) == outcome_key(b)
    u1 = b.candidate("U-1")[0]
    assert [r.rule for r in u1.unevaluable] == ["ELIG-DISTANCE"]
    assert u1.unevaluable[0].values["missing"] == ["unit.lat", "unit.lon"]
    assert not u1.exclusions and not u1.eligible
    assert b.candidate("U-2")[0].eligible


def test_long_request_lists_recompile_with_room(world):
    rs, tax, _, _ = world
    snap = _snapshot(*[_unit(f"U-{i}") for i in range(12)])
    declined = [f"U-{i}" for i in range(0, 12, 2)] + [f"U-X{i}" for i in range(5)]
    rf = _request(tax, snap, declined_units=declined)
    a, b = _both(rs, snap, rf)
    assert outcome_key(a) == outcome_key(b)
    assert {c.unit_id for c in b.candidates if "ELIG-DECLINED" in codes(c)} == {f"U-{i}" for i in range(0, 12, 2)}


# -- text --------------------------------------------------------------------------------------------

def test_nfd_text_is_normalised_before_comparison(world):
    rs, tax, _, _ = world
    nfd = unicodedata.normalize("NFD", "Malmö")
    snap = _snapshot(_unit("U-1", municipality=nfd), _unit("U-2"))
    rf = _request(tax, snap, avoid_municipalities=["Malmö"])
    a, b = _both(rs, snap, rf)
    assert outcome_key(a) == outcome_key(b)
    assert "ELIG-MUNICIPALITY" in codes(b.candidate("U-1")[0])
    assert "ELIG-MUNICIPALITY" not in codes(b.candidate("U-2")[0])
    # A fact that reaches the engine unnormalised (NFD unit id) still equals its NFC form.
    dur = DurableEvaluator(rs)
    dur.load(snap)
    cand = snap.candidates("hvb_barn_unga")[0]
    cand["unit"]["unit_id"] = unicodedata.normalize("NFD", "U-Å")
    dur.update_unit(cand["unit"]["unit_id"])
    rf = _request(tax, snap, declined_units=["U-Å"])
    fired = dur.decide(rf, on=ON)
    cid = next(cid for cid, c in dur._residents["hvb_barn_unga"] if c is cand)
    assert fired[cid].get("ELIG-DECLINED") == "outcome"
    dur.close()


def _rule(when, rid="TEST-RULE") -> Rule:
    return Rule(id=rid, title="t", description="d", stage="eligibility", scope="candidate", source=Source(law="x"),
                valid_from=date(2020, 1, 1), valid_to=None, applies_when=None, when=when,
                outcome=Exclude("STATUS", "m"), file="rules/test.yaml", line=7)


@pytest.mark.parametrize("when, words", [
    (Compare("lt", Field("unit.status"), Literal("published")), "ordering comparison on text"),
    (Not(Matches(Field("unit.status"), "pub[a-z]+")), "negated 'matches'"),
    (Matches(Field("unit.status"), "pub.+"), "byte by byte"),
    (Matches(Field("unit.status"), "pub\\-x"), "backslash escape"),
    (Compare("gt", Field("unit.places"), Arith("div", Field("request.places"), Field("unit.free_places"))),
     "division by a field"),
])
def test_constructs_durable_cannot_do_faithfully_are_refused_at_compile_time(world, when, words):
    rs = world[0]
    with pytest.raises(CompileError) as err:
        compile_rules([_rule(when)], ON, rs, {"unit.genders": 2})
    text = str(err.value)
    assert words in text and "TEST-RULE" in text and "rules/test.yaml:7" in text
    assert isinstance(err.value, ValidationError)


# -- guards ------------------------------------------------------------------------------------------

def test_dropped_fact_is_detected(world, monkeypatch):
    """durable-rules was seen to drop a fact silently; simulate that and expect an error."""
    import json

    import durable_rules_engine

    rs, _, snap, reqs = world
    real = durable_rules_engine.assert_facts

    def drop_last(handle, payload):
        facts = json.loads(payload)
        return real(handle, json.dumps(facts[:-1] if len(facts) > 1 else facts, ensure_ascii=False))

    monkeypatch.setattr(durable_rules_engine, "assert_facts", drop_last)
    dur = DurableEvaluator(rs)
    dur.load(snap)
    with pytest.raises(EngineError, match="facts dropped"):
        dur.evaluate(reqs[0], on=ON)
    monkeypatch.undo()
    dur.close()


def test_loaded_engine_holds_every_candidate_with_a_unique_id(world, durable):
    _, _, snap, reqs = world
    for insats, cands in snap.by_insats.items():
        held = [f for f in durable.held_facts(ON, insats) if f.get("k") == "c"]
        assert len(held) == len(cands)
        assert len({f["id"] for f in held}) == len(cands)


def test_sessions_and_rulesets_are_reused(world, durable):
    _, _, snap, reqs = world
    for rf in reqs:
        durable.evaluate(rf, on=ON)
    for rf in reqs[:5]:
        durable.evaluate(rf, on=date(2024, 10, 1))  # same rule versions: same compiled ruleset
    assert len(durable._host._ruleset_list) == 1
    (comp,) = durable._compiled.values()
    assert comp.sessions.insats <= set(snap.by_insats)
    durable.evaluate(reqs[0], on=date(2024, 3, 1))  # other parameter values: a second ruleset
    names = [r._name for r in durable._host._ruleset_list]
    assert len(names) == 2 and len(set(names)) == 2


def test_compiled_definition_is_not_mutated_and_named_by_content(world):
    """Registering mutates the dict it is given (it removes 'run'): the adapter registers
    copies, so the cached definition serves a second Host unchanged."""
    import placering.rules.durable_engine as engine_module
    from placering.rules.durable_compile import content_name

    rs, _, snap, reqs = world
    first = DurableEvaluator(rs)
    first.load(snap)
    first.evaluate(reqs[0], on=ON)
    ((key, (definition, _, name, _)),) = [(k, v) for k, v in engine_module._DEFINITIONS.items()
                                          if k[0] == rs.version and k == first._by_date[ON]]
    rules = [r for s in ("eligibility", "review") for r in rs.rules_for(s, ON)]
    fresh, _ = compile_rules(rules, ON, rs, first._capacities)
    assert definition == fresh and name == content_name(fresh)
    assert all("run" not in body for body in definition.values())
    second = DurableEvaluator(rs)
    second.load(snap)
    assert outcome_key(second.evaluate(reqs[0], on=ON)) == outcome_key(first.evaluate(reqs[0], on=ON))
    first.close()
    second.close()


def test_session_limit_is_enforced(world, monkeypatch):
    import placering.rules.durable_engine as engine_module

    rs, _, snap, _ = world
    monkeypatch.setattr(engine_module, "SESSION_SIZE", 2)
    monkeypatch.setattr(engine_module, "MAX_SIDS", 50)
    dur = DurableEvaluator(rs)
    with pytest.raises(EngineError, match="at most 50"):
        dur.load(snap)


def test_an_exception_inside_an_action_is_raised_not_swallowed(world, durable):
    _, _, _, reqs = world
    durable.evaluate(reqs[0], on=ON)
    (comp,) = durable._compiled.values()
    # Going through durable's own Python action path runs a registered action, which no
    # evaluation ever does: the adapter must surface it rather than let durable swallow it.
    durable._host.assert_fact(comp.name, {"id": "init-2", "sid": reqs[0]["insats"], "k": "init"})
    with pytest.raises(EngineError, match="action failed"):
        durable.evaluate(reqs[0], on=ON)


def test_a_message_no_rule_can_hold_is_an_error(world, durable):
    import durable_rules_engine

    _, _, _, reqs = world
    durable.evaluate(reqs[0], on=ON)
    (comp,) = durable._compiled.values()
    with pytest.raises(EngineError, match="did not store"):
        durable._run(durable_rules_engine.assert_fact, comp.name, {"id": "q", "sid": "x", "k": "unknown"})


def test_threads_share_one_evaluator_safely(world, durable):
    rs, _, snap, reqs = world
    expected = [outcome_key(durable.evaluate(rf, on=ON)) for rf in reqs[:12]]
    results: dict[int, list] = {}

    def work(t: int) -> None:
        results[t] = [outcome_key(durable.evaluate(rf, on=ON)) for rf in reqs[:12]]

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[t] == expected for t in range(4))


def test_recycling_the_host_keeps_results(world):
    rs, _, snap, reqs = world
    ref = ReferenceEvaluator(rs)
    ref.load(snap)
    dur = DurableEvaluator(rs, recycle_matches=1)
    dur.load(snap)
    for rf in reqs[:6]:
        assert outcome_key(dur.evaluate(rf, on=ON)) == outcome_key(ref.evaluate(rf, on=ON))
    assert dur.recycles >= 5
    dur.close()


def test_register_event_updates_the_resident_unit(world):
    rs, tax, _, _ = world
    snap = _snapshot(_unit("U-1"), _unit("U-2"))
    dur = DurableEvaluator(rs)
    dur.load(snap)
    rf = _request(tax, snap)
    assert dur.evaluate(rf, on=ON).candidate("U-1")[0].eligible
    for cand in snap.candidates("hvb_barn_unga"):  # the status change, as the facts see it
        if cand["unit"]["unit_id"] == "U-1":
            cand["unit"]["status"] = "removed"
    dur.update_unit("U-1")
    a = ReferenceEvaluator(rs)
    a.load(snap)
    b = dur.evaluate(rf, on=ON)
    assert outcome_key(b) == outcome_key(a.evaluate(rf, on=ON))
    assert codes(b.candidate("U-1")[0]) == ["ELIG-STATUS"]
    assert b.candidate("U-2")[0].eligible
    held = [f for f in dur.held_facts(ON, "hvb_barn_unga") if f.get("k") == "c"]
    assert len(held) == 2
    dur.close()


def test_equal_compilations_share_one_ruleset(world, tmp_path):
    """Two dated parameter values that are equal compile to the same durable definition:
    registering its content-hash name twice would raise, so both dates share it."""
    import shutil

    rs, tax, _, _ = world
    rules = tmp_path / "rules"
    shutil.copytree(rs.directory, rules)
    proc = rules / "parameters" / "procurement.yaml"
    text = proc.read_text()
    old = "      - valid_from: 2020-01-01\n        valid_to: null\n        value: 1.25\n"
    assert old in text
    proc.write_text(text.replace(old, "      - valid_from: 2020-01-01\n        valid_to: 2024-06-30\n        value: 1.25\n"
                                      "        source: {document: x}\n"
                                      "      - valid_from: 2024-07-01\n        valid_to: null\n        value: 1.25\n", 1))
    split = load_ruleset(rules)
    snap = _snapshot(_unit("U-1"))
    dur = DurableEvaluator(split)
    dur.load(snap)
    for day in ("2024-06-01", "2024-08-01"):
        rf = _request(tax, snap, submitted_on=day, start_on=day)
        assert dur.evaluate(rf, on=date.fromisoformat(day)).candidate("U-1")[0].eligible
    assert len(dur._compiled) == 2 and len(dur._host._ruleset_list) == 1
    dur.close()


def test_a_unit_update_with_a_longer_list_recompiles(world):
    rs, tax, _, _ = world
    snap = _snapshot(_unit("U-1", target_groups=["missbruk"]), _unit("U-2"))
    dur = DurableEvaluator(rs)
    dur.load(snap)
    rf = _request(tax, snap, person={"age": 15, "gender": "female", "needs": ["missbruk", "npf", "vald"]})
    assert "ELIG-TARGET-GROUP" in codes(dur.evaluate(rf, on=ON).candidate("U-1")[0])
    for cand in snap.candidates("hvb_barn_unga"):
        if cand["unit"]["unit_id"] == "U-1":
            cand["unit"]["target_groups"] = ["missbruk", "kriminalitet", "npf", "vald", "heder"]
    dur.update_unit("U-1")
    ref = ReferenceEvaluator(rs)
    ref.load(snap)
    b = dur.evaluate(rf, on=ON)
    assert outcome_key(b) == outcome_key(ref.evaluate(rf, on=ON))
    assert "ELIG-TARGET-GROUP" not in codes(b.candidate("U-1")[0])
    dur.close()


def test_a_parameter_without_a_value_makes_the_rule_unevaluable(world, tmp_path):
    """As in the reference: a rule whose parameter has no value on the date is reported as
    unevaluable wherever it applies, never silently passed."""
    import shutil

    rs, tax, _, _ = world
    rules = tmp_path / "rules"
    shutil.copytree(rs.directory, rules)
    proc = rules / "parameters" / "procurement.yaml"
    text = proc.read_text()
    old = "      - valid_from: 2020-01-01\n        valid_to: null\n        value: 1.25\n"
    proc.write_text(text.replace(old, "      - valid_from: 2020-01-01\n        valid_to: 2023-12-31\n        value: 1.25\n", 1))
    gap = load_ruleset(rules)
    direct = {"route": "direktupphandling", "insats": "hvb_barn_unga", "agreement_id": None, "daily_price": 9000,
              "valid_from": None, "valid_to": None, "buyers": [], "status": "active"}
    framework = _unit("U-2")
    snap = _snapshot(_unit("U-1", routes=[direct]), framework)
    rf = _request(tax, snap)
    a, b = _both(gap, snap, rf)
    assert outcome_key(a) == outcome_key(b)
    (reason,) = b.candidate("U-1")[0].unevaluable
    assert reason.rule == "REVIEW-PRICE-ABOVE-REFERENCE"
    assert "param.direct_procurement_price_factor" in reason.values["missing"]


def test_a_supported_pattern_matches_as_in_the_reference(world, tmp_path):
    import shutil

    rs, tax, _, _ = world
    rules = tmp_path / "rules"
    shutil.copytree(rs.directory, rules)
    (rules / "zz_pattern.yaml").write_text(
        "stage: eligibility\n"
        "rules:\n"
        "  - id: TEST-PATTERN\n"
        "    title: \"Mönster\"\n"
        "    description: \"A unit id of digits only after U- is excluded (test rule).\"\n"
        "    source: {document: test}\n"
        "    valid_from: 2020-01-01\n"
        "    valid_to: null\n"
        "    when: {matches: [unit.unit_id, \"U-[0-9]+(a|b)?\"]}\n"
        "    outcome: {exclude: SUBCATEGORY, message: \"{unit.unit_id}\"}\n")
    with_pattern = load_ruleset(rules)
    snap = _snapshot(_unit("U-1"), _unit("U-Å1"), _unit("U-12b"), _unit("U-1c"))
    rf = _request(tax, snap)
    a, b = _both(with_pattern, snap, rf)
    assert outcome_key(a) == outcome_key(b)
    assert {c.unit_id for c in b.candidates if "TEST-PATTERN" in codes(c)} == {"U-1", "U-12b"}

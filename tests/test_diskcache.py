"""The per-user cache of the rule set, taxonomy and labels (placering/diskcache.py): a later
process reads back what an earlier one built, and a changed file is never answered from it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from placering import diskcache
from placering.errors import ValidationError
from placering.paths import rules_dir
from placering.rules import ruleset as ruleset_module
from placering.rules.ruleset import load_ruleset


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("PLACERING_CACHE_DIR", str(d))
    ruleset_module._CACHE.clear()  # the in-process cache would answer before the disk's
    return d


@pytest.fixture()
def rules_copy(tmp_path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(rules_dir(), d)
    return d


def _fresh(directory: Path):
    ruleset_module._CACHE.clear()
    return load_ruleset(directory)


def test_a_second_process_reads_the_rule_set_back_unchanged(cache, rules_copy):
    first = _fresh(rules_copy)
    assert len(list(cache.glob(f"ruleset-*{diskcache.SUFFIX}"))) == 1
    again = _fresh(rules_copy)
    assert again is not first  # read back from disk, not the in-process cache
    assert again.version == first.version
    assert [r.id for r in again.rules] == [r.id for r in first.rules]
    on = first.rules[0].valid_from
    assert again.param("protected_distance_band_km", on) == first.param("protected_distance_band_km", on)


def test_an_edited_rule_file_is_parsed_again(cache, rules_copy):
    before = _fresh(rules_copy)
    path = rules_copy / "ranking.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("recommendations: 3", "recommendations: 5"),
                    encoding="utf-8")
    after = _fresh(rules_copy)
    assert after.version != before.version
    assert after.policies[0].recommendations == 5
    assert len(list(cache.glob(f"ruleset-*{diskcache.SUFFIX}"))) == 2


def test_a_broken_rule_file_is_never_cached_and_names_file_and_line_every_time(cache, rules_copy):
    path = rules_copy / "ranking.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nstage: ranking\n", encoding="utf-8")  # duplicate key
    for _ in range(2):
        with pytest.raises(ValidationError) as exc:
            _fresh(rules_copy)
        assert any(p.file and p.file.endswith("ranking.yaml") and p.line for p in exc.value.problems)
    assert not list(cache.glob(f"ruleset-*{diskcache.SUFFIX}"))


def test_a_damaged_entry_is_rebuilt(cache, rules_copy):
    good = _fresh(rules_copy)
    (entry,) = cache.glob(f"ruleset-*{diskcache.SUFFIX}")
    entry.write_bytes(b"not an entry")
    assert _fresh(rules_copy).version == good.version


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="ownership checks are POSIX")
def test_a_directory_others_can_write_is_not_read(cache, rules_copy):
    cache.mkdir(mode=0o700)
    os.chmod(cache, 0o777)  # someone else could plant an entry here
    assert diskcache.cache_dir() is None
    _fresh(rules_copy)
    assert not list(cache.glob(f"*{diskcache.SUFFIX}"))


def test_no_cache_when_the_variable_is_empty(monkeypatch, rules_copy, tmp_path):
    monkeypatch.setenv("PLACERING_CACHE_DIR", "")
    assert diskcache.cache_dir() is None
    assert _fresh(rules_copy).rules


def test_old_entries_are_pruned(cache):
    cache.mkdir(mode=0o700)
    for i in range(diskcache.KEEP + 5):
        (cache / f"ruleset-{i:032x}{diskcache.SUFFIX}").write_bytes(b"x")
        os.utime(cache / f"ruleset-{i:032x}{diskcache.SUFFIX}", ns=(i * 10**9, i * 10**9))
    diskcache._prune(cache, "ruleset")
    left = sorted(p.name for p in cache.glob(f"ruleset-*{diskcache.SUFFIX}"))
    assert len(left) == diskcache.KEEP
    assert f"ruleset-{0:032x}{diskcache.SUFFIX}" not in left


def test_a_whole_process_uses_the_cache(cache, tmp_path):
    """Two `placering rules list` processes: the first builds the entries, the second finds them."""
    env = dict(os.environ, PLACERING_CACHE_DIR=str(cache))
    cmd = [sys.executable, "-c", "from placering.cli import main; main()", "rules", "list", "--json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.glob(f"*{diskcache.SUFFIX}")}
    assert any(n.startswith("ruleset-") for n in stamps)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert second.returncode == 0 and second.stdout == first.stdout
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob(f"*{diskcache.SUFFIX}")} == stamps


def test_a_columnar_table_read_back_decides_as_one_built_now(cache):
    """The vectorized evaluator's table of a stored snapshot, cached by the snapshot's digest:
    a later evaluator reading it gives the same per-rule sets as one that builds it."""
    from datetime import date

    import numpy as np

    from placering.demo import generate_register, generate_requests
    from placering.matching.compact import candidate_sets
    from placering.matching.request import validate_request
    from placering.rules import RegisterSnapshot, request_fact
    from placering.rules.vectorized import VectorizedEvaluator
    from placering.taxonomy import load_taxonomy

    ruleset, tax = load_ruleset(), load_taxonomy()
    doc = generate_register(units=120)
    plain_snap = RegisterSnapshot.from_document(doc, on=date(2024, 9, 1))
    digests = {insats: f"digest-of-{insats}" for insats in plain_snap.by_insats}

    def evaluator() -> VectorizedEvaluator:
        snap = RegisterSnapshot.from_document(doc, on=date(2024, 9, 1))
        snap.digests = dict(digests)
        ev = VectorizedEvaluator(ruleset)
        ev.load(snap)
        return ev

    builder, reader, plain = evaluator(), evaluator(), VectorizedEvaluator(ruleset)
    plain.load(plain_snap)
    compared = 0
    for raw in generate_requests(30):
        req = validate_request(raw)
        if not plain_snap.candidates(req.insats):
            continue
        fact = request_fact(req.payload(), plain_snap, tax)
        built = candidate_sets(builder.evaluate(fact, on=req.submitted_on), plain_snap.candidates(req.insats))
        read = candidate_sets(reader.evaluate(fact, on=req.submitted_on), reader.snapshot.candidates(req.insats))
        assert read == built == candidate_sets(plain.evaluate(fact, on=req.submitted_on),
                                               plain_snap.candidates(req.insats))
        compared += 1
    assert compared > 10
    assert list(cache.glob(f"table-*{diskcache.SUFFIX}"))
    some = next(iter(digests))
    t = reader.table(some)
    assert t.cands[0] is reader.snapshot.candidates(some)[0]  # joined to this process's candidates
    assert all(np.array_equal(t.values[p], builder.table(some).values[p]) for p in t.values)


def test_a_cached_table_that_does_not_fit_its_candidates_is_built_again(cache):
    from datetime import date

    from placering.demo import generate_register
    from placering.rules import RegisterSnapshot
    from placering.rules.vectorized import VectorizedEvaluator

    ruleset = load_ruleset()
    small = RegisterSnapshot.from_document(generate_register(units=40), on=date(2024, 9, 1))
    large = RegisterSnapshot.from_document(generate_register(units=120), on=date(2024, 9, 1))
    insats = next(i for i in small.by_insats if len(small.candidates(i)) != len(large.candidates(i)))
    for snap in (small, large):  # the same (wrong) digest for different candidates
        snap.digests = {insats: "same-digest"}
        ev = VectorizedEvaluator(ruleset)
        ev.load(snap)
        assert ev.table(insats).n == len(snap.candidates(insats))


# --- issue 21: an entry cannot run code, and another user's file or a link is not read -------------


def test_an_entry_is_json_that_builds_only_placering_classes(cache, rules_copy, tmp_path):
    good = _fresh(rules_copy)
    (entry,) = cache.glob(f"ruleset-*{diskcache.SUFFIX}")
    assert entry.read_bytes()[:1] == b"["  # JSON, not a pickle
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    marker = tmp_path / "ran"
    # what a planted entry could try: build os.system, or any class outside placering
    for planted in (["o", "os:system", {}], ["o", "subprocess:Popen", {"args": ["touch", str(marker)]}],
                    ["e", "builtins:type", 1], ["n", "|O8", [1], "AAAAAAAAAAA="]):
        entry.write_text(json.dumps(planted), encoding="utf-8")
        assert _fresh(rules_copy).version == good.version  # rebuilt, not read
    assert not marker.exists()
    import pickle

    entry.write_bytes(pickle.dumps(good))  # an old pickle is no entry either
    assert _fresh(rules_copy).version == good.version


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="ownership checks are POSIX")
def test_a_link_or_another_users_entry_is_not_read(cache, rules_copy, tmp_path):
    good = _fresh(rules_copy)
    (entry,) = cache.glob(f"ruleset-*{diskcache.SUFFIX}")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(entry.read_text(encoding="utf-8").replace(good.version, "planted-version"), encoding="utf-8")
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert _fresh(rules_copy).version == good.version  # the link was not followed
    assert not entry.is_symlink()
    if os.geteuid() == 0:  # only root can give a file to another user
        entry.write_text(elsewhere.read_text(encoding="utf-8"), encoding="utf-8")
        os.chown(entry, 65534, 65534)
        assert _fresh(rules_copy).version == good.version
    os.chmod(entry, 0o666) if entry.exists() else None
    assert _fresh(rules_copy).version == good.version


def test_encode_and_decode_round_trip_the_cached_kinds():
    from datetime import date

    import numpy as np

    from placering.taxonomy import load_taxonomy

    tax = load_taxonomy()
    assert diskcache.decode(json.loads(json.dumps(diskcache.encode(tax)))) == tax
    value = {1: (date(2024, 1, 2), frozenset({"a"})), "x": [np.arange(5, dtype=np.int64), np.float64(2.5), None]}
    back = diskcache.decode(json.loads(json.dumps(diskcache.encode(value))))
    assert back[1] == value[1] and np.array_equal(back["x"][0], value["x"][0]) and back["x"][1] == 2.5
    with pytest.raises(diskcache.NotEncodable):
        diskcache.encode(object())

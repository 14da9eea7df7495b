"""The commands that ran on a database only until now, run on the server through the CLI
(issue 17): `register export`, `request grant`, `audit protected-reads`, `followup decision`
and `request replay` print what they print locally, with the same exit codes, as the logged-in
person (whose roles decide: access/policy.py); reading a protected case on the server is logged
under that person. On SQLite and PostgreSQL: the server on a loopback port, the same commands run
locally on the same database for comparison."""

from __future__ import annotations

import json
import shutil

import pytest

from client_support import Person, serving
from server_support import add_people
from test_matching_support import load_register, request, unit, write_request

PEOPLE = {"anna": (["handler"], None), "olle": (["auditor"], None), "adam": (["admin"], None),
          "sven": (["social_worker"], "Mölndal")}


@pytest.fixture
def site(db_url, run, tmp_path):
    load_register(run, tmp_path, unit("U-D", "direktupphandling", 4600, free=6),
                  unit("U-S", "egen_regi", None, protected=True))
    add_people(db_url, PEOPLE)
    with serving(db_url) as url:
        yield url, {name: Person(url, name, tmp_path / "home" / name) for name in PEOPLE}


def same(remote, local):
    assert (remote.exit_code, remote.stdout, remote.stderr) == (local.exit_code, local.stdout, local.stderr)


def test_register_export_on_the_server_equals_the_export_here(site, run, tmp_path):
    url, people = site
    anna = people["anna"]
    for args in (["register", "export"], ["register", "export", "--json"], ["register", "export", "--csv"],
                 ["register", "export", "--show-protected", "--excel"],
                 ["register", "export", "--json", "--csv"]):  # a refusal too: exit 2
        same(anna.run(*args), run(*args))
    r = anna.run("register", "export")
    doc = json.loads(r.stdout)
    units = {u["unit_id"]: u for s in doc["suppliers"] for u in s["units"]}
    assert "location" not in units["U-S"] and "location" in units["U-D"]
    assert "skyddad adress är utelämnade" in r.stderr
    out = tmp_path / "export.json"
    r = anna.run("register", "export", "--out", str(out))
    assert r.exit_code == 0 and json.loads(out.read_text())["revision"] == doc["revision"]
    assert (out.stat().st_mode & 0o777) == 0o600


def test_protected_case_grants_and_reads_on_the_server_equal_those_here_and_are_logged_under_the_person(
        site, run, tmp_path):
    from placering.display import today

    url, people = site
    anna, olle, sven = people["anna"], people["olle"], people["sven"]
    protected = request("R-S")
    protected["person"]["protected_identity"] = True
    assert anna.run("match", str(write_request(tmp_path, protected))).exit_code == 0
    # reading it on the server is logged under the signed-in person, as reading it here is under --by
    same(anna.run("request", "show", "R-S"), run("request", "show", "R-S", "--by", "anna"))
    rows = json.loads(olle.run("audit", "protected-reads", "--json").stdout)["reads"]
    assert [(r["request_id"], r["reader"]) for r in rows] == [("R-S", "anna"), ("R-S", "anna")]
    for args in (["audit", "protected-reads"], ["audit", "protected-reads", "--reader", "anna", "--csv"],
                 ["audit", "protected-reads", "--since", "2099-01-01", "--json"],
                 ["audit", "protected-reads", "--since", "igår"]):
        same(olle.run(*args), run(*args))
    day = today().isoformat()
    grant = ["request", "grant", "R-S", "--to", "anna", "--from", day, "--until", day]
    same(anna.run(*grant), run(*grant, "--by", "anna"))
    same(anna.run(*grant, "--json"), run(*grant, "--by", "anna", "--json"))
    for args, code in ((["request", "grant", "R-404", "--to", "anna", "--until", day], 3),
                       (["request", "grant", "R-S", "--to", "anna", "--from", day, "--until", "2000-01-01"], 2)):
        remote, local = anna.run(*args), run(*args, "--by", "anna")
        same(remote, local)
        assert remote.exit_code == code, remote.output
    # only the granted handler reads it now: another reader is refused, on the server as here
    same(olle.run("request", "show", "R-S"), run("request", "show", "R-S", "--by", "olle"))
    assert olle.run("request", "show", "R-S").exit_code == 4
    # an auditor may not grant access (exit 6); a social worker of Mölndal does not see Göteborg's case
    r = olle.run(*grant)
    assert r.exit_code == 6 and "får inte ge tidsbegränsad behörighet" in r.stderr
    assert sven.run(*grant).exit_code == 3
    entries = json.loads(run("audit", "log", "--json").stdout)["entries"]
    assert any(e["action"] == "access_granted" and e["actor"] == "anna" for e in entries), entries


def test_followup_decision_on_the_server_equals_the_same_work_here(site, run, tmp_path):
    """R-A through the server as anna; R-B here with --by anna: the same output but for the id."""
    url, people = site
    anna, olle = people["anna"], people["olle"]
    for rid in ("R-A", "R-B"):
        assert anna.run("match", str(write_request(tmp_path, request(rid)))).exit_code == 0

    def both(*args, expect=0):
        remote = anna.run("followup", "decision", "R-A", *args)
        local = run("followup", "decision", "R-B", *args, "--by", "anna")
        assert remote.exit_code == local.exit_code == expect, (remote.output, local.output)
        assert (remote.stdout.replace("R-A", "R-B"), remote.stderr.replace("R-A", "R-B")) == (local.stdout, local.stderr)
        return remote

    both("decided", "--on", "2024-09-01")
    both("interrupted", "--on", "2024-09-10", "--json")
    both("resumed", "--on", "2024-09-20", "--csv")
    both("ended", "--on", "2024-10-01", expect=2)  # no --reason
    both("ended", "--on", "2024-10-01", "--reason", "person_request", "--note", "Flyttat")
    both("ended", "--on", "2024-10-02", "--reason", "needs_changed", expect=4)  # ended already
    r = olle.run("followup", "decision", "R-A", "decided", "--on", "2024-09-01")
    assert r.exit_code == 6
    same(olle.run("audit", "not-executed", "--as-of", "2025-01-15", "--json"),
         run("audit", "not-executed", "--as-of", "2025-01-15", "--json"))


def test_request_replay_on_the_server_equals_the_replay_here(site, run, tmp_path):
    from placering.paths import rules_dir

    url, people = site
    adam, anna = people["adam"], people["anna"]
    for rid in ("R-1", "R-2"):
        assert anna.run("match", str(write_request(tmp_path, request(rid)))).exit_code == 0
    candidate = tmp_path / "candidate"
    shutil.copytree(rules_dir(), candidate)
    eligibility = candidate / "eligibility.yaml"
    eligibility.write_text(eligibility.read_text(encoding="utf-8") + """
  - id: ELIG-TEST-ONE-UNIT
    title: "Enheten tas inte emot i prövningen"
    description: "A candidate rule for the test: one unit is left out."
    source: {document: "test", section: "replay"}
    valid_from: 2020-01-01
    when:
      eq: [unit.unit_id, "U-S"]
    outcome:
      exclude: STATUS
      message: "Enheten {unit.unit_id} är utesluten i kandidatreglerna"
""", encoding="utf-8")
    for extra in ([], ["--json"], ["--csv"], ["--year", "2024", "--since", "2024-01-01"]):
        args = ["request", "replay", "--rules", str(candidate), "--engine", "reference", *extra]
        same(adam.run(*args), run(*args))
    doc = json.loads(adam.run("request", "replay", "--rules", str(candidate), "--engine", "reference", "--json").stdout)
    assert doc["changed"] == 2 and doc["candidate"]["rules_dir"] == str(candidate)
    # candidate rules run on the server: only for those who may deploy rules there
    r = anna.run("request", "replay", "--rules", str(candidate))
    assert r.exit_code == 6 and "får inte driftsätta regler" in r.stderr
    # a broken candidate is refused with its problems, as here
    (candidate / "eligibility.yaml").write_text("rules: [", encoding="utf-8")
    args = ["request", "replay", "--rules", str(candidate), "--engine", "reference"]
    remote, local = adam.run(*args), run(*args)
    assert remote.exit_code == local.exit_code == 2, (remote.output, local.output)

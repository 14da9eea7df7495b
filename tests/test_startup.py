"""Start-up: each command imports only what it uses.

`placering --help` and `--version` load neither the database layer nor rich; no command but
`bench` loads the benchmarks; numpy, durable-rules and alembic are loaded only by the commands
that need them. Checked in a fresh interpreter (the test process has imported everything).
How long start-up takes is a benchmark figure (`placering bench scale`), not asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest

from placering.cli import LAZY_COMMANDS, cli

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "rich", "numpy", "durable", "alembic", "placering.bench", "placering.rules.durable_engine",
         "rapidfuzz", "ruamel", "placering.rules.reference", "placering.rules.vectorized", "placering.storage.models",
         "psycopg")

SCRIPT = """
import json, os, sys
from placering.cli import main
sys.argv = ["placering", *json.loads(os.environ["ARGS"])]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
with open(os.environ["OUT"] + ".exit", "w") as f:
    f.write(str(code))
heavy = json.loads(os.environ["HEAVY"])
with open(os.environ["OUT"], "w") as f:
    json.dump(sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules)), f)
"""


def loaded_by(tmp_path, *args: str, db_url: str | None = None, env: dict | None = None, exit_code: int | None = None) -> list[str]:
    """The HEAVY modules a whole `placering ARGS` process imported (its output a pipe, as in
    a script); with `exit_code`, the command must also have ended with it (it did its work)."""
    out = tmp_path / "modules.json"
    env = dict(os.environ, ARGS=json.dumps(list(args)), HEAVY=json.dumps(HEAVY), OUT=str(out), **(env or {}))
    env.pop("COLUMNS", None)
    if db_url:
        env["PLACERING_DATABASE_URL"] = db_url
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, capture_output=True, timeout=120)
    if exit_code is not None:
        assert int((tmp_path / "modules.json.exit").read_text()) == exit_code, (args, done.stderr.decode()[-2000:])
    return json.loads(out.read_text())


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_help_and_version_load_nothing_heavy(tmp_path, args):
    assert loaded_by(tmp_path, *args) == []


def test_help_lists_every_command():
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["--help"]).output
    for name in [*LAZY_COMMANDS, "init"]:
        assert f"\n  {name} " in out


def test_register_commands_do_not_load_the_engines_or_the_benchmarks(tmp_path, db_url):
    loaded = loaded_by(tmp_path, "register", "show", "x", db_url=db_url)
    assert "sqlalchemy" in loaded  # it did read the database
    assert not {"numpy", "durable", "alembic", "placering.bench"} & set(loaded)


@pytest.mark.parametrize("args", [["register", "search", "x"], ["register", "history"],
                                  ["register", "history", "--since", "2020-01-01", "--limit", "3"]])
def test_register_search_and_history_read_without_sqlalchemy(tmp_path, db_url, args):
    """`register search` and `register history` (read commands) read through the database's
    own driver (storage.reads): no SQLAlchemy, SQLModel or pydantic (about 0.5 s of start-up)."""
    loaded = loaded_by(tmp_path, *args, db_url=db_url)
    assert not {"sqlalchemy", "sqlmodel", "pydantic", "numpy", "durable", "alembic", "placering.bench"} & set(loaded)


def test_a_write_and_the_other_reads_do_not_build_every_table_validator(tmp_path, db_url):
    """Commands that open an ORM session load SQLModel, but pydantic builds a table's
    validator only when one is used (storage.models: defer_build)."""
    script = SCRIPT + """
from placering.storage import models
with open(os.environ["OUT"] + ".built", "w") as f:
    json.dump(sorted(n for n in dir(models) if getattr(getattr(models, n), "__pydantic_complete__", None) is True
                     and getattr(getattr(models, n), "__table__", None) is not None), f)
"""
    out = tmp_path / "modules.json"
    env = dict(os.environ, ARGS=json.dumps(["register", "show", "U-0"]), HEAVY=json.dumps(HEAVY), OUT=str(out),
               PLACERING_DATABASE_URL=db_url)
    subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, timeout=120)
    assert "sqlmodel" in json.loads(out.read_text())
    assert json.loads((tmp_path / "modules.json.built").read_text()) == []


def test_match_help_does_not_load_an_evaluator(tmp_path):
    loaded = loaded_by(tmp_path, "match", "--help")
    assert not {"numpy", "durable", "alembic", "placering.bench"} & set(loaded)


def test_only_bench_loads_the_benchmarks(tmp_path):
    assert "placering.bench" in loaded_by(tmp_path, "bench", "--help")


def test_listed_short_help_is_the_commands_own():
    """`--help` lists lazily loaded commands from LAZY_COMMANDS: it must say what the command says."""
    ctx = click.Context(cli)
    for name, (_module, short) in LAZY_COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        first = (command.help or "").split("\n\n")[0].replace("\n", " ").strip()
        assert first == short, name


def test_commands_on_a_server_load_no_database_layer(tmp_path, db_url, run):
    """The CLI as a client (placering login): `request show`, `register show`, `audit paused` and a
    write load neither SQLAlchemy nor sqlmodel, numpy or the rules engines: the server does that
    work. What they print is checked in tests/test_client.py."""
    from client_support import Person, serving
    from server_support import add_people
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-1", free=3))
    add_people(db_url, {"anna": (["handler", "auditor", "admin"], None)})
    from placering.paths import rules_dir

    with serving(db_url) as url:
        anna = Person(url, "anna", tmp_path / "home")
        assert anna.run("match", str(write_request(tmp_path, request("R-1")))).exit_code == 0
        env = {k: v for k, v in anna.env.items() if v is not None}
        for args in (["request", "show", "R-1"], ["register", "show", "U-1"], ["audit", "paused"],
                     ["request", "decline", "R-1", "U-1", "--reason", "Ingen plats"],
                     # the commands that ran on a database only before (tests/test_client_commands.py)
                     ["register", "export", "--csv"], ["audit", "protected-reads"],
                     ["request", "grant", "R-1", "--to", "anna", "--until", "2099-01-01"],
                     ["followup", "decision", "R-1", "decided", "--on", "2024-09-01"],
                     ["request", "replay", "--rules", str(rules_dir()), "--json"]):
            loaded = loaded_by(tmp_path, *args, env=env)
            assert not {"sqlalchemy", "sqlmodel", "numpy", "durable", "alembic", "placering.bench"} & set(loaded), args
    # and it did reach the server: the decline is recorded under anna
    assert json.loads(run("request", "show", "R-1", "--json").stdout)["declines"][0]["by"] == "anna"


# --- issue 22: what each read and write command imports --------------------------------------

ENGINES_AND_TOOLS = {"numpy", "durable", "alembic", "placering.bench", "placering.rules.durable_engine"}
ORM = {"sqlalchemy", "sqlmodel", "pydantic", "placering.storage.models"}


@pytest.mark.parametrize("args", [["rules", "list"], ["rules", "show", "ELIG-AGE"], ["rules", "params"],
                                  ["rules", "version"], ["rules", "lint"], ["rules", "lint", "--json"]])
def test_rules_commands_load_no_database_layer(tmp_path, args):
    """The rule files are read from disk: no SQLAlchemy, SQLModel or pydantic, and no evaluator
    (`rules show` reads the rule tests that name the rule without running them)."""
    loaded = loaded_by(tmp_path, *args, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS | {"placering.rules.reference", "placering.rules.vectorized"}) & set(loaded)


@pytest.mark.parametrize("args", [["audit", "log"], ["audit", "log", "--limit", "3", "--kind", "unit"],
                                  ["audit", "log", "--summary"]])
def test_audit_log_reads_without_sqlalchemy(tmp_path, db_url, run, args):
    """`audit log` reads history through the database's own driver (audit/reads.py)."""
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1", free=3))
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS | {"ruamel", "rapidfuzz"}) & set(loaded)


@pytest.mark.parametrize("args", [["audit", "paused"], ["audit", "paused", "--as-of", "2024-01-01", "--csv"],
                                  ["audit", "paused", "--route", "ramavtal", "--municipality", "Göteborg", "--json"]])
def test_audit_paused_reads_without_sqlalchemy(tmp_path, db_url, run, args):
    """`audit paused` rebuilds the states from history through the database's own driver
    (audit/reads.py); its document is compared with the ORM view's in test_audit_history.py."""
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", agreement="RA-9"))
    assert run("register", "status", "U-2", "watch", "--note", "bevakas", "--by", "granskare").exit_code == 0
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS | {"ruamel", "rapidfuzz"}) & set(loaded)


@pytest.mark.parametrize("args", [["audit", "requests", "--year", "2025"], ["audit", "direct-procurement", "--json"],
                                  ["audit", "adherence", "--csv"], ["audit", "direct-purchases", "--json"],
                                  ["audit", "not-executed", "--as-of", "2025-01-15"], ["audit", "controls", "--csv"],
                                  ["audit", "surveys", "--summary"], ["audit", "complaints", "--period", "half"],
                                  ["review", "show", "1"], ["review", "show", "1", "--json"]])
def test_yearly_audits_read_without_sqlalchemy(tmp_path, db_url, run, args):
    """`audit requests`, `direct-procurement`, `adherence`, `direct-purchases`, `not-executed`,
    `controls`, `surveys`, `complaints` and `review show` read through the database's own driver
    (audit/reads_yearly.py, matching/reads.py; their documents are compared with the ORM view's
    in tests/test_audit_reads_b.py)."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-D", "direktupphandling", 2000))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS) & set(loaded), args


def test_request_show_reads_without_sqlalchemy_or_an_evaluator(tmp_path, db_url, run):
    """`request show` reads the request and its decisions through the database's own driver
    (matching/reads.py), the latest decision's excluded units by reason as stored with it: it
    decides nothing again, so neither SQLAlchemy nor numpy nor a rules engine is loaded (what
    it prints is checked in tests/test_request_show_reads.py)."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", age=(16, 20)), unit("U-3", free=0))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    for args in (["request", "show", "R-1"], ["request", "show", "R-1", "--by", "läsaren"]):
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        assert not (ORM | ENGINES_AND_TOOLS | {"placering.rules.reference", "placering.rules.vectorized"}) & set(loaded)


def test_register_show_proposals_and_explain_read_without_sqlalchemy(tmp_path, db_url, run):
    """`register show` of a supplier, an agreement or a unit's name, `register proposals` and
    `request show R --explain UNIT` of a recommended unit read through the database's own
    driver (register/reads.py, matching/reads.py): no SQLAlchemy, and no rules engine (what
    they print is compared with the ORM view's in tests/test_reads.py and
    tests/test_request_show_reads.py)."""
    from test_matching_support import load_register, request, supplier_of, unit, write_request

    doc = load_register(run, tmp_path, unit("U-1", free=3, agreement="RA-9"), unit("U-2", free=3))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    recommended = json.loads(run("request", "show", "R-1", "--json").stdout)["decisions"][-1]["recommendations"]
    for args in (["register", "show", supplier_of(doc, "U-1")], ["register", "show", "ra-9"],
                 ["register", "show", "Enhet U-2"], ["register", "proposals"], ["register", "proposals", "--json"],
                 ["request", "show", "R-1", "--explain", recommended[0]["unit_id"]]):
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        assert not (ORM | ENGINES_AND_TOOLS | {"placering.rules.reference", "placering.rules.vectorized"}) & set(loaded), args


def test_review_list_and_protected_reads_read_without_sqlalchemy(tmp_path, db_url, run):
    """`review list` and `audit protected-reads` read through the database's own driver
    (matching/reads.py, audit/reads.py)."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-D", "direktupphandling", 2000))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    for args in (["review", "list"], ["review", "list", "--status", "pending", "--json"],
                 ["audit", "protected-reads"], ["audit", "protected-reads", "--since", "2024-01-01", "--json"]):
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        assert not (ORM | ENGINES_AND_TOOLS) & set(loaded), args


def test_audit_log_read_directly_is_the_orm_views_document(tmp_path, db_url, run):
    """The direct read and the ORM view (what the server returns) give one document, and a
    question that ends in an error still gets the ORM view's message."""
    from placering.audit import views
    from placering.audit.reads import log
    from placering.storage import make_engine
    from placering.storage.reads import open_reader
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1", free=3, protected=True), unit("U-2", agreement="RA-9"))
    assert run("register", "status", "U-2", "watch", "--note", "bevakas", "--by", "granskare").exit_code == 0
    engine = make_engine(db_url)
    for filters in ({}, {"limit": 2}, {"unit": "U-2"}, {"kind": "unit", "actor": "granskare"}, {"summary": True},
                    {"show_protected": True}, {"action": "status", "since": __import__("datetime").date(2020, 1, 1)}):
        with open_reader(db_url) as reader:
            direct = log(reader, **filters)
        assert direct == views.log(engine, **filters), filters
    engine.dispose()
    with open_reader(db_url) as reader:
        assert log(reader, kind="nonsense") is None
    bad = run("audit", "log", "--kind", "nonsense")
    assert bad.exit_code != 0 and "nonsense" in bad.output


def test_writes_load_no_evaluator_they_do_not_run(tmp_path, db_url, run):
    """A write opens an ORM session (one write path: the library's functions, rules, authority
    checks and history in one transaction) but loads neither numpy nor durable-rules, alembic,
    the benchmarks, rich (no table printed) or the fuzzy search; a status change or a decline
    runs no rules, so no evaluator either. A choice of a recommended unit checks it again with
    the reference evaluator, not the columnar one. A choice, a decline and a placement's end
    write on the database's own driver (matching/choice.py, storage/writes.py): no SQLAlchemy,
    SQLModel or pydantic."""
    from test_matching_support import load_register, request, supplier_of, unit, write_request

    doc = load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", free=3))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "handläggare").exit_code == 0
    assert run("match", str(write_request(tmp_path, request("R-2"))), "--by", "handläggare").exit_code == 0
    never = ENGINES_AND_TOOLS | {"rich", "rapidfuzz", "placering.rules.vectorized"}
    writes = [
        (["request", "decline", "R-1", "U-2", "--reason", "Ingen plats", "--by", "handläggare"],
         ORM | {"placering.rules.reference"}),
        (["register", "status", "U-2", "watch", "--note", "bevakas", "--by", "registervård"], {"placering.rules.reference"}),
        (["request", "choose", "R-2", "U-1", "--by", "handläggare"], ORM),
        (["request", "end", "R-2", "--on", "2030-01-01", "--by", "handläggare"], ORM | {"placering.rules.reference"}),
        (["register", "check", supplier_of(doc, "U-1"), "credit_rating", "--result", "pass", "--value", "80",
          "--on", "2026-01-02", "--by", "registervård"], set()),
        (["complaint", "add", "U-1", "--category", "documentation", "--on", "2026-01-02", "--by", "registervård"], set()),
    ]
    for args, also_never in writes:
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        if not also_never & ORM:
            assert "sqlmodel" in loaded, args  # it wrote through the library's ORM functions
        assert not (never | also_never) & set(loaded), args
    shown = json.loads(run("--json", "request", "show", "R-2").output)
    assert shown["placement"]["unit_id"] == "U-1" and shown["placement"]["end_on"] == "2030-01-01"
    assert json.loads(run("--json", "request", "show", "R-1").output)["declines"][0]["unit_id"] == "U-2"


def test_request_show_loads_no_durable_rules_or_alembic(tmp_path, db_url, run):
    """`request show` rebuilds the latest decision's excluded units (the columnar evaluator on
    the stored snapshot, matching/rebuild.py): numpy, but neither durable-rules nor alembic."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-1", free=3))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "handläggare").exit_code == 0
    loaded = loaded_by(tmp_path, "request", "show", "R-1", db_url=db_url, exit_code=0)
    assert not (ENGINES_AND_TOOLS - {"numpy"}) & set(loaded)


def test_by_is_resolved_without_sqlalchemy(tmp_path, db_url):
    """Who acts (`--by`) is resolved through the database's own driver (access/actor.py): a
    write whose other options are refused after --by was resolved (a date that is not one) has
    loaded no SQLAlchemy, SQLModel or pydantic. On PostgreSQL that asked the login (the test's
    installation superuser, which names the person with --by)."""
    args = ["request", "choose", "R-1", "U-1", "--by", "handläggare", "--on", "inte-ett-datum"]
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=2)
    assert not (ORM | ENGINES_AND_TOOLS) & set(loaded)


def test_a_persons_own_login_is_refused_a_write_without_sqlalchemy(tmp_path, db_url):
    """A person's own PostgreSQL login reads only: `--by` on a write is refused with the message
    the CLI has always given (tests/test_roles.py), before SQLAlchemy is loaded."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a person's own database login exists on PostgreSQL only")
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    login = f"person_{uuid.uuid4().hex[:6]}"
    su = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with su.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE \"{login}\" LOGIN PASSWORD 'hemligt-lösen-1' IN ROLE placering_handler")
    try:
        as_person = make_url(db_url).set(username=login, password="hemligt-lösen-1").render_as_string(hide_password=False)
        out = tmp_path / "modules.json"
        env = dict(os.environ, ARGS=json.dumps(["request", "choose", "R-1", "U-1", "--by", "anna"]),
                   HEAVY=json.dumps(HEAVY), OUT=str(out), PLACERING_DATABASE_URL=as_person)
        done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, timeout=120)
        assert int((tmp_path / "modules.json.exit").read_text()) == 6
        assert f"databasinloggningen '{login}' kan bara läsa" in done.stderr.decode()
        assert not (ORM | ENGINES_AND_TOOLS) & set(json.loads(out.read_text()))
    finally:
        with su.connect() as conn:
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{login}"')
        su.dispose()


@pytest.mark.parametrize("args", [["audit", "checks-due"], ["audit", "checks-due", "--kind", "credit_rating", "--csv"],
                                  ["audit", "prices-due", "--json"], ["audit", "affected-placements", "--csv"],
                                  ["audit", "visits", "--level", "4"], ["audit", "entries", "--period", "year"],
                                  ["audit", "removals", "--csv"], ["audit", "placement-agreements", "--every"]])
def test_audit_due_reports_read_without_sqlalchemy(tmp_path, db_url, run, args):
    """`audit checks-due`, `audit prices-due`, `audit affected-placements`, `audit visits`,
    `audit entries`, `audit removals` and `audit placement-agreements` read through the
    database's own driver (audit/reads.py); their documents are compared with the ORM views'
    in test_audit_reads_a.py."""
    from test_matching_support import load_register, unit

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", agreement="RA-9"))
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS | {"rapidfuzz"}) & set(loaded)


def test_a_match_of_one_request_or_a_short_file_loads_no_orm(tmp_path, db_url, run):
    """`placering match REQUEST.json`, and of a short file, validates the request without
    pydantic (request.plain_request) and stores it, its decision, history and review on the
    database's own driver (matching/storing.py): no SQLAlchemy, SQLModel or pydantic, whether
    it stores the register snapshot (the first match at a revision, one after a change) or
    reads it (the next match), or shows a request decided before; with --json it rebuilds the
    whole document on the same transaction. What it stores is compared
    with a batch's rows in tests/test_match_writes.py."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", free=3),
                  unit("U-D", "direktupphandling", 2000, insats="socialt_boende", age=(18, 65), subs=[]))
    # On PostgreSQL neither psycopg: the write transaction talks to libpq itself (storage/writes.py).
    never = ORM | {"durable", "alembic", "placering.bench", "placering.rules.durable_engine", "psycopg"}
    files = [write_request(tmp_path, request("R-1")), write_request(tmp_path, request("R-2")),
             write_request(tmp_path, request("R-1")),
             write_request(tmp_path, [request("R-3"), request("R-4", "socialt_boende", None, age=40, needs=())], "few.jsonl")]
    for path in files:
        loaded = loaded_by(tmp_path, "match", str(path), "--by", "handläggare", db_url=db_url, exit_code=0)
        assert not never & set(loaded), path
    assert run("request", "choose", "R-1", "U-1", "--by", "handläggare").exit_code == 0
    loaded = loaded_by(tmp_path, "match", str(write_request(tmp_path, request("R-5"))), "--by", "handläggare",
                       db_url=db_url, exit_code=0)
    assert not never & set(loaded)
    loaded = loaded_by(tmp_path, "--json", "match", str(write_request(tmp_path, request("R-6"))), "--by", "handläggare",
                       db_url=db_url, exit_code=0)  # the whole document, rebuilt (matching/rebuild.py)
    assert not never & set(loaded)
    shown = json.loads(run("--json", "request", "show", "R-4").output)
    assert shown["decisions"][-1]["review_required"] and shown["decisions"][-1]["review_id"]
    assert json.loads(run("--json", "request", "show", "R-5").output)["decisions"][-1]["seq"] == 1


def test_request_show_json_explain_and_placement_show_read_without_sqlalchemy_or_numpy(tmp_path, db_url, run):
    """`request show R --json` (every decision decided again by the reference evaluator on its
    stored snapshot), `--explain` of an excluded unit (that unit evaluated again) and
    `placement show` read through the database's own driver: no SQLAlchemy, pydantic, numpy or
    columnar engine (what they print: tests/test_request_reads_more.py)."""
    from test_matching_support import load_register, request, unit, write_request

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", age=(16, 20)), unit("U-3", free=0))
    assert run("match", str(write_request(tmp_path, request("R-1"))), "--by", "h").exit_code == 0
    assert run("request", "choose", "R-1", "U-1", "--by", "h").exit_code == 0
    for args in (["request", "show", "R-1", "--json"], ["--json", "request", "show", "R-1"],
                 ["request", "show", "R-1", "--explain", "U-2"], ["request", "show", "R-1", "--explain", "U-3", "--json"],
                 ["placement", "show", "R-1"], ["placement", "show", "R-1", "--json"]):
        loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
        assert not (ORM | ENGINES_AND_TOOLS | {"placering.rules.vectorized"}) & set(loaded), args


def test_request_schema_and_a_clean_rules_test_run_again_load_no_pydantic_or_orm(tmp_path):
    """What `request schema` and a clean `rules test` give is kept in the per-user cache under
    every file they read and the code: run again, they load neither pydantic nor the ORM."""
    for args in (["request", "schema"], ["rules", "test"]):
        loaded_by(tmp_path, *args, exit_code=0)  # the first run may build it
        assert not (ORM | ENGINES_AND_TOOLS) & set(loaded_by(tmp_path, *args, exit_code=0)), args


def test_a_batch_file_loads_no_orm(tmp_path, db_url, run):
    """`placering match REQUESTS.jsonl` of a batch (views.LARGE_BATCH requests or more) decides
    and stores each chunk on a write transaction on the database's own driver
    (matching/storing.match_batch): no SQLAlchemy, SQLModel or pydantic, neither the first time
    nor run again (every request decided before); what it stores is compared with a session's
    batch in tests/test_match_writes.py."""
    from test_matching_support import load_register, request, unit, write_request

    from placering.matching.views import LARGE_BATCH

    load_register(run, tmp_path, unit("U-1", free=3), unit("U-2", free=3),
                  unit("U-D", "direktupphandling", 2000, insats="socialt_boende", age=(18, 65), subs=[]))
    never = ORM | {"durable", "alembic", "placering.bench", "placering.rules.durable_engine", "psycopg"}
    path = write_request(tmp_path, [request(f"B-{i}", age=13 + i % 5) if i % 2 else
                                    request(f"B-{i}", "socialt_boende", None, age=30 + i, needs=())
                                    for i in range(LARGE_BATCH + 2)], "batch.jsonl")
    for _ in range(2):
        loaded = loaded_by(tmp_path, "match", str(path), "--by", "handläggare", "--commit-every", "7",
                           db_url=db_url, exit_code=0)
        assert not never & set(loaded)
    shown = json.loads(run("--json", "request", "show", "B-0").output)
    assert shown["decisions"][-1]["review_required"] and shown["decisions"][-1]["review_id"]
    assert len(shown["decisions"]) == 1
@pytest.mark.parametrize("args", [["admin", "user", "list"], ["admin", "token", "list", "--json"]])
def test_admin_lists_read_without_sqlalchemy(tmp_path, db_url, args):
    """`admin user list` and `admin token list` decide the admin (roles.admin_login) and read the
    accounts and tokens through the database's own driver (access/reads.py)."""
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS) & set(loaded), args

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

HEAVY = ("sqlalchemy", "sqlmodel", "pydantic", "rich", "numpy", "durable", "alembic", "placering.bench", "placering.rules.durable_engine")

SCRIPT = """
import json, os, sys
from placering.cli import main
sys.argv = ["placering", *json.loads(os.environ["ARGS"])]
try:
    main()
except SystemExit:
    pass
heavy = json.loads(os.environ["HEAVY"])
with open(os.environ["OUT"], "w") as f:
    json.dump(sorted(h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules)), f)
"""


def loaded_by(tmp_path, *args: str, db_url: str | None = None, env: dict | None = None) -> list[str]:
    out = tmp_path / "modules.json"
    env = dict(os.environ, ARGS=json.dumps(list(args)), HEAVY=json.dumps(HEAVY), OUT=str(out), **(env or {}))
    if db_url:
        env["PLACERING_DATABASE_URL"] = db_url
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, capture_output=True, timeout=120)
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

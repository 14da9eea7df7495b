"""The case-work lists read without SQLAlchemy (casework/reads.py, issue 22 item 1): `complaint
list`, `complaint queue`, `control list`, `control show` and `followup list` print, as a table,
CSV or JSON, in Swedish and English, what the ORM view (casework.views: the server's) prints, on
SQLite and PostgreSQL; what the ORM view refuses (an unknown unit, supplier, agreement, control,
a word that is no code) it still refuses with its own message; and they load neither
SQLAlchemy, SQLModel nor pydantic."""

from __future__ import annotations

import pytest

from placering.cli import common
from test_matching_support import load_register, supplier_of, unit
from test_startup import ENGINES_AND_TOOLS, ORM, loaded_by

WIDE = {"COLUMNS": "400"}

QUESTIONS = [
    ("complaint", "list"), ("complaint", "list", "--open"), ("complaint", "list", "--handler", "spink"),
    ("complaint", "list", "--handler", "ink", "--category", "delivery"), ("complaint", "list", "--category", "Leverans"),
    ("complaint", "list", "--unit", "u-2"), ("complaint", "list", "--unit", "U-404"),
    ("complaint", "list", "--supplier", "{org1}"), ("complaint", "list", "--supplier", "{org1_bare}"),
    ("complaint", "list", "--supplier", "556677-8899"), ("complaint", "list", "--status", "investigating"),
    ("complaint", "list", "--status", "Avslutad"), ("complaint", "list", "--complainant-ref", "REF-9"),
    ("complaint", "list", "--complainant-ref", "REF-0"), ("complaint", "queue"), ("complaint", "queue", "--handler", "ink"),
    ("complaint", "queue", "--handler", "nobody"),
    ("control", "list"), ("control", "list", "--status", "open"), ("control", "list", "--status", "Beslutad"),
    ("control", "list", "--outcome", "watch"), ("control", "list", "--supplier", "{org2}"),
    ("control", "list", "--supplier", "556677-8899"), ("control", "show", "1"), ("control", "show", "2"),
    ("control", "show", "9"),
    ("followup", "list"), ("followup", "list", "--agreement", "RA-9"), ("followup", "list", "--agreement", "RA-404"),
]


@pytest.fixture
def casework(run, tmp_path):
    doc = load_register(run, tmp_path, unit("U-1", agreement="RA-9"), unit("U-2", route="direktupphandling", price=2000),
                        unit("U-3", protected=True, agreement="RA-8"))
    by = ("--by", "granskare")
    for args in (("complaint", "add", "U-1", "--category", "delivery", "--on", "2026-01-05", "--received-by", "NORDOST"),
                 ("complaint", "add", "U-2", "--category", "documentation", "--category", "pressure", "--on",
                  "2026-01-02", "--complainant-ref", "REF-9", "--received-by", "Nordost"),
                 ("complaint", "add", "U-3", "--category", "treatment", "--on", "2026-01-03", "--note", "Skyddad"),
                 ("complaint", "add", "U-2", "--category", "delivery", "--on", "2026-01-04", "--individual"),
                 ("complaint", "update", "3", "--status", "investigating", "--on", "2026-01-06"),
                 ("complaint", "update", "4", "--status", "closed", "--outcome", "communicated", "--on", "2026-01-07"),
                 ("control", "open", supplier_of(doc, "U-1"), "--reason", "Synpunkter", "--on", "2026-01-08"),
                 ("control", "open", supplier_of(doc, "U-2"), "--unit", "U-2", "--reason", "Test", "--on", "2026-01-09"),
                 ("control", "check", "2", "visit", "--finding", "Besök gjort", "--on", "2026-01-10"),
                 ("control", "check", "2", "ivo_reports", "--finding", "Inget", "--on", "2026-01-10"),
                 ("control", "decide", "2", "watch", "--note", "Bevakas"),
                 ("followup", "agreement", "RA-9", "--at", "12", "--on", "2025-05-01", "--findings", "Bra"),
                 ("followup", "agreement", "RA-8", "--at", "30", "--on", "2025-04-01", "--findings", "Brister")):
        done = run(*args, *by)
        assert done.exit_code == 0, (args, done.output)
    org1 = supplier_of(doc, "U-1")
    return {"org1": org1, "org1_bare": org1.replace("-", ""), "org2": supplier_of(doc, "U-2")}


def test_casework_lists_read_directly_print_what_the_orm_view_prints(casework, run, monkeypatch):
    real = common.AppContext.reader
    answered = 0
    for question in QUESTIONS:
        question = tuple(q.format(**casework) for q in question)
        for output in ((), ("--json",), ("--csv",)):
            for language in ("sv", "en"):
                args = (*question, *output)
                env = {**WIDE, "PLACERING_LANG": language}
                monkeypatch.setattr(common.AppContext, "reader", real)
                read = run(*args, env=env)
                monkeypatch.setattr(common.AppContext, "reader", lambda self: None)
                orm = run(*args, env=env)
                assert (read.exit_code, read.stdout, read.stderr) == (orm.exit_code, orm.stdout, orm.stderr), args
                answered += read.exit_code == 0 and len(read.stdout) > 150
    assert answered >= 100  # answers with rows, not only refusals and empty lists


def test_casework_lists_answer_what_was_recorded(casework, run):
    import json

    listed = json.loads(run("complaint", "list", "--json").stdout)
    assert [c["id"] for c in listed] == [2, 3, 4, 1]  # oldest first
    assert listed[0]["categories"] == ["documentation", "pressure"] and listed[2]["individual_level"] is True
    queues = json.loads(run("complaint", "queue", "--json").stdout)
    # one queue per handler and receiving organisation; the closed complaint (4) is in none
    assert [(q["handler"], q["received_by"], q["open"], q["ids"]) for q in queues] == [
        ("ink", "NORDOST", 1, [1]), ("ink", "Spink", 1, [3]), ("spink", "Nordost", 1, [2])]
    shown = json.loads(run("control", "show", "2", "--json").stdout)
    assert shown["checked"] == ["ivo_reports", "visit"] and shown["outcome"] == "watch"
    assert [f["agreement_id"] for f in json.loads(run("followup", "list", "--json").stdout)] == ["RA-8", "RA-9"]
    missing = run("control", "show", "9")
    assert missing.exit_code != 0 and "9" in missing.stderr


@pytest.mark.parametrize("args", [["complaint", "list"], ["complaint", "queue", "--json"], ["control", "list", "--csv"],
                                  ["control", "show", "2"], ["followup", "list", "--agreement", "RA-9"]])
def test_casework_lists_read_without_sqlalchemy(casework, tmp_path, db_url, args):
    loaded = loaded_by(tmp_path, *args, db_url=db_url, exit_code=0)
    assert not (ORM | ENGINES_AND_TOOLS) & set(loaded), args
